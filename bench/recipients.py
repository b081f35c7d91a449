"""Benchmark: resolving a 100,000-row mailing list into one recipient per person.

Usage: .venv/bin/python bench/recipients.py [--rows N]

Generates a list like a real export (about 200 domains, accents, languages missing or spelled
out, ~2% invalid rows, ~3% duplicates), then runs, each in a fresh process so that peak memory
is its own, side by side:
  floor      csv.reader over the file, nothing else: what reading it costs at least
  reference  the straightforward way: csv.DictReader, email_validator.validate_email on every
             row, a dict of everyone (the whole list in memory)
  mailer     mailer's resolution of the segment "everyone" (and of a filtered segment)
and prints rows per second and peak resident memory above the interpreter's baseline.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
FIRST = ["Marie", "Jean", "Chloé", "Anna", "John", "Priya", "Carmen", "Diego", "Lucía", "Zoë"]
LAST = ["Dubois", "Martin", "Lefèvre", "Smith", "Carter", "Nair", "García", "Fernández", "Øster"]
LANGUAGES = ["fr", "en", "es", "FR", "English", "", "es-MX", "de"]


def generate(path: Path, rows: int) -> None:
    rng = random.Random(20210420)
    domains = [f"museum{i}.example.org" for i in range(200)]
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["email", "name", "language", "tags", "timezone", "organisation"])
        for row in range(rows):
            number = rng.randrange(rows) if rng.random() < 0.03 else row  # duplicates
            email = f"person.{number}@{domains[number % len(domains)]}"
            if rng.random() < 0.02:
                email = email.replace("@", "@@") if row % 2 else email.split("@", maxsplit=1)[0]
            writer.writerow(
                [
                    email,
                    f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                    rng.choice(LANGUAGES),
                    ";".join(rng.sample(["member", "museum", "partner", "staff", "board"], 2)),
                    rng.choice(["Europe/Paris", "America/New_York", "", "Asia/Tokyo"]),
                    f"Organisation {number % 997}",
                ]
            )


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_floor(path: Path) -> dict[str, float]:
    start = time.perf_counter()
    with path.open(encoding="utf-8", newline="") as file:
        rows = sum(1 for _ in csv.reader(file)) - 1
    return {"seconds": time.perf_counter() - start, "rows": rows, "out": rows}


def run_reference(path: Path) -> dict[str, float]:
    from email_validator import EmailNotValidError, validate_email

    start = time.perf_counter()
    people: dict[str, dict[str, str]] = {}
    rows = 0
    with path.open(encoding="utf-8", newline="") as file:
        for record in csv.DictReader(file):
            rows += 1
            try:
                checked = validate_email(record["email"], check_deliverability=False)
            except EmailNotValidError:
                continue
            people.setdefault(checked.normalized.lower(), record)
    return {"seconds": time.perf_counter() - start, "rows": rows, "out": len(people)}


def run_mailer(path: Path, segment: str) -> dict[str, float]:
    from mailer.audience.segments import Resolution
    from mailer.project.lists import ListReader, audience, segments_named
    from mailer.project.load import load_project

    project = load_project(make_project(path))
    start = time.perf_counter()
    reader = ListReader(project, None)
    resolution = Resolution()
    count = sum(
        1 for _ in audience(reader, segments_named(project, [segment]), frozenset(), resolution)
    )
    return {
        "seconds": time.perf_counter() - start,
        "rows": reader.report.rows,
        "out": count,
        "problems": len(reader.report.all_problems()) + len(resolution.merged),
    }


def make_project(path: Path) -> Path:
    """The shipped config with one list: the generated file."""
    text = (HERE.parent / "config.toml").read_text(encoding="utf-8")
    start, end = text.index("[lists.members]"), text.index("[unsubscribe]")
    lists = (
        f'[lists.big]\nfile = "{path}"\n\n[segments.museums]\nlanguages = ["fr", "es"]\n'
        'tags_any = ["museum"]\nexclude_tags = ["staff"]\n\n'
    )
    config = OUT / "config.toml"
    config.write_text(text[:start] + lists + text[end:], encoding="utf-8")
    (OUT / "sessions").mkdir(exist_ok=True)
    return config


def child(variant: str, path: Path) -> None:
    baseline = peak_rss_mb()
    if variant == "floor":
        result = run_floor(path)
    elif variant == "reference":
        result = run_reference(path)
    else:
        result = run_mailer(path, variant.split(":", 1)[1])
    result["peak_mb"] = peak_rss_mb() - baseline
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.file)
        return
    OUT.mkdir(exist_ok=True)
    path = OUT / f"list-{args.rows}.csv"
    if not path.exists():
        generate(path, args.rows)
    size = path.stat().st_size / 1e6
    print(f"{args.rows:,} rows, {size:.1f} MB: {path}")
    print(f"{'variant':<22}{'rows/s':>12}{'seconds':>10}{'people':>10}{'peak MB':>10}")
    for variant in ("floor", "reference", "mailer:everyone", "mailer:museums"):
        output = subprocess.run(
            [sys.executable, __file__, "--child", variant, "--file", str(path)],
            capture_output=True,
            text=True,
            check=True,
            cwd=HERE.parent,
        ).stdout
        result = json.loads(output)
        rate = result["rows"] / result["seconds"]
        print(
            f"{variant:<22}{rate:>12,.0f}{result['seconds']:>10.2f}{result['out']:>10,}"
            f"{result['peak_mb']:>10.1f}"
        )


if __name__ == "__main__":
    main()
