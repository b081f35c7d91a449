"""DKIM: emails signed on their way out verify with dkimpy's verifier against the key published
in DNS (built by OpenSSL here, not by mailer), whether they go through SMTP or to the outbox,
from one process or several; a key that cannot sign stops a send before anything goes."""

from __future__ import annotations

import email
import email.policy
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import dkim
import pytest

from tests.support.keys import openssl_record, rsa_key
from tests.support.sending import big_list, ledger, send, use_smtp
from tests.support.smtp_server import SmtpServer

Cli = Callable[..., tuple[int, str, str]]
RECORD_NAME = b"mailer2026._domainkey.icom-france.example.org."
DKIM_TABLE = """
[dkim]
domain = "icom-france.example.org"
selector = "mailer2026"
"""


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_KEY", "dkim-tests-signing-key-0123456789")
    monkeypatch.setenv("MAILER_DKIM_KEY", rsa_key().decode())


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    with SmtpServer() as running:
        yield running


def with_dkim(config: Path, extra: str = "") -> Path:
    config.write_text(config.read_text(encoding="utf-8") + DKIM_TABLE + extra, encoding="utf-8")
    return config


def verifies(data: bytes, record: bytes | None = None) -> bool:
    """dkimpy's verdict, with DNS answered from `record` (OpenSSL's, by default)."""
    published = record or openssl_record(rsa_key())

    def dns(name: bytes, timeout: int = 5) -> bytes | None:
        return published if name == RECORD_NAME else None

    return bool(dkim.verify(data, dnsfunc=dns))


def signed_headers(data: bytes) -> list[str]:
    message = email.message_from_bytes(data, policy=email.policy.compat32)
    signature = re.sub(r"\s+", "", str(message["DKIM-Signature"]))
    tags = dict(tag.split("=", 1) for tag in signature.split(";") if tag)
    assert tags["a"] == "rsa-sha256" and tags["c"] == "relaxed/relaxed"
    assert tags["d"] == "icom-france.example.org" and tags["s"] == "mailer2026"
    return tags["h"].split(":")


def test_every_email_sent_verifies_against_the_published_key(
    run_cli: Cli, project_dir: Path, server: SmtpServer
) -> None:
    config = with_dkim(use_smtp(project_dir, server.port))
    code, _, err = send(run_cli, config)
    assert code == 0, err
    assert len(server.received) == 20
    for received in server.received:
        assert verifies(received.data), received.recipients
        headers = signed_headers(received.data)
        for name in ("from", "to", "subject", "date", "message-id"):
            assert headers.count(name) == 2, name  # present, and oversigned
        for name in ("list-id", "list-unsubscribe", "list-unsubscribe-post", "mime-version"):
            assert name in headers, name


def test_a_changed_or_added_header_breaks_the_signature(
    run_cli: Cli, project_dir: Path, server: SmtpServer
) -> None:
    config = with_dkim(use_smtp(project_dir, server.port))
    assert send(run_cli, config)[0] == 0
    data = server.received[0].data
    assert verifies(data)
    subject = re.search(rb"\r\nSubject: [^\r]*", data)
    assert subject is not None
    assert not verifies(data.replace(subject.group(0), b"\r\nSubject: You won a prize"))
    header_end = data.index(b"\r\n\r\n")
    added = b"\r\nList-Unsubscribe: <https://attacker.example/>"
    assert not verifies(data[:header_end] + added + data[header_end:])
    assert not verifies(data.replace(b"\r\n\r\n", b"\r\n\r\nP.S. ", 1))  # the body too


def test_mailer_prints_the_record_openssl_makes(run_cli: Cli, config_path: Path) -> None:
    with_dkim(config_path)
    code, out, err = run_cli("--config", str(config_path), "dkim-record")
    assert code == 0, err
    name, ttl, klass, kind, strings = out.strip().split(" ", 4)
    assert (name, ttl, klass, kind) == (RECORD_NAME.decode(), "3600", "IN", "TXT")
    parts = re.findall(r'"([^"]*)"', strings)
    assert all(len(part) <= 255 for part in parts) and len(parts) == 2
    assert "".join(parts).encode() == openssl_record(rsa_key())
    code, out, _ = run_cli("--config", str(config_path), "check")
    assert code == 0
    assert "DKIM: signing as d=icom-france.example.org, s=mailer2026 (2048-bit RSA key)" in out


