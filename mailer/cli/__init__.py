"""The `mailer` command line (click): the only package that imports click, prints, or exits."""

from mailer.cli import (
    answer_commands,
    daemon_commands,
    list_commands,
    mailbox_commands,
    people_commands,
    project_commands,
    send_commands,
    setup_commands,
    signup_commands,
)
from mailer.cli.base import cli, main, run

__all__ = [
    "answer_commands",
    "cli",
    "daemon_commands",
    "list_commands",
    "mailbox_commands",
    "main",
    "people_commands",
    "project_commands",
    "run",
    "send_commands",
    "setup_commands",
    "signup_commands",
]
