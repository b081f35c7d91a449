"""The emails: MIME shape, headers, encodings, calendar parts, languages, and injection."""

from __future__ import annotations

import dataclasses
import email
import email.header
import email.message
import email.policy
import email.utils
import re
from pathlib import Path
from urllib.parse import quote

import icalendar
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailer.audience.unsubscribe import read_token
from mailer.calendar.revisions import Revision
from mailer.errors import InvalidInput
from mailer.messages.checks import sample_recipients
from mailer.messages.compose import Composer, canonical_html
from mailer.model import MESSAGE_KINDS, MessageKind
from mailer.project.load import load_project
from tests.support.emails import (
    KEY,
    NOW,
    REVISION,
    SHIPPED,
    TEMPLATES,
    body,
    cancelled,
    composer,
    parsed,
    person,
    session,
)
from tests.support.project import edit


def test_mime_shape_and_a_calendar_attachment_identical_to_the_ics() -> None:
    made = composer()
    message = parsed(made.compose(person()))
    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = message.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alternative.iter_parts()] == ["text/plain", "text/html"]
    assert attachment.get_content_type() == "text/calendar"
    assert attachment["Content-Transfer-Encoding"] == "base64"
    assert attachment.get_param("method") == "PUBLISH"
    filename = "icom-france-solidarites-musees-2021-04-20.ics"
    assert attachment.get_param("name") == filename == attachment.get_filename()
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_payload(decode=True) == made.calendar("fr")
    assert b"\r\nATTENDEE" not in made.calendar("fr")
    for part in alternative.iter_parts():
        assert part["Content-Transfer-Encoding"] == "quoted-printable"


def test_a_cancellation_is_method_cancel_inline_and_attached() -> None:
    made = composer("cancellation", cancelled(session()), revision=Revision(3, NOW, "", ""))
    message = parsed(made.compose(person("en")))
    alternative, attachment = message.iter_parts()
    inline = list(alternative.iter_parts())[2]
    assert inline.get_content_type() == "text/calendar"
    assert inline.get_param("method") == attachment.get_param("method") == "CANCEL"
    assert inline.get_payload(decode=True) == attachment.get_payload(decode=True)
    (event,) = icalendar.Calendar.from_ical(made.calendar("en")).events
    assert event.uid == "icom-france-solidarites-musees-20210420"
    assert event.sequence == 3 and event.status == "CANCELLED"
    assert not [c for c in event.subcomponents if isinstance(c, icalendar.Alarm)]
    assert "cancelled" in str(message["Subject"]).lower()


def test_kinds_must_match_the_session_status() -> None:
    with pytest.raises(InvalidInput, match='set status = "cancelled" in its file first'):
        composer("cancellation")


def test_headers_of_every_email() -> None:
    made = composer()
    outgoing = made.compose(person())
    message = parsed(outgoing)
    assert str(message["From"]) == "ICOM France <rencontres@icom-france.example.org>"
    assert str(message["To"]) == "Chloé Lefèvre <chloe.lefevre@example.org>"
    assert len(message.get_all("To", [])) == 1 and "Cc" not in message and "Bcc" not in message
    assert str(message["Reply-To"]) == "contact@icom-france.example.org"
    assert message["Content-Language"] == "fr" and message["MIME-Version"] == "1.0"
    assert str(message["Subject"]) == (
        "Mar. 20 avr., 13\u00a0h · Invitation\u00a0: Les réseaux professionnels sont-ils des…"
    )
    assert message["Date"].datetime == NOW
    assert str(message["List-Id"]).endswith(
        "<icom-france-solidarites-musees.icom-france.example.org>"
    )
    https, mailto = re.findall(r"<([^>]+)>", str(message["List-Unsubscribe"]))
    assert https.startswith("https://lists.icom-france.example.org/unsubscribe/")
    token = https.rsplit("/", 1)[1]
    assert read_token(KEY, "icom-france-solidarites-musees", token) == "chloe.lefevre@example.org"
    assert mailto == f"mailto:unsubscribe@icom-france.example.org?subject=unsubscribe%20{token}"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    raw_headers = outgoing.data.split(b"\r\n\r\n", 1)[0]
    assert b"=?utf-8?" in raw_headers and raw_headers.isascii()  # RFC 2047, 7-bit headers
    assert all(len(line) <= 998 for line in outgoing.data.split(b"\r\n"))
    long_lines = [line for line in raw_headers.split(b"\r\n") if len(line) > 78]
    assert all(b"://" in line or b"mailto:" in line for line in long_lines)  # URLs do not fold


