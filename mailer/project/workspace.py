"""The composition root: a project on disk, the clock, the environment, and the adapters built
from them.

The one place that reads the clock (`--now`, or the real one), the environment (secrets) and the
project's files; the interfaces (`mailer.cli`, `mailer.daemon`, `mailer.web`) ask it for what
they hand to the services, which take only what they use.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mailer.audience.unsubscribe import key_problem
from mailer.config.placeholders import placeholder_problems
from mailer.config.settings import Config
from mailer.errors import (
    ConfigError,
    InvalidInput,
    MailerError,
    Problem,
    StateError,
    UnusableKey,
)
from mailer.messages.templates import TemplateSet
from mailer.project.clock import Clock
from mailer.project.load import Project, load_project, load_templates
from mailer.store.location import StoreLocation
from mailer.store.state import State
from mailer.transport.base import Transport
from mailer.transport.factory import build_transport

if TYPE_CHECKING:
    from mailer.mailbox.imap import ImapMailbox
    from mailer.transport.dkim import DkimKey, DkimSigner


class Workspace:
    """A project on disk, with the clock (real, or simulated with --now) and the environment."""

    def __init__(
        self,
        config_path: Path,
        now: dt.datetime | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        on_warnings: Callable[[Sequence[Problem]], None] | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        real_mail: bool = False,
    ) -> None:
        self.config_path = config_path
        self.real_mail = real_mail  # a rehearsal (--now) may send real email
        self.rehearsal = Clock(now)
        self.clock = clock  # a simulation's clock, which overrides both
        self.environ = os.environ if environ is None else environ
        self._on_warnings = on_warnings
        self._project: Project | None = None
        self._templates: TemplateSet | None = None
        self._dkim: tuple[DkimKey | None, str | None] | None = None

    @property
    def simulated_now(self) -> dt.datetime | None:
        """The instant a rehearsal (--now) started at, if this is one."""
        return self.rehearsal.start

    def now(self) -> dt.datetime:
        """The current instant, time-zone aware. A simulated start (--now) goes on ticking, so
        that retries and deadlines behave in a rehearsal as they would for real."""
        if self.clock is not None:
            return self.clock()
        return self.rehearsal()

    def project(self) -> Project:
        """The project, loaded and validated once (ConfigError lists every problem)."""
        if self._project is None:
            self._project = load_project(self.config_path)
            if self._on_warnings is not None:
                self._on_warnings(self._project.warnings)
        return self._project

    def override_config(self, config: Config) -> None:
        """Use `config` instead of what config.toml says."""
        self._project = dataclasses.replace(self.project(), config=config)

    def fresh(self) -> Workspace:
        """The same project read again from disk, with the same clock (a rehearsal's goes on
        ticking) and environment; this one stays as it was until the new one is accepted."""
        other = Workspace(
            self.config_path,
            environ=self.environ,
            on_warnings=self._on_warnings,
            clock=self.clock,
            real_mail=self.real_mail,
        )
        other.rehearsal = self.rehearsal
        return other

    def templates(self) -> TemplateSet:
        """The project's email templates (each compiled when first used, then kept).

        Like the project, read once per workspace: the daemon makes a fresh workspace when a
        file changes, and every unsubscribe page would otherwise compile its own again.
        """
        if self._templates is None:
            self._templates = load_templates(self.project())
        return self._templates

    def store(self) -> StoreLocation:
        """Where the project's state is (an SQLite file, the locks beside it; or PostgreSQL)."""
        return self.project().store

    def state(self) -> State:
        """The project's state, opened (and migrated)."""
        return self.store().open()

    def signing_key_problem(self) -> str | None:
        """Why the unsubscribe signing key cannot be used, or None."""
        variable = self.project().config.unsubscribe.key_env
        return key_problem(self.environ.get(variable), variable)

    def secret_problems(self, *, mailbox: bool = False) -> list[Problem]:
        """What is wrong with the secrets sending needs (the unsubscribe signing key; the SMTP
        password when a login is configured; with `mailbox`, the mailbox's password when
        [mailbox] is set), located at the config key that names them."""
        config = self.project().config
        source = str(self.config_path)
        problems = []
        if mailbox and config.mailbox is not None and (problem := self.mailbox_problem()):
            problems.append(Problem(source, problem, key="mailbox.password_env"))
        if problem := self.signing_key_problem():
            problems.append(Problem(source, problem, key="unsubscribe.key_env"))
        smtp = config.delivery.smtp
        if config.delivery.kind == "smtp" and smtp.username and not self.smtp_password():
            problems.append(
                Problem(
                    source,
                    f"[smtp] username is set but the password is not: export "
                    f"{smtp.password_env}=... (the SMTP password, never in config.toml)",
                    key="smtp.password_env",
                )
            )
        if (dkim := self._dkim_key())[1] is not None:
            assert config.dkim is not None
            key = "dkim.key_file" if config.dkim.key_file else "dkim.key_env"
            problems.append(Problem(source, dkim[1], key=key))
        return problems

    def state_status(self) -> tuple[str, list[Problem]]:
        """Which store the state is in and whether it can be used (`mailer check`)."""
        location = self.store()
        here = f"{self.config_path.parent}/"
        try:
            return location.probe().replace(here, ""), []
        except StateError as error:
            problem = Problem(str(self.config_path), str(error), key="state.database")
            return location.describe(), [problem]

    def mailbox_problem(self) -> str | None:
        """Why the mailbox cannot be read (no [mailbox], no password), or None."""
        settings = self.project().config.mailbox
        if settings is None:
            return (
                f"{self.config_path} has no [mailbox]: add one (host, user; the password "
                "from the environment) to read bounces, emailed unsubscribes and replies"
            )
        if not self.environ.get(settings.password_env):
            return (
                f"the mailbox password is not set: export {settings.password_env}=... "
                "(never in config.toml)"
            )
        return None

    def mailbox(self) -> ImapMailbox:
        """The project's IMAP mailbox, not yet connected (use it as a context manager)."""
        from mailer.mailbox.imap import ImapMailbox  # noqa: PLC0415 - imapclient when used

        if problem := self.mailbox_problem():
            raise InvalidInput(problem)
        settings = self.project().config.mailbox
        assert settings is not None
        ca_file = str(self.project().path(settings.ca_file)) if settings.ca_file else None
        return ImapMailbox(settings, self.environ[settings.password_env], ca_file)

    def require_secrets(self) -> None:
        """ConfigError (exit 2) naming every missing secret: called before a send or the
        daemon touches anything."""
        if problems := self.secret_problems():
            raise ConfigError("cannot send without its secrets", problems)

    def signing_key(self) -> bytes:
        """The unsubscribe signing key, from the environment variable config.toml names."""
        if problem := self.signing_key_problem():
            raise MailerError(problem)
        return self.environ[self.project().config.unsubscribe.key_env].encode()

    def _dkim_key(self) -> tuple[DkimKey | None, str | None]:
        """The DKIM private key `[dkim]` names (from its file or the environment), or why it
        cannot be used; (None, None) without `[dkim]`."""
        if self._dkim is None:
            self._dkim = self._read_dkim_key()
        return self._dkim

    def _read_dkim_key(self) -> tuple[DkimKey | None, str | None]:
        settings = self.project().config.dkim
        if settings is None:
            return None, None
        from mailer.transport.dkim import read_key  # noqa: PLC0415 - when used

        if settings.key_file is not None:
            path = self.project().path(settings.key_file)
            try:
                if path.stat().st_mode & 0o077:
                    return None, (
                        f"the DKIM key {path} can be read by other users: chmod 600 {path} "
                        "(and let only mailer's user own it)"
                    )
                text = path.read_bytes()
            except OSError as error:
                return None, f"cannot read the DKIM key {path}: {error.strerror}"
        elif value := self.environ.get(settings.key_env):
            text = value.encode()
        else:
            return None, (
                f'[dkim] is set but its key is not: export {settings.key_env}="$(cat '
                'dkim.pem)" (the private key, never in config.toml), or set [dkim] key_file'
            )
        try:
            return read_key(text), None
        except UnusableKey as problem:
            return None, str(problem)

    def dkim_key(self) -> DkimKey | None:
        """The DKIM private key, or None without `[dkim]` (MailerError when it is unusable)."""
        key, problem = self._dkim_key()
        if problem is not None:
            raise MailerError(problem)
        return key

    def dkim_signer(self) -> DkimSigner | None:
        """What signs every email, when `[dkim]` asks for it."""
        settings = self.project().config.dkim
        if settings is None:
            return None
        from mailer.transport.dkim import DkimSigner  # noqa: PLC0415 - dkimpy only when used

        key = self.dkim_key()
        assert key is not None
        return DkimSigner(settings, key)

    def refuse_rehearsal_mail(self) -> None:
        """A rehearsal (--now) that would send real email through SMTP is refused (exit 2)
        unless the operator said real mail is wanted (--real-mail)."""
        delivery = self.project().config.delivery
        if self.simulated_now is None or delivery.kind != "smtp" or self.real_mail:
            return
        where = f"{delivery.smtp.host}:{delivery.smtp.port}"
        raise InvalidInput(
            f"this is a rehearsal (--now {self.simulated_now.isoformat()}), and it would send "
            f'real email through {where}: set [transport] kind = "outbox" in a copy of the '
            "project to rehearse, or add --real-mail if real email is what you want"
        )

    def refuse_placeholders(self) -> None:
        """Sending through SMTP while mailer init's placeholders are in the project (the
        meeting's link, example.org addresses, a session's title) is refused (exit 2): they
        would reach real people. The outbox takes them (to look at)."""
        project = self.project()
        if project.config.delivery.kind != "smtp":
            return
        if found := placeholder_problems(project.config, project.sessions):
            errors = [dataclasses.replace(problem, severity="error") for problem in found]
            raise ConfigError(
                "mailer init's placeholders are still in the project: nothing goes out by SMTP "
                "with them",
                errors,
            )

    def smtp_password(self) -> str | None:
        """The SMTP password, from the environment variable `[smtp] password_env`."""
        return self.environ.get(self.project().config.delivery.smtp.password_env)

    def transport(self) -> Transport:
        """The transport config.toml asks for."""
        project = self.project()
        return build_transport(
            project.config.delivery,
            resolve=project.path,
            password=self.smtp_password(),
            signer=self.dkim_signer(),
        )
