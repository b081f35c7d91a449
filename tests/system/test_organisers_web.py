"""The organisers' pages, in Debian's chromium (Selenium) and over plain HTTP, against a real
`mailer daemon` process sending to a real SMTP server (aiosmtpd on 127.0.0.1).

An organiser logs in, prepares a session in three languages (a problem shown at its field,
nothing saved), previews every email, sends herself a proof, sends the invitation to one
segment with its plan and a confirmation, watches it, finds a person, moves the session
seeing who gets the update; the daemon sends that update. And the security cases: no login,
a wrong password, a missing CSRF token, a foreign origin, a script in a speaker's name, the
login rate limit. The screenshots of docs/screenshots/web-*.png are taken here (written there
with MAILER_REFRESH_DOCS=1, to a scratch folder otherwise).
"""

from __future__ import annotations

import csv
import email
import email.policy
import os
import re
import signal
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.select import Select

from mailer.store.locks import sender_lock
from tests.support.browser import screenshot_folder
from tests.support.daemon import KEY as DAEMON_KEY
from tests.support.daemon import DaemonProcess, ledger_states, wait_until
from tests.support.organisers import (
    PASSWORD,
    PASSWORD_HASH,
    Client,
    fill,
    form_fields,
    pages_port,
    project_with_pages,
    selenium_chromium,
    submit,
    token,
)
from tests.support.sending import use_smtp
from tests.support.smtp_server import Fault, SmtpServer

pytestmark = pytest.mark.browser
NOW = "2021-04-01T10:00:00+02:00"  # before the invitation of 2021-04-20 falls due (04-06)
ORGANISER = "marie@icom-france.example.org"
SHOTS = screenshot_folder("web")  # docs/screenshots/ with MAILER_REFRESH_DOCS=1
SESSION = "2021-04-20"
SCRIPT = '<script>document.title="pwned"</script><img src=x onerror=alert(1)>'


@dataclass
class Site:
    config: Path
    daemon: DaemonProcess
    server: SmtpServer
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> Client:
        return Client("127.0.0.1", self.port)

    def session_file(self) -> str:
        return (self.config.parent / "sessions" / f"{SESSION}.toml").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("web")
    accounts = [(ORGANISER, "Marie Curie-Sklodowska"), ("paul@icom-france.example.org", "Paul")]
    config = project_with_pages(folder, accounts)
    with SmtpServer() as server:
        use_smtp(folder, server.port)
        daemon = DaemonProcess(config, NOW)
        try:
            yield Site(config, daemon, server, pages_port(daemon))
        finally:
            daemon.stop()


def log_in(driver: WebDriver, site: Site, password: str = PASSWORD) -> None:
    driver.get(site.base + "/")
    assert "/login" in driver.current_url
    fill(driver, "email", ORGANISER)
    fill(driver, "password", password)
    submit(driver, driver.find_element(By.CSS_SELECTOR, "form.login button"))


