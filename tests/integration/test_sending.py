"""Sending through a real SMTP server that fails in chosen ways: what arrives, what the ledger
says, and that nobody is lost."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import icalendar
import pytest

from mailer.errors import EXIT_CONFLICT
from mailer.project.workspace import Workspace
from mailer.sending.plan import plan_from_ledger
from mailer.store.ledger import SendKey
from mailer.store.locks import sender_lock
from mailer.store.pauses import pause, resume
from tests.support.project import edit
from tests.support.sending import NOW, ledger, send, use_smtp
from tests.support.smtp_server import (
    Action,
    Fault,
    SmtpServer,
    Stage,
    make_certificate,
    server_tls_context,
)
from tests.support.stores import rows

Cli = Callable[..., tuple[int, str, str]]
EVERYONE = 20
ON_BOTH_STORES = True  # every test here runs on SQLite and on PostgreSQL


@pytest.fixture(autouse=True)
def signing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_KEY", "sending-tests-signing-key-0123456789")


def workspace_of(config: Path) -> Workspace:
    """The project's workspace, for a look at its state through mailer."""
    return Workspace(config, environ={"MAILER_UNSUBSCRIBE_KEY": "k" * 32})


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    with SmtpServer() as running:
        yield running


def attached_calendar(data: bytes) -> bytes:
    message = email.message_from_bytes(data, policy=email.policy.default)
    (attachment,) = [part for part in message.walk() if part.get_filename()]
    payload = attachment.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload


def test_everyone_gets_one_email_and_running_again_sends_nothing(
    run_cli: Cli, project_dir: Path, server: SmtpServer
) -> None:
    config = use_smtp(project_dir, server.port)
    code, out, err = send(run_cli, config)
    assert code == 0, err
    assert "This run: 20 sent, 0 failed" in out
    assert len(server.received) == EVERYONE
    assert set(server.recorder.by_recipient().values()) == {1}
    assert all(len(m.recipients) == 1 for m in server.received)
    assert ledger(config) == {"sent": EVERYONE}
    ids = server.recorder.message_ids()
    code, out, _ = send(run_cli, config)
    assert code == 0 and "Nothing to send" in out
    assert len(server.received) == EVERYONE
    stored = ledger(config, "message_id")
    assert set(stored) == set(ids)


def test_a_paused_send_is_not_sent_from_the_command_line_until_resumed(
    run_cli: Cli, project_dir: Path, server: SmtpServer
) -> None:
    config = use_smtp(project_dir, server.port)
    workspace = workspace_of(config)
    key = SendKey(workspace.project().config.series.id, dt.date(2021, 4, 20), "invitation")
    with workspace.state() as state:
        pause(state, key, "marie@icom-france.example.org", dt.datetime(2021, 4, 6, tzinfo=dt.UTC))
    code, _, err = send(run_cli, config)
    assert code == EXIT_CONFLICT and "is paused (by marie@icom-france.example.org" in err
    assert server.received == [] and "Traceback" not in err
    with workspace.state() as state:
        resume(state, key)
    code, _, err = send(run_cli, config)
    assert code == 0, err
    assert len(server.received) == EVERYONE


def test_limit_sends_a_few_and_the_next_run_the_rest(
    run_cli: Cli, project_dir: Path, server: SmtpServer
) -> None:
    config = use_smtp(project_dir, server.port)
    assert send(run_cli, config, "--limit", "7")[0] == 0
    assert len(server.received) == 7 and ledger(config) == {"sent": 7, "pending": 13}
    assert send(run_cli, config)[0] == 0
    assert len(server.received) == EVERYONE
    assert set(server.recorder.by_recipient().values()) == {1}


def test_the_plan_and_the_progress_say_what_happens(
    run_cli: Cli, project_dir: Path, server: SmtpServer
) -> None:
    """`--limit 3` said "to send now: 14"; a send of a second stayed at "1/14" for good (the
    progress line is throttled); "Send invitation (invitation) of session 6, Tuesday 04 May"."""
    config = use_smtp(project_dir, server.port)
    code, out, err = send(run_cli, config, "--limit", "3")
    assert code == 0, err
    assert "Send the invitation of session 6, Tuesday 20 April 2021 13:00 CEST" in out
    assert "to send now: 3 of 20 (20 new; --limit 3), through smtp" in out
    assert err.splitlines()[-1].startswith("[") and " 3/3  sent 3  failed 0" in err
    code, out, err = send(run_cli, config)
    assert "to send now: 17 (0 new), through smtp" in out
    assert " 17/17  sent 17  failed 0" in err.splitlines()[-1]
    moved = "moved_to = { date = 2021-05-04 }\n[title]"
    edit(project_dir / "sessions" / "2021-04-20.toml", "[title]", moved)
    code, out, _ = send(run_cli, config, "--dry-run", kind="update")
    assert "Send the update (update:1:" in out and "Tuesday 4 May 2021 13:00 CEST" in out


