"""Pictures of numbers as SVG written on the server: a stacked area of outcomes over time, and bars per day.

No chart library: a library that draws in the browser needs scripts (the pages work without) and most set
``style=""`` attributes, which the Content-Security-Policy refuses. These are plain strings of SVG elements, so a page
shows its picture without scripts and the live page swaps in a new one from the server.

Each picture is an ``<svg role="img">`` named by its ``<title>`` and described by its ``<desc>`` (the numbers in
words), so a screen reader reads a name and a sentence, not the shapes; the page puts the numbers in a table beside it.
Colour is never the only cue: each outcome has a fill pattern of its own (solid, stripes, cross-hatching, dots,
lines) and the legend names it with its number. Colours are presentation attributes (``fill=``, not ``style=``), so
the SVG looks the same inline, opened alone or in an ``<img>``; each shape also has a class, for app.css to adjust
(forced colours, print).

The output depends only on the arguments (no clock, no zone, no locale): the golden files of
tests/unit/gateway/test_charts.py pin it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 640
LEFT, RIGHT, TOP = 56, 16, 16  # room for the messages' labels on the left
PLOT_WIDTH = WIDTH - LEFT - RIGHT
OUTCOMES_PLOT_HEIGHT, DAYS_PLOT_HEIGHT = 200, 120  # the campaign's picture; the list's smaller one
LEGEND_ROW = 20  # the height of a row of the legend
CHAR_WIDTH = 7  # a generous width of a character at font-size 12, to lay out the legend's words
TEXT = "#0b0c0c"
MUTED = "#505a5f"
GRID = "#b1b4b6"
MAX_TIME_LABELS = 6


@dataclass(frozen=True)
class Look:
    """How one series is drawn: its colour and a fill pattern, so it can be told apart without colour."""

    colour: str
    pattern: str  # SVG path drawn in white over the colour in an 8x8 tile; empty: solid


LOOKS: dict[str, Look] = {
    "delivered": Look("#00703c", ""),
    "sent": Look("#1d70b8", "M-2,2 l4,-4 M0,8 l8,-8 M6,10 l4,-4"),  # diagonal stripes
    "failed": Look("#d4351c", "M0,0 l8,8 M8,0 l-8,8"),  # cross-hatching
    "bounced": Look("#b58840", "M2,2 h1 M6,6 h1"),  # dots
    "unsubscribed": Look("#4c2c92", "M0,4 h8"),  # horizontal lines
    "messages": Look("#1d70b8", ""),
}


@dataclass(frozen=True)
class Frame:
    """Where a picture's parts go, from the height of its plot: the plot, the labels under it, the legend."""

    plot_height: int

    @property
    def bottom(self) -> int:
        return TOP + self.plot_height

    @property
    def middle(self) -> int:
        return TOP + self.plot_height // 2

    @property
    def tick_y(self) -> int:  # the labels of the moments or days
        return self.bottom + 16

    @property
    def axis_y(self) -> int:  # what the horizontal axis is
        return self.bottom + 34

    @property
    def legend_y(self) -> int:  # the top of the legend's first row
        return self.bottom + 48

    def y(self, value: int, top: int) -> float:
        return self.bottom - value / top * self.plot_height


@dataclass(frozen=True)
class Series:
    """One outcome's running totals at each moment of the picture (as many values as there are moments)."""

    key: str  # a key of LOOKS: the colour and pattern, and the shapes' class
    label: str
    values: Sequence[int]


def short_count(value: int) -> str:
    """An axis label that fits its margin: ``950``, ``9,500``, ``95k``, ``9.5M``."""
    if value < 10_000:
        return f"{value:,}"
    if value < 1_000_000:
        return f"{value / 1000:.0f}k" if value % 1000 == 0 or value >= 100_000 else f"{value / 1000:.1f}k"
    shown = f"{value / 1_000_000:.1f}".removesuffix(".0")
    return f"{shown}M"


