"""The transport seam: the sending engine does not know whether it writes files or talks SMTP.

A transport opens *lanes*; a lane sends one message at a time (an SMTP connection reused for many
messages, or a writer into the outbox). `send` returns the server's reply, or raises one of:

- `TemporaryFailure` (4xx for this message): try it again later;
- `PermanentFailure` (5xx for this message): do not try again;
- `UnknownFate` (connection lost or deadline passed after the data was sent): resend with the
  same Message-ID;
- `RelayFailure` (the relay or the connection: refused, lost before the data, 421, a full
  disk): not the message's fault; the send waits for the relay;
- `SetupFailure` (a certificate that does not verify, login or sender refused): no message can
  go, stop.

A failure with `slow_down` set (421, or a 4.7.x throttling reply) asks the whole send to go
slower. Any other exception is a bug in the lane: the engine fails that one delivery.

`still_ours`, when the engine sets it, is asked right before a message's data goes: False (its
row's lease may have run out while the process was frozen) and the lane drops the connection
and raises `Withheld` instead of sending it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

from mailer.model import Outgoing


class Lane(ABC):
    """One way out, used by one task at a time."""

    still_ours: Callable[[], bool] | None = None

    @abstractmethod
    async def send(self, message: Outgoing) -> str:
        """Deliver `message`; return the server's reply text."""

    @abstractmethod
    async def close(self) -> None:
        """Release the lane (QUIT, close the connection)."""


class Transport(ABC):
    """Where emails go."""

    name: str

    @abstractmethod
    async def open_lane(self) -> Lane:
        """A new lane. Connecting may be deferred to the first send."""

    @property
    def lanes(self) -> int:
        """How many lanes to use at once."""
        return 1

    async def send_one(self, message: Outgoing) -> str:
        """Send one email on a lane of its own (a notice, a confirmation): the reply."""
        lane = await self.open_lane()
        try:
            return await lane.send(message)
        finally:
            await lane.close()
