"""The attached calendar of an email, read by ical.js."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.emails import (
    composer,
    parsed,
    person,
)
from tests.support.peers import icaljs


@pytest.mark.node
def test_the_attached_calendar_agrees_with_icaljs(tmp_path: Path) -> None:
    attachment = list(parsed(composer().compose(person())).iter_parts())[1]
    path = tmp_path / "attached.ics"
    payload = attachment.get_payload(decode=True)
    assert isinstance(payload, bytes)
    path.write_bytes(payload)
    (event,) = icaljs(path)["events"]
    assert (event["start"], event["end"]) == (
        "2021-04-20T11:00:00.000Z",
        "2021-04-20T12:30:00.000Z",
    )
