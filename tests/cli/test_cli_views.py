"""`aftercare messages` and `aftercare replies` as staff read them: patient-local times, a
bounded page, replaced sessions out of the way, masked numbers, replies marked handled."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from reminders.cli.app import app
from reminders.cli.common import actor
from reminders.store.queries import MessageFilter, page_messages
from tests.support.cli import Aftercare
from tests.support.factories import enroll_patient
from tests.support.settings import utc

NEW_YORK = ("--timezone", "America/New_York")


@pytest.fixture
def aftercare(aftercare: Aftercare) -> Aftercare:
    """The CLI of conftest, its clock just after these tests' sessions of 10 January 2026."""
    aftercare.now = utc(2026, 1, 10, 23, 0)  # 15:00 in Los Angeles
    return aftercare


def enroll(aftercare: Aftercare, name: str, phone: str, when: str, *extra: str) -> dict:
    enrolled = aftercare.json(
        "enroll", "--name", name, "--phone", phone, "--treatment", "asclera",
        "--completed-at", when, "--no-email", *extra,
    )  # fmt: skip
    assert isinstance(enrolled, dict)
    return enrolled


def add_reply(database_url: str, from_address: str, body: str, patient_id: int | None) -> None:
    engine = sa.create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO reply (patient_id, from_address, body, urgent, received_at)"
                " VALUES (:patient, :sender, :body, false, '2026-01-11 18:00:00')"
            ),
            {"patient": patient_id, "sender": from_address, "body": body},
        )
    engine.dispose()


def row_of(output: str, step: str, session_id: int) -> str:
    return next(
        line for line in output.splitlines() if f" {session_id} " in line and f" {step} " in line
    )


def test_messages_show_each_patients_own_time_and_zone(aftercare):
    new_york = enroll(aftercare, "Ana Ruiz", "+1 212 555 0199", "2026-01-10 10:00", *NEW_YORK)
    clinic = enroll(aftercare, "Maria Lopez", "3105550142", "2026-01-10 10:00")
    output = aftercare("messages")
    assert "2026-01-11 09:00 EST" in row_of(output, "Day 1 restrictions", new_york["session_id"])
    assert "2026-01-11 09:00 PST" in row_of(output, "Day 1 restrictions", clinic["session_id"])
    assert "restriction_day_1" not in output  # steps as staff read them, not code names
    rows = aftercare.json("messages", "--session", str(new_york["session_id"]))
    day_1 = next(r for r in rows if r["step"] == "restriction_day_1")
    assert day_1["due_at"] == "2026-01-11T14:00:00Z"  # JSON stays UTC


def test_since_and_until_filter_on_due_time_read_in_clinic_time(aftercare):
    enroll(aftercare, "Maria Lopez", "3105550142", "2026-01-10 10:00")
    day_1 = aftercare.json("messages", "--since", "2026-01-11", "--until", "2026-01-11")
    assert [r["step"] for r in day_1] == ["restriction_day_1"]  # a date: that whole day
    morning = aftercare.json(
        "messages", "--since", "2026-01-11T09:00", "--until", "2026-01-12T09:00"
    )
    assert [r["step"] for r in morning] == ["restriction_day_1"]  # --until is exclusive
    with_offset = aftercare.json("messages", "--until", "2026-01-10T18:00:01+00:00")
    assert {r["step"] for r in with_offset} == {"aftercare"}  # due 10:00 PST = 18:00 UTC


def test_limit_cuts_the_page_and_says_how_many_matched(aftercare):
    enroll(aftercare, "Maria Lopez", "3105550142", "2026-01-10 10:00")
    assert len(aftercare.json("messages", "--limit", "3")) == 3
    output = aftercare("messages", "--limit", "3")
    assert "Showing 3 of 11 messages; raise --limit" in output
    assert "Showing" not in aftercare("messages")


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("--since", "last tuesday"), "--since 'last tuesday' is not a date"),
        (("--until", "2026-13-01"), "--until '2026-13-01' is not a date"),
        (("--since", "2026-02-01", "--until", "2026-01-01"), "is not before --until"),
        (("--limit", "0"), "--limit must be at least 1"),
    ],
)
def test_bad_listing_options_are_one_line_errors(aftercare, args, reason):
    result = aftercare.runner.invoke(app, ["messages", *args], env=aftercare.env)
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and reason in line


def test_a_replaced_sessions_messages_are_hidden_unless_all(aftercare):
    first = enroll(aftercare, "Maria Lopez", "3105550142", "2026-01-10 10:00")
    second = enroll(aftercare, "Maria Lopez", "3105550142", "2026-01-10 11:00")
    assert second["replaced_session_id"] == first["session_id"]
    shown = {r["session_id"] for r in aftercare.json("messages")}
    assert shown == {second["session_id"]}
    everything = {r["session_id"] for r in aftercare.json("messages", "--all")}
    assert everything == {first["session_id"], second["session_id"]}
    assert "11 message(s) of replaced sessions not shown; --all shows them" in aftercare("messages")
    assert "not shown" not in aftercare("messages", "--all")


def test_a_voided_session_that_was_not_replaced_stays_listed(aftercare):
    enrolled = enroll(aftercare, "Maria Lopez", "3105550142", "2026-01-10 10:00")
    aftercare("void", str(enrolled["session_id"]))
    assert {r["error"] for r in aftercare.json("messages")} == {"voided"}


