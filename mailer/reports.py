"""What the CLI shows, as data (for --json) and as text tables. Pure: no printing here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mailer.audience import SegmentSummary
from mailer.model import Occurrence
from mailer.recipients import Recipient
from mailer.suppression import Suppression


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


def recipient_record(recipient: Recipient) -> dict[str, Any]:
    """One resolved recipient as JSON-ready data (`mailer recipients SEGMENT --json`)."""
    return {
        "email": recipient.email,
        "name": recipient.name,
        "language": recipient.language,
        "tags": sorted(recipient.tags),
        "timezone": recipient.timezone,
        "source": recipient.source,
        "fields": dict(recipient.fields),
    }


def recipients_table(recipients: Iterable[Recipient]) -> str:
    """`mailer recipients SEGMENT` as a table."""
    rows = [[r.email, r.name, r.language, ";".join(sorted(r.tags)), r.source] for r in recipients]
    return table(["email", "name", "language", "tags", "from"], rows)


def summary_table(
    summaries: Iterable[SegmentSummary], languages: Sequence[str], date_given: bool
) -> str:
    """`mailer recipients`: every segment with its counts per language."""
    rows = []
    for summary in summaries:
        note = " (needs --date)" if summary.uses_date and not date_given else ""
        rows.append(
            [
                summary.name + note,
                summary.total,
                *(summary.per_language.get(language, 0) for language in languages),
                summary.suppressed,
            ]
        )
    return table(["segment", "recipients", *languages, "suppressed"], rows)


def summary_record(summary: SegmentSummary) -> dict[str, Any]:
    return {
        "segment": summary.name,
        "recipients": summary.total,
        "languages": summary.per_language,
        "suppressed": summary.suppressed,
        "uses_date": summary.uses_date,
    }


def suppression_record(entry: Suppression) -> dict[str, Any]:
    return {
        "address": entry.address,
        "kind": entry.kind,
        "reason": entry.reason,
        "since": entry.created_at.isoformat(),
    }


def suppressions_table(entries: Iterable[Suppression]) -> str:
    rows = [[e.address, e.kind, f"{e.created_at:%Y-%m-%d %H:%M}Z", e.reason] for e in entries]
    return table(["address", "kind", "since", "reason"], rows)
