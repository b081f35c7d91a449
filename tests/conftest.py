"""Shared fixtures: a copy of the shipped project to modify, and the independent .ics parsers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parent.parent
PEERS = REPO / "tests" / "peers"

settings.register_profile(
    "ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=60, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def soak_rounds(default: int) -> int:
    """How many rounds a soak test runs: MAILER_SOAK_ROUNDS, else `default` (CI's count)."""
    return int(os.environ.get("MAILER_SOAK_ROUNDS", default))


def write(path: Path, text: str) -> Path:
    """Write dedented text to `path` (creating folders) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    """A copy of the shipped example project (config, sessions, lists, templates) to change."""
    for name in ("config.toml",):
        shutil.copy(REPO / name, tmp_path / name)
    for folder in ("sessions", "recipients", "templates"):
        if (REPO / folder).is_dir():
            shutil.copytree(REPO / folder, tmp_path / folder)
    return tmp_path


@pytest.fixture
def config_path(project_dir: Path) -> Path:
    return project_dir / "config.toml"


def edit(path: Path, old: str, new: str) -> None:
    """Replace `old` (which must be there) by `new` in a text file."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def node_available() -> bool:
    return shutil.which("node") is not None and (PEERS / "node_modules" / "ical.js").is_dir()


def require_node() -> None:
    """Fail (not skip) when the JavaScript peer is missing: dev/test installs it."""
    if not node_available():
        if os.environ.get("MAILER_ALLOW_MISSING_PEERS"):
            pytest.skip("node or the npm test peers are missing (MAILER_ALLOW_MISSING_PEERS)")
        pytest.fail(
            "node and tests/peers/node_modules are needed: run dev/test, which installs "
            "them (npm ci --prefix tests/peers)"
        )


def icaljs_many(paths: list[Path], expand_until: str | None = None) -> list[dict[str, Any]]:
    """What ical.js (Thunderbird's and Nextcloud's parser) reads in each .ics file, in order.

    Files parsed in one run share ical.js's time zone registry: give each its own TZIDs.
    """
    require_node()
    command = ["node", str(PEERS / "icaljs_dump.mjs")]
    if expand_until:
        command.append(f"--until={expand_until}")
    command += [str(path) for path in paths]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "TZ": "UTC"},
    )
    assert result.returncode == 0, result.stderr
    parsed = json.loads(result.stdout)
    results: list[dict[str, Any]] = parsed if len(paths) > 1 else [parsed]
    return results


def icaljs(path: Path, expand_until: str | None = None) -> dict[str, Any]:
    """What ical.js reads in one .ics file."""
    return icaljs_many([path], expand_until)[0]


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run `mailer ARGS...` in-process through its real error handler: (code, stdout, stderr)."""
    from mailer.cli import run

    def invoke(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = run(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


@pytest.fixture
def chdir_project(project_dir: Path) -> Iterator[Path]:
    """Run with the copied project as the working directory."""
    previous = Path.cwd()
    os.chdir(project_dir)
    try:
        yield project_dir
    finally:
        os.chdir(previous)
