"""A patient's thread as staff read it: the texts we sent and theirs, interleaved in time.

Pure: the store's `Timeline` and the patient's replies in, plain rows out for the template.
Only texts appear (a reply comes by SMS); a message shows once it was sent, or at once when
staff wrote it (a direct message waiting for the dispatcher), each with its status. The words
a text was answered with at once (HELP, urgent, an opt-out's confirmation) show as
"Automatic answer", as does an opt-out's confirmation queued through the outbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from reminders.rules.automatic_answers import AnswerKind
from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.direct import confirms_opt_out, is_direct, is_page
from reminders.rules.lifecycle import Status, status_words
from reminders.rules.stop_wishes import WishDecision
from reminders.store.models import AutomaticAnswer, OutboxMessage, Reply
from reminders.store.timeline import MessageEntry, Timeline
from reminders.store.urgent_pages import FAILED_FOR_GOOD, PageSeen
from reminders.web.timeline_view import MessageRow, local_time, message_row

WISH_WORDS = {
    WishDecision.OPT_OUT: "treated as an opt-out by {by}",
    WishDecision.NOT_OPT_OUT: "not an opt-out, said {by}",
    WishDecision.AUTO_OPT_OUT: "applied as an opt-out: nobody decided within 2 business days",
}
AUTOMATIC = "Automatic answer"
ANSWERED = {
    AnswerKind.HELP: "answered HELP",
    AnswerKind.URGENT: "answered an urgent text",
    AnswerKind.OPT_OUT: "confirmed the opt-out",
}


@dataclass(frozen=True)
class ThreadEntry:
    at: datetime  # for ordering
    when: str  # in the clinic's zone
    ours: bool  # sent by us, else written by the patient
    by: str  # "We sent", "ana@clinic.example answered", "They wrote"
    body: str
    status: str  # ours: the message's status in words; theirs: "needs reply" or who handled it
    tone: str  # ok | waiting | problem
    why: str
    urgent: bool = False
    reply_id: int | None = None
    wish_open: bool = False  # a likely opt-out nobody decided: the page offers both choices
    wish: str = ""  # what became of a likely opt-out


def thread(
    timeline: Timeline,
    replies: Sequence[Reply],
    now: datetime,
    zone: ZoneInfo,
    pages: Sequence[PageSeen] = (),
    answers: Sequence[AutomaticAnswer] = (),
) -> list[ThreadEntry]:
    """Oldest first, as a conversation reads; with who was paged about an urgent text, and
    what we answered at once."""
    paused = timeline.patient.paused_at is not None
    entries = [
        _ours(entry, message_row(entry, now, zone, paused=paused), zone)
        for session in timeline.sessions
        for entry in session.messages
        if _shown(entry.message)
    ]
    entries += [_theirs(reply, zone) for reply in replies]
    entries += [_page(page, zone) for page in pages]
    entries += [_answer(answer, zone) for answer in answers]
    return sorted(entries, key=lambda e: (e.at, e.ours))  # at the same moment, theirs first


def number_thread(
    replies: Sequence[Reply], zone: ZoneInfo, pages: Sequence[PageSeen] = ()
) -> list[ThreadEntry]:
    """A number no patient has: its texts and who was paged about them (we never text it)."""
    entries = [_theirs(reply, zone) for reply in replies] + [_page(p, zone) for p in pages]
    return sorted(entries, key=lambda e: (e.at, e.ours))


def _shown(message: OutboxMessage) -> bool:
    if is_page(message.purpose):  # went to staff, not to the patient: shown as a page
        return False
    return message.channel == ChannelKind.SMS and (
        message.sent_at is not None or is_direct(message.plan)
    )


def _ours(entry: MessageEntry, row: MessageRow, zone: ZoneInfo) -> ThreadEntry:
    message = entry.message
    at = message.created_at if is_direct(message.plan) else (message.sent_at or message.created_at)
    by = entry.events[0].actor if is_direct(message.plan) and entry.events else None
    said = f"{by} answered" if by else "We sent"
    return ThreadEntry(
        at=at,
        when=local_time(at, zone),
        ours=True,
        by=AUTOMATIC if confirms_opt_out(message.purpose) else said,
        body=message.body or "",
        status=row.status,
        tone=row.tone,
        why=row.why,
    )


def _theirs(reply: Reply, zone: ZoneInfo) -> ThreadEntry:
    handled = f"handled by {reply.read_by}, {local_time(reply.read_at, zone)}"
    wish = ""
    if reply.wish_decision:
        by = reply.wish_decided_by or "staff"
        wish = WISH_WORDS.get(WishDecision(reply.wish_decision), "").format(by=by)
    return ThreadEntry(
        at=reply.received_at,
        when=local_time(reply.received_at, zone),
        ours=False,
        by="They wrote",
        body=reply.body,
        status=handled if reply.read_at else "needs reply",
        tone="ok" if reply.read_at else "waiting",
        why="",
        urgent=reply.urgent,
        reply_id=reply.id,
        wish_open=reply.stop_wish and reply.wish_decision is None,
        wish=wish,
    )


def page_words(page: PageSeen, zone: ZoneInfo) -> str:
    """A page in words: "Paged Dr Lee (on call) by SMS at 02:14 PST", or that nobody was."""
    if page.gave_up:
        return "Every contact paged failed, and nobody else is listed: nobody was told."
    if page.contact_name is None:
        return "An urgent text was due a page: nobody was on call."
    way = "SMS" if page.channel == ChannelKind.SMS else "email"
    role = "on call" if page.on_call else "listed, not on call"
    at = page.at.astimezone(zone).strftime("%H:%M %Z")
    return f"Paged {page.contact_name} ({role}) by {way} at {at}."


def _page(page: PageSeen, zone: ZoneInfo) -> ThreadEntry:
    """Who was paged about an urgent text, when, and whether the page failed."""
    if page.contact_name is None:
        status, tone = ("nobody told" if page.gave_up else "nobody paged"), "problem"
    elif page.status in FAILED_FOR_GOOD:
        status, tone = (
            f"page {status_words(page.status or '')}: the next contact is tried",
            "problem",
        )
    else:
        status, tone = status_words(page.status or Status.PENDING), "ok"
    return ThreadEntry(at=page.at, when=local_time(page.at, zone), ours=True, by="On call",
                       body=page_words(page, zone), status=status, tone=tone,
                       why="")  # fmt: skip


def _answer(answer: AutomaticAnswer, zone: ZoneInfo) -> ThreadEntry:
    """The words a text was answered with at once, in the webhook's own answer."""
    return ThreadEntry(at=answer.answered_at, when=local_time(answer.answered_at, zone),
                       ours=True, by=AUTOMATIC, body=answer.body,
                       status=ANSWERED.get(AnswerKind(answer.kind), "answered"), tone="ok",
                       why="")  # fmt: skip
