"""Setting a project up: `mailer init` (a new series, by prompts or options) and `mailer
language add` (a language's templates)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mailer.cli.base import cli, pass_workspace, plural

if TYPE_CHECKING:
    from mailer.project.workspace import Workspace


def _clock(_: click.Context | None, __: object, value: str | None) -> dt.time | None:
    if value is None:
        return None
    try:
        return dt.time.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a time; write it like 13:00") from None


@cli.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--title", help="The series' title.")
@click.option("--timezone", help="Its IANA time zone, e.g. Europe/Paris.")
@click.option(
    "--rule",
    help='When: "third tuesday", "first thursday", "last friday", "every wednesday", '
    '"every other monday", or an RFC 5545 RRULE.',
)
@click.option("--start", callback=_clock, help="When sessions start, local time (13:00).")
@click.option("--end", callback=_clock, help="When they end (14:30).")
@click.option("--languages", help="The languages of the emails, the first the default: fr,en.")
@click.option("--organiser-name", help="Who sends the emails.")
@click.option("--organiser-email", help="Their address (the sender).")
@click.option("--meeting-url", help="The meeting's link (https://zoom.us/j/...).")
@click.option("--meeting-id", help="Its ID, as people type it.")
@click.option("--passcode", help="Its passcode.")
@click.option(
    "--ask/--no-ask", default=None, help="Ask for what is not given (default: in a terminal)."
)
@pass_workspace
def init(workspace: Workspace, folder: Path, ask: bool | None, **given: object) -> None:
    """Write a working project for a new series in FOLDER: config.toml, one session file,
    the templates of its languages, an example list. It passes `mailer check`.

    What is not given as an option is asked for in a terminal; the rest are placeholders
    (the meeting's link, example.org addresses), which `mailer check` warns about and which
    never go out by SMTP.
    """
    import dataclasses
    import sys

    from mailer.actions.init import NewSeries, init_project, shipped_languages

    defaults = NewSeries()
    questions = {
        "title": "Title of the series",
        "timezone": "Time zone",
        "rule": 'When (e.g. "third tuesday", "first thursday", "last friday", "every wednesday")',
        "start": "Start time",
        "end": "End time",
        "languages": f"Languages, comma-separated ({', '.join(shipped_languages())})",
        "organiser_name": "Organiser's name",
        "organiser_email": "Organiser's email address",
        "meeting_url": "Meeting link",
        "meeting_id": "Meeting ID",
        "passcode": "Passcode",
    }
    asking = sys.stdin.isatty() if ask is None else ask
    answers: dict[str, object] = {}
    for name, question in questions.items():
        value = given.get(name)
        default = getattr(defaults, name)
        if value is None and asking:
            if isinstance(default, tuple):
                shown = ",".join(default)
            elif isinstance(default, dt.time):
                shown = default.isoformat(timespec="minutes")
            else:
                shown = str(default)
            value = click.prompt(question, default=shown)
            if isinstance(default, dt.time):
                value = _clock(None, None, str(value))
        if value is None:
            continue
        if name == "languages":
            value = tuple(code.strip() for code in str(value).split(",") if code.strip())
        answers[name] = value
    new = dataclasses.replace(defaults, **answers)  # type: ignore[arg-type]
    written = init_project(folder, workspace.now().date(), new)
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(
        f"Next: cd {folder}; export MAILER_UNSUBSCRIBE_KEY=$(openssl rand -hex 32); mailer check"
    )


@cli.group()
def language() -> None:
    """The languages of the series' emails."""


@language.command("add")
@click.argument("code")
@click.option(
    "--from",
    "source",
    metavar="LANG",
    help="Copy this language's templates to translate (default: mailer's own set for CODE, "
    "when it ships one; otherwise the series' first language).",
)
@pass_workspace
def language_add(workspace: Workspace, code: str, source: str | None) -> None:
    """Add the templates of language CODE (templates/CODE), whose parts are its own: mailer's
    set (de, en, es, fr, it, pt) or a copy to translate. Then add CODE to [series] languages
    and give the texts in CODE that `mailer check` asks for."""
    from mailer.actions.languages import add_language

    added = add_language(workspace.project(), code, source)
    if added.shipped:
        click.echo(f"wrote {added.folder}: mailer's {code} templates")
    else:
        click.echo(
            f"wrote {added.folder}: a copy of the {added.source} templates, to translate "
            f"(their includes are {code}'s own)"
        )
    click.echo(
        f'Next: add "{code}" to [series] languages in {workspace.config_path}, then run '
        f"`mailer check`: it lists every text still to give in {code} (the series' title "
        "and description, each session file)."
    )
    if added.labels_needed:
        click.echo(
            f"mailer has no words of its own in {code}: add a [labels.{code}] table with "
            + ", ".join(added.labels_needed)
            + " (docs/configuration.md)."
        )


@cli.group()
def state() -> None:
    """The series' state (the ledger and everything mailer remembers)."""


def _store(_: click.Context | None, __: object, value: str) -> str:
    from mailer.config.store_url import is_postgres_url, url_problem

    if is_postgres_url(value) and (problem := url_problem(value)):
        raise click.BadParameter(problem)
    return value


@state.command("copy")
@click.argument("source", metavar="FROM", callback=_store)
@click.argument("target", metavar="TO", callback=_store)
@click.option("--schema", help="The PostgreSQL schema on either side (default: the series').")
@pass_workspace
def copy(workspace: Workspace, source: str, target: str, schema: str | None) -> None:
    """Copy the state FROM a store TO another (an SQLite file, or a postgresql:// URL whose
    password comes from PGPASSWORD or PGPASSFILE), all or nothing: TO must be empty, and
    each table's rows are counted on both sides before anything is committed. Stop the
    daemons and senders first. Then point `[state] database` at TO.

    \b
    mailer state copy state/mailer.db postgresql://mailer@db.example.org/mailer
    mailer state copy postgresql://mailer@db.example.org/mailer state/back.db
    """
    from mailer.actions.state_copy import copy_state

    project = workspace.project()
    copied = copy_state(project.store_at(source, schema), project.store_at(target, schema))
    for table, count in copied.counts.items():
        click.echo(f"{table}: {plural(count, 'row')}")
    total = sum(copied.counts.values())
    click.echo(f"copied {plural(total, 'row')} from {copied.source} to {copied.target}")
    click.echo("counted on both sides: the same. Point [state] database at the new store.")