def shoot(driver: WebDriver, name: str, prefix: str = "web-") -> None:
    """A screenshot of the whole page for docs/screenshots/web-NAME.png."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, min(max(height, 800), 4000))
    driver.save_screenshot(str(SHOTS / f"{prefix}{name}.png"))
    driver.set_window_size(1400, 1000)


def partner_emails(site: Site) -> set[str]:
    with (site.config.parent / "recipients" / "partners.csv").open(encoding="utf-8") as rows:
        return {row["Email"] for row in csv.DictReader(rows, delimiter=";")}


def subject(data: bytes) -> str:
    return str(email.message_from_bytes(data, policy=email.policy.default)["Subject"])


def to_organiser(site: Site) -> list[str]:
    return [subject(m.data) for m in site.server.received if ORGANISER in m.recipients]


def test_without_a_login_there_is_only_the_login_page(site: Site) -> None:
    client = site.client()
    for path in (
        "/",
        "/status",
        "/people?q=a@example.org",
        "/audit",
        f"/sessions/{SESSION}",
        f"/sessions/{SESSION}/preview",
        f"/sessions/{SESSION}/send",
        "/sends/1",
    ):
        reply = client.get(path)
        assert reply.status == 303, path
        assert reply.headers["Location"].startswith("/login?next="), path
    before = site.session_file()
    refused = client.post(f"/sessions/{SESSION}", {"title.fr": "x"})
    assert refused.status == 403
    assert site.session_file() == before
    assert client.get("/login").status == 200
    # the public side is as it was, on its own port
    public = Client("127.0.0.1", site.daemon.port)
    assert public.get("/health").status == 200
    assert public.get("/calendar.ics").status == 200
    assert public.get("/login").status == 404


def test_an_organiser_prepares_previews_sends_and_follows_a_session(site: Site) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with selenium_chromium() as driver:
        driver.get(site.base + "/")
        shoot(driver, "login")
        log_in(driver, site, "not the password")
        assert (
            "Adresse e-mail ou mot de passe incorrect"
            in driver.find_element(By.ID, "login-error").text
        )
        log_in(driver, site)
        assert driver.title.startswith("La série")  # the series' first language
        sessions = driver.find_element(By.ID, "sessions").text
        assert "Les réseaux professionnels" in sessions and "à préparer" in sessions
        assert "Rappel la veille" in driver.find_element(By.ID, "plan").text
        shoot(driver, "series")

        # prepare the session in three languages; the Spanish title left empty first
        driver.get(f"{site.base}/sessions/{SESSION}")
        before = site.session_file()
        fill(driver, "title.fr", "Les réseaux, instruments de solidarité ?")
        fill(driver, "title.en", "Networks, instruments of solidarity?")
        fill(driver, "title.es", "")
        rows = driver.find_elements(By.CSS_SELECTOR, "tbody.person.blank")
        assert rows, "a blank row to add a speaker"
        index = len(driver.find_elements(By.CSS_SELECTOR, "tbody.person")) - len(rows) - 1
        fill(driver, f"speakers[{index}].name", SCRIPT)  # a name is typed once
        for code, role in (("fr", "Conservatrice"), ("en", "Curator"), ("es", "Conservadora")):
            fill(driver, f"speakers[{index}].role.{code}", role)
        submit(driver, driver.find_element(By.ID, "save"))
        errors = driver.find_elements(By.CSS_SELECTOR, '.field-error[data-field="title.es"]')
        assert errors and "le texte en espagnol manque" in errors[0].text
        spanish = driver.find_element(By.ID, "title.es")
        assert spanish.get_attribute("aria-invalid") == "true"
        assert spanish.get_attribute("aria-describedby") == "title.es-problem"
        listed = driver.find_element(By.CSS_SELECTOR, '#problems a[href="#title.es"]')
        assert listed.text == "Titre (espagnol)"
        listed.click()  # the summary's link leads to the field
        assert driver.switch_to.active_element == spanish
        assert "Rien n’a été enregistré" in driver.find_element(By.ID, "problems").text
        assert site.session_file() == before
        shoot(driver, "session-error")

        fill(driver, "title.es", "Redes, ¿instrumentos de solidaridad?")
        submit(driver, driver.find_element(By.ID, "save"))
        assert driver.find_element(By.ID, "saved").is_displayed()
        saved = tomllib.loads(site.session_file())
        assert saved["title"] == {
            "fr": "Les réseaux, instruments de solidarité ?",
            "en": "Networks, instruments of solidarity?",
            "es": "Redes, ¿instrumentos de solidaridad?",
        }
        assert saved["speakers"][index]["name"] == SCRIPT  # one name for every language
        assert saved["speakers"][0]["name"] == "Bruno Maquart"  # the rest kept
        # a script in a name is text, everywhere: no element made of it, nothing run
        assert driver.title.startswith("Séance 6")
        assert (
            driver.find_element(By.NAME, f"speakers[{index}].name").get_attribute("value") == SCRIPT
        )
        assert not driver.find_elements(By.CSS_SELECTOR, "main script, main img")
        shoot(driver, "session")
        check = subprocess.run(
            [sys.executable, "-m", "mailer", "--config", str(site.config), "check", "--offline"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert check.returncode == 0, check.stdout + check.stderr  # the CLI agrees

        # the daemon took the new version: the series page shows the new title
        def series_shows_new_title() -> bool:
            driver.get(site.base + "/")
            return "Les réseaux, instruments" in driver.find_element(By.ID, "sessions").text

        wait_until(series_shows_new_title, 20)

        # preview every email, send a proof of each language to oneself
        driver.get(f"{site.base}/sessions/{SESSION}/preview?kind=invitation")
        for code in ("fr", "en", "es"):
            section = driver.find_element(By.ID, f"preview-{code}")
            assert section.find_element(By.TAG_NAME, "iframe").get_attribute("sandbox") == ""
        driver.switch_to.frame(driver.find_element(By.CSS_SELECTOR, "#preview-es iframe"))
        framed = driver.find_element(By.TAG_NAME, "body").text
        assert "Redes, ¿instrumentos de solidaridad?" in framed
        assert SCRIPT in framed and not driver.find_elements(By.CSS_SELECTOR, "script")
        driver.switch_to.default_content()
        shoot(driver, "preview")
        submit(driver, driver.find_element(By.ID, "send-proof"))
        assert len(driver.find_element(By.ID, "proofs").find_elements(By.TAG_NAME, "li")) == 3
        wait_until(lambda: len(to_organiser(site)) == 3, 20)
        assert all("Redes" in s or "réseaux" in s or "Networks" in s for s in to_organiser(site))

        # a one-off send to the partners: the plan, a confirmation, progress, the summary
        driver.get(f"{site.base}/sessions/{SESSION}/send?kind=invitation&segment=partners")
        assert driver.find_element(By.ID, "to-send").text == "5"
        shoot(driver, "send-plan")
        submit(driver, driver.find_element(By.ID, "send"))  # not confirmed: nothing goes
        assert "Cochez la case" in driver.find_element(By.ID, "send-problem").text
        driver.get(f"{site.base}/sessions/{SESSION}/send?kind=invitation&segment=partners")
        driver.find_element(By.ID, "confirm").click()
        site.server.add_fault(Fault("DATA", "slow", delay=1.5, times=5))  # time to watch it
        submit(driver, driver.find_element(By.ID, "send"))
        assert re.search(r"/sends/\d+$", driver.current_url)
        assert "(envoi en cours…)" in driver.find_element(By.ID, "progress").text
        assert driver.find_element(By.ID, "bar").tag_name == "progress"
        shoot(driver, "progress-running")
        # the page follows the send by itself (its live region, then the summary at the end)
        wait_until(lambda: bool(driver.find_elements(By.ID, "summary")), 30)
        summary = driver.find_element(By.ID, "summary").text
        assert "Terminé" in summary and "5 envoyé(s)" in summary
        shoot(driver, "progress")
        emails = partner_emails(site)
        partners = [m for m in site.server.received if set(m.recipients) & emails]
        assert len(partners) == 5 and {r for m in partners for r in m.recipients} == emails
        assert ledger_states(site.config) == {"sent": 5}

        # who is coming: partners answer through their emails' links (the daemon's public
        # side), the page counts them, names them and gives the CSV for the speakers
        public = re.search(r"serving http://([\d.:]+)", site.daemon.log()).group(1)  # type: ignore[union-attr]
        answered = dict(zip(sorted(emails), ("yes", "yes", "maybe", "no"), strict=False))
        for message in partners:
            (recipient,) = message.recipients
            if recipient in answered:
                text = email.message_from_bytes(message.data, policy=email.policy.default)
                plain = text.get_body(("plain",)).get_content()  # type: ignore[union-attr]
                path = re.search(r"/answer/[\w.-]+", plain).group(0)  # type: ignore[union-attr]
                driver.get(f"http://{public}{path}?a={answered[recipient]}")
                first = recipient == min(answered)
                if first:
                    shoot(driver, "confirm", "answer-")  # what a person sees first
                submit(driver, driver.find_element(By.ID, "confirm"))
                assert driver.find_elements(By.ID, "done")
                if first:
                    shoot(driver, "done", "answer-")
        driver.get(f"{site.base}/sessions/{SESSION}/status")
        headcount = driver.find_element(By.ID, "headcount").text
        assert "2 oui" in headcount and "1 peut-être" in headcount and "1 non" in headcount
        assert "1 sans réponse" in headcount
        assert "Aino Virtanen" in driver.find_element(By.ID, "answers").text
        shoot(driver, "session-status")
        spreadsheet = site.client()
        spreadsheet.cookies = {c["name"]: c["value"] for c in driver.get_cookies()}
        reply = spreadsheet.get(f"/sessions/{SESSION}/answers.csv")
        lines = reply.body.lstrip("\ufeff").splitlines()
        assert reply.status == 200 and lines[0] == "address,name,answer,via,at"
        assert sorted(r.split(",")[2] for r in lines[1:]) == ["maybe", "no", "none", "yes", "yes"]

        # follow up: the status, a person's history, the audit log
        driver.get(site.base + "/status")
        assert "5 envoyé(s)" in driver.find_element(By.ID, "sends").text
        shoot(driver, "status")
        partner = sorted(partners[0].recipients)[0]
        driver.get(site.base + "/people")
        fill(driver, "q", partner)
        submit(driver, driver.find_element(By.ID, "find"))
        history = driver.find_element(By.ID, "deliveries").text
        assert "Invitation" in history and "envoyé" in history
        shoot(driver, "person")

        # move the session: who gets the update is shown before it goes
        driver.get(f"{site.base}/sessions/{SESSION}")
        driver.execute_script(
            "document.getElementById('moved_to.date').value = '2021-04-27';"
            "document.getElementById('moved_to.start').value = '14:00';"
            "document.getElementById('moved_to.end').value = '15:30';"
        )
        submit(driver, driver.find_element(By.ID, "save"))
        change = driver.find_element(By.ID, "change").text
        assert "5 personnes" in change and "la mise à jour" in change
        assert "moved_to" not in tomllib.loads(site.session_file())
        shoot(driver, "move")
        driver.find_element(By.ID, "confirmed").click()
        submit(driver, driver.find_element(By.ID, "save"))
        assert tomllib.loads(site.session_file())["moved_to"]["date"].isoformat() == "2021-04-27"
        wait_until(lambda: ledger_states(site.config)["sent"] == 10, 60)
        later = site.server.received[-5:]
        assert sorted(r for m in later for r in m.recipients) == sorted(
            r for m in partners for r in m.recipients
        )  # the five partners, and nobody else
        assert all("27" in subject(m.data) for m in later)  # the new date first

        # cancelling it: who gets the cancellation, shown before anything is saved
        driver.get(f"{site.base}/sessions/{SESSION}")
        Select(driver.find_element(By.ID, "status")).select_by_value("cancelled")
        submit(driver, driver.find_element(By.ID, "save"))
        change = driver.find_element(By.ID, "change").text
        assert "Annuler cette séance envoie un e-mail à 5 personnes" in change
        assert "l’annulation" in change
        assert "status" not in tomllib.loads(site.session_file())

        # two organisers at once: a save over a file that changed meanwhile saves nothing
        driver.get(f"{site.base}/sessions/{SESSION}")
        path = site.config.parent / "sessions" / f"{SESSION}.toml"
        path.write_text(site.session_file() + "# edited on the server\n", encoding="utf-8")
        fill(driver, "title.en", "Lost in the race")
        submit(driver, driver.find_element(By.ID, "save"))
        assert "a changé depuis l’ouverture" in driver.find_element(By.ID, "notice").text
        assert "Lost in the race" not in site.session_file()

        driver.get(site.base + "/audit")
        audit = driver.find_element(By.ID, "audit").text
        for action in ("connexion", "séance enregistrée", "épreuve", "envoi"):
            assert action in audit
        assert ORGANISER in audit
        driver.find_element(By.CSS_SELECTOR, "#audit details summary").click()  # the last save
        assert "2021-04-27" in driver.find_element(By.CSS_SELECTOR, "#audit pre.diff").text
        shoot(driver, "audit")


def test_a_change_needs_its_csrf_token_and_our_origin(site: Site) -> None:
    client = site.client()
    assert client.log_in("paul@icom-france.example.org", PASSWORD).status == 303
    page = client.get(f"/sessions/{SESSION}")
    assert page.status == 200
    form = {"title.fr": "Piraté", "rows": "0", "version": "x"}
    before = site.session_file()
    assert client.post(f"/sessions/{SESSION}", form).status == 403  # no token
    assert client.post(f"/sessions/{SESSION}", {**form, "csrf": "forged"}).status == 403
    foreign = client.post(
        f"/sessions/{SESSION}", {**form, "csrf": token(page)}, Origin="http://evil.example"
    )
    assert foreign.status == 403
    cross = client.post(
        f"/sessions/{SESSION}/send",
        {"csrf": token(page), "kind": "reminder", "expected": "20", "confirm": "yes"},
        **{"Sec-Fetch-Site": "cross-site"},
    )
    assert cross.status == 403
    assert site.session_file() == before
    # logged out: the same cookie opens nothing any more
    assert client.post("/logout", {"csrf": token(page)}).status == 303
    assert client.get("/").status == 303


def test_cookies_and_headers(site: Site) -> None:
    client = site.client()
    reply = client.get("/login")
    assert "Secure" in reply.headers["Set-Cookie"] and "HttpOnly" in reply.headers["Set-Cookie"]
    logged = client.log_in(ORGANISER, PASSWORD)
    cookie = logged.headers["Set-Cookie"]
    assert cookie.startswith("__Host-mailer-session=")
    for flag in ("Secure", "HttpOnly", "SameSite=Strict", "Path=/"):
        assert flag in cookie
    # after logging in, only a path of ours: never another site
    page = client.get("/login?next=//evil.example/x")
    form = {"email": ORGANISER, "password": PASSWORD, "csrf": token(page)}
    assert client.post("/login?next=//evil.example/x", form).headers["Location"] == "/"
    page = client.get("/")
    assert "script-src" not in page.headers["Content-Security-Policy"]  # no script at all
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"


def test_a_send_goes_only_as_its_plan_was_shown_and_one_at_a_time(site: Site) -> None:
    client = site.client()
    assert client.log_in(ORGANISER, PASSWORD).status == 303
    page = client.get(f"/sessions/{SESSION}/send?kind=reminder&segment=audience")
    found = re.search(r'name="expected" value="(\d+)"', page.body)
    assert found and int(found.group(1)) > 0
    form = {"csrf": token(page), "kind": "reminder", "segment": "audience", "confirm": "yes"}
    before, states = len(site.server.received), ledger_states(site.config)
    changed = client.post(
        f"/sessions/{SESSION}/send", {**form, "expected": str(int(found.group(1)) + 1)}
    )
    assert changed.status == 409 and "the plan changed since you saw it" in changed.body
    unticked = {k: v for k, v in form.items() if k != "confirm"}
    again = client.post(f"/sessions/{SESSION}/send", {**unticked, "expected": found.group(1)})
    # the page says why, and keeps the plan and its box
    assert again.status == 422 and 'id="send-problem"' in again.body
    assert (
        f'name="expected" value="{found.group(1)}"' in again.body and 'id="confirm"' in again.body
    )
    held = sender_lock(site.config.parent / "state" / "mailer.db")
    held.acquire()  # as `mailer send` or the daemon's own send would
    try:
        busy = client.post(f"/sessions/{SESSION}/send", {**form, "expected": found.group(1)})
    finally:
        held.release()
    assert busy.status == 409 and "Un autre envoi est en cours" in busy.body
    assert len(site.server.received) == before and ledger_states(site.config) == states


def test_a_new_password_hash_ends_the_logins_of_the_old_one(site: Site) -> None:
    client = site.client()
    assert client.log_in(ORGANISER, PASSWORD).status == 303
    assert client.get("/").status == 200
    text = site.config.read_text(encoding="utf-8")
    other = subprocess.run(
        [sys.executable, "-m", "mailer", "hash-password", "--stdin"],
        input="another long passphrase\n",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    site.config.write_text(text.replace(PASSWORD_HASH, other, 1), encoding="utf-8")
    try:
        site.daemon.process.send_signal(signal.SIGHUP)
        wait_until(lambda: client.get("/").status == 303, 30)
        assert client.log_in(ORGANISER, "another long passphrase").status == 303
    finally:
        site.config.write_text(text, encoding="utf-8")
        site.daemon.process.send_signal(signal.SIGHUP)


def test_the_send_page_plans_an_update_for_those_already_emailed(site: Site) -> None:
    """Once people were emailed about the session, the page plans an update (to them) and
    says why a cancellation cannot go (the session is not cancelled)."""
    command = f"--real-mail send {SESSION} --kind invitation --segment speakers --yes".split()
    sent = subprocess.run(
        [sys.executable, "-m", "mailer", "--config", str(site.config), "--now", NOW, *command],
        capture_output=True,
        text=True,
        env={**os.environ, "MAILER_UNSUBSCRIBE_KEY": DAEMON_KEY},
        check=False,
    )
    assert sent.returncode == 0, sent.stderr
    client = site.client()
    assert client.log_in(ORGANISER, PASSWORD).status == 303
    update = client.get(f"/sessions/{SESSION}/send?kind=update")
    assert update.status == 200 and "closed database" not in update.body
    served = re.search(r'id="to-send">(\d+)<', update.body)
    assert served is not None and int(served.group(1)) >= 5
    assert "speaker." in update.body  # the speakers, at least
    cancellation = client.get(f"/sessions/{SESSION}/send?kind=cancellation")
    assert cancellation.status == 200 and "is not cancelled" in cancellation.body
    assert 'name="confirm"' not in cancellation.body


def test_two_organisers_saving_one_session_at_once_never_lose_a_change(site: Site) -> None:
    """Six times, Marie and Paul save the session at the same instant from the same version:
    one is saved, the other is told the file changed; the file holds the one told "saved"."""
    marie, paul = site.client(), site.client()
    assert marie.log_in(ORGANISER, PASSWORD).status == 303
    assert paul.log_in("paul@icom-france.example.org", PASSWORD).status == 303
    path = f"/sessions/{SESSION}"
    for trial in range(6):
        forms = []
        for who, client in (("Marie", marie), ("Paul", paul)):
            fields = form_fields(client.get(path), path)
            fields["title.en"] = f"Trial {trial}, by {who}"
            forms.append((client, fields))
        with ThreadPoolExecutor(2) as pool:
            replies = list(pool.map(lambda pair: pair[0].post(path, pair[1]), forms))
        assert sorted(r.status for r in replies) == [303, 409], [r.status for r in replies]
        winner = ("Marie", "Paul")[[r.status for r in replies].index(303)]
        saved = tomllib.loads(site.session_file())
        assert saved["title"]["en"] == f"Trial {trial}, by {winner}"
        loser = next(r for r in replies if r.status == 409)
        assert f"Trial {trial}, by" in loser.body  # their text is kept on the page


def test_failed_logins_are_limited(site: Site) -> None:
    """Last in this module: the limit also holds per client address."""
    client = site.client()
    codes = [client.log_in("paul@icom-france.example.org", "wrong").status for _ in range(6)]
    assert codes == [401] * 5 + [429]
    limited = client.log_in("paul@icom-france.example.org", PASSWORD)  # even the right one
    assert limited.status == 429 and int(limited.headers["Retry-After"]) > 60
    assert "failed login for paul@icom-france.example.org" in site.daemon.log()
