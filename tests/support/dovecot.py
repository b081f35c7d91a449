"""A real IMAP server for the tests: Debian's Dovecot, on 127.0.0.1, with a throwaway Maildir
and TLS from a CA generated for the run (so that certificate checking is real: the client is
given the CA, as an operator with a private CA would be).

`Dovecot()` starts it (as the current user, or as Debian's `dovecot` user when run as
root); `.append(...)` puts messages in a folder, `.folder(...)` lists what a folder holds.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from imapclient import IMAPClient

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER = "bounces"
PASSWORD = "imap-test-password-0123"


def available() -> bool:
    return Path(DOVECOT).exists() and shutil.which("openssl") is not None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA, and a certificate for 127.0.0.1 and localhost signed by it."""
    ca_key, ca, key, csr, cert = (
        folder / name for name in ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem")
    )

    def run(*args: str) -> None:
        subprocess.run(args, check=True, capture_output=True)

    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=mailer test CA", "-keyout", str(ca_key), "-out", str(ca))  # fmt: skip
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
        "-keyout", str(key), "-out", str(csr))  # fmt: skip
    extensions = folder / "san.cnf"
    extensions.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n", encoding="utf-8")
    run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-days", "2", "-extfile", str(extensions),
        "-out", str(cert))  # fmt: skip
    return ca, cert, key


class Dovecot:
    def __init__(self) -> None:
        # its own folder, not pytest's (0700 folders that Dovecot's users could not enter)
        folder = Path(tempfile.mkdtemp(prefix="mailer-dovecot-"))
        folder.chmod(0o711)
        self.folder = folder
        self.port = _free_port()
        self.ca, cert, key = _certificates(folder)
        if os.geteuid() == 0:  # Dovecot will not run its processes as root
            login = internal = "dovecot"
            owner = pwd.getpwnam("dovecot")
            uid, gid = owner.pw_uid, owner.pw_gid
            group = grp.getgrgid(gid).gr_name
        else:
            login = internal = pwd.getpwuid(os.getuid()).pw_name
            uid, gid = os.getuid(), os.getgid()
            group = grp.getgrgid(gid).gr_name
        mail = folder / "mail"
        mail.mkdir()
        os.chown(mail, uid, gid)
        (folder / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n", encoding="utf-8")
        (folder / "passwd").chmod(0o644)
        self.config = folder / "dovecot.conf"
        self.config.write_text(
            f"""
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{cert}
ssl_key = <{key}
ssl_min_protocol = TLSv1.2
default_internal_user = {internal}
default_internal_group = {group}
default_login_user = {login}
auth_mechanisms = plain
disable_plaintext_auth = yes
mail_location = maildir:{mail}/%u
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {folder}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={mail}/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {self.port}
    ssl = yes
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
""",
            encoding="utf-8",
        )
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"dovecot did not start: {self.log()}") from None
                time.sleep(0.05)

    def log(self) -> str:
        path = self.folder / "dovecot.log"
        output = b""
        if self.process.poll() is not None and self.process.stdout is not None:
            output = self.process.stdout.read()
        text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
        return text + output.decode("utf-8", "replace")

    def client(self) -> IMAPClient:
        context = ssl.create_default_context(cafile=str(self.ca))
        client = IMAPClient("127.0.0.1", port=self.port, ssl=True, ssl_context=context)
        client.login(USER, PASSWORD)
        return client

    def append(self, messages: list[bytes], folder: str = "INBOX") -> None:
        with self.client() as client:
            for message in messages:
                client.append(folder, message)

    def messages(self, folder: str) -> list[tuple[bytes, set[bytes]]]:
        """(bytes, flags) of every message in `folder`."""
        with self.client() as client:
            if not client.folder_exists(folder):
                return []
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            fetched = client.fetch(uids, ["BODY.PEEK[]", "FLAGS"]) if uids else {}
            return [(data[b"BODY[]"], set(data[b"FLAGS"])) for data in fetched.values()]

    def __enter__(self) -> Dovecot:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)
