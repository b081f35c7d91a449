"""A real `mailer send`, killed with SIGKILL at random moments and started again, until done:
then everyone got the email, and every duplicate has the Message-ID of its twin."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.support import stores
from tests.support.project import soak_rounds
from tests.support.sending import big_list, mailer_send, use_smtp
from tests.support.smtp_server import SmtpServer

pytestmark = pytest.mark.soak
RECIPIENTS = 6000


def orphans() -> list[str]:
    """Sending processes still running after their parent was killed."""
    result = subprocess.run(
        ["pgrep", "-af", "mailer-sender|multiprocessing.spawn"],
        capture_output=True,
        text=True,
        check=False,
    )
    return [line for line in result.stdout.splitlines() if "pgrep" not in line]


@pytest.mark.parametrize(
    ("processes", "store_kind"),
    [(1, "sqlite"), (2, "sqlite"), (2, "postgres")],
    indirect=["store_kind"],
)
def test_sigkill_at_random_moments_loses_no_one_and_duplicates_share_their_id(
    project_dir: Path, processes: int
) -> None:
    """With two processes, killing `mailer send` must take its workers with it. Once on
    PostgreSQL too, where a killed sender's rows come back when their lease runs out."""
    seed = int(os.environ.get("MAILER_CRASH_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    big_list(project_dir / "recipients" / "members.csv", RECIPIENTS)
    for other in ("partners.csv", "speakers.csv"):
        (project_dir / "recipients" / other).write_text("email\n", encoding="utf-8")
    kills = 0
    with SmtpServer() as server:
        config = use_smtp(project_dir, server.port, connections=4, deadline=10)
        text = config.read_text(encoding="utf-8")
        text = text.replace("batch = 5", f"batch = 5\nprocesses = {processes}")
        if stores.where(config)[0] == "postgres":  # a killed sender's rows: back in 3 s
            text = text.replace("[state]\n", '[state]\nlease = "PT3S"\n', 1)
        config.write_text(text, encoding="utf-8")
        for _ in range(soak_rounds(3)):
            process = mailer_send(config)
            time.sleep(rng.uniform(0.5, 3.0))
            if process.poll() is not None:
                break
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            kills += 1
            time.sleep(0.2)  # the workers die with it (PR_SET_PDEATHSIG)
            assert not orphans(), f"seed {seed}: workers outlived mailer send"
        while True:  # then let it finish
            process = mailer_send(config)
            _, err = process.communicate(timeout=300)
            if process.returncode == 0:
                break
            assert process.returncode == 75, (seed, err.decode())  # retries due: run again
        received = server.recorder.by_recipient()
        ids_by_recipient: dict[str, set[str]] = {}
        for message in server.received:
            ids_by_recipient.setdefault(message.recipients[0], set()).add(message.message_id)
    everyone = {f"person.{n}@example.org" for n in range(RECIPIENTS)}
    assert set(received) == everyone, f"seed {seed}: someone was lost"
    assert all(len(ids) == 1 for ids in ids_by_recipient.values()), f"seed {seed}"
    duplicates = sum(count - 1 for count in received.values())
    print(f"\nseed {seed}: {kills} kills, {duplicates} duplicates")
    assert duplicates <= kills * 5, f"seed {seed}: more than [sending] batch per crash"
    states = Counter(row["state"] for row in stores.rows(config, "SELECT state FROM deliveries"))
    assert states == {"sent": RECIPIENTS}, f"seed {seed}"