def nice_top(largest: int) -> tuple[int, int]:
    """The top of the scale and the step between its gridlines: 1, 2 or 5 times a power of ten, four steps or so."""
    if largest <= 0:
        return 4, 1
    rough = largest / 4
    power = 10 ** math.floor(math.log10(rough)) if rough >= 1 else 1
    step = next(power * m for m in (1, 2, 5, 10) if power * m >= rough)
    step = max(1, int(step))
    return step * math.ceil(largest / step), step


def _n(value: float) -> str:
    """A coordinate, rounded so the output is short and the same on every machine."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _open(chart_id: str, title: str, description: str, css: str, height: int) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css}" id="{chart_id}" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" preserveAspectRatio="xMinYMin meet" '
        f'aria-labelledby="{chart_id}-title" aria-describedby="{chart_id}-desc" font-size="12">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
    ]


def _patterns(chart_id: str, keys: Sequence[str]) -> list[str]:
    parts = ["<defs>"]
    for key in keys:
        look = LOOKS[key]
        parts.append(f'<pattern id="{chart_id}-{key}" patternUnits="userSpaceOnUse" width="8" height="8">'
                     f'<rect width="8" height="8" fill="{look.colour}"/>')
        if look.pattern:
            parts.append(f'<path d="{look.pattern}" stroke="#ffffff" stroke-width="1.5"/>')
        parts.append("</pattern>")
    parts.append("</defs>")
    return parts


def _y_axis(frame: Frame, top: int, step: int, label: str) -> list[str]:
    parts = ['<g class="chart__axis">']
    for value in range(0, top + 1, step):
        y = frame.y(value, top)
        dashes = ' stroke-dasharray="2 3"' if value else ""  # the baseline solid, the gridlines dashed
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + PLOT_WIDTH}" y1="{_n(y)}" y2="{_n(y)}" stroke="{GRID}" '
                     f'stroke-width="1"{dashes}/>')
        parts.append(f'<text x="{LEFT - 6}" y="{_n(y + 4)}" text-anchor="end" fill="{MUTED}">'
                     f'{short_count(value)}</text>')
    parts.append(f'<text x="12" y="{frame.middle}" text-anchor="middle" fill="{MUTED}" '
                 f'transform="rotate(-90 12 {frame.middle})">{escape(label)}</text>')
    parts.append("</g>")
    return parts


def _nothing(frame: Frame, text: str) -> list[str]:
    return [f'<text class="chart__empty" x="{LEFT + PLOT_WIDTH // 2}" y="{frame.middle}" '
            f'text-anchor="middle" fill="{MUTED}">{escape(text)}</text>']


def outcome_chart(chart_id: str, title: str, description: str, moments: Sequence[str], series: Sequence[Series],
                  axis_label: str, empty: str = "Nothing recorded yet") -> Markup:
    """Stacked areas: at each moment (labelled by ``moments``, oldest first) the running total of each series, the
    first series at the bottom. With fewer than two moments there is nothing to draw but the axes and ``empty``.
    The legend below names each series with its last total."""
    points = len(moments)
    totals = [sum(s.values[i] for s in series) for i in range(points)]
    top, step = nice_top(max(totals, default=0))
    frame = Frame(OUTCOMES_PLOT_HEIGHT)
    legend, rows = _legend(frame, chart_id, series)
    parts = _open(chart_id, title, description, "chart--outcomes", frame.legend_y + rows * LEGEND_ROW)
    parts += _patterns(chart_id, [s.key for s in series])
    parts += _y_axis(frame, top, step, "Messages")
    if points < 2:
        parts += _nothing(frame, empty)
    else:
        def x(i: int) -> float:
            return LEFT + i / (points - 1) * PLOT_WIDTH

        def y(value: int) -> float:
            return frame.y(value, top)

        below = [0] * points
        parts.append('<g class="chart__areas">')
        for s in series:
            above = [b + v for b, v in zip(below, s.values, strict=True)]
            if any(s.values):
                edge = " ".join(f"{_n(x(i))},{_n(y(above[i]))}" for i in range(points))
                back = " ".join(f"{_n(x(i))},{_n(y(below[i]))}" for i in reversed(range(points)))
                parts.append(f'<polygon class="chart__area chart__area--{s.key}" points="{edge} {back}" '
                             f'fill="url(#{chart_id}-{s.key})" stroke="{LOOKS[s.key].colour}" stroke-width="1"/>')
            below = above
        parts.append("</g>")
        parts.append('<g class="chart__axis">')
        shown = sorted({round(i * (points - 1) / (MAX_TIME_LABELS - 1)) for i in range(MAX_TIME_LABELS)}
                       if points > MAX_TIME_LABELS else range(points))
        for i in shown:
            anchor = "start" if i == 0 else "end" if i == points - 1 else "middle"
            parts.append(f'<text x="{_n(x(i))}" y="{frame.tick_y}" text-anchor="{anchor}" '
                         f'fill="{MUTED}">{escape(moments[i])}</text>')
        parts.append("</g>")
    parts.append(f'<text x="{LEFT + PLOT_WIDTH // 2}" y="{frame.axis_y}" text-anchor="middle" fill="{MUTED}">'
                 f'{escape(axis_label)}</text>')
    parts += legend
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped, the rest is numbers and constants


def _legend(frame: Frame, chart_id: str, series: Sequence[Series]) -> tuple[list[str], int]:
    """Each series' box (its pattern) and name with its last total, in rows that fit the width; the rows used."""
    parts, x, row = ['<g class="chart__legend">'], LEFT, 0
    for s in series:
        words = f"{s.label} {s.values[-1] if s.values else 0:,}"
        width = 16 + CHAR_WIDTH * len(words)
        if x > LEFT and x + width > WIDTH:
            x, row = LEFT, row + 1
        top = frame.legend_y + row * LEGEND_ROW
        parts.append(f'<rect x="{x}" y="{top}" width="12" height="12" fill="url(#{chart_id}-{s.key})" '
                     f'stroke="{LOOKS[s.key].colour}"/>')
        parts.append(f'<text x="{x + 16}" y="{top + 10}" fill="{TEXT}">{escape(words)}</text>')
        x += width + 16
    parts.append("</g>")
    return parts, row + 1


