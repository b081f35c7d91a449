"""The one exception hierarchy of mailer, and the `Problem` record validators collect.

Library code raises these; only the CLI (`mailer.cli`) turns them into messages and exit codes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]

EXIT_FAILURE = 1
EXIT_INVALID_INPUT = 2
EXIT_CONFLICT = 3
EXIT_TEMPFAIL = 75  # sysexits.h: some emails wait for a retry, or another sender was busy


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth a warning) in a user's input, located as precisely as we can."""

    source: str
    message: str
    key: str | None = None
    line: int | None = None
    hint: str | None = None
    severity: Severity = "error"

    def __str__(self) -> str:
        """`file:line: at 'key.path': message. hint` (parts that are unknown are left out)."""
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        text = f"{where}: "
        if self.severity == "warning":
            text += "warning: "
        if self.key:
            text += f"at '{self.key}': "
        text += self.message.rstrip(".") + "."
        if self.hint:
            text += " " + self.hint
        return text

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


class MailerError(Exception):
    """Base of every error mailer raises on purpose."""

    exit_code = EXIT_FAILURE


class InvalidInput(MailerError):
    """The user's input (config, session files, lists, templates, arguments) is wrong.

    Carries every problem found, not just the first.
    """

    exit_code = EXIT_INVALID_INPUT

    def __init__(self, summary: str, problems: Iterable[Problem] = ()) -> None:
        self.problems = tuple(problems)
        super().__init__(summary)


class ConfigError(InvalidInput):
    """config.toml or a session file is invalid."""


class RecipientsError(InvalidInput):
    """A mailing list cannot be used at all (unreadable file, unknown list or segment)."""


class TemplateError(InvalidInput):
    """A template is missing, does not compile, or does not render."""


class NotFound(InvalidInput):
    """The thing asked for (a session date, a segment, a language) does not exist."""


class StateError(MailerError):
    """The state database cannot be used (newer schema, corrupt, unwritable)."""


class LockHeld(StateError):
    """Another sender or daemon holds the state database's sender lock."""

    exit_code = EXIT_CONFLICT


class TransportError(MailerError):
    """Delivering a message failed. Subclasses say what is known of its fate.

    `code` is the SMTP reply code, `enhanced` its RFC 3463 status (`5.1.1`), and `slow_down`
    says the server wants fewer messages per second (421, 4.7.x).
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        enhanced: str | None = None,
        slow_down: bool = False,
    ) -> None:
        self.code = code
        self.enhanced = enhanced
        self.slow_down = slow_down
        super().__init__(message)


class TemporaryFailure(TransportError):
    """The message was not accepted, and trying again later may work (4xx, refused connection)."""


class PermanentFailure(TransportError):
    """The message was refused for good (5xx)."""


class UnknownFate(TransportError):
    """The message may or may not have been accepted (connection lost after the final dot)."""


class ConnectionFailure(TemporaryFailure):
    """The server could not be reached or the session could not be set up."""


class SetupFailure(TransportError):
    """The transport is misconfigured (TLS refused, authentication failed): no message can go."""

    exit_code = EXIT_INVALID_INPUT


def errors_only(problems: Iterable[Problem]) -> list[Problem]:
    """The problems that block (not the warnings)."""
    return [problem for problem in problems if problem.is_error]
