"""Validating a session file, `sessions/YYYY-MM-DD.toml`, named by the session's scheduled date."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

from mailer.config.series import read_https, read_languages, read_zoom
from mailer.config.tables import ProblemLog, TableReader
from mailer.config.toml_source import parse_toml
from mailer.errors import Problem
from mailer.model import AFTERWARDS, Move, Person, Series, SessionContent, Zoom
from mailer.recurrence import (
    is_rule_date,
    nearest_rule_dates,
    neighbours,
    rule_dates,
    wall_time_problem,
)

SESSION_FILE_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})\.toml$")


def scheduled_date_of(file_name: str) -> dt.date | None:
    """The scheduled date a session file is named after, or None if its name is not a date."""
    match = SESSION_FILE_NAME.match(file_name)
    if not match:
        return None
    try:
        return dt.date.fromisoformat(match.group(1))
    except ValueError:
        return None


def read_session(
    text: str, source: str, scheduled: dt.date, series: Series, zoom: Zoom | None
) -> tuple[SessionContent | None, list[Problem]]:
    """The content of one session file, with every problem found in it.

    `zoom` is the series' Zoom details, which the file may override in part.
    """
    log = ProblemLog(source, text)
    table = TableReader(parse_toml(text, source), (), log)
    languages = series.languages
    _check_scheduled_date(log, series, scheduled)
    title = table.per_language("title", languages, required=True)
    questions = table.per_language_lists("questions", languages) or {}
    speakers = tuple(
        person
        for reader in table.tables("speakers")
        if (person := _read_person(reader, languages)) is not None
    )
    moderator_table = table.table("moderator")
    moderator = _read_person(moderator_table, languages) if moderator_table else None
    status = table.choice("status", ("scheduled", "cancelled"), default="scheduled")
    moved_to = _read_move(table, series, scheduled)
    session_zoom = _read_zoom_override(table, zoom)
    held_in = read_languages(table, "held_in", required=False)
    note = table.per_language("note", languages, multiline=True)
    links = {name: read_https(table, name) for name in AFTERWARDS}
    capacity = table.integer("capacity", minimum=1)
    table.finish()
    if log.has_errors or title is None:
        return None, log.problems
    content = SessionContent(
        scheduled=scheduled,
        source=source,
        title=title,
        questions=questions,
        speakers=speakers,
        moderator=moderator,
        cancelled=status == "cancelled",
        moved_to=moved_to,
        zoom=session_zoom,
        held_in=held_in,
        note=note,
        capacity=capacity,
        **links,
    )
    return content, log.problems


def _check_scheduled_date(log: ProblemLog, series: Series, scheduled: dt.date) -> None:
    if scheduled in series.skip:
        log.error(
            (),
            f"{scheduled} is a skipped date of the series ([series] skip)",
            "Remove it from skip, or delete this file.",
        )
    elif not is_rule_date(series, scheduled):
        before, after = nearest_rule_dates(series, scheduled)
        nearby = " or ".join(f"{d}.toml" for d in (before, after) if d)
        log.error(
            (),
            f"{scheduled} is not a date of the series ({series.rule} from {series.first})",
            "Session files are named by the session's scheduled date"
            + (f"; did you mean {nearby}?" if nearby else ".")
            + " A session that moves keeps its file name and says moved_to.",
        )


def _read_person(table: TableReader, languages: tuple[str, ...]) -> Person | None:
    name = table.per_language("name", languages, required=True, allow_plain=True)
    role = table.per_language("role", languages)
    to_be_confirmed = table.boolean("to_be_confirmed", default=False)
    table.finish()
    if name is None:
        return None
    return Person(name=name, role=role, to_be_confirmed=to_be_confirmed)


def _read_move(table: TableReader, series: Series, scheduled: dt.date) -> Move | None:
    move = table.table("moved_to")
    if move is None:
        return None
    new_date = move.date("date")
    start = move.clock_time("start")
    end = move.clock_time("end")
    move.finish()
    if new_date is None and start is None and end is None:
        move.error(
            None,
            "says nothing about where the session moves",
            "Give a new date and/or start and end, e.g. "
            "moved_to = { date = 2021-04-27, start = 14:00:00, end = 15:30:00 }.",
        )
        return None
    line = move.log.line(move.path)
    result = Move(new_date or scheduled, start or series.start, end or series.end, line)
    if result.end <= result.start:
        move.error(
            "end",
            f"the moved session ends ({result.end:%H:%M}) before it starts ({result.start:%H:%M})",
            "Set both start and end in moved_to.",
        )
        return None
    if result == Move(scheduled, series.start, series.end):
        move.warning(
            None,
            "moved_to is the scheduled date and time: the session does not move",
            "Remove moved_to, or correct it.",
        )
        return None
    for time in (result.start, result.end):
        if (problem := wall_time_problem(result.date, time, series.timezone)) is not None:
            move.error(
                None,
                f"the session would move to a local time that is not one instant: {problem}",
                "Move it to a time that exists once that day.",
            )
            return None
    return result


def move_problems(series: Series, sessions: Mapping[dt.date, SessionContent]) -> list[Problem]:
    """What is wrong with the moves across session files: a session moved onto the day of
    another one, or outside the series (before it begins, after it ends): errors; beyond the
    sessions next to it: a warning (a typo in the year or the month, or a real
    postponement)."""
    moves = {day: c.moved_to for day, c in sessions.items() if c.moved_to and not c.cancelled}
    if not moves:
        return []
    last = max([*sessions, *(move.date for move in moves.values())])
    taken: dict[dt.date, dt.date] = {}  # the day a session takes place -> its scheduled date
    for day in rule_dates(series):
        if day > last:
            break
        content = sessions.get(day)
        if day not in series.skip and day not in moves and not (content and content.cancelled):
            taken[day] = day
    problems = []
    for scheduled, move in sorted(moves.items()):
        source = sessions[scheduled].source
        outside = None
        if move.date < series.first:
            outside = f"before the series begins ({series.first})"
        elif series.until is not None and move.date > series.until:
            outside = f"after the series ends ({series.until})"
        if outside is not None:
            problems.append(
                Problem(
                    source,
                    f"the session of {scheduled} moves to {move.date}, {outside}",
                    key="moved_to",
                    line=move.line,
                    hint="Surely a typo in the year or the month: check the date.",
                )
            )
            continue
        other = taken.setdefault(move.date, scheduled)
        if other != scheduled:
            problems.append(
                Problem(
                    source,
                    f"the session moves to {move.date}, the day of the session of {other}",
                    key="moved_to",
                    line=move.line,
                    hint="Two sessions of the series on one day is surely a typo: check the date.",
                )
            )
        before, after = neighbours(series, scheduled)
        if (before is not None and move.date <= before) or (
            after is not None and move.date >= after
        ):
            problems.append(
                Problem(
                    source,
                    f"the session of {scheduled} moves to {move.date}, beyond the sessions next "
                    f"to it ({before or 'none'} and {after or 'none'})",
                    key="moved_to",
                    line=move.line,
                    severity="warning",
                    hint="If it is meant, leave it; if not, check the year and the month.",
                )
            )
    return problems


def moves_into_the_past(
    sessions: Mapping[dt.date, SessionContent], today: dt.date
) -> list[Problem]:
    """Sessions still to come that a move would put in the past (a typo in the year?)."""
    return [
        Problem(
            content.source,
            f"the session of {scheduled}, still to come, moves to {move.date}, in the past",
            key="moved_to",
            line=move.line,
            hint="Check the year and the month of moved_to.",
        )
        for scheduled, content in sorted(sessions.items())
        if (move := content.moved_to) is not None
        and not content.cancelled
        and scheduled >= today > move.date
    ]


def _read_zoom_override(table: TableReader, zoom: Zoom | None) -> Zoom | None:
    override = table.table("zoom")
    if override is None:
        return None
    if zoom is None:
        return read_zoom(override, required=True)
    merged = {**override.data}
    base = {"url": zoom.url, "meeting_id": zoom.meeting_id, "passcode": zoom.passcode}
    reader = TableReader({**base, **merged}, override.path, override.log)
    return read_zoom(reader, required=True)