def test_a_proof_goes_to_one_address_in_each_language_and_is_not_recorded(
    run_cli: Cli, project_dir: Path, server: SmtpServer
) -> None:
    config = use_smtp(project_dir, server.port)
    code, out, _ = send(run_cli, config, "--to", "organiser@example.org")
    assert code == 0 and out.count("proof in ") == 3
    assert [m.recipients for m in server.received] == [["organiser@example.org"]] * 3
    languages = [m.data.split(b"Content-Language: ")[1][:2] for m in server.received]
    assert languages == [b"fr", b"en", b"es"]
    assert ledger(config) == Counter()


def test_a_dry_run_sends_and_records_nothing(
    run_cli: Cli, project_dir: Path, server: SmtpServer
) -> None:
    config = use_smtp(project_dir, server.port)
    code, out, _ = send(run_cli, config, "--dry-run")
    assert code == 0 and "to everyone: 20 people (en 9, es 3, fr 8)" in out
    assert server.received == [] and ledger(config) == Counter()


@pytest.mark.parametrize(
    ("stage", "reply"),
    [
        ("MAIL", "421 4.3.2 service shutting down"),
        ("MAIL", "451 4.3.0 local error"),
        ("RCPT", "452 4.5.3 too many recipients"),
        ("RCPT", "451 4.7.1 greylisted, come back later"),
        ("DATA", "451 4.3.0 queue file write error"),
        ("DATA", "454 4.7.0 temporary authentication failure"),
    ],
)
def test_temporary_replies_are_retried_and_everyone_arrives_once(
    run_cli: Cli, project_dir: Path, server: SmtpServer, stage: Stage, reply: str
) -> None:
    config = use_smtp(project_dir, server.port)
    server.add_fault(
        Fault(
            stage,
            reply=reply,
            recipient="" if stage == "MAIL" else "luc.martin",
            times=2,
        )
    )
    code, _, err = send(run_cli, config)
    assert code == 0, err
    assert set(server.recorder.by_recipient().values()) == {1}
    assert len(server.received) == EVERYONE
    assert ledger(config) == {"sent": EVERYONE}
    attempts = ledger(config, "attempts")
    # a refusal at RCPT or DATA concerns that message: an attempt each; at MAIL FROM (or a 421)
    # it is the relay's, before any recipient: no attempt is counted against anyone
    counted = 0 if stage == "MAIL" or reply.startswith("421") else 2
    assert sum(n * count for n, count in attempts.items()) == EVERYONE + counted


def test_a_hard_bounce_fails_that_recipient_and_suppresses_the_address(
    run_cli: Cli, project_dir: Path, server: SmtpServer
) -> None:
    config = use_smtp(project_dir, server.port)
    server.add_fault(
        Fault(
            "RCPT",
            reply="550 5.1.1 <luc.martin@example.org>: no such user",
            recipient="luc.martin",
            times=None,
        )
    )
    server.add_fault(
        Fault("RCPT", reply="552 5.2.2 mailbox full", recipient="anna.smith", times=None)
    )
    server.add_fault(
        Fault("DATA", reply="554 5.7.1 message refused", recipient="john.carter", times=None)
    )
    code, out, _ = send(run_cli, config)
    assert code == 0 and "17 sent, 3 failed" in out
    assert ledger(config) == {"sent": 17, "failed": 3}
    assert {
        "luc.martin@example.org",
        "anna.smith@example.org",
        "john.carter@example.org",
    }.isdisjoint(server.recorder.by_recipient())
    code, out, _ = run_cli("--config", str(config), "suppressed", "--json")
    (bounced,) = json.loads(out)
    assert (bounced["address"], bounced["kind"]) == ("luc.martin@example.org", "bounced")
    assert bounced["reason"].startswith("RCPT: 550 5.1.1")
    code, out, _ = run_cli("--config", str(config), "status", "--json")
    (status,) = json.loads(out)
    reasons = {error["reason"] for error in status["errors"]}
    assert "552 RCPT: 552 5.2.2 mailbox full" in reasons


