"""Care links in the database: a session's salt made once, found by its token's hash, and the
moves of a check on the care page (a wrong answer, a lock, a texted code, an opening), each
audited.

The audit names the link's id and what happened, never a date of birth or a token.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from reminders.clock import utcnow
from reminders.rules.care_access import (
    CODE_LIFE,
    Attempt,
    after_wrong_answer,
    code_is_live,
    code_text,
    may_send_code,
)
from reminders.rules.care_links import CareLinks, code_hash, token_hash
from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.direct import DIRECT_PLAN, Purpose
from reminders.rules.lifecycle import Status
from reminders.store.audit import record
from reminders.store.care_page_content import ContentVersion, content_version
from reminders.store.direct import queue_direct
from reminders.store.models import CareLink, OptOut, OutboxMessage, Patient, TreatmentSession

ACTOR = "care_page"
REOPEN_QUIET = timedelta(hours=1)


@dataclass(frozen=True)
class Opened:
    """What a token found: the link, its session, its patient, and the channels the patient's
    own phone and email are opted out of (read with them: one round trip)."""

    link: CareLink
    treatment: TreatmentSession
    patient: Patient
    stopped: frozenset[str] = frozenset()
    content: ContentVersion = (None, None)  # the plans and templates in force (care_page_content)


def link_for(session: Session, session_id: int, links: CareLinks) -> str:
    """The session's care link, its salt made on first use; the same link at every send.

    Two workers composing for one session at once both insert; the unique session id keeps
    the first salt and the second reads it. A hash made under an earlier SECRET_KEY is
    brought up to date, so links sent from now on open the page (older ones do not).
    """
    row = _of_session(session, session_id)
    if row is None:
        salt = secrets.token_hex(16)
        values = {
            "session_id": session_id,
            "salt": salt,
            "token_hash": token_hash(links.token(salt)),
            "failures": 0,
            "created_at": utcnow(),
        }
        table = CareLink.__table__  # type: ignore[attr-defined]
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(table).values(**values)
        session.execute(statement.on_conflict_do_nothing(index_elements=["session_id"]))
        row = _of_session(session, session_id)
        assert row is not None
    expected = token_hash(links.token(row.salt))
    if row.token_hash != expected:
        row.token_hash = expected
        session.add(row)
        session.flush()
    return links.url(row.salt)


def _of_session(session: Session, session_id: int) -> CareLink | None:
    return session.exec(select(CareLink).where(CareLink.session_id == session_id)).first()


def find(session: Session, token: str, *, lock: bool = False) -> Opened | None:
    """The link a token opens, with its session and patient; None for an unknown token.
    `lock`: the row is locked for the rest of the transaction (a check that counts)."""
    query = (
        sa.select(
            CareLink,
            TreatmentSession,
            Patient,
            _opted_out(ChannelKind.SMS, col(Patient.phone)),
            _opted_out(ChannelKind.EMAIL, col(Patient.email)),
            *content_version(),
        )
        .join(TreatmentSession, col(TreatmentSession.id) == col(CareLink.session_id))
        .join(Patient, col(Patient.id) == col(TreatmentSession.patient_id))
        .where(col(CareLink.token_hash) == token_hash(token))
    )
    if lock:
        query = query.with_for_update(of=CareLink)  # type: ignore[arg-type]
    found = session.execute(query).first()
    if found is None:
        return None
    link, treatment, patient, sms, email, plans, templates = found
    stopped = {ChannelKind.SMS} if sms else set()
    stopped |= {ChannelKind.EMAIL} if email else set()
    return Opened(link, treatment, patient, frozenset(stopped), (plans, templates))


def _opted_out(channel: ChannelKind, address: object) -> sa.Exists:
    """Whether the patient's own address of `channel` is opted out (stored as opt_outs
    stores it: E.164, lower-case email, as enrollment writes the patient's)."""
    return sa.exists().where(col(OptOut.channel) == channel, col(OptOut.address) == address)


