from __future__ import annotations

import base64

import pytest

from reminders.unsubscribe import InvalidToken, make_token, read_token, unsubscribe_url

SECRET = "k3y-for-tests-only-0123456789abcdef"
MARIA = "maria.lopez@example.org"


def test_token_reads_back_to_the_address() -> None:
    assert read_token(make_token(MARIA, SECRET), SECRET) == MARIA


def test_token_is_url_safe() -> None:
    token = make_token("o'brien+aftercare/x@example.org", SECRET)
    assert all(c.isalnum() or c in "-_." for c in token)


def test_address_case_and_spaces_do_not_matter() -> None:
    token = make_token("  Maria.Lopez@Example.ORG ", SECRET)
    assert token == make_token(MARIA, SECRET)
    assert read_token(token, SECRET) == MARIA


def test_tampered_token_is_refused() -> None:
    token = make_token(MARIA, SECRET)
    payload, _, signature = token.rpartition(".")
    forged_payload = base64.urlsafe_b64encode(b'"eve@example.org"').decode().rstrip("=")
    with pytest.raises(InvalidToken):
        read_token(f"{forged_payload}.{signature}", SECRET)
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    with pytest.raises(InvalidToken):
        read_token(f"{payload}.{flipped}", SECRET)


@pytest.mark.parametrize("garbage", ["", "abc", "....", "not-a-token.at-all", "%%%"])
def test_garbled_token_is_refused(garbage: str) -> None:
    with pytest.raises(InvalidToken):
        read_token(garbage, SECRET)


def test_token_from_another_secret_is_refused() -> None:
    token = make_token(MARIA, "another-secret-0123456789abcdef")
    with pytest.raises(InvalidToken):
        read_token(token, SECRET)


def test_invalid_token_is_a_value_error() -> None:
    assert issubclass(InvalidToken, ValueError)


def test_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="secret"):
        make_token(MARIA, "")


@pytest.mark.parametrize(
    "base", ["https://care.example.org", "https://care.example.org/", "https://x.org/app/"]
)
def test_unsubscribe_url_joins_base_and_token(base: str) -> None:
    url = unsubscribe_url(base, "TOKEN")
    assert url == base.rstrip("/") + "/unsubscribe/TOKEN"
