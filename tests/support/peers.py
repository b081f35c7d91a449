"""Independent implementations our output is checked against, beyond the Python ones: ical.js
(JavaScript: Thunderbird's and Nextcloud's parser), run by node from tests/peers, and libical
(C: Evolution's and GNOME's), through Debian's GObject bindings and Debian's python3."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.project import REPO

PEERS = REPO / "tests" / "peers"


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

    Each file is read with its own VTIMEZONEs only (the registry is reset between files).
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


SYSTEM_PYTHON = "/usr/bin/python3"


def require_libical() -> None:
    """Fail (not skip) when libical's bindings are missing: dev/test installs them."""
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import gi; gi.require_version('ICalGLib', '3.0')"],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        if os.environ.get("MAILER_ALLOW_MISSING_PEERS"):
            pytest.skip("libical's bindings are missing (MAILER_ALLOW_MISSING_PEERS)")
        pytest.fail("Debian's gir1.2-ical-3.0 and python3-gi are needed: run dev/test")


def libical_many(paths: list[Path], expand_until: str | None = None) -> list[dict[str, Any]]:
    """What libical reads in each .ics file, in order (see tests/peers/libical_dump.py); with
    `expand_until` (20211231T000000Z), the instances it expands."""
    require_libical()
    until = [f"--until={expand_until}"] if expand_until else []
    result = subprocess.run(
        [SYSTEM_PYTHON, str(PEERS / "libical_dump.py"), *until, *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "TZ": "UTC"},
    )
    assert result.returncode == 0, result.stderr
    found: list[dict[str, Any]] = json.loads(result.stdout)
    return found
