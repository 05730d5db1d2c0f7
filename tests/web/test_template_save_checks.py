"""A template is saved only if it renders for varied patients, not the sample one alone, and
an editor rendering that runs too long is stopped with a message rather than holding a thread."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, col, select

from reminders.runtime import Runtime
from reminders.sending.render_pool import RenderPool
from reminders.store.models import TemplateRevision
from reminders.web.app import create_app
from tests.support.staff_pages import signed_in
from tests.support.web_accounts import FAST_PASSWORDS, MovableClock, TestClient, csrf_of, make_user

NOW = datetime(2026, 11, 20, 22, 35, tzinfo=UTC)
ADMIN = "ana@example.com"
DAY_1 = "/admin/templates/sclerotherapy/restriction_day_1/sms/en"
EMAIL = "/admin/templates/sclerotherapy/what_is_normal/email/es"
SLOW = "{% for i in range(10000) %}{{ (('ab'*50000)|unique|list|length) and '' }}{% endfor %}x"


@pytest.fixture
def app(runtime: Runtime, clock: MovableClock):
    make_user(runtime.engine, ADMIN, "admin", now=NOW)
    return create_app(runtime.settings, runtime.engine, clock=clock, passwords=FAST_PASSWORDS)


@pytest.fixture
def admin(app) -> TestClient:
    return signed_in(app, ADMIN)


def versions(runtime: Runtime, step: str = "restriction_day_1") -> list[int]:
    with Session(runtime.engine) as session:
        query = select(TemplateRevision.version).where(TemplateRevision.step == step)
        return list(session.exec(query.order_by(col(TemplateRevision.version))))


def save(client: TestClient, path: str, source: str):
    token = csrf_of(client.get(path).text)
    return client.post(path, data={"source": source, "csrf_token": token, "base_version": "1"})


@pytest.mark.parametrize(
    ("source", "named"),
    [
        ("{% if first_name != 'Maria' %}{{ 1/0 }}{% endif %}Hi {{ first_name }}", "José"),
        ("Hi {{ first_name }}{% if first_name|length > 20 %}{{ nope.x }}{% endif %}", "Wolfe"),
        ("{% if first_name == 'Lee' %}{{ 1/0 }}{% endif %}Hi {{ first_name }}", "Lee"),
    ],
)
def test_a_template_that_fails_for_a_real_patient_but_not_the_sample_is_not_saved(
    admin, runtime, source, named
):
    before = versions(runtime)
    response = save(admin, DAY_1, source)
    assert response.status_code == 400, response.text
    assert "Not saved" in response.text and named in response.text
    assert versions(runtime) == before


def test_an_email_that_fails_for_another_care_plans_treatment_is_not_saved(admin, runtime):
    source = (
        "{% block subject %}Hola{% endblock %}"
        "{% block text %}{% if 'Asclera' not in treatment_name %}{{ 1/0 }}{% endif %}"
        "Hola {{ first_name }}{% endblock %}{% block html %}<p>Hola</p>{% endblock %}"
    )
    response = save(admin, EMAIL, source)
    assert response.status_code == 400, response.text
    assert "ZeroDivisionError" in response.text


def test_a_sound_template_still_saves(admin, runtime):
    assert save(admin, DAY_1, "Hi {{ first_name }}, {{ clinic_name }}: call {{ clinic_phone }}.")
    assert versions(runtime)[-1] == 2


def test_a_preview_that_runs_too_long_is_stopped_with_a_message(app, admin):
    app.state.render_pool = RenderPool(("reminders.sending.preview",), time_limit=1.0)
    token = csrf_of(admin.get(DAY_1).text)
    started = time.monotonic()
    response = admin.post(f"{DAY_1}/preview", data={"source": SLOW, "csrf_token": token})
    took = time.monotonic() - started
    assert response.status_code == 200
    assert "took longer than the time allowed (1 s) to render and was stopped" in response.text
    assert took < 5
    fine = admin.post(
        f"{DAY_1}/preview", data={"source": "Hi {{ first_name }}", "csrf_token": token}
    )
    assert "Hi Maria" in fine.text
    app.state.render_pool.close()


def test_a_care_page_that_fails_for_a_real_patient_is_not_saved_and_a_good_one_is(admin, runtime):
    page = "/admin/templates/sclerotherapy/care_page/page/en"
    trap = "<p>{% if first_name != 'Maria' %}{{ 1/0 }}{% endif %}Hello {{ first_name }}</p>"
    loaded = len(versions(runtime, "care_page"))
    refused = save(admin, page, trap)
    assert refused.status_code == 400
    assert "Not saved" in refused.text and "José" in refused.text
    assert len(versions(runtime, "care_page")) == loaded  # each plan's page as init loaded it
    assert save(admin, page, "<p>Hello {{ first_name }}</p>").status_code == 303
    assert len(versions(runtime, "care_page")) == loaded + 1
