"""The command about what comes back by mail: mailbox (read it once)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from mailer.cli.base import JSON, cli, echo_json, pass_workspace

if TYPE_CHECKING:
    from mailer.project.workspace import Workspace


@cli.command()
@JSON
@pass_workspace
def mailbox(workspace: Workspace, as_json: bool) -> None:
    """Read the [mailbox] once: bounces suppress (hard at once, soft after [mailbox]
    soft_bounces), emailed unsubscribes with a genuine token suppress, calendar replies are
    counted; everything else is flagged and moved for a person. Never deletes or replies."""
    from mailer.actions.mailbox import capacities, read_inbox, round_summary

    config = workspace.project().config
    key = workspace.signing_key()  # it checks return paths and unsubscribe tokens
    inbox = workspace.mailbox()
    assert config.mailbox is not None
    with workspace.store().mailbox_lock(), workspace.state() as state, inbox:
        done = read_inbox(
            config,
            state,
            inbox,
            key,
            workspace.now(),
            capacities=capacities(workspace.project()),
        )
    for warning in done.warnings:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        echo_json(
            {
                "read": done.read,
                "filed_again": done.filed_again,
                "outcomes": dict(done.outcomes),
                "suppressed": [{"address": a, "reason": r} for a, r in done.suppressed],
                "answers": dict(done.answers),
                "warnings": done.warnings,
            }
        )
    else:
        click.echo(round_summary(done, config.mailbox))
