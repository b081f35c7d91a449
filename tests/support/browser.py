"""A real headless Chromium (Debian's), driven over the DevTools protocol with aiohttp.

Just what the tests need: open a page at a given viewport width, evaluate JavaScript, click.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import aiohttp
import pytest

Dark = Literal["media", "forced"] | None

FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--mute-audio",
    "--hide-scrollbars",
    "--remote-debugging-port=0",
]


def chromium_path() -> str:
    """Debian's chromium; fail (not skip) when missing: dev/test installs it."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("MAILER_ALLOW_MISSING_PEERS"):
            pytest.skip("chromium is missing (MAILER_ALLOW_MISSING_PEERS)")
        pytest.fail("Debian's chromium is needed: run dev/test, which installs it")
    return path


class Page:
    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self.socket = socket
        self.counter = 0
        self.events: list[dict[str, Any]] = []
        self.size = (800, 600)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        self.counter += 1
        number = self.counter
        await self.socket.send_str(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads((await self.socket.receive(timeout=30)).data)
            if message.get("id") == number:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self.events.append(message)

    async def wait_for(self, event: str, timeout: float = 30) -> None:
        if any(e.get("method") == event for e in self.events):
            self.events = [e for e in self.events if e.get("method") != event]
            return
        async with asyncio.timeout(timeout):
            while True:
                message = json.loads((await self.socket.receive()).data)
                if message.get("method") == event:
                    return

    async def open(self, url: str, width: int, height: int = 900, dark: Dark = None) -> None:
        """Load `url` in a `width` x `height` viewport (a phone below 500 px). `dark`: "media"
        says the reader prefers dark (`prefers-color-scheme`, which the email's own dark style
        answers); "forced" has Chromium darken the page by itself instead, as the Gmail and
        Outlook apps do whatever the email's styles say."""
        await self.send("Page.enable")
        await self._viewport(width, height)
        scheme = "dark" if dark == "media" else "light"  # forcing apps hide it from the email
        await self.send(
            "Emulation.setEmulatedMedia",
            features=[{"name": "prefers-color-scheme", "value": scheme}],
        )
        await self.send("Emulation.setAutoDarkModeOverride", enabled=dark == "forced")
        await self.send("Page.navigate", url=url)
        await self.wait_for("Page.loadEventFired")

    async def _viewport(self, width: int, height: int) -> None:
        self.size = (width, height)
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=width < 500,
        )

    async def evaluate(self, expression: str) -> Any:
        result = await self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")

    async def screenshot(self, *, whole_page: bool = True) -> bytes:
        """A PNG of the whole page, or of what the first screen shows. The whole page is shot
        through a viewport as tall as the page: Chromium's forced dark mode paints only what
        is in the viewport."""
        if not whole_page:
            return await self._capture()
        width, height = self.size
        await self._viewport(width, await self.evaluate("document.documentElement.scrollHeight"))
        try:
            return await self._capture()
        finally:
            await self._viewport(width, height)

    async def _capture(self) -> bytes:
        data = await self.send("Page.captureScreenshot", format="png")
        return base64.b64decode(data["data"])


@asynccontextmanager
async def chromium_page() -> AsyncIterator[Page]:
    """A new headless Chromium with one page, closed afterwards."""
    profile = tempfile.mkdtemp(prefix="mailer-chromium-")
    process = subprocess.Popen(
        [chromium_path(), *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        endpoint = None
        for _ in range(200):
            line = process.stderr.readline()
            if match := re.search(r"DevTools listening on (ws://\S+)", line):
                endpoint = match.group(1)
                break
        assert endpoint, "chromium did not start its DevTools endpoint"
        port = endpoint.split(":")[2].split("/")[0]
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/json/list") as response:
                targets = await response.json()
            page_url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
            async with session.ws_connect(page_url, max_msg_size=0) as socket:
                yield Page(socket)
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)


REFRESH_DOCS = "MAILER_REFRESH_DOCS"  # =1: the screenshots the tests take replace the docs'


def screenshot_folder(name: str) -> Path:
    """Where the tests' screenshots go: docs/screenshots/ only when asked (MAILER_REFRESH_DOCS=1
    dev/test ...), so that running the tests changes no tracked file; a scratch folder
    otherwise (named in the test's output, to look at)."""
    if os.environ.get(REFRESH_DOCS) == "1":
        return Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    return Path(tempfile.mkdtemp(prefix=f"mailer-{name}-shots-"))
