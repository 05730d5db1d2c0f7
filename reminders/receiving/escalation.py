"""Urgent replies reach a person: one nobody answered or marked handled within
URGENT_ESCALATE_MINUTES (any hour) pages the contact on call then, once per reply.

The page goes through the outbox like every message (a direct message kept on the patient's
row and newest session, addressed to the contact: rules.direct.is_page), by SMS when the
contact has a phone, else email. It carries no patient data: only a link to the thread. With
nobody on call the reply's row stays unpaged (the dashboard and `aftercare status` say so) and
the next run pages whoever is on call by then. The daemon runs it; the clock is passed in.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.direct import Purpose
from reminders.store.db import Session
from reminders.store.direct import queue_direct
from reminders.store.on_call import on_call_now
from reminders.store.sessions import newest_session_of
from reminders.store.urgent_pages import note_due, overdue_urgent, page_sent_as, take_page

log = logging.getLogger(__name__)

ACTOR = "aftercare"
PAGE_TEXT = "Aftercare: an urgent patient reply is waiting. Open {link}"
PAGE_SUBJECT = "Aftercare: an urgent patient reply is waiting"


def thread_path(patient_id: int) -> str:
    return f"/inbox/{patient_id}"


def page_text(base_url: str | None, patient_id: int) -> str:
    """The page: a link to the thread and nothing of the patient (no name, no number)."""
    return PAGE_TEXT.format(link=(base_url or "").rstrip("/") + thread_path(patient_id))


def page_overdue(
    session: Session, now: datetime, *, zone: ZoneInfo, minutes: int, base_url: str | None
) -> int:
    """Page the contact on call about every urgent reply unanswered for `minutes`; returns
    how many pages were queued."""
    paged = 0
    for reply in overdue_urgent(session, received_before=now - timedelta(minutes=minutes)):
        assert reply.id is not None and reply.patient_id is not None
        treatment = newest_session_of(session, reply.patient_id)
        if treatment is None or treatment.id is None:  # the inbox still shows it, urgent
            log.warning("reply %d: urgent, but its patient has no session to page under", reply.id)
            continue
        note_due(session, reply.id, now)
        contact = on_call_now(session, now, zone)
        if contact is None:
            log.warning("reply %d: urgent and unanswered, and nobody is on call", reply.id)
            continue
        channel = ChannelKind.SMS if contact.phone else ChannelKind.EMAIL
        if not take_page(session, reply.id, contact_name=contact.name, channel=channel, now=now):
            continue  # another daemon paged it
        message = queue_direct(
            session,
            patient_id=reply.patient_id,
            session_id=treatment.id,
            channel=channel,
            body=page_text(base_url, reply.patient_id),
            subject=None if channel == ChannelKind.SMS else PAGE_SUBJECT,
            purpose=Purpose.ON_CALL_PAGE,
            now=now,
            at_once=True,
            actor=ACTOR,
            recipient=contact.phone or contact.email,
        )
        page_sent_as(session, reply.id, message.id or 0)
        paged += 1
        log.info(
            "reply %d: on-call contact %s paged (message %s)", reply.id, contact.id, message.id
        )
    return paged
