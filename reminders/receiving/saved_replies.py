"""A saved reply made ready for one patient: its variables rendered as in message templates.

The same sandbox as the templates (rules.rendering), with what an SMS template may use:
`first_name` (GSM-7 folded), `clinic_name`, `clinic_phone`. Staff may edit the result before
sending; a saved reply that cannot be rendered is refused with the reason.
"""

from __future__ import annotations

from reminders.receiving.answers import Clinic
from reminders.rules.names import first_name
from reminders.rules.rendering import TemplateProblem, render_sms
from reminders.rules.sms_segments import gsm7_name

VARIABLES = ("first_name", "clinic_name", "clinic_phone")
MAX_BODY = 600  # characters of source: a saved reply is a short answer
SAMPLE_NAME = "Maria"


def context(name: str, clinic: Clinic) -> dict[str, object]:
    return {
        "first_name": gsm7_name(first_name(name)),
        "clinic_name": clinic.name,
        "clinic_phone": clinic.phone,
    }


def rendered(source: str, *, name: str, clinic: Clinic) -> str:
    """The text for the patient; raises rules.rendering.TemplateProblem."""
    return render_sms(source, context(name, clinic)).body


def problem_with(source: str, clinic: Clinic) -> str | None:
    """What is wrong with a saved reply's text, rendered for a sample patient."""
    if not source.strip():
        return "Write the reply."
    if len(source) > MAX_BODY:
        return f"At most {MAX_BODY} characters ({len(source)} typed)."
    try:
        rendered(source, name=SAMPLE_NAME, clinic=clinic)
    except TemplateProblem as problem:
        return str(problem)
    return None
