"""Benchmark: the state in PostgreSQL beside SQLite (the default), in one run.

Usage: .venv/bin/python bench/scale.py [--claims 100000] [--send 100000] [--plan 1000000]
                                       [--rows 10000000] [--sends 99]
                                       [--only claims,send,plan,status]

A PostgreSQL cluster of its own is started in a temporary folder (Debian's binaries; as the
`postgres` user when run as root), durable as a server is (fsync on); SQLite is mailer's
default (WAL, synchronous=FULL). Each figure is measured on both stores in the same run:
  claims    claims and records per second: --claims rows of one send taken in batches of
            100 (`Ledger.claim`, owner and lease) and recorded sent (`Ledger.record`) by 1, 2
            and 4 processes at once (with SQLite they take turns at the file's write lock)
  send      `mailer send --yes` of an invitation to --send recipients, end to end, to
            Postfix's smtp-sink (bench/send.py unpacks it): SQLite with mailer's default
            (a process per core); PostgreSQL with one process, with the default, and two
            `mailer send` of one process each started together on the same send (two
            hosts' worth); messages per second and the peak resident memory of a command
            and its workers
  plan      planning and recording a send to --plan recipients (`plan_send(record=True)`,
            what `mailer send --yes` does before sending) in a fresh process: seconds, MB
  status    `mailer status` and `mailer plan`, end to end (the command's start to its
            exit, the interpreter's start included), on a state of --rows delivery rows in
            --sends sends (three emails a month for years; all but the coming session's sent):
            the first status counts every send's rows and keeps the counts of the finished
            ones, the next ones read those
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from send import (  # noqa: E402 - bench/send.py, beside this file
    PeakSampler,
    environment,
    free_port,
    mailer_command,
    make_project,
    postfix_tool,
)

NOW = dt.datetime.fromisoformat("2021-04-06T09:00:00+02:00")
SERIES = "icom-france-solidarites-musees"
BATCH = 100


def use_store(project: Path, database: str) -> None:
    """Point a bench project at `database` (a PostgreSQL URL; SQLite is the default)."""
    config = project / "config.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace('database = "state/mailer.db"', f'database = "{database}"'), encoding="utf-8"
    )


def people(count: int, start: int = 0) -> object:
    from mailer.model import Recipient

    return (
        Recipient(
            email=f"person.{n}@museum{n % 300}.example.org",
            key=f"person.{n}@museum{n % 300}.example.org",
            language=("fr", "en", "es")[n % 3],
            name=f"Personne {n}",
        )
        for n in range(start, start + count)
    )


def location(store: str) -> object:
    from mailer.store.location import PostgresLocation, SqliteLocation

    if store.startswith("postgresql://"):
        return PostgresLocation(store, "mailer_bench", OUT / "bench-state")
    return SqliteLocation(Path(store))


# -- claims and records ----------------------------------------------------------------------


def child_claims(store: str) -> dict[str, float]:
    from mailer.store.ledger import Ledger, Outcome, SendKey

    key = SendKey(SERIES, dt.date(2021, 4, 20), "invitation")
    done = 0
    with location(store).open() as state:  # type: ignore[attr-defined]
        ledger = Ledger(state, lease=30.0)
        while claimed := ledger.claim(key, BATCH, NOW, 5):
            outcomes = [Outcome(item.id, "sent", f"<{item.id}@bench>") for item in claimed]
            ledger.record(outcomes, NOW)
            done += len(claimed)
    return {"rows": done}


def claims(store: str, rows: int, senders: int) -> float:
    from mailer.store.ledger import Ledger, SendKey

    with location(store).open() as state:  # type: ignore[attr-defined]
        state.connection.execute("DELETE FROM deliveries")
        state.connection.execute("DELETE FROM sends")
        Ledger(state).plan(
            SendKey(SERIES, dt.date(2021, 4, 20), "invitation"),
            "invitation",
            segments=["everyone"],
            deadline=dt.datetime(2021, 4, 20, 11, tzinfo=dt.UTC),
            recipients=people(rows),  # type: ignore[arg-type]
            now=NOW,
        )
    start = time.perf_counter()
    children = [
        subprocess.Popen(
            [sys.executable, __file__, "--child", "claims", "--store", store],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(senders)
    ]
    done = sum(json.loads(child.communicate()[0])["rows"] for child in children)
    elapsed = time.perf_counter() - start
    assert done == rows, (done, rows)
    return rows / elapsed


# -- mailer send to smtp-sink ----------------------------------------------------------------


def send(
    count: int, port: int, database: str | None, commands: int, processes: int | None
) -> tuple[float, float]:
    """(messages per second end to end, the largest peak MB of one command); `processes`:
    each command's [sending] processes (None: mailer's default, one per core)."""
    extra = "" if processes is None else f"\n[sending]\nprocesses = {processes}\n"
    project = make_project(count, port, extra)
    if database is not None:
        use_store(project, database)
    arguments = mailer_command(project, "send", "2021-04-20", "--kind", "invitation", "--yes")
    start = time.perf_counter()
    started: list[subprocess.Popen[str]] = []
    samplers: list[PeakSampler] = []
    for _ in range(commands):
        process = subprocess.Popen(
            arguments,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment(),
        )
        sampler = PeakSampler(process.pid)
        sampler.start()
        started.append(process)
        samplers.append(sampler)
    sent = 0
    for process, sampler in zip(started, samplers, strict=True):
        out, err = process.communicate()
        sampler.running = False
        if process.returncode != 0:
            raise SystemExit(f"mailer send failed ({process.returncode}):\n{err[-2000:]}")
        sent += int(out.split("This run: ")[1].split(" sent")[0])
    elapsed = time.perf_counter() - start
    assert sent >= count, (sent, count)  # a twin is possible only after a crash
    return count / elapsed, max(sampler.peak for sampler in samplers)


# -- planning --------------------------------------------------------------------------------


def child_plan(count: int, database: str | None) -> dict[str, float]:
    import resource

    from mailer.project.load import load_project
    from mailer.sending.plan import SendRequest, plan_send

    project_dir = make_project(count, None)
    if database is not None:
        use_store(project_dir, database)
    project = load_project(project_dir / "config.toml")
    with project.store.open() as state:
        for table in ("deliveries", "sends"):
            state.connection.execute(f"DELETE FROM {table}")
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    with project.store.open() as state:
        request = SendRequest(dt.date(2021, 4, 20), "invitation")
        plan = plan_send(project, state, request, NOW, record=True)
    seconds = time.perf_counter() - start
    assert plan.new == count, (plan.new, count)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - baseline
    return {"seconds": seconds, "mb": peak}


def in_a_child(*arguments: str) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, __file__, "--child", *arguments],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(json.loads(output.splitlines()[-1]))


# -- status and plan on many rows ------------------------------------------------------------

MESSAGES = ("invitation", "reminder:P1D", "reminder:PT1H")


def sessions(count: int) -> list[str]:
    """The third Tuesdays of `count` months up to April 2021's (the coming session)."""
    from dateutil.rrule import MONTHLY, TU, rrule

    end = dt.datetime(2021, 4, 20, tzinfo=dt.UTC)
    start = end - dt.timedelta(days=31 * count)
    days = rrule(MONTHLY, dtstart=start, byweekday=TU(3), until=end)
    return [day.date().isoformat() for day in days][-count:]


