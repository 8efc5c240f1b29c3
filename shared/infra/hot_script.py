"""A Lua script run on connections of its own, for the write path.

redis-py's per-command machinery (pool checkout, retry wrapper, script bookkeeping) cost the
door about a third of a request's CPU here: one EVALSHA took ~160 us through
`Script.__call__` and ~105 us sent straight on a connection, measured back to back. The
remember script runs thousands of times a second, so it takes the short road; everything
else goes through the ordinary client.

A restarted Redis leaves every kept connection dead. One is never sent on once it has seen
the server close it (`can_read`: no system call, ~0.2 us), and the first connection error
drops every idle one, so after an outage the door answers 503 only while Redis is really
away. An exchange that fails is never retried here: the script may have run.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import redis
import redis.asyncio as aredis
from redis.exceptions import NoScriptError

# Idle connections kept for reuse; more are opened under load and closed after it.
KEEP_IDLE = 64
# The longest one exchange may take. redis-py's own socket timeout would wrap each send in
# asyncio.wait_for, a task per command (~10 us here); one asyncio.timeout around the
# exchange bounds it as well for a fraction of that.
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


class HotScript:
    def __init__(self, client: aredis.Redis, source: str) -> None:
        self.pool = client.connection_pool
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()
        self._idle: list[Any] = []

    async def __call__(self, keys: list[str], args: list[Any]) -> Any:
        conn = await self._connection()
        try:
            reply = await self._run(conn, keys, args)
        except BaseException as exc:
            # A failed or cancelled exchange may leave a reply in flight: never reuse it.
            await conn.disconnect()
            if isinstance(exc, redis.ConnectionError | redis.TimeoutError | OSError):
                # Redis went away: the other idle connections went with it.
                await self.close()
            raise
        if len(self._idle) < KEEP_IDLE:
            self._idle.append(conn)
        else:
            await conn.disconnect()
        return reply

    async def _connection(self) -> Any:
        """An idle connection the server has not closed, else a new one."""
        while self._idle:
            conn = self._idle.pop()
            try:
                if not await conn.can_read():
                    return conn
            except redis.ConnectionError:
                pass
            # Closed by the server (a restart), or holding a stray reply.
            await conn.disconnect()
        # No per-call socket timeout (see EXCHANGE_SECONDS).
        return self.pool.connection_class(**{**self.pool.connection_kwargs,
                                             "socket_timeout": None})

    async def _run(self, conn: Any, keys: list[str], args: list[Any]) -> Any:
        command = pack("EVALSHA", self.sha, len(keys), *keys, *args)
        try:
            async with asyncio.timeout(EXCHANGE_SECONDS):
                await conn.send_packed_command(command, check_health=False)
                return await conn.read_response()
        except TimeoutError as exc:
            raise redis.TimeoutError("Redis did not answer in time") from exc
        except NoScriptError:
            # A restarted (or new) Redis does not know the script yet.
            await conn.send_command("SCRIPT", "LOAD", self.source)
            await conn.read_response()
            await conn.send_packed_command(command, check_health=False)
            return await conn.read_response()

    async def close(self) -> None:
        while self._idle:
            await self._idle.pop().disconnect()
