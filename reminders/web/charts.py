"""The dashboard's chart: sends per day by outcome, drawn on the server as SVG with pygal.

Served as an image from our own origin, so the pages keep `default-src 'self'`. pygal puts a
configuration <script> in every chart and loads its tooltip script from a CDN; we ask for no
scripts (`js=[]`) and take out the configuration one, so the SVG holds no script at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pygal
from pygal.etree import etree
from pygal.style import Style

from reminders.store.dashboard import Outcomes

SERIES = (  # label, colour, which count of Outcomes
    ("Delivered", "#2e7d32", "delivered"),
    ("Sent, no receipt", "#0172ad", "sent"),
    ("Undelivered", "#e08a00", "undelivered"),
    ("Failed", "#c62828", "failed"),
)

STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#373c44",
    foreground_strong="#373c44",
    foreground_subtle="#d5d9e0",
    font_family="system-ui, sans-serif",
    label_font_size=13,
    major_label_font_size=13,
    legend_font_size=13,
    no_data_font_size=20,
    colors=tuple(colour for _label, colour, _field in SERIES),
)


def delivery_chart(
    days: Sequence[date], outcomes: Sequence[Outcomes], *, small: bool = False
) -> str:
    """A stacked bar per day; every seventh day is labelled, the rest are ticks.

    `small` draws it for a phone (360 px wide, shown about as drawn): the labels keep their
    size there rather than shrinking with an 800 px drawing to half, the legend takes two
    columns and every fourteenth day is labelled."""
    chart = pygal.StackedBar(
        style=STYLE,
        js=[],
        width=360 if small else 800,
        height=300 if small else 320,
        legend_at_bottom=True,
        legend_at_bottom_columns=2 if small else len(SERIES),
        x_labels_major_every=14 if small else 7,
        show_minor_x_labels=False,
        truncate_label=-1,
        y_labels=integer_ticks(max((day.total for day in outcomes), default=0)),
        print_values=False,
        no_data_text="No messages sent in these days",
    )
    chart.x_labels = [f"{day:%b} {day.day}" for day in days]
    for label, _colour, field in SERIES:
        chart.add(label, [getattr(day, field) or None for day in outcomes])
    return without_scripts(chart.render_tree())


def integer_ticks(peak: int) -> list[int]:
    """0 up to `peak` rounded up, in at most six whole steps of 1, 2 or 5 times 10^n: counts
    of messages have no fractions (pygal's own scale shows 0.2, 0.4 ... for small ones)."""
    step = 1
    while peak > 6 * step:
        step = next_step(step)
    top = max(1, -(-peak // step) * step)
    return list(range(0, top + 1, step))


def next_step(step: int) -> int:
    """1, 2, 5, 10, 20, 50, ..."""
    return step * 5 // 2 if str(step)[0] == "2" else step * 2


def without_scripts(tree: object) -> str:
    """The SVG text of pygal's element tree, every <script> element taken out."""
    for parent in list(tree.iter()):  # type: ignore[attr-defined]
        for child in list(parent):
            if child.tag == "script":
                parent.remove(child)
    return str(etree.tostring(tree, encoding="unicode"))
