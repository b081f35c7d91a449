"""What every command and the daemon share: the project, its state file, the clock, secrets.

An adapter: it reads files (through `mailer.project`), opens the state file, reads the clock and
the environment. Everything it hands on is plain data for the pure core.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from mailer.addresses import Address, InvalidAddress, parse_address
from mailer.config import Config
from mailer.errors import InvalidInput, MailerError, Problem
from mailer.project import Project, load_project
from mailer.state import State
from mailer.templates import TemplateSet, load_sources
from mailer.tokens import key_problem


class Workspace:
    """A project on disk, with the clock (real, or simulated with --now) and the environment."""

    def __init__(
        self,
        config_path: Path,
        now: dt.datetime | None = None,
        environ: Mapping[str, str] | None = None,
        on_warnings: Callable[[Sequence[Problem]], None] | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.config_path = config_path
        self.simulated_now = now
        self._started = time.monotonic()
        self.clock = clock  # a simulation's clock, which overrides both
        self.environ = os.environ if environ is None else environ
        self._on_warnings = on_warnings
        self._project: Project | None = None
        self._templates: TemplateSet | None = None

    def now(self) -> dt.datetime:
        """The current instant, time-zone aware. A simulated start (--now) goes on ticking, so
        that retries and deadlines behave in a rehearsal as they would for real."""
        if self.clock is not None:
            return self.clock()
        if self.simulated_now is None:
            return dt.datetime.now(dt.UTC)
        return self.simulated_now + dt.timedelta(seconds=time.monotonic() - self._started)

    def project(self) -> Project:
        """The project, loaded and validated once (ConfigError lists every problem)."""
        if self._project is None:
            self._project = load_project(self.config_path)
            if self._on_warnings is not None:
                self._on_warnings(self._project.warnings)
        return self._project

    def override_config(self, config: Config) -> None:
        """Use `config` instead of what config.toml says (a worker's share of the settings)."""
        self._project = dataclasses.replace(self.project(), config=config)

    def fresh(self) -> Workspace:
        """The same project read again from disk, with the same clock (a rehearsal's goes on
        ticking) and environment; this one stays as it was until the new one is accepted."""
        other = Workspace(
            self.config_path, self.simulated_now, self.environ, self._on_warnings, self.clock
        )
        other._started = self._started
        return other

    def templates(self) -> TemplateSet:
        """The project's email templates, compiled once (TemplateError lists every broken one).

        Like the project, read once per workspace: the daemon makes a fresh workspace when a
        file changes, and every unsubscribe page would otherwise compile them all again.
        """
        if self._templates is None:
            project = self.project()
            folder = project.path(project.config.templates)
            self._templates = TemplateSet(load_sources(folder), str(folder))
        return self._templates

    def database(self) -> Path:
        """Where the project's state file is (the locks are beside it)."""
        project = self.project()
        return project.path(project.config.database)

    def state(self) -> State:
        """The project's state file, opened (and migrated)."""
        return State(self.database())

    def signing_key(self) -> bytes:
        """The unsubscribe signing key, from the environment variable config.toml names."""
        variable = self.project().config.unsubscribe.key_env
        value = self.environ.get(variable)
        if problem := key_problem(value, variable):
            raise MailerError(problem)
        assert value is not None
        return value.encode()

    def address(self, text: str) -> Address:
        """An address typed by a person, validated."""
        case_sensitive = self.project().config.mailing.case_sensitive_local
        try:
            return parse_address(text, case_sensitive_local=case_sensitive)
        except InvalidAddress as error:
            raise InvalidInput(f"'{text}' is not a valid email address: {error}") from None

    def language(self, language: str | None) -> str:
        """`language` if the series has it, the default language if None; else InvalidInput."""
        series = self.project().config.series
        if language is None:
            return series.default_language
        if language not in series.languages:
            raise InvalidInput(
                f"'{language}' is not a language of the series "
                f"(choose one of {', '.join(series.languages)})"
            )
        return language
