"""Loading a project from disk: config.toml, the session files beside it, the templates.

The I/O edge of configuration: it reads files and hands their text to the pure validators,
gathering the problems of every file into one `ConfigError`.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import jinja2

from mailer.config.sessions import move_problems, read_session, scheduled_date_of
from mailer.config.settings import Config
from mailer.config.store_url import default_schema, is_postgres_url
from mailer.config.validate import read_config
from mailer.errors import ConfigError, Problem, TemplateError, errors_only
from mailer.messages.templates import TemplateSet
from mailer.model import Logo, SessionContent
from mailer.store.location import PostgresLocation, SqliteLocation, StoreLocation
from mailer.store.session_files import digest_of


@dataclass(frozen=True)
class Project:
    """A loaded, validated project: the config, the session files, and the warnings found."""

    root: Path
    config: Config
    sessions: Mapping[dt.date, SessionContent]
    warnings: tuple[Problem, ...] = field(default=())
    # the digest of each session file's text as it was read (by file name): what a send from
    # this host would say (`mailer.store.session_files`)
    digests: Mapping[str, str] = field(default_factory=dict)

    def path(self, relative: str) -> Path:
        """A path from config.toml, resolved against the folder config.toml is in."""
        candidate = Path(relative).expanduser()
        return candidate if candidate.is_absolute() else self.root / candidate

    @property
    def sessions_dir(self) -> Path:
        return self.path(self.config.series.sessions_dir)

    @property
    def store(self) -> StoreLocation:
        """Where the project's state is: its SQLite file (the locks beside it), or its schema
        in a PostgreSQL database."""
        return self.store_at(self.config.database)

    def store_at(self, where: str, schema: str | None = None) -> StoreLocation:
        """A store named as `[state] database` names it: a file (relative to the project) or
        a PostgreSQL URL, its schema `schema`, else the project's."""
        config = self.config
        if is_postgres_url(where):
            schema = schema or config.schema or default_schema(config.series.id)
            return PostgresLocation(where, schema, self.root / "state")
        return SqliteLocation(self.path(where))

    @property
    def templates_dir(self) -> Path:
        return self.path(self.config.templates)