def test_message_ids_are_stable_per_recipient_and_kind_and_unique_across() -> None:
    first, again = composer().compose(person()), composer().compose(person())
    assert first.message_id == again.message_id
    other = composer().compose(person(email="luc@example.org", key="luc@example.org"))
    reminder = Composer(
        config=SHIPPED.config,
        templates=TEMPLATES,
        occurrence=session(),
        kind="reminder",
        message_key="reminder:P1D",
        revision=REVISION,
        now=NOW,
        signing_key=KEY,
    ).compose(person())
    ids = {first.message_id, other.message_id, reminder.message_id}
    assert len(ids) == 3
    assert all(re.fullmatch(r"<[0-9a-f]{24}\.20210420@icom-france\.example\.org>", i) for i in ids)


def test_internationalised_addresses() -> None:
    idn = parsed(
        composer().compose(
            person(
                email="jose@bücher.example",
                key="jose@xn--bcher-kva.example",
                ascii_email="jose@xn--bcher-kva.example",
            )
        )
    )
    assert str(idn["To"]).endswith("<jose@xn--bcher-kva.example>")
    utf8 = composer().compose(
        person(email="josé@museo.example", key="josé@museo.example", ascii_email=None)
    )
    assert utf8.smtputf8 and utf8.recipient == "josé@museo.example"
    (to_line,) = [line for line in utf8.data.split(b"\r\n") if line.startswith(b"To:")]
    assert to_line.endswith(" <josé@museo.example>".encode()) and b"=?utf-8?" in to_line
    message = email.message_from_string(utf8.data.decode("utf-8"), policy=email.policy.SMTPUTF8)
    # Python's email package flags any non-ASCII local part, even in an SMTPUTF8 message
    # (RFC 6532 allows it): that is the only defect.
    assert {type(d).__name__ for d in message["To"].defects} == {"NonASCIILocalPartDefect"}
    assert not message.defects and str(message["To"].addresses[0].domain) == "museo.example"


def test_a_name_from_a_list_cannot_inject_a_header(project_dir: Path) -> None:
    (project_dir / "recipients" / "members.csv").write_text(
        "email,name\n"
        'victim@example.org,"Marie\r\nBcc: attacker@example.org"\n'  # a break in a quoted cell
        "other@example.org,=?utf-8?b?TWFyaWUKQmNjOiBhdHRhY2tlckBleGFtcGxlLm9yZw==?=\n"
        "third@example.org,=?utf-8?q?=3D=3Futf-8=3Fq=3Fx=3F=3D?=\n",  # decodes to an encoded word
        encoding="utf-8",
    )
    from tests.support.lists import resolve_all

    people, reader, _ = resolve_all(load_project(project_dir / "config.toml"), "everyone")
    victim = next(p for p in people if p.email == "victim@example.org")
    assert victim.name == "Marie Bcc: attacker@example.org"  # the cell's break read as a space
    problems = [str(problem) for problem in reader.report.all_problems()]
    other = next(p for p in people if p.email == "other@example.org")
    assert other.name == "Marie Bcc: attacker@example.org"  # decoded, then made one line
    assert any("members.csv:4: warning: the name is MIME-encoded" in p for p in problems)
    for target in (victim, other, next(p for p in people if p.email == "third@example.org")):
        message = parsed(composer().compose(target))
        assert "Bcc" not in message and "attacker" not in str(message["To"]).split("<")[1]
        assert len(message.get_all("To") or []) == 1 and "\n" not in str(message["To"])
    third = parsed(composer().compose(next(p for p in people if p.email == "third@example.org")))
    assert str(third["To"]) == "=?utf-8?q?x?= <third@example.org>"  # shown as written, not decoded