def test_a_key_file_signs_the_outbox_and_must_be_private(
    run_cli: Cli, project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MAILER_DKIM_KEY")
    key = project_dir / "dkim.pem"
    key.write_bytes(rsa_key())
    key.chmod(0o644)
    config = with_dkim(project_dir / "config.toml", 'key_file = "dkim.pem"\n')
    code, _, err = send(run_cli, config)
    assert code == 2 and "Traceback" not in err
    assert f"the DKIM key {key} can be read by other users: chmod 600 {key}" in err
    assert "at 'dkim.key_file'" in err
    assert not (project_dir / "outbox").exists() or not list((project_dir / "outbox").iterdir())
    key.chmod(0o600)
    code, _, err = send(run_cli, config)
    assert code == 0, err
    written = sorted((project_dir / "outbox").rglob("*.eml"))
    assert len(written) == 20
    assert all(verifies(path.read_bytes()) for path in written)


UNUSABLE = {
    "missing": 'export MAILER_DKIM_KEY="$(cat dkim.pem)"',
    "garbage": "is not an RSA private key in PEM form",
    "512 bits": "the DKIM key has 512 bits: receivers ignore keys under 1024 (RFC 8301)",
    "encrypted": "the DKIM key is encrypted: mailer needs it decrypted",
    "public": "this is a public key, not an RSA private key",
}


def unusable_key(case: str) -> bytes | None:
    if case == "missing":
        return None
    if case == "garbage":
        return b"not a key at all"
    if case == "512 bits":
        return rsa_key(512)
    arguments = {
        "encrypted": ["openssl", "pkey", "-aes128", "-passout", "pass:secret"],
        "public": ["openssl", "pkey", "-pubout"],
    }[case]
    return subprocess.run(arguments, input=rsa_key(), check=True, capture_output=True).stdout


@pytest.mark.parametrize("case", UNUSABLE)
def test_a_key_that_cannot_sign_stops_the_send_before_anything_goes(
    run_cli: Cli, project_dir: Path, server: SmtpServer, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    key = unusable_key(case)
    if key is None:
        monkeypatch.delenv("MAILER_DKIM_KEY")
    else:
        monkeypatch.setenv("MAILER_DKIM_KEY", key.decode())
    config = with_dkim(use_smtp(project_dir, server.port))
    code, _, err = send(run_cli, config)
    assert code == 2 and "Traceback" not in err
    assert UNUSABLE[case] in err and "at 'dkim.key_env'" in err
    assert server.received == [] and not (project_dir / "state").exists()  # nothing touched


def test_a_key_on_one_line_with_escaped_newlines_works(
    run_cli: Cli, project_dir: Path, server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """systemd's Environment= and many secret stores hold one line: "\\n" stands for a break."""
    monkeypatch.setenv("MAILER_DKIM_KEY", rsa_key().decode().replace("\n", "\\n"))
    config = with_dkim(use_smtp(project_dir, server.port))
    assert send(run_cli, config)[0] == 0
    assert all(verifies(received.data) for received in server.received)


def test_two_sending_processes_sign_every_email(run_cli: Cli, project_dir: Path) -> None:
    big_list(project_dir / "recipients" / "members.csv", 1000)
    config = project_dir / "config.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text + "\n[sending]\nprocesses = 2\n", encoding="utf-8")
    with_dkim(config)
    code, out, err = send(run_cli, config)
    assert code == 0, err
    written = sorted((project_dir / "outbox").rglob("*.eml"))
    assert len(written) == ledger(config)["sent"] >= 1000  # two workers: 500 each at least
    assert all(verifies(path.read_bytes()) for path in written)
    assert "through outbox, signed (DKIM d=icom-france.example.org)" in out
