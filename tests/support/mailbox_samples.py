"""The samples of tests/samples/mailbox (see its README), filled in for one run."""

from __future__ import annotations

import base64
import itertools
import time
from dataclasses import dataclass

from tests.support.project import REPO

SAMPLES = REPO / "tests" / "samples" / "mailbox"
RETURN = "bounces@icom-france.example.org"
ORGANIZER = "rencontres@icom-france.example.org"
OUTLOOK = "-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN"
GOOGLE = "-//Google Inc//Google Calendar 70.9054//EN"
APPLE = "-//Apple Inc.//macOS 11.2.3//EN"
_ids = itertools.count()


@dataclass(frozen=True)
class Sent:
    address: str
    message_id: str
    return_path: str  # the signed envelope sender it went with
    organizer: str = ORGANIZER  # its calendar's ORGANIZER (signed for them, in an invitation)


def calendar(
    partstat: str, attendee: str, uid: str, product: str, organizer: str = ORGANIZER
) -> str:
    """An iMIP REPLY as a calendar program writes it: the invitation's ORGANIZER quoted."""
    return (
        "BEGIN:VCALENDAR\r\n"
        f"PRODID:{product}\r\n"
        "VERSION:2.0\r\n"
        "METHOD:REPLY\r\n"
        "BEGIN:VEVENT\r\n"
        f"ATTENDEE;PARTSTAT={partstat};CN=Someone:mailto:{attendee}\r\n"
        "DTSTART;TZID=Europe/Paris:20210420T130000\r\n"
        "DTEND;TZID=Europe/Paris:20210420T143000\r\n"
        "DTSTAMP:20210406T083012Z\r\n"
        f"ORGANIZER;CN=ICOM France:mailto:{organizer}\r\n"
        "SEQUENCE:0\r\n"
        f"UID:{uid}\r\n"
        "SUMMARY:Session 6\r\n"
        "END:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    )


def sample(name: str, about: Sent | None = None, **markers: str) -> bytes:
    """A sample with its markers filled in (see tests/samples/mailbox/README.md)."""
    text = (SAMPLES / name).read_text(encoding="utf-8")
    values = {
        "RETURN": RETURN,
        "ORGANIZER": ORGANIZER,
        "ID": f"<sample.{next(_ids)}.{time.time_ns()}@example.net>",
    }
    if about is not None:
        values |= {
            "ADDRESS": about.address,
            "FROM": about.address,
            "VERP": about.return_path,
            "MESSAGE_ID": about.message_id,
            "ORGANIZER": about.organizer,
        }
    values |= markers
    if "CALENDAR" in values:
        encoded = base64.encodebytes(values["CALENDAR"].encode()).decode()
        values["CALENDAR_BASE64"] = encoded.replace("\n", "\r\n")
    for marker, value in values.items():
        text = text.replace(f"@@{marker}@@", value)
    assert "@@" not in text, f"{name}: a marker is not filled in"
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