def test_a_page_is_two_statements_however_many_patients(runtime):
    """The patient's zone is joined, not looked up per row."""
    statements: list[str] = []
    sa.event.listen(runtime.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    counts = []
    for n in range(4):
        enroll_patient(
            runtime,
            name=f"Patient {n}",
            phone=f"+1310555{n:04d}",
            timezone="America/New_York" if n % 2 else None,
            completed_at=utc(2026, 1, 10, 18),
            now=utc(2026, 1, 10, 19),
        )
        statements.clear()
        page = page_messages(runtime.engine, MessageFilter(), limit=200)
        selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
        counts.append((len(page.rows), len(selects)))
    assert [rows for rows, _ in counts] == [11, 22, 33, 44]
    assert {queries for _, queries in counts} == {2}


def test_replies_name_the_patient_and_mask_the_number(aftercare, database_url):
    patient = enroll(aftercare, "Ana Ruiz", "3105550199", "2026-01-10 10:00")
    add_reply(database_url, "+13105550199", "is swelling normal?", patient["patient_id"])
    add_reply(database_url, "+12125550123", "who is this?", None)
    output = aftercare("replies")
    assert "Ana Ruiz +1 ••• ••• 0199" in output
    assert "+1 ••• ••• 0123 (no patient)" in output
    assert "5550199" not in output and "5550123" not in output
    assert "patient 1" not in output


def test_replies_handled_marks_once_and_says_who_did_it(aftercare, database_url):
    add_reply(database_url, "+12125550123", "can I swim?", None)
    [reply] = aftercare.json("replies")
    assert (reply["handled_at"], reply["handled_by"]) == (None, None)
    first = aftercare("replies", "handled", str(reply["id"]))
    assert first.strip() == f"Reply {reply['id']} marked handled by {actor()}."
    again = aftercare("replies", "handled", str(reply["id"]))
    assert again.startswith(f"Reply {reply['id']} was already handled by {actor()} on ")
    assert aftercare.json("replies") == []  # nothing left to answer
    [handled] = aftercare.json("replies", "--all")
    assert handled["handled_by"] == actor() and handled["handled_at"]
    assert f"{actor()}, " in aftercare("replies", "--all")
    assert audit_actions(database_url) == ["reply_handled"]  # the second call wrote nothing


def test_replies_handled_refuses_an_unknown_id(aftercare):
    result = aftercare.runner.invoke(app, ["replies", "handled", "42"], env=aftercare.env)
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: no reply 42"


def test_replies_without_a_sub_command_still_list_and_filter(aftercare, database_url):
    assert "No replies." in aftercare("replies")
    add_reply(database_url, "+12125550123", "thanks!", None)
    assert "thanks!" in aftercare("replies")
    assert aftercare.json("replies", "--urgent") == []


def audit_actions(database_url: str) -> list[str]:
    engine = sa.create_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT action FROM audit_event WHERE entity = 'reply' ORDER BY id")
        ).all()
    engine.dispose()
    return [action for (action,) in rows]


def test_replies_list_what_needs_an_answer_urgent_first(aftercare, database_url):
    add_reply(database_url, "+12125550123", "can I swim?", None)
    engine = sa.create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO reply (from_address, body, urgent, received_at)"
                " VALUES ('+12125550124', 'my lips are swollen', true, '2026-01-11 19:00:00')"
            )
        )
    engine.dispose()
    waiting = aftercare.json("replies")
    assert [r["body"] for r in waiting] == ["my lips are swollen", "can I swim?"]
    assert aftercare.json("replies", "--all")[0]["body"] == "my lips are swollen"  # newest


def test_reply_queues_an_answer_for_the_dispatcher(aftercare, database_url):
    enrolled = enroll(aftercare, "Ana Ruiz", "+13105550111", "2026-01-10T14:30")
    add_reply(database_url, "+13105550111", "can I swim?", enrolled["patient_id"])  # 11 Jan
    aftercare.now = utc(2026, 1, 11, 18, 30)
    out = aftercare("reply", str(enrolled["patient_id"]), "Not for a week, Ana.")
    assert "Answer queued as message " in out and "it goes at once" in out
    aftercare.now = utc(2026, 1, 12, 18, 0)
    later = aftercare("reply", str(enrolled["patient_id"]), "How is it today?")
    assert "it goes inside the send window" in later  # she wrote a day ago
    assert aftercare.json("replies") == []  # answered
    engine = sa.create_engine(database_url)
    with engine.connect() as connection:
        actions = connection.execute(sa.text("SELECT action, detail FROM audit_event")).all()
    engine.dispose()
    assert [d for a, d in actions if a == "staff_reply"] == [
        f"patient={enrolled['patient_id']} at_once=True",
        f"patient={enrolled['patient_id']} at_once=False",
    ]


def test_reply_is_refused_with_the_reason(aftercare):
    enrolled = enroll(aftercare, "Ana Ruiz", "+13105550111", "2026-01-10T14:30")
    aftercare("opt-out", "+13105550111")
    result = aftercare.runner.invoke(
        app, ["reply", str(enrolled["patient_id"]), "Hello?"], env=aftercare.env
    )
    assert result.exit_code == 1 and "opted out of texts" in result.output
    unknown = aftercare.runner.invoke(app, ["reply", "999", "Hello?"], env=aftercare.env)
    assert unknown.exit_code == 1 and "no patient 999" in unknown.output
