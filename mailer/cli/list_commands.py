"""Commands about the mailing lists: recipients, suppress, unsuppress, suppressed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mailer.cli.base import (
    DATE_OPTION,
    JSON,
    PROBLEMS_SHOWN,
    cli,
    echo_json,
    pass_workspace,
    plural,
    show_problems,
)
from mailer.errors import InvalidInput
from mailer.model import SuppressionKind

if TYPE_CHECKING:
    from mailer.project.workspace import Workspace


@cli.command()
@click.argument("segment", required=False)
@DATE_OPTION
@JSON
@pass_workspace
def recipients(
    workspace: Workspace, segment: str | None, session: dt.date | None, as_json: bool
) -> None:
    """Who a SEGMENT reaches (or every segment's counts), and every problem in the lists."""
    from mailer.actions import lists as actions
    from mailer.cli.reports import recipient_record, recipients_table, summary_record, summary_table
    from mailer.store.suppression import suppressed_keys

    project = workspace.project()
    with workspace.state() as state:
        suppressed = suppressed_keys(state)
        if segment is None:
            summaries, problems = actions.segments_summary(project, state, suppressed, session)
        else:
            people, resolution, problems = actions.segment_members(
                project, state, suppressed, segment, session
            )
    if segment is None:
        if as_json:
            echo_json(
                {
                    "segments": [summary_record(s) for s in summaries],
                    "problems": [str(p) for p in problems],
                }
            )
            return
        languages = project.config.series.languages
        click.echo(summary_table(summaries, languages, session is not None))
    else:
        if as_json:
            echo_json(
                {
                    "segment": segment,
                    "recipients": [recipient_record(r) for r in people],
                    "suppressed": resolution.suppressed,
                    "problems": [str(p) for p in problems],
                }
            )
            return
        click.echo(recipients_table(people) if people else f"Nobody in '{segment}'.")
        if resolution.suppressed:
            click.echo(f"{plural(resolution.suppressed, 'suppressed address')} left out.")
    show_problems(problems, limit=PROBLEMS_SHOWN)


@cli.command()
@click.argument("address", required=False)
@click.option("--reason", help="Why (default: removed by hand; imported from FILE).")
@click.option("--token", help="Suppress the address an unsubscribe token names instead.")
@click.option(
    "--from-file",
    "from_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Suppress every address of FILE (one per line, or a CSV export with an email "
    "column): old unsubscribes and bounces from another tool.",
)
@click.option(
    "--kind",
    type=click.Choice(["manual", "unsubscribed", "bounced"]),
    default="manual",
    show_default=True,
    help="With --from-file: what the addresses are.",
)
@pass_workspace
def suppress(
    workspace: Workspace,
    address: str | None,
    reason: str | None,
    token: str | None,
    from_file: Path | None,
    kind: SuppressionKind,
) -> None:
    """Never mail ADDRESS again (or the address of an unsubscribe --token, or every address
    of a --from-file)."""
    from mailer.actions import lists as actions

    project = workspace.project()
    if from_file is not None:
        if address is not None or token is not None:
            raise InvalidInput("give an ADDRESS, --token or --from-file, one of them")
        with workspace.state() as state:
            added, known = actions.suppress_file(
                project,
                state,
                from_file,
                kind,
                reason or f"imported from {from_file.name}",
                now=workspace.now(),
            )
        click.echo(
            f"{from_file}: {plural(added + known, 'address', 'addresses')}: "
            f"{added:,} now suppressed, {known:,} already were."
        )
        return
    with workspace.state() as state:
        parsed, new = actions.suppress_by_hand(
            project,
            state,
            address,
            token,
            reason or "removed by hand",
            now=workspace.now(),
            signing_key=workspace.signing_key,
        )
    click.echo(f"{parsed.email} {'is now' if new else 'was already'} suppressed.")
    with workspace.state() as state:
        where = actions.whereabouts(project, state, parsed)
    if not where.lists:
        lists = ", ".join(project.config.mailing.list_names)
        hint = f" Did you mean {' or '.join(where.look_alike)}?" if where.look_alike else ""
        click.echo(
            f"warning: {parsed.email} is on none of the mailing lists ({lists}): check the "
            f"spelling (it stays suppressed, should it ever be added).{hint}",
            err=True,
        )


@cli.command()
@click.argument("address")
@pass_workspace
def unsuppress(workspace: Workspace, address: str) -> None:
    """Mail ADDRESS again (after it asked to, or a bounce was a mistake)."""
    from mailer.actions import lists as actions

    with workspace.state() as state:
        parsed, removed = actions.unsuppress_by_hand(workspace.project(), state, address)
    click.echo(f"{parsed.email} {'can be mailed again' if removed else 'was not suppressed'}.")


@cli.command()
@JSON
@pass_workspace
def suppressed(workspace: Workspace, as_json: bool) -> None:
    """Every suppressed address, with why and since when."""
    from mailer.cli.reports import suppression_record, suppressions_table
    from mailer.store.suppression import suppressions

    with workspace.state() as state:
        entries = suppressions(state)
    if as_json:
        echo_json([suppression_record(entry) for entry in entries])
    else:
        click.echo(suppressions_table(entries) if entries else "No suppressed address.")
