"""Replacing the shipped mailing lists in a copied project, and resolving segments of it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Container, Sequence
from pathlib import Path

from mailer.audience.segments import Resolution
from mailer.model import Recipient
from mailer.project.lists import ListReader, audience, segments_named
from mailer.project.load import Project


def use_lists(project_dir: Path, lists: dict[str, str], segments: str = "") -> Path:
    """Replace the shipped lists and segments by `lists` (name -> file) and `segments` (the
    sign-up page goes: it offers a list of the shipped ones)."""
    config = project_dir / "config.toml"
    text = config.read_text(encoding="utf-8")
    if "\n[signup]\n" in text:
        signup = after = text.index("\n[signup]\n")
        while text.startswith("\n[signup", after := text.index("\n[", after + 1)):
            pass
        text = text[:signup] + text[after:]
    start, end = text.index("[lists.members]"), text.index("[unsubscribe]")
    tables = "".join(f'[lists.{name}]\nfile = "{file}"\n\n' for name, file in lists.items())
    config.write_text(text[:start] + tables + segments + "\n" + text[end:], encoding="utf-8")
    return config


def resolve_all(
    project: Project,
    *segments: str,
    date: dt.date | None = None,
    suppressed: Container[str] = frozenset(),
) -> tuple[list[Recipient], ListReader, Resolution]:
    reader = ListReader(project, None)
    resolution = Resolution()
    people = list(
        audience(
            reader,
            segments_named(project, list(segments or ("everyone",))),
            suppressed,
            resolution,
            date,
        )
    )
    return people, reader, resolution


def messages(problems: Sequence[object]) -> list[str]:
    return [str(problem) for problem in problems]
