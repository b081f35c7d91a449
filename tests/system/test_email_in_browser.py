"""The HTML emails in a real browser (Debian's Chromium): every kind and language, as sent, at
320, 375, 600 and 1280 pixels wide, light, dark and forced dark. The first screen of a phone
shows when, the Join button, the meeting ID and add-to-calendar; text stays readable in every
mode. Screenshots of every kind (in French) at 375 and 1280 px, light and dark, go to
docs/screenshots/email-KIND-fr-WIDTH[-dark].png with MAILER_REFRESH_DOCS=1 (to a scratch folder
otherwise): look at them after changing a template."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from mailer.messages.checks import sample_recipients
from tests.support.browser import Dark, chromium_page, screenshot_folder
from tests.support.emails import emails_as_sent
from tests.support.pixels import background, luminance, text_contrast

pytestmark = pytest.mark.browser

WIDTHS = (320, 375, 600, 1280)
PHONE = (375, 667)  # an iPhone SE: the smallest first screen still common
DARK: tuple[Dark, ...] = ("media", "forced")

MEASURE = """(() => {
  const root = document.documentElement;
  const links = [...document.querySelectorAll('a')].map(a => a.href);
  const overflowing = [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
    .map(e => e.tagName + '.' + e.className);
  const box = (selector) => {
    const e = document.querySelector(selector);
    if (!e) return null;
    const r = e.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) return null;
    return [r.left + window.scrollX, r.top + window.scrollY, r.width, r.height];
  };
  return {scrollWidth: root.scrollWidth, width: window.innerWidth, overflowing, links,
          height: root.scrollHeight,
          fontSize: getComputedStyle(document.querySelector('.content')).fontSize,
          container: box('.container'), join: box('a.button'), button: box('.button-cell'),
          when: box('.when'), codes: box('.codes'), add: box('.add'),
          question: box('.content ul li'), footer: box('.footer p')};
})()"""


def write_emails(folder: Path) -> list[Path]:
    """Each email as its sample recipient gets it when it is due (named `kind-language.html`)."""
    paths = []
    for language in ("fr", "en", "es"):
        recipient = sample_recipients(language, frozenset({"organisation"}), "Europe/Paris")[0]
        for name, (_, _, html) in emails_as_sent(language, recipient=recipient).items():
            path = folder / f"{name.replace(':', '-')}-{language}.html"
            path.write_text(html, encoding="utf-8")
            paths.append(path)
    return paths


def forced_copy(path: Path) -> Path:
    """The email as an app that darkens it by itself sees it (the Gmail and Outlook apps):
    without its colour-scheme declarations, which would keep Chromium from darkening it."""
    html = path.read_text(encoding="utf-8")
    for meta in (
        '<meta name="color-scheme" content="light dark">\n',
        '<meta name="supported-color-schemes" content="light dark">\n',
    ):
        assert meta in html
        html = html.replace(meta, "")
    forced = path.with_suffix(".forced.html")
    forced.write_text(html, encoding="utf-8")
    return forced


def screenshots() -> Path:
    folder = screenshot_folder("emails")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


Seen = tuple[Path, int, Dark, dict[str, Any], bytes]


def look_at_all(paths: list[Path], shots: Path) -> list[Seen]:
    async def run() -> list[Seen]:
        seen: list[Seen] = []
        async with chromium_page() as page:
            for path in paths:
                views: list[tuple[int, Dark]] = [(width, None) for width in WIDTHS]
                views += [(PHONE[0], dark) for dark in DARK] + [(1280, "media")]
                for width, dark in views:
                    height = PHONE[1] if width == PHONE[0] else 900
                    shown = forced_copy(path) if dark == "forced" else path
                    await page.open(shown.as_uri(), width, height, dark)
                    found = await page.evaluate(MEASURE)
                    png = await page.screenshot()
                    seen.append((path, width, dark, found, png))
                    french = path.stem.endswith("-fr")
                    if french and width in (375, 1280) and dark != "forced":
                        name = f"email-{path.stem}-{width}{'-dark' if dark else ''}"
                        (shots / f"{name}.png").write_bytes(png)
        return seen

    return asyncio.run(run())


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> list[Seen]:
    folder = tmp_path_factory.mktemp("emails")
    return look_at_all(write_emails(folder), screenshots())


def bottom(box: list[float]) -> float:
    return box[1] + box[3]


def test_emails_fit_every_width_with_their_links(seen: list[Seen]) -> None:
    for path, width, dark, found, _ in seen:
        where = f"{path.name} at {width}px {dark or ''}"
        assert found["scrollWidth"] == found["width"] == width, where
        assert found["overflowing"] == [], where
        assert found["container"][2] == min(width, 600), where  # one column, never wider
        links = " ".join(found["links"])
        assert "/unsubscribe/" in links, where
        assert found["fontSize"] == "16px", where
        if path.name.startswith("cancellation"):
            assert found["join"] is None, where
            continue
        assert found["join"] is not None, where
        # the whole button is the link (its padding is the link's), not just its words
        assert [round(v) for v in found["join"]] == [round(v) for v in found["button"]], where
        assert "https://us02web.zoom.us/j/85720559693?pwd=" in links, where
        if path.name.startswith(("invitation", "update")):
            for calendar in (
                "calendar.google.com/calendar/render?action=TEMPLATE",
                "outlook.live.com/calendar/0/deeplink/compose",
                "outlook.office.com/calendar/0/deeplink/compose",
            ):
                assert calendar in links, (where, calendar)


def test_a_phone_s_first_screen_has_when_join_codes_and_calendar(seen: list[Seen]) -> None:
    """On a 375 x 667 screen, before any scrolling: the date, the Join button, the meeting ID
    and passcode, and (except in reminders) the add-to-calendar links; the questions after."""
    for path, width, dark, found, _ in seen:
        if width != PHONE[0] or dark or path.name.startswith("cancellation"):
            continue
        where = path.name
        assert bottom(found["when"]) < found["join"][1], where
        assert bottom(found["join"]) <= PHONE[1], (where, found["join"])
        assert bottom(found["codes"]) <= PHONE[1], (where, found["codes"])
        if found["add"] is not None:
            assert bottom(found["add"]) <= PHONE[1], (where, found["add"])
        assert not path.name.startswith(("invitation", "update")) or found["add"], where
        if path.name.startswith("reminder-PT1H"):  # short: it all fits a phone's two screens
            assert found["question"] is None and found["height"] < 2 * PHONE[1], where
            continue
        assert found["question"][1] > bottom(found["codes"]), where


def test_text_and_button_stay_readable_in_light_dark_and_forced_dark(seen: list[Seen]) -> None:
    """WCAG AA (4.5:1) for the Join button, the date, a question and the footer, measured on
    the pixels of the screenshot."""
    checked = 0
    for path, width, dark, found, png in seen:
        if width != PHONE[0] or path.name.startswith("cancellation"):
            continue
        for part in ("button", "when", "question", "footer"):
            if found[part] is None and part == "question" and "PT1H" in path.name:
                continue  # the short reminder has no questions
            contrast = text_contrast(png, found[part])
            assert contrast >= 4.5, (path.name, dark, part, round(contrast, 2))
            checked += 1
    assert checked == 3 * 3 * (5 * 4 - 1)  # languages x modes x (kinds x parts, but one)


def test_dark_modes_are_dark(seen: list[Seen]) -> None:
    """Both dark modes really repaint the email (or the contrast test would test nothing)."""
    for path, width, dark, found, png in seen:
        if width == PHONE[0] and path.name.startswith("invitation"):
            light = dark is None
            assert (luminance(background(png, found["question"])) > 0.5) == light, (path.name, dark)
