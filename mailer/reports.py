"""What the CLI shows, as data (for --json) and as text tables. Pure: no printing here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mailer.model import Occurrence


def occurrence_record(occurrence: Occurrence, has_file: bool) -> dict[str, Any]:
    """One session as JSON-ready data (`mailer dates --json`)."""
    content = occurrence.content
    moved_to = content.moved_to if content is not None else None
    return {
        "number": occurrence.number,
        "date": occurrence.scheduled.isoformat(),
        "status": occurrence.status,
        "start": occurrence.start.isoformat(),
        "end": occurrence.end.isoformat(),
        "start_utc": occurrence.start_utc.isoformat().replace("+00:00", "Z"),
        "end_utc": occurrence.end_utc.isoformat().replace("+00:00", "Z"),
        "moved_to": moved_to.date.isoformat() if moved_to is not None else None,
        "session_file": has_file,
    }


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A plain text table with left-aligned columns separated by two spaces."""
    cells = [[str(h) for h in headers], *([str(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in cells
    ]
    return "\n".join(lines)


def dates_table(occurrences: Iterable[Occurrence], files: Mapping[dt.date, object]) -> str:
    """`mailer dates` as a table."""
    rows = []
    for occurrence in occurrences:
        local = (
            f"{occurrence.start:%a %Y-%m-%d %H:%M}-{occurrence.end:%H:%M} "
            f"{occurrence.start.tzname()}"
        )
        rows.append(
            [
                occurrence.number if occurrence.number is not None else "-",
                occurrence.scheduled.isoformat(),
                occurrence.status,
                local if occurrence.status != "skipped" else "",
                f"{occurrence.start_utc:%Y-%m-%d %H:%M}Z" if occurrence.status != "skipped" else "",
                "yes" if occurrence.scheduled in files else "no",
            ]
        )
    return table(["#", "date", "status", "local time", "UTC start", "session file"], rows)
