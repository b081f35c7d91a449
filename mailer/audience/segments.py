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
from mailer.model import Recipient, Segment, SessionFacts

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
    # left out by what is known of the session, and why ("answered no": 3)
    left_out: dict[str, int] = field(default_factory=dict)

    def leave_out(self, why: str) -> None:
        self.left_out[why] = self.left_out.get(why, 0) + 1


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
    facts: SessionFacts | None = None,
    skip: frozenset[str] = frozenset(),
) -> Iterator[Recipient]:
    """Each person in any of `segments` once, in list order, with their first row's data;
    neither the suppressed nor `organizer` (a key: see `ListReader.organizer`). With `facts`
    (what is known of the session), segments that select by answer or attendance apply, and
    those whose answer is in `skip` (`[answers] skip_declined`: "no") are left out."""
    known = facts or SessionFacts()
    by_facts = any(segment.uses_facts for segment in segments)
    skipping = bool(skip) and bool(known.answers)
    # Each person seen, by key: where their first row is, packed as list position and line
    # (an int is a fraction of the memory of a "file:line" string; lists can be 100,000 rows).
    first_rows: dict[str, int] = {}
    files: list[str] = []
    matchers = [
        (segment, frozenset(segment.lists), segment.matcher(session)) for segment in segments
    ]
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
            if not any(list_name in lists and matches(recipient) for _, lists, matches in matchers):
                continue
            if recipient.key in suppressed:
                resolution.suppressed += 1
                continue
            if recipient.key == organizer:
                resolution.organizer += 1
                continue
            if skipping and (said := known.said(recipient.key)) in skip:
                resolution.leave_out(f"answered {said}")
                continue
            if by_facts and (why := _left_out(matchers, list_name, recipient, known)):
                resolution.leave_out(why)
                continue
            resolution.selected += 1
            counts = resolution.per_language
            counts[recipient.language] = counts.get(recipient.language, 0) + 1
            yield recipient


def _left_out(
    matchers: Sequence[tuple[Segment, frozenset[str], Callable[[Recipient], bool]]],
    list_name: str,
    recipient: Recipient,
    facts: SessionFacts,
) -> str | None:
    """Why a person in some segments by list and tags gets nothing (None: they do): no
    segment takes them by answer and attendance."""
    key = recipient.key
    reasons = [
        segment.why_not(facts, key)
        for segment, lists, matches in matchers
        if list_name in lists and matches(recipient)
    ]
    if any(reason is None for reason in reasons):
        return None
    return reasons[0]
