"""rules.send_plan: the window, the daily cap and the deadlines, with plain values."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from reminders.rules.send_plan import (
    DAILY_CAP,
    OUTSIDE_WINDOW,
    CombinedWith,
    PendingSms,
    SendsAt,
    TooLate,
    plan_sends,
)
from reminders.rules.timing import SendWindow, local_date

LA = ZoneInfo("America/Los_Angeles")
WINDOW = SendWindow(time(9), time(20))


def local(day: int, hour: int, minute: int = 0, month: int = 6) -> datetime:
    """Day `day` of `month` at a wall-clock time in LA (a day past the month's end runs on)."""
    wall = datetime(2026, month, 1, hour, minute) + timedelta(days=day - 1)
    return wall.replace(tzinfo=LA).astimezone(UTC)


def sclerotherapy(day: int, hour: int, minute: int, month: int = 6) -> list[PendingSms]:
    """The default plan's SMS steps for a session completed then (keys 1..4, 7 follow-up)."""
    done = local(day, hour, minute, month)
    return [
        PendingSms(1, done, done + timedelta(hours=72)),
        PendingSms(2, local(day + 1, 9, month=month), local(day + 1, 20, month=month)),
        PendingSms(3, local(day + 2, 9, month=month), local(day + 2, 20, month=month)),
        PendingSms(4, local(day + 3, 9, month=month), local(day + 4, 20, month=month)),
    ]


def fits_none(keys: Sequence[int]) -> bool:
    return False


def fits_two(keys: Sequence[int]) -> bool:
    return len(keys) <= 2


def plan(steps: list[PendingSms], now: datetime, cap: int = 1, **kw: object) -> dict:
    return plan_sends(steps, now=now, tz=LA, window=WINDOW, cap=cap, **kw)  # type: ignore[arg-type]


def test_evening_session_nearer_deadline_goes_first_when_nothing_combines() -> None:
    steps = sclerotherapy(10, 20, 40)
    placed = plan(steps, local(10, 20, 40), fits=fits_none)
    assert placed[2] == SendsAt(local(11, 9), "")
    assert placed[3] == SendsAt(local(12, 9), "")
    assert placed[1] == SendsAt(local(13, 9), DAILY_CAP)  # before its deadline, 13th 20:40
    assert placed[4] == SendsAt(local(14, 9), DAILY_CAP)  # its deadline is the 14th 20:00


def test_evening_session_combines_when_the_texts_fit() -> None:
    placed = plan(sclerotherapy(10, 20, 40), local(10, 20, 40), fits=fits_two)
    assert placed[1] == SendsAt(local(11, 9), OUTSIDE_WINDOW, combines=(2,))
    assert placed[2] == CombinedWith(1, local(11, 9))
    assert placed[3] == SendsAt(local(12, 9))


def test_two_sessions_on_one_day_the_nearer_deadline_first() -> None:
    laser = [PendingSms(10, local(10, 14), local(12, 14))]  # 48 hours
    placed = plan(sclerotherapy(10, 14, 0) + laser, local(10, 14), fits=fits_none)
    assert placed[10] == SendsAt(local(10, 14))
    assert all(not isinstance(p, TooLate) for p in placed.values())
    assert placed[1] == SendsAt(local(13, 9), DAILY_CAP)


def test_cap_of_two_sends_both_without_combining() -> None:
    placed = plan(sclerotherapy(10, 20, 40), local(10, 20, 40), cap=2, fits=fits_two)
    assert placed[1] == SendsAt(local(11, 9), OUTSIDE_WINDOW)
    assert placed[2] == SendsAt(local(11, 9))


def test_what_went_today_counts_against_the_cap() -> None:
    step = PendingSms(1, local(10, 10), local(12, 20))
    assert plan([step], local(10, 10), sent_today=1)[1] == SendsAt(local(11, 9), DAILY_CAP)


def test_a_follow_up_never_takes_a_clinical_slot() -> None:
    follow = PendingSms(1, local(10, 9), local(30, 20), follow_up=True)
    clinical = PendingSms(2, local(10, 9), local(20, 20))
    placed = plan([follow, clinical], local(10, 9))
    assert placed[2] == SendsAt(local(10, 9))
    assert placed[1] == SendsAt(local(11, 9), DAILY_CAP)


def test_a_step_with_no_chance_is_too_late() -> None:
    first = PendingSms(1, local(10, 19), local(10, 19, 30))
    second = PendingSms(2, local(10, 19), local(10, 19, 30))
    placed = plan([first, second], local(10, 19))
    assert placed[1] == SendsAt(local(10, 19))
    assert placed[2] == TooLate(local(11, 9))


def test_already_past_its_deadline_is_too_late() -> None:
    step = PendingSms(1, local(10, 21), local(10, 22))
    assert plan([step], local(10, 21)) == {1: TooLate(local(11, 9))}


def test_the_step_being_sent_carries_the_text() -> None:
    a = PendingSms(1, local(10, 9), local(12, 20))
    b = PendingSms(2, local(10, 9), local(11, 20))
    assert plan([a, b], local(10, 9), fits=fits_two, prefer=2)[2] == SendsAt(
        local(10, 9), combines=(1,)
    )
    assert plan([a, b], local(10, 9), fits=fits_two, prefer=1)[1] == SendsAt(
        local(10, 9), combines=(2,)
    )


def test_spring_forward_day_opens_at_nine_local() -> None:
    """8 March 2026: LA springs forward; the day is 23 hours and 09:00 is 16:00 UTC."""
    steps = sclerotherapy(7, 20, 40, month=3)
    placed = plan(steps, local(7, 20, 40, month=3), fits=fits_none)
    assert placed[2] == SendsAt(datetime(2026, 3, 8, 16, tzinfo=UTC))
    assert placed[1] == SendsAt(datetime(2026, 3, 10, 16, tzinfo=UTC), DAILY_CAP)


def test_fall_back_day_opens_at_nine_local() -> None:
    """1 November 2026: LA falls back; the day is 25 hours and 09:00 is 17:00 UTC."""
    steps = sclerotherapy(31, 20, 40, month=10)
    placed = plan(steps, local(31, 20, 40, month=10), fits=fits_two)
    assert placed[1] == SendsAt(datetime(2026, 11, 1, 17, tzinfo=UTC), OUTSIDE_WINDOW, (2,))


zones = st.sampled_from([LA, ZoneInfo("Europe/Madrid"), ZoneInfo("Australia/Lord_Howe")])
moments = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
)


