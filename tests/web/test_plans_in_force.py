"""Every page reads the care plans in force the same way: the newest revision of each plan,
else the plans the app was built with (`create_app(plans=...)`), never the file read again."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from reminders.rules.care_plans import Plan, combine
from reminders.runtime import Runtime
from reminders.store.care_plans import save_plan
from reminders.store.db import session_scope
from reminders.web.app import create_app
from tests.support.web_accounts import FAST_PASSWORDS, MovableClock, TestClient, log_in, make_user

NOW = datetime(2026, 11, 20, 22, 35, tzinfo=UTC)
ADMIN = "ana@example.com"


def new_plan(runtime: Runtime, name: str, title: str, treatment: str) -> Plan:
    """A plan care_plans.toml does not have, with sclerotherapy's steps."""
    steps = runtime.default_plans.plans["sclerotherapy"].steps
    return Plan(name, title, {treatment: title.lower()}, steps)


@pytest.fixture
def compression(runtime: Runtime) -> Plan:
    return new_plan(runtime, "compression", "Compression therapy", "stockings")


@pytest.fixture
def admin(runtime: Runtime, compression: Plan) -> Iterator[TestClient]:
    """Signed in to an app built with the file's plans and one more."""
    plans = combine([*runtime.default_plans.plans.values(), compression])
    app = create_app(runtime.settings, runtime.engine, clock=MovableClock(NOW),
                     passwords=FAST_PASSWORDS, plans=plans)  # fmt: skip
    make_user(runtime.engine, ADMIN, "admin", now=NOW)
    with TestClient(app, follow_redirects=False) as client:
        assert log_in(client, ADMIN).status_code == 303
        yield client


def test_the_care_plans_page_lists_the_plans_the_app_was_built_with(admin) -> None:
    page = admin.get("/admin/care-plans")

    assert page.status_code == 200
    assert "Compression therapy" in page.text
    assert admin.get("/admin/care-plans/compression").status_code == 200


def test_the_enroll_form_offers_the_treatments_of_the_plans_in_force(admin, runtime) -> None:
    lymph = new_plan(runtime, "lymph", "Lymphatic drainage", "drainage")
    with session_scope(runtime.engine) as session:  # in the database only, as an admin left it
        save_plan(session, replace(lymph, version=None), actor=ADMIN, now=NOW)

    page = admin.get("/enroll").text

    assert 'value="stockings"' in page  # the app's plan no revision exists for
    assert 'value="drainage"' in page  # the database's plan the app was not built with
