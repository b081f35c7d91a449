"""The records that cross layers: a series and its sessions, the people on the mailing lists and
the segments over them, the kinds of email, and an outgoing message.

All frozen; all datetimes time-zone aware. Per-language texts are mappings from a language code of
the series (its first language is the default) to the text. Every package may import this module;
it imports nothing of mailer's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, NamedTuple
from zoneinfo import ZoneInfo

PerLanguage = Mapping[str, str]

OccurrenceStatus = Literal["scheduled", "skipped", "moved", "cancelled"]

MessageKind = Literal[
    "invitation", "reminder", "update", "cancellation", "followup", "waitlist", "place"
]
MESSAGE_KINDS: tuple[MessageKind, ...] = (
    "invitation",
    "reminder",
    "update",
    "cancellation",
    "followup",
    "waitlist",  # a session with `capacity`: you are on its waiting list
    "place",  # ... a place freed up, and it is yours
)
# the kinds the daemon sends by itself to whoever a session's answers say, not to segments
WAITING_LIST_KINDS: tuple[MessageKind, ...] = ("waitlist", "place")

# A person's answer about a session, as stored (iCalendar's PARTSTAT words), and as people and
# segments say it; "waiting": said yes to a full session (on its waiting list); "none": no answer
Answer = Literal["accepted", "tentative", "declined"]
ANSWER_WORDS: Mapping[str, Answer] = MappingProxyType(
    {"yes": "accepted", "maybe": "tentative", "no": "declined"}
)
SAID: Mapping[str, str] = MappingProxyType({v: k for k, v in ANSWER_WORDS.items()})
SEGMENT_ANSWERS = ("yes", "maybe", "no", "waiting", "none")
# what a session file gains once it took place (a follow-up that prints one waits for it)
AFTERWARDS = ("recording", "slides", "survey")

SuppressionKind = Literal["unsubscribed", "bounced", "manual", "erased"]
SuppressionScope = Literal["all", "reminders"]  # every email, or the reminders only

EVERYONE = "everyone"  # the segment of every list, unless config.toml defines its own
PLACEHOLDER_DATE = "{date}"


@dataclass(frozen=True)
class Logo:
    """The organiser's logo, carried inside each email (no image is fetched from a server:
    nothing to track an opening with). `path` as config.toml says it; `data` read from it."""

    path: str
    alt: str
    width: int  # in CSS pixels, as the email shows it
    data: bytes = b""
    subtype: str = "png"  # image/png or image/jpeg


@dataclass(frozen=True)
class Organiser:
    name: str
    email: str
    reply_to: str | None = None
    logo: Logo | None = None


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
    """Where a moved session now takes place (local date and times in the series' zone), and
    the line of its session file that says so."""

    date: dt.date
    start: dt.time
    end: dt.time
    line: int | None = field(default=None, compare=False)


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
    recording: str | None = None  # links that exist once the session took place
    slides: str | None = None
    survey: str | None = None
    capacity: int | None = None  # how many may say yes; then a waiting list

    def afterwards(self, name: str) -> str | None:
        """The link `name` (one of AFTERWARDS), or None while it is not known."""
        value: str | None = getattr(self, name)
        return value


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


# -- the people ------------------------------------------------------------------------------


class Recipient(NamedTuple):
    """One person to mail, in one language. `key` identifies the person across lists.

    A named tuple, not a dataclass: lists have 100,000 of them, and a tuple is built several
    times faster and is smaller.
    """

    email: str
    key: str
    language: str
    name: str = ""
    tags: frozenset[str] = frozenset()
    timezone: str | None = None
    fields: Mapping[str, str] = MappingProxyType({})
    source: str = ""
    ascii_email: str | None = None


@dataclass(frozen=True)
class MailingList:
    """`[lists.NAME]`: a CSV file of recipients, or (`source = "signups"`) a list kept in the
    state store, filled by the sign-up page and the organisers' pages."""

    name: str
    file: str  # "" for a list kept in the store
    delimiter: str | None = None
    encoding: str | None = None  # None: UTF-8, checked (a legacy file names its own)
    # the file's columns that hold email, name, language...: ("name", ("First", "Last"))
    columns: tuple[tuple[str, tuple[str, ...]], ...] = ()
    kept: bool = False  # source = "signups": its people are rows of the state store
    public: bool = False  # offered on the sign-up page (kept lists only)
    title: Mapping[str, str] | None = None  # its name on the sign-up page, per language

    @property
    def shown(self) -> str:
        """How messages name where the list lives."""
        return f"the list '{self.name}' (kept in the state)" if self.kept else self.file


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
    answers: tuple[str, ...] = ()  # of SEGMENT_ANSWERS: only those who answered so ("none")
    attended: bool | None = None  # only those who came (or did not), by the imported report

    @property
    def uses_facts(self) -> bool:
        """Whether it selects by what the state knows of a session (answers, attendance)."""
        return bool(self.answers) or self.attended is not None

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

    def why_not(self, facts: SessionFacts, key: str) -> str | None:
        """Why this person, who is in the segment by list, language and tags, is left out
        by what is known of the session (None: they are in)."""
        if self.answers:
            said = facts.said(key)
            if said == "place" and "place" not in self.answers:
                said = "yes"  # given a place: a yes like any other
            if said not in self.answers:
                return "no answer" if said == "none" else f"answered {said}"
        if self.attended is not None and facts.attended is not None:
            came = key in facts.attended
            if came != self.attended:
                return "came" if came else "did not come"
        elif self.attended is not None:
            return "no attendance report yet"
        return None


@dataclass(frozen=True)
class SessionFacts:
    """What the state knows of people about one session: their answers (by key, stored
    words), who is on its waiting list, who came (None: no attendance report imported), who
    was given a place from the waiting list."""

    answers: Mapping[str, str] = field(default_factory=dict)
    waiting: frozenset[str] = frozenset()
    attended: frozenset[str] | None = None
    promoted: frozenset[str] = frozenset()  # given a place that freed up (and still yes)

    def said(self, key: str) -> str:
        """yes, maybe, no, waiting or none; "place" for a yes given a freed place."""
        if key in self.waiting:
            return "waiting"
        if key in self.promoted:
            return "place"
        answer = self.answers.get(key)
        return "none" if answer is None else SAID[answer]


# -- what leaves -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    """One composed email, ready for a transport. `data` has CRLF line endings only, as on
    the wire (transports write it as it is, dot-stuffed). `dot_free`: its composer knows that
    no line starts with a dot, so SMTP need not look for one."""

    message_id: str
    sender: str
    recipient: str
    data: bytes
    smtputf8: bool
    dot_free: bool = False
