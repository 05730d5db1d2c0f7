"""`aftercare enroll` on a phone on file under another name: the question's two answers,
`--same-person` (that patient, the name corrected) and `--shared-phone` (a patient of their
own on the same number)."""

from __future__ import annotations

from reminders.cli.app import app

ENROLL = ["enroll", "--phone", "3105550142", "--treatment", "asclera",
          "--completed-at", "2026-06-01 10:00"]  # fmt: skip


def test_same_person_or_shared_phone_answer_the_question(aftercare):
    maria = aftercare.json(*ENROLL, "--name", "Maria Lopez")
    asked = aftercare.runner.invoke(app, [*ENROLL, "--name", "Sofia Lopez"], env=aftercare.env)
    assert asked.exit_code == 1
    assert "the same person, or someone else sharing this phone?" in asked.stderr
    assert "add --shared-phone" in asked.stderr and "--same-person" in asked.stderr
    both = [*ENROLL, "--name", "Sofia Lopez", "--same-person", "--shared-phone"]
    assert aftercare.runner.invoke(app, both, env=aftercare.env).exit_code == 1
    sofia = aftercare.json(*ENROLL, "--name", "Sofia Lopez", "--shared-phone")
    assert sofia["patient_id"] != maria["patient_id"]
    asked_again = aftercare.runner.invoke(
        app, [*ENROLL, "--name", "Maria L. Lopez", "--same-person"], env=aftercare.env
    )  # two people on it now: which one must be named
    assert asked_again.exit_code == 1
    assert f"{maria['patient_id']} (Maria Lopez), {sofia['patient_id']} (Sofia Lopez)" in (
        asked_again.stderr
    )
    named = aftercare.json(*ENROLL, "--name", "Maria L. Lopez", "--patient",
                           str(maria["patient_id"]))  # fmt: skip
    assert named["patient_id"] == maria["patient_id"]


def test_same_person_enrolls_for_the_one_patient_on_the_number(aftercare):
    maria = aftercare.json(*ENROLL, "--name", "Maria Lopez")
    again = aftercare.json(*ENROLL, "--name", "Maria Lopez Ruiz", "--same-person",
                           "--treatment", "laser")  # fmt: skip
    assert again["patient_id"] == maria["patient_id"]