def read_text(path: Path, what: str, hint: str = "Check the path, or create it.") -> str:
    """A UTF-8 text file's content; a missing or undecodable file is a located ConfigError."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        problem = Problem(str(path), f"{what} does not exist", hint=hint)
    except UnicodeDecodeError as error:
        problem = Problem(
            str(path), f"this file is not UTF-8 (byte {error.start})", hint="Save it as UTF-8."
        )
    except OSError as error:
        problem = Problem(str(path), f"cannot read {what}: {error.strerror}")
    raise ConfigError(f"cannot read {path}", [problem])


def load_project(config_path: Path) -> Project:
    """Read and validate config.toml and every session file; ConfigError lists all problems."""
    text = read_text(
        config_path, "the config file", "Run mailer in the project's folder, or give --config PATH."
    )
    parsed = read_config(text, str(config_path))
    root = config_path.parent
    problems = list(parsed.problems)
    sessions: dict[dt.date, SessionContent] = {}
    digests: dict[str, str] = {}
    if parsed.series is None:  # session files cannot be checked against a broken series
        raise ConfigError("the project has problems", problems)
    series = parsed.series
    sessions_dir = Path(series.sessions_dir).expanduser()
    sessions_dir = sessions_dir if sessions_dir.is_absolute() else root / sessions_dir
    if not sessions_dir.is_dir():
        problems.append(
            Problem(
                str(config_path),
                f"the sessions folder {sessions_dir} does not exist",
                key="series.sessions_dir",
                severity="warning",
                hint="No session has content yet; create the folder and add YYYY-MM-DD.toml files.",
            )
        )
    else:
        for path in sorted(sessions_dir.glob("*.toml")):
            scheduled = scheduled_date_of(path.name)
            if scheduled is None:
                problems.append(
                    Problem(
                        str(path),
                        "a session file must be named YYYY-MM-DD.toml",
                        hint="Name it after the session's scheduled date.",
                    )
                )
                continue
            text = read_text(path, "the session file")
            digests[path.name] = digest_of(text)
            try:
                content, found = read_session(
                    text,
                    str(path),
                    scheduled,
                    series,
                    parsed.zoom,
                )
            except ConfigError as error:
                problems.extend(error.problems)
                continue
            problems.extend(found)
            if content is not None:
                sessions[scheduled] = content
    problems.extend(move_problems(series, sessions))
    config = parsed.config
    if config is not None and config.organiser.logo is not None:
        logo, problem = read_logo(root, config.organiser.logo, str(config_path))
        problems.extend([problem] if problem else [])
        config = replace(config, organiser=replace(config.organiser, logo=logo))
    if errors_only(problems) or config is None:
        raise ConfigError("the project has problems", problems)
    return Project(
        root=root,
        config=config,
        sessions=sessions,
        warnings=tuple(problems),
        digests=digests,
    )


MAX_LOGO_BYTES = 100_000  # carried in every email: keep it small
_SIGNATURES = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpeg"}


def read_logo(root: Path, logo: Logo, source: str) -> tuple[Logo | None, Problem | None]:
    """The organiser's logo with its bytes, or why it cannot be carried (said at its key)."""
    path = Path(logo.path).expanduser()
    path = path if path.is_absolute() else root / path
    try:
        data = path.read_bytes()
    except OSError as error:
        why = error.strerror or str(error)
        return None, Problem(
            source,
            f"the logo {path} cannot be read: {why}",
            key="organiser.logo",
            hint="Put the image there, or remove `logo`.",
        )
    subtype = next((kind for sign, kind in _SIGNATURES.items() if data.startswith(sign)), None)
    if subtype is None:
        return None, Problem(
            source,
            f"the logo {path} is not a PNG or JPEG image",
            key="organiser.logo",
            hint="Save it as PNG or JPEG.",
        )
    if len(data) > MAX_LOGO_BYTES:
        return None, Problem(
            source,
            f"the logo {path} is {len(data):,} bytes; every email carries it",
            key="organiser.logo",
            hint=f"Make it smaller than {MAX_LOGO_BYTES:,} bytes (a few kilobytes is enough).",
        )
    return replace(logo, data=data, subtype=subtype), None


_TEMPLATE_SUFFIXES = (".txt", ".html")


def load_sources(folder: Path) -> dict[str, str]:
    """Every template file under `folder` (UTF-8), by name relative to it."""
    if not folder.is_dir():
        raise TemplateError(
            f"the templates folder {folder} does not exist",
            [
                Problem(
                    str(folder),
                    "the templates folder does not exist",
                    hint="Create it, or set [email] templates in config.toml.",
                )
            ],
        )
    sources = {}
    problems = []
    for path in sorted(folder.rglob("*")):
        if path.suffix in _TEMPLATE_SUFFIXES and path.is_file():
            try:
                sources[path.relative_to(folder).as_posix()] = path.read_text(encoding="utf-8")
            except UnicodeDecodeError as error:
                problems.append(
                    Problem(str(path), f"not UTF-8 (byte {error.start})", hint="Save it as UTF-8.")
                )
    if problems:
        raise TemplateError("some templates cannot be read", problems)
    return sources


def load_templates(project: Project) -> TemplateSet:
    """The project's email templates, read (each is compiled when first used; `mailer check`
    compiles them all, and a send those it uses before sending anything)."""
    folder = project.templates_dir
    return TemplateSet(load_sources(folder), str(folder), compiled=_compiled_cache(project))


def _compiled_cache(project: Project) -> jinja2.BytecodeCache | None:
    """Compiled templates kept beside the state file, so that a command compiles only the
    templates that changed since the last one (Jinja keys each by its name and its text, and
    by Jinja's and Python's versions). Compiled code is run: the folder must be private, as the
    state's own folder is (none until that folder exists; none if another user could write it).
    """
    folder = project.store.local_folder / "compiled-templates"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        found = folder.stat()
    except OSError:
        return None
    if found.st_uid != os.geteuid() or found.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return None
    return jinja2.FileSystemBytecodeCache(str(folder))
