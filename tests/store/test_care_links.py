"""A session's care link: one salt, the same link at every send, only the token's hash kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from reminders.rules.care_links import CareLinks, token_hash
from reminders.store.care_links import find, link_for, opened, wrong_answer
from reminders.store.db import session_scope
from reminders.store.models import AuditEvent, CareLink
from tests.support.factories import enroll_patient

COMPLETED = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)
NOW = COMPLETED + timedelta(minutes=5)
LINKS = CareLinks("https://finetouch.co", "a-secret-of-the-test-only")


def test_the_link_is_the_same_at_every_send_and_short(runtime):
    enrolled = enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    with session_scope(runtime.engine) as session:
        first = link_for(session, enrolled.session_id, LINKS)
    with session_scope(runtime.engine) as session:
        assert link_for(session, enrolled.session_id, LINKS) == first
    assert first.startswith("https://finetouch.co/c/") and len(first) == 45


def test_only_the_salt_and_the_hash_are_stored_never_the_token(runtime):
    enrolled = enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    with session_scope(runtime.engine) as session:
        token = link_for(session, enrolled.session_id, LINKS).rsplit("/", 1)[1]
    with Session(runtime.engine) as session:
        row = session.exec(select(CareLink)).one()
        assert token not in (row.salt, row.token_hash)
        assert row.token_hash == token_hash(token)
        found = find(session, token)
        assert found is not None and found.treatment.id == enrolled.session_id
        assert find(session, token[:-1] + ("A" if token[-1] != "A" else "B")) is None


def test_two_sessions_have_two_links(runtime):
    first = enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    second = enroll_patient(
        runtime, completed_at=COMPLETED, now=NOW, name="Ana Ruiz", phone="+13105550199"
    )
    with session_scope(runtime.engine) as session:
        one = link_for(session, first.session_id, LINKS)
        two = link_for(session, second.session_id, LINKS)
    assert one != two


def test_a_new_secret_makes_new_links_and_breaks_the_old(runtime):
    enrolled = enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    rotated = CareLinks(LINKS.public_base_url, "another-secret-of-the-test")
    with session_scope(runtime.engine) as session:
        old = link_for(session, enrolled.session_id, LINKS).rsplit("/", 1)[1]
        new = link_for(session, enrolled.session_id, rotated).rsplit("/", 1)[1]
    assert old != new
    with Session(runtime.engine) as session:
        assert find(session, old) is None
        assert find(session, new) is not None


def test_five_wrong_answers_lock_and_the_audit_names_no_patient_data(runtime):
    enrolled = enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    with session_scope(runtime.engine) as session:
        token = link_for(session, enrolled.session_id, LINKS).rsplit("/", 1)[1]
    for _ in range(5):
        with session_scope(runtime.engine) as session:
            found = find(session, token, lock=True)
            assert found is not None
            attempt = wrong_answer(session, found.link, NOW)
    assert attempt.locked_until == NOW + timedelta(minutes=15)
    with session_scope(runtime.engine) as session:
        found = find(session, token)
        assert found is not None and found.link.locked_until == NOW + timedelta(minutes=15)
        opened(session, found.link, NOW + timedelta(minutes=16), checked=True)
    with Session(runtime.engine) as session:
        rows = session.exec(select(AuditEvent).where(AuditEvent.entity == "care_link")).all()
        actions = [row.action for row in rows]
        assert actions.count("care_check_failed") == 5
        assert actions.count("care_link_locked") == 1
        assert actions[-1] == "care_page_opened"
        text = " ".join(f"{row.detail} {row.actor}" for row in rows)
        assert "Maria" not in text and token not in text and "+1310" not in text
        link = session.exec(select(CareLink)).one()
        assert link.first_opened_at == NOW + timedelta(minutes=16) and link.failures == 0
