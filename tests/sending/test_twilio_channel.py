"""The Twilio channel, driven through the real twilio client against a loopback Twilio.

What goes over the wire (form fields, sender, callback, validity, API base routing), how every
kind of failure is sorted for the dispatcher, reconciling an unknown outcome, and the token
bucket that keeps sends under the account's rate, counted in segments.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from reminders.sending.channels.base import ChannelError, OutcomeUnknown, OutgoingMessage
from reminders.sending.channels.factory import build_channels
from reminders.sending.channels.twilio.channel import RoutedHttpClient, TwilioChannel
from reminders.sending.channels.twilio.errors import (
    classify_delivery_error,
    classify_twilio_error,
    describe_twilio_code,
    redact_numbers,
)
from reminders.sending.rate_limit import RateLimiter, SharedBucket, TokenBucket
from reminders.store.db import make_engine
from tests.support.twilio_server import (
    ACCOUNT_SID,
    FakeTwilio,
    Reply,
    drop,
    latency,
    rate_limited,
    server_error,
    stall,
    twilio_error,
)
from tests.support.twilio_sms import (
    BODY,
    CLINIC_SENDER,
    MARIA,
    PUBLIC_URL,
    TIMEOUT,
    outgoing,
    twilio_settings,
)

SERVICE_SID = "MG" + "2" * 32

MakeChannel = Callable[..., TwilioChannel]


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        yield server


@pytest.fixture
def make_channel(twilio: FakeTwilio) -> Iterator[MakeChannel]:
    """TwilioChannel on the loopback Twilio, any settings overridden; all closed afterwards."""
    made: list[TwilioChannel] = []

    def make(limiter: RateLimiter | None = None, **overrides: object) -> TwilioChannel:
        settings = twilio_settings(str(overrides.pop("api_base", twilio.base_url)), **overrides)
        made.append(TwilioChannel(settings, limiter=limiter))
        return made[-1]

    yield make
    for channel in made:
        channel.close()


@pytest.fixture
def channel(make_channel: MakeChannel) -> TwilioChannel:
    return make_channel()


def send_error(channel: TwilioChannel, message: OutgoingMessage | None = None) -> ChannelError:
    with pytest.raises(ChannelError) as caught:
        channel.send(message or outgoing())
    return caught.value


def flags(error: ChannelError) -> tuple[bool, bool, bool, bool]:
    """permanent, opted_out, undeliverable, account_problem"""
    return (error.permanent, error.opted_out, error.undeliverable, error.account_problem)


# --- what goes over the wire -------------------------------------------------------------


def test_send_returns_the_sid_twilio_gave(channel: TwilioChannel, twilio: FakeTwilio) -> None:
    sid = channel.send(outgoing())

    assert re.fullmatch(r"SM[0-9a-f]{32}", sid)
    assert [m["sid"] for m in twilio.messages] == [sid]


def test_send_posts_recipient_sender_body_callback_and_validity(
    channel: TwilioChannel, twilio: FakeTwilio
) -> None:
    channel.send(outgoing(message_id=42))

    [request] = twilio.created()
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.form == {
        "To": MARIA,
        "From": CLINIC_SENDER,
        "Body": BODY,
        "StatusCallback": f"{PUBLIC_URL}/webhooks/twilio/status?message_id=42",
        "ValidityPeriod": "14400",
    }


def test_messaging_service_wins_over_from_number(
    make_channel: MakeChannel, twilio: FakeTwilio
) -> None:
    make_channel(twilio_messaging_service_sid=SERVICE_SID).send(outgoing())

    [request] = twilio.created()
    assert request.form["MessagingServiceSid"] == SERVICE_SID
    assert "From" not in request.form


def test_no_status_callback_without_public_base_url(
    make_channel: MakeChannel, twilio: FakeTwilio
) -> None:
    make_channel(public_base_url=None, sms_validity_seconds=600).send(outgoing())

    [request] = twilio.created()
    assert "StatusCallback" not in request.form
    assert request.form["ValidityPeriod"] == "600"


SENT_AT = datetime(2026, 3, 11, 3, 55, tzinfo=UTC)  # 19:55 in Los Angeles


@pytest.mark.parametrize(
    ("expires_in", "validity"),
    [
        (timedelta(minutes=5), "300"),  # the send window closes at 20:00: not at 23:55
        (timedelta(minutes=5, seconds=30, milliseconds=900), "330"),  # whole seconds, down
        (timedelta(hours=4), "14400"),
        (timedelta(hours=9), "14400"),  # never longer than SMS_VALIDITY_SECONDS
        (timedelta(seconds=1), "1"),
        (timedelta(0), "1"),  # already past: Twilio's least, and a warning
        (-timedelta(minutes=3), "1"),
    ],
)
def test_validity_period_ends_when_the_message_expires(
    channel: TwilioChannel, twilio: FakeTwilio, expires_in: timedelta, validity: str
) -> None:
    channel.send(outgoing(sent_at=SENT_AT, expires_at=SENT_AT + expires_in))

    [request] = twilio.created()
    assert request.form["ValidityPeriod"] == validity


def test_a_message_sent_past_its_expiry_is_logged(
    channel: TwilioChannel, caplog: pytest.LogCaptureFixture
) -> None:
    late = outgoing(message_id=9, sent_at=SENT_AT, expires_at=SENT_AT - timedelta(seconds=40))

    assert channel.validity_seconds(late) == 1
    assert "message 9 sent 40s past its expiry" in caplog.text


def test_api_base_wins_over_twilio_region_and_edge(
    make_channel: MakeChannel, twilio: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWILIO_REGION", "au1")
    monkeypatch.setenv("TWILIO_EDGE", "sydney")
    channel = make_channel()
    regional = channel.client.get_hostname("https://api.twilio.com/2010-04-01/x.json")
    assert regional == "https://api.sydney.au1.twilio.com/2010-04-01/x.json"  # the SDK's own

    sid = channel.send(outgoing())

    assert [r.path for r in twilio.created()] == [twilio.api_path]
    assert channel.reconcile(message_id=7, to=MARIA, body=BODY, since=minutes_ago(1)) == sid


def test_routing_keeps_path_and_query_and_prefixes_a_base_path() -> None:
    regional = "https://api.sydney.au1.twilio.com/2010-04-01/Accounts/AC1/Messages.json?Page=2"
    routed = RoutedHttpClient("http://proxy.internal:8080/twilio/").route(regional)
    assert (
        routed == "http://proxy.internal:8080/twilio/2010-04-01/Accounts/AC1/Messages.json?Page=2"
    )


def test_default_api_base_leaves_region_routing_to_the_sdk() -> None:
    regional = "https://api.sydney.au1.twilio.com/2010-04-01/Accounts/AC1/Messages.json"
    assert RoutedHttpClient("https://api.twilio.com/").route(regional) == regional


def test_factory_builds_twilio_channel_for_sms(twilio: FakeTwilio) -> None:
    channels = build_channels(twilio_settings(twilio.base_url), stream=None)
    sms = channels["sms"]
    try:
        assert isinstance(sms, TwilioChannel)
        assert sms.name == "twilio"
    finally:
        sms.close()


def test_latency_within_the_timeout_still_sends(channel: TwilioChannel, twilio: FakeTwilio) -> None:
    twilio.answer_next(latency(0.2))
    assert channel.send(outgoing()).startswith("SM")


# --- failures, sorted for the dispatcher ---------------------------------------------------

Flags = tuple[bool, bool, bool, bool]  # permanent, opted_out, undeliverable, account_problem
TRANSIENT: Flags = (False, False, False, False)
PERMANENT: Flags = (True, False, False, False)
UNDELIVERABLE: Flags = (True, False, True, False)
OPTED_OUT: Flags = (True, True, False, False)
ACCOUNT: Flags = (False, False, False, True)

NOT_VALID = f"The 'To' number {MARIA} is not a valid phone number."
REGION = f"Permission to send an SMS has not been enabled for the region indicated by {MARIA}"

HTTP_CASES: list[tuple[Reply, str, Flags]] = [
    (twilio_error(400, 21211, NOT_VALID), "21211", UNDELIVERABLE),
    (twilio_error(400, 21614, f"'To' number {MARIA} is not a mobile"), "21614", UNDELIVERABLE),
    (twilio_error(400, 21610, "Attempt to send to unsubscribed recipient"), "21610", OPTED_OUT),
    (twilio_error(400, 21408, REGION), "21408", PERMANENT),
    (twilio_error(400, 30007, "Message filtered"), "30007", PERMANENT),
    (twilio_error(400, 21617, "The concatenated message body exceeds 1600"), "21617", PERMANENT),
    (rate_limited(), "20429", TRANSIENT),
    (server_error(500), "20500", TRANSIENT),
    (Reply(status=503, error={}), "503", TRANSIENT),
]


@pytest.mark.parametrize(("reply", "code", "expected"), HTTP_CASES, ids=[c[1] for c in HTTP_CASES])
def test_twilio_errors_are_classified(
    channel: TwilioChannel,
    twilio: FakeTwilio,
    reply: Reply,
    code: str,
    expected: Flags,
) -> None:
    twilio.answer_number(MARIA, reply)

    error = send_error(channel)

    assert type(error) is ChannelError
    assert (error.code, flags(error)) == (code, expected)
    assert MARIA not in error.reason and MARIA[2:] not in str(error)


def test_twilio_words_reach_the_reason_without_the_number(
    channel: TwilioChannel, twilio: FakeTwilio
) -> None:
    twilio.answer_number(MARIA, twilio_error(400, 21211, NOT_VALID))

    assert send_error(channel).reason == "The 'To' number <number> is not a valid phone number."


def test_problem_details_errors_are_classified_too(
    channel: TwilioChannel, twilio: FakeTwilio
) -> None:
    """Newer Twilio services answer RFC 9457 bodies, which the SDK raises as another class."""
    problem = {
        "type": "https://www.twilio.com/docs/errors/21211",
        "title": "Invalid 'To' Phone Number",
        "status": 400,
        "code": 21211,
        "detail": f"{MARIA} is not a valid phone number",
    }
    twilio.answer_number(MARIA, Reply(status=400, error=problem))

    error = send_error(channel)

    assert (error.code, flags(error)) == ("21211", UNDELIVERABLE)
    assert error.reason == "Invalid 'To' Phone Number: <number> is not a valid phone number"


def test_wrong_auth_token_is_an_account_problem(
    make_channel: MakeChannel, twilio: FakeTwilio
) -> None:
    error = send_error(make_channel(twilio_auth_token="not-the-token"))

    assert (error.code, flags(error)) == ("20003", ACCOUNT)
    assert twilio.messages == []


def test_stalled_answer_is_outcome_unknown_within_the_timeout(
    channel: TwilioChannel, twilio: FakeTwilio
) -> None:
    twilio.answer_next(stall(10))
    started = time.monotonic()

    error = send_error(channel)

    assert isinstance(error, OutcomeUnknown)
    assert not error.permanent
    assert TIMEOUT <= time.monotonic() - started < TIMEOUT + 1.5


def test_connection_dropped_after_the_request_is_outcome_unknown(
    channel: TwilioChannel, twilio: FakeTwilio
) -> None:
    twilio.answer_next(drop())

    assert isinstance(send_error(channel), OutcomeUnknown)


def test_refused_connection_is_transient(make_channel: MakeChannel) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]

    error = send_error(make_channel(api_base=f"http://127.0.0.1:{closed_port}"))

    assert type(error) is ChannelError
    assert (error.code, flags(error)) == ("connect", TRANSIENT)
    assert error.unreachable  # nothing left: the message waits without spending an attempt


def fill_accept_queue(listener: socket.socket) -> list[socket.socket]:
    """Connect until the kernel stops answering SYNs: the next connect can only time out."""
    queued: list[socket.socket] = []
    for _ in range(16):
        try:
            queued.append(socket.create_connection(listener.getsockname(), timeout=0.2))
        except TimeoutError:
            return queued
    raise AssertionError("the accept queue never filled")


def test_connect_timeout_is_transient(make_channel: MakeChannel) -> None:
    with socket.socket() as full:
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        queued = fill_accept_queue(full)
        try:
            error = send_error(make_channel(api_base=f"http://127.0.0.1:{full.getsockname()[1]}"))
        finally:
            for connection in queued:
                connection.close()

    assert type(error) is ChannelError
    assert (error.code, flags(error)) == ("connect", TRANSIENT)
    assert error.unreachable  # nothing left: the message waits without spending an attempt


CLASSIFY_CASES: list[tuple[int | None, int | None, str | None, Flags]] = [
    (400, 21211, "21211", UNDELIVERABLE),
    (400, 21614, "21614", UNDELIVERABLE),
    (400, 21408, "21408", PERMANENT),
    (400, 21610, "21610", OPTED_OUT),
    (400, 30005, "30005", UNDELIVERABLE),
    (400, 30006, "30006", UNDELIVERABLE),
    (400, 30007, "30007", PERMANENT),
    (400, 30001, "30001", TRANSIENT),
    (400, 30008, "30008", TRANSIENT),
    (429, 20429, "20429", TRANSIENT),
    (429, None, "429", TRANSIENT),
    (500, None, "500", TRANSIENT),
    (502, 502, "502", TRANSIENT),  # the SDK's code when Twilio gave none
    (401, 20003, "20003", ACCOUNT),
    (403, None, "403", ACCOUNT),
    (404, 20404, "20404", ACCOUNT),
    (400, 21606, "21606", ACCOUNT),
    (400, 21999, "21999", PERMANENT),
    (422, None, "422", PERMANENT),
    (None, None, None, TRANSIENT),
]


@pytest.mark.parametrize(("status", "code", "label", "expected"), CLASSIFY_CASES)
def test_classify_twilio_error(
    status: int | None, code: int | None, label: str | None, expected: Flags
) -> None:
    error = classify_twilio_error(status, code, f"about {MARIA}")

    assert (error.code, flags(error)) == (label, expected)
    assert error.reason == "about <number>"


DELIVERY_CASES: list[tuple[str | None, Flags, str]] = [
    ("30001", TRANSIENT, "Queue overflow"),
    ("30003", PERMANENT, "Unreachable destination handset"),
    ("30004", PERMANENT, "Message blocked"),
    ("30005", UNDELIVERABLE, "Unknown destination handset"),
    ("30006", UNDELIVERABLE, "Landline or unreachable carrier"),
    ("30007", PERMANENT, "Message filtered by the carrier"),
    ("30008", TRANSIENT, "Unknown error"),
    ("21610", OPTED_OUT, "Attempt to send to unsubscribed recipient"),
    ("12345", PERMANENT, "Twilio error 12345"),  # unknown: Twilio has given up on it
    (None, PERMANENT, "no error code"),
]


@pytest.mark.parametrize(("code", "expected", "words"), DELIVERY_CASES)
def test_delivery_codes_mean_what_the_same_codes_mean_for_a_send(
    code: str | None, expected: Flags, words: str
) -> None:
    error = classify_delivery_error(code)

    assert (error.code, flags(error), error.reason) == (code, expected, words)
    assert describe_twilio_code(code) == words


@pytest.mark.parametrize("code", ["21211", "21610", "30005", "30006", "30007", "30008"])
def test_a_code_has_the_same_flags_in_a_receipt_and_an_answer(code: str) -> None:
    assert flags(classify_delivery_error(code)) == flags(classify_twilio_error(400, int(code), ""))


def test_classify_without_words_names_the_status() -> None:
    assert classify_twilio_error(503, None, "").reason == "HTTP 503 from Twilio"


@pytest.mark.parametrize(
    "number", [MARIA, "+1 310 555 0142", "(310) 555-0142", "310.555.0142", "13105550142"]
)
def test_redact_numbers_catches_the_ways_numbers_are_written(number: str) -> None:
    assert redact_numbers(f"To {number}: code 21211 on 2 lines") == (
        "To <number>: code 21211 on 2 lines"
    )


def test_logs_carry_no_number_or_body(
    channel: TwilioChannel, twilio: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    twilio.answer_next(Reply(), twilio_error(400, 21211, NOT_VALID))
    channel.send(outgoing())
    send_error(channel)
    channel.reconcile(message_id=7, to=MARIA, body=BODY, since=minutes_ago(1))

    ours = [r.getMessage() for r in caplog.records if r.name.startswith(("reminders", "twilio"))]
    assert ours, "the channel logs its requests at DEBUG"
    assert not [line for line in ours if "5550142" in line or "saunas" in line]


# --- reconciling an unknown outcome --------------------------------------------------------


def minutes_ago(minutes: float) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=minutes)


def test_reconcile_finds_the_message_a_stalled_send_created(
    channel: TwilioChannel, twilio: FakeTwilio
) -> None:
    since = minutes_ago(1)
    twilio.answer_next(stall(10))
    assert isinstance(send_error(channel, outgoing(message_id=42)), OutcomeUnknown)

    sid = channel.reconcile(message_id=42, to=MARIA, body=BODY, since=since)

    assert sid == twilio.messages[0]["sid"]
    listing = next(r for r in twilio.requests if r.method == "GET")
    assert listing.query == {"To": MARIA, "PageSize": "50"}


def test_reconcile_finds_a_message_still_queued_at_twilio(
    channel: TwilioChannel, twilio: FakeTwilio
) -> None:
    """Queued means no date_sent yet: a DateSent filter would miss it and we would send twice."""
    channel.send(outgoing())
    assert twilio.messages[0]["status"] == "queued" and twilio.messages[0]["date_sent"] is None

    found = channel.reconcile(message_id=7, to=MARIA, body=BODY, since=minutes_ago(1))

    assert found == twilio.messages[0]["sid"]


def test_reconcile_matches_a_body_twilio_prefixed_on_a_trial_account(
    channel: TwilioChannel, twilio: FakeTwilio
) -> None:
    sid = channel.send(outgoing())
    twilio.messages[0]["body"] = f"Sent from your Twilio trial account - {BODY}"

    assert channel.reconcile(message_id=7, to=MARIA, body=BODY, since=minutes_ago(1)) == sid
    assert channel.reconcile(message_id=7, to=MARIA, body="", since=minutes_ago(1)) is None


def test_reconcile_is_none_when_twilio_has_no_such_message(
    channel: TwilioChannel, twilio: FakeTwilio
) -> None:
    channel.send(outgoing(body="Your follow-up visit is due: call us to book."))

    assert channel.reconcile(message_id=7, to=MARIA, body=BODY, since=minutes_ago(1)) is None


def test_reconcile_ignores_messages_sent_before_the_attempt(
    channel: TwilioChannel, twilio: FakeTwilio
) -> None:
    channel.send(outgoing())

    later = datetime.now(UTC) + timedelta(seconds=2)
    assert channel.reconcile(message_id=7, to=MARIA, body=BODY, since=later) is None


def test_reconcile_follows_twilio_pages(make_channel: MakeChannel) -> None:
    with FakeTwilio(page_size=2) as paged:
        channel = make_channel(api_base=paged.base_url)
        first = channel.send(outgoing(body="first"))
        for n in range(4):
            channel.send(outgoing(body=f"later {n}"))

        found = channel.reconcile(message_id=7, to=MARIA, body="first", since=minutes_ago(1))

        assert found == first
        assert len([r for r in paged.requests if r.method == "GET"]) == 3


def test_reconcile_that_cannot_ask_twilio_stays_unknown(make_channel: MakeChannel) -> None:
    channel = make_channel(twilio_auth_token="not-the-token")

    with pytest.raises(OutcomeUnknown):
        channel.reconcile(message_id=7, to=MARIA, body=BODY, since=minutes_ago(1))


# --- pacing: a token bucket counted in segments --------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def bucket(rate: float, burst: float | None = None) -> tuple[TokenBucket, FakeClock]:
    clock = FakeClock()
    return TokenBucket(rate, burst, clock=clock, sleep=clock.sleep), clock


def test_bucket_lets_a_burst_through_then_paces() -> None:
    limiter, clock = bucket(rate=2, burst=2)

    waits = [limiter.acquire() for _ in range(4)]

    assert waits == [0, 0, 0.5, 0.5]
    assert clock.now == 1.0


def test_bucket_refills_over_time_up_to_the_burst() -> None:
    limiter, clock = bucket(rate=1, burst=3)
    limiter.acquire(3)
    clock.now += 100

    assert [limiter.acquire() for _ in range(4)] == [0, 0, 0, 1.0]


def test_request_larger_than_the_burst_waits_for_all_of_it() -> None:
    limiter, clock = bucket(rate=1, burst=1)

    assert limiter.acquire(3) == 2.0  # one token in hand, two more to accrue
    assert limiter.acquire(1) == 1.0
    assert clock.slept == [2.0, 1.0]


def test_bucket_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="positive"):
        TokenBucket(0)
    with pytest.raises(ValueError, match="negative"):
        TokenBucket(1).acquire(-1)


def test_concurrent_acquires_each_get_their_own_slot() -> None:
    """With time frozen, N reservations must wait 0, 1/r, 2/r…: no two threads share a slot."""
    waits: list[float] = []
    limiter = TokenBucket(10, burst=1, clock=lambda: 0.0, sleep=lambda _s: None)

    def worker() -> None:
        for _ in range(25):
            waits.append(limiter.acquire())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(round(w * 10) for w in waits) == list(range(100))


def test_channel_paces_by_segments(make_channel: MakeChannel, twilio: FakeTwilio) -> None:
    limiter, clock = bucket(rate=1, burst=1)
    channel = make_channel(limiter=limiter)

    channel.send(outgoing(segments=3))
    channel.send(outgoing(segments=None, body="x" * 200))  # counted from the body: 2 segments

    assert clock.slept == [2.0, 2.0]
    assert len(twilio.created()) == 2


def test_a_shared_limiter_out_of_reach_is_a_transient_failure_before_any_request(
    make_channel: MakeChannel, twilio: FakeTwilio
) -> None:
    """The database that holds the shared rate is down: nothing is sent, try again later."""
    engine = make_engine("postgresql+psycopg://nobody:secret@127.0.0.1:1/none")
    channel = make_channel(limiter=SharedBucket(engine, "sms", 10))

    error = send_error(channel)

    assert (error.permanent, error.code) == (False, "rate_limit")
    assert not isinstance(error, OutcomeUnknown)
    assert twilio.created() == []
    engine.dispose()
