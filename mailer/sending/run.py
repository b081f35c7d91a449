"""Applying a recorded plan: the composer of the send, the engine that sends it, and proofs.

`mailer send`, its worker processes and the daemon all send through `run_send`, holding the
sender lock.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable

from mailer.audience.addresses import Address, parse_address
from mailer.errors import SendPaused
from mailer.messages.compose import Composer
from mailer.messages.context import Proof
from mailer.messages.templates import TemplateSet
from mailer.model import Outgoing, Recipient
from mailer.project.lists import list_columns
from mailer.project.load import Project
from mailer.recurrence import next_occurrence
from mailer.sending.engine import Engine
from mailer.sending.plan import SendPlan
from mailer.sending.progress import RunResult, Tally
from mailer.store.ledger import Ledger
from mailer.store.pauses import paused
from mailer.store.state import State
from mailer.store.suppression import suppress, suppressed_keys
from mailer.transport.base import Transport


def composer_for(
    project: Project,
    templates: TemplateSet,
    plan: SendPlan,
    *,
    now: dt.datetime,
    signing_key: bytes,
    message: str | None = None,
    proof: Proof | None = None,
    signed_replies: bool = True,
) -> Composer:
    """The composer of the plan's email (`message`: another ledger key, and `proof`: the real
    send's audience, for proofs; `signed_replies`: False for a session whose invitations went
    out before their ORGANIZER was signed)."""
    config = project.config
    return Composer(
        config=config,
        templates=templates,
        occurrence=plan.occurrence,
        kind=plan.kind,
        message_key=message or plan.key.message,
        revision=plan.revision,
        now=now,
        signing_key=signing_key,
        field_names=list_columns(project),
        envelope_from=config.delivery.sending.envelope_from,
        proof=proof,
        signed_replies=signed_replies,
        restored=plan.restored,
        next_session=next_occurrence(config.series, project.sessions, plan.occurrence),
        told=plan.told_before,
    )


async def run_send(
    project: Project,
    templates: TemplateSet,
    state: State,
    plan: SendPlan,
    *,
    signing_key: bytes,
    transport: Transport,
    clock: Callable[[], dt.datetime],
    on_progress: Callable[[Tally], None] = lambda _: None,
    on_engine: Callable[[Engine], None] = lambda _: None,
    limit: int | None = None,
    recover: bool = True,
    wait_for_retries: dt.timedelta | None = None,
) -> RunResult:
    """Send the plan's deliveries (holding the sender lock). `on_engine` gets the engine,
    so that the caller can stop it; `wait_for_retries` overrides `[sending] wait_for_retries`
    (the daemon: zero)."""
    config = project.config
    templates.require(config.series.languages, plan.kind)  # before anything is sent
    if (held := paused(state, plan.key)) is not None:
        raise SendPaused(
            f"the {plan.kind} of {plan.key.session} is paused (by {held.by}, "
            f"{held.at:%Y-%m-%d %H:%M} UTC): resume it on its page first"
        )
    ledger = Ledger(state, lease=config.lease.total_seconds())
    composer = composer_for(
        project,
        templates,
        plan,
        now=clock(),
        signing_key=signing_key,
        signed_replies=not ledger.sent_before_keyed(config.series.id, plan.key.session),
    )

    def bounce(message: Outgoing, reason: str) -> None:
        suppress(state, parse_address(message.recipient), "bounced", reason, clock())

    engine = Engine(
        ledger=ledger,
        composer=composer,
        transport=transport,
        sending=config.delivery.sending,
        smtp=config.delivery.smtp,
        key=plan.key,
        deadline=plan.deadline,
        clock=clock,
        suppressed=lambda: suppressed_keys(state, plan.kind),
        on_bounce=bounce,
        on_progress=on_progress,
        limit=limit,
        recover=recover,
        wait_for_retries=wait_for_retries,
    )
    on_engine(engine)
    return await engine.run()


async def send_proofs(
    project: Project,
    templates: TemplateSet,
    plan: SendPlan,
    address: Address,
    *,
    transport: Transport,
    now: dt.datetime,
    signing_key: bytes,
) -> list[tuple[str, str]]:
    """One proof of the email in each language to `address`: each its own Message-ID, marked
    as a proof in its subject, its first lines and a header; recorded nowhere."""
    run = f"proof:{plan.key.message}:{now.timestamp():.0f}:{os.getpid()}"
    audience = Proof(plan.segments, plan.people)
    lane = await transport.open_lane()
    replies = []
    try:
        for language in project.config.series.languages:
            composer = composer_for(
                project,
                templates,
                plan,
                now=now,
                signing_key=signing_key,
                message=f"{run}:{language}",
                proof=audience,
            )
            proof = Recipient(
                email=address.email,
                key=address.key,
                language=language,
                name="",
                ascii_email=address.ascii_email,
            )
            replies.append((language, await lane.send(composer.compose(proof))))
    finally:
        await lane.close()
    return replies
