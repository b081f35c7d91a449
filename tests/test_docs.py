"""The documentation against the code: every key of the shipped config.toml is documented, and
every command shown in the README exists with the options it shows."""

from __future__ import annotations

import re
import shlex
import tomllib
from collections.abc import Callable, Iterator
from typing import Any

from tests.conftest import REPO

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


def test_every_key_of_the_shipped_config_is_documented() -> None:
    config = tomllib.loads((REPO / "config.toml").read_text(encoding="utf-8"))
    documentation = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    languages = set(config["series"]["languages"])
    missing = set()
    for path in keys(config):
        key = path[-1]
        if key in languages:  # the language variants of a text
            continue
        if f"`{key}`" not in documentation:
            missing.add(".".join(path))
    assert not missing, f"not in docs/configuration.md: {sorted(missing)}"


def test_the_readme_commands_exist(run_cli: Cli) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"^    \$ mailer (.+)$", readme, flags=re.MULTILINE)
    assert len(commands) > 10
    for line in commands:
        arguments = shlex.split(line)
        code, _, err = run_cli(*arguments, "--help")
        assert code == 0, (line, err)
