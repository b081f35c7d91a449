"""A transport that keeps emails in memory: for simulations (the daemon's tests run months of
sending in seconds) and for embedding mailer in other programs."""

from __future__ import annotations

from mailer.model import Outgoing
from mailer.transport.base import Lane, Transport


class MemoryTransport(Transport):
    name = "memory"

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    async def open_lane(self) -> Lane:
        return _MemoryLane(self)


class _MemoryLane(Lane):
    def __init__(self, transport: MemoryTransport) -> None:
        self.transport = transport

    async def send(self, message: Outgoing) -> str:
        self.transport.sent.append(message)
        return "250 kept in memory"

    async def close(self) -> None:
        return None
