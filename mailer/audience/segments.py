"""Segments of the mailing lists, and resolving them into one email per person.

Resolution streams: lists are read in the order config.toml declares them, each person (by
address key) is kept once with the data of the first row that names them, and then matched
against the segments asked for. Suppressed addresses (unsubscribed, bounced) are never returned.
Memory holds one entry per distinct person (their key and first row), not the files.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from mailer.errors import Problem
from mailer.model import Recipient, Segment

_LINE_BITS = 40
_LINE_MASK = (1 << _LINE_BITS) - 1


@dataclass
class Resolution:
    """What resolving found besides the recipients: merges, suppressions, counts."""

    merged: list[Problem] = field(default_factory=list)  # one email for several rows
    suppressed: int = 0
    organizer: int = 0  # the events' ORGANIZER, left out as its own attendee (request mode)
    selected: int = 0
    per_language: dict[str, int] = field(default_factory=dict)


def lists_needed(segments: Iterable[Segment], all_lists: Sequence[str]) -> list[str]:
    """The lists the segments draw from, in the order config.toml declares them."""
    wanted = {name for segment in segments for name in segment.lists}
    return [name for name in all_lists if name in wanted]


def merged_problem(recipient: Recipient, first: str) -> Problem:
    """The warning for a person whose row `first` ("file:line") came before this one."""
    source, line = recipient.source.rsplit(":", 1)
    return Problem(
        source,
        f"{recipient.email} is also at {first}: one email, with the data of that first row",
        line=int(line),
        severity="warning",
    )


def resolve(
    segments: Sequence[Segment],
    all_lists: Sequence[str],
    read_list: Callable[[str], Iterator[Recipient]],
    suppressed: Container[str],
    resolution: Resolution,
    *,
    session: dt.date | None = None,
    organizer: str | None = None,
) -> Iterator[Recipient]:
    """Each person in any of `segments` once, in list order, with their first row's data;
    neither the suppressed nor `organizer` (a key: see `ListReader.organizer`)."""
    # Each person seen, by key: where their first row is, packed as list position and line
    # (an int is a fraction of the memory of a "file:line" string; lists can be 100,000 rows).
    first_rows: dict[str, int] = {}
    files: list[str] = []
    matchers = [(frozenset(segment.lists), segment.matcher(session)) for segment in segments]
    for position, list_name in enumerate(lists_needed(segments, all_lists)):
        for recipient in read_list(list_name):
            source, line = recipient.source.rsplit(":", 1)
            if len(files) == position:
                files.append(source)
            earlier = first_rows.get(recipient.key)
            if earlier is not None:
                first = f"{files[earlier >> _LINE_BITS]}:{earlier & _LINE_MASK}"
                resolution.merged.append(merged_problem(recipient, first))
                continue
            first_rows[recipient.key] = position << _LINE_BITS | int(line)
            selected = any(list_name in lists and matches(recipient) for lists, matches in matchers)
            if not selected:
                continue
            if recipient.key in suppressed:
                resolution.suppressed += 1
                continue
            if recipient.key == organizer:
                resolution.organizer += 1
                continue
            resolution.selected += 1
            counts = resolution.per_language
            counts[recipient.language] = counts.get(recipient.language, 0) + 1
            yield recipient
