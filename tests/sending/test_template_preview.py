"""The editor's preview, with plain values: the composer's steps for the sample patient."""

from __future__ import annotations

from reminders.sending.composer import ClinicInfo
from reminders.sending.preview import preview

CLINIC = ClinicInfo("Fine Touch Dermatology", "877-337-6424")
EMAIL = (
    "{% block subject %}{{ subject }}{% endblock %}"
    "{% block text %}Hi {{ first_name }}{% endblock %}"
    "{% block html %}<html><body><p>Hi</p></body></html>{% endblock %}"
)


def test_an_sms_that_says_stop_gets_no_second_stop_line():
    shown = preview("Hi {{ first_name }}. Reply STOP to opt out.", channel="sms", language="en",
                    clinic=CLINIC)  # fmt: skip
    assert shown.ok and shown.first_text_shape is None


def test_a_first_text_that_lacks_stop_is_counted_with_the_line_in_its_language():
    shown = preview("x" * 150, channel="sms", language="es", clinic=CLINIC)
    assert (shown.shape.segments, shown.first_text_shape.segments) == (1, 2)


def test_a_clinic_that_names_treatments_in_sms_gets_the_name_and_no_warning():
    clinic = ClinicInfo("Fine Touch Dermatology", "877-337-6424", sms_may_name_treatment=True)
    shown = preview("Your {{ treatment_name }}", channel="sms", language="en", clinic=clinic)
    assert shown.body == "Your Asclera sclerotherapy" and shown.warnings == ()


def test_an_email_subject_too_long_for_the_outbox_is_a_problem_as_when_sending():
    shown = preview(EMAIL.replace("{{ subject }}", "s" * 301), channel="email", language="en",
                    clinic=CLINIC)  # fmt: skip
    assert shown.problem == "the subject is 301 characters; at most 300"


def test_the_email_footer_goes_inside_the_html_body_as_when_sending():
    shown = preview(EMAIL.replace("{{ subject }}", "Hello"), channel="email", language="en",
                    clinic=CLINIC)  # fmt: skip
    assert shown.subject == "Hello"
    assert shown.body.endswith("To stop them, call us at 877-337-6424.\n")
    assert shown.html and shown.html.index("To stop them") < shown.html.index("</body>")


def test_the_sample_patient_has_a_care_link_of_the_clinics_length_when_links_are_made():
    from reminders.rules.care_links import CareLinks

    links = CareLinks("https://finetouch.co", "a-secret-for-the-preview")
    clinic = ClinicInfo("Fine Touch Dermatology", "877-337-6424", care_links=links)
    shown = preview("Your plan: {{ care_link }}", channel="sms", language="en", clinic=clinic)
    assert shown.body == "Your plan: https://finetouch.co/c/q8Rk2mXw5TbN7vLp3sYd4A"
    bare = preview("Your plan: {{ care_link }}", channel="sms", language="en", clinic=CLINIC)
    assert bare.body == "Your plan:"  # no PUBLIC_BASE_URL or SECRET_KEY: as when sending


def test_a_care_page_preview_is_the_sample_patients_page_the_day_after():
    shown = preview("<p>{{ first_name }}: {{ ends(hours=72) }}</p>", channel="page",
                    language="es", clinic=CLINIC)  # fmt: skip
    assert shown.ok and shown.html == "<p>Maria: termina el lunes a las 14:30</p>"


def test_an_automatic_answer_knows_only_the_clinic_and_gets_no_stop_line():
    shown = preview("{{ clinic_name }}: call {{ clinic_phone }}.", channel="sms", language="en",
                    clinic=CLINIC, answer=True)  # fmt: skip
    assert shown.body == "Fine Touch Dermatology: call 877-337-6424."
    assert shown.first_text_shape is None and shown.warnings == ()
    refused = preview("Hi {{ first_name }}", channel="sms", language="en", clinic=CLINIC,
                      answer=True)  # fmt: skip
    assert refused.problem is not None and "first_name" in refused.problem


def test_an_automatic_answer_past_one_segment_is_warned_about():
    shown = preview("{{ clinic_name }} " + "x" * 150, channel="sms", language="es",
                    clinic=CLINIC, answer=True)  # fmt: skip
    assert shown.shape is not None and shown.shape.segments == 2
    assert any("automatic answer of 2 segments" in warning for warning in shown.warnings)
