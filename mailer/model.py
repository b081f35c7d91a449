"""The records the pure core passes around: a series, its sessions, the people in them.

All frozen; all datetimes time-zone aware. Per-language texts are mappings from a language code of
the series (its first language is the default) to the text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from zoneinfo import ZoneInfo

PerLanguage = Mapping[str, str]

OccurrenceStatus = Literal["scheduled", "skipped", "moved", "cancelled"]


@dataclass(frozen=True)
class Organiser:
    name: str
    email: str
    reply_to: str | None = None


@dataclass(frozen=True)
class Zoom:
    url: str
    meeting_id: str
    passcode: str


@dataclass(frozen=True)
class Series:
    """A recurring meeting series, as configured in `[series]`."""

    id: str
    timezone: ZoneInfo
    rule: str
    first: dt.date
    start: dt.time
    end: dt.time
    languages: tuple[str, ...]
    title: PerLanguage
    description: PerLanguage
    until: dt.date | None = None
    skip: frozenset[dt.date] = frozenset()
    sessions_dir: str = "sessions"
    partners: PerLanguage | None = None
    held_in: tuple[str, ...] = ()
    alarm: dt.timedelta | None = dt.timedelta(minutes=15)

    @property
    def default_language(self) -> str:
        return self.languages[0]

    @property
    def session_languages(self) -> tuple[str, ...]:
        """The languages sessions are held in (default: the languages of the series)."""
        return self.held_in or self.languages


@dataclass(frozen=True)
class Person:
    """A speaker or moderator. `name` is per language because some are ('A representative of')."""

    name: PerLanguage
    role: PerLanguage | None = None
    to_be_confirmed: bool = False


@dataclass(frozen=True)
class Move:
    """Where a moved session now takes place (local date and times in the series' zone)."""

    date: dt.date
    start: dt.time
    end: dt.time


@dataclass(frozen=True)
class SessionContent:
    """What a session file (`sessions/YYYY-MM-DD.toml`) says about one session."""

    scheduled: dt.date
    source: str
    title: PerLanguage
    questions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    speakers: tuple[Person, ...] = ()
    moderator: Person | None = None
    cancelled: bool = False
    moved_to: Move | None = None
    zoom: Zoom | None = None
    held_in: tuple[str, ...] = ()
    note: PerLanguage | None = None


@dataclass(frozen=True)
class Occurrence:
    """One date of the series: its number, what became of it, and when it takes place.

    `scheduled` (the rule's date) identifies the session for ever, even when it moves.
    Skipped dates have no number; moved and cancelled sessions keep theirs.
    """

    scheduled: dt.date
    number: int | None
    status: OccurrenceStatus
    start: dt.datetime
    end: dt.datetime
    content: SessionContent | None = None

    @property
    def date(self) -> dt.date:
        """The local date the session actually takes place on."""
        return self.start.date()

    @property
    def start_utc(self) -> dt.datetime:
        return self.start.astimezone(dt.UTC)

    @property
    def end_utc(self) -> dt.datetime:
        return self.end.astimezone(dt.UTC)

    @property
    def takes_place(self) -> bool:
        return self.status in ("scheduled", "moved")
