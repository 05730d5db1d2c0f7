"""Every request the Twilio channel makes fits Twilio's own OpenAPI description.

Stoplight Prism mocks the API from `twilio_api_v2010.json` (vendored beside the test support,
with Twilio's MIT licence) and answers 422 (or 401) to any
request that breaks it, so the real twilio client, driven by `TwilioChannel`, is checked
against the spec rather than against our reading of it. Prism comes from `node_modules`
(`npm ci`, pinned in package.json) or else `npx`. The module skips only where neither Prism
nor npx exists, and fails instead when AFTERCARE_REQUIRE_PRISM=1 (CI).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reminders.sending.channels.base import ChannelError, OutgoingMessage
from reminders.sending.channels.twilio.channel import TwilioChannel
from reminders.settings import Settings

REPO = Path(__file__).resolve().parents[2]
PRISM_PACKAGE = "@stoplight/prism-cli@5.14.2"  # the version package.json pins
START_TIMEOUT = 90.0
ACCOUNT_SID = "AC" + "a" * 32
SERVICE_SID = "MG" + "b" * 32
MARIA = "+13105550142"
BODY = "Fine Touch Dermatology: drink water and walk 20 minutes today. Reply STOP to end."


SPEC = REPO / "tests" / "support" / "twilio_oai" / "twilio_api_v2010.json"  # vendored, MIT


def prism_command() -> list[str] | None:
    local = REPO / "node_modules" / ".bin" / "prism"
    if local.exists():
        return [str(local)]
    npx = shutil.which("npx")
    return [npx, "--yes", PRISM_PACKAGE] if npx else None


def unavailable(reason: str) -> None:
    if os.environ.get("AFTERCARE_REQUIRE_PRISM") == "1":
        pytest.fail(f"{reason} (AFTERCARE_REQUIRE_PRISM=1)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"Prism exited with {process.returncode}:\n{log.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"Prism did not listen within {START_TIMEOUT:.0f} s:\n{log.read_text()[-2000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """End Prism and whatever npx started under it: they share the process group we made."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=5)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="module")
def spec() -> Path:
    assert SPEC.is_file(), f"the vendored spec is missing: {SPEC}"
    return SPEC


@pytest.fixture(scope="module")
def prism(spec: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    command = prism_command()
    if command is None:
        unavailable("neither node_modules/.bin/prism (npm ci) nor npx is available")
    assert command is not None
    port = free_port()
    log = tmp_path_factory.mktemp("prism") / "prism.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "mock", "-h", "127.0.0.1", "-p", str(port), str(spec)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        wait_until_listening(port, process, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


def channel_on(api_base: str, **overrides: object) -> TwilioChannel:
    values: dict[str, object] = {
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": "prism-checks-only-that-basic-auth-is-there",
        "twilio_from_number": "+13105550100",
        "twilio_messaging_service_sid": None,
        "twilio_api_base": api_base,
        "twilio_timeout_seconds": 10,
        "public_base_url": "https://aftercare.example.org",
        "sms_max_per_second": 1_000,
    }
    values.update(overrides)
    return TwilioChannel(Settings(_env_file=None, **values))  # type: ignore[call-arg, arg-type]


def outgoing(message_id: int = 11) -> OutgoingMessage:
    return OutgoingMessage(
        message_id=message_id,
        channel="sms",
        to=MARIA,
        body=BODY,
        step="day0_care",
        sent_at=datetime.now(UTC),
        segments=1,
    )


def send(channel: TwilioChannel) -> str:
    try:
        return channel.send(outgoing())
    finally:
        channel.close()


def test_create_with_from_callback_and_validity_fits_the_spec(prism: str) -> None:
    channel = channel_on(prism)
    assert channel.create_params(outgoing()).keys() == {
        "to",
        "body",
        "from_",
        "status_callback",
        "validity_period",
    }

    assert re.fullmatch(r"SM[0-9a-f]{32}", send(channel))


def test_create_with_messaging_service_fits_the_spec(prism: str) -> None:
    channel = channel_on(prism, twilio_messaging_service_sid=SERVICE_SID)
    assert "messaging_service_sid" in channel.create_params(outgoing())

    assert re.fullmatch(r"SM[0-9a-f]{32}", send(channel))


def test_reconcile_list_call_fits_the_spec(prism: str, spec: Path) -> None:
    """Prism answers the spec's example page; finding its message proves the call got through."""
    example = first_listed_message(spec)
    channel = channel_on(prism)
    since = datetime(2015, 1, 1, tzinfo=UTC)  # before the spec's example messages were created
    try:
        found = channel.reconcile(message_id=11, to=MARIA, body=example["body"], since=since)
        missing = channel.reconcile(message_id=11, to=MARIA, body=BODY, since=since)
    finally:
        channel.close()

    assert (found, missing) == (example["sid"], None)


def test_prism_refuses_what_breaks_the_spec(prism: str) -> None:
    """The control: a malformed Messaging Service SID must come back as Prism's 422."""
    channel = channel_on(prism, twilio_messaging_service_sid="MG-not-a-sid")

    with pytest.raises(ChannelError) as caught:
        send(channel)

    assert (caught.value.code, caught.value.permanent) == ("422", True)


def first_listed_message(spec: Path) -> dict[str, str]:
    document = json.loads(spec.read_text())
    listing = document["paths"]["/2010-04-01/Accounts/{AccountSid}/Messages.json"]["get"]
    examples = listing["responses"]["200"]["content"]["application/json"]["examples"]
    first_example = next(iter(examples.values()))["value"]
    message: dict[str, str] = first_example["messages"][0]
    return message