def test_a_refused_sender_stops_the_send_without_failing_anyone(
    run_cli: Cli, project_dir: Path, server: SmtpServer
) -> None:
    config = use_smtp(project_dir, server.port)
    server.add_fault(Fault("MAIL", reply="550 5.7.1 sender not allowed", times=1))
    code, _, err = send(run_cli, config)
    assert code == 2 and "the server refused the sender: 550 5.7.1 sender not allowed" in err
    # the other connections may have sent a message or two before the stop: nobody failed
    states = ledger(config)
    assert "failed" not in states and states["pending"] + states["sent"] == EVERYONE
    code, _, err = send(run_cli, config)
    assert code == 0, err
    assert len(server.received) == EVERYONE and ledger(config) == {"sent": EVERYONE}


def test_a_relay_refusing_everyone_is_a_configuration_problem(
    run_cli: Cli, project_dir: Path, server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mailer.sending.verdicts.BREAKER", 5)
    config = use_smtp(project_dir, server.port, connections=1)
    server.add_fault(Fault("RCPT", reply="550 5.7.1 relaying denied", times=None))
    code, _, err = send(run_cli, config)
    assert code == 2 and "refused the first 5 recipients and accepted none" in err
    assert "failed" not in ledger(config)
    code, out, _ = run_cli("--config", str(config), "suppressed")
    assert out.strip() == "No suppressed address."


@pytest.mark.parametrize("action", ["drop_before_dot", "drop_after_dot", "slow", "drip"])
def test_connections_lost_or_too_slow_lose_no_one(
    run_cli: Cli, project_dir: Path, server: SmtpServer, action: Action
) -> None:
    config = use_smtp(project_dir, server.port, timeout=1, deadline=2)
    server.add_fault(
        Fault(
            "DATA",
            action=action,
            recipient="chloe",
            delay=3.0 if action == "slow" else 0.4,
        )
    )
    code, _, err = send(run_cli, config)
    assert code == 0, err
    received = server.recorder.by_recipient()
    assert set(received) >= {"chloe.lefevre@example.org"} and len(received) == EVERYONE
    assert ledger(config) == {"sent": EVERYONE}
    ids = server.recorder.message_ids()
    if action == "drop_before_dot":
        assert received["chloe.lefevre@example.org"] == 1  # nothing arrived the first time
    else:
        # it arrived, but we could not know: sent again, and the twin has the same Message-ID
        assert received["chloe.lefevre@example.org"] == 2
        assert sorted(ids.values()) == [1] * (EVERYONE - 1) + [2]


def test_starttls_is_required_when_configured(
    run_cli: Cli, project_dir: Path, server: SmtpServer
) -> None:
    config = use_smtp(project_dir, server.port, security="starttls")
    code, _, err = send(run_cli, config)
    assert code == 2 and "does not offer STARTTLS: refusing to send in clear" in err
    assert server.received == [] and ledger(config) == {"pending": EVERYONE}


def test_tls_certificates_are_verified(run_cli: Cli, project_dir: Path, tmp_path: Path) -> None:
    certificate, key = make_certificate(tmp_path)
    with SmtpServer(tls=server_tls_context(certificate, key)) as tls_server:
        config = use_smtp(project_dir, tls_server.port, security="starttls")
        code, _, err = send(run_cli, config)
        assert code == 2 and "cannot be verified (self-signed certificate)" in err
        assert tls_server.received == []
        assert ledger(config) == {"pending": EVERYONE}  # nobody failed: nothing was theirs
        text = config.read_text(encoding="utf-8")
        config.write_text(
            text.replace(
                'security = "starttls"', f'security = "starttls"\nca_file = "{certificate}"'
            ),
            encoding="utf-8",
        )
        tls_server.add_fault(Fault("STARTTLS", reply="454 4.7.0 TLS not available now"))
        code, _, err = send(run_cli, config)
        assert code == 0, err
        assert len(tls_server.received) == EVERYONE


def test_a_send_after_the_session_started_is_refused_and_shown(
    run_cli: Cli, project_dir: Path, server: SmtpServer
) -> None:
    config = use_smtp(project_dir, server.port)
    code, _, err = run_cli(
        "--config",
        str(config),
        "--now",
        "2021-04-20T13:05:00+02:00",
        "--real-mail",
        "send",
        "2021-04-20",
        "--kind",
        "reminder",
        "--yes",
    )
    assert code == 1 and "too late: the deadline (2021-04-20 13:00 CEST) has passed" in err
    assert server.received == []
    assert ledger(config) == Counter()  # nothing recorded: a clock set wrong costs nobody


def test_a_kind_the_session_cannot_have_is_refused_before_anything_is_recorded(
    run_cli: Cli, project_dir: Path, server: SmtpServer
) -> None:
    config = use_smtp(project_dir, server.port)
    code, _, err = send(run_cli, config, kind="cancellation")
    assert code == 2 and "the session of 2021-04-20 is not cancelled" in err
    assert server.received == []
    assert ledger(config) == Counter()  # no pending rows left behind
    code, out, _ = run_cli("--config", str(config), "status")
    assert "cancellation" not in out


@pytest.mark.sqlite_only  # with PostgreSQL senders share a send (tests/system/test_senders.py)
def test_a_second_sender_is_refused_while_one_sends(
    run_cli: Cli, project_dir: Path, server: SmtpServer
) -> None:
    config = use_smtp(project_dir, server.port)
    with sender_lock(project_dir / "state" / "mailer.db"):
        code, _, err = send(run_cli, config)
    assert code == 3 and "another mailer process holds the sending lock (pid " in err
    assert server.received == []


def test_confirmation_is_required_without_a_terminal(
    run_cli: Cli, project_dir: Path, server: SmtpServer
) -> None:
    config = use_smtp(project_dir, server.port)
    code, _, err = run_cli(
        "--config",
        str(config),
        "--now",
        NOW,
        "--real-mail",
        "send",
        "2021-04-20",
        "--kind",
        "invitation",
    )
    assert code == 2 and "add --yes" in err and ledger(config) == Counter()


def test_an_update_goes_to_those_already_served(
    run_cli: Cli, project_dir: Path, server: SmtpServer
) -> None:
    config = use_smtp(project_dir, server.port)
    assert send(run_cli, config, "--segment", "partners")[0] == 0
    session = project_dir / "sessions" / "2021-04-20.toml"
    session.write_text(
        session.read_text(encoding="utf-8").replace(
            "[title]", "moved_to = { date = 2021-04-27 }\n[title]"
        ),
        encoding="utf-8",
    )
    code, out, _ = run_cli(
        "--config",
        str(config),
        "--now",
        NOW,
        "--real-mail",
        "send",
        "2021-04-20",
        "--kind",
        "update",
        "--yes",
    )
    assert code == 0 and "to everyone sent an earlier email: 5 people" in out
    updates = server.received[5:]
    assert {m.recipients[0] for m in updates} == {m.recipients[0] for m in server.received[:5]}
    for message in updates:
        (event,) = icalendar.Calendar.from_ical(attached_calendar(message.data)).events
        assert event.sequence == 1 and event.uid == "icom-france-solidarites-musees-20210420"
        assert event.start.isoformat() == "2021-04-27T13:00:00+02:00"


def test_an_update_says_what_changed_since_the_email_people_had(
    run_cli: Cli, project_dir: Path, server: SmtpServer
) -> None:
    config = use_smtp(project_dir, server.port)
    assert send(run_cli, config, "--segment", "partners")[0] == 0
    session = project_dir / "sessions" / "2021-04-20.toml"
    text = session.read_text(encoding="utf-8")
    old_title = tomllib.loads(text)["title"]["en"]
    changed = text.replace(old_title, "Networks, for what?").replace("Bruno Maquart", "Ana García")
    session.write_text(changed, encoding="utf-8")
    edit(config, 'passcode = "662299"', 'passcode = "123456"')
    assert send(run_cli, config, kind="update")[0] == 0
    updates = server.received[5:]
    assert len(updates) == 5
    english = [m for m in updates if b"Content-Language: en" in m.data]
    assert english
    parsed = email.message_from_bytes(english[0].data, policy=email.policy.default)
    plain = parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "What changes:" in plain
    assert f"- New title: Networks, for what? (was {old_title})" in plain
    assert "- New speakers: Ana García; No longer speaking: Bruno Maquart" in plain
    html = parsed.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert f"<s>{old_title}</s>" in html.replace("&nbsp;", "\u00a0")
    assert "- New Zoom link or codes: use the ones below." in plain and "123456" in plain
    # a daemon that helps send it (not its planner) tells the same changes
    workspace = workspace_of(config)
    sends = rows(config, "SELECT message FROM sends")
    message = next(r["message"] for r in sends if r["message"].startswith("update:"))
    key = SendKey(workspace.project().config.series.id, dt.date(2021, 4, 20), message)
    with workspace.state() as state:
        helped = plan_from_ledger(workspace.project(), state, key, "update", workspace.now())
        assert helped.told_before is not None
        assert helped.told_before["title"]["en"] == old_title


def test_undoing_a_cancellation_says_the_session_is_back_on(
    run_cli: Cli, project_dir: Path, server: SmtpServer
) -> None:
    config = use_smtp(project_dir, server.port)
    assert send(run_cli, config, "--segment", "partners")[0] == 0
    session = project_dir / "sessions" / "2021-04-20.toml"
    planned = session.read_text(encoding="utf-8")
    session.write_text(planned.replace("[title]", 'status = "cancelled"\n[title]'), "utf-8")
    assert send(run_cli, config, kind="cancellation")[0] == 0
    session.write_text(planned, encoding="utf-8")  # it takes place after all
    code, _, err = send(run_cli, config, kind="update")
    assert code == 0, err
    updates = server.received[10:]
    assert len(updates) == 5
    for message in updates:
        parsed = email.message_from_bytes(message.data, policy=email.policy.default)
        subject = str(parsed["Subject"])
        text = parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert subject.startswith(("Back on: ", "Rétablie : ")), subject
        assert "back on" in text or "rétablie" in text, text


def test_meeting_invitations_offer_no_add_links_beside_accept(
    run_cli: Cli, project_dir: Path, server: SmtpServer
) -> None:
    """In request mode the calendar shows Accept: "add to Google/Outlook" links and the
    feed would put the session in twice."""
    config = use_smtp(project_dir, server.port)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('method = "publish"', 'method = "request"'), "utf-8")
    assert send(run_cli, config, "--segment", "partners")[0] == 0
    for message in server.received:
        parsed = email.message_from_bytes(message.data, policy=email.policy.default)
        html = parsed.get_body(("html",)).get_content()  # type: ignore[union-attr]
        plain = parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "calendar.google.com" not in html and "outlook.live.com" not in html
        assert "webcal://" not in html and "webcal://" not in plain
        assert "/c/20210420/" not in plain
        assert "Accept this invitation" in plain or "Acceptez cette invitation" in plain


