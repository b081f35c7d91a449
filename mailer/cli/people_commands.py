"""The command about one person: person (history, export, erasure)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mailer.cli.base import JSON, cli, echo_json, pass_workspace
from mailer.errors import InvalidInput, MailerError

if TYPE_CHECKING:
    from mailer.actions.people import PersonReport
    from mailer.project.workspace import Workspace


@cli.command()
@click.argument("address")
@JSON
@click.option(
    "--export",
    "export_to",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write everything held about them (list rows, choices, every email) as JSON to "
    "this file ('-': standard output): a subject access request.",
)
@click.option(
    "--erase",
    is_flag=True,
    help="Forget them: their emails' records and their suppression go; a hash of the address "
    "stays suppressed, so they are never mailed again.",
)
@click.option("--yes", is_flag=True, help="With --erase: do not ask for confirmation.")
@pass_workspace
def person(
    workspace: Workspace,
    address: str,
    as_json: bool,
    export_to: Path | None,
    erase: bool,
    yes: bool,
) -> None:
    """Everything about ADDRESS: lists, segments, language, suppression, every email planned
    or sent with its state and Message-ID ("did Marie get it?")."""
    from mailer.actions import people as actions
    from mailer.actions.lists import typed_address

    project = workspace.project()
    parsed = typed_address(project, address)
    if erase:
        if export_to is not None or as_json:
            raise InvalidInput("--erase stands alone: export first, then erase")
        if not yes:
            if not sys.stdin.isatty():
                raise InvalidInput("not asking for confirmation without a terminal: add --yes")
            click.confirm(
                f"Erase everything held about {parsed.email} (it cannot be undone)?", abort=True
            )
        with workspace.state() as state:
            erasure = actions.erase_person(project, state, parsed, workspace.now())
        click.echo(
            f"{parsed.email} is erased: {erasure.erased.deliveries} email records deleted; "
            "only a hash of the address is kept, so that it is never mailed again."
        )
        for row in erasure.still_on:
            click.echo(
                f"{row}: warning: still on this list: remove the row (mailer does not edit "
                "your lists; it will not mail the address meanwhile).",
                err=True,
            )
        return
    with workspace.state() as state:
        report = actions.person(project, state, parsed, workspace.now())
    record = actions.person_record(report)
    if export_to is not None:
        record["snapshots"] = [d.snapshot for d in report.deliveries]
        text = json.dumps(record, indent=2, ensure_ascii=False) + "\n"
        if str(export_to) == "-":
            click.echo(text, nl=False)
        else:
            _write_private(export_to, text)
            click.echo(f"{parsed.email}: everything held is in {export_to}.")
        return
    if as_json:
        echo_json(record)
        return
    click.echo(person_text(report))


def _write_private(path: Path, text: str) -> None:
    """Write `text` readable by its owner only from the first byte (personal data)."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(descriptor, 0o600)  # a file that was there already, too
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
    except OSError as error:
        raise MailerError(f"cannot write {path}: {error.strerror}") from None


def person_text(report: PersonReport) -> str:
    """The person, for an organiser to read."""
    from mailer.cli.reports import table

    lines = [report.address.email]
    if report.rows:
        first = report.rows[0].recipient
        lines.append(
            "  lists: " + ", ".join(f"{r.list_name} ({r.recipient.source})" for r in report.rows)
        )
        details = [f"language {first.language}"]
        if first.name:
            details.insert(0, first.name)
        if first.tags:
            details.append("tags " + ", ".join(sorted(first.tags)))
        if first.timezone:
            details.append(f"time zone {first.timezone}")
        lines.append("  " + "; ".join(details))
        when = f" (for the session of {report.session})" if report.session else ""
        lines.append(f"  segments{when}: " + (", ".join(report.segments) or "none"))
    else:
        lines.append("  on none of the mailing lists")
    for member in report.memberships:  # how they came onto a kept list
        how = {"signup": "signed up", "organiser": "added by", "upload": "uploaded by"}
        who = f" {member.added_by}" if member.added_by else ""
        line = f"  {member.list_name}: {how[member.origin]}{who} {member.added_at:%Y-%m-%d %H:%M}Z"
        if member.consent is not None and member.confirmed_at is not None:
            line += (
                f"; confirmed {member.confirmed_at:%Y-%m-%d %H:%M}Z from {member.client}, "
                f"consent {member.consent.version} ({member.consent.language})"
            )
        lines.append(line)
    suppression = report.suppression
    if suppression is None:
        lines.append("  suppressed: no")
    else:
        what = "reminders only" if suppression.scope == "reminders" else "every email"
        lines.append(
            f"  suppressed ({what}): {suppression.kind} since "
            f"{suppression.created_at:%Y-%m-%d %H:%M}Z: {suppression.reason}"
        )
    for bounce in report.mailbox["bounces"]:
        hard = "hard" if bounce["hard"] else "soft"
        said = " ".join(str(bounce[k]) for k in ("status", "diagnostic") if bounce[k])
        lines.append(f"  bounced ({hard}) {str(bounce['at'])[:10]}: {said or 'no report'}")
    for answer in report.mailbox["answers"]:
        via = "a link" if answer["via"] == "link" else "their calendar"
        lines.append(f"  answered {answer['answer']} for {answer['session']} (by {via})")
    for came in report.mailbox["attended"]:
        lines.append(f"  came to {came['session']} ({came['minutes']} min)")
    if not report.deliveries:
        lines.append("  emails: none")
        return "\n".join(lines)
    rows = [
        [
            d.session.isoformat(),
            d.message,
            d.state,
            d.language,
            (d.sent_at or d.created_at)[:16].replace("T", " ") + "Z",
            d.message_id or "-",
            d.reason or "",
        ]
        for d in report.deliveries
    ]
    lines.append("  emails:")
    body = table(["session", "email", "state", "lang", "when (UTC)", "Message-ID", "reply"], rows)
    lines.extend("    " + line for line in body.splitlines())
    return "\n".join(lines)
