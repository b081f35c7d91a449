"""The README against the CLI."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterator
from typing import Any

from tests.support.project import REPO

Cli = Callable[..., tuple[int, str, str]]


def keys(table: dict[str, Any], path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for key, value in table.items():
        if isinstance(value, dict):
            yield from keys(value, (*path, key))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for item in value:
                yield from keys(item, (*path, key))
        else:
            yield (*path, key)


def test_the_readme_commands_exist(run_cli: Cli) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"^    \$ mailer (.+)$", readme, flags=re.MULTILINE)
    assert len(commands) > 10
    for line in commands:
        arguments = shlex.split(line)
        code, _, err = run_cli(*arguments, "--help")
        assert code == 0, (line, err)
