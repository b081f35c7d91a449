"""Validating `[[cadence]]`, `[answers]`, `[daemon]` and `[http]`: what the daemon sends,
when, to whom, and serves."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from mailer.config.durations import format_duration
from mailer.config.settings import (
    DEFAULT_CADENCE,
    AnswersSettings,
    CadenceEntry,
    DaemonSettings,
    HttpSettings,
    valid_listen,
)
from mailer.config.tables import TableReader, did_you_mean
from mailer.config.values import address_problem


def read_cadence(root: TableReader, segment_names: Sequence[str]) -> tuple[CadenceEntry, ...]:
    """`[[cadence]]` entries; without any, the default (14 days, 1 day and 1 hour before)."""
    tables = root.tables("cadence")
    if not tables and "cadence" not in root.data:
        return DEFAULT_CADENCE
    entries: list[CadenceEntry] = []
    invitations = sum(1 for t in tables if t.data.get("kind") == "invitation")
    for table in tables:
        kind = table.choice("kind", ("invitation", "reminder", "followup"), default="reminder")
        if kind == "followup":
            entry = _read_followup(table, segment_names)
            if entry is not None and any(e.message == entry.message for e in entries):
                table.error(None, f"two follow-ups go {entry.message[9:]} after", "Remove one.")
            elif entry is not None:
                entries.append(entry)
            continue
        before = table.duration("before", required=True)
        segments = _segments(table, segment_names)
        send_by = table.duration("send_by")
        table.finish()
        if before is None or before <= dt.timedelta(0):
            if before is not None:
                table.error("before", "must be a positive duration, like P14D or PT1H")
            continue
        if send_by is None:
            send_by = before / 2  # late is still useful for half the lead time
        message = (
            "invitation"
            if kind == "invitation" and invitations == 1
            else f"{kind}:{format_duration(before)}"
        )
        if any(entry.message == message for entry in entries):
            table.error(
                None,
                f"two cadence entries send the {kind} {format_duration(before)} before",
                "Remove one of them.",
            )
            continue
        entries.append(
            CadenceEntry(
                "invitation" if kind == "invitation" else "reminder",
                before,
                segments,
                send_by,
                message,
            )
        )
    return tuple(entries)


def _segments(table: TableReader, segment_names: Sequence[str]) -> tuple[str, ...]:
    segments = tuple(table.string_list("segments") or ["everyone"])
    for index, name in enumerate(segments):
        if name not in segment_names:
            table.log.error(
                (*table.path, "segments", index),
                f"there is no segment '{name}'",
                did_you_mean(name, segment_names),
            )
    return segments


def _read_followup(table: TableReader, segment_names: Sequence[str]) -> CadenceEntry | None:
    """A `kind = "followup"` entry: `after` the session ends; `send_by` defaults to P7D (it
    waits that long for the links its template prints: the recording, the slides)."""
    if "before" in table.data:
        table.error("before", "a follow-up goes after the session", 'Write after = "PT3H".')
    table.ignore("before")
    after = table.duration("after", required=True)
    segments = _segments(table, segment_names)
    send_by = table.duration("send_by") or dt.timedelta(days=7)
    table.finish()
    if after is None or after < dt.timedelta(0):
        if after is not None:
            table.error("after", "must be a duration, like PT3H or P1D")
        return None
    message = f"followup:{format_duration(after)}"
    return CadenceEntry("followup", dt.timedelta(0), segments, send_by, message, after)


def read_answers(root: TableReader) -> AnswersSettings:
    """`[answers]`: the one-click answer links, and leaving out those who said no."""
    table = root.table("answers")
    if table is None:
        return AnswersSettings()
    links = table.boolean("links", default=True)
    skip_declined = table.boolean("skip_declined", default=True)
    table.finish()
    return AnswersSettings(links, skip_declined)


def read_daemon(root: TableReader) -> DaemonSettings:
    table = root.table("daemon")
    if table is None:
        return DaemonSettings()
    warn_missing: dt.timedelta | None = DaemonSettings.warn_missing
    table.ignore("warn_missing")
    if table.data.get("warn_missing") is False:
        warn_missing = None
    elif "warn_missing" in table.data:
        warn_missing = table.duration("warn_missing")
    warn_to = table.string("warn_to")
    if warn_to is not None and (problem := address_problem(warn_to)):
        table.error("warn_to", problem)
        warn_to = None
    updates = table.boolean("updates", default=True)
    check_every = table.duration("check_every")
    if check_every is None or check_every < dt.timedelta(seconds=1):
        if check_every is not None:
            table.error("check_every", "must be at least a second, like PT5M")
        check_every = DaemonSettings.check_every
    lookback = table.duration("missed_lookback")
    if lookback is None:
        lookback = DaemonSettings.missed_lookback
    table.finish()
    return DaemonSettings(warn_missing, warn_to, updates, check_every, lookback)


def read_http(root: TableReader) -> HttpSettings:
    table = root.table("http")
    if table is None:
        return HttpSettings()
    listen = table.string("listen", default="127.0.0.1:8025") or "127.0.0.1:8025"
    if not valid_listen(listen):  # port 0: any free port (logged)
        table.error("listen", f"'{listen}' is not host:port", 'Write it like "127.0.0.1:8025".')
        listen = "127.0.0.1:8025"
    base_url = table.string("base_url")
    if base_url is not None:
        if not base_url.startswith(("https://", "http://")):
            table.error("base_url", f"'{base_url}' is not an http(s):// address")
            base_url = None
        else:
            base_url = base_url.rstrip("/")
    table.finish()
    return HttpSettings(listen, base_url)
