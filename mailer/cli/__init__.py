"""The `mailer` command line (click): the only package that imports click, prints, or exits."""

from mailer.cli import daemon_commands, list_commands, project_commands, send_commands
from mailer.cli.base import cli, main, run

__all__ = [
    "cli",
    "daemon_commands",
    "list_commands",
    "main",
    "project_commands",
    "run",
    "send_commands",
]
