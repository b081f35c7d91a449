"""Commands about the series itself: check, dkim-record, dates, ics, preview."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mailer.cli.base import JSON, cli, echo_json, parse_date, pass_workspace, plural, show_problems
from mailer.errors import InvalidInput, Problem
from mailer.model import MESSAGE_KINDS, MessageKind

if TYPE_CHECKING:
    from mailer.calendar.ics import Layout
    from mailer.project.workspace import Workspace


@cli.command()
@click.option(
    "--offline",
    is_flag=True,
    help="Check away from the server: missing secrets are warnings, not problems.",
)
@click.option(
    "--service",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="UNIT",
    help="Check what this systemd unit runs (e.g. /etc/systemd/system/mailer.service): as its "
    "user, with its environment file (the secrets), the folders it may write. Run it as root.",
)
@JSON
@pass_workspace
def check(workspace: Workspace, offline: bool, service: Path | None, as_json: bool) -> None:
    """Validate config, session files, lists, templates and secrets; exit 2 if anything is wrong.

    Every email kind is rendered in every language for every session file, with sample
    recipients, so a template error shows here and never in a sent email.
    """
    from mailer.actions import project as actions
    from mailer.cli.reports import problem_record

    deployment: list[Problem] = []
    if service is not None:
        workspace, deployment = _as_the_service(workspace, service)
    try:
        store, store_problems = workspace.state_status()  # the project must load first
        report = actions.check(
            workspace.project(),
            workspace.templates(),
            now=workspace.now(),
            secret_problems=[*workspace.secret_problems(), *store_problems],
            offline=offline,
            service_problems=deployment,
        )
    except InvalidInput as error:
        if not as_json:
            raise
        echo_json({"ok": False, "problems": [problem_record(p) for p in error.problems]})
        raise SystemExit(error.exit_code) from None
    dkim = workspace.project().config.dkim
    key = workspace.dkim_key() if dkim is not None and not offline else None
    if as_json:
        echo_json(
            {
                "ok": True,
                "problems": [problem_record(p) for p in report.warnings],
                "sessions": report.sessions,
                "languages": report.languages,
                "state": store,
                "lists": [
                    {
                        "name": count.name,
                        "source": count.source,
                        "rows": count.rows,
                        "people": count.people,
                        "skipped": count.skipped,
                    }
                    for count in report.lists
                ],
                "dkim": None
                if dkim is None or key is None
                else {"domain": dkim.domain, "selector": dkim.selector, "bits": key.bits},
            }
        )
        return
    show_problems(report.warnings)
    for count in report.lists:
        skipped = f", {count.skipped} skipped (see above)" if count.skipped else ""
        click.echo(
            f"{count.name}: {plural(count.people, 'person', 'people')} "
            f"({count.source}: {plural(count.rows, 'row')}{skipped})"
        )
    if dkim is not None and key is not None:
        click.echo(
            f"DKIM: signing as d={dkim.domain}, s={dkim.selector} ({key.bits}-bit RSA key); "
            "`mailer dkim-record` prints the DNS record to publish"
        )
    click.echo(f"state: {store}")
    click.echo(
        f"OK: {workspace.config_path}, {plural(report.sessions, 'session file')}, "
        f"{plural(len(report.lists), 'mailing list')}, templates for "
        f"{plural(report.languages, 'language')}"
    )


def _as_the_service(workspace: Workspace, service: Path) -> tuple[Workspace, list[Problem]]:
    """`check --service UNIT`: the workspace of the unit's config with its environment files'
    variables (the secrets), and what the unit and its user would stop the daemon doing: a
    folder it writes outside ReadWritePaths, or that its user cannot write, a project file
    its user cannot read (checked as that user: run as root)."""
    import os
    import pwd

    from mailer.project.service import (
        access_problems,
        access_problems_as,
        read_unit,
        unit_environment,
        unit_problems,
    )
    from mailer.project.workspace import Workspace

    unit = read_unit(service)
    config_path = unit.config or workspace.config_path
    environment = {**os.environ, **unit_environment(unit)}
    checked = Workspace(
        config_path, workspace.simulated_now, environ=environment, on_warnings=show_problems
    )
    project = checked.project()
    problems = unit_problems(unit, project)
    me = pwd.getpwuid(os.geteuid()).pw_name
    if unit.user is None or unit.user == me:
        return checked, [*problems, *access_problems(project, str(config_path))]
    if os.geteuid() != 0:
        raise InvalidInput(
            f"{service} runs the daemon as {unit.user}: run this as root (sudo mailer check "
            f"--service {service}), and it checks what {unit.user} can read and write"
        )
    return checked, [*problems, *access_problems_as(unit.user, project, str(config_path))]


@cli.command("dkim-record")
@pass_workspace
def dkim_record(workspace: Workspace) -> None:
    """The DNS TXT record that publishes the DKIM key of [dkim], in zone-file form.

    Publish it at your DNS host, then check it (`dig TXT <name>`) before sending signed mail.
    """
    dkim = workspace.project().config.dkim
    if dkim is None:
        raise InvalidInput(
            "config.toml has no [dkim] table: add one (domain, selector) to sign emails; "
            "see docs/deliverability.md"
        )
    from mailer.transport.dkim import zone_line

    key = workspace.dkim_key()
    assert key is not None
    click.echo(zone_line(dkim, key))


@cli.command()
@click.option(
    "--from",
    "start",
    callback=parse_date,
    metavar="YYYY-MM-DD",
    help="First date to show (default: today).",
)
@click.option("--count", default=10, show_default=True, type=click.IntRange(min=1))
@JSON
@pass_workspace
def dates(workspace: Workspace, start: dt.date | None, count: int, as_json: bool) -> None:
    """The coming sessions: number, date, status, local and UTC times."""
    from mailer.actions import project as actions
    from mailer.cli.reports import dates_table, occurrence_record

    project = workspace.project()
    found = actions.coming_sessions(project, start, count, now=workspace.now())
    files = project.sessions
    if as_json:
        echo_json([occurrence_record(o, o.scheduled in files) for o in found])
    else:
        click.echo(dates_table(found, files) if found else "No session.")


@cli.command()
@click.argument("day", required=False, callback=parse_date, metavar="[DATE]")
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
    from mailer.actions import project as actions

    if (day is None) == (not whole_series):
        raise InvalidInput("give either a DATE or --series (not both)")
    project = workspace.project()
    code = actions.series_language(project, language)
    with workspace.state() as state:
        if day is not None:
            data = actions.session_ics(project, state, day, code, now=workspace.now())
        else:
            chosen: Layout = "recurring" if layout == "recurring" else "sessions"
            data = actions.series_ics(project, state, code, chosen, now=workspace.now())
    if output is None:
        click.echo(data, nl=False)
    else:
        output.write_bytes(data)
        click.echo(f"Wrote {output}", err=True)


@cli.command()
@click.argument("day", callback=parse_date, metavar="DATE")
@click.option("--kind", type=click.Choice(MESSAGE_KINDS), default="invitation", show_default=True)
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
@JSON
@pass_workspace
def preview(
    workspace: Workspace,
    day: dt.date,
    kind: MessageKind,
    language: str | None,
    all_languages: bool,
    folder: Path,
    open_browser: bool,
    as_json: bool,
) -> None:
    """Write an email as .eml, its HTML and its .ics, for a sample recipient, to look at."""
    from mailer.actions import project as actions
    from mailer.messages.checks import SAMPLE_KEY

    if all_languages and language:
        raise InvalidInput("give --lang or --all-languages, not both")
    project = workspace.project()
    series = project.config.series
    languages = series.languages if all_languages else (actions.series_language(project, language),)
    key = SAMPLE_KEY
    if problem := workspace.signing_key_problem():
        click.echo(
            f"warning: {problem}; the preview's unsubscribe links use a sample key.", err=True
        )
    else:
        key = workspace.signing_key()
    with workspace.state() as state:
        written_files = actions.preview(
            project,
            workspace.templates(),
            state,
            day,
            kind=kind,
            languages=languages,
            folder=folder,
            key=key,
            now=workspace.now(),
        )
    if as_json:
        echo_json(
            [
                {
                    "language": code,
                    "eml": str(w.eml),
                    "html": str(w.html),
                    "ics": None if w.ics is None else str(w.ics),
                }
                for code, w in zip(languages, written_files, strict=True)
            ]
        )
    for code, written in zip(languages, written_files, strict=True):
        if not as_json:
            ics = written.ics or "(no calendar part: the invitation put the meeting in calendars)"
            click.echo(f"{code}: {written.eml}  {written.html}  {ics}")
        if open_browser:
            click.launch(str(written.html))
