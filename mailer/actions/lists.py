"""What the commands about the mailing lists do (recipients, suppress, unsuppress), returning
data. Each function takes what it uses; `mailer.cli` shows the result."""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Callable, Container
from dataclasses import dataclass
from pathlib import Path

from mailer.audience.addresses import Address, excerpt, parse_address
from mailer.audience.imports import read_addresses
from mailer.audience.segments import Resolution
from mailer.audience.unsubscribe import read_token
from mailer.errors import InvalidAddress, InvalidInput, InvalidToken, Problem
from mailer.model import Recipient, SuppressionKind
from mailer.project.lists import ListReader, SegmentSummary, audience, segments_named, summarize
from mailer.project.load import Project
from mailer.store.state import State
from mailer.store.suppression import suppress, suppress_many, unsuppress


def segments_summary(
    project: Project, state: State, suppressed: Container[str], session: dt.date | None
) -> tuple[list[SegmentSummary], list[Problem]]:
    """Every segment's counts by language, and the lists' problems."""
    reader = ListReader(project, state)
    summaries, merged = summarize(reader, suppressed, session)
    return summaries, [*reader.report.all_problems(), *merged]


def segment_members(
    project: Project,
    state: State,
    suppressed: Container[str],
    segment: str,
    session: dt.date | None,
) -> tuple[list[Recipient], Resolution, list[Problem]]:
    """Who one segment reaches, what resolving found, and the lists' problems."""
    reader = ListReader(project, state)
    resolution = Resolution()
    people = list(
        audience(reader, segments_named(project, [segment]), suppressed, resolution, session)
    )
    return people, resolution, [*reader.report.all_problems(), *resolution.merged]


def typed_address(project: Project, text: str) -> Address:
    """An address typed by a person, validated (InvalidInput, exit 2, says why not)."""
    case_sensitive = project.config.mailing.case_sensitive_local
    try:
        return parse_address(text, case_sensitive_local=case_sensitive)
    except InvalidAddress as error:
        raise InvalidInput(f"'{excerpt(text)}' is not a valid email address: {error}") from None


@dataclass(frozen=True)
class Whereabouts:
    """Where an address is on the mailing lists, and, if it is on none, the addresses on them
    that look like it (a typo in an unsubscribe request must not pass unnoticed)."""

    lists: tuple[str, ...]
    look_alike: tuple[str, ...] = ()


def whereabouts(project: Project, state: State, address: Address) -> Whereabouts:
    """The lists `address` is on; if none, the three addresses on them most like it."""
    reader = ListReader(project, state)
    found: list[str] = []
    nearby: dict[str, str] = {}
    for name in project.config.mailing.list_names:
        for recipient in reader.read(name):
            if recipient.key == address.key:
                found.append(name)
                break
            if abs(len(recipient.key) - len(address.key)) <= 3:
                nearby.setdefault(recipient.key, recipient.email)
    if found:
        return Whereabouts(tuple(found))
    close = difflib.get_close_matches(address.key, list(nearby), n=3, cutoff=0.8)
    return Whereabouts((), tuple(nearby[key] for key in close))


def suppress_by_hand(
    project: Project,
    state: State,
    address: str | None,
    token: str | None,
    reason: str,
    *,
    now: dt.datetime,
    signing_key: Callable[[], bytes],
) -> tuple[Address, bool]:
    """Suppress an address (or the one an unsubscribe token names); True if it is new."""
    if (address is None) == (token is None):
        raise InvalidInput("give either an ADDRESS or --token")
    kind: SuppressionKind = "manual"
    if token is not None:
        try:
            address = read_token(signing_key(), project.config.series.id, token)
        except InvalidToken as error:
            raise InvalidInput(str(error)) from None
        kind, reason = "unsubscribed", "unsubscribe token"
    assert address is not None
    parsed = typed_address(project, address)
    return parsed, suppress(state, parsed, kind, reason, now)


def unsuppress_by_hand(project: Project, state: State, address: str) -> tuple[Address, bool]:
    """Mail an address again; True if it was suppressed."""
    parsed = typed_address(project, address)
    return parsed, unsuppress(state, parsed.key)


def suppress_file(
    project: Project,
    state: State,
    path: Path,
    kind: SuppressionKind,
    reason: str,
    *,
    now: dt.datetime,
) -> tuple[int, int]:
    """Suppress every address of a file: (newly suppressed, already were). A file with any
    unreadable line suppresses nobody (InvalidInput lists every line to fix)."""
    source = str(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidInput(
            f"{source} is not UTF-8 (byte {error.start:,}); convert it, e.g. "
            f"iconv -f WINDOWS-1252 -t UTF-8 {path.name} > fixed.csv"
        ) from None
    except OSError as error:
        raise InvalidInput(f"cannot read {source}: {error.strerror}") from None
    imported = read_addresses(
        text, source, case_sensitive_local=project.config.mailing.case_sensitive_local
    )
    if imported.problems:
        raise InvalidInput(f"{source} has lines to fix; nothing was suppressed", imported.problems)
    rows = [
        (row.address, f"{reason} ({row.reason})" if row.reason else reason, row.when or now)
        for row in imported.addresses
    ]
    added = suppress_many(state, rows, kind)
    return added, len(imported.addresses) - added