@st.composite
def pending(draw: st.DrawFn) -> list[PendingSms]:
    count = draw(st.integers(1, 6))
    steps = []
    for key in range(count):
        due = draw(moments)
        hours = draw(st.one_of(st.none(), st.integers(0, 120)))
        not_after = None if hours is None else due + timedelta(hours=hours)
        steps.append(PendingSms(key, due, not_after, draw(st.booleans())))
    return steps


@settings(max_examples=200, deadline=None)
@given(pending(), zones, st.integers(1, 2), st.integers(0, 2), st.booleans())
def test_every_plan_keeps_the_rules(
    steps: list[PendingSms], tz: ZoneInfo, cap: int, sent_today: int, combine: bool
) -> None:
    now = min(s.due_at for s in steps)
    placed = plan_sends(steps, now=now, tz=tz, window=WINDOW, cap=cap, sent_today=sent_today,
                        fits=fits_two if combine else fits_none)  # fmt: skip
    assert set(placed) == {s.key for s in steps}
    by_key = {s.key: s for s in steps}
    texts_per_day: dict[object, int] = {local_date(now, tz): sent_today}
    for key, where in placed.items():
        step = by_key[key]
        if isinstance(where, TooLate):
            assert step.not_after is not None and where.first_chance > step.not_after
            continue
        assert where.at >= now  # nothing in the past
        local_time = where.at.astimezone(tz).time()
        assert WINDOW.start <= local_time < WINDOW.end
        if step.not_after is not None:
            assert where.at <= step.not_after
        assert where.at >= step.due_at or local_date(where.at, tz) == local_date(step.due_at, tz)
        if isinstance(where, SendsAt):
            day = local_date(where.at, tz)
            texts_per_day[day] = texts_per_day.get(day, 0) + 1
            assert all(placed[k] == CombinedWith(key, where.at) for k in where.combines)
    assert all(count <= max(cap, sent_today) for count in texts_per_day.values())
