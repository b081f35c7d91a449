"""The `mailer` command group, its shared options, and the one place errors become exit codes.

The command line lives in this package (`mailer.cli`), the only code that imports click, prints,
or exits. Every command parses its arguments, takes what it needs from the workspace (the
composition root), calls `mailer.actions`, and shows the result. `run()` turns errors into
messages and the exit codes of `mailer.errors`; never a traceback unless MAILER_DEBUG=1.
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from mailer import __version__
from mailer.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, InvalidInput, MailerError, Problem

if TYPE_CHECKING:
    pass

PROBLEMS_SHOWN = 50
R = TypeVar("R")


def pass_workspace(command: Callable[..., R]) -> Callable[..., R]:
    """Give the command the workspace as its first argument. The workspace (and what it
    imports) is built only when a command runs: `mailer --help` imports click and little
    else."""

    @functools.wraps(command)
    def with_workspace(*args: Any, **kwargs: Any) -> R:
        return command(click.get_current_context().find_root().obj, *args, **kwargs)

    return with_workspace


def parse_now(_: click.Context, __: click.Parameter, value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("write it like 2021-04-06T09:00:00+02:00") from None
    if moment.tzinfo is None:
        raise click.BadParameter("give the UTC offset too, like 2021-04-06T09:00:00+02:00")
    return moment


def parse_date(_: click.Context, __: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a date; write it like 2021-04-20") from None


def echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def show_problems(problems: Sequence[Problem], limit: int | None = None) -> None:
    ordered = sorted(problems, key=lambda p: (p.source, p.line or 0))
    for problem in ordered[:limit]:
        click.echo(str(problem), err=True)
    if limit is not None and len(ordered) > limit:
        click.echo(
            f"... and {len(ordered) - limit} more problems (--json lists them all).", err=True
        )


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """`1 row`, `2 rows`; `1 person`, `2 people`."""
    return f"{count:,} {noun if count == 1 else nouns or noun + 's'}"


JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
DATE_OPTION = click.option(
    "--date",
    "session",
    callback=parse_date,
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
    callback=parse_now,
    metavar="DATETIME",
    help="Act as if it were this instant (ISO 8601 with offset): for rehearsals.",
)
@click.option(
    "--real-mail",
    is_flag=True,
    help="With --now: send real email through SMTP (a rehearsal refuses to, otherwise).",
)
@click.pass_context
def cli(
    context: click.Context, config_path: Path, now: dt.datetime | None, real_mail: bool
) -> None:
    """Invitations and reminders for a recurring online meeting series."""
    from mailer.project.workspace import Workspace

    context.obj = Workspace(config_path, now, on_warnings=show_problems, real_mail=real_mail)


def run(args: list[str] | None = None) -> int:
    """Run the CLI and return its exit code; every error becomes a message and a code here."""
    try:
        cli.main(args=args, prog_name="mailer", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 1
    except click.exceptions.Exit as stop:
        return stop.exit_code
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 1
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except InvalidInput as error:
        show_problems(error.problems)
        errors = sum(1 for problem in error.problems if problem.is_error)
        count = f" ({plural(errors, 'problem')})" if errors else ""
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
    code = run()
    # What is left is freed with the process: a last collection over every object only
    # delays the exit (by 70 ms after a send, a tenth of a send of 1,000)
    gc.freeze()
    sys.exit(code)
