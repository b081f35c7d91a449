"""The daemon's log: one line per event on stderr, as text, JSON, or journald lines with their
syslog priority."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
from typing import TextIO


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for journald and log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


# sd-daemon(3) priorities: journald reads the "<N>" a line starts with (SyslogLevelPrefix=)
PRIORITIES = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6}


class JournalFormatter(logging.Formatter):
    """One line per event, prefixed with its syslog priority, so that `journalctl -p warning`
    shows the warnings and errors; a traceback stays on the event's line."""

    def format(self, record: logging.LogRecord) -> str:
        priority = PRIORITIES.get(record.levelno, 7)
        text = f"{record.levelname} {record.name}: {record.getMessage()}"
        if record.exc_info:
            text += " | " + self.formatException(record.exc_info)
        return f"<{priority}>" + text.replace("\r", "").replace("\n", " | ")


def under_journald(stream: TextIO) -> bool:
    """Whether `stream` is connected to the journal (systemd sets JOURNAL_STREAM to its
    device:inode)."""
    expected = os.environ.get("JOURNAL_STREAM", "")
    try:
        status = os.fstat(stream.fileno())
    except (OSError, ValueError):
        return False
    return expected == f"{status.st_dev}:{status.st_ino}"


def configure_logging(format_name: str) -> None:
    """Log to stderr: `text`, `json` (one object per line), `journal` (priority prefixes), or
    `auto`: journal under systemd, text otherwise."""
    handler = logging.StreamHandler(sys.stderr)
    if format_name == "auto":
        format_name = "journal" if under_journald(sys.stderr) else "text"
    if format_name == "json":
        handler.setFormatter(JsonFormatter())
    elif format_name == "journal":
        handler.setFormatter(JournalFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("mailer")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
