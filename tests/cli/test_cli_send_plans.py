"""What `enroll`, `import` and `messages --json` say in advance of the window and the daily
SMS limit (issue 14, part 1): when each text will go, which go together, which cannot."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from reminders.cli.import_csv import import_csv
from tests.support.cli import Aftercare
from tests.support.send_plans import SHORT, long_texts, set_texts

EVENING = datetime(2026, 6, 2, 3, 50, tzinfo=UTC)  # 20:50 on 1 June in Los Angeles
SCLEROTHERAPY_SMS = ["aftercare", "restriction_day_1", "restriction_day_2", "restrictions_over"]


def texts(aftercare: Aftercare, plan: str, steps: list[str]) -> None:
    engine = sa.create_engine(aftercare.database_url)
    try:
        long_texts(engine, plan, steps)
    finally:
        engine.dispose()


def enroll(aftercare: Aftercare, treatment: str, at: str, *json: str) -> object:
    args = ["enroll", "--name", "Maria Lopez", "--phone", "3105550142", "--treatment", treatment,
            "--completed-at", at]  # fmt: skip
    return aftercare.json(*args) if json else aftercare(*args)


def sms(enrolled: object, step: str) -> dict[str, object]:
    assert isinstance(enrolled, dict)
    return next(m for m in enrolled["messages"] if (m["step"], m["channel"]) == (step, "sms"))


def test_an_evening_session_is_told_when_each_text_will_really_go(aftercare):
    texts(aftercare, "sclerotherapy", SCLEROTHERAPY_SMS)
    aftercare.now = EVENING
    enrolled = enroll(aftercare, "asclera", "2026-06-01 20:40", "json")
    assert sms(enrolled, "restriction_day_1")["expected_send_at"] == "2026-06-02T16:00:00Z"
    first = sms(enrolled, "aftercare")
    assert (first["due_at"], first["expected_send_at"]) == (
        "2026-06-02T03:40:00Z",
        "2026-06-04T16:00:00Z",  # 09:00 on day 3, before its deadline (20:40 that day)
    )
    assert (first["combined_into"], first["too_late"]) == (None, False)
    warnings = " | ".join(enrolled["warnings"])  # type: ignore[index]
    assert "the aftercare text goes Thu 04 Jun 09:00, a later day" in warnings


def test_the_table_shows_the_expected_times(aftercare):
    texts(aftercare, "sclerotherapy", SCLEROTHERAPY_SMS)
    aftercare.now = EVENING
    output = enroll(aftercare, "asclera", "2026-06-01 20:40")
    assert "2026-06-04 09:00 PDT" in output  # the aftercare SMS, not its due 20:40
    assert "Note: the aftercare text goes Thu 04 Jun 09:00" in output


def test_a_text_crowded_out_before_its_deadline_is_named_in_a_warning(aftercare):
    texts(aftercare, "sclerotherapy", SCLEROTHERAPY_SMS)
    texts(aftercare, "test_dose", ["watch_for_reaction"])
    aftercare.now = EVENING
    enroll(aftercare, "asclera", "2026-06-01 20:40", "json")
    enrolled = enroll(aftercare, "test-dose", "2026-06-01 20:45", "json")
    watch = sms(enrolled, "watch_for_reaction")
    assert (watch["expected_send_at"], watch["too_late"]) == (None, True)
    assert any(
        w.startswith("the watch_for_reaction text cannot go before its deadline")
        for w in enrolled["warnings"]  # type: ignore[index]
    )
    listed = aftercare.json("messages", "--status", "pending")
    watch_listed = next(
        m for m in listed if m["step"] == "watch_for_reaction" and m["channel"] == "sms"
    )  # type: ignore[index]
    assert (watch_listed["expected_send_at"], watch_listed["too_late"]) == (None, True)


def test_texts_that_fit_one_are_told_as_combined(aftercare):
    engine = sa.create_engine(aftercare.database_url)
    set_texts(engine, "sclerotherapy", SHORT)
    engine.dispose()
    aftercare.now = EVENING
    enrolled = enroll(aftercare, "asclera", "2026-06-01 20:40", "json")
    carrier, part = sms(enrolled, "aftercare"), sms(enrolled, "restriction_day_1")
    assert carrier["expected_send_at"] == part["expected_send_at"] == "2026-06-02T16:00:00Z"
    assert (carrier["combined_into"], part["combined_into"]) == (None, carrier["id"])
    warnings = " | ".join(enrolled["warnings"])  # type: ignore[index]
    assert "the restriction_day_1 text goes inside the aftercare text, Tue 02 Jun 09:00" in warnings
    listed = aftercare.json("messages", "--patient", "1")
    assert next(m for m in listed if m["id"] == part["id"])["combined_into"] == carrier["id"]  # type: ignore[index]


def test_import_notes_by_line_what_the_limit_does(runtime, capsys, tmp_path):
    long_texts(runtime.engine, "sclerotherapy", SCLEROTHERAPY_SMS)
    long_texts(runtime.engine, "test_dose", ["watch_for_reaction"])
    path = tmp_path / "sessions.csv"
    path.write_text(
        "name,phone,treatment,completed_at\n"
        "Maria Lopez,3105550142,asclera,2026-06-01 20:40\n"
        "Ana Ruiz,3105550143,laser,2026-06-01 10:00\n"
        "Maria Lopez,3105550142,test-dose,2026-06-01 20:45\n"
    )
    assert import_csv(runtime, path, actor="staff", now=EVENING) == []
    out = capsys.readouterr().out
    assert "line 2: note: the watch_for_reaction text cannot go before its deadline" in out
    assert "line 2: note: the aftercare text goes Thu 04 Jun 09:00, a later day" in out
    assert "line 3:" not in out  # one text on its day: nothing to say
