"""The files whose change reloads the daemon (config, sessions, lists, templates), and what they
look like now."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from mailer.project.load import Project

Fingerprint = tuple[tuple[str, float, int], ...]


def watched_files(config_path: Path, project: Project) -> Iterator[Path]:
    """The files whose change reloads the daemon: config, sessions, lists, templates."""
    yield config_path
    yield from project.sessions_dir.glob("*.toml")
    for mailing_list in project.config.mailing.lists:
        yield project.path(mailing_list.file)
    yield from project.templates_dir.rglob("*.*")


def fingerprint(config_path: Path, project: Project) -> Fingerprint:
    """What the watched files look like now (names, times, sizes)."""
    found = []
    for path in watched_files(config_path, project):
        try:
            stat = path.stat()
        except OSError:
            continue
        found.append((str(path), stat.st_mtime_ns / 1e9, stat.st_size))
    return tuple(sorted(found))
