"""The HTML emails in a real browser (Debian's Chromium) at 320 and 600 pixels wide."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mailer.messages.checks import sample_recipients
from mailer.model import MESSAGE_KINDS
from tests.support.browser import chromium_page
from tests.support.emails import composer, session

pytestmark = pytest.mark.browser

MEASURE = """(() => {
  const root = document.documentElement;
  const links = [...document.querySelectorAll('a')].map(a => a.href);
  const overflowing = [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
    .map(e => e.tagName + '.' + e.className);
  const visible = (selector) => {
    const e = document.querySelector(selector);
    if (!e) return false;
    const box = e.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && box.right <= window.innerWidth + 1;
  };
  return {scrollWidth: root.scrollWidth, width: window.innerWidth, overflowing, links,
          zoomButton: visible('a.button'), fontSize: getComputedStyle(document.body).fontSize};
})()"""


def write_emails(folder: Path) -> list[Path]:
    paths = []
    for kind in MESSAGE_KINDS:
        occurrence = session()
        if kind == "cancellation":
            occurrence = occurrence.__class__(**{**occurrence.__dict__, "status": "cancelled"})
        made = composer(kind, occurrence)
        for language in ("fr", "en", "es"):
            recipient = sample_recipients(language, frozenset({"organisation"}), "Europe/Paris")[0]
            path = folder / f"{kind}-{language}.html"
            path.write_text(made.render(recipient)[2], encoding="utf-8")
            paths.append(path)
    return paths


def test_emails_fit_320_and_600_pixels_with_their_links(tmp_path: Path) -> None:
    paths = write_emails(tmp_path)

    async def measure_all() -> list[tuple[Path, int, dict[str, object]]]:
        results = []
        async with chromium_page() as page:
            for path in paths:
                for width in (320, 600):
                    await page.open(path.as_uri(), width)
                    results.append((path, width, await page.evaluate(MEASURE)))
                    if width == 320 and path.name == "invitation-fr.html":
                        (tmp_path / "invitation-fr-320.png").write_bytes(await page.screenshot())
        return results

    for path, width, found in asyncio.run(measure_all()):
        where = f"{path.name} at {width}px"
        assert found["scrollWidth"] == found["width"] == width, where
        assert found["overflowing"] == [], where
        links = " ".join(str(link) for link in found["links"])  # type: ignore[attr-defined]
        assert "/unsubscribe/" in links, where
        if not path.name.startswith("cancellation"):
            assert found["zoomButton"], where
            assert "https://us02web.zoom.us/j/85720559693?pwd=" in links, where
            for calendar in (
                "calendar.google.com/calendar/render?action=TEMPLATE",
                "outlook.live.com/calendar/0/deeplink/compose",
                "outlook.office.com/calendar/0/deeplink/compose",
            ):
                assert calendar in links, (where, calendar)
        assert found["fontSize"] == "16px", where
    assert (tmp_path / "invitation-fr-320.png").stat().st_size > 10_000
