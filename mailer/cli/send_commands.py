"""Commands that send, and say what was sent: send, status."""

from __future__ import annotations

import datetime as dt
import sys
import time
from typing import TYPE_CHECKING

import click

from mailer.cli.base import (
    JSON,
    PROBLEMS_SHOWN,
    cli,
    echo_json,
    parse_date,
    pass_workspace,
    show_problems,
)
from mailer.cli.reports import ANSWER_ORDER
from mailer.errors import EXIT_INTERRUPTED, EXIT_TEMPFAIL, InvalidInput
from mailer.model import MESSAGE_KINDS, MessageKind

if TYPE_CHECKING:
    from mailer.project.workspace import Workspace
    from mailer.sending.progress import Tally


@cli.command()
@click.argument("day", callback=parse_date, metavar="DATE")
@click.option("--kind", type=click.Choice(MESSAGE_KINDS), required=True)
@click.option(
    "--segment",
    "segments",
    multiple=True,
    metavar="NAME",
    help="A segment to send to (repeatable). Default: everyone; for updates and "
    "cancellations, everyone already sent an email about the session.",
)
@click.option("--dry-run", is_flag=True, help="Show the plan; send and record nothing.")
@click.option("--limit", type=click.IntRange(min=1), help="Send at most N emails this time.")
@click.option(
    "--to",
    "proof_to",
    metavar="ADDRESS",
    help="Send one copy of each language to ADDRESS only (a proof).",
)
@click.option(
    "--resend-failed",
    is_flag=True,
    help="Also send again what failed for a reason that is not the recipient's own (the "
    "relay, the content, a bug, a fate that stayed unknown).",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the plan and what the run did as one JSON object (with --yes or --dry-run).",
)
@pass_workspace
def send(
    workspace: Workspace,
    day: dt.date,
    kind: MessageKind,
    segments: tuple[str, ...],
    dry_run: bool,
    limit: int | None,
    proof_to: str | None,
    resend_failed: bool,
    yes: bool,
    as_json: bool,
) -> None:
    """Send the KIND email of the session on DATE: plan, confirm, send, summarise.

    Running the same command again sends nothing to those already served, and finishes an
    interrupted send. Exit 75 when some emails wait for a retry or the relay is down (run it
    again later); nobody is failed for the relay's sake.
    """
    from mailer.actions import send as actions
    from mailer.actions.lists import typed_address
    from mailer.cli.reports import plan_text, proof_text, send_plan_record, tally_record
    from mailer.sending.plan import SendRequest, plan_send, record_plan
    from mailer.sending.workers import Launch

    if as_json and not (yes or dry_run):
        raise InvalidInput("--json does not ask for confirmation: add --yes, or --dry-run")
    project = workspace.project()
    config = project.config
    if not dry_run:  # before anything is recorded
        workspace.require_secrets()
        workspace.refuse_rehearsal_mail()
        workspace.refuse_placeholders()
    request = SendRequest(day, kind, segments, limit, resend_failed=resend_failed)
    with actions.sender(project.store, lock=not dry_run) as state:
        # with --yes nobody confirms: the plan is recorded as the lists are read (once)
        at_once = yes and not dry_run and proof_to is None
        plan = plan_send(project, state, request, workspace.now(), record=at_once)
        signed = f", signed (DKIM d={config.dkim.domain})" if config.dkim else ""
        record = send_plan_record(plan, config.delivery.kind + signed, workspace.now())
        if proof_to is not None and not as_json:
            click.echo(proof_text(plan, proof_to, config.series.languages))
        elif not as_json:
            click.echo(plan_text(plan, config.delivery.kind + signed, workspace.now(), limit))
            show_problems(plan.problems, limit=PROBLEMS_SHOWN)
        if dry_run:
            for problem in workspace.secret_problems():
                click.echo(f"warning: {problem.message}: the real send will not start.", err=True)
            if as_json:
                echo_json({"plan": record, "dry_run": True})
            else:
                click.echo("Dry run: nothing sent, nothing recorded.")
            return
        if proof_to is not None:
            replies = actions.proofs(
                project,
                workspace.templates(),
                plan,
                typed_address(project, proof_to),
                transport=workspace.transport(),
                now=workspace.now(),
                signing_key=workspace.signing_key(),
            )
            if as_json:
                echo_json({"plan": record, "proofs": dict(replies)})
            for language, reply in replies:
                if not as_json:
                    click.echo(f"proof in {language} to {proof_to}: {reply}")
            return
        actions.refuse_if_too_late(plan, workspace.now())
        if plan.to_send == 0:
            if as_json:
                echo_json({"plan": record, "run": None})
            else:
                click.echo("Nothing to send: everyone in the plan has been served.")
            return
        if not yes:
            if not sys.stdin.isatty():
                raise InvalidInput("not asking for confirmation without a terminal: add --yes")
            click.confirm(f"Send {plan.to_send} emails?", abort=True)
        record_plan(state, plan, workspace.now())
        progress = _Progress(plan.to_send if limit is None else min(limit, plan.to_send))
        signing_key = workspace.signing_key()
        launch = Launch(
            str(workspace.config_path),
            workspace.now().isoformat() if workspace.simulated_now else None,
            signing_key,
            workspace.smtp_password(),
            dkim_key.pem if (dkim_key := workspace.dkim_key()) else None,
        )
        result = actions.run(
            project,
            workspace.templates(),
            state,
            plan,
            launch=launch,
            transport=workspace.transport,
            clock=workspace.now,
            limit=limit,
            on_progress=progress.show,
            on_hard_stop=progress.hard_stop,
        )
        progress.end(result.tally)
        summary = actions.summary(state, plan, config.delivery.sending.max_attempts, result.tally)
    if as_json:
        echo_json(
            {
                "plan": record,
                "run": tally_record(result.tally),
                "ledger": summary.counts,
                "to_retry": summary.to_retry,
                "stopped": result.stopped,
                "error": None if result.abort is None else str(result.abort),
            }
        )
    else:
        click.echo(summary.text)
    if result.abort is not None:
        raise result.abort
    if result.stopped:
        click.echo("Stopped: run the same command again to finish.", err=True)
        raise SystemExit(EXIT_INTERRUPTED)
    if summary.to_retry:
        raise SystemExit(EXIT_TEMPFAIL)