@pytest.mark.parametrize("method", ["request", "publish"])
def test_the_organizer_on_a_list_is_never_its_own_meeting_s_attendee(
    run_cli: Cli, project_dir: Path, server: SmtpServer, method: str
) -> None:
    """Outlook answers "you are the organizer" to an invitation whose ATTENDEE is its
    ORGANIZER: in request mode that address is left out, and check and send say so (it is
    an ordinary recipient of an event to add in publish mode)."""
    config = use_smtp(project_dir, server.port)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('method = "publish"', f'method = "{method}"'), "utf-8")
    members = project_dir / "recipients" / "members.csv"
    with members.open("a", encoding="utf-8") as file:
        file.write("Rencontres@ICOM-france.example.org,Nous,fr,member,,\n")
    line = len(members.read_text(encoding="utf-8").splitlines())
    _, _, err = run_cli("--config", str(config), "check", "--offline")
    warned = f"members.csv:{line}: warning: Rencontres@icom-france.example.org is the calendar's"
    assert (warned in err) == (method == "request"), err
    code, out, err = send(run_cli, config)
    assert code == 0, err
    told = "the calendar's organizer left out (it cannot be its own attendee)" in out
    assert told == (method == "request"), out
    organizer = "rencontres@icom-france.example.org"
    reached = {r.casefold() for m in server.received for r in m.recipients}
    assert (organizer in reached) == (method == "publish")
    assert len(server.received) == EVERYONE + (method == "publish")
    assert ledger(config) == {"sent": EVERYONE + (method == "publish")}  # nobody left waiting
