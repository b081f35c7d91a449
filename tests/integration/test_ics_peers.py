"""Calendar files read by independent engines (ical.js, recurring-ical-events), and SEQUENCE
kept in the state file."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import icalendar
import pytest
import recurring_ical_events

from mailer.calendar.ics import series_calendar, session_calendar
from mailer.calendar.revisions import SERIES_KEY, Revision
from mailer.model import Occurrence
from mailer.project.load import Project, load_project
from mailer.recurrence import find_occurrence, occurrences
from tests.support.peers import icaljs, libical_many
from tests.support.project import edit, write

UTC = dt.UTC

FIXED = Revision(0, dt.datetime(2021, 4, 1, 8, tzinfo=UTC), "", "")


Cli = Callable[..., tuple[int, str, str]]


def session(project: Project, day: dt.date) -> Occurrence:
    return find_occurrence(project.config.series, project.sessions, day)


def utc_text(moment: dt.date) -> str:
    assert isinstance(moment, dt.datetime), "sessions have times, not whole days"
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _moved_skipped_cancelled(project_dir: Path) -> Project:
    config = project_dir / "config.toml"
    edit(config, "skip = []", "skip = [2021-01-19]")
    write(
        project_dir / "sessions" / "2021-02-16.toml",
        """
        status = "cancelled"
        [title]
        fr = "Annulée"
        en = "Cancelled"
        es = "Cancelada"
    """,
    )
    write(
        project_dir / "sessions" / "2021-03-16.toml",
        """
        moved_to = { date = 2021-03-30, start = 10:00:00, end = 11:30:00 }
        [title]
        fr = "Déplacée"
        en = "Moved"
        es = "Movida"
    """,
    )
    return load_project(config)


def _revisions(project: Project, window: list[Occurrence]) -> dict[str, Revision]:
    revisions = {o.scheduled.isoformat(): FIXED for o in window}
    revisions[SERIES_KEY] = FIXED
    return revisions


def _ics_at(run_cli: Cli, config: Path, now: str, out: Path) -> icalendar.Event:
    code, _, err = run_cli(
        "--config", str(config), "--now", now, "ics", "2021-04-20", "-o", str(out)
    )
    assert code == 0, err
    (event,) = icalendar.Calendar.from_ical(out.read_bytes()).events
    return event


@pytest.mark.node
@pytest.mark.parametrize("zone", ["Europe/Paris", "America/New_York", "Australia/Sydney"])
@pytest.mark.parametrize("day", [dt.date(2021, 1, 19), dt.date(2021, 4, 20)])
def test_winter_and_summer_sessions_are_placed_alike_by_us_icalendar_and_icaljs(
    config_path: Path, tmp_path: Path, zone: str, day: dt.date
) -> None:
    edit(config_path, 'timezone = "Europe/Paris"', f'timezone = "{zone}"')
    project = load_project(config_path)
    occurrence = session(project, day)
    data = session_calendar(project.config, occurrence, "fr", FIXED)
    path = tmp_path / "session.ics"
    path.write_bytes(data)
    ours = (utc_text(occurrence.start_utc), utc_text(occurrence.end_utc))
    (event,) = icalendar.Calendar.from_ical(data).events
    assert (utc_text(event.start), utc_text(event.end)) == ours
    (seen,) = icaljs(path)["events"]
    assert (seen["start"], seen["end"], seen["tzid"]) == (*ours, zone)
    # and with a TZID no parser knows, so that only our VTIMEZONE can place the event
    renamed = data.replace(f"TZID={zone}".encode(), b"TZID=X-Custom").replace(
        f"TZID:{zone}".encode(), b"TZID:X-Custom"
    )
    path.write_bytes(renamed)
    (seen,) = icaljs(path)["events"]
    assert (seen["start"], seen["end"]) == ours
    tz = icalendar.Calendar.from_ical(renamed).timezones[0].to_tz(lookup_tzid=False)
    local = dt.datetime.combine(occurrence.date, occurrence.start.time(), tz)
    assert utc_text(local) == ours[0]


@pytest.mark.node
def test_series_calendar_expands_alike_in_recurring_ical_events_and_icaljs(
    project_dir: Path, tmp_path: Path
) -> None:
    project = _moved_skipped_cancelled(project_dir)
    series = project.config.series
    window = occurrences(series, project.sessions, start=series.first, end=dt.date(2021, 6, 30))
    data = series_calendar(project.config, window, "en", _revisions(project, window))
    expected = [
        (
            utc_text(o.start_utc),
            utc_text(o.end_utc),
            "cancelled" if o.status == "cancelled" else "confirmed",
        )
        for o in window
        if o.status != "skipped"
    ]
    expanded = recurring_ical_events.of(icalendar.Calendar.from_ical(data)).between(
        dt.datetime(2020, 11, 1, tzinfo=UTC), dt.datetime(2021, 6, 30, tzinfo=UTC)
    )
    theirs = sorted(
        (utc_text(e.start), utc_text(e.end), str(e.get("STATUS")).lower()) for e in expanded
    )
    assert theirs == expected
    path = tmp_path / "series.ics"
    path.write_bytes(data)
    seen = icaljs(path, expand_until="2021-06-30T00:00:00Z")["occurrences"]
    assert [(o["start"], o["end"], o["status"].lower()) for o in seen] == expected
    assert "2021-01-19" not in " ".join(o["start"] for o in seen)
    moved = next(o for o in seen if o["start"].startswith("2021-03-30"))
    assert moved["summary"].startswith("Moved") and moved["start"] == "2021-03-30T08:00:00.000Z"


@pytest.mark.node
@pytest.mark.parametrize(
    ("zone", "first"),
    [
        ("Europe/Paris", "2021-01-03"),  # the last Sundays of March and October straddle
        ("Australia/Sydney", "2021-01-03"),  # the first Sundays of April and October
        ("Europe/Paris", "2021-03-28"),  # the first session itself straddles
    ],
)
def test_sessions_across_a_clock_change_last_their_real_time_in_every_engine(
    project_dir: Path, tmp_path: Path, zone: str, first: str
) -> None:
    """Sunday 01:00-04:00 lasts 2 hours the night clocks go forward and 4 when they go back.
    ical.js repeats the first session's wall-clock length, libical (Evolution) its real
    one: such sessions are overrides with their own DTEND, which both read as written."""
    config = project_dir / "config.toml"
    edit(config, 'rule = "FREQ=MONTHLY;BYDAY=+3TU"', 'rule = "FREQ=WEEKLY;BYDAY=SU"')
    edit(config, "first = 2020-11-17", f"first = {first}")
    edit(config, "start = 13:00:00", "start = 01:00:00")
    edit(config, "end = 14:30:00", "end = 04:00:00")
    edit(config, 'timezone = "Europe/Paris"', f'timezone = "{zone}"')
    for path in (project_dir / "sessions").glob("*.toml"):
        path.unlink()
    project = load_project(config)
    series = project.config.series
    window = occurrences(series, project.sessions, start=series.first, end=dt.date(2021, 12, 31))
    lengths = {o.end_utc - o.start_utc for o in window}
    assert len(lengths) == 3  # 3 hours, and the two nights of a change
    data = series_calendar(project.config, window, "en", _revisions(project, window))
    path = tmp_path / "series.ics"
    path.write_bytes(data)
    expected = [(utc_text(o.start_utc), utc_text(o.end_utc)) for o in window]
    seen = icaljs(path, expand_until="2021-12-31T00:00:00Z")["occurrences"]
    assert [(o["start"], o["end"]) for o in seen] == expected
    (libical,) = libical_many([path], expand_until="20211231T000000Z")
    assert [(o["start"][:19], o["end"][:19]) for o in libical["occurrences"]] == [
        (start[:19], end[:19]) for start, end in expected
    ]
    expanded = recurring_ical_events.of(icalendar.Calendar.from_ical(data)).between(
        dt.datetime(2021, 1, 1, tzinfo=UTC), dt.datetime(2021, 12, 31, tzinfo=UTC)
    )
    theirs = sorted((utc_text(e.start), utc_text(e.end)) for e in expanded)
    assert theirs == expected


def test_sequence_rises_exactly_when_time_place_or_status_changes(
    project_dir: Path, run_cli: Cli, tmp_path: Path
) -> None:
    config, file = project_dir / "config.toml", project_dir / "sessions" / "2021-04-20.toml"
    out = tmp_path / "s.ics"
    first = _ics_at(run_cli, config, "2021-04-01T10:00:00+02:00", out)
    again = _ics_at(run_cli, config, "2021-04-02T10:00:00+02:00", out)
    assert (first.sequence, again.sequence) == (0, 0)
    assert first.DTSTAMP == again.DTSTAMP == dt.datetime(2021, 4, 1, 8, tzinfo=UTC)
    edit(file, "Are professional networks", "Are networks")  # wording only
    reworded = _ics_at(run_cli, config, "2021-04-03T10:00:00+02:00", out)
    assert reworded.sequence == 0
    assert reworded.DTSTAMP == dt.datetime(2021, 4, 3, 8, tzinfo=UTC)
    edit(file, "[title]", "moved_to = { start = 14:00:00, end = 15:30:00 }\n[title]")
    moved = _ics_at(run_cli, config, "2021-04-04T10:00:00+02:00", out)
    assert moved.sequence == 1 and utc_text(moved.start) == "2021-04-20T12:00:00.000Z"
    edit(config, "pwd=WFA1bUEwNFdNcll0bW5zcWRFS3BWUT09", "pwd=changed")  # the place
    relocated = _ics_at(run_cli, config, "2021-04-05T10:00:00+02:00", out)
    assert relocated.sequence == 2
    edit(file, "[title]", 'status = "cancelled"\n[title]')
    cancelled = _ics_at(run_cli, config, "2021-04-06T10:00:00+02:00", out)
    assert cancelled.sequence == 3 and cancelled.status == "CANCELLED"
    assert {first.uid, moved.uid, cancelled.uid} == {"icom-france-solidarites-musees-20210420"}
