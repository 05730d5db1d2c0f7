"""The tables. Practice systems may write `patient` and `treatment_session` rows directly.

See docs/database.md for the columns an external system fills in. All datetimes are aware
and stored as UTC (`UTCDateTime`).
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from reminders.clock import utcnow
from reminders.rules.channel_kinds import ChannelKind
from reminders.store.db import UTCDateTime

PAUSED = sa.text("paused_at IS NOT NULL")


class Patient(SQLModel, table=True):
    # The claim asks "which patients are paused?" every pass: a partial index keeps that
    # answer as small as the few paused patients, however many patients there are.
    __table_args__ = (
        sa.Index("ix_patient_paused", "id", postgresql_where=PAUSED, sqlite_where=PAUSED),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    # E.164; not unique: two people may share one phone (a parent and a child), see opt_outs
    phone: str | None = Field(default=None, max_length=20, index=True)
    email: str | None = Field(default=None, max_length=320)
    timezone: str | None = Field(default=None, max_length=64)  # None: the clinic's zone
    language: str = Field(default="en", max_length=5, sa_column_kwargs={"server_default": "en"})
    date_of_birth: date | None = None  # what the care page asks before it shows anything
    sms_consent: bool = True
    sms_consent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sms_consent_by: str | None = Field(default=None, max_length=100)
    email_consent: bool = True
    email_consent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    email_consent_by: str | None = Field(default=None, max_length=100)
    # Set when a provider says the address can never be delivered (invalid, landline, bounce).
    phone_undeliverable_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    phone_undeliverable_reason: str | None = Field(default=None, max_length=200)
    email_undeliverable_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    email_undeliverable_reason: str | None = Field(default=None, max_length=200)
    # Set while staff hold every message to the patient (see store/pauses.py): the dispatcher
    # claims none of their pending messages until it is cleared; deadlines still apply.
    paused_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    paused_by: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(
        default_factory=utcnow,
        sa_type=UTCDateTime,
        sa_column_kwargs={"server_default": sa.func.now()},
    )

    def address(self, channel: str) -> str | None:
        """Where a message of `channel` goes: the phone for sms, else the email."""
        return self.phone if channel == ChannelKind.SMS else self.email


class TreatmentSession(SQLModel, table=True):
    __tablename__ = "treatment_session"
    __table_args__ = (sa.Index("ix_treatment_session_unplanned", "planned_at", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    treatment: str = Field(max_length=40)  # asclera, sts, laser, test-dose
    completed_at: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(
        default="completed", max_length=20, sa_column_kwargs={"server_default": "completed"}
    )  # completed | voided
    enrolled_by: str | None = Field(default=None, max_length=100)
    replaces_session_id: int | None = Field(default=None, foreign_key="treatment_session.id")
    planned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    plan_error: str | None = Field(default=None, max_length=500)
    # The care_plan_revision version that planned it; None: the file's plan, or not planned yet.
    plan_version: int | None = None
    voided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # What the booking link passes to the booking tool, made when needed (store/bookings.py)
    booking_ref: str | None = Field(default=None, max_length=32, unique=True, index=True)
    created_at: datetime = Field(
        default_factory=utcnow,
        sa_type=UTCDateTime,
        sa_column_kwargs={"server_default": sa.func.now()},
    )


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox_message"
    __table_args__ = (
        sa.UniqueConstraint("session_id", "step", "channel", name="uq_outbox_session_step_channel"),
        sa.Index("ix_outbox_status_due", "status", "due_at"),
        sa.Index("ix_outbox_patient_channel_sent", "patient_id", "channel", "sent_at"),
        # "Was this number ever texted?" (the first text carries the STOP line): without it,
        # a new number's first text scans the whole outbox.
        sa.Index("ix_outbox_recipient", "recipient"),
        # The claim's candidates in claim order, over live rows only: the outbox keeps every
        # delivered row, and a plain (due_at, id) index would walk past all of them.
        sa.Index(
            "ix_outbox_claimable",
            "due_at",
            "id",
            postgresql_where=sa.text("status IN ('pending', 'sending')"),
            sqlite_where=sa.text("status IN ('pending', 'sending')"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    session_id: int | None = Field(foreign_key="treatment_session.id", index=True)
    patient_id: int | None = Field(foreign_key="patient.id")
    plan: str = Field(max_length=40)
    step: str = Field(max_length=60)
    channel: str = Field(max_length=10)  # sms | email
    status: str = Field(default="pending", max_length=20)
    due_at: datetime = Field(sa_type=UTCDateTime)
    not_after: datetime | None = Field(default=None, sa_type=UTCDateTime)
    attempts: int = 0
    lease_owner: str | None = Field(default=None, max_length=100)
    lease_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    recipient: str | None = Field(default=None, max_length=320)
    provider_id: str | None = Field(default=None, max_length=200)
    error_code: str | None = Field(default=None, max_length=40)
    error_reason: str | None = Field(default=None, max_length=500)
    subject: str | None = Field(default=None, max_length=300)
    body: str | None = Field(default=None, sa_type=sa.Text)
    template_version: int | None = None
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    provider_status: str | None = Field(default=None, max_length=30)  # the provider's own word
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Resends after a temporary delivery failure (30001, 30008); at most one.
    delivery_retries: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # Skipped `combined`: its text went inside this message's SMS (rules.send_plan).
    combined_into_id: int | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.Integer,
            sa.ForeignKey(
                "outbox_message.id", name="fk_outbox_message_combined_into_id_outbox_message"
            ),
            index=True,
            nullable=True,
        ),
    )
    # A direct message (rules.direct): written when queued, for this purpose; `at_once` goes
    # outside the send window. Plan messages have neither.
    purpose: str | None = Field(default=None, max_length=30)
    at_once: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MessageEvent(SQLModel, table=True):
    """Every status change of a message, for the patient's timeline."""

    __tablename__ = "message_event"

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="outbox_message.id", index=True)
    at: datetime = Field(sa_type=UTCDateTime)
    from_status: str | None = Field(default=None, max_length=20)
    to_status: str = Field(max_length=20)
    reason: str | None = Field(default=None, max_length=500)
    actor: str | None = Field(default=None, max_length=100)


