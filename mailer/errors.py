"""The one exception hierarchy of mailer, every exit code, and the `Problem` validators collect.

Library code raises these; only the CLI (`mailer.cli.base.run`) turns them into messages and
exit codes. No other module defines an exception (tests/unit/test_architecture.py checks it).

    MailerError                       exit 1   anything mailer raises on purpose
    ├── InvalidInput                  exit 2   the user's input is wrong (carries every Problem)
    │   ├── ConfigError                        config.toml or a session file
    │   ├── RecipientsError                    a mailing list cannot be used at all
    │   ├── TemplateError                      a template is missing, broken, or fails to render
    │   ├── NotFound                           no such session, segment, language
    │   ├── InvalidAddress                     not an email address
    │   ├── InvalidToken                       not a genuine unsubscribe token
    │   └── UnusableKey                        a DKIM private key that cannot sign
    ├── TooLate                       exit 1   the deadline of a send passed
    ├── PlanChanged                   exit 3   a confirmed plan is no longer the plan
    ├── StateError                    exit 1   the state file cannot be used
    │   ├── LockHeld                  exit 3   another sender or daemon holds its lock
    │   ├── StateUnavailable          exit 75  the database cannot be reached now (try again)
    │   └── NotLeader                          this daemon is not (or no longer) the leader
    ├── TransportError                exit 1   delivering one message failed
    │   ├── TemporaryFailure                   this message: try again later (4xx)
    │   ├── PermanentFailure                   this message: refused for good (5xx)
    │   ├── UnknownFate                        this message may or may not have been accepted
    │   ├── Withheld                           not sent: its sender may no longer own it
    │   ├── RelayFailure              exit 75  the relay or the connection, not the message
    │   │   └── ConnectionFailure              the relay cannot be reached
    │   └── SetupFailure              exit 2   no message can go (TLS, login, refused sender)
    └── MailboxError                  exit 75  the IMAP mailbox cannot be read (try again)
        └── MailboxRefused            exit 2   TLS or login refused: the settings are wrong

Exit codes of every command: 0 success; 1 failure; 2 bad input or configuration; 3 conflict (a
lock is held); 70 internal error, a bug (EX_SOFTWARE); 75 try again later (EX_TEMPFAIL: emails
wait for a retry, another sender was busy); 130 interrupted (Ctrl-C, SIGTERM).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_INVALID_INPUT = 2
EXIT_CONFLICT = 3
EXIT_INTERNAL = 70  # sysexits.h EX_SOFTWARE: a bug in mailer
EXIT_TEMPFAIL = 75  # sysexits.h: some emails wait for a retry, or another sender was busy
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it


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


class InvalidAddress(InvalidInput, ValueError):
    """Not a valid email address; the message says why, for a person."""


class InvalidToken(InvalidInput, ValueError):
    """An unsubscribe token is malformed, or was not made with our key for this series."""


class UnusableKey(InvalidInput, ValueError):
    """A DKIM private key that cannot be used (not RSA, encrypted, too short)."""


class TooLate(MailerError):
    """The send's deadline passed: nothing is sent."""


class SendPaused(MailerError):
    """An organiser paused this send: nobody sends it until it is resumed."""

    exit_code = EXIT_CONFLICT


class PlanChanged(MailerError):
    """The plan an organiser confirmed is not the plan any more (a list or the ledger changed
    meanwhile): nothing is sent; they look at it again."""

    exit_code = EXIT_CONFLICT


class StateError(MailerError):
    """The state database cannot be used (newer schema, corrupt, unwritable)."""


class LockHeld(StateError):
    """Another sender or daemon holds the state database's sender lock."""

    exit_code = EXIT_CONFLICT


class StateUnavailable(StateError):
    """The database cannot be reached now (PostgreSQL down, the network): what was recorded is
    kept, and the same operation can be tried again once it is back."""

    exit_code = EXIT_TEMPFAIL


class StaleContent(StateError):
    """This host's copy of a session file is not the one saved last (on another host): nothing
    is planned or sent from here until its folder is brought up to date."""

    exit_code = EXIT_TEMPFAIL


class NotLeader(StateError):
    """A write only the daemons' leader may make, by a daemon whose leadership has ended (its
    lease ran out and another took over): the write is refused, in the same transaction."""


class TransportError(MailerError):
    """Delivering a message failed. Subclasses say what is known of its fate.

    `code` is the SMTP reply code, `enhanced` its RFC 3463 status (`5.1.1`), `slow_down` says
    the server wants fewer messages per second (421, 4.7.x), and `relay` that the relay cannot
    carry this message (SMTPUTF8 not offered): nothing the recipient did.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        enhanced: str | None = None,
        slow_down: bool = False,
        relay: bool = False,
    ) -> None:
        self.code = code
        self.enhanced = enhanced
        self.slow_down = slow_down
        self.relay = relay
        super().__init__(message)


class TemporaryFailure(TransportError):
    """This message was not accepted, and trying again later may work (4xx at RCPT or DATA)."""


class PermanentFailure(TransportError):
    """The message was refused for good (5xx)."""


class UnknownFate(TransportError):
    """The message may or may not have been accepted (connection lost after the final dot)."""


class Withheld(TransportError):
    """The message was not sent: the lease of its row may have run out (the process was frozen,
    the database unreachable), so another sender may be sending it; the connection is dropped
    before its data, and the row goes back."""


class RelayFailure(TransportError):
    """The relay or the connection failed, whatever the message (connection refused or lost,
    TLS or the session refused for now, 421, a full outbox disk): it is the send's problem, not
    the recipient's, so the delivery waits for the next run and counts no attempt."""

    exit_code = EXIT_TEMPFAIL


class ConnectionFailure(RelayFailure):
    """The relay could not be reached (refused, timed out, no greeting)."""


class SetupFailure(TransportError):
    """The transport is misconfigured (TLS refused, authentication failed): no message can go."""

    exit_code = EXIT_INVALID_INPUT


def errors_only(problems: Iterable[Problem]) -> list[Problem]:
    """The problems that block (not the warnings)."""
    return [problem for problem in problems if problem.is_error]


class MailboxError(MailerError):
    """The IMAP mailbox cannot be reached or read now; nothing was marked done."""

    exit_code = EXIT_TEMPFAIL


class MailboxRefused(MailboxError):
    """The mailbox refused our TLS or login: the settings (or the password) are wrong."""

    exit_code = EXIT_INVALID_INPUT