def wrong_answer(session: Session, link: CareLink, now: datetime) -> Attempt:
    """Count a wrong answer; the fifth locks the link. Audited: a failure, and a lock."""
    attempt = after_wrong_answer(link.failures, now)
    link.failures, link.locked_until = attempt.failures, attempt.locked_until or link.locked_until
    session.add(link)
    record(session, actor=ACTOR, action="care_check_failed", entity="care_link",
           entity_id=link.id, now=now)  # fmt: skip
    if attempt.locked_until is not None:
        detail = f"locked until {attempt.locked_until:%Y-%m-%d %H:%M} UTC"
        record(session, actor=ACTOR, action="care_link_locked", entity="care_link",
               entity_id=link.id, now=now, detail=detail)  # fmt: skip
    return attempt


def visited(session: Session, link: CareLink, now: datetime) -> None:
    """The link was opened and asked for the date of birth (a scanner, a preview, or the
    patient): audited, nothing else kept."""
    record(session, actor=ACTOR, action="care_link_opened", entity="care_link",
           entity_id=link.id, now=now)  # fmt: skip


def send_code(
    session: Session, found: Opened, *, secret: str, clinic_name: str, now: datetime
) -> bool:
    """Text a new 6-digit code through the outbox at once (a direct message); False when one
    went less than a minute ago. Only the code's HMAC is kept, for CODE_LIFE."""
    link, patient = found.link, found.patient
    if not may_send_code(link.code_sent_at, now) or link.id is None or patient.id is None:
        return False
    code = f"{secrets.randbelow(10**6):06d}"
    link.code_hash = code_hash(secret, link.id, code)
    link.code_expires_at, link.code_sent_at = now + CODE_LIFE, now
    session.add(link)
    body = code_text(patient.language, clinic_name, code)
    queue_direct(session, patient_id=patient.id, session_id=found.treatment.id or 0,
                 channel=ChannelKind.SMS, body=body, purpose=Purpose.CARE_CODE, now=now,
                 at_once=True, actor=ACTOR, not_after=link.code_expires_at)  # fmt: skip
    record(session, actor=ACTOR, action="care_code_sent", entity="care_link",
           entity_id=link.id, now=now)  # fmt: skip
    return True


def code_matches(link: CareLink, code: str | None, *, secret: str, now: datetime) -> bool:
    """A live code, the one last texted; the caller opens the page and `opened` spends it."""
    if code is None or link.id is None or link.code_hash is None:
        return False
    if not code_is_live(link.code_expires_at, now):
        return False
    return hmac.compare_digest(link.code_hash, code_hash(secret, link.id, code))


def opened(session: Session, link: CareLink, now: datetime, *, checked: bool) -> None:
    """The page was shown: first and last opening kept for staff; `checked`, after a right
    answer (which clears the wrong ones), else by the cookie that answer set. A cookie's
    re-opening within REOPEN_QUIET of the last opening is not written again: reading the
    page writes nothing while it is read."""
    last = link.last_opened_at
    if not checked and last is not None and now - last < REOPEN_QUIET:
        return
    if checked:
        link.failures = 0
        link.code_hash = link.code_expires_at = None  # a code opens the page once
    link.first_opened_at = link.first_opened_at or now
    link.last_opened_at = now
    session.add(link)
    action = "care_page_opened" if checked else "care_page_reopened"
    record(session, actor=ACTOR, action=action, entity="care_link", entity_id=link.id, now=now)


def openings(session: Session, session_ids: list[int]) -> dict[int, CareLink]:
    """Each session's link, for the patient's timeline (whether and when the page was seen)."""
    if not session_ids:
        return {}
    rows = session.exec(select(CareLink).where(sa.column("session_id").in_(session_ids)))
    return {row.session_id: row for row in rows}


def coming_messages(session: Session, session_id: int) -> list[OutboxMessage]:
    """The session's messages still to go, soonest first: what the page lists as coming."""
    # All the session's rows by its own index, filtered and sorted here: a few rows. Asked
    # for pending rows in due order, SQLite walks the outbox's (status, due_at) index instead.
    query = select(OutboxMessage).where(OutboxMessage.session_id == session_id)
    rows = [
        row
        for row in session.exec(query)
        if row.status == Status.PENDING and row.plan != DIRECT_PLAN  # no code, no reply
    ]
    return sorted(rows, key=lambda row: (row.due_at, row.id or 0))
