"""Bookings, pure: Cal.com's signature, its payload read field by field, the booking link and
the words staff read, with plain values."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from reminders.rules.bookings import (
    BadPayload,
    Trigger,
    appointment_words,
    booked_words,
    booking_link,
    parse_booking,
    parse_ref,
    sign,
    signature_ok,
    trigger_of,
)
from tests.support.cal import cal_payload

SECRET = "cal-webhook-secret-0123456789"
BODY = b'{"triggerEvent":"BOOKING_CREATED"}'
LA = ZoneInfo("America/Los_Angeles")


def test_the_signature_is_the_hex_hmac_sha256_of_the_raw_body():
    # The well-known HMAC-SHA256 example (key "key", the quick brown fox).
    assert sign("key", b"The quick brown fox jumps over the lazy dog") == (
        "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    )
    good = sign(SECRET, BODY)
    assert signature_ok(SECRET, BODY, good)
    assert signature_ok(SECRET, BODY, good.upper())  # hex is hex, whatever its case


@pytest.mark.parametrize(
    ("secret", "body", "signature"),
    [
        (SECRET, BODY, None),
        (SECRET, BODY, ""),
        (SECRET, BODY + b" ", sign(SECRET, BODY)),
        ("another-secret-entirely", BODY, sign(SECRET, BODY)),
        (SECRET, BODY, sign(SECRET, BODY)[:-1]),
        ("", BODY, sign("", BODY)),  # no secret verifies nothing
    ],
)
def test_anything_else_is_refused(secret, body, signature):
    assert not signature_ok(secret, body, signature)


@pytest.mark.parametrize(
    ("value", "ref"),
    [
        ("AbCdEfGhIjKlMn_-", "AbCdEfGhIjKlMn_-"),
        (" AbCdEfGhIjKlMn_- ", "AbCdEfGhIjKlMn_-"),
        ("short", None),
        ("AbCdEfGhIjKlMn_-x", None),
        ("AbCdEfGhIjKlM'--", None),
        (12345678901234567, None),
        (None, None),
    ],
)
def test_only_a_reference_of_ours_is_read(value, ref):
    assert parse_ref(value) == ref


def test_the_booking_link_puts_the_reference_in_place_of_the_placeholder():
    url = "https://cal.com/finetouch/follow-up?metadata[aftercare]={ref}"
    assert booking_link(url, "AbCdEfGhIjKlMn_-") == (
        "https://cal.com/finetouch/follow-up?metadata[aftercare]=AbCdEfGhIjKlMn_-"
    )
    assert booking_link(None, "AbCdEfGhIjKlMn_-") is None
    assert booking_link(url, None) is None
    assert booking_link("https://cal.com/finetouch", "AbCdEfGhIjKlMn_-") is None


@pytest.mark.parametrize(
    ("starts_at", "words"),
    [
        (datetime(2027, 1, 12, 18, 0, tzinfo=UTC), "booked for Tue 12 Jan 10:00"),  # PST
        (datetime(2027, 3, 5, 18, 0, tzinfo=UTC), "booked for Fri 5 Mar 10:00"),  # no leading 0
        (datetime(2027, 3, 15, 17, 0, tzinfo=UTC), "booked for Mon 15 Mar 10:00"),  # PDT
    ],
)
def test_booked_words_are_on_the_patients_wall_clock_across_dst(starts_at, words):
    assert booked_words(starts_at, LA) == words


@pytest.mark.parametrize(
    ("language", "winter", "summer"),
    [
        ("en", "Tue 12 Jan 2027 at 10:00", "Mon 15 Mar 2027 at 10:00"),
        ("es", "mar 12 ene 2027 a las 10:00", "lun 15 mar 2027 a las 10:00"),
        ("fr", "Tue 12 Jan 2027 at 10:00", "Mon 15 Mar 2027 at 10:00"),
    ],
)
def test_the_care_page_says_the_booked_time_in_the_patients_language(language, winter, summer):
    assert appointment_words(datetime(2027, 1, 12, 18, 0, tzinfo=UTC), LA, language) == winter
    assert appointment_words(datetime(2027, 3, 15, 17, 0, tzinfo=UTC), LA, language) == summer


def test_a_created_booking_is_read_from_cal_coms_payload():
    body = cal_payload(ref="AbCdEfGhIjKlMn_-", email="maria@example.com", phone="+13105550142")
    body["payload"]["responses"]["attendeePhoneNumber"] = {"value": "(310) 555-0199"}
    booking = parse_booking(body, Trigger.CREATED)
    assert booking.uid == "bFJeNb2uX8ANpT3JL5EfXw"
    assert booking.starts_at == datetime(2027, 1, 12, 18, 0, tzinfo=UTC)
    assert booking.ends_at == datetime(2027, 1, 12, 18, 30, tzinfo=UTC)
    assert booking.ref == "AbCdEfGhIjKlMn_-"
    assert booking.emails == ("maria@example.com",)
    assert booking.phones == ("+13105550142", "(310) 555-0199")
    assert booking.rescheduled_from is None


def test_a_reschedule_names_the_booking_it_replaces():
    body = cal_payload("BOOKING_RESCHEDULED", uid="new1", reschedule_uid="old1")
    assert parse_booking(body, Trigger.RESCHEDULED).rescheduled_from == "old1"


def test_a_cancellation_needs_no_times():
    body = cal_payload("BOOKING_CANCELLED")
    del body["payload"]["startTime"], body["payload"]["endTime"]
    booking = parse_booking(body, Trigger.CANCELLED)
    assert (booking.uid, booking.starts_at) == ("bFJeNb2uX8ANpT3JL5EfXw", None)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"uid": None}, "payload.uid is missing"),
        ({"uid": "has spaces"}, "payload.uid is malformed"),
        ({"startTime": None}, "payload.startTime is missing"),
        ({"startTime": "soon"}, "payload.startTime is not an ISO-8601 time"),
        ({"startTime": "2027-01-12T10:00:00"}, "payload.startTime has no offset"),
        ({"startTime": "0001-01-01T00:00:00+01:00"}, "payload.startTime is out of range"),
        ({"startTime": "1999-12-31T23:00:00Z"}, "payload.startTime is out of range"),
    ],
)
def test_a_payload_without_what_a_booking_needs_is_refused(change, problem):
    body = cal_payload()
    body["payload"].update(change)
    with pytest.raises(BadPayload, match=problem):
        parse_booking(body, Trigger.CREATED)


def test_strange_attendees_and_metadata_are_passed_over():
    body = cal_payload()
    body["payload"]["attendees"] = ["x", {"email": 7}, {"email": " "}, {"email": "a@b.example"}]
    body["payload"]["metadata"] = ["not", "a", "mapping"]
    body["payload"]["endTime"] = "2027-01-12T17:00:00Z"  # before the start: ignored
    booking = parse_booking(body, Trigger.CREATED)
    assert (booking.emails, booking.ref, booking.ends_at) == (("a@b.example",), None, None)


def test_the_trigger_is_read_and_others_change_nothing():
    assert trigger_of(json.loads('{"triggerEvent": "BOOKING_CANCELLED"}')) == Trigger.CANCELLED
    assert trigger_of({"triggerEvent": "PING"}) is None
    assert trigger_of({}) is None
    with pytest.raises(BadPayload):
        trigger_of(["BOOKING_CREATED"])
