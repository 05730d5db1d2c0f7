"""Logins under pressure: counted per account and address, per address and everywhere; an
admin's lock cleared; argon2 kept to its own small pool that refuses at once when full; and
the webhooks and /healthz still answering during a flood of logins."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.engine import Engine

from reminders.rules.login_throttle import BY_ADDRESS
from reminders.settings import Settings
from reminders.store.db import session_scope
from reminders.store.web_sessions import clear_account_locks
from reminders.web.app import create_app
from reminders.web.hashing import HashingBusy, PasswordPool
from tests.support.settings import utc
from tests.support.web_accounts import (
    FAST_PASSWORDS,
    PASSWORD,
    MovableClock,
    TestClient,
    log_in,
    make_user,
)

NOW = utc(2026, 3, 10, 18, 0)
ADMIN = "ana@example.com"
CLINIC, STRANGER = ("10.0.0.5", 40000), ("203.0.113.9", 40000)


@pytest.fixture
def app(settings: Settings, engine: Engine, clock: MovableClock):
    make_user(engine, ADMIN, "admin", now=NOW)
    return create_app(settings, engine, clock=clock, passwords=FAST_PASSWORDS)


def browser(app, address: tuple[str, int]) -> TestClient:
    return TestClient(app, follow_redirects=False, client=address)


# -- per address, per account and address ------------------------------------------------------


def test_spraying_many_emails_from_one_address_is_slowed_then_locked(app, clock):
    stranger = browser(app, STRANGER)
    answers = []
    for n in range(40):
        answers.append(log_in(stranger, f"guess{n}@example.com", "wrong").status_code)
        clock.advance(seconds=0.5)
    assert answers[: BY_ADDRESS.free] == [401] * BY_ADDRESS.free
    assert 429 in answers[BY_ADDRESS.free : BY_ADDRESS.free + 3]  # slowed at once after
    assert log_in(browser(app, CLINIC), "someone@example.com", "wrong").status_code == 401


def test_a_strangers_spaced_guesses_do_not_lock_the_admin_out_from_the_clinic(app, clock):
    stranger = browser(app, STRANGER)
    for _round in range(3):  # ten wrong guesses every quarter hour, for 45 minutes
        for _ in range(10):
            log_in(stranger, ADMIN, "wrong")
            clock.advance(seconds=70)
        assert log_in(stranger, ADMIN, PASSWORD).status_code == 429  # the stranger is locked
        assert log_in(browser(app, CLINIC), ADMIN).status_code == 303  # the admin is not
        clock.advance(minutes=15)


def test_clearing_an_accounts_locks_lets_it_log_in_at_once(app, engine):
    clinic = browser(app, CLINIC)
    for _ in range(10):
        log_in(clinic, ADMIN, "wrong")
    assert log_in(clinic, ADMIN).status_code == 429
    with session_scope(engine) as session:
        assert clear_account_locks(session, ADMIN) == 1
    assert log_in(clinic, ADMIN).status_code == 303


# -- argon2's own pool -------------------------------------------------------------------------


def test_a_full_password_pool_answers_busy_at_once_without_hashing(app):
    pool = PasswordPool(FAST_PASSWORDS, at_once=1, waiting=0)
    app.state.hashing = pool
    release = threading.Event()
    client = browser(app, CLINIC)
    with ThreadPoolExecutor(1) as outside:
        held = outside.submit(lambda: _hold(pool, release))
        time.sleep(0.2)
        started = time.monotonic()
        answer = log_in(client, ADMIN)
        took = time.monotonic() - started
        release.set()
        held.result(timeout=10)
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "5"
    assert "Too many people are signing in at once" in answer.text
    assert took < 1.0
    assert log_in(client, ADMIN).status_code == 303  # free again


def _hold(pool: PasswordPool, release: threading.Event) -> None:
    asyncio.run(pool.run(lambda _passwords: release.wait(10)))


def test_the_pool_refuses_past_its_threads_and_queue(app):
    pool = PasswordPool(FAST_PASSWORDS, at_once=1, waiting=1)
    release = threading.Event()

    async def three() -> list[object]:
        work = [asyncio.ensure_future(pool.run(lambda _p: release.wait(10))) for _ in range(2)]
        await asyncio.sleep(0.1)
        try:
            await pool.run(lambda _p: True)
        except HashingBusy as busy:
            refused: object = busy
        else:
            refused = None
        release.set()
        return [refused, *(await asyncio.gather(*work))]

    refused, *done = asyncio.run(three())
    assert isinstance(refused, HashingBusy) and done == [True, True]
    pool.close()
