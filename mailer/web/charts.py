"""Charts drawn by the server: SVG in the page, no script, no outside file. A bar a week, each
with its count in a tooltip (`<title>`); the chart says in words what it shows (its total and
its busiest week) for those who do not see it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from markupsafe import Markup, escape

from mailer.i18n.dates import short_day
from mailer.web.words import Words

WIDTH, HEIGHT = 320, 110
LEFT, BOTTOM, TOP = 30, 18, 8


def bar_chart(
    name: str, title: str, mondays: Sequence[dt.date], values: Sequence[int], _: Words
) -> Markup:
    """A bar chart of `values`, one per week starting on `mondays`, titled `title`."""
    language = _("en")
    top = max(values, default=0)
    scale = (HEIGHT - BOTTOM - TOP) / top if top else 0
    step = (WIDTH - LEFT) / max(len(values), 1)
    busiest = values.index(top) if top else 0
    summary = _("{total} in {weeks} weeks; at most {most}, the week of {day}.").format(
        total=sum(values), weeks=len(values), most=top, day=short_day(mondays[busiest], language)
    )
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{name}-title {name}-desc">',
        f'<title id="{name}-title">{escape(title)}</title>',
        f'<desc id="{name}-desc">{escape(summary)}</desc>',
        f'<text x="{LEFT - 4}" y="{TOP + 4}" text-anchor="end" class="axis">{top}</text>',
        f'<text x="{LEFT - 4}" y="{HEIGHT - BOTTOM}" text-anchor="end" class="axis">0</text>',
        f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH}" y2="{HEIGHT - BOTTOM}" '
        'class="base"/>',
    ]
    for index, (monday, value) in enumerate(zip(mondays, values, strict=True)):
        height = value * scale
        x = LEFT + index * step + step * 0.15
        week = _("week of {day}: {count}").format(day=short_day(monday, language), count=value)
        parts.append(
            f'<rect x="{x:.1f}" y="{HEIGHT - BOTTOM - height:.1f}" width="{step * 0.7:.1f}" '
            f'height="{max(height, 0.5):.1f}"><title>{escape(week)}</title></rect>'
        )
    for index in (0, len(mondays) - 1):
        x = LEFT + index * step + step / 2
        anchor = "start" if index == 0 else "end"
        label = escape(short_day(mondays[index], language))
        parts.append(
            f'<text x="{x - step / 2 if index == 0 else x + step / 2:.1f}" y="{HEIGHT - 4}" '
            f'text-anchor="{anchor}" class="axis">{label}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every text in it is escaped above)
