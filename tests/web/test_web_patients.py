"""`/patients` over HTTP: find a patient by name (any case or accents) or phone (whole, as
typed, or a few digits), newest first, fifty to a page, each row leading to their page."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from reminders.runtime import Runtime
from reminders.store.db import session_scope
from reminders.store.models import Patient, TreatmentSession
from reminders.web.patients import PER_PAGE, page_number, search_for
from tests.support.factories import enroll_patient
from tests.support.settings import utc
from tests.support.staff_pages import disable, signed_in
from tests.support.web_accounts import TestClient, make_user

NOW = utc(2026, 6, 16, 18, 0)
STAFF, ADMIN = "bo@example.com", "ana@example.com"


@pytest.fixture
def accounts(engine: Engine) -> dict[str, int]:
    return {
        STAFF: make_user(engine, STAFF, now=NOW),
        ADMIN: make_user(engine, ADMIN, "admin", now=NOW),
    }


@pytest.fixture
def staff(app, accounts) -> Iterator[TestClient]:
    with signed_in(app, STAFF) as client:
        yield client


@pytest.fixture
def clinic(runtime: Runtime) -> dict[str, int]:
    """Three patients through the real enrollment, the most recently seen last."""
    people = [
        ("María López", "+13105550142", "laser", utc(2026, 6, 1, 17, 0), "America/New_York"),
        ("Ana Ruiz", "+13105550199", "asclera", utc(2026, 6, 8, 17, 0), None),
        ("Eva Diaz", "+447400123456", "sts", utc(2026, 6, 15, 17, 0), None),
    ]
    ids = {}
    for name, phone, treatment, completed_at, zone in people:
        enrolled = enroll_patient(runtime, name=name, phone=phone, email=None, treatment=treatment,
                                  completed_at=completed_at, now=NOW, timezone=zone)  # fmt: skip
        ids[name] = enrolled.patient_id
    return ids


def names(html: str) -> list[str]:
    return re.findall(r'<td><a href="/patients/\d+">([^<]+)</a></td>', html)


def test_an_anonymous_visitor_is_sent_to_log_in(app):
    response = TestClient(app, follow_redirects=False).get("/patients?q=lopez")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/patients%3Fq%3Dlopez"


@pytest.mark.parametrize("email", [STAFF, ADMIN])
def test_staff_and_admins_see_the_most_recent_patients_first(app, accounts, clinic, email):
    page = signed_in(app, email).get("/patients")
    assert page.status_code == 200
    assert names(page.text) == ["Eva Diaz", "Ana Ruiz", "María López"]
    assert "The most recent patients:\n  1–3 of 3." in page.text


def test_a_disabled_user_is_sent_to_log_in(app, engine, accounts, staff):
    disable(engine, accounts[STAFF], NOW)
    assert staff.get("/patients").status_code == 303


def test_each_row_links_to_the_patient_with_the_whole_number_and_the_last_session(staff, clinic):
    html = staff.get("/patients?q=lopez").text
    row = re.search(r"<tr>\s*<td><a.*?</tr>", html, re.S).group(0)
    assert f'<a href="/patients/{clinic["María López"]}">María López</a>' in row
    assert "<td>(310) 555-0142</td>" in row  # staff must recognise the patient
    assert "<td>2026-06-01</td>" in row and "<td>laser</td>" in row
    abroad = staff.get("/patients?q=eva").text
    assert "<td>+44 7400 123456</td>" in abroad


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("lopez", ["María López"]),
        ("LÓPEZ", ["María López"]),
        ("maria  lop", ["María López"]),
        ("  ruiz ", ["Ana Ruiz"]),
        ("a", ["Eva Diaz", "Ana Ruiz", "María López"]),
        ("nobody", []),
        ("%", []),  # typed characters, not wildcards
        ("_", []),
    ],
)
def test_search_by_a_piece_of_the_name_whatever_the_case_or_accents(staff, clinic, q, found):
    assert names(staff.get("/patients", params={"q": q}).text) == found


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("(310) 555-0142", ["María López"]),  # read as enrollment reads it
        ("310.555.0142", ["María López"]),
        ("+1 310 555 0199", ["Ana Ruiz"]),
        ("0142", ["María López"]),  # a few digits, anywhere in the number
        ("555-01", ["Ana Ruiz", "María López"]),
        ("7400 12", ["Eva Diaz"]),
        ("9999", []),
    ],
)
def test_search_by_phone_whole_or_a_few_digits(staff, clinic, q, found):
    assert names(staff.get("/patients", params={"q": q}).text) == found


def test_accents_beyond_spanish_fold_too(engine, staff):
    with session_scope(engine) as session:
        for n, name in enumerate(("Trần Nguyễn", "Çağrı Şahin", "Zoë  Brontë")):
            session.add(Patient(name=name, phone=f"+1310555010{n}", created_at=NOW))
    assert names(staff.get("/patients?q=nguyen").text) == ["Trần Nguyễn"]
    assert names(staff.get("/patients?q=SAHIN").text) == ["Çağrı Şahin"]
    assert names(staff.get("/patients?q=zoe bronte").text) == ["Zoë  Brontë"]


def test_nothing_found_says_so_and_how_to_search(staff, clinic):
    html = staff.get("/patients?q=zzz").text
    assert "No patient matches “zzz”." in html
    assert 'value="zzz"' in html  # the search is kept in the box


def test_a_voided_session_is_not_the_last_one(engine, staff, clinic):
    with session_scope(engine) as session:
        later = TreatmentSession(patient_id=clinic["Ana Ruiz"], treatment="laser",
                                 completed_at=utc(2026, 6, 16, 17, 0), status="voided")  # fmt: skip
        session.add(later)
    html = staff.get("/patients?q=ruiz").text
    assert "<td>2026-06-08</td>" in html and "<td>asclera</td>" in html


def add_patients(engine: Engine, how_many: int) -> None:
    """Rows as a practice system writes them: no session, added a minute apart."""
    with session_scope(engine) as session:
        for n in range(how_many):
            added = NOW - timedelta(minutes=how_many - n)
            session.add(Patient(name=f"Patient {n:03d}", phone=f"+1310555{n:04d}",
                                created_at=added))  # fmt: skip


def test_patients_come_fifty_to_a_page(engine, staff):
    add_patients(engine, 120)
    first = staff.get("/patients").text
    assert len(names(first)) == PER_PAGE
    assert names(first)[0] == "Patient 119"
    assert "1–50 of 120." in first
    assert '<a href="/patients?page=2" rel="next">Next page</a>' in first
    assert 'rel="prev"' not in first
    last = staff.get("/patients?page=3").text
    assert names(last) == [f"Patient {n:03d}" for n in range(19, -1, -1)]
    assert "101–120 of 120." in last and 'rel="next"' not in last
    assert '<a href="/patients?page=2" rel="prev">Previous page</a>' in last
    assert names(staff.get("/patients?page=99").text) == names(last)  # past the end: the last
    assert names(staff.get("/patients?page=x").text) == names(first)


def test_the_search_is_kept_in_the_page_links(engine, staff):
    add_patients(engine, 60)
    html = staff.get("/patients?q=patient").text
    assert "1–50 of 60." in html
    assert '<a href="/patients?q=patient&amp;page=2" rel="next">' in html


def test_no_search_or_phone_reaches_the_logs(staff, clinic, caplog):
    caplog.set_level(logging.DEBUG)
    for q in ("María", "(310) 555-0142", "0142"):
        assert staff.get("/patients", params={"q": q}).status_code == 200
    # the test client logs its own requests, query and all; the app must log none of it
    ours = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    for secret in ("María", "555", "0142", "3105550142"):
        assert secret not in ours


# -- the pure parts -------------------------------------------------------------------------------


def test_a_phone_like_search_is_a_number_and_anything_else_a_name():
    assert search_for("(310) 555-0142", "US").phone == "+13105550142"
    assert search_for("(310) 555-0142", "US").digits == "3105550142"
    assert search_for("0142", "US").phone is None
    assert search_for("0142", "US").digits == "0142"
    assert search_for("Ana 2", "US").name == "Ana 2"
    assert search_for("٣١٠", "US").name == "٣١٠"  # another script's digits are no phone digits
    assert search_for("", "US") == search_for("", "GB")


@pytest.mark.parametrize(
    ("raw", "page"),
    [
        ("1", 1),
        ("3", 3),
        ("0", 1),
        ("-2", 1),
        ("x", 1),
        ("٣", 1),
        ("9" * 40, 1),
        ("999999", 100_000),
    ],
)
def test_page_numbers_are_read_leniently(raw, page):
    assert page_number(raw) == page
