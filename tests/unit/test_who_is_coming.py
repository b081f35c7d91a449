"""The pure parts of "who is coming": answer tokens, Zoom's participants report, segments by
answer and attendance, follow-ups in the cadence, and what a follow-up's template waits for."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailer.audience.attendance import read_report
from mailer.audience.segments import Resolution, resolve
from mailer.audience.unsubscribe import make_answer_token, make_token, read_answer_token
from mailer.config.validate import parse_config
from mailer.errors import ConfigError, InvalidToken
from mailer.messages.templates import TemplateSet
from mailer.model import Recipient, Segment, SessionContent, SessionFacts
from mailer.sending.cadence import Job, cadence_jobs
from tests.support.project import REPO

SHIPPED_CONFIG = REPO / "config.toml"
KEY = b"unit-test-key-0123456789"
SERIES = "icom-france-solidarites-musees"
DAY = dt.date(2021, 4, 20)


@given(st.emails(), st.dates(dt.date(2020, 1, 1), dt.date(2100, 1, 1)))
def test_an_answer_token_names_its_person_and_session_and_nothing_else(
    address: str, session: dt.date
) -> None:
    token = make_answer_token(KEY, SERIES, session, address)
    assert read_answer_token(KEY, SERIES, token) == (session, address)
    day, encoded, mac = token.split(".")
    other = make_answer_token(KEY, SERIES, session, "x" + address).split(".")[1]
    later = f"{session + dt.timedelta(days=1):%Y%m%d}"
    for wrong in (
        make_answer_token(b"another-key-0123456789", SERIES, session, address),
        make_answer_token(KEY, "another-series", session, address),
        f"{day}.{other}.{mac}",  # another person's address
        f"{later}.{encoded}.{mac}",  # another session
        f"{day}.{encoded}.{mac[::-1]}",
        f" {token}",
        make_token(KEY, SERIES, address),  # an unsubscribe token is not an answer token
    ):
        with pytest.raises(InvalidToken):
            read_answer_token(KEY, SERIES, wrong)


REPORT = """\
\ufeffName (Original Name),User Email,Join Time,Leave Time,Duration (Minutes),Guest
Luc Martin,LUC.Martin@Example.org,04/20/2021 12:58:00 PM,04/20/2021 01:40:00 PM,42,No
Luc (phone),luc.martin@example.org,04/20/2021 01:45:00 PM,04/20/2021 02:30:00 PM,45,No
+33 1 23 45 67 89,,04/20/2021 01:10:00 PM,04/20/2021 02:00:00 PM,50,Yes
Broken,not an address,04/20/2021 01:10:00 PM,04/20/2021 02:00:00 PM,50,Yes

"""


def test_a_zoom_report_adds_up_rejoins_by_address_and_says_what_it_cannot_match() -> None:
    report = read_report(REPORT, "participants.csv")
    (luc,) = report.participants
    assert (luc.key, luc.name, luc.minutes) == ("luc.martin@example.org", "Luc Martin", 87)
    assert (luc.joined, luc.left) == ("04/20/2021 12:58:00 PM", "04/20/2021 02:30:00 PM")
    assert report.without_address == ["+33 1 23 45 67 89"]
    (problem,) = report.problems
    assert problem.line == 5 and problem.severity == "warning"
    # the meeting's own report: a block about the meeting first, then the participants
    with_meeting = "Meeting ID,Topic,Duration (Minutes)\n857,Topic,98\n\n" + REPORT[1:]
    assert read_report(with_meeting, "r.csv").participants == report.participants
    (refused,) = read_report("email,name\nx@example.org,X\n", "list.csv").problems
    assert refused.severity == "error" and "not a Zoom participants report" in refused.message


def people() -> list[Recipient]:
    return [
        Recipient(f"{n}@example.org", f"{n}@example.org", "fr", source=f"m.csv:{i + 2}")
        for i, n in enumerate(("ana", "bob", "eve", "max", "zoe"))
    ]


def chosen(
    segments: list[Segment], facts: SessionFacts, skip: frozenset[str] = frozenset()
) -> tuple[list[str], dict[str, int]]:
    def read(_: str) -> Iterator[Recipient]:
        return iter(people())

    resolution = Resolution()
    found = resolve(segments, ["m"], read, frozenset(), resolution, facts=facts, skip=skip)
    return [r.email.split("@")[0] for r in found], resolution.left_out


def test_segments_by_answer_and_attendance_say_who_is_left_out_and_why() -> None:
    facts = SessionFacts(
        answers={"ana@example.org": "accepted", "bob@example.org": "declined",
                 "eve@example.org": "tentative", "max@example.org": "accepted"},
        waiting=frozenset({"max@example.org"}),
        attended=frozenset({"ana@example.org", "zoe@example.org"}),
    )  # fmt: skip
    everyone = Segment("everyone", ("m",))
    assert chosen([everyone], facts, frozenset({"no"})) == (
        ["ana", "eve", "max", "zoe"],
        {"answered no": 1},
    )
    silent = Segment("silent", ("m",), answers=("none",))
    assert chosen([silent], facts) == (
        ["zoe"],
        {"answered yes": 1, "answered no": 1, "answered maybe": 1, "answered waiting": 1},
    )
    came = Segment("came", ("m",), attended=True)
    missed = Segment("missed", ("m",), attended=False)
    assert chosen([came], facts)[0] == ["ana", "zoe"]
    assert chosen([missed], facts) == (["bob", "eve", "max"], {"came": 2})
    assert chosen([came, silent], facts)[0] == ["ana", "zoe"]  # any segment takes them
    assert chosen([missed], SessionFacts()) == ([], {"no attendance report yet": 5})


FOLLOWUP = """
[segments.came]
attended = true

