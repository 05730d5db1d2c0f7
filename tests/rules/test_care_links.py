"""The care link's token, the check's rules and the page's words for times: pure."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from reminders.rules.care_access import (
    LinkState,
    after_wrong_answer,
    code_text,
    link_state,
    read_birth_date,
    read_code,
)
from reminders.rules.care_links import CareLinks, code_hash, looks_like_token, token_for
from reminders.rules.care_page import ends_phrase, long_date, tel_href
from reminders.rules.sms_segments import sms_shape

LA = ZoneInfo("America/Los_Angeles")
NOW = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)


def test_a_token_is_128_bits_url_safe_the_same_for_a_salt_and_secret_only():
    token = token_for("secret-one", "salt")
    assert len(token) == 22 and looks_like_token(token)  # 16 bytes, base64url, no padding
    assert token == token_for("secret-one", "salt")
    assert token != token_for("secret-two", "salt") and token != token_for("secret-one", "salt2")
    assert CareLinks("https://finetouch.co/", "secret-one").url("salt") == (
        f"https://finetouch.co/c/{token}"
    )
    with pytest.raises(ValueError):
        token_for("", "salt")


@pytest.mark.parametrize("text", ["", "a" * 21, "a" * 23, "a" * 21 + "=", "../" + "a" * 19])
def test_what_is_not_a_token_is_told_apart_before_any_query(text):
    assert not looks_like_token(text)


def test_five_wrong_answers_lock_for_15_minutes_and_start_a_new_count():
    failures, attempt = 0, None
    for _ in range(4):
        attempt = after_wrong_answer(failures, NOW)
        failures = attempt.failures
        assert attempt.locked_until is None
    attempt = after_wrong_answer(failures, NOW)
    assert (attempt.failures, attempt.locked_until) == (0, NOW + timedelta(minutes=15))


def test_a_link_is_voided_expired_locked_or_open_in_that_order():
    def state(**given: object) -> LinkState:
        base = {"voided": False, "completed_at": NOW, "locked_until": None, "now": NOW}
        return link_state(**(base | given), days=180)  # type: ignore[arg-type]

    assert state() == LinkState.OPEN
    assert state(locked_until=NOW + timedelta(minutes=1)) == LinkState.LOCKED
    assert state(locked_until=NOW) == LinkState.OPEN  # the lock ends by itself
    assert state(now=NOW + timedelta(days=180)) == LinkState.EXPIRED
    assert state(voided=True, now=NOW + timedelta(days=200)) == LinkState.VOIDED


@pytest.mark.parametrize(
    ("year", "month", "day", "read"),
    [("1984", "3", "9", date(1984, 3, 9)), (" 1984 ", "03", "09", date(1984, 3, 9)),
     ("1984", "2", "30", None), ("84a", "3", "9", None), ("", "3", "9", None),
     ("١٩٨٤", "3", "9", None)],
)  # fmt: skip
def test_the_three_boxes_read_as_a_date_or_nothing(year, month, day, read):
    assert read_birth_date(year, month, day) == read


def test_a_code_is_six_digits_and_its_text_is_one_plain_segment():
    assert read_code(" 123 456 ") == "123456"
    assert (
        read_code("12345") is None and read_code("1234567") is None and read_code("abcdef") is None
    )
    for language in ("en", "es"):
        text = code_text(language, "Fine Touch Dermatology & Laser Center", "123456")
        assert sms_shape(text).segments == 1 and sms_shape(text).encoding == "GSM-7"
    assert code_hash("s", 1, "123456") != code_hash("s", 2, "123456")


def test_the_end_of_a_restriction_is_said_in_the_patients_zone_and_language_across_dst():
    # Saturday 31 October 2026 14:30 in Los Angeles; the clocks go back on Sunday 1 November,
    # so 72 hours later it is 13:30 on the clock
    completed = datetime(2026, 10, 31, 21, 30, tzinfo=UTC)
    end = completed + timedelta(hours=72)
    assert ends_phrase(end, completed, LA, "en") == "ends on Tuesday at 13:30"
    assert ends_phrase(end, end, LA, "es") == "terminó el martes a las 13:30"
    far = completed + timedelta(days=7)
    assert ends_phrase(far, completed, LA, "en") == "ends on Saturday 7 November at 13:30"
    assert long_date(completed, LA, "es") == "sábado 31 de octubre de 2026"
    assert long_date(completed, LA, "en") == "Saturday 31 October 2026"


def test_a_tap_to_call_link_has_only_digits():
    assert tel_href("877-337-6424") == "tel:8773376424"
    assert tel_href("+1 (310) 555-0100") == "tel:+13105550100"
