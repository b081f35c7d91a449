"""The `mailer` command line: the only module that imports click, prints, or exits.

Every command parses its arguments, calls the library, and shows the result. Errors are turned
into messages and exit codes in one place, `main()`: 0 success, 1 failure, 2 bad input,
3 another sender holds the state file; never a traceback unless MAILER_DEBUG=1.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, NoReturn

import click

from mailer import __version__
from mailer.audience import ListReader, audience, check_lists, segments_named, summarize
from mailer.errors import InvalidInput, MailerError, Problem
from mailer.ics import series_calendar, session_calendar
from mailer.project import Project
from mailer.recurrence import find_occurrence, occurrences
from mailer.reports import (
    dates_table,
    occurrence_record,
    recipient_record,
    recipients_table,
    summary_record,
    summary_table,
    suppression_record,
    suppressions_table,
)
from mailer.revision_store import calendar_revisions, session_revision
from mailer.segments import Resolution
from mailer.suppression import suppress as suppress_address
from mailer.suppression import suppressed_keys, suppressions
from mailer.suppression import unsuppress as unsuppress_address
from mailer.tokens import InvalidToken, key_problem, read_token
from mailer.workspace import Workspace

EXIT_INTERRUPTED = 130
EXIT_INTERNAL = 70
PROBLEMS_SHOWN = 50


pass_context = click.make_pass_decorator(Workspace)


def _parse_now(_: click.Context, __: click.Parameter, value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("write it like 2021-04-06T09:00:00+02:00") from None
    if moment.tzinfo is None:
        raise click.BadParameter("give the UTC offset too, like 2021-04-06T09:00:00+02:00")
    return moment


def _parse_date(_: click.Context, __: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a date; write it like 2021-04-20") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mailer")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default="config.toml",
    show_default=True,
    help="The project's config file.",
)
@click.option(
    "--now",
    callback=_parse_now,
    metavar="DATETIME",
    help="Act as if it were this instant (ISO 8601 with offset): for rehearsals.",
)
@click.pass_context
def cli(context: click.Context, config_path: Path, now: dt.datetime | None) -> None:
    """Invitations and reminders for a recurring online meeting series."""
    context.obj = Workspace(config_path, now, on_warnings=_show_problems)


@cli.command()
@pass_context
def check(context: Workspace) -> None:
    """Validate config.toml, session files and mailing lists; exit 2 if anything is wrong."""
    project = context.project()
    _show_problems(check_lists(project))
    unsubscribe = project.config.unsubscribe
    if problem := key_problem(os.environ.get(unsubscribe.key_env), unsubscribe.key_env):
        click.echo(f"warning: {problem}; emails cannot be sent without it.", err=True)
    files, lists = len(project.sessions), len(project.config.mailing.lists)
    click.echo(
        f"OK: {context.config_path}, {files} session file{'s' * (files != 1)} "
        f"in {project.sessions_dir}, {lists} mailing list{'s' * (lists != 1)}"
    )


@cli.command()
@click.option(
    "--from",
    "start",
    callback=_parse_date,
    metavar="YYYY-MM-DD",
    help="First date to show (default: today).",
)
@click.option("--count", default=10, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def dates(context: Workspace, start: dt.date | None, count: int, as_json: bool) -> None:
    """The coming sessions: number, date, status, local and UTC times."""
    project = context.project()
    series = project.config.series
    first_day = start or context.now().astimezone(series.timezone).date()
    found = occurrences(series, project.sessions, start=first_day, limit=count)
    if as_json:
        records = [occurrence_record(o, o.scheduled in project.sessions) for o in found]
        click.echo(json.dumps(records, indent=2, ensure_ascii=False))
    elif found:
        click.echo(dates_table(found, project.sessions))
    else:
        click.echo(f"No session from {first_day}.")


@cli.command()
@click.argument("day", required=False, callback=_parse_date, metavar="[DATE]")
@click.option("--series", "whole_series", is_flag=True, help="The whole series, to subscribe to.")
@click.option(
    "--layout",
    type=click.Choice(["recurring", "sessions"]),
    default="recurring",
    show_default=True,
    help="With --series: one recurring event, or one per session.",
)
@click.option("--lang", "language", help="Language (default: the series' first).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of standard output.",
)
@pass_context
def ics(
    context: Workspace,
    day: dt.date | None,
    whole_series: bool,
    layout: str,
    language: str | None,
    output: Path | None,
) -> None:
    """The .ics of the session on DATE, or of the whole series with --series."""
    if (day is None) == (not whole_series):
        raise InvalidInput("give either a DATE or --series (not both)")
    project = context.project()
    config, language = project.config, context.language(language)
    now = context.now()
    with context.state() as state:
        if day is not None:
            occurrence = find_occurrence(config.series, project.sessions, day)
            if occurrence.status == "skipped":
                raise InvalidInput(f"{day} is skipped: there is no session that day")
            revision = session_revision(state, config, occurrence, now)
            data = session_calendar(config, occurrence, language, revision)
        else:
            window = _series_window(project, now)
            revisions = calendar_revisions(state, config, window, now)
            data = series_calendar(
                config,
                window,
                language,
                revisions,
                layout="recurring" if layout == "recurring" else "sessions",
            )
    if output is None:
        click.echo(data, nl=False)
    else:
        output.write_bytes(data)
        click.echo(f"Wrote {output}", err=True)


@cli.command()
@click.argument("segment", required=False)
@click.option(
    "--date",
    "session",
    callback=_parse_date,
    metavar="YYYY-MM-DD",
    help="The session whose date fills {date} in segment tags.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def recipients(
    context: Workspace, segment: str | None, session: dt.date | None, as_json: bool
) -> None:
    """Who a SEGMENT reaches (or every segment's counts), and every problem in the lists."""
    project = context.project()
    with context.state() as state:
        suppressed = suppressed_keys(state)
    reader = ListReader(project)
    if segment is None:
        summaries, merged = summarize(reader, suppressed, session)
        problems = [*reader.report.all_problems(), *merged]
        if as_json:
            _echo_json(
                {
                    "segments": [summary_record(s) for s in summaries],
                    "problems": [str(p) for p in problems],
                }
            )
            return
        click.echo(summary_table(summaries, project.config.series.languages, session is not None))
    else:
        resolution = Resolution()
        chosen = audience(
            reader, segments_named(project, [segment]), suppressed, resolution, session
        )
        people = list(chosen)
        problems = [*reader.report.all_problems(), *resolution.merged]
        if as_json:
            _echo_json(
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
            click.echo(f"{resolution.suppressed} suppressed address(es) left out.")
    _show_problems(problems, limit=PROBLEMS_SHOWN)


@cli.command()
@click.argument("address", required=False)
@click.option("--reason", default="removed by hand", show_default=True)
@click.option("--token", help="Suppress the address an unsubscribe token names instead.")
@pass_context
def suppress(context: Workspace, address: str | None, reason: str, token: str | None) -> None:
    """Never mail ADDRESS again (or the address of an unsubscribe --token)."""
    project = context.project()
    if (address is None) == (token is None):
        raise InvalidInput("give either an ADDRESS or --token")
    kind: Literal["unsubscribed", "manual"] = "manual"
    if token is not None:
        series_id = project.config.series.id
        try:
            address = read_token(context.signing_key(), series_id, token)
        except InvalidToken as error:
            raise InvalidInput(str(error)) from None
        kind, reason = "unsubscribed", "unsubscribe token"
    assert address is not None
    parsed = context.address(address)
    with context.state() as state:
        new = suppress_address(state, parsed, kind, reason, context.now())
    click.echo(f"{parsed.email} {'is now' if new else 'was already'} suppressed.")


@cli.command()
@click.argument("address")
@pass_context
def unsuppress(context: Workspace, address: str) -> None:
    """Mail ADDRESS again (after it asked to, or a bounce was a mistake)."""
    parsed = context.address(address)
    with context.state() as state:
        removed = unsuppress_address(state, parsed.key)
    click.echo(f"{parsed.email} {'can be mailed again' if removed else 'was not suppressed'}.")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def suppressed(context: Workspace, as_json: bool) -> None:
    """Every suppressed address, with why and since when."""
    with context.state() as state:
        entries = suppressions(state)
    if as_json:
        _echo_json([suppression_record(entry) for entry in entries])
    else:
        click.echo(suppressions_table(entries) if entries else "No suppressed address.")


def _echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _series_window(project: Project, now: dt.datetime) -> list[Any]:
    """The sessions a series calendar lists: all of a finite series; else up to a year ahead."""
    series = project.config.series
    horizon = now.astimezone(series.timezone).date() + dt.timedelta(days=366)
    latest = max([horizon, *project.sessions])
    return occurrences(series, project.sessions, start=series.first, end=series.until or latest)


def _show_problems(problems: Sequence[Problem], limit: int | None = None) -> None:
    ordered = sorted(problems, key=lambda p: (p.source, p.line or 0))
    for problem in ordered[:limit]:
        click.echo(str(problem), err=True)
    if limit is not None and len(ordered) > limit:
        click.echo(
            f"... and {len(ordered) - limit} more problems (--json lists them all).", err=True
        )


def run(args: list[str] | None = None) -> int:
    """Run the CLI and return its exit code; every error becomes a message and a code here."""
    try:
        cli.main(args=args, prog_name="mailer", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 1
    except click.exceptions.Exit as stop:
        return stop.exit_code
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except InvalidInput as error:
        _show_problems(error.problems)
        errors = sum(1 for problem in error.problems if problem.is_error)
        count = f" ({errors} problem{'s' * (errors != 1)})" if errors else ""
        click.echo(f"Error: {error}{count}.", err=True)
        return error.exit_code
    except MailerError as error:
        click.echo(f"Error: {error}.", err=True)
        return error.exit_code
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return EXIT_INTERRUPTED
    except Exception as error:  # the one place unknown errors are reported
        if os.environ.get("MAILER_DEBUG"):
            traceback.print_exc()
        click.echo(f"Internal error: {type(error).__name__}: {error}", err=True)
        click.echo(
            "This is a bug in mailer. Run again with MAILER_DEBUG=1 for the traceback, "
            "and report it.",
            err=True,
        )
        return EXIT_INTERNAL
    return 0


def main() -> NoReturn:
    """The `mailer` console script."""
    sys.exit(run())