class HeldReceipt(SQLModel, table=True):
    """A status callback that overtook its send, kept as data until the send is recorded.

    The timeline note staff read says the same in words; this row is what is applied.
    """

    __tablename__ = "held_receipt"

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="outbox_message.id", index=True)
    provider_id: str = Field(max_length=200)  # the MessageSid the callback named
    status: str = Field(max_length=30)  # the provider's word
    error_code: str | None = Field(default=None, max_length=40)
    received_at: datetime = Field(sa_type=UTCDateTime)


class OptOut(SQLModel, table=True):
    __tablename__ = "opt_out"
    __table_args__ = (sa.UniqueConstraint("channel", "address", name="uq_opt_out_channel_address"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=10)  # sms | email
    address: str = Field(max_length=320)  # E.164 phone or lower-case email
    source: str = Field(max_length=40)  # cli, sms_reply, email_link, provider
    actor: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TemplateRevision(SQLModel, table=True):
    """Versions of a message template; the newest is used, older ones allow a rollback."""

    __tablename__ = "template_revision"
    __table_args__ = (
        sa.UniqueConstraint(
            "plan", "step", "channel", "language", "version", name="uq_template_revision"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    plan: str = Field(max_length=40)
    step: str = Field(max_length=60)
    channel: str = Field(max_length=10)
    language: str = Field(max_length=5)
    version: int
    source: str = Field(sa_type=sa.Text)
    is_default: bool = False  # loaded from templates/, not written by an admin
    created_by: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CarePlanRevision(SQLModel, table=True):
    """Versions of a care plan; the newest plans the sessions enrolled from then on."""

    __tablename__ = "care_plan_revision"
    __table_args__ = (sa.UniqueConstraint("plan", "version", name="uq_care_plan_revision"),)

    id: int | None = Field(default=None, primary_key=True)
    plan: str = Field(max_length=40)
    version: int
    definition: str = Field(sa_type=sa.Text)  # the whole plan as JSON (rules.care_plans)
    is_default: bool = False  # loaded from care_plans.toml, not written by an admin
    restored_from: int | None = None  # the earlier version this one copies
    created_by: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AuditEvent(SQLModel, table=True):
    """Who did what; details name ids and fields, never message bodies or addresses."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=100)
    action: str = Field(max_length=60)
    entity: str = Field(max_length=40)
    entity_id: int | None = None
    detail: str | None = Field(default=None, max_length=1000)


class Reply(SQLModel, table=True):
    """A patient's text back to us (not a STOP/START/HELP keyword): the replies inbox."""

    __tablename__ = "reply"

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int | None = Field(default=None, foreign_key="patient.id", index=True)
    from_address: str = Field(max_length=320)
    body: str = Field(sa_type=sa.Text)
    provider_id: str | None = Field(default=None, max_length=64, unique=True)
    urgent: bool = False
    received_at: datetime = Field(sa_type=UTCDateTime)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    read_by: str | None = Field(default=None, max_length=100)
    # A free reply that reads as a wish to stop texts (rules.stop_wishes), and what became
    # of it: staff's "opt_out" or "not_opt_out", or "auto_opt_out" when nobody decided.
    stop_wish: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    wish_decision: str | None = Field(default=None, max_length=20)
    wish_decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    wish_decided_by: str | None = Field(default=None, max_length=100)


class WorkerHeartbeat(SQLModel, table=True):
    """One row per daemon process (host:pid), beaten while it runs; see store/health.py."""

    __tablename__ = "worker_heartbeat"

    worker_id: str = Field(primary_key=True, max_length=100)
    seen_at: datetime = Field(sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    stopped_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # a clean stop


class RateBucket(SQLModel, table=True):
    """A rate limit shared by every worker (PostgreSQL): a GCRA "theoretical arrival time".

    `tat` is in seconds since the epoch on the database's clock, so workers' clocks never
    enter into it. See sending/rate_limit.py and store/rate_limits.py.
    """

    __tablename__ = "rate_bucket"

    name: str = Field(primary_key=True, max_length=40)
    tat: float


class InboundMessage(SQLModel, table=True):
    """Every inbound text by its MessageSid: a repeat acts once, and its first arrival counts.

    Neither the sender nor the body is kept here (replies keep theirs in `reply`).
    """

    __tablename__ = "inbound_message"

    message_sid: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=10)  # stop | start | help | reply
    received_at: datetime = Field(sa_type=UTCDateTime)  # first arrival, committed on its own
    handled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    outcome: str | None = Field(default=None, max_length=20)  # applied | superseded | ...


class KeywordState(SQLModel, table=True):
    """The newest STOP or START acted on per number, by first arrival: a late one loses."""

    __tablename__ = "keyword_state"

    address: str = Field(primary_key=True, max_length=20)  # E.164
    message_sid: str = Field(max_length=64)
    kind: str = Field(max_length=10)
    received_at: datetime = Field(sa_type=UTCDateTime)


class User(SQLModel, table=True):
    """A staff or admin account of the web app; disabled, never deleted (the audit names it)."""

    __tablename__ = "app_user"  # `user` is a reserved word in PostgreSQL

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True)  # lower-case
    password_hash: str = Field(max_length=200)  # argon2id, with its own salt and parameters
    role: str = Field(max_length=10)  # staff | admin
    display_name: str | None = Field(default=None, max_length=100)  # "Ana Ruiz"; else the email
    phone: str | None = Field(default=None, max_length=20)  # E.164, their own: "Send me a test"
    created_at: datetime = Field(sa_type=UTCDateTime)
    created_by: str | None = Field(default=None, max_length=100)
    disabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WebSession(SQLModel, table=True):
    """A signed-in browser. The cookie holds a random id; only its SHA-256 is stored here."""

    __tablename__ = "web_session"

    id_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    csrf_token: str = Field(max_length=64)  # every POST of this session's pages carries it
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_seen_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)


class LoginThrottle(SQLModel, table=True):
    """Failed logins per email (keyed by its SHA-256, so no typed address is kept)."""

    __tablename__ = "login_throttle"

    key_hash: str = Field(primary_key=True, max_length=64)
    failures: int
    last_failed_at: datetime = Field(sa_type=UTCDateTime)
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SetupToken(SQLModel, table=True):
    """A one-time link to create the first admin; only its SHA-256 is stored."""

    __tablename__ = "setup_token"

    token_hash: str = Field(primary_key=True, max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)


# Tables kept in modules of their own, registered with the others when models is imported.
from reminders.store.account_tables import PasswordReset  # noqa: E402, F401
from reminders.store.answer_tables import AutomaticAnswer  # noqa: E402, F401
from reminders.store.api_tables import ApiKey, IdempotencyRecord  # noqa: E402, F401
from reminders.store.booking_tables import Booking  # noqa: E402, F401
from reminders.store.care_link_tables import CareLink  # noqa: E402, F401
from reminders.store.conversation_tables import Conversation, SavedReply  # noqa: E402, F401
from reminders.store.hold_tables import MessageHold  # noqa: E402, F401
from reminders.store.line_type_tables import PhoneLineType  # noqa: E402, F401
from reminders.store.on_call_tables import (  # noqa: E402, F401
    OnCallContact,
    PageAttempt,
    UrgentPage,
)
