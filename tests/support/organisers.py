"""The organisers' pages from outside: Debian's chromium driven by Selenium (through Debian's
chromium-driver: nothing downloaded), and a plain HTTP client that keeps its own cookies (so
that tests can send what no browser would: a form without its CSRF token, a foreign Origin)."""

from __future__ import annotations

import http.client
import re
import shutil
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

from tests.support.browser import chromium_path
from tests.support.daemon import DaemonProcess
from tests.support.project import copy_project, edit

PASSWORD = "a long organiser passphrase"
# made once by `mailer hash-password` (scrypt, ln=17): tests check the real thing
PASSWORD_HASH = (
    "$scrypt$ln=17,r=8,p=1$ngmCl0XNnkLCNSfuuGJbhA$qlA/E834et9ERDxyFHMzHV32jwtbsyHWUxuaBqh+9Mw"
)


def project_with_pages(folder: Path, accounts: Sequence[tuple[str, str]], web: str = "") -> Path:
    """The shipped project copied into `folder`, its daemon listening on port 0 with the
    organisers' pages for these (email, name) accounts (password PASSWORD) and `web`'s more
    lines of [web]: its config.toml."""
    config = copy_project(folder) / "config.toml"
    edit(config, 'listen = "127.0.0.1:8025"', 'listen = "127.0.0.1:0"')
    organisers = "".join(
        f'\n[[web.organisers]]\nemail = "{email}"\nname = "{name}"\n'
        f'password_hash = "{PASSWORD_HASH}"\n'
        for email, name in accounts
    )
    with config.open("a", encoding="utf-8") as file:
        file.write(f'\n[web]\nlisten = "127.0.0.1:0"\n{web}{organisers}')
    return config


def pages_port(daemon: DaemonProcess) -> int:
    """Where a started daemon serves the organisers' pages."""
    found = daemon.wait_for_log(r"organisers' pages on http://127\.0\.0\.1:(\d+)")
    return int(found.group(1))


@contextmanager
def selenium_chromium(width: int = 1400, height: int = 1000) -> Iterator[WebDriver]:
    """Headless chromium under Selenium; fail (not skip) without chromium-driver."""
    binary = chromium_path()
    driver_path = shutil.which("chromedriver")
    if driver_path is None:
        pytest.fail("Debian's chromium-driver is needed: run dev/test, which installs it")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    options.add_argument("--lang=fr-FR")  # the organisers of the shipped series are French
    options.add_experimental_option("prefs", {"intl.accept_languages": "fr-FR,fr"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def submit(driver: WebDriver, button: WebElement) -> None:
    """Click a submit button and wait for the page it leads to."""
    old = driver.find_element(By.TAG_NAME, "html")
    button.click()
    WebDriverWait(driver, 60).until(lambda d: old != d.find_element(By.TAG_NAME, "html"))


def fill(driver: WebDriver, name: str, text: str) -> None:
    element = driver.find_element(By.NAME, name)
    element.clear()
    if text:
        element.send_keys(text)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str


@dataclass
class Client:
    """HTTP/1.1 to the pages, with the cookies they set (Secure ones included)."""

    host: str
    port: int
    cookies: dict[str, str] = field(default_factory=dict)

    def request(
        self,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        reply = Reply(response.status, dict(response.headers), response.read().decode())
        connection.close()
        return reply

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def post(self, path: str, form: dict[str, str], **headers: str) -> Reply:
        return self.request("POST", path, form, headers)

    def log_in(self, email: str, password: str) -> Reply:
        page = self.get("/login")
        return self.post("/login", {"email": email, "password": password, "csrf": token(page)})


def token(reply: Reply) -> str:
    """The CSRF token of the first form of a page."""
    found = re.search(r'name="csrf" value="([^"]+)"', reply.body)
    assert found, reply.body
    return found.group(1)


class _FormReader(HTMLParser):
    """The fields of the first form whose action is `action`, as a browser would post them
    (text inputs, hidden inputs, text areas, the selected option, ticked boxes)."""

    def __init__(self, action: str) -> None:
        super().__init__(convert_charrefs=True)
        self.action = action
        self.inside = False
        self.done = False
        self.fields: dict[str, str] = {}
        self._area: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attributes: list[tuple[str, str | None]]) -> None:
        found = {key: value or "" for key, value in attributes}
        if tag == "form" and not self.done and found.get("action") == self.action:
            self.inside = True
        if not self.inside:
            return
        name = found.get("name")
        if tag == "input" and name:
            kind = found.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in found:
                    self.fields[name] = found.get("value", "on")
            elif kind not in ("submit", "button"):
                self.fields[name] = found.get("value", "")
        elif tag == "textarea" and name:
            self._area = name
            self.fields[name] = ""
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select is not None:
            select = self._select
            chosen = "selected" in found or select not in self.fields
            self.fields[select] = found.get("value", "") if chosen else self.fields[select]

    def handle_data(self, data: str) -> None:
        if self._area is not None:
            self.fields[self._area] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._area = None
        elif tag == "select":
            self._select = None
        elif tag == "form" and self.inside:
            self.inside, self.done = False, True


def form_fields(reply: Reply, action: str) -> dict[str, str]:
    """What posting the page's form to `action` sends, unchanged."""
    reader = _FormReader(action)
    reader.feed(reply.body)
    assert reader.done, f"no form to {action}"
    return reader.fields
