"""Time zones in the words a front desk uses: "Pacific time (Los Angeles)", not an IANA key.

Pure. The IANA name stays what is stored and what a practice system sends; these words are
what a person reads and may type (`rules.timing.require_zone` accepts either).
"""

from __future__ import annotations

from collections.abc import Iterable

# The zones a US clinic's patients are mostly in, in the words they use, east to west; then
# a few abroad. Any other Area/City zone reads as "City (Area)".
NAMED: dict[str, str] = {
    "America/New_York": "Eastern time (New York)",
    "America/Chicago": "Central time (Chicago)",
    "America/Denver": "Mountain time (Denver)",
    "America/Phoenix": "Mountain time, no daylight saving (Phoenix)",
    "America/Los_Angeles": "Pacific time (Los Angeles)",
    "America/Anchorage": "Alaska time (Anchorage)",
    "Pacific/Honolulu": "Hawaii time (Honolulu)",
    "America/Puerto_Rico": "Atlantic time (Puerto Rico)",
    "America/Halifax": "Atlantic time (Halifax)",
    "America/Toronto": "Eastern time (Toronto)",
    "America/Vancouver": "Pacific time (Vancouver)",
    "America/Mexico_City": "Central Mexico time (Mexico City)",
    "Europe/London": "UK time (London)",
    "UTC": "UTC (no time zone)",
}


def zone_words(key: str) -> str:
    """'Pacific time (Los Angeles)'; 'Lisbon (Europe)' for a zone without a name of its own."""
    if key in NAMED:
        return NAMED[key]
    area, _, place = key.partition("/")
    if not place:
        return key
    city = place.split("/")[-1].replace("_", " ")
    return f"{city} ({area})"


def zone_from_words(text: str) -> str | None:
    """The IANA key a person's words name ("pacific time (los angeles)"), or None."""
    wanted = " ".join(text.split()).casefold()
    return next((key for key, words in NAMED.items() if words.casefold() == wanted), None)


def zone_choices(first: str, keys: Iterable[str]) -> list[tuple[str, str]]:
    """(key, words) to offer: the clinic's zone first, then the named ones, then the rest
    in the order given."""
    rest = [key for key in keys if key != first and key not in NAMED]
    named = [key for key in NAMED if key != first]
    return [(key, zone_words(key)) for key in (first, *named, *rest)]
