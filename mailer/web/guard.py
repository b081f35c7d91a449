"""Keeping the daemon's web side up when clients misbehave: at most `limit` connections at
once, none older than `lifetime` seconds, and a short keep-alive (aiohttp's default keeps an
idle connection for an hour).

A thousand slow clients (a scanner, a slowloris) would otherwise hold a descriptor each until
the process runs out, and every failed accept would be logged. At the limit, a new connection
closes the oldest one (slow clients are the old ones; a real request takes milliseconds), so
that /health and the unsubscribe links still answer; how many were closed so is logged once
a minute at most.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import resource
import time

from aiohttp import web

from mailer.config.settings import listen_refused

log = logging.getLogger("mailer.http")
CONNECTIONS = 256
LIFETIME = 30.0  # seconds: our pages take milliseconds
KEEPALIVE = 10.0  # seconds an idle connection stays open
_REPORT_EVERY = 60.0


class ConnectionGuard:
    """The protocol factory of the daemon's HTTP server, around aiohttp's."""

    def __init__(
        self, server: web.Server, *, limit: int = CONNECTIONS, lifetime: float = LIFETIME
    ) -> None:
        self.server = server
        self.limit = limit
        self.lifetime = lifetime
        self.refused = 0
        self._born: dict[asyncio.Protocol, float] = {}  # handlers have no weak references
        self._reported_at = 0.0
        self._reported = 0

    def __call__(self) -> asyncio.Protocol:
        if len(self._born) >= self.limit:  # the connections open and not yet closed by us
            oldest = min(self._born, key=self._born.__getitem__)
            del self._born[oldest]
            oldest.force_close()  # type: ignore[attr-defined]
            self.refused += 1
            self._report()
        handler = self.server()
        self._born[handler] = time.monotonic()
        return handler

    def sweep(self) -> None:
        """Close the connections older than `lifetime` (slow or stuck clients)."""
        oldest = time.monotonic() - self.lifetime
        live = set(self.server.connections)
        self._born = {handler: born for handler, born in self._born.items() if handler in live}
        for handler, born in list(self._born.items()):
            if born < oldest:
                del self._born[handler]
                handler.force_close()  # type: ignore[attr-defined]

    def _report(self) -> None:
        now = time.monotonic()
        if now - self._reported_at >= _REPORT_EVERY:
            log.warning(
                "closed %d HTTP connections beyond %d at once (slow or too many clients)",
                self.refused - self._reported,
                self.limit,
            )
            self._reported_at, self._reported = now, self.refused


class GuardedServer:
    """The daemon's HTTP server: the runner's application on host:port, guarded."""

    def __init__(
        self, runner: web.AppRunner, host: str, port: int, *, key: str, source: str
    ) -> None:
        self.runner, self.host, self.port = runner, host, port
        self.key, self.source = key, source  # what says where: config.toml's http.listen
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> str:
        """Listen; where (the real port when `port` is 0). ConfigError (exit 2: restarting
        does not help) when the address is taken or cannot be used here."""
        raise_descriptor_limit()
        assert self.runner.server is not None, "the runner is set up first"
        guard = ConnectionGuard(self.runner.server)
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(guard, self.host, self.port, backlog=128)
        except OSError as error:
            where, in_use = f"{self.host}:{self.port}", error.errno == errno.EADDRINUSE
            why = str(error.strerror or error)
            raise listen_refused(where, in_use, why, self.key, self.source) from None
        self._sweeper = asyncio.create_task(_sweep(guard))
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"{host}:{port}"

    def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._server is not None:
            self._server.close()


async def _sweep(guard: ConnectionGuard) -> None:
    while True:
        await asyncio.sleep(guard.lifetime / 3)
        guard.sweep()


def raise_descriptor_limit() -> None:
    """The soft limit of open files up to the hard one: a daemon serves many connections."""
    with contextlib.suppress(ValueError, OSError):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
