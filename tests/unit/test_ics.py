"""Calendar files: reference output, wire format, UIDs, SEQUENCE, and independent parsers."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import icalendar
import pytest

from mailer.calendar.ics import series_calendar, session_calendar, session_uid
from mailer.calendar.revisions import SERIES_KEY, Revision
from mailer.model import Occurrence
from mailer.project.load import Project, load_project
from mailer.recurrence import find_occurrence, occurrences
from tests.support.project import REPO, edit, write

UTC = dt.UTC
FIXED = Revision(0, dt.datetime(2021, 4, 1, 8, tzinfo=UTC), "", "")
REFERENCE = REPO / "tests" / "reference"


def session(project: Project, day: dt.date) -> Occurrence:
    return find_occurrence(project.config.series, project.sessions, day)


def unfolded(data: bytes) -> list[str]:
    return data.decode("utf-8").replace("\r\n ", "").split("\r\n")


def prop(data: bytes, name: str) -> list[str]:
    return [line for line in unfolded(data) if re.match(rf"{name}[;:]", line)]


@pytest.mark.parametrize("language", ["fr", "en", "es"])
def test_session_six_matches_the_reviewed_reference_file(language: str) -> None:
    """Like khal's reference tests: any change to the output must be reviewed here."""
    project = load_project(REPO / "config.toml")
    data = session_calendar(project.config, session(project, dt.date(2021, 4, 20)), language, FIXED)
    reference = REFERENCE / f"2021-04-20.{language}.ics"
    if os.environ.get("MAILER_UPDATE_REFERENCE"):
        reference.parent.mkdir(exist_ok=True)
        reference.write_bytes(data)
    assert data == reference.read_bytes()


def test_calendar_files_are_crlf_folded_at_75_octets_and_utf8() -> None:
    project = load_project(REPO / "config.toml")
    for language in ("fr", "en", "es"):
        data = session_calendar(
            project.config, session(project, dt.date(2021, 4, 20)), language, FIXED
        )
        assert data.endswith(b"\r\n") and b"\n" not in data.replace(b"\r\n", b"")
        lines = data.split(b"\r\n")[:-1]
        assert max(len(line) for line in lines) <= 75
        assert all(line.decode("utf-8") for line in lines)  # no character cut in two
        text = "\n".join(unfolded(data))
        assert "Froso Nomikou" in text and "662299" in text and "857 2055 9693" in text


def test_every_event_carries_what_calendars_need() -> None:
    project = load_project(REPO / "config.toml")
    data = session_calendar(project.config, session(project, dt.date(2021, 4, 20)), "en", FIXED)
    (event,) = icalendar.Calendar.from_ical(data).events
    assert event["UID"] == "icom-france-solidarites-musees-20210420"
    assert event.DTSTAMP == FIXED.stamp and event.sequence == 0
    assert event["DTSTART"].params["TZID"] == "Europe/Paris"
    assert event["LOCATION"] == event["URL"] == project.config.zoom.url
    assert str(event["ORGANIZER"]) == "mailto:rencontres@icom-france.example.org"
    assert event["ORGANIZER"].params["CN"] == "ICOM France"
    assert event["STATUS"] == "CONFIRMED"
    description = str(event["DESCRIPTION"])
    for expected in (
        "What networks have museums designed",
        "Bruno Maquart, Vice-president",
        "A representative of NEMO - Network of European Museum Organisations (to be confirmed)",
        "Moderator: Froso Nomikou, General Secretary of ICOM Greece",
        "Tuesday 20 April 2021, 13:00 – 14:30 (Paris time)",
        "Meeting ID: 857 2055 9693",
        "Passcode: 662299",
        "Languages: French, English and Spanish",
    ):
        assert expected in description
    (alarm,) = [c for c in event.subcomponents if isinstance(c, icalendar.Alarm)]
    assert alarm.TRIGGER == -dt.timedelta(minutes=15)
    assert [c.name for c in icalendar.Calendar.from_ical(data).subcomponents] == [
        "VTIMEZONE",
        "VEVENT",
    ]


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


def test_sessions_layout_uses_the_uids_of_the_emailed_invitations(project_dir: Path) -> None:
    project = _moved_skipped_cancelled(project_dir)
    series = project.config.series
    window = occurrences(series, project.sessions, start=series.first, end=dt.date(2021, 6, 30))
    data = series_calendar(
        project.config, window, "fr", _revisions(project, window), layout="sessions"
    )
    uids = [str(e["UID"]) for e in icalendar.Calendar.from_ical(data).events]
    assert uids == [session_uid(series, o.scheduled) for o in window if o.status != "skipped"]
    assert prop(data, "REFRESH-INTERVAL") == ["REFRESH-INTERVAL;VALUE=DURATION:PT12H"]
    assert not prop(data, "ATTENDEE")


