"""Growing the lists, end to end against a real daemon (its public side and its organisers'
pages), Debian's chromium driven by Selenium, and the recording SMTP server.

- A person signs up on the public page: the confirmation email arrives, she clicks its link,
  confirms, and the daemon (whose invitation already went to the lists) sends her the
  invitation, in her language. The same address twice, and a suppressed one, get the same
  page; the suppressed one gets no email.
- An organiser finds people (part of a name, filters), opens one, suppresses and mails her
  again, exports and erases another (gone from every page, the export and the kept list),
  adds and edits a person of the kept list, uploads a CSV file whose preview (columns, added,
  updated, rows not read with their lines) is exactly what is then written; each action is
  in the audit log, and what people typed is shown escaped everywhere.

Screenshots (375 px and 1280 px): the sign-up page, its confirmation email, the confirmed
page, the people list, a person, the kept list, an upload's preview.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.select import Select

from tests.support.browser import screenshot_folder
from tests.support.daemon import KEY, DaemonProcess, wait_until
from tests.support.organisers import (
    PASSWORD,
    Client,
    fill,
    form_fields,
    pages_port,
    project_with_pages,
    selenium_chromium,
    submit,
    token,
)
from tests.support.project import edit
from tests.support.sending import use_smtp
from tests.support.smtp_server import SmtpServer

pytestmark = pytest.mark.browser
# the invitation of 2021-04-20 fell due 30 seconds ago: the daemon sends it at once
NOW = "2021-04-06T13:00:30+02:00"
ORGANISER = "marie@icom-france.example.org"
SHOTS = screenshot_folder("signup")
ZOE = "zoe.garcia@example.org"
ATTACK = "<script>alert(1)</script><img src=x onerror=alert(2)>"
LINK = re.compile(r"https://lists\.icom-france\.example\.org(/signup/confirm/\S+)")


@dataclass
class Site:
    config: Path
    daemon: DaemonProcess
    server: SmtpServer
    port: int  # the organisers' pages

    @property
    def public(self) -> str:
        return f"http://127.0.0.1:{self.daemon.port}"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def to(self, address: str) -> list[EmailMessage]:
        found = []
        for received in self.server.received:
            if address in received.recipients:
                message = email.message_from_bytes(received.data, policy=email.policy.default)
                assert isinstance(message, EmailMessage)
                found.append(message)
        return found


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("signup")
    config = project_with_pages(folder, [(ORGANISER, "Marie")])
    edit(config, "updates = true", 'updates = true\ncheck_every = "PT2S"')
    with SmtpServer() as server:
        use_smtp(folder, server.port)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "mailer",
                "--config",
                str(config),
                "--now",
                NOW,
                "suppress",
                "blocked@example.org",
                "--reason",
                "asked by phone",
            ],
            capture_output=True,
            check=True,
            env={**os.environ, "MAILER_UNSUBSCRIBE_KEY": KEY},
        )
        daemon = DaemonProcess(config, NOW)
        try:
            yield Site(config, daemon, server, pages_port(daemon))
        finally:
            daemon.stop()


def shoot(driver: WebDriver, name: str) -> None:
    """docs/screenshots/NAME-375.png and NAME-1280.png: the whole page at both widths."""
    for width in (375, 1280):
        driver.set_window_size(width, 900)
        inner = driver.execute_script("return window.innerWidth")
        wide = driver.execute_script("return document.documentElement.scrollWidth")
        assert wide <= inner, f"{name} scrolls sideways at {width} px ({wide} px)"
        for _ in range(2):  # the whole page (its height changes as the window does)
            height = driver.execute_script("return document.documentElement.scrollHeight")
            driver.set_window_size(width, min(max(height, 700), 5000))
        driver.save_screenshot(str(SHOTS / f"{name}-{width}.png"))
    driver.set_window_size(1280, 900)


def sign_up(driver: WebDriver, site: Site, address: str, name: str) -> str:
    driver.get(site.public + "/signup?lang=es")
    fill(driver, "email", address)
    fill(driver, "name", name)
    driver.find_element(By.ID, "consent").click()
    submit(driver, driver.find_element(By.ID, "signup"))
    return str(driver.find_element(By.TAG_NAME, "main").get_attribute("innerHTML"))


def test_a_person_signs_up_confirms_and_gets_the_invitation_in_her_language(
    site: Site, tmp_path: Path
) -> None:
    with selenium_chromium(1280, 900) as driver:
        zone = {"timezoneId": "America/Mexico_City"}
        driver.execute_cdp_cmd("Emulation.setTimezoneOverride", zone)  # where she lives
        driver.get(site.public + "/signup")  # the browser speaks French: the page too
        assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr"
        driver.find_element(By.LINK_TEXT, "español").click()
        assert "Inscribirse en los encuentros" in driver.find_element(By.TAG_NAME, "h1").text
        guessed = Select(driver.find_element(By.ID, "timezone")).first_selected_option.text
        assert guessed == "America/Mexico_City"  # by the page's one script
        shoot(driver, "signup-form")
        dark = {"media": "", "features": [{"name": "prefers-color-scheme", "value": "dark"}]}
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", dark)  # the reader's dark mode
        background = "return getComputedStyle(document.querySelector('main')).backgroundColor"
        assert driver.execute_script(background) == "rgb(34, 39, 43)"
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "", "features": []})
        sent = sign_up(driver, site, ZOE, "Zoé García")
        assert "Revise su correo" in sent
        shoot(driver, "signup-sent")
        assert sign_up(driver, site, ZOE, "Zoé García") == sent  # the same address again
        assert sign_up(driver, site, "blocked@example.org", "B") == sent  # suppressed
        messages = wait_until(lambda: site.to(ZOE), 20, site.daemon.log)
        wait_until(lambda: len(site.to(ZOE)) == 2, 20, site.daemon.log)  # she asked twice
        confirmation = messages[0]
        assert str(confirmation["Subject"]).startswith("Confirme su inscripción")
        body = confirmation.get_body(("html",))
        assert body is not None
        page = tmp_path / "signup-email.html"
        page.write_text(str(body.get_content()), encoding="utf-8")
        driver.get(page.as_uri())
        shoot(driver, "signup-email")
        plain = confirmation.get_body(("plain",))
        assert plain is not None
        found = LINK.search(str(plain.get_content()))
        assert found is not None
        driver.get(site.public + found.group(1))  # the link opens a page: nothing yet
        assert "Confirme su inscripción" in driver.find_element(By.TAG_NAME, "h1").text
        submit(driver, driver.find_element(By.ID, "confirm"))
        assert "Está inscrito/a" in driver.find_element(By.ID, "done").text
        shoot(driver, "signup-done")
    assert site.to("blocked@example.org") == []
    # the invitation went to the lists before she came: the daemon sends it to her too
    invitation = wait_until(
        lambda: [m for m in site.to(ZOE) if "Confirme" not in str(m["Subject"])],
        30,
        site.daemon.log,
    )
    assert invitation[0]["Content-Language"] == "es"
    assert invitation[0]["To"] == f"Zoé García <{ZOE}>"


def log_in(driver: WebDriver, site: Site) -> None:
    driver.get(site.base + "/")
    fill(driver, "email", ORGANISER)
    fill(driver, "password", PASSWORD)
    submit(driver, driver.find_element(By.CSS_SELECTOR, "form.login button"))


def test_an_organiser_finds_manages_and_uploads_people(site: Site, tmp_path: Path) -> None:
    with selenium_chromium(1280, 900) as driver:
        log_in(driver, site)
        # the series page: the invitation that went says how many it reached (not 0)
        sent_row = next(
            row.text
            for row in driver.find_elements(By.CSS_SELECTOR, "#plan tbody tr")
            if " Invitation " in f" {row.text} "
        )
        found = re.search(r"(\d+) envoyé\(s\)", sent_row)
        assert found and int(found.group(1)) >= 20, sent_row
        # find by a part of a name, then filter
        driver.get(site.base + "/people")
        fill(driver, "q", "dubois")
        submit(driver, driver.find_element(By.ID, "find"))
        current = driver.find_element(By.CSS_SELECTOR, 'header nav a[aria-current="page"]')
        assert current.text == "Personnes"  # the menu marks where one is
        assert driver.find_element(By.CSS_SELECTOR, "a.brand").text.startswith("Solidarité")
        skip = driver.find_element(By.CSS_SELECTOR, "a.skip").get_attribute("href")
        assert str(skip).endswith("#main")  # a skip link, first on the page
        rows = driver.find_elements(By.CSS_SELECTOR, "#people tbody tr")
        assert [r.text.split()[0] for r in rows] == ["marie.dubois@example.org"]
        driver.get(site.base + "/people?language=es&list=members")
        spanish = driver.find_element(By.ID, "people").text
        assert "carmen.garcia@example.org" in spanish and "marie.dubois" not in spanish
        driver.get(site.base + "/people?status=suppressed")
        assert "blocked@example.org" in driver.find_element(By.ID, "people").text
        driver.get(site.base + "/people")
        shoot(driver, "web-people")

        # a person: suppress, mail again
        driver.get(site.base + "/people/person?address=luc.martin@example.org")
        fill(driver, "reason", "asked by phone")
        submit(driver, driver.find_element(By.ID, "suppress"))  # not without the box
        assert "Cochez la case pour confirmer." in driver.find_element(By.TAG_NAME, "main").text
        driver.back()
        fill(driver, "reason", "asked by phone")
        driver.find_element(By.ID, "confirm-suppress").click()
        submit(driver, driver.find_element(By.ID, "suppress"))
        assert "asked by phone" in driver.find_element(By.ID, "suppression").text
        driver.find_element(By.ID, "confirm-unsuppress").click()
        submit(driver, driver.find_element(By.ID, "unsuppress"))
        assert not driver.find_elements(By.ID, "suppression")
        shoot(driver, "web-person-actions")

        # the kept list: add a person (what she typed is only text), edit her
        driver.get(site.base + "/lists/signups")
        fill(driver, "email", "paul.roux@example.org")
        fill(driver, "name", ATTACK)
        Select(driver.find_element(By.ID, "add-language")).select_by_value("en")
        fill(driver, "tags", "press; board")
        submit(driver, driver.find_element(By.ID, "add-save"))
        members = driver.find_element(By.ID, "members").text
        assert ATTACK in members and "paul.roux@example.org" in members
        assert not driver.find_elements(By.CSS_SELECTOR, "main script, main img")
        fill(driver, "email", "paul.roux@example.org")
        fill(driver, "name", "Paul Roux")
        submit(driver, driver.find_element(By.ID, "add-save"))
        assert "Paul Roux" in driver.find_element(By.ID, "members").text
        shoot(driver, "web-kept-list")

        # an upload: its preview, then exactly that written
        upload = tmp_path / "export.csv"
        upload.write_text(
            "Email Address,First Name,Last Name,Language,Company\n"
            "ines.costa@example.org,Inês,Costa,pt,Museu\n"
            "not-an-address,X,Y,fr,\n"
            "paul.roux@example.org,Paul,Roux-Martin,fr,\n"  # on the list: updated
            f"eve@example.org,{ATTACK},,en,\n",
            encoding="utf-8",
        )
        driver.find_element(By.ID, "upload-file").send_keys(str(upload))
        submit(driver, driver.find_element(By.ID, "upload-preview"))
        columns = driver.find_element(By.ID, "columns").text
        assert "Email Address" in columns and "First Name" in columns and "company" in columns
        summary = driver.find_element(By.ID, "summary").text
        assert "2 à ajouter, 1 à modifier, 0 inchangées, 1 lignes non lues" in summary
        assert "ligne 3" in driver.find_element(By.ID, "problems").text
        preview = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "#changes tbody tr")]
        assert not driver.find_elements(By.CSS_SELECTOR, "main script, main img")
        shoot(driver, "web-upload-preview")
        submit(driver, driver.find_element(By.ID, "apply-upload"))
        assert "importé" in driver.find_element(By.ID, "done").text
        written = driver.find_element(By.ID, "members").text
        for row in preview:
            line, address, *_ = row.split()
            assert address in written, (line, address)
        assert "Inês Costa" in written and "Paul Roux-Martin" in written

    client = Client("127.0.0.1", site.port)
    client.log_in(ORGANISER, PASSWORD)
    person = client.get("/people/person?address=ines.costa%40example.org")
    asked = form_fields(person, "/people/person/export")
    assert client.post("/people/person/export", asked).status == 400  # not without the box
    exported = client.post("/people/person/export", {**asked, "confirm": "1"})
    record = json.loads(exported.body)
    assert record["address"] == "ines.costa@example.org"
    assert record["signups"][0]["origin"] == "upload"
    # erasing asks for the box, then she is gone from every page and the kept list
    refused = client.post("/people/person/erase", form_fields(person, "/people/person/erase"))
    assert refused.status == 400
    erase = {**form_fields(person, "/people/person/erase"), "confirm": "1"}
    assert client.post("/people/person/erase", erase).status == 303
    assert "ines.costa" not in client.get("/people").body
    assert "ines.costa" not in client.get("/lists/signups").body
    gone = client.post("/people/person/export", {**erase, "csrf": token(client.get("/people"))})
    assert gone.status == 200
    assert gone.status == 200
    assert json.loads(gone.body)["signups"] == [] and json.loads(gone.body)["lists"] == []
    audit = client.get("/audit").body
    for action in (
        "adresse retirée",
        "adresse rétablie",
        "ajout à une liste",
        "modification dans une liste",
        "import dans une liste",
        "données exportées",
        "personne effacée",
    ):
        assert action in audit, action
    assert "<script>alert" not in audit and "<script>alert" not in client.get("/people").body
