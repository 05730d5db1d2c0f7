"""rules.sms_combine: several steps' texts as one, the link and the clinic once."""

from __future__ import annotations

from reminders.rules.sms_combine import combine_texts, fits

LINK = "https://care.example-clinic.com/c/Ab3dE5gH7jK9mN1pQ"  # 45 characters

AFTERCARE = (
    "Hi Ana, thank you for visiting Bright Clinic. For 3 days avoid flights, exercise, sun"
    f" and hot baths. Questions? Call 555-0100. {LINK}"
)
DAY_1 = (
    "Good morning, Ana! A reminder from Bright Clinic: today, still avoid flights, exercise,"
    f" sun and hot baths. Questions? Call 555-0100. {LINK}"
)


def combine(*parts: str, stop: str | None = None) -> str:
    return combine_texts(parts, first_name="Ana", clinic_name="Bright Clinic", stop_line=stop)


def test_the_carrier_whole_and_the_others_essentials() -> None:
    text = combine(AFTERCARE, DAY_1)
    assert text == (
        "Hi Ana, thank you for visiting Bright Clinic. For 3 days avoid flights, exercise, sun"
        " and hot baths. Questions? Call 555-0100.\n"
        "A reminder: today, still avoid flights, exercise, sun and hot baths.\n"
        f"{LINK}"
    )
    assert text.count(LINK) == 1 and text.count("Bright Clinic") == 1
    assert fits(text)


def test_without_links_nothing_is_added() -> None:
    text = combine("Hi Ana, rest today.", "Hi Ana, drink water.")
    assert text == "Hi Ana, rest today.\nDrink water."


def test_the_stop_line_once_before_the_link() -> None:
    text = combine(
        f"Hi Ana, rest. Reply STOP to opt out. {LINK}", "Hi Ana, walk. Reply STOP to opt out."
    )
    assert text == f"Hi Ana, rest.\nWalk.\nReply STOP to opt out.\n{LINK}"
    assert combine("Hi Ana, rest.", "Hi Ana, walk.", stop="Reply STOP to opt out.").endswith(
        "Walk.\nReply STOP to opt out."
    )


def test_two_distinct_links_are_both_kept_in_order() -> None:
    text = combine("See https://a.example/x.", "And https://b.example/y, https://a.example/x")
    assert text.endswith("https://a.example/x\nhttps://b.example/y")


def test_fits_is_two_segments_in_gsm7_and_in_ucs2() -> None:
    assert fits("a" * 306) and not fits("a" * 307)
    assert fits("á" * 134) and not fits("á" * 135)  # Spanish with accents: UCS-2


def test_two_long_texts_do_not_fit_combined() -> None:
    first = "Hi Ana, " + " ".join(f"Rule {n}: avoid long flights and hot baths." for n in range(5))
    second = "Hi Ana, " + " ".join(f"Tip {n}: rest and drink some water." for n in range(5))
    assert fits(first) and fits(second)
    assert not fits(combine(first, second))


def test_a_links_label_moves_to_the_end_with_it() -> None:
    text = combine(f"Hi Ana, rest today. Care plan: {LINK}", f"Hi Ana, walk. Care plan: {LINK}")
    assert text == f"Hi Ana, rest today.\nWalk.\nCare plan: {LINK}"


def test_a_parts_courtesy_naming_the_clinic_again_is_dropped() -> None:
    text = combine(
        "Hi Ana, thank you for visiting Bright Clinic. Rest today.",
        "Hi Ana, thanks for visiting Bright Clinic. Mild redness is normal. Call Bright Clinic"
        " at 555-0100.",
    )
    assert text == (
        "Hi Ana, thank you for visiting Bright Clinic. Rest today.\n"
        "Mild redness is normal. Call Bright Clinic at 555-0100."
    )