def test_a_cancelled_session_is_status_cancelled_without_alarm(project_dir: Path) -> None:
    project = _moved_skipped_cancelled(project_dir)
    occurrence = session(project, dt.date(2021, 2, 16))
    for method in ("PUBLISH", "CANCEL"):
        data = session_calendar(project.config, occurrence, "fr", FIXED, method=method)
        assert prop(data, "STATUS") == ["STATUS:CANCELLED"]
        assert prop(data, "METHOD") == [f"METHOD:{method}"]
        assert not prop(data, "BEGIN:VALARM") and b"VALARM" not in data
    scheduled = session(project, dt.date(2021, 4, 20))
    data = session_calendar(project.config, scheduled, "fr", FIXED, method="CANCEL")
    assert prop(data, "STATUS") == ["STATUS:CANCELLED"] and b"VALARM" not in data


def test_the_uid_is_the_same_in_every_language_and_revision() -> None:
    project = load_project(REPO / "config.toml")
    occurrence = session(project, dt.date(2021, 4, 20))
    later = Revision(4, dt.datetime(2021, 4, 10, tzinfo=UTC), "", "")
    uids = {
        str(
            icalendar.Calendar.from_ical(
                session_calendar(project.config, occurrence, lang, rev)
            ).events[0]["UID"]
        )
        for lang in ("fr", "en", "es")
        for rev in (FIXED, later)
    }
    assert uids == {"icom-france-solidarites-musees-20210420"}


def test_a_new_passcode_is_a_new_sequence_a_new_title_only_a_new_stamp(project_dir: Path) -> None:
    """The revision rules, with revisions kept before the join details counted: such a one
    is taken as it is (no update for everyone on upgrading), and a passcode changed since is
    a change (its text, which holds the passcode, tells)."""
    from mailer.calendar.revisions import next_revision, session_fingerprint

    project = load_project(project_dir / "config.toml")
    config, day = project.config, dt.date(2021, 4, 20)
    kept_at, now = dt.datetime(2021, 4, 1, 8, tzinfo=UTC), dt.datetime(2021, 4, 2, 8, tzinfo=UTC)
    fingerprint = session_fingerprint(config, session(project, day))
    assert fingerprint.legacy is not None
    legacy = Revision(2, kept_at, fingerprint.legacy, fingerprint.content)
    upgraded = next_revision(legacy, now, fingerprint)
    assert (upgraded.sequence, upgraded.stamp) == (2, kept_at)
    assert upgraded.significant == fingerprint.significant != legacy.significant
    assert next_revision(upgraded, now, fingerprint) == upgraded

    sessions = project_dir / "sessions" / "2021-04-20.toml"
    edit(sessions, "[title]", 'zoom = { passcode = "999111" }\n[title]')
    passcode = session_fingerprint(config, session(load_project(project_dir / "config.toml"), day))
    assert next_revision(upgraded, now, passcode).sequence == 3
    assert next_revision(legacy, now, passcode).sequence == 3  # from an old kept one too
    edit(sessions, 'en = "Are', 'en = "Reworded: Are')
    reworded = session_fingerprint(config, session(load_project(project_dir / "config.toml"), day))
    assert reworded.significant == passcode.significant
    changed = next_revision(next_revision(upgraded, now, passcode), now, reworded)
    assert (changed.sequence, changed.stamp) == (3, now)


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ('Jean "JJ" Dupont', "Jean “JJ” Dupont"),
        ('Musée "Les Arts', "Musée ”Les Arts"),
        ("A^B", "AˆB"),
        ("O'Brien, Ann; Dr", "O'Brien, Ann; Dr"),
    ],
)
def test_a_name_with_quotes_reads_as_written_in_every_calendar(name: str, shown: str) -> None:
    """RFC 6868's ^' and ^^ are shown literally by Outlook and Gmail: no name carries them."""
    from mailer.calendar.ics import attendee_line

    line = attendee_line("jean@example.org", name, rsvp=True)
    assert b"^" not in line
    event = icalendar.Event.from_ical(b"BEGIN:VEVENT\r\n" + line + b"END:VEVENT\r\n")
    assert event["ATTENDEE"].params["CN"] == shown
