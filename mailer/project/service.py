"""What the systemd unit runs the daemon with, for `mailer check --service UNIT`: its user,
its folder, its environment files (the secrets), what it may write.

Checking as an operator in a shell checks something else than what the service runs: another
user (who may not write `state/`), another environment (the secrets are in a root-only file).
This reads the unit, so that one command checks exactly what the service will run with.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pwd
import shlex
from dataclasses import dataclass
from pathlib import Path

from mailer.errors import ConfigError, Problem
from mailer.project.load import Project


@dataclass(frozen=True)
class ServiceUnit:
    """The keys of a unit's [Service] that matter to mailer."""

    path: Path
    user: str | None
    group: str | None
    working_directory: Path | None
    environment_files: tuple[tuple[Path, bool], ...]  # (file, optional: written "-/path")
    read_write: tuple[Path, ...]
    protect_system: str | None
    config: Path | None  # ExecStart's --config


def _service_lines(text: str) -> list[tuple[str, str]]:
    """(key, value) of the [Service] section, continuation lines joined, comments left out."""
    found: list[tuple[str, str]] = []
    section = None
    pending = ""
    for raw in text.splitlines():
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif section == "Service" and "=" in line:
            key, _, value = line.partition("=")
            found.append((key.strip(), value.strip()))
    return found


def read_unit(path: Path) -> ServiceUnit:
    """The unit at `path` (ConfigError if it cannot be read)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        problem = Problem(str(path), f"cannot read the unit: {error.strerror}")
        raise ConfigError(f"cannot read {path}", [problem]) from None
    values: dict[str, list[str]] = {}
    for key, value in _service_lines(text):
        values.setdefault(key, []).append(value)

    def last(key: str) -> str | None:
        return values[key][-1] if values.get(key) else None

    files = []
    for value in values.get("EnvironmentFile", []):
        for item in shlex.split(value):
            files.append((Path(item.lstrip("-")), item.startswith("-")))
    paths = [Path(p.lstrip("-")) for v in values.get("ReadWritePaths", []) for p in v.split()]
    config = None
    if (command := last("ExecStart")) is not None:
        words = shlex.split(command.lstrip("-@:+!"))
        if "--config" in words[:-1]:
            config = Path(words[words.index("--config") + 1])
    directory = last("WorkingDirectory")
    return ServiceUnit(
        path=path,
        user=last("User"),
        group=last("Group"),
        working_directory=Path(directory.lstrip("-")) if directory else None,
        environment_files=tuple(files),
        read_write=tuple(paths),
        protect_system=last("ProtectSystem"),
        config=config,
    )


def read_environment_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as systemd reads an EnvironmentFile (comments, quotes, `export`)."""
    found: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        line = line.removeprefix("export ").strip()
        key, equals, value = line.partition("=")
        if not equals:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        found[key.strip()] = value
    return found


def unit_environment(unit: ServiceUnit) -> dict[str, str]:
    """The variables of the unit's environment files. ConfigError when one cannot be read
    (it is root's only: run the check with sudo)."""
    found: dict[str, str] = {}
    for path, optional in unit.environment_files:
        try:
            found.update(read_environment_file(path))
        except FileNotFoundError:
            if not optional:
                raise _problem(unit, f"its environment file {path} does not exist") from None
        except PermissionError:
            raise _problem(
                unit,
                f"its environment file {path} cannot be read by this user (it holds the "
                "secrets: root only)",
                f"Run it as root: sudo mailer check --service {unit.path}",
            ) from None
    return found


def _problem(unit: ServiceUnit, message: str, hint: str | None = None) -> ConfigError:
    return ConfigError(message, [Problem(str(unit.path), message, hint=hint)])


def writable_folders(project: Project) -> list[tuple[Path, str]]:
    """Every folder the daemon writes in, and why: the state file's (the file, its journal and
    its locks), the outbox's, and the sessions' when the organisers' pages edit them."""
    config = project.config
    folders = [project.store.local_writes()]
    if config.delivery.kind == "outbox":
        folders.append((project.path(config.delivery.outbox), "the outbox's emails"))
    if config.web is not None:
        folders.append((project.sessions_dir, "the session files the organisers' pages save"))
    return folders


def unit_problems(unit: ServiceUnit, project: Project) -> list[Problem]:
    """What the unit forbids that the daemon needs: a folder it writes outside the unit's
    ReadWritePaths (with ProtectSystem=strict the rest of the system is read-only to it)."""
    if unit.protect_system != "strict":
        return []
    if unit.working_directory is not None:
        project = dataclasses.replace(project, root=unit.working_directory)
    allowed = [Path(os.path.normpath(path)) for path in unit.read_write]
    problems = []
    for written, why in writable_folders(project):
        folder = Path(os.path.normpath(written))
        if not any(folder == path or path in folder.parents for path in allowed):
            problems.append(
                Problem(
                    str(unit.path),
                    f"the daemon writes {folder} ({why}), which ProtectSystem=strict makes "
                    "read-only: it is not in ReadWritePaths",
                    hint=f"Add it: ReadWritePaths={' '.join(map(str, [*allowed, folder]))}",
                )
            )
    return problems


def access_problems(project: Project, source: str) -> list[Problem]:
    """What this user cannot do that the daemon does: write (or create) a folder it writes,
    read a file of the project (config, sessions, lists, templates)."""
    problems = []
    user = pwd.getpwuid(os.geteuid()).pw_name
    for folder, why in writable_folders(project):
        probe = folder
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent  # the daemon creates it: its parent must be writable
        if not os.access(probe, os.W_OK | os.X_OK):
            problems.append(
                Problem(
                    source,
                    f"{user} cannot write {probe} ({why})",
                    hint=f"As root: mkdir -p {folder} && chown -R {user}: {folder}",
                )
            )
    for path in _read_files(project):
        if not os.access(path, os.R_OK):
            problems.append(
                Problem(str(path), f"{user} cannot read this file", hint=f"chmod o+r {path}")
            )
    return problems


def _read_files(project: Project) -> list[Path]:
    config = project.config
    files = [project.root / Path(config.source).name]
    files += [project.path(mailing.file) for mailing in config.mailing.lists]
    for folder in (project.sessions_dir, project.templates_dir):
        if folder.is_dir():
            files += [path for path in folder.rglob("*") if path.is_file()]
    return files


def access_problems_as(user: str, project: Project, source: str) -> list[Problem]:
    """`access_problems` as `user` would have them (the caller is root): checked in a child
    process that becomes that user; nothing but permissions is looked at there."""
    account = pwd.getpwnam(user)
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:  # the child reports through the pipe and exits
        os.close(reading)
        try:
            os.setgroups([])
            os.setgid(account.pw_gid)
            os.setuid(account.pw_uid)
            found = [dataclasses.asdict(p) for p in access_problems(project, source)]
            os.write(writing, json.dumps(found).encode())
        finally:
            os._exit(0)
    os.close(writing)
    with os.fdopen(reading, "rb") as pipe:
        data = pipe.read()
    os.waitpid(child, 0)
    return [Problem(**fields) for fields in json.loads(data or b"[]")]
