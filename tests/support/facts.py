"""The facts of a due SMS that `decide` sends: noon in Los Angeles, consent, no opt-out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from reminders.rules.decisions import Facts
from reminders.rules.timing import SendWindow

LA = ZoneInfo("America/Los_Angeles")
NOON_LA = datetime(2026, 6, 10, 19, 0, tzinfo=UTC)  # 12:00 PDT

BASE = Facts(
    channel="sms",
    now=NOON_LA,
    not_after=NOON_LA + timedelta(days=2),
    session_voided=False,
    consent=True,
    address="+13105550142",
    opted_out=False,
    tz=LA,
    window=SendWindow(),
    sms_sent_today=0,
    daily_cap=1,
)
