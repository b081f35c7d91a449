"""Commands of the daemon: daemon, plan."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from mailer.cli.base import JSON, cli, echo_json, pass_workspace

if TYPE_CHECKING:
    from mailer.project.workspace import Workspace


@cli.command()
@click.option(
    "--log-format",
    type=click.Choice(["auto", "text", "journal", "json"]),
    default="auto",
    show_default=True,
    help="One line per event: journal (syslog priorities, for journalctl -p), json (for log "
    "shippers), text; auto is journal under systemd, text otherwise.",
)
@click.option(
    "--once",
    is_flag=True,
    help="Do what is due now, then exit (cron, systemd timers, rehearsals with --now): "
    "exit 1 if a send stopped on an error, 75 if another sender was busy.",
)
@pass_workspace
def daemon(workspace: Workspace, log_format: str, once: bool) -> None:
    """Run the series: send invitations, reminders, updates by themselves; serve unsubscribe
    links, the calendar feed, /health and /metrics. SIGHUP reloads; SIGTERM stops cleanly."""
    from mailer.daemon.scheduler import run_daemon

    raise SystemExit(run_daemon(workspace, log_format, once=once))


@cli.command()
@click.option(
    "--days",
    default=30,
    show_default=True,
    type=click.IntRange(min=1),
    help="How far ahead to look.",
)
@JSON
@pass_workspace
def plan(workspace: Workspace, days: int, as_json: bool) -> None:
    """What the daemon will send, when (local and UTC), to whom, and what blocks it."""
    from mailer.actions import send as actions
    from mailer.cli.reports import plan_record, plan_table

    project = workspace.project()
    with workspace.state() as state:
        rows = actions.daemon_plan(
            project,
            workspace.templates(),
            state,
            now=workspace.now(),
            days=days,
            signing_key=workspace.signing_key,
        )
        older = actions.older_texts(project, state, now=workspace.now(), days=days)
    zone = project.config.series.timezone
    if as_json:
        echo_json([plan_record(row, zone) for row in rows])
        return
    click.echo(plan_table(rows, zone) if rows else f"Nothing in the next {days} days.")
    for occurrence in older:
        day = occurrence.scheduled
        click.echo(
            f"{day}: calendars hold an older text of session {occurrence.number} (its title, "
            f"questions or speakers changed since the last email): `mailer send {day} --kind "
            "update` sends the new one, which calendars apply."
        )


MIN_PASSWORD = 12


@cli.command("hash-password")
@click.option(
    "--stdin",
    "from_stdin",
    is_flag=True,
    help="Read the password from the first line of standard input instead of asking twice.",
)
def hash_password(from_stdin: bool) -> None:
    """Make an organiser's password_hash for [[web.organisers]] (scrypt; the password itself
    is never stored). Give the password to its owner, not to config.toml."""
    import os
    import sys

    from mailer.config.passwords import SALT_BYTES
    from mailer.config.passwords import hash_password as make_hash
    from mailer.errors import InvalidInput

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(
            f"the password has {len(password)} characters: use at least {MIN_PASSWORD} "
            "(a few words make a good one)"
        )
    click.echo(make_hash(password, os.urandom(SALT_BYTES)))
