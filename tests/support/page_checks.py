"""What every page is checked for in a real browser (the DevTools page of tests.support.browser):
axe-core's violations, sideways scrolling, and the words it shows (each must come from the
pages' translations or from the project's own data: no English sentence, no identifier on a
French page)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from pathlib import Path

from babel import Locale

from mailer.web.words import FRENCH
from tests.support.browser import Page
from tests.support.peers import PEERS, require_node

AXE = PEERS / "node_modules" / "axe-core" / "axe.min.js"

RUN_AXE = """axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v =>
  v.id + ' (' + v.impact + '): ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')))"""

WIDER = """(() => {
  const width = window.innerWidth;
  if (document.documentElement.scrollWidth <= width) return [];
  return [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > width + 1 && !e.closest('.scroll'))
    .slice(0, 8).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
      (e.className && typeof e.className === 'string' ? '.' + e.className : '') +
      ' ' + Math.round(e.getBoundingClientRect().right) + 'px');
})()"""

# the texts a reader meets: visible text, the options of menus, what buttons, fields and
# images say (value, placeholder, alt, title, aria-label)
SHOWN = """(() => {
  const page = document.documentElement.lang, found = [];
  // a text in another language says so (a sample email, a language's own name), and data
  // that no translation applies to says translate="no" (a segment's name, a relay's reply)
  const ours = e => (e.closest('[lang]')?.lang || page) === page && !e.closest('[translate=no]');
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, parent = node.parentElement;
    if (!parent || parent.closest('script, style, template, textarea') || !ours(parent)) continue;
    if (parent.closest('option') || parent.getClientRects().length) found.push(node.textContent);
  }
  for (const e of document.querySelectorAll('[placeholder], [alt], [title], [aria-label]'))
    for (const a of ['placeholder', 'alt', 'title', 'aria-label'])
      if (e.getAttribute(a) && ours(e)) found.push(e.getAttribute(a));
  for (const e of document.querySelectorAll('input[type=submit], input[type=button]'))
    if (ours(e)) found.push(e.value);
  found.push(document.title);
  return found.map(t => t.trim()).filter(t => t);
})()"""

NOT_WORDS = re.compile(
    r"[\w.+-]+@[\w.-]+"  # addresses
    r"|(?:https?|webcal)://\S+|/[\w./?=&%-]*"  # links and paths
    r"|\b[A-Z][a-z]+/[A-Za-z_/-]+"  # time zones (Europe/Paris)
    r"|\b(?:[A-Z]{1,4}T|UTC)\b"  # and their abbreviations (CEST)
)
IDENTIFIER = re.compile(r"\b[a-z]+[_:][a-z0-9_:]+\b|\bP(?:T?\d+[WDHMS])+\b")
JINJA = re.compile(r"{[%#{].*?[%#}]}", re.DOTALL)
QUOTED = re.compile(r"\"([^\"]*)\"|'([^']*)'")
TAG = re.compile(r"<[^>]*>")
WORD = re.compile(r"[^\W\d_]{2,}")


def load_axe() -> str:
    require_node()
    return AXE.read_text(encoding="utf-8")


async def axe_violations(page: Page, axe: str) -> list[str]:
    """axe-core's violations on the open page (all its rules but the experimental ones)."""
    await page.evaluate(axe)
    found: list[str] = await page.evaluate(RUN_AXE)
    return found


async def wider_than_screen(page: Page) -> list[str]:
    """The elements that make the page scroll sideways (none when it fits its viewport;
    a `.scroll` box that scrolls inside itself is allowed)."""
    found: list[str] = await page.evaluate(WIDER)
    return found


async def shown_texts(page: Page) -> list[str]:
    found: list[str] = await page.evaluate(SHOWN)
    return found


FOCUSED = """(() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const style = getComputedStyle(e);
  const outlined = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
  return {tag: e.tagName.toLowerCase(), id: e.id, name: e.getAttribute('name'),
          text: (e.textContent || e.value || '').trim().slice(0, 40),
          shown: outlined || style.boxShadow !== 'none',
          order: [...document.querySelectorAll('*')].indexOf(e),
          tabindex: e.tabIndex};
})()"""


async def tab_through(page: Page, stops: int) -> list[dict[str, object]]:
    """Press Tab `stops` times from the top of the page: what has the focus each time."""
    await page.evaluate("document.activeElement && document.activeElement.blur()")
    found: list[dict[str, object]] = []
    for _ in range(stops):
        for kind in ("rawKeyDown", "keyUp"):
            await page.send(
                "Input.dispatchKeyEvent",
                type=kind,
                key="Tab",
                code="Tab",
                windowsVirtualKeyCode=9,
                nativeVirtualKeyCode=9,
            )
        focused = await page.evaluate(FOCUSED)
        if focused is None or (found and focused["order"] <= found[-1]["order"]):
            break  # out of the page, or back at its top
        found.append(focused)
    return found


def keyboard_problems(stops: list[dict[str, object]], skip: bool) -> list[str]:
    """What keyboard users would miss: the skip link first (`skip`: a page with a menu), the
    focus always visible, the order of the page (no positive tabindex)."""
    problems = []
    if skip and (not stops or stops[0]["id"] != "skip"):
        problems.append(f"the first Tab does not reach the skip link: {stops[:1]}")
    for stop in stops:
        if not stop["shown"]:
            problems.append(f"no visible focus on {stop['tag']} {stop['id'] or stop['text']!r}")
        if int(str(stop["tabindex"])) > 0:
            problems.append(f"a tabindex out of the page's order on {stop['tag']}")
    return problems


def vocabulary(project: Path, more: Iterable[str] = ()) -> frozenset[str]:
    """The words a French page may show: those of the French translations (of the organisers'
    pages, and of the public pages' French templates), French dates and language names
    (Babel's), and the project's own data (its config, sessions and lists)."""
    texts = [*FRENCH.values(), *more]
    for path in (project / "templates" / "fr").glob("*"):
        texts.append(_template_text(path.read_text(encoding="utf-8")))
    for path in [*project.glob("*.toml"), *(project / "sessions").glob("*.toml")]:
        texts += _strings(tomllib.loads(path.read_text(encoding="utf-8")))
    texts += [p.read_text(encoding="utf-8") for p in (project / "recipients").glob("*.csv")]
    french = Locale("fr")
    for names in (french.months, french.days):
        for width in names["format"].values():
            texts += width.values()
    texts += french.languages.values()
    return frozenset(w.lower() for t in texts for w in WORD.findall(t))


def _template_text(template: str) -> str:
    """What a template may show: its text between the tags, and the strings of its Jinja
    statements (a template's words may be in a `{% set %}`)."""

    def literals(match: re.Match[str]) -> str:
        return " " + " ".join(a or b for a, b in QUOTED.findall(match.group(0))) + " "

    return TAG.sub(" ", JINJA.sub(literals, template))


OTHER_LANGUAGES = frozenset({"en", "es", "de", "it", "pt"})  # the project's texts but French


def _strings(value: object) -> list[str]:
    """Every string of a TOML document but those of another language than French (its keys
    are no words for a page)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() if k not in OTHER_LANGUAGES for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def foreign_words(texts: Iterable[str], known: frozenset[str]) -> list[str]:
    """The identifiers, and the words not in `known`, of the texts a page shows."""
    found: list[str] = []
    for text in texts:
        plain = NOT_WORDS.sub(" ", text)
        found += [f"{m} (in {text!r})" for m in IDENTIFIER.findall(plain)]
        found += [f"{w} (in {text!r})" for w in WORD.findall(plain) if w.lower() not in known]
    return found
