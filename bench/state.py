"""Benchmark: what the ledger costs as it grows, beside what SQLite alone costs, in one run.

Usage: .venv/bin/python bench/state.py [--sizes 1000,10000,100000] [--rows 1000000]

1. Planning and recording a send (`mailer send --yes` reads the lists once and records as it
   reads) for N generated recipients, each in a fresh process:
     floor     csv.reader over the list, and one executemany of N rows into a fresh SQLite
               table with the same indexes: what reading and writing them costs at least
     mailer    `plan_send(record=True)`: lists resolved (validation, duplicates, segments),
               the ledger written (WAL, synchronous=FULL)
2. `mailer status` and `mailer plan`, end to end (the command's start to its exit), on a
   state file holding --rows delivery rows (ten sends of --rows / 10 people), beside
   `python -c "import sqlite3; ..."` counting the rows per state (the floor of any status).
3. A daemon round with nothing to do, with the largest size of people on the lists: the
   invitation sent to all of them (so the round must see that it is complete) and nothing
   else due; beside the floor: fingerprinting the project's files (a stat of each).
Peak memory is the resident set of the process above the interpreter's baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
NOW = "2021-04-06T09:00:00+02:00"
MAILER = [sys.executable, "-m", "mailer"]
KEY = "benchmark-signing-key-0123456789"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_project(people: int) -> Path:
    from send import make_project as send_project

    return send_project(people, None)  # the outbox: these benchmarks send nothing to a relay


def child_plan(people: int) -> dict[str, float]:
    from mailer.project.load import load_project
    from mailer.sending.plan import SendRequest, plan_send

    project = load_project(make_project(people) / "config.toml")
    baseline = peak_mb()
    now = dt.datetime.fromisoformat(NOW)
    start = time.perf_counter()
    with project.store.open() as state:
        request = SendRequest(dt.date(2021, 4, 20), "invitation")
        plan = plan_send(project, state, request, now, record=True)
    seconds = time.perf_counter() - start
    assert plan.new == plan.people == people, (plan.new, plan.people)
    return {"seconds": seconds, "mb": peak_mb() - baseline}


def child_floor(people: int) -> dict[str, float]:
    path = make_project(people) / "recipients" / "members.csv"
    database = OUT / "floor.db"
    database.unlink(missing_ok=True)
    baseline = peak_mb()
    start = time.perf_counter()
    connection = sqlite3.connect(database, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute(
        "CREATE TABLE deliveries (id INTEGER PRIMARY KEY, message TEXT, recipient TEXT, "
        "state TEXT, person TEXT, UNIQUE (message, recipient))"
    )
    connection.execute("CREATE INDEX by_state ON deliveries (message, state)")
    with path.open(encoding="utf-8", newline="") as file:
        rows = csv.reader(file)
        next(rows)
        connection.execute("BEGIN")
        connection.executemany(
            "INSERT INTO deliveries (message, recipient, state, person) VALUES (?, ?, ?, ?)",
            (("invitation", row[0], "pending", json.dumps(row)) for row in rows),
        )
        connection.execute("COMMIT")
    connection.close()
    return {"seconds": time.perf_counter() - start, "mb": peak_mb() - baseline}


def in_a_child(variant: str, people: int) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, __file__, "--child", variant, "--people", str(people)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(json.loads(output))


def big_state(rows: int) -> Path:
    """A project whose state file holds `rows` deliveries: ten sends (the invitation and two
    reminders of three sessions, and an update) of rows / 10 people; made once, kept."""
    from mailer.model import Recipient
    from mailer.store.ledger import Ledger, SendKey
    from mailer.store.sqlite import SqliteState

    project = OUT / f"state-{rows}"
    database = project / "state" / "mailer.db"
    if database.exists():
        return project
    shutil.rmtree(project, ignore_errors=True)
    shutil.copytree(make_project(1000), project)
    people = rows // 10
    now = dt.datetime.fromisoformat(NOW)
    sends = [
        (day, message)
        for day in (dt.date(2021, 2, 16), dt.date(2021, 3, 16), dt.date(2021, 4, 20))
        for message in ("invitation", "reminder:P1D", "reminder:PT1H")
    ] + [(dt.date(2021, 4, 20), "update:1")]
    with SqliteState(database) as state:
        ledger = Ledger(state)
        for day, message in sends:
            recipients = (
                Recipient(
                    email=f"person.{n}@museum{n % 300}.example.org",
                    key=f"person.{n}@museum{n % 300}.example.org",
                    language=("fr", "en", "es")[n % 3],
                    name=f"Personne {n}",
                )
                for n in range(people)
            )
            key = SendKey("icom-france-solidarites-musees", day, message)
            ledger.plan(
                key,
                message.split(":")[0],
                segments=["everyone"],
                deadline=dt.datetime.combine(day, dt.time(13), dt.UTC),
                recipients=recipients,
                now=now,
            )
            if day < dt.date(2021, 4, 20):
                state.connection.execute(
                    "UPDATE deliveries SET state = 'sent', attempts = 1, sent_at = ? "
                    "WHERE session = ? AND message = ?",
                    (NOW, day.isoformat(), message),
                )
    return project


def command_seconds(arguments: list[str], rounds: int = 5) -> float:
    environment = {**os.environ, "MAILER_UNSUBSCRIBE_KEY": KEY}
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run(arguments, check=True, capture_output=True, env=environment)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def daemon_round(people: int) -> tuple[float, float]:
    """(ms of a round with nothing to do, ms of fingerprinting the project's files)."""
    from send import fresh_state

    from mailer.project.watch import fingerprint
    from mailer.project.workspace import Workspace
    from mailer.sending.due import DaemonCore

    project = make_project(people)
    fresh_state(project)
    config = project / "config.toml"
    environment = {**os.environ, "MAILER_UNSUBSCRIBE_KEY": KEY}
    send = ["send", "2021-04-20", "--kind", "invitation", "--yes"]
    subprocess.run(
        [*MAILER, "--config", str(config), "--now", NOW, *send],
        check=True,
        capture_output=True,
        env={**environment},
        cwd=HERE.parent,
    )
    os.environ["MAILER_UNSUBSCRIBE_KEY"] = KEY
    now = dt.datetime.fromisoformat("2021-04-10T09:00:00+02:00")  # no reminder due yet
    workspace = Workspace(config, now)
    core = DaemonCore(
        workspace.project(),
        workspace.templates(),
        signing_key=workspace.signing_key,
        transport=workspace.transport,
        clock=workspace.now,
        version=fingerprint(config, workspace.project()),
    )
    asyncio.run(core.run_due(now))  # the first round sees the invitation complete
    rounds, floors = [], []
    for _ in range(20):
        start = time.perf_counter()
        asyncio.run(core.run_due(now))
        rounds.append(time.perf_counter() - start)
        start = time.perf_counter()
        fingerprint(config, workspace.project())
        floors.append(time.perf_counter() - start)
    return statistics.median(rounds) * 1000, statistics.median(floors) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--people", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        function = child_plan if args.child == "mailer" else child_floor
        print(json.dumps(function(args.people)))
        return
    OUT.mkdir(exist_ok=True)
    sizes = [int(size.replace("_", "")) for size in args.sizes.split(",")]
    print("Planning and recording a send (mailer send --yes), each in a fresh process")
    print(f"{'people':>10} {'floor s':>8} {'mailer s':>9} {'people/s':>10} {'peak MB':>8}")
    for people in sizes:
        floor, mine = in_a_child("floor", people), in_a_child("mailer", people)
        print(
            f"{people:>10,} {floor['seconds']:>8.2f} {mine['seconds']:>9.2f} "
            f"{people / mine['seconds']:>10,.0f} {mine['mb']:>8.0f}"
        )
    project = big_state(args.rows)
    config = str(project / "config.toml")
    mailer = [*MAILER, "--config", config, "--now", NOW]
    database = project / "state" / "mailer.db"
    count = (
        f"import sqlite3; c = sqlite3.connect('{database}'); "
        "print(c.execute('SELECT state, count(*) FROM deliveries GROUP BY state').fetchall())"
    )
    size = database.stat().st_size / 1e6
    print(f"\nOn a state file of {args.rows:,} delivery rows ({size:.0f} MB)")
    print(f"{'command':<36} {'seconds':>8}")
    counted = command_seconds([sys.executable, "-c", count])
    print(f"{'floor: sqlite3 GROUP BY state':<36} {counted:>8.2f}")
    for name, arguments in (("mailer status", ["status"]), ("mailer plan", ["plan"])):
        print(f"{name:<36} {command_seconds(mailer + arguments):>8.2f}")
    largest = max(sizes)
    round_ms, floor_ms = daemon_round(largest)
    print(f"\nA daemon round with nothing to do, {largest:,} people on the lists")
    print(f"{'floor: fingerprint the files':<36} {floor_ms:>8.1f} ms")
    print(f"{'mailer: the round':<36} {round_ms:>8.1f} ms")


if __name__ == "__main__":
    main()
