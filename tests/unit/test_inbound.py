"""What comes back by mail, classified without a server: every sample of tests/samples/mailbox,
signed return paths (round trips, forgeries, case folding), calendar replies."""

from __future__ import annotations

import datetime as dt

import hypothesis.strategies as st
import pytest
from hypothesis import example, given, settings

from mailer.audience.return_path import read_verp, verp_address
from mailer.audience.unsubscribe import make_token
from mailer.calendar.replies import read_reply
from mailer.inbound.classify import (
    Bounced,
    Context,
    ForAPerson,
    Replied,
    Unsubscribed,
    classify,
    message_key,
    parse,
)
from tests.support.mailbox_samples import (
    APPLE,
    GOOGLE,
    OUTLOOK,
    RETURN,
    SAMPLES,
    Sent,
    calendar,
    sample,
)

KEY = b"inbound-unit-tests-key-0123456789"
SERIES = "icom-france-solidarites-musees"
DOMAIN = "icom-france.example.org"
CONTEXT = Context(KEY, SERIES, DOMAIN)
MESSAGE_ID = "<0123456789abcdef01234567.20210420@icom-france.example.org>"
MARIE = Sent("marie.dubois@example.org", MESSAGE_ID, verp_address(KEY, SERIES, RETURN, MESSAGE_ID))
UID = f"{SERIES}-20210420"


@pytest.mark.parametrize(
    ("name", "verp", "status", "permanent"),
    [
        ("bounce-postfix-user-unknown.eml", True, "5.1.1", True),
        ("bounce-exim-no-verp.eml", False, "5.1.1", True),
        ("bounce-exchange-recipient-not-found.eml", True, "5.1.10", True),
        ("bounce-gmail-account-disabled.eml", True, "5.2.1", True),
        ("soft-postfix-mailbox-full.eml", True, "5.2.2", False),  # mailbox full: soft
    ],
)
def test_each_mta_s_bounce_names_the_person_the_status_and_the_email(
    name: str, verp: bool, status: str, permanent: bool
) -> None:
    verdict = classify(parse(sample(name, MARIE)), CONTEXT)
    assert isinstance(verdict, Bounced)
    assert verdict.returned_for == (MESSAGE_ID if verp else None)
    assert verdict.report.original_id == MESSAGE_ID  # quoted, in each of its forms
    (failure,) = verdict.report.failures
    assert failure.address == MARIE.address
    assert (failure.status, failure.permanent) == (status, permanent)
    assert "5" in failure.diagnostic and "\n" not in failure.diagnostic


def test_a_delay_warning_is_no_failure() -> None:
    verdict = classify(parse(sample("delayed-postfix.eml", MARIE)), CONTEXT)
    assert isinstance(verdict, Bounced)
    assert verdict.report.delayed and verdict.report.failures == ()


def test_a_useless_bounce_is_attributed_by_its_return_path_alone() -> None:
    verdict = classify(parse(sample("bounce-useless-body.eml", MARIE)), CONTEXT)
    assert isinstance(verdict, Bounced) and verdict.returned_for == MESSAGE_ID
    assert not verdict.report.failures[0].permanent  # counted as soft
    forged = Sent(MARIE.address, MESSAGE_ID, MARIE.return_path.replace("+0", "+1"))
    verdict = classify(parse(sample("bounce-useless-body.eml", forged)), CONTEXT)
    assert isinstance(verdict, ForAPerson)  # a return path nobody signed


def test_an_out_of_office_to_the_return_path_is_not_a_bounce() -> None:
    verdict = classify(parse(sample("out-of-office.eml", MARIE)), CONTEXT)
    assert verdict == ForAPerson("an auto-reply")


def test_only_a_genuine_token_unsubscribes() -> None:
    genuine = make_token(KEY, SERIES, MARIE.address)
    verdict = classify(parse(sample("unsubscribe-valid.eml", MARIE, TOKEN=genuine)), CONTEXT)
    assert verdict == Unsubscribed(MARIE.address)
    for token in (
        make_token(b"another-series-key-0123456789", SERIES, MARIE.address),
        make_token(KEY, "another-series", MARIE.address),
        genuine[:-2],
    ):
        verdict = classify(parse(sample("unsubscribe-forged.eml", TOKEN=token)), CONTEXT)
        assert isinstance(verdict, ForAPerson) and verdict.suspicious


@pytest.mark.parametrize(
    ("name", "partstat", "product"),
    [
        ("reply-outlook-accepted.eml", "ACCEPTED", OUTLOOK),
        ("reply-google-tentative.eml", "TENTATIVE", GOOGLE),
        ("reply-apple-declined.eml", "DECLINED", APPLE),
    ],
)
def test_calendar_replies_from_each_client(name: str, partstat: str, product: str) -> None:
    text = calendar(partstat, MARIE.address, UID, product)
    verdict = classify(parse(sample(name, MARIE, CALENDAR=text)), CONTEXT)
    assert isinstance(verdict, Replied)
    reply = verdict.reply
    assert (reply.series, str(reply.session), reply.attendee) == (
        SERIES,
        "2021-04-20",
        MARIE.address,
    )
    assert reply.answer == partstat.lower() and reply.sequence == 0


