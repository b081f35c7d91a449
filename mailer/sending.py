"""Sends, planned then applied: who gets which email, then the engine sends it.

`plan_send` resolves the audience and compares it with the ledger without writing anything (it
is what `--dry-run` shows, and what the organiser confirms); `record_plan` writes the rows, and
`run_send` sends them. `mailer send` and the daemon both go through here, holding the sender lock.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from mailer.addresses import parse_address
from mailer.audience import ListReader, audience, list_columns, segments_named
from mailer.compose import Composer, Outgoing
from mailer.config import Config
from mailer.engine import Engine, RunResult, Tally
from mailer.errors import InvalidInput, Problem
from mailer.ledger import OPEN, Ledger, SendKey
from mailer.model import Occurrence
from mailer.recipients import Recipient
from mailer.recurrence import find_occurrence
from mailer.revision_store import session_revision
from mailer.revisions import Revision
from mailer.segments import EVERYONE, Resolution
from mailer.state import State
from mailer.suppression import suppress, suppressed_keys
from mailer.templates import Kind
from mailer.transport.base import Transport
from mailer.transport.outbox import OutboxTransport
from mailer.transport.smtp import SmtpTransport
from mailer.workspace import Workspace


@dataclass(frozen=True)
class SendRequest:
    day: dt.date
    kind: Kind
    segments: tuple[str, ...] = ()
    limit: int | None = None
    message: str | None = None  # the ledger key; default from the kind
    deadline: dt.datetime | None = None  # default: when the session starts


@dataclass
class SendPlan:
    """What a send would do, before anything is written."""

    key: SendKey
    kind: Kind
    occurrence: Occurrence
    revision: Revision
    segments: tuple[str, ...]
    deadline: dt.datetime
    audience: Callable[[], Iterator[Recipient]]  # resolves the recipients afresh, streaming
    people: int
    resolution: Resolution
    problems: list[Problem]
    existing: Counter[str] = field(default_factory=Counter)
    new: int = 0

    @property
    def to_send(self) -> int:
        """Deliveries this run would send: the new ones and those still pending or to retry."""
        return self.new + sum(self.existing[s] for s in OPEN)

    def too_late(self, now: dt.datetime) -> bool:
        return now >= self.deadline


def message_key(kind: Kind, revision: Revision) -> str:
    """The ledger's name of an email: an update is per revision, so each change gets one."""
    return f"update:{revision.sequence}" if kind == "update" else kind


def plan_send(
    workspace: Workspace, state: State, request: SendRequest, now: dt.datetime
) -> SendPlan:
    """Resolve who would get the email, and what the ledger already says. Writes no delivery."""
    project = workspace.project()
    config = project.config
    occurrence = find_occurrence(config.series, project.sessions, request.day)
    if occurrence.content is None:
        raise InvalidInput(
            f"the session of {occurrence.scheduled} has no file "
            f"({config.series.sessions_dir}/{occurrence.scheduled}.toml): "
            "nothing is sent with blanks"
        )
    revision = session_revision(state, config, occurrence, now)
    key = SendKey(
        config.series.id,
        occurrence.scheduled,
        request.message or message_key(request.kind, revision),
    )
    ledger = Ledger(state)
    blocked = suppressed_keys(state)
    if not request.segments and request.kind in ("update", "cancellation"):
        # whoever was sent something about this session may have it in their calendar
        segments: tuple[str, ...] = ()

        def people(resolution: Resolution, reader: ListReader) -> Iterator[Recipient]:  # noqa: ARG001
            for recipient in ledger.served(config.series.id, occurrence.scheduled, ""):
                if recipient.key in blocked:
                    resolution.suppressed += 1
                    continue
                counts = resolution.per_language
                counts[recipient.language] = counts.get(recipient.language, 0) + 1
                yield recipient

    else:
        segments = request.segments or (EVERYONE,)
        chosen = segments_named(project, segments)

        def people(resolution: Resolution, reader: ListReader) -> Iterator[Recipient]:
            return audience(reader, chosen, blocked, resolution, occurrence.scheduled)

    # A first pass counts (what the organiser confirms); recording resolves again, streaming
    # into the ledger: 100,000 recipients are never all in memory.
    resolution, reader = Resolution(), ListReader(project)
    known = ledger.recipients(key)
    count = new = 0
    for recipient in people(resolution, reader):
        count += 1
        new += recipient.key not in known
    return SendPlan(
        key,
        request.kind,
        occurrence,
        revision,
        segments,
        request.deadline or occurrence.start,
        lambda: people(Resolution(), ListReader(project)),
        count,
        resolution,
        [*reader.report.all_problems(), *resolution.merged],
        existing=ledger.counts(key),
        new=new,
    )


