"""Who is coming: answers (the headcount, and who), attendance import (who came)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mailer.cli.base import JSON, cli, echo_json, parse_date, pass_workspace
from mailer.cli.reports import ANSWER_ORDER, ANSWER_SAID, headcount_text

if TYPE_CHECKING:
    from mailer.project.workspace import Workspace


@cli.command()
@click.argument("day", callback=parse_date, metavar="DATE")
@click.option(
    "--answer",
    type=click.Choice(ANSWER_ORDER),
    help="Only those who answered this (none: who did not answer).",
)
@click.option("--csv", "as_csv", is_flag=True, help="A CSV file: address, name, answer, via, when.")
@JSON
@pass_workspace
def answers(
    workspace: Workspace, day: dt.date, answer: str | None, as_csv: bool, as_json: bool
) -> None:
    """Who is coming to the session of DATE (YYYY-MM-DD): yes, maybe, no, the waiting list,
    and who was emailed and did not answer, from the emails' answer links and calendar
    replies."""
    from mailer.actions.answers import answers_csv, session_headcount

    project = workspace.project()
    with workspace.state() as state:
        count = session_headcount(project, state, day)
    rows = [row for row in count.rows if answer is None or row.said == answer]
    if as_json:
        echo_json(
            {
                "session": day.isoformat(),
                "counts": {said: count.counts.get(said, 0) for said in ANSWER_ORDER},
                "people": [
                    {
                        "address": r.address,
                        "name": r.name,
                        "answer": r.said,
                        "via": r.source,
                        "at": r.at or None,
                    }
                    for r in rows
                ],
            }
        )
        return
    if as_csv:
        click.echo(answers_csv(rows), nl=False)
        return
    click.echo(f"Session of {day}: {headcount_text(count.counts)}.")
    for row in rows:
        said = ANSWER_SAID.get(row.said, row.said)
        name = f" ({row.name})" if row.name else ""
        when = f"  {row.at[:16].replace('T', ' ')}Z by {row.source}" if row.at else ""
        click.echo(f"  {said:<12} {row.address}{name}{when}")


@cli.group()
def attendance() -> None:
    """Who came to a session, from the meeting's participants report."""


@attendance.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--session", "day", required=True, callback=parse_date, help="The session (YYYY-MM-DD)."
)
@JSON
@pass_workspace
def attendance_import(workspace: Workspace, file: Path, day: dt.date, as_json: bool) -> None:
    """Import FILE, Zoom's participants report of the session (CSV, as Zoom exports it):
    people are matched to the lists by address, case-insensitive; segments with `attended`
    then select those who came, or not. Importing again replaces the session's report."""
    from mailer.actions.answers import import_attendance
    from mailer.errors import InvalidInput, Problem

    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput(
            "the participants report cannot be read",
            [Problem(str(file), str(error), hint="Give the CSV file Zoom exported.")],
        ) from None
    project = workspace.project()
    with workspace.state() as state:
        done = import_attendance(project, state, text, str(file), session=day, now=workspace.now())
    if as_json:
        echo_json(
            {
                "session": day.isoformat(),
                "matched": [p.email for p in done.matched],
                "not_on_a_list": [p.email for p in done.unknown],
                "without_address": done.report.without_address,
            }
        )
        return
    for problem in done.report.problems:
        click.echo(f"warning: {problem}", err=True)
    click.echo(
        f"Session of {day}: {len(done.matched)} people on the lists came "
        f"({len(done.report.participants)} addresses in the report)."
    )
    if done.unknown:
        click.echo(f"Not on any list (not kept): {', '.join(p.email for p in done.unknown)}")
    if done.report.without_address:
        click.echo(f"Without an address (not matched): {', '.join(done.report.without_address)}")
