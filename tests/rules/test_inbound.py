"""What a patient's text means: keywords only as the whole message; urgency errs on flagging."""

from __future__ import annotations

import pytest

from reminders.rules.keywords import Inbound, Kind, classify


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("STOP", Kind.STOP),
        ("stop", Kind.STOP),
        (" Stop ", Kind.STOP),
        ("Stop.", Kind.STOP),
        ("STOP!", Kind.STOP),
        ("stopall", Kind.STOP),
        ("STOPALL", Kind.STOP),
        ("Unsubscribe", Kind.STOP),
        ("cancel", Kind.STOP),
        ("END", Kind.STOP),
        ("quit\n", Kind.STOP),
        ("START", Kind.START),
        ("yes", Kind.START),
        ("Yes!", Kind.START),
        ("unstop", Kind.START),
        ("HELP", Kind.HELP),
        ("help?", Kind.HELP),
        ("Info", Kind.HELP),
        # A keyword inside a sentence is a reply staff should read, not a command.
        ("stop texting me please", Kind.REPLY),
        ("Can I cancel my appointment?", Kind.REPLY),
        ("yes I can come on Tuesday", Kind.REPLY),
        ("I need help with my bandage", Kind.REPLY),
        ("STOP ALL", Kind.STOP),
        ("", Kind.REPLY),
        ("Thanks!", Kind.REPLY),
    ],
)
def test_keywords_count_only_as_the_whole_message(body, kind):
    assert classify(body).kind == kind


@pytest.mark.parametrize(
    "body",
    [
        # English
        "I can't breathe",
        "I'm short of breath since this morning",
        "having trouble breathing",
        "breathing is fine",  # flagged on purpose: a mention is enough (see the module docstring)
        "my face is swollen",
        "Swollen lips after the injection",
        "my throat feels swollen",
        "swelling in my tongue",
        "my lip is a bit swollen",
        "I have chest pain",
        "pain in my chest",
        "severe pain in my left leg",
        "Severe leg pain",
        "the pain is severe",
        "there is an ulcer where you injected",
        "an open sore on my ankle",
        "I think I'm allergic to it",
        "allergy?",
        "HIVES all over my arms",
        # Spanish, with and without accents
        "no puedo respirar",
        "me falta el aire",
        "falta de aire",
        "Tengo dificultad para respirar",
        "tengo la cara hinchada",
        "hinchazón en la garganta",
        "HINCHAZON DE LABIOS",
        "se me hinchó la lengua",
        "labio hinchado",
        "dolor de pecho",
        "Tengo dolor en el pecho",
        "dolor fuerte en la pierna",
        "un dolor muy intenso",
        "dolor severo",
        "tengo una úlcera",
        "una ulcera en el tobillo",
        "me salió una llaga",
        "creo que soy alérgica",
        "alergia al medicamento",
        "me salieron ronchas",
        "urticaria en los brazos",
    ],
)
def test_warning_signs_are_urgent(body):
    assert classify(body) == Inbound(Kind.REPLY, urgent=True)


@pytest.mark.parametrize(
    "body",
    [
        "no pain at all, thanks",
        "a little pain at the injection site, is that normal?",
        "my legs are a bit swollen",  # expected after sclerotherapy
        "swelling around the ankle",
        "the bruising looks better today",
        "Can I take a flight on Friday?",
        "Is it ok to go to the sauna?",
        "I have some brown staining",
        "thank you!",
        "tengo moretones",
        "un poco de dolor en la pierna",
        "la pierna está hinchada",
        "¿puedo hacer ejercicio?",
        "gracias",
        "my surface veins look better",
    ],
)
def test_expected_effects_and_questions_are_not_urgent(body):
    assert classify(body) == Inbound(Kind.REPLY, urgent=False)


def test_keywords_are_never_urgent():
    assert classify("STOP") == Inbound(Kind.STOP, urgent=False)
