"""Inbound texts by MessageSid: first arrival, whether handled, and the newest keyword per number.

See rules/keyword_order.py for why the first arrival is committed on its own and how it
orders STOP and START. The helpers never commit; they flush where a concurrent duplicate
must fail at once (a unique key), so the web's unit of work runs again and finds the row.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from reminders.rules.channel_kinds import ChannelKind
from reminders.store.models import InboundMessage, KeywordState, OptOut


def note_arrival(session: Session, sid: str, kind: str, now: datetime) -> InboundMessage:
    """The MessageSid's row, made at its first arrival and left as it is after that."""
    row = session.get(InboundMessage, sid)
    if row is None:
        row = InboundMessage(message_sid=sid, kind=kind, received_at=now)
        session.add(row)
        session.flush()
    return row


def claim(session: Session, sid: str, kind: str, now: datetime) -> InboundMessage:
    """The row locked, so a duplicate handled at the same moment waits and then sees it done."""
    query = select(InboundMessage).where(InboundMessage.message_sid == sid).with_for_update()
    return session.exec(query).first() or note_arrival(session, sid, kind, now)


def finish(session: Session, row: InboundMessage, outcome: str, now: datetime) -> None:
    row.handled_at, row.outcome = now, outcome
    session.add(row)


def newest_keyword(session: Session, address: str) -> KeywordState | None:
    """The newest STOP/START acted on for the number, locked: keywords of one number queue."""
    query = select(KeywordState).where(KeywordState.address == address).with_for_update()
    return session.exec(query).first()


def remember_keyword(
    session: Session, state: KeywordState | None, row: InboundMessage, address: str
) -> None:
    state = state or KeywordState(
        address=address, message_sid=row.message_sid, kind=row.kind, received_at=row.received_at
    )
    state.message_sid, state.kind, state.received_at = row.message_sid, row.kind, row.received_at
    session.add(state)
    session.flush()  # a first keyword of the number at the same moment elsewhere fails here


def sms_opt_out(session: Session, address: str) -> OptOut | None:
    query = select(OptOut).where(
        OptOut.channel == ChannelKind.SMS, OptOut.address == address.strip()
    )
    return session.exec(query).first()
