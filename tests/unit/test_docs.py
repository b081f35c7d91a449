"""The documentation against the code: every key of the shipped config.toml is documented, and
docs/architecture.md names modules that exist, and every module there is."""

from __future__ import annotations

import importlib
import re
import tomllib
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.project import REPO


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


ARCHITECTURE = REPO / "docs" / "architecture.md"
_TREE_ENTRY = re.compile(r"^[│ ]*[├└]── (\S+/)?(.*)$")


def tree_modules(text: str) -> set[str]:
    """The modules the tree drawing in docs/architecture.md lists, as paths under mailer/."""
    block = text.split("```", 2)[1]
    found: set[str] = set()
    folder = ""
    for line in block.splitlines():
        if match := _TREE_ENTRY.match(line):
            folder = match.group(1) or ""
            rest = match.group(2)
        elif line.startswith("│ ") or line.startswith("   "):
            rest = line  # a continuation line of the folder above
        else:
            continue
        found.update(folder + name for name in re.findall(r"(?<![\w/])([a-z_]+\.py)\b", rest))
    return found


def test_the_architecture_tree_lists_every_module_and_only_those() -> None:
    listed = tree_modules(ARCHITECTURE.read_text(encoding="utf-8"))
    package = REPO / "mailer"
    real = {p.relative_to(package).as_posix() for p in package.rglob("*.py")}
    real = {path for path in real if not path.endswith("/__init__.py")}
    assert listed - real == set(), "docs/architecture.md names modules that do not exist"
    assert real - listed == set(), "modules missing from the tree in docs/architecture.md"


def test_every_module_the_architecture_names_exists() -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    for path in re.findall(r"\bmailer/[a-z_/]+\.py\b", text):
        assert (REPO / path).is_file(), path
    for dotted in set(re.findall(r"`(mailer(?:\.[A-Za-z_]+)+)`", text)):
        parts = dotted.split(".")
        for end in range(len(parts), 0, -1):  # the longest module prefix, then attributes
            try:
                found: object = importlib.import_module(".".join(parts[:end]))
            except ModuleNotFoundError:
                continue
            for attribute in parts[end:]:
                assert hasattr(found, attribute), dotted
                found = getattr(found, attribute)
            break
        else:
            raise AssertionError(f"{dotted} is not a module")


def test_the_tree_reader_sees_a_missing_module() -> None:
    drawing = (
        "```\nmailer/\n├── model.py  errors.py  base\n├── store/   adapter  a.py, b.py\n"
        "│          c.py\n```\n"
    )
    found = tree_modules(drawing)
    assert found == {"model.py", "errors.py", "store/a.py", "store/b.py", "store/c.py"}


def test_the_tests_write_screenshots_into_the_docs_only_when_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Running the suite changes no tracked file: the screenshots go to a scratch folder unless
    MAILER_REFRESH_DOCS=1, and no test names docs/screenshots/ but the helper that decides."""
    from tests.support.browser import REFRESH_DOCS, screenshot_folder

    monkeypatch.delenv(REFRESH_DOCS, raising=False)
    assert REPO not in screenshot_folder("any").parents
    monkeypatch.setenv(REFRESH_DOCS, "1")
    docs = REPO / "docs" / "screenshots"
    assert screenshot_folder("any") == docs
    needle = '"docs" / ' + '"screenshots"'
    for path in (REPO / "tests").rglob("*.py"):
        if path.name not in ("browser.py", "test_docs.py"):
            assert needle not in path.read_text(encoding="utf-8"), path
