"""A Lua script run on a connection of its own, for the write path.

redis-py's per-command machinery (pool checkout, retry wrapper, script bookkeeping, a task
per send for its socket timeout) cost the door a large share of a request's CPU; the
remember script runs thousands of times a second, so it takes the short road and
everything else goes through the ordinary client.

The road: one connection, opened by redis-py (so TLS, ACL users, passwords and the
database number work as for every other client), then read by a protocol of its own that
carries every concurrent exchange at once. Redis answers in the order it was asked, so each
exchange waits on a future in a queue and the replies are handed out in turn: no
connection per request, no reply read by a coroutine of its own, and a request given up
(a client gone) leaves nothing behind on the connection. The commands asked for in one turn
of the event loop leave in one write, so under load Redis reads many requests at a time
(its CPU per remember fell from 40 to 24 us in bench/ingest.py, the door's from 113 to 98).

A lost connection fails every exchange in flight with a ConnectionError and the next call
opens a new one, so after an outage the door answers 503 only while Redis is really away.
An exchange that fails is never retried here: the script may have run.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from typing import Any, cast

import hiredis
import redis
import redis.asyncio as aredis
from redis.exceptions import InvalidResponse, NoScriptError

# The longest one exchange may take (a Redis that hangs is then dropped like a lost one).
EXCHANGE_SECONDS = 5.0


def pack(*args: bytes | str | int | float) -> bytes:
    """One command in RESP, as redis-py's encoder would write it (str as UTF-8, int as its
    digits, float by repr), at a fraction of its per-argument cost."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, str):
            data = arg.encode()
        elif isinstance(arg, bytes):
            data = arg
        elif isinstance(arg, int) and not isinstance(arg, bool):
            data = b"%d" % arg
        elif isinstance(arg, float):
            data = repr(arg).encode()
        else:
            raise TypeError(f"cannot send {type(arg).__name__} to Redis")
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class _Link(asyncio.Protocol):
    """One connection's replies, handed out in order to the exchanges waiting on them."""

    def __init__(self) -> None:
        self.reader = hiredis.Reader(protocolError=InvalidResponse, replyError=_reply_error)
        self.waiting: deque[asyncio.Future[Any]] = deque()
        # Commands asked for in this turn of the event loop, written together at its end:
        # one send for many requests, and Redis reads them in one go.
        self.unsent: list[bytes] = []
        self.transport: asyncio.Transport | None = None
        self.lost: redis.ConnectionError | None = None
        # The redis-py connection that opened the transport: it closes the transport when
        # it is collected, so it lives as long as the link.
        self.opener: Any = None

    def adopt(self, opener: Any, transport: asyncio.Transport) -> None:
        self.opener = opener
        self.transport = transport
        transport.set_protocol(self)

    def send(self, command: bytes) -> asyncio.Future[Any]:
        if self.lost is not None or self.transport is None or self.transport.is_closing():
            raise self.lost or redis.ConnectionError("the connection to Redis is closed")
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[Any] = loop.create_future()
        self.waiting.append(reply)
        if not self.unsent:
            loop.call_soon(self._flush)
        self.unsent.append(command)
        return reply

    def _flush(self) -> None:
        commands, self.unsent = self.unsent, []
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(commands))
        # else: connection_lost has failed (or will fail) every exchange waiting.

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            waiter = self.waiting.popleft()
            if not waiter.done():  # a request given up meanwhile
                waiter.set_result(reply)

    def eof_received(self) -> bool:
        return False  # close the transport: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = redis.ConnectionError(
            f"Redis closed the connection{f': {exc}' if exc else ''}")
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_exception(self.lost)

    async def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        if self.opener is not None:
            await self.opener.disconnect(nowait=True)


def _reply_error(message: str) -> redis.ResponseError:
    # Only a script Redis does not know yet matters here; any other error is the caller's.
    if message.startswith("NOSCRIPT"):
        return NoScriptError(message)
    return redis.ResponseError(message)


class HotScript:
    def __init__(self, client: aredis.Redis, source: str) -> None:
        self.pool = client.connection_pool
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()
        self._link: _Link | None = None
        self._opening = asyncio.Lock()

    async def __call__(self, keys: list[str], args: list[Any]) -> Any:
        link = await self._connected()
        command = pack("EVALSHA", self.sha, len(keys), *keys, *args)
        try:
            reply = await self._exchange(link, command)
            if isinstance(reply, NoScriptError):
                # A restarted (or new) Redis does not know the script yet.
                await self._exchange(link, pack("SCRIPT", "LOAD", self.source))
                reply = await self._exchange(link, command)
        except BaseException as exc:
            if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
                # Redis went away (or hangs): the next call opens a new connection.
                await self._drop(link)
            raise
        if isinstance(reply, redis.ResponseError):
            raise reply
        return reply

    async def _exchange(self, link: _Link, command: bytes) -> Any:
        try:
            async with asyncio.timeout(EXCHANGE_SECONDS):
                return await link.send(command)
        except TimeoutError as exc:
            raise redis.TimeoutError("Redis did not answer in time") from exc

    async def _connected(self) -> _Link:
        link = self._link
        if link is not None and link.lost is None:
            return link
        async with self._opening:
            if self._link is not None and self._link.lost is not None:
                await self._drop(self._link)  # closed by the server: let redis-py know
            if self._link is None:
                self._link = await self._open()
            return self._link

    async def _open(self) -> _Link:
        """A connection set up by redis-py (handshake, TLS, AUTH, SELECT), then read by a
        _Link instead of redis-py's stream reader."""
        conn = self.pool.connection_class(**{**self.pool.connection_kwargs,
                                             "socket_timeout": None})
        await conn.connect()
        writer = cast(asyncio.StreamWriter, conn._writer)  # redis-py has no public handle
        link = _Link()
        link.adopt(conn, cast(asyncio.Transport, writer.transport))
        return link

    async def _drop(self, link: _Link) -> None:
        if self._link is link:
            self._link = None
        await link.close()

    async def close(self) -> None:
        if self._link is not None:
            await self._drop(self._link)