def test_a_speaker_name_with_markup_is_escaped(project_dir: Path) -> None:
    edit(
        project_dir / "sessions" / "2021-04-20.toml",
        'name = "Emma Nardi"',
        'name = "Emma <script>alert(1)</script> Nardi"',
    )
    project = load_project(project_dir / "config.toml")
    html = body(parsed(composer(project=project).compose(person())), "html")
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        # French: "13 h", not "13 h 00"; British English (the shipped [labels.en]); Spanish
        # without a comma after the weekday ("el martes 20 de abril")
        ("fr", "Mardi 20 avril 2021, 13\u00a0h – 14\u00a0h\u00a030 (heure de Paris)"),
        ("en", "Tuesday 20 April 2021, 13:00 – 14:30 (Paris time)"),
        ("es", "Martes 20 de abril de 2021, 13:00 – 14:30 (hora de París)"),
    ],
)
def test_dates_and_times_as_each_language_writes_them(language: str, expected: str) -> None:
    message = parsed(composer().compose(person(language)))
    html = body(message, "html").replace("&nbsp;", "\u00a0")
    # in the HTML, the range never breaks across lines: no-break spaces around its dash
    assert expected.replace(" – ", "\u00a0–\u00a0") in html
    for part in (body(message, "plain"), html.replace("\u00a0–\u00a0", " – ")):
        assert expected in part
        assert "00 –" not in part.replace(":00 –", "")  # no "13 h 00"
    assert "martes," not in body(message, "plain").casefold()


def test_the_zoom_button_is_a_link_as_a_whole_and_the_codes_stay_on_their_lines() -> None:
    html = body(parsed(composer().compose(person("fr"))), "html").replace("&nbsp;", "\u00a0")
    url = SHIPPED.config.zoom.url
    link = re.search(r'<a class="button" href="([^"]*)" style="([^"]*)"', html)
    assert link and link.group(1) == url  # its padding is the link's: the whole box is
    assert "display: inline-block" in link.group(2) and "padding: 12px 22px" in link.group(2)
    assert f'<v:roundrect href="{url}"' in html  # Outlook on Windows: the shape is the link
    assert (
        '<span style="white-space:nowrap">Code secret\u00a0:\u00a0<strong>'
        f"{SHIPPED.config.zoom.passcode}</strong></span>" in html
    )


def test_the_time_where_the_recipient_lives_when_it_differs() -> None:
    far = parsed(composer().compose(person("en", timezone="Pacific/Kiritimati")))
    assert "Where you are: Wednesday 21 April 2021, 01:00 – 02:30 (Kiritimati time)" in (
        body(far, "plain")
    )
    same_offset = parsed(composer().compose(person("en", timezone="Europe/Madrid")))
    assert "Where you are" not in body(same_offset, "plain")


def test_every_piece_of_content_is_in_both_parts() -> None:
    message = parsed(composer().compose(person("en")))
    text, html = body(message, "plain"), body(message, "html")
    for short in ("google", "outlook", "office365"):  # the text part's links are short
        assert f"https://lists.icom-france.example.org/c/20210420/en/{short}\r\n" in text
    for part in (text, html):
        for expected in (
            "Session 6",
            "Are professional networks instruments of solidarity?",
            "What networks have museums designed among themselves",
            "Bruno Maquart",
            "Froso Nomikou",
            "857 2055 9693",
            "662299",
            "https://us02web.zoom.us/j/85720559693?pwd=",
            "French, English and Spanish, with simultaneous interpretation",
            "ICOM Finland",
            "lists.icom-france.example.org/unsubscribe/",
        ):
            assert expected.casefold() in part.replace("&amp;", "&").casefold(), expected
    for full in (
        "calendar.google.com/calendar/render",
        "outlook.live.com/calendar/0/deeplink/compose",
        "outlook.office.com/calendar/0/deeplink/compose",
    ):
        assert full in html and full not in text


def test_calendar_links_carry_the_utc_times() -> None:
    html = body(parsed(composer().compose(person("en"))), "html").replace("&amp;", "&")
    assert (
        "dates=20210420T110000Z%2F20210420T123000Z" in html
        or "dates=20210420T110000Z/20210420T123000Z" in html
    )
    assert "startdt=2021-04-20T11%3A00%3A00Z&enddt=2021-04-20T12%3A30%3A00Z" in html


