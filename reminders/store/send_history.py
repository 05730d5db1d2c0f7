"""What the dispatcher must know of earlier sends before it decides, read for a whole chunk.

Per message it needs the patient's SMS handed to the provider on their local day (the daily
cap), whether any SMS may have reached the number before ("the first text says STOP") and
whether the address opted out. Read one message at a time that is three queries per message;
here it is three per chunk, and the chunk's own reservations are added as it goes, so the
second message of a chunk sees the first as the database would.

The status filters are applied here, not in SQL: with an IN list of numbers or patients and
another of statuses, SQLite without statistics (it is never ANALYZEd) picks the status index
and walks every delivered row; without them it can only use the number's or patient's index.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.direct import is_direct
from reminders.rules.lifecycle import REACHED_PROVIDER, Status
from reminders.store.models import OptOut, OutboxMessage
from reminders.store.opt_outs import normalize


@dataclass
class SendHistory:
    sms_sent_at: dict[int, dict[int, datetime]] = field(default_factory=dict)  # patient → id → at
    texted: dict[str, set[int]] = field(default_factory=dict)  # number → SMS that may reach it
    opted_out: set[tuple[str, str]] = field(default_factory=set)  # (channel, normalized address)

    def sms_sent_between(self, message: OutboxMessage, start: datetime, end: datetime) -> int:
        """SMS to the message's patient handed to the provider in [start, end), itself aside."""
        sends = self.sms_sent_at.get(message.patient_id or 0, {})
        return sum(1 for i, at in sends.items() if i != message.id and start <= at < end)

    def texted_before(self, message: OutboxMessage, number: str | None) -> bool:
        return bool(self.texted.get(number or "", set()) - {message.id})

    def is_opted_out(self, channel: str, address: str | None) -> bool:
        return bool(address) and (channel, normalize(address or "")) in self.opted_out

    def note_reserved(self, message: OutboxMessage, at: datetime) -> None:
        """An SMS of this chunk reserved: the next ones see it, as they would once committed."""
        if message.channel != ChannelKind.SMS or message.id is None:
            return
        if not is_direct(message.plan):  # a direct message takes no slot of the daily cap
            self.sms_sent_at.setdefault(message.patient_id or 0, {})[message.id] = at
        self.texted.setdefault(message.recipient or "", set()).add(message.id)


def read_send_history(
    session: Session,
    patient_ids: Iterable[int],
    numbers: Iterable[str],
    addresses: Iterable[tuple[str, str]],
    sms_since: datetime,
    sms_until: datetime,
) -> SendHistory:
    """Three queries: the patients' SMS sent in [sms_since, sms_until), the SMS that may have
    reached the numbers, and which of the (channel, address) pairs opted out."""
    history = SendHistory()
    patients, phones = sorted(set(patient_ids)), sorted(set(numbers) - {""})
    if patients:
        history.sms_sent_at = _sms_sent(session, patients, sms_since, sms_until)
    if phones:
        history.texted = _texted(session, phones)
    wanted = {(channel, normalize(address)) for channel, address in addresses if address}
    if wanted:
        found = session.exec(
            select(OptOut.channel, OptOut.address).where(
                col(OptOut.channel).in_(sorted({channel for channel, _ in wanted})),
                col(OptOut.address).in_(sorted({address for _, address in wanted})),
            )
        ).all()
        history.opted_out = {(channel, address) for channel, address in found} & wanted
    return history


def _sms_sent(
    session: Session, patients: Sequence[int], since: datetime, until: datetime
) -> dict[int, dict[int, datetime]]:
    rows = session.execute(
        sa.select(
            col(OutboxMessage.patient_id),
            col(OutboxMessage.id),
            col(OutboxMessage.sent_at),
            col(OutboxMessage.status),
            col(OutboxMessage.plan),
        ).where(
            col(OutboxMessage.patient_id).in_(patients),
            col(OutboxMessage.channel) == ChannelKind.SMS,
            sa.and_(col(OutboxMessage.sent_at) >= since, col(OutboxMessage.sent_at) < until),
        )
    ).all()
    sent: dict[int, dict[int, datetime]] = defaultdict(dict)
    for patient_id, message_id, sent_at, status, plan in rows:
        counted = status in REACHED_PROVIDER and not is_direct(plan)  # the cap is for the plan's
        if message_id is not None and sent_at is not None and counted:
            sent[patient_id][message_id] = sent_at
    return dict(sent)


def _texted(session: Session, numbers: Sequence[str]) -> dict[str, set[int]]:
    """An SMS counts once it may have reached the provider: a `sending` row only once reserved.

    The channel is checked here too: PostgreSQL without statistics (right after a bulk load)
    read `channel = 'sms'` through the patient-channel index and walked every SMS row."""
    columns = (
        col(OutboxMessage.recipient),
        col(OutboxMessage.id),
        col(OutboxMessage.status),
        col(OutboxMessage.sent_at),
        col(OutboxMessage.channel),
    )
    rows = session.execute(sa.select(*columns).where(col(OutboxMessage.recipient).in_(numbers)))
    texted: dict[str, set[int]] = defaultdict(set)
    for number, message_id, status, sent_at, channel in rows:
        reached = status in REACHED_PROVIDER and (sent_at is not None or status != Status.SENDING)
        if number is not None and message_id is not None and channel == ChannelKind.SMS and reached:
            texted[number].add(message_id)
    return dict(texted)