def fill(database: str | None, project: Path, rows: int, sends: int) -> None:
    """`sends` sends (three emails per session, a series' years) of rows / sends people each,
    written by SQL in the store (planning them one by one would measure planning again);
    every session before April 2021's all sent, April's invitation and reminders to send."""
    days = sessions(max(1, sends // len(MESSAGES)))
    per = rows // (len(days) * len(MESSAGES))
    values = ", ".join(f"('{day}', '{message}')" for day in days for message in MESSAGES)
    insert_sends = (
        f"WITH s(day, message) AS (VALUES {values}) "
        "INSERT INTO sends (series, session, message, kind, segments, deadline, created_at, "
        "updated_at) SELECT ?, s.day, s.message, CASE WHEN s.message LIKE 'update%' THEN "
        "'update' WHEN s.message LIKE 'reminder%' THEN 'reminder' ELSE 'invitation' END, "
        "'[\"everyone\"]', s.day || 'T11:00:00+00:00', ?, ? FROM s"
    )
    if database is None:
        numbers = (
            f"WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {per - 1})"
        )
    else:
        numbers = f"WITH n(i) AS (SELECT generate_series(0, {per - 1}))"
    insert_rows = (
        f"{numbers} INSERT INTO deliveries (series, session, message, recipient, address, "
        "language, person, state, attempts, message_id, created_at, updated_at, sent_at) "
        "SELECT ?, s.session, s.message, 'person.' || i || '@example.org', "
        "'person.' || i || '@example.org', 'fr', '[\"person.' || i || '@example.org\", "
        '"person.\' || i || \'@example.org", "fr", "Personne", [], null, {}, '
        '"members.csv", null]\', '
        "CASE WHEN s.session < '2021-04-20' THEN 'sent' ELSE 'pending' END, "
        "CASE WHEN s.session < '2021-04-20' THEN 1 ELSE 0 END, "
        "CASE WHEN s.session < '2021-04-20' THEN '<' || i || '@bench>' END, ?, ?, "
        "CASE WHEN s.session < '2021-04-20' THEN ? END FROM sends s, n"
    )
    from mailer.project.load import load_project

    stamp = NOW.isoformat()
    with load_project(project / "config.toml").store.open() as state:
        with state.transaction() as connection:
            connection.execute(insert_sends, (SERIES, stamp, stamp))
            connection.execute(insert_rows, (SERIES, stamp, stamp, stamp))
        state.connection.execute("VACUUM ANALYZE" if database else "ANALYZE")


def command_seconds(arguments: list[str], rounds: int = 3) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run(arguments, check=True, capture_output=True, env=environment())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def status_on(rows: int, sends: int, database: str | None) -> tuple[float, float, float]:
    """Seconds of `mailer status` the first time (it counts every send's rows, and keeps the
    counts of those finished), of `mailer status` then, and of `mailer plan`."""
    name = "postgres" if database else "sqlite"
    project = OUT / f"status-{name}-{rows}-{sends}"
    marker = project / "filled"  # SQLite's is kept from run to run (PostgreSQL's server is not)
    if database is not None or not marker.exists():
        shutil.rmtree(project, ignore_errors=True)
        shutil.copytree(make_project(1000, None), project)
        if database is not None:
            use_store(project, database)
        fill(database, project, rows, sends)
        marker.write_text(str(rows), encoding="utf-8")
    first = command_seconds(mailer_command(project, "status"), rounds=1)
    status = command_seconds(mailer_command(project, "status"))
    plan = command_seconds(mailer_command(project, "plan"))
    return first, status, plan


def version(url: str) -> str:
    import psycopg

    with psycopg.connect(url) as connection:
        return str(connection.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]


# -- the run ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=100_000)
    parser.add_argument("--send", type=int, default=100_000)
    parser.add_argument("--plan", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--sends", type=int, default=99, help="the sends the rows are in")
    parser.add_argument("--only", default="claims,send,plan,status")
    parser.add_argument("--child", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.child[0] == "claims":
            print(json.dumps(child_claims(args.store)))
        else:
            database = args.child[2] if len(args.child) > 2 else None
            print(json.dumps(child_plan(int(args.child[1]), database)))
        return
    from tests.support.postgres import Postgres

    OUT.mkdir(exist_ok=True)
    only = set(args.only.split(","))
    with Postgres(durable=True) as server:
        release = version(server.admin_url)
        print(f"{os.cpu_count()} cores; PostgreSQL {release} (fsync on); SQLite WAL, FULL")
        if "claims" in only:
            sqlite = str(OUT / "claims.db")
            Path(sqlite).unlink(missing_ok=True)
            postgres = server.database()
            print(f"\nClaims and records per second, {args.claims:,} rows in batches of {BATCH}")
            print(f"{'senders':>8} {'SQLite':>10} {'PostgreSQL':>11}")
            for senders in (1, 2, 4):
                lite = claims(sqlite, args.claims, senders)
                pg = claims(postgres, args.claims, senders)
                print(f"{senders:>8} {lite:>10,.0f} {pg:>11,.0f}")
        if "send" in only:
            sink, env = postfix_tool("smtp-sink")
            port = free_port()
            user = os.environ.get("USER", "root")
            sinking = subprocess.Popen(
                [str(sink), "-u", user, f"127.0.0.1:{port}", "1000"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                time.sleep(0.3)
                print(f"\nmailer send of {args.send:,} to smtp-sink, end to end")
                print(f"{'state, senders':<44} {'messages/s':>11} {'peak MB':>8}")
                for label, database, commands, processes in (
                    ("SQLite, default (1 per core: 2)", None, 1, None),
                    ("PostgreSQL, 1 process", server.database(), 1, 1),
                    ("PostgreSQL, default (1 per core: 2)", server.database(), 1, None),
                    ("PostgreSQL, 2 mailer send of 1 process", server.database(), 2, 1),
                ):
                    rate, peak = send(args.send, port, database, commands, processes)
                    print(f"{label:<44} {rate:>11,.0f} {peak:>8.0f}")
            finally:
                sinking.terminate()
                sinking.wait()
        if "plan" in only:
            print(f"\nPlanning and recording a send to {args.plan:,}, in a fresh process")
            print(f"{'state':<12} {'seconds':>8} {'people/s':>10} {'peak MB':>8}")
            for label, extra in (("SQLite", ()), ("PostgreSQL", (server.database(),))):
                found = in_a_child("plan", str(args.plan), *extra)
                rate = args.plan / found["seconds"]
                print(f"{label:<12} {found['seconds']:>8.1f} {rate:>10,.0f} {found['mb']:>8.0f}")
        if "status" in only:
            print(
                f"\nOn {args.rows:,} delivery rows in {args.sends} sends, end to end (the "
                "interpreter's start too)"
            )
            print(f"{'state':<12} {'status, 1st s':>14} {'status s':>9} {'plan s':>7}")
            for label, database in (("SQLite", None), ("PostgreSQL", server.database())):
                first, status, plan = status_on(args.rows, args.sends, database)
                print(f"{label:<12} {first:>14.2f} {status:>9.2f} {plan:>7.2f}")


if __name__ == "__main__":
    main()
