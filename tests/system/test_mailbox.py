"""`mailer mailbox` against a real IMAP server (Dovecot, TLS from a CA made for the run),
holding what really comes back after a send: bounces from Postfix, Exim, Exchange and Gmail's
relay, a soft bounce, a delay warning, a bounce with a useless body, emailed unsubscribes (a
genuine token and a forged one), calendar replies from Outlook, Google and Apple, an
out-of-office, a human reply, spam, a made-up bounce about a stranger.

Then: the right people suppressed for the right reasons, the replies counted, everything else
left (flagged) for a person, nothing deleted, and running it again, or after a kill -9 in the
middle, changes nothing more."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from email import message_from_bytes, policy
from pathlib import Path

import icalendar
import pytest

from mailer.audience.unsubscribe import make_token
from tests.support.daemon import KEY as DAEMON_KEY
from tests.support.daemon import DaemonProcess, wait_until
from tests.support.dovecot import PASSWORD, Dovecot
from tests.support.mailbox_samples import APPLE, GOOGLE, OUTLOOK, RETURN, Sent, calendar, sample
from tests.support.project import edit
from tests.support.sending import Cli, big_list, send

KEY = "mailbox-tests-signing-key-0123456789"
SERIES = "icom-france-solidarites-musees"
PROCESSED, PERSON = "Processed", "For a person"


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    with Dovecot() as server:
        yield server


def reading_dovecot(
    project_dir: Path,
    dovecot: Dovecot,
    monkeypatch: pytest.MonkeyPatch,
    *,
    verp: bool,
    mailbox: str = "",
) -> Path:
    """The shipped project, sending meeting invitations (with VERP or not), reading the Dovecot
    mailbox (emptied first)."""
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_KEY", KEY)
    monkeypatch.setenv("MAILER_MAILBOX_PASSWORD", PASSWORD)
    config = project_dir / "config.toml"
    edit(config, 'method = "publish"', 'method = "request"')
    with config.open("a", encoding="utf-8") as file:
        file.write(
            f"""
[sending]
envelope_from = "{RETURN}"
verp = {str(verp).lower()}

[mailbox]
host = "127.0.0.1"
port = {dovecot.port}
user = "bounces"
ca_file = "{dovecot.ca}"
soft_bounces = 2
{mailbox}"""
        )
    with dovecot.client() as client:
        for folder in ("INBOX", PROCESSED, PERSON):
            if client.folder_exists(folder):
                client.select_folder(folder)
                if uids := client.search("ALL"):
                    client.delete_messages(uids)
                    client.expunge()
    return config


@pytest.fixture
def mailbox_project(project_dir: Path, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shipped project, sending with VERP and meeting invitations, reading the Dovecot
    mailbox (emptied before each test)."""
    return reading_dovecot(project_dir, dovecot, monkeypatch, verp=True)


def sent_emails(config: Path) -> dict[tuple[str, str], Sent]:
    """(address, email) -> what went, from the ledger and the outbox's envelope lines (and
    the ORGANIZER of its invitation, where calendars send their replies)."""
    envelopes, organizers = {}, {}
    for path in (config.parent / "outbox" / "new").iterdir():
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        identifier = str(message["Message-ID"])
        envelopes[identifier] = str(message["Return-Path"]).strip("<>")
        for part in message.walk():
            if part.get_content_type() == "text/calendar":
                data = part.get_payload(decode=True)
                assert isinstance(data, bytes)
                event = icalendar.Calendar.from_ical(data).events[0]
                organizers[identifier] = str(event["ORGANIZER"]).removeprefix("mailto:")
    connection = sqlite3.connect(config.parent / "state" / "mailer.db")
    rows = connection.execute(
        "SELECT address, message, message_id FROM deliveries WHERE state = 'sent' ORDER BY id"
    ).fetchall()
    connection.close()
    return {(a, m): Sent(a, i, envelopes[i], organizers.get(i, "")) for a, m, i in rows}


