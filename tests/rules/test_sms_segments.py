from __future__ import annotations

import pytest

from reminders.rules.sms_segments import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    SmsShape,
    character_name,
    fit_gsm7,
    gsm7_name,
    non_gsm7_characters,
    sms_shape,
)


def test_the_gsm7_basic_set_has_127_characters_besides_escape() -> None:
    assert len(GSM7_BASIC) == 127
    assert len(GSM7_EXTENSION) == 10
    assert not GSM7_BASIC & GSM7_EXTENSION


def test_empty_text_is_zero_segments() -> None:
    assert sms_shape("") == SmsShape("GSM-7", 0, 0)


@pytest.mark.parametrize(
    ("length", "segments"),
    [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)],
)
def test_gsm7_segment_boundaries(length: int, segments: int) -> None:
    assert sms_shape("a" * length) == SmsShape("GSM-7", segments, length)


@pytest.mark.parametrize(
    ("length", "segments"),
    [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)],
)
def test_ucs2_segment_boundaries(length: int, segments: int) -> None:
    assert sms_shape("á" * length) == SmsShape("UCS-2", segments, length)


@pytest.mark.parametrize("char", sorted(GSM7_EXTENSION))
def test_extension_characters_count_two_septets(char: str) -> None:
    assert sms_shape(char) == SmsShape("GSM-7", 1, 2)
    assert sms_shape("a" * 158 + char) == SmsShape("GSM-7", 1, 160)
    assert sms_shape("a" * 159 + char) == SmsShape("GSM-7", 2, 161)


def test_eighty_euro_signs_fill_exactly_one_segment() -> None:
    assert sms_shape("€" * 80) == SmsShape("GSM-7", 1, 160)
    # 76 escape pairs (152 septets) per concatenated segment: 81 need two segments.
    assert sms_shape("€" * 81) == SmsShape("GSM-7", 2, 162)
    assert sms_shape("€" * 152) == SmsShape("GSM-7", 2, 304)
    assert sms_shape("€" * 153) == SmsShape("GSM-7", 3, 306)


def test_an_escape_pair_is_not_split_across_segments() -> None:
    # The pair would straddle septets 153 and 154: it moves whole to segment 2, so 306
    # septets take three segments instead of two.
    straddling = "a" * 152 + "€" + "a" * 152
    assert sms_shape(straddling) == SmsShape("GSM-7", 3, 306)
    fitting = "a" * 151 + "€" + "a" * 153
    assert sms_shape(fitting) == SmsShape("GSM-7", 2, 306)


def test_an_emoji_counts_two_utf16_units() -> None:
    assert sms_shape("😀") == SmsShape("UCS-2", 1, 2)
    assert sms_shape("😀" * 35) == SmsShape("UCS-2", 1, 70)
    assert sms_shape("😀" + "a" * 69) == SmsShape("UCS-2", 2, 71)


def test_a_surrogate_pair_is_not_split_across_segments() -> None:
    assert sms_shape("a" * 66 + "😀" + "a" * 66) == SmsShape("UCS-2", 3, 134)
    assert sms_shape("a" * 65 + "😀" + "a" * 67) == SmsShape("UCS-2", 2, 134)


def test_one_character_outside_gsm7_switches_the_whole_text_to_ucs2() -> None:
    text = "a" * 100 + "á"
    assert sms_shape(text) == SmsShape("UCS-2", 2, 101)
    assert sms_shape("a" * 101).segments == 1


def test_spanish_letters_in_gsm7_and_the_accents_that_are_not() -> None:
    text = "Mañana, ¿Señor Müller? ¡Que bien! é è ù ì ò Ç à ä ö Å Ñ Ü É"
    assert sms_shape(text) == SmsShape("GSM-7", 1, len(text))
    assert sms_shape("¡Sí!").encoding == "UCS-2"
    for accented in "áíóúÁÍÓÚ":
        assert sms_shape(f"Hola {accented}").encoding == "UCS-2"


def test_newline_and_carriage_return_are_gsm7() -> None:
    assert sms_shape("a\nb\rc") == SmsShape("GSM-7", 1, 5)


def test_non_gsm7_characters_lists_each_offender_once_in_order() -> None:
    assert non_gsm7_characters("día, está, día 😀 ñ €") == "íá😀"
    assert non_gsm7_characters("plain GSM-7 text {ok}") == ""


@pytest.mark.parametrize(
    ("ch", "named"),
    [
        ("\u2019", "\u2019 RIGHT SINGLE QUOTATION MARK (U+2019)"),
        ("\u200b", "\u200b ZERO WIDTH SPACE (U+200B)"),
        ("😀", "😀 GRINNING FACE (U+1F600)"),
        ("\x07", "U+0007"),  # a control character has no name; it is not shown itself
    ],
)
def test_a_character_is_named_with_its_code_point(ch: str, named: str) -> None:
    assert character_name(ch) == named


@pytest.mark.parametrize(
    ("typographic", "plain"),
    [
        ("\u2018quoted\u2019", "'quoted'"),
        ("\u201cquoted\u201d", '"quoted"'),
        ("\u201elow\u201c", '"low"'),
        ("9\u201312", "9-12"),
        ("wait\u2014then", "wait-then"),
        ("a\u00a0b", "a b"),
        ("a\u2009b\u202fc\u3000d", "a b c d"),
        ("and so on\u2026", "and so on..."),
        ("\u2022 item", "- item"),
        ("\u2212 5", "- 5"),
    ],
)
def test_fit_gsm7_replaces_typographic_characters(typographic: str, plain: str) -> None:
    assert fit_gsm7(typographic) == plain
    assert sms_shape(fit_gsm7(typographic)).encoding == "GSM-7"


def test_fit_gsm7_leaves_letters_and_other_characters_alone() -> None:
    text = "Sí, mañana a las 9:00 — ¿está bien? 😀 € {x}"
    assert fit_gsm7(text) == "Sí, mañana a las 9:00 - ¿está bien? 😀 € {x}"
    assert sms_shape(fit_gsm7("Señor Müller, ¿qué tal?")).encoding == "GSM-7"
    assert sms_shape(fit_gsm7("Llámenos mañana")).encoding == "UCS-2"


def test_fit_gsm7_makes_a_pasted_word_processor_text_cheaper() -> None:
    pasted = "Don\u2019t forget\u2026 call us \u2013 we\u2019re here."
    assert sms_shape(pasted) == SmsShape("UCS-2", 1, len(pasted))
    assert sms_shape(fit_gsm7(pasted)).encoding == "GSM-7"


@pytest.mark.parametrize(
    ("name", "folded"),
    [
        ("María", "Maria"),
        ("Íñigo", "Iñigo"),
        ("José", "José"),
        ("Zoë", "Zoe"),
        ("Łukasz", "Łukasz"),  # no plain base letter: kept, the SMS goes UCS-2
        ("陳", "陳"),
    ],
)
def test_gsm7_name_drops_only_accents_gsm7_lacks(name, folded):
    assert gsm7_name(name) == folded
