"""The unsubscribe page in a real browser (Debian's chromium)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from mailer.audience.unsubscribe import make_token
from mailer.model import Recipient
from mailer.project.workspace import Workspace
from mailer.store.ledger import Ledger, SendKey
from mailer.store.suppression import suppressed_keys
from mailer.web.public import make_app
from tests.support.browser import chromium_page

KEY = "http-test-signing-key-0123456789"

NOW = dt.datetime(2021, 4, 10, 12, tzinfo=dt.UTC)

ANA = "ana.garcia@example.org"

Scenario = Callable[[aiohttp.ClientSession, str], Awaitable[None]]


def workspace(project_dir: Path) -> Workspace:
    return Workspace(
        project_dir / "config.toml", clock=lambda: NOW, environ={"MAILER_UNSUBSCRIBE_KEY": KEY}
    )


def serve(
    project_dir: Path,
    scenario: Scenario,
    health: Mapping[str, Any] | None = None,
) -> None:
    """Run the app on 127.0.0.1, any free port, and `scenario(client, base_url)` against it."""
    space = workspace(project_dir)
    report = health or {"status": "ok", "scheduler": "running", "rounds": 3}

    async def main() -> None:
        runner = web.AppRunner(make_app(lambda: space, lambda: report))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            async with aiohttp.ClientSession() as client:
                await scenario(client, f"http://127.0.0.1:{port}")
        finally:
            await runner.cleanup()

    asyncio.run(main())


def invited_in_spanish(project_dir: Path) -> str:
    """Ana was sent an email in Spanish: her unsubscribe path."""
    space = workspace(project_dir)
    config = space.project().config
    with space.state() as state:
        Ledger(state).plan(
            SendKey(config.series.id, dt.date(2021, 4, 20), "invitation"),
            "invitation",
            segments=("everyone",),
            deadline=NOW + dt.timedelta(days=5),
            recipients=[Recipient(email=ANA, key=ANA, language="es")],
            now=NOW,
        )
    return "/unsubscribe/" + make_token(KEY.encode(), config.series.id, ANA)


def suppressed(project_dir: Path) -> frozenset[str]:
    with workspace(project_dir).state() as state:
        return suppressed_keys(state).keys


@pytest.mark.browser
def test_unsubscribing_in_a_browser(project_dir: Path) -> None:
    """Open the link from the email, press the button, see it done: in Chromium."""
    path = invited_in_spanish(project_dir)
    seen: dict[str, Any] = {}

    async def scenario(_: aiohttp.ClientSession, base: str) -> None:
        async with chromium_page() as page:
            await page.open(base + path, 400)
            seen["before"] = await page.evaluate("document.documentElement.lang")
            await page.evaluate("document.getElementById('unsubscribe').click()")
            for _tick in range(100):
                if await page.evaluate("!!document.getElementById('done')"):
                    break
                await asyncio.sleep(0.05)
            seen["done"] = await page.evaluate("document.getElementById('done')?.textContent")
            seen["scroll"] = await page.evaluate("document.documentElement.scrollWidth")

    serve(project_dir, scenario)
    assert seen["before"] == "es"
    assert seen["done"]  # the "done" page, in Spanish
    assert seen["scroll"] <= 400  # fits a phone
    assert suppressed(project_dir) == {ANA}
