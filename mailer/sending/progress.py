"""What a send's run did: the tally of its outcomes, its result, and the error to report."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from mailer.errors import MailerError, TransportError


@dataclass
class Tally:
    """What this run did (the ledger has the totals)."""

    sent: int = 0
    failed: int = 0
    retrying: int = 0
    unknown: int = 0
    skipped: int = 0
    started: float = field(default_factory=time.monotonic)
    waiting: str | None = None  # why the run is idle, if it is

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.skipped

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def rate(self) -> float:
        elapsed = self.elapsed()
        return self.sent / elapsed if elapsed > 0 else 0.0


@dataclass(frozen=True)
class RunResult:
    tally: Tally
    stopped: bool
    abort: TransportError | None


def first_error(errors: BaseExceptionGroup[BaseException]) -> BaseException:
    """The error to report from a task group: mailer's own first (a clear message), else the
    first one."""
    flat: list[BaseException] = []
    pending: list[BaseException] = [errors]
    while pending:
        error = pending.pop(0)
        if isinstance(error, BaseExceptionGroup):
            pending[:0] = list(error.exceptions)
        else:
            flat.append(error)
    return next((e for e in flat if isinstance(e, MailerError)), flat[0])