def record_plan(state: State, plan: SendPlan, now: dt.datetime) -> int:
    """Write the plan's deliveries to the ledger (before anything is sent)."""
    return Ledger(state).plan(
        plan.key,
        plan.kind,
        segments=plan.segments,
        deadline=plan.deadline,
        recipients=plan.audience(),
        now=now,
        sequence=plan.revision.sequence,
    )


def make_transport(config: Config, workspace: Workspace) -> Transport:
    """The configured transport; the SMTP password comes from the environment."""
    delivery = config.delivery
    if delivery.kind == "outbox":
        return OutboxTransport(workspace.project().path(delivery.outbox))
    smtp = delivery.smtp
    password = workspace.environ.get(smtp.password_env)
    if smtp.username and not password:
        raise InvalidInput(
            f"[smtp] username is set but the password is not: export {smtp.password_env}=..."
        )
    ca_file = str(workspace.project().path(smtp.ca_file)) if smtp.ca_file else None
    return SmtpTransport(smtp, password, ca_file=ca_file)


def composer_for(
    workspace: Workspace, plan: SendPlan, now: dt.datetime, message: str | None = None
) -> Composer:
    project = workspace.project()
    config = project.config
    return Composer(
        config=config,
        templates=workspace.templates(),
        occurrence=plan.occurrence,
        kind=plan.kind,
        message_key=message or plan.key.message,
        revision=plan.revision,
        now=now,
        signing_key=workspace.signing_key(),
        field_names=list_columns(project),
        envelope_from=config.delivery.sending.envelope_from,
    )


async def run_send(
    workspace: Workspace,
    state: State,
    plan: SendPlan,
    *,
    transport: Transport,
    on_progress: Callable[[Tally], None] = lambda _: None,
    on_engine: Callable[[Engine], None] = lambda _: None,
    limit: int | None = None,
    recover: bool = True,
) -> RunResult:
    """Send the plan's deliveries (holding the sender lock). `on_engine` gets the engine,
    so that the caller can stop it."""
    config = workspace.project().config
    composer = composer_for(workspace, plan, workspace.now())

    def bounce(message: Outgoing, reason: str) -> None:
        suppress(state, parse_address(message.recipient), "bounced", reason, workspace.now())

    engine = Engine(
        ledger=Ledger(state),
        composer=composer,
        transport=transport,
        sending=config.delivery.sending,
        smtp=config.delivery.smtp,
        key=plan.key,
        deadline=plan.deadline,
        clock=workspace.now,
        suppressed=lambda: suppressed_keys(state),
        on_bounce=bounce,
        on_progress=on_progress,
        limit=limit,
        recover=recover,
    )
    on_engine(engine)
    return await engine.run()


async def send_proofs(
    workspace: Workspace, plan: SendPlan, address: str, transport: Transport
) -> list[tuple[str, str]]:
    """One copy of the email in each language to `address` (not recorded in the ledger)."""
    parsed = workspace.address(address)
    now = workspace.now()
    proof_key = f"proof:{plan.key.message}:{now.timestamp():.0f}:{os.getpid()}"
    composer = composer_for(workspace, plan, now, proof_key)
    lane = await transport.open_lane()
    replies = []
    try:
        for language in workspace.project().config.series.languages:
            proof = Recipient(
                email=parsed.email,
                key=parsed.key,
                language=language,
                name="",
                ascii_email=parsed.ascii_email,
            )
            replies.append((language, await lane.send(composer.compose(proof))))
    finally:
        await lane.close()
    return replies
