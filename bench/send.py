"""Benchmark: a real `mailer send` to a fast local SMTP sink, beside a raw SMTP load generator.

Usage: .venv/bin/python bench/send.py [--recipients N] [--connections C] [--processes P]

In one run, against the same sink (Postfix's smtp-sink, from Debian's postfix package, unpacked
into bench/out/postfix without installing a mail server):
  smtp-source   Postfix's load generator: C sessions, N messages of the size of ours
  mailer        `mailer send` of a personalised invitation (HTML + text + .ics, each
                recipient's name, language and unsubscribe link) to N generated recipients,
                with C connections, the ledger on (WAL, synchronous=FULL)
and prints messages per second and peak memory (resident set of the process, its children
included). The target: mailer at least half of smtp-source's rate, under 200 MB at 100,000.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
POSTFIX = OUT / "postfix"
SESSION_NOW = "2021-04-06T09:00:00+02:00"


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


def make_project(recipients: int, port: int, connections: int, processes: int) -> Path:
    project = OUT / f"project-{recipients}"
    if project.exists():
        shutil.rmtree(project)
    project.mkdir(parents=True)
    for name in ("sessions", "templates"):
        shutil.copytree(HERE.parent / name, project / name)
    (project / "recipients").mkdir()
    with (project / "recipients" / "members.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
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
    for other in ("partners", "speakers"):
        (project / "recipients" / f"{other}.csv").write_text("email\n", encoding="utf-8")
    config = (HERE.parent / "config.toml").read_text(encoding="utf-8")
    config += f"""
[transport]
kind = "smtp"

[smtp]
host = "127.0.0.1"
port = {port}
security = "none"
connections = {connections}

[sending]
processes = {processes}
"""
    (project / "config.toml").write_text(config, encoding="utf-8")
    return project


def message_size(project: Path) -> int:
    preview = OUT / "preview"
    subprocess.run(
        mailer_command(project, "preview", "2021-04-20", "--out", str(preview)),
        check=True,
        capture_output=True,
        env=_environment(),
    )
    eml = next(preview.glob("*-invitation-fr.eml"))
    return len(eml.read_bytes())


def mailer_command(project: Path, *arguments: str) -> list[str]:
    """`mailer` on the project, at the moment the invitation is due."""
    config = str(project / "config.toml")
    return [sys.executable, "-m", "mailer", "--config", config, "--now", SESSION_NOW, *arguments]


def _environment() -> dict[str, str]:
    return {**os.environ, "MAILER_UNSUBSCRIBE_KEY": "benchmark-signing-key-0123456789"}


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
    source, environment = postfix_tool("smtp-source")
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
        env=environment,
        capture_output=True,
    )
    return count / (time.perf_counter() - start)


def run_mailer(project: Path) -> tuple[float, float, str]:
    """(messages per second of the sending phase, peak MB of mailer and its workers, summary)."""
    process = subprocess.Popen(
        mailer_command(project, "send", "2021-04-20", "--kind", "invitation", "--yes"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_environment(),
    )
    sampler = PeakSampler(process.pid)
    sampler.start()
    out, err = process.communicate()
    sampler.running = False
    if process.returncode != 0:
        raise SystemExit(f"mailer send failed ({process.returncode}):\n{err[-2000:]}")
    match = re.search(r"This run: (\d+) sent.*in ([\d.]+) s", out)
    assert match, out
    sent, seconds = int(match.group(1)), float(match.group(2))
    return sent / seconds, sampler.peak, out.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    sink, environment = postfix_tool("smtp-sink")
    port = free_port()
    server = subprocess.Popen(
        [str(sink), "-u", os.environ.get("USER", "root"), f"127.0.0.1:{port}", "1000"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.3)
        project = make_project(args.recipients, port, args.connections, args.processes)
        size = message_size(project)
        raw = run_smtp_source(port, args.recipients, args.connections, size)
        rate, peak, summary = run_mailer(project)
    finally:
        server.terminate()
        server.wait()
    print(
        f"{args.recipients:,} recipients, messages of {size:,} bytes, {args.connections} "
        f"connections, {args.processes} process(es), {os.cpu_count()} cores"
    )
    print(f"{'':<14}{'messages/s':>12}{'peak MB':>10}")
    print(f"{'smtp-source':<14}{raw:>12,.0f}{'':>10}")
    print(f"{'mailer send':<14}{rate:>12,.0f}{peak:>10.0f}")
    print(f"mailer / smtp-source: {rate / raw:.0%}")
    print(summary.splitlines()[-2] if "\n" in summary else summary)


if __name__ == "__main__":
    main()
