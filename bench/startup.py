"""Benchmark: how long commands that do not send or serve take, end to end, beside the
interpreter's own start, in one run.

Usage: .venv/bin/python bench/startup.py [--rounds 7]

Each command runs on the shipped project (its own process, the median of the rounds):
  python -c pass        the interpreter alone: the floor of any command
  python -c "import click"   the interpreter and the command-line library
  mailer --help, mailer send --help, mailer dates, mailer status, mailer recipients,
  mailer ics DATE, mailer check --offline (which renders every email: work, not start-up)
The target: under 0.3 s for every command that does not send or serve.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOW = "2021-04-06T09:00:00+02:00"


def seconds(arguments: list[str], rounds: int, cwd: Path) -> float:
    environment = {**os.environ, "MAILER_UNSUBSCRIBE_KEY": "benchmark-signing-key-0123456789"}
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run(arguments, check=True, capture_output=True, env=environment, cwd=cwd)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        for name in ("sessions", "templates", "recipients"):
            shutil.copytree(HERE.parent / name, project / name)
        shutil.copy(HERE.parent / "config.toml", project / "config.toml")
        mailer = [sys.executable, "-m", "mailer", "--now", NOW]
        rows = [
            ("python -c pass", [sys.executable, "-c", "pass"]),
            ('python -c "import click"', [sys.executable, "-c", "import click"]),
            ("mailer --help", [*mailer, "--help"]),
            ("mailer send --help", [*mailer, "send", "--help"]),
            ("mailer dates", [*mailer, "dates"]),
            ("mailer status", [*mailer, "status"]),
            ("mailer recipients", [*mailer, "recipients"]),
            ("mailer ics 2021-04-20", [*mailer, "ics", "2021-04-20"]),
            ("mailer check --offline", [*mailer, "check", "--offline"]),
        ]
        print(f"{'command':<28} {'seconds':>8}   (median of {args.rounds})")
        for name, arguments in rows:
            print(f"{name:<28} {seconds(arguments, args.rounds, project):>8.2f}")


if __name__ == "__main__":
    main()
