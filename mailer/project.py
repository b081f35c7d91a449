"""Loading a project from disk: config.toml and the session files beside it.

The I/O edge of configuration: it reads files and hands their text to the pure validators,
gathering the problems of every file into one `ConfigError`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mailer.config import Config, read_config
from mailer.errors import ConfigError, Problem, errors_only
from mailer.model import SessionContent
from mailer.sessions import read_session, scheduled_date_of


@dataclass(frozen=True)
class Project:
    """A loaded, validated project: the config, the session files, and the warnings found."""

    root: Path
    config: Config
    sessions: Mapping[dt.date, SessionContent]
    warnings: tuple[Problem, ...] = field(default=())

    def path(self, relative: str) -> Path:
        """A path from config.toml, resolved against the folder config.toml is in."""
        candidate = Path(relative).expanduser()
        return candidate if candidate.is_absolute() else self.root / candidate

    @property
    def sessions_dir(self) -> Path:
        return self.path(self.config.series.sessions_dir)


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
            try:
                content, found = read_session(
                    read_text(path, "the session file"),
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
    if errors_only(problems) or parsed.config is None:
        raise ConfigError("the project has problems", problems)
    return Project(root=root, config=parsed.config, sessions=sessions, warnings=tuple(problems))
