"""Benchmark: `mailer send` end to end, to a fast local SMTP sink, beside Postfix's own load
generator, in one run.

Usage: .venv/bin/python bench/send.py [--sizes 1000,10000,100000] [--rounds 3]
                                      [--processes auto|N] [--connections C]

Against the same sink (Postfix's smtp-sink, from Debian's postfix package, unpacked into
bench/out/postfix without installing a mail server), for each number of recipients N:
  smtp-source   Postfix's load generator: C sessions, N messages of the size of ours
  mailer        `mailer send --yes` of a personalised invitation (HTML + text + .ics, each
                recipient's name, language, zone and unsubscribe link) to N generated
                recipients, with mailer's *default* configuration (only the relay's address
                set): what a user waits for, from the command's start to its exit, planning
                and recording included (the ledger on: WAL, synchronous=FULL)
Each mailer round starts from an empty ledger (the rest of the state folder stays, as between a
user's commands: the first round compiles the templates, the others find them compiled).
The rounds alternate (source, mailer, source, mailer...) and the medians are printed, with the
sending phase alone (what mailer reports as "in X s") and the peak resident memory of mailer
and its workers. The targets: mailer end to end at least half of smtp-source's rate on two
cores, and under 200 MB at 100,000 recipients.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
POSTFIX = OUT / "postfix"
SESSION_NOW = "2021-04-06T09:00:00+02:00"
SIGNING_KEY = "benchmark-signing-key-0123456789"


def postfix_tool(name: str) -> tuple[Path, dict[str, str]]:
    """smtp-sink or smtp-source from Debian's postfix package, unpacked here once."""
    binary = POSTFIX / "usr" / "sbin" / name
    if not binary.exists():
        POSTFIX.mkdir(parents=True, exist_ok=True)
        download = OUT / "deb"
        download.mkdir(exist_ok=True)
        if not list(download.glob("postfix_*.deb")):
            result = subprocess.run(
                ["apt-get", "download", "postfix"],
                cwd=download,
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
                subprocess.run(["apt-get", "download", "postfix"], cwd=download, check=True)
        (package,) = download.glob("postfix_*.deb")
        subprocess.run(["dpkg", "-x", str(package), str(POSTFIX)], check=True)
    environment = {**os.environ, "LD_LIBRARY_PATH": str(POSTFIX / "usr" / "lib" / "postfix")}
    return binary, environment


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_list(path: Path, recipients: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["email", "name", "language", "timezone", "organisation"])
        for n in range(recipients):
            writer.writerow(
                [
                    f"person.{n}@museum{n % 300}.example.org",
                    f"Personne {n} Élève",
                    ("fr", "en", "es")[n % 3],
                    ("", "America/New_York")[n % 7 == 0],
                    f"Musée {n % 500}",
                ]
            )


def make_project(recipients: int, port: int | None, extra: str = "") -> Path:
    """The shipped project with N generated members, its relay at the sink (or, without a
    port, its outbox); nothing else changed (`extra` is appended to config.toml)."""
    project = OUT / f"project-{recipients}"
    if project.exists():
        shutil.rmtree(project)
    project.mkdir(parents=True)
    for name in ("sessions", "templates"):
        shutil.copytree(HERE.parent / name, project / name)
    (project / "recipients").mkdir()
    write_list(project / "recipients" / "members.csv", recipients)
    for other in ("partners", "speakers"):
        (project / "recipients" / f"{other}.csv").write_text("email\n", encoding="utf-8")
    config = (HERE.parent / "config.toml").read_text(encoding="utf-8")
    if port is not None:
        config += f'\n[transport]\nkind = "smtp"\n\n[smtp]\nhost = "127.0.0.1"\nport = {port}\n'
        config += 'security = "none"\n'
    config += extra
    (project / "config.toml").write_text(config, encoding="utf-8")
    return project


def fresh_state(project: Path) -> None:
    """A new ledger, so that the same N are sent again; the rest of the state folder (the
    compiled templates) stays, as it does between a user's commands."""
    for path in (project / "state").glob("mailer.db*"):
        path.unlink()


def mailer_command(project: Path, *arguments: str) -> list[str]:
    """`mailer` on the project, at the moment the invitation is due."""
    config = str(project / "config.toml")
    return [
        sys.executable,
        "-m",
        "mailer",
        "--config",
        config,
        "--now",
        SESSION_NOW,
        "--real-mail",
        *arguments,
    ]


def environment() -> dict[str, str]:
    return {**os.environ, "MAILER_UNSUBSCRIBE_KEY": SIGNING_KEY}


def message_size(project: Path) -> int:
    preview = OUT / "preview"
    subprocess.run(
        mailer_command(project, "preview", "2021-04-20", "--out", str(preview)),
        check=True,
        capture_output=True,
        env=environment(),
    )
    return len(next(preview.glob("*-invitation-fr.eml")).read_bytes())


def tree_rss_mb(pid: int) -> float:
    """The resident memory of a process and all its descendants, from /proc."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        total += int(match.group(1)) if match else 0
        pending.extend(int(child) for child in children)
    return total / 1024


class PeakSampler(threading.Thread):
    """Samples the memory of a process tree every 20 ms; `peak` is the largest sum seen."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0.0
        self.running = True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, tree_rss_mb(self.pid))
            time.sleep(0.02)


