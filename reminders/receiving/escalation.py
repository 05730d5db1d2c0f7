"""Urgent replies reach a person: one nobody answered or marked handled within
URGENT_ESCALATE_MINUTES (any hour) pages the contact on call then, once per reply; a page that
fails for good pages the next contact, once each.

The page goes through the outbox like every message (a direct message addressed to the
contact: rules.direct.is_page), by SMS when the contact has a phone, else email. A patient's
page is kept on their row and newest session, so it shows on their timeline; a page about a
number no patient has (or a patient with no session) belongs to nobody: the dispatcher sends
it all the same. It carries no patient data: only a link to the thread, or, without
PUBLIC_BASE_URL, the words "open Aftercare's inbox". With nobody on call the reply's row stays
unpaged, and with every contact failed it is given up on (the dashboard and `aftercare status`
say so); the next run pages whoever is on call or newly listed by then. The daemon runs it;
the clock is passed in.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.direct import Purpose
from reminders.store.db import Session
from reminders.store.direct import queue_direct
from reminders.store.models import OnCallContact, OutboxMessage, Reply
from reminders.store.on_call import next_contact, on_call_now
from reminders.store.sessions import newest_session_of
from reminders.store.urgent_pages import (
    attempt_sent_as,
    failed_pages,
    give_up,
    not_given_up,
    note_attempt,
    note_due,
    overdue_urgent,
    page_sent_as,
    take_page,
)

log = logging.getLogger(__name__)

ACTOR = "aftercare"
PAGE_TEXT = "Aftercare: an urgent patient reply is waiting. Open {link}"
PAGE_TEXT_NO_LINK = "Aftercare: an urgent patient reply is waiting. Open Aftercare's inbox."
PAGE_SUBJECT = "Aftercare: an urgent patient reply is waiting"


def thread_path(patient_id: int | None, reply_id: int) -> str:
    """A patient's thread, or a number's (keyed by its urgent text: no number in a link)."""
    return f"/inbox/{patient_id}" if patient_id is not None else f"/inbox/numbers/{reply_id}"


def page_text(base_url: str | None, patient_id: int | None, reply_id: int) -> str:
    """The page: a link to the thread and nothing of the patient (no name, no number). Without
    PUBLIC_BASE_URL a link would be relative, of no use in a text: it names the inbox instead."""
    if not base_url:
        return PAGE_TEXT_NO_LINK
    return PAGE_TEXT.format(link=base_url.rstrip("/") + thread_path(patient_id, reply_id))


def page_overdue(
    session: Session, now: datetime, *, zone: ZoneInfo, minutes: int, base_url: str | None
) -> int:
    """Page the contact on call about every urgent reply unanswered for `minutes`, and the
    next contact about every page that failed; returns how many pages were queued."""
    paged = 0
    for reply in overdue_urgent(session, received_before=now - timedelta(minutes=minutes)):
        assert reply.id is not None
        note_due(session, reply.id, now)
        contact = on_call_now(session, now, zone)
        if contact is None:
            log.warning("reply %d: urgent and unanswered, and nobody is on call", reply.id)
            continue
        channel = _channel_of(contact)
        if not take_page(session, reply.id, contact_name=contact.name, channel=channel, now=now):
            continue  # another daemon paged it
        note_attempt(session, reply.id, 1, contact=contact, on_call=True, channel=channel, now=now)
        message = _queue_page(session, reply, contact, now, base_url)
        page_sent_as(session, reply.id, message.id or 0)
        attempt_sent_as(session, reply.id, 1, message.id or 0)
        paged += 1
        log.info("reply %d: on-call contact %s paged (message %s)", reply.id, contact.id,
                 message.id)  # fmt: skip
    return paged + _page_next(session, now, zone=zone, base_url=base_url)


def _page_next(session: Session, now: datetime, *, zone: ZoneInfo, base_url: str | None) -> int:
    """A page failed for good: the next contact on call, then anyone listed, once each."""
    paged = 0
    for failed in failed_pages(session):
        reply = session.get_one(Reply, failed.reply_id)
        found = next_contact(session, failed.tried, now, zone)
        if found is None:
            if give_up(session, failed.reply_id, now):
                log.warning("reply %d: every page failed and nobody else is listed", reply.id)
            continue
        contact, on_call = found
        channel = _channel_of(contact)
        if not note_attempt(session, failed.reply_id, failed.next_seq, contact=contact,
                            on_call=on_call, channel=channel, now=now):  # fmt: skip
            continue  # another daemon tried the next contact
        not_given_up(session, failed.reply_id)
        message = _queue_page(session, reply, contact, now, base_url)
        attempt_sent_as(session, failed.reply_id, failed.next_seq, message.id or 0)
        paged += 1
        log.info("reply %d: a page failed; contact %s paged next (message %s)", reply.id,
                 contact.id, message.id)  # fmt: skip
    return paged


def _channel_of(contact: OnCallContact) -> ChannelKind:
    return ChannelKind.SMS if contact.phone else ChannelKind.EMAIL


def _queue_page(
    session: Session, reply: Reply, contact: OnCallContact, now: datetime, base_url: str | None
) -> OutboxMessage:
    """On the patient's row and newest session when there is one, else on nobody's."""
    treatment = newest_session_of(session, reply.patient_id) if reply.patient_id else None
    known = treatment is not None and treatment.id is not None
    channel = _channel_of(contact)
    return queue_direct(
        session,
        patient_id=reply.patient_id if known else None,
        session_id=treatment.id if treatment is not None and known else None,
        channel=channel,
        body=page_text(base_url, reply.patient_id, reply.id or 0),
        subject=None if channel == ChannelKind.SMS else PAGE_SUBJECT,
        purpose=Purpose.ON_CALL_PAGE,
        now=now,
        at_once=True,
        actor=ACTOR,
        recipient=contact.phone or contact.email,
    )
