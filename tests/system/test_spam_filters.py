"""What a receiving server's content filter says: Debian's SpamAssassin (local tests) scores
every kind of email in every language at 0 or below, as a plain event to add, as a meeting
invitation, and DKIM-signed."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from mailer.config.settings import CalendarSettings, DkimSettings
from mailer.messages.checks import sample_recipients
from mailer.project.load import Project
from mailer.transport.dkim import DkimSigner, read_key
from tests.support.emails import SHIPPED, composers_as_sent
from tests.support.keys import rsa_key
from tests.support.spamassassin import Spamd, running_spamd

pytestmark = pytest.mark.spam

SIGNER = DkimSigner(DkimSettings("icom-france.example.org", "mailer2026"), read_key(rsa_key()))


@pytest.fixture(scope="module")
def spamd() -> Iterator[Spamd]:
    with running_spamd() as running:
        yield running


def requesting(project: Project) -> Project:
    calendar = CalendarSettings(method="request")
    return dataclasses.replace(
        project, config=dataclasses.replace(project.config, calendar=calendar)
    )


@pytest.mark.parametrize(
    ("project", "signed"),
    [(SHIPPED, False), (SHIPPED, True), (requesting(SHIPPED), True)],
    ids=["event", "event-signed", "invitation-signed"],
)
def test_every_kind_and_language_scores_zero_or_below(
    spamd: Spamd, project: Project, signed: bool
) -> None:
    scored = 0
    for name, made in composers_as_sent(project).items():
        for language in project.config.series.languages:
            for recipient in sample_recipients(language, frozenset(), "Europe/Paris"):
                data = made.compose(recipient).data
                if signed:
                    data = SIGNER.sign(data)
                verdict = spamd.check(data)
                assert verdict.score <= 0, (name, language, verdict.report)
                scored += 1
    assert scored == 6 * 3 * 2


def test_the_filter_does_score(spamd: Spamd) -> None:
    """An email that shouts, sells and hides in HTML scores above 0 (the filter runs)."""
    spam = (
        b"From: winner@example.com\r\nTo: you@example.org\r\nSubject: FREE MONEY!!! ACT NOW\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/html\r\n\r\n"
        b"<html><body><font size=7 color=red>100% FREE! GUARANTEED! Click here to claim your"
        b" PRIZE, viagra, cialis, no prescription</font></body></html>\r\n"
    )
    assert spamd.check(spam).score > 1
