"""`mailer mailbox` and the daemon's mailbox round: read every incoming email once, act on
bounces, emailed unsubscribes and calendar replies, and file everything (what mailer acted on
into `processed`, the rest flagged into `for_a_person`). Never deletes, never replies.

Crash-safe by order: an email's effect and its outcome are committed together in the state
file, and only then is it filed in the mailbox. Killed between the two, the next run finds the
outcome recorded and only files it; nothing is counted twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Protocol

from mailer.audience.addresses import Address, parse_address
from mailer.audience.return_path import is_rsvp_address
from mailer.config.settings import Config, MailboxSettings
from mailer.errors import InvalidAddress
from mailer.inbound.bounces import BounceReport, Failure
from mailer.inbound.classify import (
    Bounced,
    Context,
    ForAPerson,
    Replied,
    Unsubscribed,
    Verdict,
    classify,
    message_key,
    parse,
)
from mailer.messages.mime import organiser_domain
from mailer.project.load import Project
from mailer.store.inbox import (
    Bounce,
    Outcome,
    outcome_of,
    record_bounces,
    record_for_a_person,
    record_reply,
    record_unsubscribe,
    sent_as,
    was_sent,
)
from mailer.store.state import State

log = logging.getLogger("mailer.mailbox")


class Inbox(Protocol):
    """What reading needs of a mailbox (`mailer.mailbox.imap.ImapMailbox` is one)."""

    def messages(self) -> Iterator[tuple[int, bytes]]: ...

    def file(self, uid: int, folder: str, *, flag: bool = False) -> None: ...


@dataclass
class MailboxRound:
    """What one reading of the mailbox did."""

    read: int = 0
    filed_again: int = 0  # processed by an earlier run that stopped before filing them
    outcomes: Counter[str] = field(default_factory=Counter)
    suppressed: list[tuple[str, str]] = field(default_factory=list)  # (address, why)
    answers: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)  # what deserves a look (also logged)
    stopped: bool = False


def context_of(config: Config, key: bytes) -> Context:
    domain = organiser_domain(config)
    authserv_id = config.mailbox.authserv_id if config.mailbox is not None else None
    return Context(key=key, series_id=config.series.id, domain=domain, authserv_id=authserv_id)


def _reply_proven(config: Config, key: bytes, verdict: Replied, attendee: Address) -> bool:
    """Whether a calendar reply proves that its attendee sent it (docs/mailbox.md): it answers
    the ORGANIZER signed for them in their invitation (quoted in the reply, or the address it
    was delivered to), or our mail server vouches that it comes from their address."""
    reply = verdict.reply
    candidates = [reply.organizer or "", *verdict.addressed_to]
    if any(
        is_rsvp_address(key, reply.series, reply.session, attendee.key, address)
        for address in candidates
    ):
        return True
    sender = _address(config, verdict.authenticated) if verdict.authenticated else None
    return sender is not None and sender.key == attendee.key


def _address(config: Config, text: str) -> Address | None:
    try:
        return parse_address(text, case_sensitive_local=config.mailing.case_sensitive_local)
    except InvalidAddress:
        return None


def _same_address(config: Config, one: str, other: str) -> bool:
    first, second = _address(config, one), _address(config, other)
    return first is not None and second is not None and first.key == second.key


def _bounces(config: Config, state: State, verdict: Bounced) -> tuple[list[Bounce], str | None]:
    """Who a bounce is about: at most one person, and only on proof (docs/mailbox.md). The
    proof is the email it bounced, named by something only its recipient's servers know: the
    signed return path it came back to (VERP), or (without `[sending] verp`) its keyed
    Message-ID, quoted in the report, of an email sent to the very address the report names.
    Nothing else counts (a report that names a member, X-Failed-Recipients, a plain-text
    guess): such a bounce is left for a person. The second value says why, when nobody."""
    report: BounceReport = verdict.report
    failures = report.failures
    if verdict.returned_for is not None:
        sent = sent_as(state, verdict.returned_for)
        address = _address(config, sent.address) if sent is not None else None
        if sent is None or address is None:
            return [], "a bounce to a return path of an email no longer in the ledger"
        return _worst(address, failures, sent.message_id), None
    if config.delivery.sending.verp:
        return [], "a bounce that did not come back to a signed return path"
    if report.original_id is None:
        return [], "a bounce that quotes no email of ours"
    sent = sent_as(state, report.original_id)
    if sent is None:
        return [], "a bounce that quotes an email mailer did not send"
    address = _address(config, sent.address)
    theirs = [f for f in failures if _same_address(config, f.address, sent.address)]
    if address is None or (failures and not theirs):
        return [], "a bounce about another address than the one its quoted email went to"
    return _worst(address, theirs, sent.message_id), None


def _worst(address: Address, failures: Sequence[Failure], sent: str) -> list[Bounce]:
    """The one bounce counted for `address`: the worst failure the report gives (none for a
    delay warning)."""
    if not failures:
        return []
    worst = max(failures, key=lambda f: (f.permanent, bool(f.status)))
    return [Bounce(address, worst.permanent, worst.status, worst.diagnostic, sent)]


def _apply(
    config: Config,
    state: State,
    key: str,
    verdict: Verdict,
    *,
    signing_key: bytes,
    now: dt.datetime,
    done: MailboxRound,
    capacities: Mapping[dt.date, int],
) -> Outcome:
    """Record what `verdict` means, with its effect, in one transaction; the outcome."""
    settings = config.mailbox
    assert settings is not None
    if isinstance(verdict, Bounced):
        bounces, unproven = _bounces(config, state, verdict)
        if unproven is None:
            for address, why in record_bounces(
                state,
                key,
                bounces,
                now,
                soft_limit=settings.soft_bounces,
                window=settings.soft_window,
            ):
                log.warning("SUPPRESSED %s: %s", address.email, why)
                done.suppressed.append((address.email, why))
            return "bounce"
        named = sorted({failure.address for failure in verdict.report.failures})
        verdict = ForAPerson(unproven, suspicious=True, named=tuple(named))
    if isinstance(verdict, Unsubscribed):
        asking = _address(config, verdict.address)
        if asking is not None:
            if record_unsubscribe(state, key, asking, now):
                log.warning("SUPPRESSED %s: emailed unsubscribe", asking.email)
                done.suppressed.append((asking.email, "emailed unsubscribe"))
            return "unsubscribe"
        verdict = ForAPerson("an unsubscribe for an address that is not valid")
    if isinstance(verdict, Replied):
        reply = verdict.reply
        attendee = _address(config, reply.attendee)
        if attendee is None or not was_sent(state, reply.series, reply.session, attendee.key):
            verdict = ForAPerson("a calendar reply from someone mailer did not invite", True)
        elif not _reply_proven(config, signing_key, verdict, attendee):
            verdict = ForAPerson(
                "a calendar reply that does not prove its attendee sent it", True, (attendee.email,)
            )
        else:
            record_reply(state, key, reply, attendee, now, capacity=capacities.get(reply.session))
            log.info("ANSWERED %s: %s (%s)", attendee.email, reply.answer, reply.session)
            done.answers[reply.answer] += 1
            return "reply"
    assert isinstance(verdict, ForAPerson)
    if verdict.suspicious:
        naming = f", naming {', '.join(verdict.named)}" if verdict.named else ""
        log.warning("left for a person (%s%s): %s", verdict.why, naming, key)
        done.warnings.append(f"left for a person ({verdict.why}{naming}): {key}")
    record_for_a_person(state, key, verdict.why, now)
    return "person"


def _verdict(message: EmailMessage, context: Context) -> Verdict:
    """What an email is; one that mailer cannot read (a bug, or input nobody foresaw) is left
    for a person, so that it never stops the reading of every email after it, run after run."""
    try:
        return classify(message, context)
    except Exception:
        log.exception("an email mailer could not read is left for a person")
        return ForAPerson("an email mailer could not read", suspicious=True)


def capacities(project: Project) -> dict[dt.date, int]:
    """The places of the sessions that have a limit, by scheduled date."""
    return {
        day: content.capacity
        for day, content in project.sessions.items()
        if content.capacity is not None
    }


def read_inbox(
    config: Config,
    state: State,
    inbox: Inbox,
    key: bytes,
    now: dt.datetime,
    *,
    should_stop: Callable[[], bool] = lambda: False,
    capacities: Mapping[dt.date, int] | None = None,
) -> MailboxRound:
    """Process every email in the mailbox's folder once (see the module's docstring).
    `capacities`: the places of the sessions that have a limit (a yes beyond waits)."""
    settings = config.mailbox
    assert settings is not None, "no [mailbox] in config.toml"
    context = context_of(config, key)
    done = MailboxRound()
    for uid, data in inbox.messages():
        if should_stop():
            done.stopped = True
            break
        message = parse(data)
        incoming = message_key(message, data)
        outcome = outcome_of(state, incoming)
        if outcome is None:
            verdict = _verdict(message, context)
            outcome = _apply(
                config,
                state,
                incoming,
                verdict,
                signing_key=key,
                now=now,
                done=done,
                capacities=capacities or {},
            )
        else:
            done.filed_again += 1
        person = outcome == "person"
        inbox.file(uid, settings.for_a_person if person else settings.processed, flag=person)
        done.read += 1
        done.outcomes[outcome] += 1
    return done


def round_summary(done: MailboxRound, settings: MailboxSettings) -> str:
    """One paragraph: what a reading of the mailbox did."""
    outcomes = done.outcomes
    parts = [
        f"{outcomes['bounce']} bounce{'s' * (outcomes['bounce'] != 1)}",
        f"{outcomes['unsubscribe']} emailed unsubscribe{'s' * (outcomes['unsubscribe'] != 1)}",
        f"{outcomes['reply']} calendar repl{'ies' if outcomes['reply'] != 1 else 'y'}",
    ]
    text = f"Read {done.read} email{'s' * (done.read != 1)}: " + ", ".join(parts)
    text += f"; {outcomes['person']} left for a person in '{settings.for_a_person}'."
    if done.filed_again:
        text += f" ({done.filed_again} processed by an earlier run were only filed.)"
    if done.suppressed:
        text += f"\nSuppressed {len(done.suppressed)}:"
        text += "".join(f"\n  {address}: {why}" for address, why in done.suppressed)
    if done.answers:
        text += "\nAnswers: " + ", ".join(f"{n} {a}" for a, n in sorted(done.answers.items()))
    return text