def suppressions(config: Path) -> dict[str, tuple[str, str]]:
    connection = sqlite3.connect(config.parent / "state" / "mailer.db")
    rows = connection.execute("SELECT address, kind, reason FROM suppressions").fetchall()
    connection.close()
    return {address: (kind, reason) for address, kind, reason in rows}


def dump(config: Path) -> str:
    connection = sqlite3.connect(config.parent / "state" / "mailer.db")
    text = "\n".join(connection.iterdump())
    connection.close()
    return text


def test_what_comes_back_is_read_and_acted_on_once(
    run_cli: Cli, mailbox_project: Path, dovecot: Dovecot
) -> None:
    config = mailbox_project
    assert send(run_cli, config, "--segment", "everyone")[0] == 0
    assert send(run_cli, config, "--segment", "everyone", kind="reminder")[0] == 0
    emails = sent_emails(config)
    people = sorted({address for address, _ in emails})
    invited = {address: emails[(address, "invitation")] for address in people}
    reminded = {a: s for (a, m), s in emails.items() if m.startswith("reminder")}
    assert all(s.return_path.startswith("bounces+") for s in emails.values())  # VERP
    p = people
    uid = f"{SERIES}-20210420"
    forged_token = make_token(b"not-the-key-of-this-series-0123", SERIES, p[8])
    genuine_token = make_token(KEY.encode(), SERIES, p[9])
    dovecot.append(
        [
            sample("bounce-postfix-user-unknown.eml", invited[p[0]]),
            sample("bounce-exim-no-verp.eml", invited[p[1]]),  # not to VERP: proves nothing
            sample("bounce-exchange-recipient-not-found.eml", invited[p[2]]),
            sample("bounce-gmail-account-disabled.eml", invited[p[3]]),
            sample("soft-postfix-mailbox-full.eml", invited[p[4]]),
            sample("soft-postfix-mailbox-full.eml", reminded[p[4]]),  # a second email: 2 of 2
            sample("soft-postfix-mailbox-full.eml", invited[p[5]]),  # 1 of 2: counted only
            sample("delayed-postfix.eml", invited[p[6]]),  # a warning: nothing failed
            sample("bounce-useless-body.eml", invited[p[7]]),  # attributed by VERP alone
            sample("unsubscribe-valid.eml", invited[p[9]], TOKEN=genuine_token),
            sample("unsubscribe-forged.eml", TOKEN=forged_token),
            sample(
                "reply-outlook-accepted.eml",
                invited[p[10]],
                CALENDAR=calendar("ACCEPTED", p[10], uid, OUTLOOK, invited[p[10]].organizer),
            ),
            sample(
                "reply-google-tentative.eml",
                invited[p[11]],
                CALENDAR=calendar("TENTATIVE", p[11], uid, GOOGLE, invited[p[11]].organizer),
            ),
            sample(
                "reply-apple-declined.eml",
                invited[p[12]],
                CALENDAR=calendar("DECLINED", p[12], uid, APPLE, invited[p[12]].organizer),
            ),
            sample(
                "reply-from-a-stranger.eml",
                FROM="stranger@elsewhere.example",
                MESSAGE_ID="<nothing@elsewhere.example>",
                CALENDAR=calendar("ACCEPTED", "stranger@elsewhere.example", uid, "-//x//y//EN"),
            ),
            sample("out-of-office.eml", invited[p[13]]),
            sample("human-reply.eml", invited[p[14]]),
            sample("spam.eml"),
            sample("bounce-forged-about-a-stranger.eml", ADDRESS="victim@example.net"),
        ]
    )
    code, out, err = run_cli(
        "--config", str(config), "--now", "2021-04-06T12:00:00+02:00", "mailbox"
    )
    assert code == 0, err
    assert "Read 19 emails: 8 bounces, 1 emailed unsubscribe, 3 calendar replies" in out
    assert "7 left for a person in 'For a person'" in out

    suppressed = suppressions(config)
    assert set(suppressed) == {p[0], p[2], p[3], p[4], p[9]}
    for person, status in ((p[0], "5.1.1"), (p[2], "5.1.10"), (p[3], "5.2.1")):
        kind, reason = suppressed[person]
        assert kind == "bounced" and reason.startswith(f"bounced 2021-04-06: {status} "), reason
    assert "Recipient not found by SMTP address lookup" in suppressed[p[2]][1]
    assert suppressed[p[4]][1].startswith("2 soft bounces in 30 days (last 2021-04-06: 5.2.2")
    assert suppressed[p[9]] == ("unsubscribed", "emailed unsubscribe")
    assert "forged or damaged unsubscribe token" in err  # ignored, and said in the log
    code, out, _ = run_cli("--config", str(config), "suppressed")
    assert "emailed unsubscribe" in out and "2 soft bounces" in out

    connection = sqlite3.connect(config.parent / "state" / "mailer.db")
    counted = dict(connection.execute("SELECT address, count(*) FROM bounces GROUP BY address"))
    connection.close()
    assert counted[p[5]] == 1 and counted[p[7]] == 1 and p[6] not in counted  # soft, counted

    code, out, _ = run_cli("--config", str(config), "status")
    assert "Answers for 2021-04-20: 1 yes, 1 maybe, 1 no, " in out
    code, out, _ = run_cli("--config", str(config), "answers", "2021-04-20", "--answer", "yes")
    (line,) = out.splitlines()[1:]
    assert code == 0 and line.split()[:2] == ["yes", p[10]] and "by calendar" in line
    assert p[11] not in out

    # a person's history says it; erasing them forgets it too
    code, out, _ = run_cli("--config", str(config), "person", p[0])
    assert "  bounced (hard) 2021-04-06: 5.1.1 550 5.1.1" in out
    code, out, _ = run_cli("--config", str(config), "person", p[10], "--json")
    assert json.loads(out)["answers"][0]["answer"] == "yes"
    code, _, err = run_cli("--config", str(config), "person", p[10], "--erase", "--yes")
    assert code == 0, err
    assert p[10] not in dump(config)
    code, out, _ = run_cli("--config", str(config), "status")
    assert "Answers for 2021-04-20: 0 yes, 1 maybe, 1 no, " in out

    # filed: nothing left in the inbox, nothing deleted, nothing marked read
    assert dovecot.messages("INBOX") == []
    processed, for_a_person = dovecot.messages(PROCESSED), dovecot.messages(PERSON)
    assert (len(processed), len(for_a_person)) == (12, 7)
    assert all(b"\\Flagged" in flags and b"\\Seen" not in flags for _, flags in for_a_person)
    subjects = sorted(
        str(message_from_bytes(data, policy=policy.default)["Subject"]).split()[0]
        for data, _ in for_a_person
    )
    assert subjects == ["Accepted:", "Mail", "Re:", "Réponse", "Undelivered", "You", "unsubscribe"]

    # again: nothing more; an email filed back by hand (or whose filing a crash cut short)
    # is filed again, never counted twice
    before = dump(config)
    code, out, _ = run_cli("--config", str(config), "--now", "2021-04-06T12:10:00+02:00", "mailbox")
    assert code == 0 and out.startswith("Read 0 emails")
    dovecot.append([data for data, _ in processed[:3]])
    code, out, _ = run_cli("--config", str(config), "--now", "2021-04-06T12:20:00+02:00", "mailbox")
    assert code == 0 and "(3 processed by an earlier run were only filed.)" in out
    assert dump(config) == before