[segments.nudge]
answers = ["none", "maybe"]

[[cadence]]
kind = "followup"
after = "PT2H"
segments = ["came"]
"""


def test_a_follow_up_is_due_after_the_session_and_waits_for_the_links_it_prints() -> None:
    text = SHIPPED_CONFIG.read_text(encoding="utf-8").replace("[daemon]", FOLLOWUP + "[daemon]")
    config, _ = parse_config(text, "config.toml")
    (followup,) = [e for e in config.cadence if e.segments == ("came",)]
    assert (followup.message, followup.send_by) == ("followup:PT2H", dt.timedelta(days=7))
    assert config.mailing.segments[-1].answers == ("none", "maybe")
    content = SessionContent(DAY, "sessions/2021-04-20.toml", {"fr": "T", "en": "T", "es": "T"})

    def job(needs: frozenset[str], recording: str | None = None) -> Job:
        with_links = dataclasses.replace(content, recording=recording)
        found = cadence_jobs(config, {DAY: with_links}, start=DAY, end=DAY, needs=needs)
        (only,) = [j for j in found if j.message == "followup:PT2H"]
        return only

    waiting = job(frozenset({"recording"}))
    assert waiting.due == dt.datetime(2021, 4, 20, 14, 30, tzinfo=dt.UTC)
    assert waiting.deadline == dt.datetime(2021, 4, 27, 14, 30, tzinfo=dt.UTC)
    assert waiting.blocked == (
        "no recording link yet (set it in the session's file or on its page)"
    )
    assert job(frozenset({"recording"}), recording="https://example.org/r").blocked is None
    assert job(frozenset()).blocked is None


@pytest.mark.parametrize(
    ("entries", "where", "said"),
    [
        ('kind = "followup"\nbefore = "P1D"', "before", "a follow-up goes after the session"),
        ('kind = "followup"', "after", "required"),
        ('kind = "reminder"\nbefore = "P2D"\nafter = "PT1H"', "after", "unknown"),
    ],
)
def test_a_follow_up_written_wrong_is_refused_at_its_key(
    entries: str, where: str, said: str
) -> None:
    text = SHIPPED_CONFIG.read_text(encoding="utf-8")
    wrong = f'[[cadence]]\n{entries}\n\n[segments.x]\nanswers = ["perhaps"]\n\n[daemon]'
    text = text.replace("[daemon]", wrong)
    with pytest.raises(ConfigError) as raised:
        parse_config(text, "config.toml")
    problems = [str(p) for p in raised.value.problems]
    assert any(f".{where}" in p and said in p.lower() for p in problems), problems
    assert any("'perhaps' is not an answer" in p for p in problems), problems


def test_a_follow_up_waits_for_a_link_its_template_prints_without_testing_it() -> None:
    templates = TemplateSet(
        {
            "en/followup.html": "{{ session.recording }} "
            "{% if session.slides %}{{ session.slides }}{% endif %}",
            "en/followup.txt": '{% include "en/_links.txt" %}',
            "en/_links.txt": "{{ session.survey }}",
            "en/followup.subject.txt": "After",
            "fr/followup.html": "{% if session.recording %}{{ session.recording }}{% endif %}",
        }
    )  # fmt: skip
    assert templates.needs(["en"], "followup") == {"recording", "survey"}
    assert templates.needs(["fr"], "followup") == frozenset()
