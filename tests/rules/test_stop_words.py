"""Every way of saying stop (the FCC's 2024 order), START and HELP, in English and Spanish.

Each word in upper, lower and mixed case, with punctuation and accents; which of them Twilio
answers itself and which Aftercare must confirm.
"""

from __future__ import annotations

import pytest

from reminders.rules.keywords import Kind, classify

TWILIO_ANSWERS = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"]
WE_CONFIRM = ["STOP ALL", "OPT OUT", "OPT-OUT", "PARAR", "ALTO", "BAJA", "CANCELAR", "NO MAS",
              "NO MÁS"]  # fmt: skip
START_WORDS = ["START", "YES", "UNSTOP", "COMENZAR", "INICIAR", "SI", "SÍ"]
HELP_WORDS = ["HELP", "INFO", "AYUDA"]


def spellings(word: str) -> list[str]:
    """Upper, lower, mixed case; with the punctuation and spacing people add."""
    mixed = "".join(c.lower() if i % 2 else c for i, c in enumerate(word))
    return [
        word,
        word.lower(),
        word.title(),
        mixed,
        f"{word.lower()}.",
        f" {word.title()}!! ",
        f"¡{word.lower()}!",
        f'"{mixed}?"',
        f"{word}\n",
    ]


def cases(words: list[str]) -> list[str]:
    return [spelled for word in words for spelled in spellings(word)]


@pytest.mark.parametrize("body", cases(TWILIO_ANSWERS))
def test_twilio_answers_its_own_stop_words(body):
    inbound = classify(body)
    assert (inbound.kind, inbound.we_confirm, inbound.urgent) == (Kind.STOP, False, False)


@pytest.mark.parametrize("body", cases(WE_CONFIRM))
def test_every_other_stop_word_is_ours_to_confirm(body):
    inbound = classify(body)
    assert (inbound.kind, inbound.we_confirm) == (Kind.STOP, True)


@pytest.mark.parametrize(
    "body",
    ["Opt - Out", "opt  out", "No  más.", "NO MAS!!!", "Cancelár", "stop\u200ball", "STOP 🛑"],
)
def test_spacing_accents_and_symbols_do_not_hide_a_stop(body):
    assert classify(body).kind == Kind.STOP


@pytest.mark.parametrize("body", cases(START_WORDS))
def test_start_words_in_both_languages(body):
    assert classify(body).kind == Kind.START


@pytest.mark.parametrize("body", cases(HELP_WORDS))
def test_help_words_in_both_languages(body):
    assert classify(body).kind == Kind.HELP


@pytest.mark.parametrize(
    "body",
    ["no", "No más dolor", "baja la hinchazón?", "alto de la pierna", "sí, mañana", "stop it all",
     "end of the week", "opt", "parar el sangrado?"],
)  # fmt: skip
def test_a_word_inside_a_sentence_is_a_reply(body):
    assert classify(body).kind == Kind.REPLY
