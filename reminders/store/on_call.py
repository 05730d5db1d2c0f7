"""The on-call list admins keep: contacts and the hours of the week they cover.

Every change is audited with the admin as actor; the detail names the hours, never a phone
number or an email address. Who covers a moment is read by rules.on_call.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.on_call import BadHours, Hours, next_to_page, on_call, parse_hours
from reminders.store.audit import record
from reminders.store.models import OnCallContact


def contacts(session: Session) -> Sequence[OnCallContact]:
    """The list in the order it was made: the first whose hours cover a moment is paged."""
    return session.exec(select(OnCallContact).order_by(col(OnCallContact.id))).all()


def add_contact(
    session: Session,
    *,
    name: str,
    phone: str | None,
    email: str | None,
    hours: Hours,
    actor: str,
    now: datetime,
) -> OnCallContact:
    contact = OnCallContact(name=name, phone=phone, email=email, hours=hours.text(),
                            created_at=now, updated_at=now, updated_by=actor)  # fmt: skip
    session.add(contact)
    session.flush()
    _audit(session, "on_call_added", contact, actor, now)
    return contact


def edit_contact(
    session: Session,
    contact_id: int,
    *,
    name: str,
    phone: str | None,
    email: str | None,
    hours: Hours,
    actor: str,
    now: datetime,
) -> bool:
    """False when there is no such contact."""
    contact = session.get(OnCallContact, contact_id)
    if contact is None:
        return False
    contact.name, contact.phone, contact.email = name, phone, email
    contact.hours, contact.updated_at, contact.updated_by = hours.text(), now, actor
    session.add(contact)
    _audit(session, "on_call_edited", contact, actor, now)
    return True


def remove_contact(session: Session, contact_id: int, *, actor: str, now: datetime) -> bool:
    """Gone from the list (pages already sent keep the name they were sent to)."""
    contact = session.get(OnCallContact, contact_id)
    if contact is None:
        return False
    session.delete(contact)
    record(session, actor=actor, action="on_call_removed", entity="on_call_contact",
           entity_id=contact_id, now=now)  # fmt: skip
    return True


def on_call_now(session: Session, moment: datetime, zone: ZoneInfo) -> OnCallContact | None:
    """The contact to page at `moment`; None when nobody is on call (or nobody reachable)."""
    return on_call(_reachable(session), moment, zone)


def next_contact(
    session: Session, tried: Collection[int | None], moment: datetime, zone: ZoneInfo
) -> tuple[OnCallContact, bool] | None:
    """After a failed page, whom to try next (rules.on_call.next_to_page), with whether they
    are on call; None when every reachable contact was tried."""
    by_id = {contact.id: (contact, hours) for contact, hours in _reachable(session)}
    found = next_to_page(
        [(contact_id, hours) for contact_id, (_, hours) in by_id.items()], tried, moment, zone
    )
    return None if found is None else (by_id[found[0]][0], found[1])


def _reachable(session: Session) -> list[tuple[OnCallContact, Hours]]:
    """Contacts with a phone or an email, and hours that read."""
    readable = []
    for contact in contacts(session):
        try:
            hours = parse_hours(contact.hours)
        except BadHours:  # written by hand in the database: never paged, never a crash
            continue
        if contact.phone or contact.email:
            readable.append((contact, hours))
    return readable


def _audit(
    session: Session, action: str, contact: OnCallContact, actor: str, now: datetime
) -> None:
    ways = "+".join(
        way
        for way, given in ((ChannelKind.SMS, contact.phone), (ChannelKind.EMAIL, contact.email))
        if given
    )
    record(session, actor=actor, action=action, entity="on_call_contact", entity_id=contact.id,
           now=now, detail=f"by={ways} hours={contact.hours}")  # fmt: skip
