"""`aftercare pause` and `aftercare resume`: the timeline's pause, from a shell."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from tests.support.cli import Aftercare


def enroll(aftercare: Aftercare) -> int:
    aftercare.now = datetime(2026, 10, 29, 22, 1, tzinfo=UTC)  # 15:01 in Los Angeles
    enrolled = aftercare.json(
        "enroll", "--name", "Maria Lopez", "--phone", "(310) 555-0142", "--email",
        "maria@example.com", "--treatment", "asclera", "--completed-at", "2026-10-29 15:00",
    )  # fmt: skip
    assert isinstance(enrolled, dict)
    return int(enrolled["patient_id"])


PAUSES = (
    "SELECT action, entity_id FROM audit_event"
    " WHERE action IN ('patient_paused', 'patient_resumed') ORDER BY id"
)


def audit(aftercare: Aftercare) -> list[tuple[str, int]]:
    engine = sa.create_engine(aftercare.database_url)
    try:
        with engine.connect() as db:
            return [(action, entity_id) for action, entity_id in db.execute(sa.text(PAUSES))]
    finally:
        engine.dispose()


def test_a_paused_patient_gets_nothing_until_resumed(aftercare):
    patient = enroll(aftercare)
    assert aftercare("pause", str(patient)) == (
        f"Paused patient {patient}; 11 planned message(s) held.\n"
    )
    assert "was already paused (since Thu 2026-10-29 15:01 PDT, by" in aftercare(
        "pause", str(patient)
    )
    aftercare("tick", "--now", "2026-10-29T15:05")
    assert aftercare.delivered() == []
    resumed = aftercare("resume", str(patient))
    assert f"Resumed patient {patient}; 11 planned message(s) go out" in resumed
    assert aftercare("resume", str(patient)) == f"Patient {patient} was not paused.\n"
    aftercare("tick", "--now", "2026-10-29T15:10")
    assert sorted(d["channel"] for d in aftercare.delivered()) == ["email", "sms"]
    assert audit(aftercare) == [("patient_paused", patient), ("patient_resumed", patient)]


def test_pausing_an_unknown_patient_is_a_one_line_error(aftercare):
    for command in ("pause", "resume"):
        for patient in ("999", str(2**70)):
            result = aftercare.result(command, patient)
            assert result.exit_code == 1
            assert result.output == f"error: no patient {patient}\n"


def test_enrolling_a_paused_patient_again_says_they_are_paused(aftercare):
    patient = enroll(aftercare)
    aftercare("pause", str(patient))
    again = aftercare(
        "enroll", "--name", "Maria Lopez", "--phone", "(310) 555-0142", "--treatment", "laser",
        "--completed-at", "2026-10-29 15:00",
    )  # fmt: skip
    assert f"Note: patient {patient} is paused: nothing is sent until they are resumed" in again