def run_smtp_source(port: int, count: int, connections: int, size: int) -> float:
    source, env = postfix_tool("smtp-source")
    start = time.perf_counter()
    subprocess.run(
        [
            str(source),
            "-s",
            str(connections),
            "-m",
            str(count),
            "-l",
            str(size),
            "-f",
            "rencontres@icom-france.example.org",
            "-t",
            "person@example.org",
            f"127.0.0.1:{port}",
        ],
        check=True,
        env=env,
        capture_output=True,
    )
    return count / (time.perf_counter() - start)


def run_mailer(project: Path, count: int) -> tuple[float, float, float]:
    """(messages per second end to end, of the sending phase, peak MB of mailer and workers)."""
    fresh_state(project)
    start = time.perf_counter()
    process = subprocess.Popen(
        mailer_command(project, "send", "2021-04-20", "--kind", "invitation", "--yes"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(),
    )
    sampler = PeakSampler(process.pid)
    sampler.start()
    out, err = process.communicate()
    elapsed = time.perf_counter() - start
    sampler.running = False
    if process.returncode != 0:
        raise SystemExit(f"mailer send failed ({process.returncode}):\n{err[-2000:]}")
    match = re.search(r"This run: (\d+) sent.*in ([\d.]+) s", out)
    assert match, out
    sent, seconds = int(match.group(1)), float(match.group(2))
    assert sent == count, out
    return count / elapsed, sent / seconds, sampler.peak


def default_connections() -> int:
    sys.path.insert(0, str(HERE.parent))
    from mailer.config.settings import SmtpSettings

    return SmtpSettings().connections


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000", help="numbers of recipients, e.g. 1000,10000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--processes", help="[sending] processes (default: mailer's, auto)")
    parser.add_argument("--connections", type=int, help="[smtp] connections (default: mailer's)")
    args = parser.parse_args()
    sizes = [int(size.replace("_", "")) for size in args.sizes.split(",")]
    connections = args.connections or default_connections()
    extra = f"connections = {args.connections}\n" if args.connections else ""
    if args.processes:
        value = '"auto"' if args.processes == "auto" else args.processes
        extra += f"\n[sending]\nprocesses = {value}\n"
    OUT.mkdir(exist_ok=True)
    sink, env = postfix_tool("smtp-sink")
    port = free_port()
    server = subprocess.Popen(
        [str(sink), "-u", os.environ.get("USER", "root"), f"127.0.0.1:{port}", "1000"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    rows = []
    try:
        time.sleep(0.3)
        for count in sizes:
            project = make_project(count, port, extra)
            size = message_size(project)
            sources, ends, phases, peaks = [], [], [], []
            for _ in range(args.rounds):
                sources.append(run_smtp_source(port, count, connections, size))
                end, phase, peak = run_mailer(project, count)
                ends.append(end)
                phases.append(phase)
                peaks.append(peak)
            rows.append(
                (
                    count,
                    size,
                    statistics.median(sources),
                    statistics.median(ends),
                    statistics.median(phases),
                    max(peaks),
                )
            )
    finally:
        server.terminate()
        server.wait()
    processes = args.processes or "mailer's default (auto)"
    print(
        f"{os.cpu_count()} cores; {connections} connections; processes: {processes}; "
        f"median of {args.rounds} alternating rounds"
    )
    print(
        f"{'recipients':>10} {'bytes':>7} {'smtp-source/s':>14} {'mailer/s':>9} {'ratio':>6} "
        f"{'sending/s':>10} {'peak MB':>8}"
    )
    for count, size, source, end, phase, peak in rows:
        print(
            f"{count:>10,} {size:>7,} {source:>14,.0f} {end:>9,.0f} {end / source:>6.0%} "
            f"{phase:>10,.0f} {peak:>8.0f}"
        )
    print("mailer/s: end to end, from the command's start to its exit; sending/s: the send alone")


if __name__ == "__main__":
    main()
