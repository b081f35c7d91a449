"""The server install of the README: what the daemon writes is what the documented ownership
and the unit's ReadWritePaths let it write, and `mailer check --service UNIT` checks what the
unit will run (its user, its environment file, its folders)."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailer.project.load import load_project
from mailer.project.service import read_unit, unit_problems, writable_folders
from tests.support.organisers import PASSWORD_HASH
from tests.support.project import REPO

WEB = (
    '\n[web]\nlisten = "127.0.0.1:8026"\n[[web.organisers]]\nemail = "a@example.org"\n'
    f'name = "A"\npassword_hash = "{PASSWORD_HASH}"\n'
)
KEY = "deployment-tests-signing-key-0123456789"


def test_the_documented_install_lets_the_daemon_write_all_it_writes(tmp_path: Path) -> None:
    """README step 2's ownership, the unit's ReadWritePaths and what the daemon writes (with
    the organisers' pages on, which save session files) agree."""
    for name in ("config.toml", "sessions", "recipients", "templates"):
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / name)
    with (tmp_path / "config.toml").open("a", encoding="utf-8") as file:
        file.write(WEB)
    project = load_project(tmp_path / "config.toml")
    unit = read_unit(REPO / "deploy" / "mailer.service")
    assert unit.protect_system == "strict" and unit.working_directory == Path("/srv/mailer")
    assert unit_problems(unit, project) == []
    written = {folder.relative_to(tmp_path).as_posix() for folder, _ in writable_folders(project)}
    assert written == {"state", "outbox", "sessions"}
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    owned = re.search(r"chown -R mailer: ([\w /]+)`", readme)
    assert owned is not None and set(owned.group(1).split()) == written
    comment = (REPO / "deploy" / "mailer.service").read_text(encoding="utf-8")
    assert "install -D -m 600" in comment and "check --service" in comment


@pytest.fixture
def server_folder() -> Iterator[Path]:
    """A project where another user may read it (pytest's folders are 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="mailer-srv-"))
    folder.chmod(0o755)
    for name in ("config.toml", "sessions", "recipients", "templates"):
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, folder / name)
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def unit(folder: Path, user: str, *, writable: str = "state outbox sessions") -> Path:
    group = "nogroup" if user == "nobody" else user
    paths = " ".join(f"{folder}/{name}" for name in writable.split())
    path = folder / "mailer.service"
    path.write_text(
        "[Unit]\nDescription=mailer\n\n[Service]\n"
        f"User={user}\nGroup={group}\nWorkingDirectory={folder}\n"
        f"EnvironmentFile={folder}/env\n"
        f"ExecStart=/srv/mailer/.venv/bin/mailer --config {folder}/config.toml daemon\n"
        f"ProtectSystem=strict\nReadWritePaths={paths}\n",
        encoding="utf-8",
    )
    return path


def check(service: Path) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MAILER_")}
    return subprocess.run(
        [sys.executable, "-m", "mailer", "check", "--service", str(service)],
        capture_output=True,
        text=True,
        env=environment,
        cwd="/",
        timeout=120,
        check=False,
    )


def test_check_service_reads_the_unit_s_environment_file(server_folder: Path) -> None:
    me = pwd.getpwuid(os.geteuid()).pw_name
    for name in ("state", "outbox"):
        (server_folder / name).mkdir()
    service = unit(server_folder, me)
    environment = server_folder / "env"
    environment.write_text("# the secrets\nMAILER_SMTP_PASSWORD=x\n", encoding="utf-8")
    environment.chmod(0o600)
    missing = check(service)
    assert missing.returncode == 2 and "MAILER_UNSUBSCRIBE_KEY" in missing.stderr
    environment.write_text(f'MAILER_UNSUBSCRIBE_KEY="{KEY}"\n', encoding="utf-8")
    ready = check(service)
    assert ready.returncode == 0, ready.stderr
    assert f"OK: {server_folder}/config.toml" in ready.stdout
    with (server_folder / "config.toml").open("a", encoding="utf-8") as file:
        file.write(WEB)  # the pages save session files: the unit must let it
    narrow = check(unit(server_folder, me, writable="state outbox"))
    assert narrow.returncode == 2, narrow.stderr
    assert f"the daemon writes {server_folder}/sessions (the session files" in narrow.stderr
    assert "it is not in ReadWritePaths" in narrow.stderr
    assert "Traceback" not in narrow.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="checking as the unit's user needs root (CI is)")
def test_check_service_as_root_checks_what_the_unit_s_user_can_write(server_folder: Path) -> None:
    """The README's step 4: as root, with the unit's user `nobody`: state/ and outbox/
    owned by root are said (with the chown to run); once owned by nobody, OK."""
    (server_folder / "env").write_text(f"MAILER_UNSUBSCRIBE_KEY={KEY}\n", encoding="utf-8")
    (server_folder / "env").chmod(0o600)  # root's only, as documented
    service = unit(server_folder, "nobody", writable="state outbox")
    for name in ("state", "outbox"):
        (server_folder / name).mkdir()
    refused = check(service)
    assert refused.returncode == 2, refused.stderr
    for name in ("state", "outbox"):
        assert f"nobody cannot write {server_folder}/{name}" in refused.stderr
        assert f"chown -R nobody: {server_folder}/{name}" in refused.stderr
    nobody = pwd.getpwnam("nobody")
    for name in ("state", "outbox"):
        os.chown(server_folder / name, nobody.pw_uid, nobody.pw_gid)
    accepted = check(service)
    assert accepted.returncode == 0, accepted.stderr
