"""APScheduler 3.11's traps, pinned: what the library does, and that the daemon's settings
avoid it (see mailer/daemon.py's docstring). If an upgrade changes one, a test here says so."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger

from mailer.config.validate import parse_config
from mailer.daemon.scheduler import JOB_DEFAULTS
from mailer.recurrence import occurrences
from tests.support.project import REPO

UTC = dt.UTC
PARIS = ZoneInfo("Europe/Paris")


async def fire_late(job_defaults: Mapping[str, object], late: dt.timedelta) -> list[str]:
    """Run a one-shot job whose time passed `late` ago (an event loop that was busy, a laptop
    that slept): did it run?"""
    ran: list[str] = []

    async def job() -> None:
        ran.append("ran")

    scheduler = AsyncIOScheduler(timezone=UTC, job_defaults=dict(job_defaults))
    scheduler.start()
    scheduler.add_job(job, DateTrigger(run_date=dt.datetime.now(UTC) - late), id="next")
    await asyncio.sleep(0.3)
    assert scheduler.get_job("next") is None  # a one-shot job is gone once submitted
    scheduler.shutdown(wait=False)
    return ran


def test_a_late_job_is_dropped_by_default_and_run_with_the_daemons_settings() -> None:
    late = dt.timedelta(seconds=5)
    assert asyncio.run(fire_late({}, late)) == []  # misfire_grace_time: 1 second
    assert asyncio.run(fire_late(JOB_DEFAULTS, late)) == ["ran"]
    assert asyncio.run(fire_late(JOB_DEFAULTS, dt.timedelta(days=3))) == ["ran"]


def test_shutting_the_scheduler_down_cancels_a_running_coroutine_job() -> None:
    """Why the daemon's jobs only wake its own runner task: real work inside a job would be
    cancelled half-way by the scheduler's shutdown."""

    async def scenario() -> list[str]:
        events: list[str] = []

        async def long_job() -> None:
            events.append("started")
            try:
                await asyncio.sleep(10)
                events.append("finished")
            except asyncio.CancelledError:
                events.append("cancelled")
                raise

        scheduler = AsyncIOScheduler(timezone=UTC, job_defaults=JOB_DEFAULTS)
        scheduler.start()
        scheduler.add_job(long_job, DateTrigger(run_date=dt.datetime.now(UTC)))
        await asyncio.sleep(0.2)
        scheduler.shutdown(wait=False)
        await asyncio.sleep(0.1)
        return events

    assert asyncio.run(scenario()) == ["started", "cancelled"]


def test_cron_weekdays_start_on_monday_unlike_crontab() -> None:
    """day_of_week=1 is Tuesday in APScheduler (crontab's 1 is Monday): the daemon uses no cron
    trigger; the series is an RFC 5545 rule."""
    trigger = CronTrigger(day_of_week=1, hour=13, timezone=PARIS)
    monday = dt.datetime(2026, 11, 23, tzinfo=PARIS)
    fire = trigger.get_next_fire_time(None, monday)
    assert fire is not None
    assert fire.strftime("%A %H:%M") == "Tuesday 13:00"


def test_apschedulers_third_tuesday_agrees_with_the_series_rule_for_forty_years() -> None:
    """An independent computation of the seed's dates and times, DST changes included."""
    config, _ = parse_config((REPO / "config.toml").read_text(encoding="utf-8"), "config.toml")
    series = config.series
    ours = [
        o.start_utc
        for o in occurrences(series, {}, start=dt.date(2021, 1, 1), end=dt.date(2060, 12, 31))
        if o.scheduled == o.date  # as the rule gives them (no exceptions in config)
    ]
    trigger = CronTrigger(day="3rd tue", hour=13, minute=0, timezone=PARIS)
    theirs = []
    previous = None
    now = dt.datetime(2021, 1, 1, tzinfo=PARIS)
    while (fire := trigger.get_next_fire_time(previous, now)) is not None and fire.year <= 2060:
        theirs.append(fire.astimezone(UTC))
        previous = now = fire + dt.timedelta(seconds=1)
    assert ours == theirs
    assert len(ours) == 40 * 12
