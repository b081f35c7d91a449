"""The organiser's notices in every language mailer has them, the journald log lines, and
addresses imported from another tool's export."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import subprocess
from email import message_from_bytes, policy

import pytest

from mailer.audience.imports import read_addresses
from mailer.daemon.logs import JournalFormatter
from mailer.messages.notices import PROBLEMS, TEXTS, organiser_notice
from mailer.model import Series
from tests.support.emails import NOW, SHIPPED
from tests.support.project import REPO

FIELDS = {
    "number": 7,
    "session": dt.date(2021, 5, 18),
    "kind": "invitation",
    "detail": "no session file (sessions/2021-05-18.toml)",
    "start": dt.datetime(2021, 5, 18, 11, tzinfo=dt.UTC),
    "due": dt.datetime(2021, 5, 4, 11, tzinfo=dt.UTC),
    "path": "sessions/2021-05-18.toml",
    "count": 2,
    "address": "marie.dubois@example.org",
}


@pytest.mark.parametrize("language", sorted(TEXTS))
@pytest.mark.parametrize("problem", PROBLEMS)
def test_every_notice_reads_in_the_series_first_language(language: str, problem: str) -> None:
    config = SHIPPED.config
    series: Series = dataclasses.replace(
        config.series, languages=(language, *(c for c in config.series.languages if c != language))
    )
    config = dataclasses.replace(config, series=series)
    notice = organiser_notice(config, f"{problem}:x", problem, NOW, **FIELDS)
    data = notice.data
    assert data.count(b"\n") == data.count(b"\r\n") == data.count(b"\r")  # CRLF only
    parsed = message_from_bytes(data, policy=policy.default)
    assert parsed["Content-Language"] == language
    text = re.sub(r"\s", " ", str(parsed["Subject"]) + parsed.get_content())  # nbsp too
    assert "{" not in text and "}" not in text  # every field filled in
    if problem == "missing_file":
        assert {"fr": "mardi 18 mai 2021, 13 h", "en": "Tuesday 18 May 2021, 13:00"}.get(
            language, "18 de mayo de 2021"
        ) in text
    # the same problem, composed again, is the same email
    again = organiser_notice(config, f"{problem}:x", problem, NOW, **FIELDS)
    assert again.message_id == notice.message_id


def test_journal_lines_carry_their_priority_and_stay_one_line() -> None:
    formatter = JournalFormatter()

    def line(level: int, message: str, error: bool = False) -> str:
        exc_info = None
        if error:
            try:
                raise ValueError("boom")
            except ValueError as caught:
                exc_info = (type(caught), caught, caught.__traceback__)
        record = logging.LogRecord("mailer.daemon", level, __file__, 1, message, (), exc_info)
        return formatter.format(record)

    assert line(logging.ERROR, "the invitation of 2021-04-20 stopped").startswith("<3>ERROR")
    assert line(logging.WARNING, "BLOCKED: x").startswith("<4>")
    assert line(logging.INFO, "sent").startswith("<6>")
    multi = line(logging.ERROR, "first\nsecond", error=True)
    assert "\n" not in multi and "first | second" in multi and "ValueError: boom" in multi


def test_addresses_from_a_plain_file_and_from_a_mailchimp_export() -> None:
    plain = read_addresses("a@example.org\n\nB@Example.org\na@example.org\n", "old.txt")
    assert [(row.line, row.address.key) for row in plain.addresses] == [
        (1, "a@example.org"),
        (3, "b@example.org"),
    ]
    export = read_addresses(
        '"Email Address","First Name"\n"x@example.org","X"\n"nope","Y"\n', "mc.csv"
    )
    assert [row.address.email for row in export.addresses] == ["x@example.org"]
    (problem,) = export.problems
    assert (problem.source, problem.line) == ("mc.csv", 3)
    (missing,) = read_addresses("name,when\nX,2020\n", "odd.csv").problems
    assert "no column of email addresses" in missing.message


def test_a_mailchimp_unsubscribed_export_keeps_when_and_why() -> None:
    """Mailchimp's unsubscribed export: each address with UNSUB_TIME and the reason given
    (it was recorded as imported now, with no reason)."""
    export = read_addresses(
        "Email Address,First Name,UNSUB_TIME,UNSUB_CAMPAIGN_TITLE,UNSUB_REASON,"
        "UNSUB_REASON_OTHER\n"
        'ana@example.org,Ana,"2021-03-02 10:14:33",April,"I no longer want to receive '
        'these emails",\n'
        "luc@example.org,Luc,2020-11-20 08:00:00,Nov,Other,Too many\n"
        "eve@example.org,Eve,yesterday,Nov,,\n",
        "unsubscribed.csv",
    )
    (problem,) = export.problems
    assert problem.line == 4 and "'yesterday' is not a date and time" in problem.message
    ana, luc = export.addresses
    assert ana.when == dt.datetime(2021, 3, 2, 10, 14, 33, tzinfo=dt.UTC)
    assert ana.reason == "I no longer want to receive these emails"
    assert luc.reason == "Other: Too many"


def test_the_systemd_unit_is_hardened() -> None:
    """systemd-analyze (Debian's systemd, installed by dev/test) rates the shipped unit."""
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(REPO / "deploy/mailer.service")],
        capture_output=True,
        text=True,
        check=False,
    )
    match = re.search(r"Overall exposure level for mailer\.service: ([\d.]+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 2.0  # was 7.1 MEDIUM
