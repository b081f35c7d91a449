"""Versions of a calendar event: when SEQUENCE rises and DTSTAMP moves.

RFC 5546 section 2.1.4: SEQUENCE rises on a significant change (time, place, status); a change
of wording only gives a newer DTSTAMP with the same SEQUENCE. Clients order updates by SEQUENCE,
then DTSTAMP (Thunderbird; Gmail ignores an update whose SEQUENCE did not rise, humhub#440).

Pure: the state file (`mailer.store.revisions`) keeps the last revision of each event and asks
`next_revision` what the current one is.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from mailer.calendar.describe import description, summary, zoom_of
from mailer.config.settings import Config
from mailer.model import Occurrence, Series

SERIES_KEY = "series"


@dataclass(frozen=True)
class Revision:
    """The version of one event: SEQUENCE, DTSTAMP (UTC), and what it was computed from."""

    sequence: int
    stamp: dt.datetime
    significant: str
    content: str


@dataclass(frozen=True)
class Fingerprint:
    """What an event looks like now: its significant fields and its whole content, hashed."""

    key: str
    significant: str
    content: str
    floor: int = 0  # the lowest SEQUENCE this event can have (a moved session is >= 1)
    # what was significant before the join details counted (no meeting ID, no passcode): a
    # revision kept with it and the same text is not a change, only a digest to write anew
    legacy: str | None = None


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def session_key(occurrence: Occurrence) -> str:
    """The state key of a session's event: its scheduled date."""
    return occurrence.scheduled.isoformat()


def significant_digest(config: Config, occurrence: Occurrence) -> str:
    """What a calendar, and everyone invited, must hear of when it changes: the time, the
    status, and how to join (the link, the meeting ID, the passcode: a new passcode with the
    same link leaves people outside)."""
    zoom = zoom_of(config, occurrence)
    return "v2:" + _digest(
        [
            occurrence.start_utc,
            occurrence.end_utc,
            zoom.url,
            zoom.meeting_id,
            zoom.passcode,
            occurrence.status,
        ]
    )


def _legacy_digest(config: Config, occurrence: Occurrence) -> str:
    zoom = zoom_of(config, occurrence)
    return _digest([occurrence.start_utc, occurrence.end_utc, zoom.url, occurrence.status])


def session_fingerprint(config: Config, occurrence: Occurrence) -> Fingerprint:
    """The fingerprint of a session's event, over every language."""
    significant = significant_digest(config, occurrence)
    content = _digest(
        [
            [summary(config, occurrence, language), description(config, occurrence, language)]
            for language in config.series.languages
        ]
    )
    floor = (occurrence.status == "moved") + (occurrence.status == "cancelled")
    legacy = _legacy_digest(config, occurrence)
    return Fingerprint(session_key(occurrence), significant, content, floor, legacy)


def series_fingerprint(config: Config) -> Fingerprint:
    """The fingerprint of the recurring master event of the whole series."""
    series: Series = config.series
    significant = _digest(
        [
            series.rule,
            series.first,
            series.until,
            series.start,
            series.end,
            series.timezone.key,
            sorted(series.skip),
            config.zoom.url,
        ]
    )
    content = _digest([series.title, series.description, series.partners, config.zoom])
    return Fingerprint(SERIES_KEY, significant, content)


def next_revision(
    previous: Revision | None, now: dt.datetime, fingerprint: Fingerprint
) -> Revision:
    """The revision of an event that looks like `fingerprint` at `now`, given the last one kept.

    Unchanged: the same revision. Reworded: same SEQUENCE, new DTSTAMP. Moved, relocated,
    cancelled or reinstated: SEQUENCE + 1 and a new DTSTAMP. Never below `fingerprint.floor`.
    """
    stamp = now.astimezone(dt.UTC).replace(microsecond=0)
    if previous is None:
        return Revision(fingerprint.floor, stamp, fingerprint.significant, fingerprint.content)
    if (fingerprint.legacy, fingerprint.content) == (previous.significant, previous.content):
        # kept before the join details counted, and nothing changed since (a changed text
        # may hide a new passcode: that is a change, for everyone)
        previous = Revision(
            previous.sequence, previous.stamp, fingerprint.significant, previous.content
        )
    if previous.significant != fingerprint.significant:
        sequence = max(previous.sequence + 1, fingerprint.floor)
        return Revision(sequence, stamp, fingerprint.significant, fingerprint.content)
    if previous.content != fingerprint.content:
        sequence = max(previous.sequence, fingerprint.floor)
        return Revision(sequence, stamp, fingerprint.significant, fingerprint.content)
    return previous
