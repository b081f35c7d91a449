"""Small file systems of the tests' own: a tmpfs of a given size (root, as in CI), to fill up,
grow again, or remount read-only."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def small_disk(folder: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` (`300k`) mounted on `folder` for the test's duration."""
    folder.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        message = f"cannot mount a tmpfs (root is needed, as in CI): {result.stderr.strip()}"
        if os.environ.get("MAILER_ALLOW_MISSING_PEERS"):
            pytest.skip(message)
        pytest.fail(message)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def remount(folder: Path, options: str) -> None:
    """`mount -o remount,OPTIONS` (`size=10m`, `ro`, `rw`)."""
    subprocess.run(["mount", "-o", f"remount,{options}", str(folder)], check=True)