@pytest.mark.parametrize("kind", MESSAGE_KINDS)
@pytest.mark.parametrize("language", ["fr", "en", "es"])
def test_every_kind_and_language_parses_cleanly_for_both_sample_recipients(
    kind: MessageKind, language: str
) -> None:
    occurrence = cancelled(session()) if kind == "cancellation" else session()
    made = composer(kind, occurrence)
    for recipient in sample_recipients(language, frozenset({"organisation"}), "Europe/Paris"):
        outgoing = made.compose(recipient)
        parsed(outgoing)
        assert all(len(line) <= 998 for line in outgoing.data.split(b"\r\n"))


NAMES = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs", "Cc", "Zl", "Zp"]), max_size=30
).map(lambda s: " ".join(s.split()))


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    name=NAMES,
    organisation=NAMES,
    language=st.sampled_from(["fr", "en", "es"]),
    zone=st.sampled_from([None, "Europe/Paris", "Asia/Tokyo", "America/New_York"]),
)
def test_rendering_for_many_at_once_equals_rendering_for_one(
    name: str, organisation: str, language: str, zone: str | None
) -> None:
    recipient = person(language, name=name, timezone=zone, fields={"organisation": organisation})
    made = composer()
    message = parsed(made.compose(recipient))
    subject, text, html = made.render(recipient)
    assert str(message["Subject"]) == subject
    assert body(message, "plain").replace("\r\n", "\n") == text
    assert canonical_html(body(message, "html")) == canonical_html(html)


def test_every_email_offers_the_calendar_feed_four_ways() -> None:
    """webcal (Apple), Google's and Outlook.com's "add by URL", and the https address."""
    base = "https://lists.icom-france.example.org/calendar"
    for language in ("fr", "en", "es"):
        recipient = sample_recipients(language, frozenset(), "Europe/Paris")[1]
        _, text, html = composer("invitation").render(recipient)
        feed = f"{base}/{language}.ics"
        assert f'href="webcal://lists.icom-france.example.org/calendar/{language}.ics"' in html
        cid = quote(f"webcal://lists.icom-france.example.org/calendar/{language}.ics", safe="")
        assert f'href="https://calendar.google.com/calendar/r?cid={cid}"' in html
        assert f"https://outlook.live.com/calendar/0/addfromweb?url={quote(feed, safe='')}" in html
        assert f'href="{feed}"' in html
        assert f"webcal://lists.icom-france.example.org/calendar/{language}.ics" in text
        short = "https://lists.icom-france.example.org/f"
        assert f"{short}/{language}/google" in text and f"{short}/{language}/outlook" in text


@pytest.mark.parametrize(
    "title", ["Solidarités, musées : de quoi parle-t-on ?", 'Museums: "what" now?', "Ça " * 40]
)
def test_the_list_id_is_a_valid_phrase_that_decodes_to_the_title(title: str) -> None:
    """RFC 2919: `List-Id: phrase <id>`; a bare ":" or "?" is not allowed in a phrase."""
    config = SHIPPED.config
    series = dataclasses.replace(config.series, title={**config.series.title, "fr": title})
    project = dataclasses.replace(SHIPPED, config=dataclasses.replace(config, series=series))
    recipient = sample_recipients("fr", frozenset(), "Europe/Paris")[1]
    data = composer("invitation", project=project).compose(recipient).data
    header = re.search(rb"\r\nList-Id: (.*?)\r\n(?! )", data, flags=re.DOTALL)
    assert header is not None
    lines = (b"List-Id: " + header.group(1)).split(b"\r\n")
    assert all(len(line) <= 78 for line in lines)
    phrase = header.group(1).rsplit(b"<", 1)[0].decode("ascii")
    unfolded = " ".join(phrase.split())
    if title.isascii():  # a quoted string
        assert unfolded.startswith('"') and email.utils.unquote(unfolded) == title
    else:
        assert all(word.startswith("=?utf-8?") for word in unfolded.split())
        decoded = email.header.make_header(email.header.decode_header(unfolded))
        assert str(decoded) == title
    assert header.group(1).endswith(b" <icom-france-solidarites-musees.icom-france.example.org>")
