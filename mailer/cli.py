"""The `mailer` command line: the only module that imports click, prints, or exits.

Every command parses its arguments, calls `mailer.controllers`, and shows the result. Errors
become messages and exit codes in one place, `run()`: 0 success, 1 failure, 2 bad input,
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
from typing import NoReturn

import click

from mailer import __version__, controllers
from mailer.errors import InvalidInput, MailerError, Problem
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
from mailer.suppression import suppressions
from mailer.templates import KINDS, Kind
from mailer.workspace import Workspace

EXIT_INTERRUPTED = 130
EXIT_INTERNAL = 70
PROBLEMS_SHOWN = 50

pass_workspace = click.make_pass_decorator(Workspace)


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


def _echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _show_problems(problems: Sequence[Problem], limit: int | None = None) -> None:
    ordered = sorted(problems, key=lambda p: (p.source, p.line or 0))
    for problem in ordered[:limit]:
        click.echo(str(problem), err=True)
    if limit is not None and len(ordered) > limit:
        click.echo(
            f"... and {len(ordered) - limit} more problems (--json lists them all).", err=True
        )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' * (count != 1)}"


JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
DATE_OPTION = click.option(
    "--date",
    "session",
    callback=_parse_date,
    metavar="YYYY-MM-DD",
    help="The session whose date fills {date} in segment tags.",
)


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
@pass_workspace
def check(workspace: Workspace) -> None:
    """Validate config, session files, lists and templates; exit 2 if anything is wrong.

    Every email kind is rendered in every language for every session file, with sample
    recipients, so a template error shows here and never in a sent email.
    """
    report = controllers.check(workspace)
    _show_problems(report.warnings)
    if report.key_problem:
        click.echo(f"warning: {report.key_problem}; emails cannot be sent without it.", err=True)
    click.echo(
        f"OK: {workspace.config_path}, {_plural(report.sessions, 'session file')}, "
        f"{_plural(report.lists, 'mailing list')}, templates for "
        f"{_plural(report.languages, 'language')}"
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
@JSON
@pass_workspace
def dates(workspace: Workspace, start: dt.date | None, count: int, as_json: bool) -> None:
    """The coming sessions: number, date, status, local and UTC times."""
    found = controllers.coming_sessions(workspace, start, count)
    files = workspace.project().sessions
    if as_json:
        _echo_json([occurrence_record(o, o.scheduled in files) for o in found])
    else:
        click.echo(dates_table(found, files) if found else "No session.")


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
@pass_workspace
def ics(
    workspace: Workspace,
    day: dt.date | None,
    whole_series: bool,
    layout: str,
    language: str | None,
    output: Path | None,
) -> None:
    """The .ics of the session on DATE, or of the whole series with --series."""
    if (day is None) == (not whole_series):
        raise InvalidInput("give either a DATE or --series (not both)")
    if day is not None:
        data = controllers.session_ics(workspace, day, language)
    else:
        data = controllers.series_ics(
            workspace, language, "recurring" if layout == "recurring" else "sessions"
        )
    if output is None:
        click.echo(data, nl=False)
    else:
        output.write_bytes(data)
        click.echo(f"Wrote {output}", err=True)


@cli.command()
@click.argument("segment", required=False)
@DATE_OPTION
@JSON
@pass_workspace
def recipients(
    workspace: Workspace, segment: str | None, session: dt.date | None, as_json: bool
) -> None:
    """Who a SEGMENT reaches (or every segment's counts), and every problem in the lists."""
    if segment is None:
        summaries, problems = controllers.segments_summary(workspace, session)
        if as_json:
            _echo_json(
                {
                    "segments": [summary_record(s) for s in summaries],
                    "problems": [str(p) for p in problems],
                }
            )
            return
        languages = workspace.project().config.series.languages
        click.echo(summary_table(summaries, languages, session is not None))
    else:
        people, resolution, problems = controllers.segment_members(workspace, segment, session)
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
            click.echo(f"{_plural(resolution.suppressed, 'suppressed address')} left out.")
    _show_problems(problems, limit=PROBLEMS_SHOWN)


@cli.command()
@click.argument("address", required=False)
@click.option("--reason", default="removed by hand", show_default=True)
@click.option("--token", help="Suppress the address an unsubscribe token names instead.")
@pass_workspace
def suppress(workspace: Workspace, address: str | None, reason: str, token: str | None) -> None:
    """Never mail ADDRESS again (or the address of an unsubscribe --token)."""
    parsed, new = controllers.suppress_by_hand(workspace, address, token, reason)
    click.echo(f"{parsed.email} {'is now' if new else 'was already'} suppressed.")


@cli.command()
@click.argument("address")
@pass_workspace
def unsuppress(workspace: Workspace, address: str) -> None:
    """Mail ADDRESS again (after it asked to, or a bounce was a mistake)."""
    parsed, removed = controllers.unsuppress_by_hand(workspace, address)
    click.echo(f"{parsed.email} {'can be mailed again' if removed else 'was not suppressed'}.")


@cli.command()
@JSON
@pass_workspace
def suppressed(workspace: Workspace, as_json: bool) -> None:
    """Every suppressed address, with why and since when."""
    with workspace.state() as state:
        entries = suppressions(state)
    if as_json:
        _echo_json([suppression_record(entry) for entry in entries])
    else:
        click.echo(suppressions_table(entries) if entries else "No suppressed address.")


@cli.command()
@click.argument("day", callback=_parse_date, metavar="DATE")
@click.option("--kind", type=click.Choice(KINDS), default="invitation", show_default=True)
@click.option("--lang", "language", help="One language (default: the series' first).")
@click.option("--all-languages", is_flag=True, help="Every language of the series.")
@click.option(
    "--out",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default="preview",
    show_default=True,
    help="Where to write the files.",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the HTML in a browser.")
@pass_workspace
def preview(
    workspace: Workspace,
    day: dt.date,
    kind: Kind,
    language: str | None,
    all_languages: bool,
    folder: Path,
    open_browser: bool,
) -> None:
    """Write an email as .eml, its HTML and its .ics, for a sample recipient, to look at."""
    if all_languages and language:
        raise InvalidInput("give --lang or --all-languages, not both")
    series = workspace.project().config.series
    languages = series.languages if all_languages else (workspace.language(language),)
    key, warning = controllers.signing_key_or_sample(workspace)
    if warning:
        click.echo(f"warning: {warning}.", err=True)
    for code, written in zip(
        languages,
        controllers.preview(workspace, day, kind, languages, folder=folder, key=key),
        strict=True,
    ):
        click.echo(f"{code}: {written.eml}  {written.html}  {written.ics}")
        if open_browser:
            click.launch(str(written.html))


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
        count = f" ({_plural(errors, 'problem')})" if errors else ""
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
