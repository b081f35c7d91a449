"""Every calendar object the emails carry, in both `[calendar] method`s, for every kind and
language and for the tricky dates (the week clocks change, a move, a cancellation), read by
three independent engines: icalendar (Python), ical.js (JavaScript) and libical (C). They agree
on the UTC instants, the SEQUENCE and the METHOD; a meeting invitation names exactly its
recipient; no single event is named like a calendar; no local time is ambiguous."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.message
import email.policy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import icalendar
import pytest

from mailer.calendar.revisions import Revision
from mailer.config.settings import CalendarMethod, CalendarSettings
from mailer.messages.compose import Composer
from mailer.model import MESSAGE_KINDS, MessageKind, Occurrence, Recipient
from mailer.project.load import Project, load_project, load_templates
from mailer.recurrence import find_occurrence, wall_time_problem
from tests.support.peers import icaljs_many, libical_many
from tests.support.project import copy_project, edit

KEY = b"calendar-everywhere-signing-key-0123"
NOW = dt.datetime(2021, 3, 1, 9, tzinfo=dt.UTC)
SESSIONS = {  # scheduled date -> what becomes of it
    dt.date(2021, 3, 16): "moved to 2021-03-30 14:00, the first Tuesday of summer time",
    dt.date(2021, 4, 20): "as shipped",
    dt.date(2021, 10, 19): "cancelled",
    dt.date(2021, 11, 16): "the first session of winter time",
}
PERSON = Recipient(
    email="chloe.lefevre@example.org",
    key="chloe.lefevre@example.org",
    language="fr",
    name="Chloé « Clo » Lefèvre, Jr",
)


def tricky_project(folder: Path) -> Project:
    shipped = (folder / "sessions" / "2021-04-20.toml").read_text(encoding="utf-8")
    for day, what in SESSIONS.items():
        text = shipped
        if what.startswith("moved"):
            text = 'moved_to = { date = 2021-03-30, start = "14:00", end = "15:30" }\n' + text
        elif what == "cancelled":
            text = 'status = "cancelled"\n' + text
        (folder / "sessions" / f"{day}.toml").write_text(text, encoding="utf-8")
    return load_project(folder / "config.toml")


@dataclasses.dataclass(frozen=True)
class Emitted:
    path: Path
    mode: str
    kind: MessageKind
    language: str
    occurrence: Occurrence
    recipient: str
    method: str  # on the Content-Type
    inline: bytes | None


def emitted(project: Project, folder: Path) -> Iterator[Emitted]:
    templates = load_templates(project)
    modes: tuple[CalendarMethod, ...] = ("publish", "request")
    for mode in modes:
        config = dataclasses.replace(
            project.config,
            calendar=CalendarSettings(mode, "rsvp@icom-france.example.org", True),
        )
        for day, what in SESSIONS.items():
            occurrence = find_occurrence(config.series, project.sessions, day)
            for kind in MESSAGE_KINDS:
                if kind in ("followup", "waitlist", "place"):  # no calendar, or the reminder's
                    continue
                if (kind == "cancellation") != (what == "cancelled"):
                    continue
                sequence = {"invitation": 0, "reminder": 0, "update": 1, "cancellation": 2}[kind]
                composer = Composer(
                    config=config,
                    templates=templates,
                    occurrence=occurrence,
                    kind=kind,
                    message_key=kind,
                    revision=Revision(sequence, NOW, "", ""),
                    now=NOW,
                    signing_key=KEY,
                    field_names=frozenset({"organisation"}),
                )
                for language in config.series.languages:
                    outgoing = composer.compose(PERSON._replace(language=language))
                    message = email.message_from_bytes(outgoing.data, policy=email.policy.strict)
                    parts = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
                    if not parts:
                        assert mode == "request" and kind == "reminder"
                        continue
                    attachment = next(p for p in parts if p.get_filename())
                    inline = next((p for p in parts if not p.get_filename()), None)
                    data = _payload(attachment)
                    path = folder / f"{mode}-{day}-{kind}-{language}.ics"
                    path.write_bytes(data)
                    yield Emitted(
                        path,
                        mode,
                        kind,
                        language,
                        occurrence,
                        outgoing.recipient,
                        str(attachment.get_param("method")),
                        None if inline is None else _payload(inline),
                    )


def _payload(part: email.message.Message) -> bytes:
    data = part.get_payload(decode=True)
    assert isinstance(data, bytes)
    return data


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Emitted]:
    folder = copy_project(tmp_path_factory.mktemp("project"))
    return list(emitted(tricky_project(folder), tmp_path_factory.mktemp("ics")))


@pytest.fixture(scope="module")
def readings(files: list[Emitted]) -> dict[str, list[dict[str, Any]]]:
    paths = [item.path for item in files]
    return {"icaljs": icaljs_many(paths), "libical": libical_many(paths)}


def _utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC)


def test_every_kind_language_date_and_mode_was_emitted(files: list[Emitted]) -> None:
    combinations = {(item.mode, item.kind, item.occurrence.scheduled) for item in files}
    assert len(files) == len(combinations) * 3  # three languages each
    assert ("request", "reminder", dt.date(2021, 4, 20)) not in combinations  # no calendar part
    assert ("publish", "reminder", dt.date(2021, 4, 20)) in combinations
    assert {item.method for item in files} == {"PUBLISH", "REQUEST", "CANCEL"}


def test_three_engines_agree_on_instants_sequence_and_method(
    files: list[Emitted], readings: dict[str, list[dict[str, Any]]]
) -> None:
    for index, item in enumerate(files):
        (event,) = icalendar.Calendar.from_ical(item.path.read_bytes()).events
        ours = icalendar.Calendar.from_ical(item.path.read_bytes())
        start, end = item.occurrence.start_utc, item.occurrence.end_utc
        assert event.DTSTART.astimezone(dt.UTC) == start, item.path.name
        assert event.DTEND.astimezone(dt.UTC) == end, item.path.name
        assert str(ours["METHOD"]) == item.method
        sequence = int(str(event["SEQUENCE"]))
        for engine, parsed in readings.items():
            found = parsed[index]
            (seen,) = found["events"]
            where = f"{engine}: {item.path.name}"
            assert (_utc(seen["start"]), _utc(seen["end"])) == (start, end), where
            assert seen["sequence"] == sequence, where
            assert found["method"] == item.method, where
            assert seen["uid"] == str(event["UID"]), where
            assert found["names"] == {}, where  # no NAME, no X-WR-CALNAME in a single event
        if item.occurrence.status == "cancelled":
            assert str(event["STATUS"]) == "CANCELLED" and not event.walk("VALARM")


def test_a_meeting_invitation_names_exactly_its_recipient(
    files: list[Emitted], readings: dict[str, list[dict[str, Any]]]
) -> None:
    for index, item in enumerate(files):
        for engine in ("icaljs", "libical"):
            (seen,) = readings[engine][index]["events"]
            attendees = [a["value"].lower() for a in seen["attendees"]]
            if item.mode == "publish":
                assert attendees == [], (engine, item.path.name)
                continue
            assert attendees == [f"mailto:{item.recipient}"], (engine, item.path.name)
            (attendee,) = seen["attendees"]
            assert attendee["cn"] == PERSON.name and attendee["rsvp"] is True, engine
            # where the reply goes: [calendar] organizer, signed for this attendee
            signed = r"mailto:rsvp\+rsvp-[a-z2-7]{10}@icom-france\.example\.org"
            assert re.fullmatch(signed, seen["organizer"].lower()), seen["organizer"]
        if item.method in ("REQUEST", "CANCEL"):  # inline too, the same bytes, same method
            assert item.inline == item.path.read_bytes(), item.path.name
            inside = icalendar.Calendar.from_ical(item.inline)
            assert str(inside["METHOD"]) == item.method
        else:
            assert item.inline is None


def test_no_emitted_file_has_a_local_time_that_is_not_one_instant(files: list[Emitted]) -> None:
    for item in files:
        (event,) = icalendar.Calendar.from_ical(item.path.read_bytes()).events
        for moment in (event.DTSTART, event.DTEND):
            assert wall_time_problem(moment.date(), moment.time(), moment.tzinfo) is None


def test_an_invitation_then_an_update_then_a_cancellation_of_one_event(
    run_cli: Any, project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sent for real (to the outbox) in request mode: one UID, SEQUENCE rising, the recipient
    the one ATTENDEE of each, REQUEST, REQUEST, CANCEL."""
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_KEY", KEY.decode())
    config = project_dir / "config.toml"
    edit(config, 'method = "publish"', 'method = "request"')
    session = project_dir / "sessions" / "2021-04-20.toml"
    outbox = project_dir / "outbox" / "new"
    steps = [
        ("invitation", None),
        ("update", "moved_to = { date = 2021-04-27 }\n"),
        ("cancellation", 'status = "cancelled"\n'),
    ]
    seen = []
    for kind, change in steps:
        if change is not None:
            session.write_text(change + session.read_text(encoding="utf-8"), encoding="utf-8")
        before = set(outbox.iterdir()) if outbox.exists() else set()
        segment = ["--segment", "partners"] if kind == "invitation" else []
        code, _, err = run_cli(
            *("--config", str(config), "--now", "2021-04-06T09:00:00+02:00", "send"),
            *("2021-04-20", "--kind", kind, "--yes", *segment),
        )
        assert code == 0, err
        (new,) = [
            path
            for path in set(outbox.iterdir()) - before
            if b"aino.virtanen@example.org" in path.read_bytes().split(b"\r\n\r\n")[0]
        ]
        seen.append(_calendar_of(new))
    assert len({uid for uid, _, _, _ in seen}) == 1
    sequences = [sequence for _, sequence, _, _ in seen]
    assert sequences == sorted(set(sequences)), sequences  # strictly rising
    assert [method for _, _, method, _ in seen] == ["REQUEST", "REQUEST", "CANCEL"]
    assert {attendees for _, _, _, attendees in seen} == {("mailto:aino.virtanen@example.org",)}


