"""What a rate limit let through, measured: the busiest one-second window of releases."""

from __future__ import annotations

from bisect import bisect_left


def busiest_second(releases: list[tuple[float, int]]) -> int:
    """The most segments released in any window [t, t + 1 s): the worst one starts at a release."""
    releases = sorted(releases)
    times = [at for at, _ in releases]
    totals = [0]
    for _, segments in releases:
        totals.append(totals[-1] + segments)
    return max(totals[bisect_left(times, start + 1.0)] - totals[i] for i, start in enumerate(times))