class _Progress:
    """A progress line on a terminal; a line every few seconds otherwise."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.terminal = sys.stderr.isatty()
        self.last = 0.0

    def show(self, tally: Tally) -> None:
        from mailer.cli.reports import tally_line

        now = time.monotonic()
        if now - self.last < (0.2 if self.terminal else 5.0):
            return
        self.last = now
        line = tally_line(tally, self.total)
        try:
            click.echo(f"\r{line}\x1b[K" if self.terminal else line, err=True, nl=not self.terminal)
        except OSError:  # the terminal went away (SIGHUP follows): the send goes on
            self.terminal = False
            self.last = float("inf")

    def end(self, tally: Tally) -> None:
        """The last line, whole: the throttled updates may not have shown it (a send of a
        second was "1/14" for good)."""
        self.last = 0.0
        self.show(tally)
        if self.terminal:
            click.echo(err=True)

    def hard_stop(self) -> None:
        click.echo(
            "\nStopped at once: what was in flight will be sent again (same "
            "Message-ID) by the next run.",
            err=True,
        )


@cli.command()
@click.argument("day", required=False, callback=parse_date, metavar="[DATE]")
@JSON
@pass_workspace
def status(workspace: Workspace, day: dt.date | None, as_json: bool) -> None:
    """What the ledger says, per session and email: sent, pending, retrying, failed...; and
    who is coming (`mailer answers` lists who)."""
    from mailer.actions import send as actions
    from mailer.cli.reports import answers_line, status_record, status_table
    from mailer.store.answers import headcount

    with workspace.state() as state:
        statuses = actions.sends_status(workspace.project(), state, day)
        sessions = {s.session for s in statuses}
        replies = headcount(state, workspace.project().config.series.id, sorted(sessions))
    if as_json:
        echo_json([status_record(s, replies.get(s.session)) for s in statuses])
        return
    click.echo(status_table(statuses) if statuses else "Nothing sent yet.")
    for session in sorted(sessions):
        if any(replies[session][said] for said in ANSWER_ORDER[:-1]):
            click.echo(answers_line(session, replies[session]))