def test_a_kill_9_in_the_middle_changes_nothing_more(
    mailbox_project: Path, dovecot: Dovecot
) -> None:
    """300 hard bounces, the reader killed mid-way and run again: each person suppressed
    once, each email processed once and filed once."""
    config = mailbox_project
    big_list(config.parent / "recipients" / "members.csv", 300)
    for other in ("partners.csv", "speakers.csv"):
        (config.parent / "recipients" / other).write_text("email\n", encoding="utf-8")
    environment = {**os.environ, "MAILER_UNSUBSCRIBE_KEY": KEY, "MAILER_MAILBOX_PASSWORD": PASSWORD}
    mailer = [sys.executable, "-m", "mailer", "--config", str(config)]
    now = ["--now", "2021-04-06T09:00:00+02:00"]
    sent = subprocess.run(
        [*mailer, *now, "--real-mail", "send", "2021-04-20", "--kind", "invitation", "--yes"],
        env=environment,
        check=False,
        capture_output=True,
        text=True,
    )
    assert sent.returncode == 0, sent.stderr
    invited = [s for (a, m), s in sent_emails(config).items() if m == "invitation"]
    assert len(invited) == 300
    dovecot.append([sample("bounce-postfix-user-unknown.eml", s) for s in invited])

    database = config.parent / "state" / "mailer.db"
    reader = subprocess.Popen(
        [*mailer, *now, "mailbox"], env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while _processed(database) < 40:
        assert reader.poll() is None and time.monotonic() < deadline, reader.communicate()
        time.sleep(0.005)
    reader.send_signal(signal.SIGKILL)
    reader.wait()
    assert 40 <= _processed(database) < 300  # killed in the middle
    again = subprocess.run(
        [*mailer, *now, "mailbox"], env=environment, capture_output=True, text=True, check=False
    )
    assert again.returncode == 0, again.stderr
    assert _processed(database) == 300
    assert len(suppressions(config)) == 300
    connection = sqlite3.connect(database)
    assert connection.execute("SELECT count(*) FROM bounces").fetchone()[0] == 300
    connection.close()
    assert dovecot.messages("INBOX") == [] and len(dovecot.messages(PROCESSED)) == 300


def _processed(database: Path) -> int:
    try:
        connection = sqlite3.connect(database, timeout=5)
        try:
            return int(connection.execute("SELECT count(*) FROM inbox").fetchone()[0])
        finally:
            connection.close()
    except sqlite3.OperationalError:
        return 0


def test_the_daemon_reads_it_and_tells_the_organiser(
    run_cli: Cli, mailbox_project: Path, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = mailbox_project
    assert send(run_cli, config, "--segment", "everyone")[0] == 0
    invited = [s for (_, m), s in sent_emails(config).items() if m == "invitation"]
    dovecot.append([sample("bounce-postfix-user-unknown.eml", invited[0])])
    once = ("--config", str(config), "--now", "2021-04-06T12:00:00+02:00", "daemon", "--once")
    monkeypatch.delenv("MAILER_MAILBOX_PASSWORD")
    code, _, err = run_cli(*once)  # no password: the daemon does not start
    assert code == 2 and "export MAILER_MAILBOX_PASSWORD" in err
    monkeypatch.setenv("MAILER_MAILBOX_PASSWORD", PASSWORD)
    code, _, err = run_cli(*once)
    assert code == 0, err
    assert set(suppressions(config)) == {invited[0].address}
    notices = [
        message_from_bytes(path.read_bytes(), policy=policy.default)
        for path in (config.parent / "outbox" / "new").iterdir()
    ]
    (notice,) = [n for n in notices if "Adresses retirées" in str(n["Subject"])]
    assert notice["To"] == "rencontres@icom-france.example.org"
    assert invited[0].address in notice.get_content() and "5.1.1" in notice.get_content()
    monkeypatch.setenv("MAILER_MAILBOX_PASSWORD", "wrong")
    code, _, err = run_cli(*once)  # a mailbox that refuses the login: said, exit 75
    assert code == 75 and "refused the login of bounces" in err


def test_the_running_daemon_reads_it_beside_sending(
    run_cli: Cli, mailbox_project: Path, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = mailbox_project
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_KEY", DAEMON_KEY)  # the daemon's, signing the VERP
    edit(config, 'listen = "127.0.0.1:8025"', 'listen = "127.0.0.1:0"')
    assert send(run_cli, config, "--segment", "everyone")[0] == 0
    invited = [s for (_, m), s in sent_emails(config).items() if m == "invitation"]
    dovecot.append([sample("bounce-useless-body.eml", invited[0])])  # VERP alone names her
    dovecot.append([sample("bounce-postfix-user-unknown.eml", invited[1])])
    daemon = DaemonProcess(config, "2021-04-06T12:00:00+02:00")
    try:
        wait_until(lambda: set(suppressions(config)) == {invited[1].address}, 30, daemon.log)
        wait_until(lambda: dovecot.messages("INBOX") == [], 30, daemon.log)
        assert "mailbox: read 2 (2 bounce)" in daemon.log()
        health = daemon.health()
        assert health["status"] == "ok" and "mailbox" not in health
    finally:
        assert daemon.stop() == 0
    assert "Traceback" not in daemon.log()


def report(
    addresses: Sequence[str], *, status: str = "5.1.1", to: str = RETURN, quoted: str = ""
) -> bytes:
    """An RFC 3464 report from a host of anybody's, naming `addresses` (quoting the headers of
    an email with the Message-ID `quoted`, if given), sent to `to`."""
    blocks = "".join(
        f"\r\nFinal-Recipient: rfc822; {address}\r\nAction: failed\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 {status} User unknown\r\n"
        for address in addresses
    )
    headers = (
        "--forged\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Subject: Invitation\r\nMessage-ID: {quoted}\r\n\r\n"
        if quoted
        else ""
    )
    return (
        "Return-Path: <>\r\nFrom: MAILER-DAEMON@mx.attacker.example\r\n"
        f"To: {to}\r\nDelivered-To: {to}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        f"Message-Id: <forged.{time.time_ns()}@attacker.example>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=forged\r\n\r\n"
        "--forged\r\nContent-Type: text/plain\r\n\r\nUndelivered.\r\n\r\n"
        "--forged\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx.attacker.example\r\n{blocks}\r\n{headers}--forged--\r\n"
    ).encode()


@pytest.mark.parametrize("verp", [True, False], ids=["verp", "no-verp"])
def test_a_stranger_s_bounces_suppress_nobody(
    run_cli: Cli,
    project_dir: Path,
    dovecot: Dovecot,
    monkeypatch: pytest.MonkeyPatch,
    verp: bool,
) -> None:
    """What anybody can send (a report naming members, one naming all of them, Exim's
    X-Failed-Recipients, qmail's text, soft bounces, a report quoting someone else's or a
    computed Message-ID) suppresses nobody and is left for a person, with the addresses it
    names; only a bounce that proves it came back from the email's own recipient counts, for
    that one person."""
    config = reading_dovecot(project_dir, dovecot, monkeypatch, verp=verp)
    assert send(run_cli, config, "--segment", "everyone")[0] == 0
    emails = sent_emails(config)
    invited = {a: s for (a, m), s in emails.items() if m == "invitation"}
    p = sorted(invited)
    assert len(p) == 20

    def computed(address: str) -> str:
        """The Message-ID anybody could compute before they were keyed: a hash of the series,
        the session, the email and the address."""
        facts = f"{SERIES}\n2021-04-20\ninvitation\n{address}".encode()
        return f"<{hashlib.sha256(facts).hexdigest()[:24]}.20210420@icom-france.example.org>"

    forged = [
        sample("bounce-forged-about-a-stranger.eml", ADDRESS=p[0]),  # a report naming her
        report(p),  # one report naming all twenty
        report(p, quoted=invited[p[1]].message_id),  # ... quoting the email one of them got
        sample(  # Exim's text with X-Failed-Recipients, quoting a made-up email
            "bounce-exim-no-verp.eml", ADDRESS=p[2], MESSAGE_ID="<made.up@attacker.example>"
        ),
        report(["nobody@example.net"], quoted=invited[p[3]].message_id),  # another's email
        report([p[4]], quoted=computed(p[4])),  # the Message-ID of public facts
        sample("bounce-qmail.eml", ADDRESS=p[5]),
        *(report([p[6]], status="4.2.2") for _ in range(3)),  # soft, three times
    ]
    genuine = [  # what the recipients' own servers send back about p[7] and p[8]
        sample(
            "bounce-postfix-user-unknown.eml",
            invited[p[7]] if verp else Sent(p[7], invited[p[7]].message_id, RETURN),
        ),
        sample("bounce-exim-no-verp.eml", invited[p[8]]),  # to the plain return path
    ]
    dovecot.append([*forged, *genuine])
    code, out, err = run_cli(
        "--config", str(config), "--now", "2021-04-06T12:00:00+02:00", "mailbox"
    )
    assert code == 0, err
    # the report quoting p[1]'s own email names her too: without VERP that proves it, for
    # her alone (it came back from her email); with VERP only the return path counts, and
    # Exim's bounce to the plain return path is left for a person too
    expected = {p[7]} if verp else {p[1], p[7], p[8]}
    assert set(suppressions(config)) == expected, out
    left = len(forged) + 1 if verp else len(forged) - 1
    assert f"{left} left for a person" in out
    for_a_person = dovecot.messages(PERSON)
    assert len(for_a_person) == left
    assert all(b"\\Flagged" in flags for _, flags in for_a_person)
    for address in (p[0], p[2], p[5], p[6], "nobody@example.net"):
        assert f"naming {address}" in err or f", {address}" in err, err  # said, for a person
    code, out, _ = run_cli("--config", str(config), "suppressed")
    assert p[0] not in out and p[6] not in out


AUTHSERV = "mx.icom-france.example.org"


def test_a_calendar_reply_counts_only_when_it_proves_its_attendee_sent_it(
    run_cli: Cli, project_dir: Path, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reply answers the ORGANIZER signed for its attendee in their invitation, or our mail
    server vouches (DMARC, or DKIM aligned with From) that it comes from the attendee's own
    address; anything else (a stranger naming a member, a member answering for another,
    another server's word, a header added below ours) is left for a person."""
    config = reading_dovecot(
        project_dir, dovecot, monkeypatch, verp=True, mailbox=f'authserv_id = "{AUTHSERV}"\n'
    )
    assert send(run_cli, config, "--segment", "everyone")[0] == 0
    invited = {a: s for (a, m), s in sent_emails(config).items() if m == "invitation"}
    p = sorted(invited)
    uid = f"{SERIES}-20210420"
    assert all("+rsvp-" in invited[a].organizer for a in p)  # signed for each of them
    assert len({invited[a].organizer for a in p}) == len(p)

    def reply(attendee: str, organizer: str, *results: str, sender: str = "") -> bytes:
        text = calendar("ACCEPTED", attendee, uid, OUTLOOK, organizer)
        data = sample(
            "reply-outlook-accepted.eml",
            Sent(sender or attendee, invited[attendee].message_id, "", organizer),
            CALENDAR=text,
        )
        headers = "".join(f"Authentication-Results: {r}\r\n" for r in results)
        return headers.encode() + data

    plain = "rencontres@icom-france.example.org"
    dovecot.append(
        [
            reply(p[0], plain, sender="stranger@elsewhere.example"),  # public facts only
            reply(p[1], invited[p[2]].organizer, sender=p[2]),  # p[2] answering for p[1]
            reply(p[3], plain, "mx.elsewhere.example; dmarc=pass header.from=example.org"),
            reply(
                p[4],
                plain,
                f"{AUTHSERV}; dmarc=fail header.from=example.org",
                f"{AUTHSERV}; dmarc=pass header.from=example.org",  # written by the sender
            ),
            reply(p[5], invited[p[5]].organizer),  # her own invitation's ORGANIZER
            reply(
                p[6], plain, f"{AUTHSERV}; spf=pass; dmarc=pass (p=none) header.from=example.org"
            ),
            reply(p[7], plain, f"{AUTHSERV}; dkim=pass header.d=example.org header.s=s1"),
        ]
    )
    code, out, err = run_cli(
        "--config", str(config), "--now", "2021-04-06T12:00:00+02:00", "mailbox"
    )
    assert code == 0, err
    assert "3 calendar replies" in out and "4 left for a person" in out
    code, out, _ = run_cli("--config", str(config), "answers", "2021-04-20", "--json")
    answered = {p["address"] for p in json.loads(out)["people"] if p["answer"] != "none"}
    assert answered == {p[5], p[6], p[7]}, out
    for person in (p[1], p[3], p[4]):
        assert f"does not prove its attendee sent it, naming {person}" in err
