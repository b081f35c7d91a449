"""The shipped example project, copies of it to change, and how long soak tests run."""

from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def soak_rounds(default: int) -> int:
    """How many rounds a soak test runs: MAILER_SOAK_ROUNDS, else `default` (CI's count)."""
    return int(os.environ.get("MAILER_SOAK_ROUNDS", default))


def write(path: Path, text: str) -> Path:
    """Write dedented text to `path` (creating folders) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def edit(path: Path, old: str, new: str) -> None:
    """Replace `old` (which must be there) by `new` in a text file."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def copy_project(folder: Path) -> Path:
    """A copy of the shipped example project (config, sessions, lists, templates) in `folder`."""
    shutil.copy(REPO / "config.toml", folder / "config.toml")
    for name in ("sessions", "recipients", "templates"):
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, folder / name)
    return folder