def test_what_is_not_a_reply_to_one_of_our_sessions() -> None:
    good = calendar("ACCEPTED", MARIE.address, UID, OUTLOOK)
    assert read_reply(good.encode()) is not None
    assert read_reply(good.replace("METHOD:REPLY", "METHOD:REQUEST").encode()) is None
    assert read_reply(good.replace(UID, "someone-elses-event").encode()) is None
    assert read_reply(good.replace("ACCEPTED", "DELEGATED").encode()) is None
    assert read_reply(b"BEGIN:VCALENDAR\r\nnot a calendar") is None
    other = classify(parse(sample("reply-outlook-accepted.eml", MARIE, CALENDAR=good.replace(
        SERIES, "another-series"))), CONTEXT)  # fmt: skip
    assert isinstance(other, ForAPerson)


@pytest.mark.parametrize("name", ["human-reply.eml", "spam.eml"])
def test_the_rest_is_for_a_person(name: str) -> None:
    assert classify(parse(sample(name, MARIE)), CONTEXT) == ForAPerson("a reply or other mail")


def test_a_made_up_report_is_read_but_names_only_what_it_says() -> None:
    verdict = classify(
        parse(sample("bounce-forged-about-a-stranger.eml", ADDRESS="victim@example.net")),
        CONTEXT,
    )
    assert isinstance(verdict, Bounced) and verdict.returned_for is None
    assert verdict.report.original_id is None  # the service then finds nobody mailed: ignored


def test_an_email_is_known_again_by_its_message_id_or_its_bytes() -> None:
    data = sample("spam.eml")
    assert message_key(parse(data), data).startswith("id:<sample.")
    bare = b"Subject: no id\r\n\r\nhello\r\n"
    assert message_key(parse(bare), bare) == message_key(parse(bare), bare)
    assert message_key(parse(bare), bare).startswith("sha256:")


@given(
    digest=st.text("0123456789abcdef", min_size=24, max_size=24),
    date=st.dates(dt.date(2000, 1, 1), dt.date(9999, 12, 31)).map(lambda d: f"{d:%Y%m%d}"),
    local=st.from_regex(r"[a-z][a-z0-9.-]{0,20}", fullmatch=True).filter(
        lambda s: not s.endswith(".") and ".." not in s
    ),
)
def test_a_return_path_round_trips_and_fits_in_a_local_part(
    digest: str, date: str, local: str
) -> None:
    message_id = f"<{digest}.{date}@{DOMAIN}>"
    address = verp_address(KEY, SERIES, f"{local}@{DOMAIN}", message_id)
    assert len(address.partition("@")[0]) <= 64  # RFC 5321
    assert read_verp(KEY, SERIES, address, DOMAIN) == message_id
    assert read_verp(KEY, SERIES, address.upper(), DOMAIN) == message_id  # case folded
    assert read_verp(KEY, "another-series", address, DOMAIN) is None
    assert read_verp(b"another-key-0123456789", SERIES, address, DOMAIN) is None


def test_a_charset_python_does_not_know_is_read_as_utf_8() -> None:
    """Found by fuzzing: this used to raise LookupError, which stopped every reading of the
    mailbox at the same email."""
    data = sample("bounce-exim-no-verp.eml", MARIE).replace(b"us-ascii", b"x-unheard-of")
    verdict = classify(parse(data), CONTEXT)
    assert isinstance(verdict, Bounced) and verdict.report.original_id == MESSAGE_ID
    assert [(f.address, f.status) for f in verdict.report.failures] == [(MARIE.address, "5.1.1")]


def test_a_reply_with_a_broken_dtstamp_is_still_a_reply() -> None:
    """Found by fuzzing: icalendar raised on reading the broken DTSTAMP."""
    text = calendar("ACCEPTED", MARIE.address, UID, OUTLOOK).replace(
        "DTSTAMP:20210406T083012Z", "DTSTAMP:2021-04-06 soon"
    )
    verdict = classify(parse(sample("reply-outlook-accepted.eml", MARIE, CALENDAR=text)), CONTEXT)
    assert isinstance(verdict, Replied)
    assert verdict.reply.answer == "accepted" and verdict.reply.stamp is None


INSERTS = [
    b'charset="x-bogus"',
    b"\r\n\r\n",
    b"Content-Type: message/delivery-status\r\n",
    b"=?utf-8?b?####?=",
    b"\xff\xfe",
    b"Action: failed\r\nStatus: 5.1.1\r\n",
    b"base64",
]
NAMES = sorted(path.name for path in SAMPLES.glob("*.eml"))


@settings(max_examples=1500, deadline=None)
@given(
    name=st.sampled_from(NAMES),
    edits=st.lists(
        st.tuples(st.floats(0, 1, exclude_max=True), st.sampled_from(INSERTS), st.integers(0, 30)),
        min_size=1,
        max_size=5,
    ),
)
# found by this test: a header cut so that `email`'s address parser raises IndexError
@example(name="reply-from-a-stranger.eml", edits=[(0.05, b"\r\n\r\n", 0)])
@example(  # a From header that makes email's address parser raise IndexError (found by fuzzing)
    name="soft-postfix-mailbox-full.eml",
    edits=[(0.5, b'charset="x-bogus"', 0), (0.080078125, b"\r\n\r\n", 0)],
)
def test_no_email_however_mangled_makes_classifying_raise(
    name: str, edits: list[tuple[float, bytes, int]]
) -> None:
    data = bytearray(
        sample(name, MARIE, TOKEN="x.y", CALENDAR=calendar("ACCEPTED", MARIE.address, UID, APPLE))
    )
    for where, insert, cut in edits:
        at = int(where * len(data))
        data[at : at + cut] = insert  # replace a stretch by something odd
    classify(parse(bytes(data)), CONTEXT)  # any verdict, never an exception
