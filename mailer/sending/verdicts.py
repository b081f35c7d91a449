"""What each failure means for one delivery: try again, fail it (and say whose doing it was), or
leave it for when the relay is back.

  accepted                         -> sent
  4xx for this message             -> retry after retry_after x 2^(attempt-1) (+-20%), up to
                                      retry_limit; failed ("recipient") after max_attempts
  fate unknown (lost during or     -> unknown: sent again, same Message-ID; after max_attempts
  after the data)                     failed ("unknown": it may have arrived)
  5xx for this message             -> failed ("recipient"); 5.1.x (no such mailbox or domain)
                                      also suppresses the address (a hard bounce)
  the relay cannot carry it        -> failed ("relay"), e.g. SMTPUTF8 not offered
  the relay or the connection      -> back to pending, no attempt counted (the run stops when
                                      every connection is down: see the engine)
  refused sender, TLS, login       -> back to pending; the run stops (a configuration problem)
  5xx (or 4xx) for the first        -> back to pending; the run stops: the relay refuses
  BREAKER recipients, none accepted   everyone (its configuration or its trouble, not theirs)
  composing it failed              -> failed ("content"), the run goes on
  a bug while sending it           -> failed ("internal"), the run goes on

A delivery failed for a reason that is not the recipient's own (`relay`, `content`, `internal`,
`unknown`) can be sent again with `mailer send ... --resend-failed`.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from mailer.config.settings import SendingSettings
from mailer.errors import (
    PermanentFailure,
    RelayFailure,
    SetupFailure,
    TemporaryFailure,
    TransportError,
)
from mailer.model import Outgoing
from mailer.sending.pacing import Pacer
from mailer.sending.progress import Tally
from mailer.store.ledger import Cause, Claimed, Outcome

BREAKER = 20


def backoff(attempts: int, settings: SendingSettings, jitter: float) -> dt.timedelta:
    """The wait before attempt `attempts + 1`: doubling from retry_after, capped, +-20%."""
    delay: dt.timedelta = settings.retry_after * (2 ** min(max(attempts - 1, 0), 30))
    capped: dt.timedelta = min(delay, settings.retry_limit)
    return capped * (0.8 + 0.4 * jitter)


def message_verdict(
    item: Claimed,
    message: Outgoing,
    error: TransportError,
    *,
    settings: SendingSettings,
    now: dt.datetime,
    jitter: float,
) -> Outcome:
    """The outcome of a failure that concerns this message alone (not a refusal to believe
    first, nor the relay's or the configuration's: the engine handles those)."""
    attempts_left = item.attempts < settings.max_attempts
    identifier, code, reason = message.message_id, error.code, str(error)
    if isinstance(error, PermanentFailure):
        cause: Cause = "relay" if error.relay else "recipient"
        return Outcome(item.id, "failed", identifier, code, reason, cause=cause)
    if not attempts_left:
        tried = f"{reason} (after {item.attempts} attempts)"
        if isinstance(error, TemporaryFailure):
            return Outcome(item.id, "failed", identifier, code, tried, cause="recipient")
        return Outcome(
            item.id, "failed", identifier, code, f"{tried}: it may have arrived", cause="unknown"
        )
    if isinstance(error, TemporaryFailure):
        later = now + backoff(item.attempts, settings, jitter)
        return Outcome(item.id, "retry", identifier, code, reason, later)
    return Outcome(item.id, "unknown", identifier, code, reason, now)  # UnknownFate: again now


def waits(item: Claimed, error: Exception) -> Outcome:
    """The delivery goes back to pending (its attempt not counted): not its fault."""
    return Outcome(item.id, "pending", code=getattr(error, "code", None), reason=str(error)[:300])


@dataclass
class Refusal:
    outcome: Outcome
    message: Outgoing
    enhanced: str


@dataclass
class Breaker:
    """Refusals (5xx, and 4xx) are believed once something got through in this run: they are
    then the recipients' own. Refusals for the first `size` recipients with nothing accepted
    mean the relay refuses everyone: the run stops and nobody is failed (exit 2 when one was
    for good, 75 when all were for now). Once tripped (or once
    the run stops for the relay's sake), later refusals are not believed either."""

    size: int = BREAKER
    confirmed: bool = False
    tripped: SetupFailure | RelayFailure | None = None
    doubtful: list[Refusal] = field(default_factory=list)

    def refused(self, refusal: Refusal) -> tuple[list[Refusal], list[Outcome]]:
        """A 5xx: (refusals now believed, deliveries put back)."""
        if self.tripped is not None:
            return [], [_back(refusal)]
        self.doubtful.append(refusal)
        if self.confirmed:
            return self._believe(), []
        if len(self.doubtful) >= self.size:
            codes = sorted({str(r.outcome.code) for r in self.doubtful})
            text = (
                f"the server refused the first {len(self.doubtful)} recipients and accepted "
                f"none (codes {', '.join(codes)})"
            )
            if all(r.outcome.state != "failed" for r in self.doubtful):  # all for now (4xx)
                self.tripped = RelayFailure(
                    f"{text}: the relay's trouble, not theirs; nobody was marked failed: they "
                    "are sent when it accepts mail again"
                )
            else:
                self.tripped = SetupFailure(
                    f"{text}: this looks like the relay's configuration, not theirs; they are "
                    "kept to send"
                )
            back = [_back(r) for r in self.doubtful]
            self.doubtful = []
            return [], back
        return [], []

    def accepted(self) -> list[Refusal]:
        """A message got through: the refusals held so far are believed."""
        self.confirmed = True
        return self._believe()

    def settle(self, *, trusted: bool) -> tuple[list[Refusal], list[Outcome]]:
        """At the end of a run: believe what is held if the run can be `trusted` (it was not
        stopped for the relay's or the configuration's sake) and too few were refused to say
        the relay refuses everyone; otherwise put them back."""
        if trusted and self.tripped is None and len(self.doubtful) < self.size:
            return self._believe(), []
        back = [_back(r) for r in self.doubtful]
        self.doubtful = []
        return [], back

    def _believe(self) -> list[Refusal]:
        believed, self.doubtful = self.doubtful, []
        return believed


def _back(refusal: Refusal) -> Outcome:
    outcome = refusal.outcome
    return Outcome(outcome.id, "pending", code=outcome.code, reason=outcome.reason)


class Judged:
    """A run's outcomes waiting to be recorded, and the hard bounces to suppress: what each
    message's fate means (see the module's docstring), counted in the run's `tally`. `failed`
    and `refused` return the error that stops the run, if one does."""

    def __init__(self, tally: Tally, settings: SendingSettings, pacer: Pacer) -> None:
        self.tally = tally
        self.settings = settings
        self.pacer = pacer
        self.outcomes: list[Outcome] = []
        self.bounces: list[tuple[Outgoing, str]] = []
        self.breaker = Breaker(min(BREAKER, settings.batch))
        self._random = random.Random()

    def take(self) -> tuple[list[Outcome], list[tuple[Outgoing, str]]]:
        """What to record and to suppress now (and forget it here)."""
        taken = self.outcomes, self.bounces
        self.outcomes, self.bounces = [], []
        return taken

    def sent(self, item: Claimed, message: Outgoing, reply: str) -> None:
        self.outcomes.append(Outcome(item.id, "sent", message.message_id, reason=reply[:200]))
        self.tally.sent += 1
        self.pacer.succeeded()
        self.believe(self.breaker.accepted())

    def failed(
        self, item: Claimed, message: Outgoing, error: TransportError, now: dt.datetime
    ) -> TransportError | None:
        if isinstance(error, SetupFailure):
            self.outcomes.append(waits(item, error))
            return error
        if isinstance(error, PermanentFailure) and not error.relay:
            outcome = Outcome(
                item.id, "failed", message.message_id, error.code, str(error), cause="recipient"
            )
            return self.refused(Refusal(outcome, message, error.enhanced or ""))
        outcome = message_verdict(
            item, message, error, settings=self.settings, now=now, jitter=self._random.random()
        )
        if error.slow_down and isinstance(error, TemporaryFailure):
            self.pacer.throttled()  # this one is retried; the send slows if many are
        elif error.slow_down:
            self.pacer.slow_down()
        if isinstance(error, TemporaryFailure):  # everyone's 4xx is the relay's, not theirs
            return self.refused(Refusal(outcome, message, ""))
        self.believe([Refusal(outcome, message, "")])
        return None

    def refused(self, refusal: Refusal) -> TransportError | None:
        believed, back = self.breaker.refused(refusal)
        self.believe(believed)
        self.outcomes.extend(back)
        return self.breaker.tripped

    def believe(self, refusals: list[Refusal]) -> None:
        for refusal in refusals:
            self.outcomes.append(refusal.outcome)
            state = refusal.outcome.state
            if state == "retry":
                self.tally.retrying += 1
            elif state == "unknown":
                self.tally.unknown += 1
            else:
                self.tally.failed += 1
            if refusal.enhanced.startswith("5.1."):
                self.bounces.append((refusal.message, refusal.outcome.reason or ""))

    def settle(self, *, trusted: bool) -> None:
        """At the end: refusals still held are believed, unless the run stopped for the
        relay's or the configuration's sake (then they wait for the next run)."""
        believed, back = self.breaker.settle(trusted=trusted)
        self.believe(believed)
        self.outcomes.extend(back)
