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
from mailer.recipients import Recipient

EVERYONE = "everyone"
_LINE_BITS = 40
_LINE_MASK = (1 << _LINE_BITS) - 1
PLACEHOLDER_DATE = "{date}"


@dataclass(frozen=True)
class MailingList:
    """`[lists.NAME]`: a CSV file of recipients."""

    name: str
    file: str
    delimiter: str | None = None


@dataclass(frozen=True)
class Segment:
    """`[segments.NAME]`: who, among some lists, gets a send.

    Tags may contain `{date}`, replaced by the session's scheduled date (YYYY-MM-DD), so that one
    segment names the speakers of whichever session is being sent.
    """

    name: str
    lists: tuple[str, ...]
    languages: tuple[str, ...] = ()
    tags_any: tuple[str, ...] = ()
    tags_all: tuple[str, ...] = ()
    exclude_tags: tuple[str, ...] = ()

    @property
    def uses_date(self) -> bool:
        return any(
            PLACEHOLDER_DATE in tag for tag in (*self.tags_any, *self.tags_all, *self.exclude_tags)
        )

    def matcher(self, session: dt.date | None) -> Callable[[Recipient], bool]:
        """A predicate for this segment, with `{date}` filled in for `session`."""

        def fill(tags: tuple[str, ...]) -> frozenset[str]:
            date = session.isoformat() if session is not None else PLACEHOLDER_DATE
            return frozenset(tag.replace(PLACEHOLDER_DATE, date).casefold() for tag in tags)

        languages = frozenset(self.languages)
        any_of, all_of, none_of = fill(self.tags_any), fill(self.tags_all), fill(self.exclude_tags)

        def matches(recipient: Recipient) -> bool:
            tags = recipient.tags
            return (
                (not languages or recipient.language in languages)
                and (not any_of or not tags.isdisjoint(any_of))
                and all_of <= tags
                and tags.isdisjoint(none_of)
            )

        return matches


@dataclass
class Resolution:
    """What resolving found besides the recipients: merges, suppressions, counts."""

    merged: list[Problem] = field(default_factory=list)  # one email for several rows
    suppressed: int = 0
    selected: int = 0
    per_language: dict[str, int] = field(default_factory=dict)


def lists_needed(segments: Iterable[Segment], all_lists: Sequence[str]) -> list[str]:
    """The lists the segments draw from, in the order config.toml declares them."""
    wanted = {name for segment in segments for name in segment.lists}
    return [name for name in all_lists if name in wanted]


def resolve(
    segments: Sequence[Segment],
    all_lists: Sequence[str],
    read_list: Callable[[str], Iterator[Recipient]],
    suppressed: Container[str],
    resolution: Resolution,
    *,
    session: dt.date | None = None,
) -> Iterator[Recipient]:
    """Each person in any of `segments` once, in list order, with their first row's data."""
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
                first_file, first_line = files[earlier >> _LINE_BITS], earlier & _LINE_MASK
                resolution.merged.append(
                    Problem(
                        source,
                        f"{recipient.email} is also at {first_file}:{first_line}: one email, "
                        "with the data of that first row",
                        line=int(line),
                        severity="warning",
                    )
                )
                continue
            first_rows[recipient.key] = position << _LINE_BITS | int(line)
            selected = any(list_name in lists and matches(recipient) for lists, matches in matchers)
            if not selected:
                continue
            if recipient.key in suppressed:
                resolution.suppressed += 1
                continue
            resolution.selected += 1
            counts = resolution.per_language
            counts[recipient.language] = counts.get(recipient.language, 0) + 1
            yield recipient
