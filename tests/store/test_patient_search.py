"""The patient search on both databases: words of the name in any order, accents or not, and
pieces of the email address."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from reminders.store.db import session_scope
from reminders.store.models import Patient
from reminders.store.patients import PatientSearch, search_patients
from tests.support.settings import utc

NOW = utc(2026, 6, 16, 18, 0)


@pytest.fixture
def people(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.add(Patient(name="María López", phone="+13105550142",
                            email="mlopez@example.com", created_at=NOW))  # fmt: skip
        session.add(Patient(name="Maria Elena Ruiz", phone="+13105550199",
                            email="elena@clinic.test", created_at=NOW))  # fmt: skip
        session.add(Patient(name="Ana Ruiz", phone="+13105550111", created_at=NOW))


def found(engine: Engine, text: str) -> list[str]:
    with session_scope(engine) as session:
        page = search_patients(session, PatientSearch(name=text), limit=10)
    assert page.total == len(page.rows)
    return sorted(row.name for row in page.rows)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("López Maria", ["María López"]),  # surname first, accent on the other word
        ("lopez   MARÍA", ["María López"]),
        ("ruiz maria", ["Maria Elena Ruiz"]),
        ("ruiz", ["Ana Ruiz", "Maria Elena Ruiz"]),
        ("mlopez@example.com", ["María López"]),  # the whole address
        ("MLOPEZ@Example", ["María López"]),  # a piece, any case
        ("clinic.test", ["Maria Elena Ruiz"]),
        ("lopez clinic.test", []),  # every word must match the one patient
        ("m%", []),  # typed characters, not wildcards
    ],
)
def test_words_in_any_order_and_the_email_find_the_patient(engine, people, text, names):
    assert found(engine, text) == names