def _calendar_of(path: Path) -> tuple[str, int, str, tuple[str, ...]]:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    parsed = icalendar.Calendar.from_ical(
        _payload(next(p for p in message.walk() if p.get_filename()))
    )
    (event,) = parsed.events
    attendees = event.get("ATTENDEE")
    listed = attendees if isinstance(attendees, list) else [attendees]
    return (
        str(event["UID"]),
        int(str(event["SEQUENCE"])),
        str(parsed["METHOD"]),
        tuple(str(attendee) for attendee in listed),
    )


def test_the_feed_is_named_whole_and_its_ttl_is_a_duration(tmp_path: Path) -> None:
    from mailer.calendar.ics import series_calendar
    from mailer.recurrence import calendar_window
    from mailer.store.revisions import calendar_revisions
    from mailer.store.sqlite import SqliteState
    from tests.support.project import REPO

    project = load_project(REPO / "config.toml")
    window = calendar_window(project.config.series, project.sessions, NOW)
    with SqliteState(tmp_path / "state.db") as state:
        revisions = calendar_revisions(state, project.config, window, NOW)
    path = tmp_path / "feed.ics"
    path.write_bytes(series_calendar(project.config, window, "fr", revisions, layout="sessions"))
    title = project.config.series.title["fr"]
    assert "," in title
    parsed = icalendar.Calendar.from_ical(path.read_bytes())
    assert str(parsed["X-WR-CALNAME"]) == str(parsed["NAME"]) == title
    assert b"\r\nX-PUBLISHED-TTL:PT12H\r\n" in path.read_bytes()
    assert icaljs_many([path])[0]["names"] == {"NAME": title, "X-WR-CALNAME": title}
    assert libical_many([path])[0]["names"]["X-WR-CALNAME"] == title  # (libical 3.0: no NAME)