def daily_bars(chart_id: str, title: str, description: str, days: Sequence[tuple[str, int]], axis_label: str,
               label_every: int = 7, empty: str = "Nothing sent on these days") -> Markup:
    """A bar per day (``days``: the day's label and its number, oldest first); every ``label_every``-th day from
    the last one is labelled under its bar, and each bar carries its day and number as a tooltip. Days of nothing
    but zeros say ``empty`` over the axes."""
    top, step = nice_top(max((n for _, n in days), default=0))
    frame = Frame(DAYS_PLOT_HEIGHT)
    parts = _open(chart_id, title, description, "chart--days", frame.axis_y + 8)
    parts += _y_axis(frame, top, step, "Messages")
    if days:
        slot = PLOT_WIDTH / len(days)
        width = max(1.0, slot * 0.7)
        parts.append('<g class="chart__bars">')
        for i, (label, number) in enumerate(days):
            height = number / top * frame.plot_height
            parts.append(f'<rect class="chart__bar" x="{_n(LEFT + i * slot + (slot - width) / 2)}" '
                         f'y="{_n(frame.bottom - height)}" width="{_n(width)}" height="{_n(height)}" '
                         f'fill="{LOOKS["messages"].colour}"><title>{escape(label)}: {number:,}</title></rect>')
        parts.append("</g>")
        parts.append('<g class="chart__axis">')
        for i in range(len(days) - 1, -1, -max(1, label_every)):
            parts.append(f'<text x="{_n(LEFT + i * slot + slot / 2)}" y="{frame.tick_y}" '
                         f'text-anchor="middle" fill="{MUTED}">{escape(days[i][0])}</text>')
        parts.append("</g>")
    if not any(number for _, number in days):
        parts += _nothing(frame, empty)
    parts.append(f'<text x="{LEFT + PLOT_WIDTH // 2}" y="{frame.axis_y}" text-anchor="middle" fill="{MUTED}">'
                 f'{escape(axis_label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped, the rest is numbers and constants


__all__ = ["LOOKS", "Series", "daily_bars", "nice_top", "outcome_chart", "short_count"]
