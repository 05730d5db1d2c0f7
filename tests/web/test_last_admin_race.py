"""The last-admin rule under concurrency on PostgreSQL: two admins demoting or disabling each
other at the same instant leave one active admin, every round.

To make the race certain rather than likely, each request that changed an account is held just
before its commit until the other has got as far (or a second has passed): without a lock
both pass the "another admin is left" check and commit; with it, the second waits at the check.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from reminders.settings import Settings
from reminders.web.app import create_app
from tests.support.settings import utc
from tests.support.staff_pages import signed_in
from tests.support.web_accounts import FAST_PASSWORDS, MovableClock, TestClient, csrf_of, make_user

pytestmark = pytest.mark.postgres

NOW = utc(2026, 3, 10, 18, 0)
ANA, BO = "ana@example.com", "bo@example.com"
ROUNDS = 10
ACTIONS = [("role", "role"), ("disable", "disable"), ("role", "disable"), ("disable", "role")]


@pytest.fixture
def database_url(postgres_url: str) -> str:
    return postgres_url


class CommitGate:
    """Holds each transaction that updated `app_user` at its commit until both got there."""

    def __init__(self, engine: Engine) -> None:
        self.armed = False
        self.barrier = threading.Barrier(2, timeout=1.0)
        sa.event.listen(engine, "before_cursor_execute", self._mark)
        sa.event.listen(engine, "commit", self._hold)

    def _mark(self, conn, _cursor, statement: str, *_args) -> None:
        if self.armed and statement.lstrip().upper().startswith("UPDATE APP_USER"):
            conn.info["changed_a_user"] = True

    def _hold(self, conn) -> None:
        if conn.info.pop("changed_a_user", False):
            with contextlib.suppress(threading.BrokenBarrierError):
                self.barrier.wait()


@pytest.fixture
def accounts(engine: Engine) -> dict[str, int]:
    return {email: make_user(engine, email, "admin", now=NOW) for email in (ANA, BO)}


@pytest.fixture
def app(settings: Settings, engine: Engine, accounts):
    return create_app(settings, engine, clock=MovableClock(NOW), passwords=FAST_PASSWORDS)


def reset(engine: Engine) -> None:
    with engine.begin() as db:
        db.execute(sa.text("UPDATE app_user SET role = 'admin', disabled_at = NULL"))


def active_admins(engine: Engine) -> int:
    query = "SELECT count(*) FROM app_user WHERE role = 'admin' AND disabled_at IS NULL"
    with engine.connect() as db:
        return int(db.execute(sa.text(query)).scalar_one())


def act(client: TestClient, action: str, target: int, token: str, answers: list[int]) -> None:
    data = {"csrf_token": token} | ({"role": "staff"} if action == "role" else {})
    answers.append(client.post(f"/admin/users/{target}/{action}", data=data).status_code)


def test_two_admins_acting_on_each_other_at_once_leave_one_active_admin(app, engine, accounts):
    gate = CommitGate(engine)
    outcomes: list[tuple[int, ...]] = []
    for round_ in range(ROUNDS):
        reset(engine)
        clients: Iterator[TestClient] = (signed_in(app, email) for email in (ANA, BO))
        ana, bo = clients
        tokens = [csrf_of(c.get("/admin/users").text) for c in (ana, bo)]
        first, second = ACTIONS[round_ % len(ACTIONS)]
        answers: list[int] = []
        gate.barrier.reset()
        gate.armed = True
        threads = [
            threading.Thread(target=act, args=(ana, first, accounts[BO], tokens[0], answers)),
            threading.Thread(target=act, args=(bo, second, accounts[ANA], tokens[1], answers)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        gate.armed = False
        outcomes.append(tuple(sorted(answers)))
        assert active_admins(engine) == 1, f"round {round_}: {answers}"
    assert all(answers == (303, 409) for answers in outcomes), outcomes
