"""The organiser's logo ([organiser] logo): carried inside every email (multipart/related, shown
by `cid:`), with its alt text, never fetched from a server; a logo that cannot be carried is
said at its key, with every other problem."""

from __future__ import annotations

import email
import email.policy
import re
from pathlib import Path

import pytest

from mailer.errors import ConfigError
from mailer.project.load import load_project
from tests.support.emails import composer, person
from tests.support.project import copy_project, edit

# a 1 x 1 PNG
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8ffff3f0005fe02fea73581840000000049454e44ae426082"
)


def project_with_logo(folder: Path, logo: bytes | None = PNG, lines: str = "") -> Path:
    config = copy_project(folder) / "config.toml"
    if logo is not None:
        (folder / "logo.png").write_bytes(logo)
    edit(config, "[organiser]\n", f'[organiser]\nlogo = "logo.png"\n{lines}')
    return config


def test_the_logo_travels_inside_the_email_with_its_alt_text(tmp_path: Path) -> None:
    project = load_project(project_with_logo(tmp_path, lines='logo_alt = "ICOM France, logo"\n'))
    made = composer(project=project).compose(person("fr"))
    message = email.message_from_bytes(made.data, policy=email.policy.strict)
    assert not message.defects and not any(part.defects for part in message.walk())
    related = [p for p in message.walk() if p.get_content_type() == "multipart/related"]
    assert len(related) == 1
    html, image = list(related[0].iter_parts())
    assert html.get_content_type() == "text/html"
    assert image.get_content_type() == "image/png" and image.get_content() == PNG
    cid = str(image["Content-ID"]).strip("<>")
    page = str(html.get_content())
    assert f'<img src="cid:{cid}" alt="ICOM France, logo" width="120"' in page
    assert not re.search(r'<img[^>]+src="https?:', page)  # nothing fetched: nothing to track
    plain = message.get_body(("plain",))
    assert plain is not None and "cid:" not in plain.get_content()


def test_without_a_logo_the_organiser_s_name_leads(tmp_path: Path) -> None:
    made = composer().compose(person("fr"))
    message = email.message_from_bytes(made.data, policy=email.policy.default)
    assert not any(p.get_content_type() == "multipart/related" for p in message.walk())
    html = message.get_body(("html",))
    assert html is not None
    assert re.search(r'<p class="sender"[^>]*>ICOM France</p>', html.get_content())


@pytest.mark.parametrize(
    ("logo", "lines", "said"),
    [
        (None, "", "cannot be read"),
        (b"GIF89a not ours", "", "is not a PNG or JPEG image"),
        (PNG + b"\0" * 100_000, "", "every email carries it"),
        (PNG, "logo_width = 900\n", "wider than the email"),
    ],
)
def test_a_logo_that_cannot_be_carried_is_said_at_its_key(
    tmp_path: Path, logo: bytes | None, lines: str, said: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_project(project_with_logo(tmp_path, logo, lines))
    found = [p for p in raised.value.problems if said in p.message]
    assert found and found[0].key in ("organiser.logo", "organiser.logo_width"), found
