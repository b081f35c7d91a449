"""The sign-up page: signup snippet (the form to paste on another website)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from mailer.cli.base import cli, pass_workspace

if TYPE_CHECKING:
    from mailer.project.workspace import Workspace


@cli.group()
def signup() -> None:
    """The public sign-up page ([signup] in config.toml)."""


@signup.command()
@click.option("--language", help="The form's language (default: the series' first).")
@pass_workspace
def snippet(workspace: Workspace, language: str | None) -> None:
    """Print the sign-up form as plain HTML, posting to the daemon's page, to paste on the
    organisation's website (people still confirm by the emailed link)."""
    from mailer.errors import InvalidInput
    from mailer.messages.signup import signup_snippet

    config = workspace.project().config
    if config.signup is None:
        raise InvalidInput(
            "there is no sign-up page: add [signup] to config.toml (docs/configuration.md)"
        )
    chosen = language or config.series.default_language
    if chosen not in config.series.languages:
        known = ", ".join(config.series.languages)
        raise InvalidInput(f"'{chosen}' is not a language of the series (it has {known})")
    click.echo(signup_snippet(config, workspace.templates(), chosen), nl=False)
