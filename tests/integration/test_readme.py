"""The README against the CLI: its tour replays as printed, in a copy of the project."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.support.project import REPO, copy_project

Cli = Callable[..., tuple[int, str, str]]
SECTIONS = ("## A short tour", "## The daemon")
# what changes from one run to the next: the seconds a run took, the progress line a send
# prints every few seconds (on stderr; the README shows the summary), and what is keyed by the
# tour's random secret: Message-IDs, and the outbox's file names (a hash of the Message-ID)
VARYING = [
    (re.compile(r"in \d+\.\d s\."), "in 0.1 s."),
    (re.compile(r"<[0-9a-f]{24}\."), "<(keyed)."),
    (re.compile(r"outbox/new/[0-9a-f]{32}\.eml"), "outbox/new/(keyed).eml"),
]
PROGRESS = re.compile(r"^\[[#-]+\] \d+/\d+ ")


@dataclass
class Step:
    command: str
    expected: list[str]


def tour(readme: str) -> list[Step]:
    """The `$ command` lines of the tour's sections and the output printed under each."""
    steps: list[Step] = []
    for title in SECTIONS:
        section = readme.split(title, 1)[1].split("\n## ", 1)[0]
        for block in re.findall(r"(?:^    .*\n?)+", section, flags=re.MULTILINE):
            current: Step | None = None  # a block without a command is not a transcript
            for line in block.splitlines():
                text = line[4:]
                if text.startswith("$ "):
                    current = Step(text[2:], [])
                    steps.append(current)
                elif current is not None and text.strip():
                    current.expected.append(text)
    return steps


def test_the_readme_tour_replays_as_printed(tmp_path: Path) -> None:
    steps = tour((REPO / "README.md").read_text(encoding="utf-8"))
    assert len(steps) > 20
    marker = "@@@ step done @@@"
    script = "set -u\n" + "".join(f"{s.command} 2>&1\necho '{marker}'\n" for s in steps)
    project = copy_project(tmp_path)
    environment = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "COLUMNS": "200",
    }
    environment.pop("MAILER_UNSUBSCRIBE_KEY", None)
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    outputs = result.stdout.split(marker + "\n")
    assert len(outputs) == len(steps) + 1, result.stdout + result.stderr
    for step, output in zip(steps, outputs, strict=False):
        printed = [line for line in output.splitlines() if not PROGRESS.match(line)]
        expected = step.expected
        for pattern, fixed in VARYING:
            printed = [pattern.sub(fixed, line) for line in printed]
            expected = [pattern.sub(fixed, line) for line in expected]
        assert printed == expected, f"$ {step.command}"


def test_the_readme_commands_exist(run_cli: Cli) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"^    \$ mailer (.+)$", readme, flags=re.MULTILINE)
    assert len(commands) > 10
    for line in commands:
        arguments = [a for a in shlex.split(line) if not a.startswith("--now")]
        arguments = [a for a in arguments if not re.fullmatch(r"\d{4}-\d\d-\d\dT.*", a)]
        code, _, err = run_cli(*arguments, "--help")
        assert code == 0, (line, err)
