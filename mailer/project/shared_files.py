"""A host's session files and the copies saved in the state (several hosts, PostgreSQL).

`bring_up_to_date` runs before each of the daemon's rounds, as a three-way sync: what this
host last had in common with the saved copies (the base, in a status file of its own, as
vdirsyncer keeps one) says which side changed. A file edited here since is published as the
new saved copy; a copy saved on another host since is written here (atomically), and the
daemon reloads; edited on both sides, the saved copy wins and this host's text is kept beside
it (`NAME.toml.conflict`). A host never plans or sends with a copy that is not the saved one
(`mailer.sending.plan.refuse_stale_content`). A file deleted on one host is not deleted on the
others (it comes back from its saved copy): cancel a session with `status = "cancelled"`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
from pathlib import Path

from mailer.project.load import Project
from mailer.store.location import StoreLocation
from mailer.store.session_files import digest_of, publish, saved_files
from mailer.store.state import State

log = logging.getLogger("mailer.daemon")
STATUS_FILE = "session-files.json"  # this host's base of the three-way sync, in its state folder


def host_name() -> str:
    return socket.gethostname()


def bring_up_to_date(project: Project, state: State, status: Path, now: dt.datetime) -> list[str]:
    """Sync this folder's session files with the saved copies (see the module's docstring),
    `status` the file of the base; the names of the files written here (reload them)."""
    folder = project.sessions_dir
    saved = saved_files(state)
    base = _read_status(status)
    written = []
    for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
        text = path.read_text(encoding="utf-8")
        here, copy = digest_of(text), saved.pop(path.name, None)
        if copy is not None and copy.digest == here:
            base[path.name] = here
            continue
        if copy is None or (base.get(path.name) == copy.digest):  # changed here only
            over = None if copy is None else copy.digest
            version = publish(state, path.name, text, now, host_name(), over=over)
            if version is not None:  # else saved elsewhere meanwhile: the next round sees it
                base[path.name] = here
                log.info("published %s (version %d) for every host", path, version)
            continue
        if base.get(path.name) != here:  # changed on both sides, or never synced here
            _write(path.with_name(f"{path.name}.conflict"), text)
            log.warning(
                "%s %s %s: theirs is kept, this host's text is in %s.conflict",
                path,
                "was edited here and on" if path.name in base else "differs from the copy saved on",
                copy.saved_by,
                path.name,
            )
        saved[path.name] = copy  # written below
    for name, copy in saved.items():
        _write(folder / name, copy.text)
        base[name] = copy.digest
        log.info("%s written: version %d, saved on %s", folder / name, copy.version, copy.saved_by)
        written.append(name)
    _write(status, json.dumps(base, indent=1, sort_keys=True))
    return written


def _read_status(status: Path) -> dict[str, str]:
    try:
        found = json.loads(status.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # none yet (or unreadable): every difference is theirs
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def publish_saved(store: StoreLocation, path: Path, now: dt.datetime) -> None:
    """A file the organisers' editor just saved here: the copy every host sends (nothing to
    do with one host)."""
    if not store.shared:
        return
    text = path.read_text(encoding="utf-8")
    with store.open() as state:
        publish(state, path.name, text, now, host_name())
    status = store.local_folder / STATUS_FILE
    base = _read_status(status)
    base[path.name] = digest_of(text)
    _write(status, json.dumps(base, indent=1, sort_keys=True))


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
