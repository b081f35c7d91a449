"""The installed console script, as a separate process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.project import write


def test_the_console_script_exits_2_without_traceback(tmp_path: Path) -> None:
    bad = write(tmp_path / "config.toml", "[series\n")
    result = subprocess.run(
        [sys.executable, "-m", "mailer", "--config", str(bad), "check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "config.toml:1: this is not valid TOML" in result.stderr
    assert "Traceback" not in result.stderr
