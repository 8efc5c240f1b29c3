"""The door's script runner: across a Redis restart (its connection dies with the server,
and no request after the restart may be the one that finds out), with requests given up,
many requests in one write, and over TLS."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator

import pytest
import redis
import redis.asyncio as aredis

from memanto_redis.shared.infra.connection import client_options
from memanto_redis.shared.infra.hot_script import HotScript
from tests.support import certificate

SCRIPT = "return redis.call('INCR', KEYS[1])"


@contextlib.asynccontextmanager
async def script_on(port: int, source: str) -> AsyncIterator[tuple[aredis.Redis, HotScript]]:
    """A client of that Redis and the script on it, both closed after."""
    client = aredis.Redis(port=port, **client_options(asynchronous=True))
    script = HotScript(client, source)
    try:
        yield client, script
    finally:
        await script.close()
        await client.aclose()


def test_kept_connections_are_replaced_after_a_restart(own_redis):
    async def scenario() -> None:
        async with script_on(own_redis.port, SCRIPT) as (_, script):
            # Eight requests at once share one connection, answered in order.
            replies = await asyncio.gather(*(script(["n"], []) for _ in range(8)))
            assert sorted(replies) == list(range(1, 9))
            own_redis.kill()
            with pytest.raises(redis.ConnectionError):
                await script(["n"], [])  # Redis is away: an error, and nothing kept
            assert script._link is None  # noqa: SLF001
            own_redis.start()
            assert await script(["n"], []) >= 1

            # Killed again while the connection is kept and nobody calls: the loop sees it
            # closed, and the next requests all succeed on a new one.
            await asyncio.gather(*(script(["n"], []) for _ in range(8)))
            own_redis.kill()
            own_redis.start()
            await asyncio.sleep(0.1)  # a serving process's loop runs all along
            replies = await asyncio.gather(*(script(["n"], []) for _ in range(8)))
            assert all(isinstance(n, int) for n in replies)

    asyncio.run(scenario())


def test_a_request_given_up_leaves_the_others_their_own_replies(own_redis):
    """Replies are handed out in order: one whose caller left (a cancelled request) is
    dropped, and every other caller still gets its own."""
    async def scenario() -> None:
        async with script_on(own_redis.port,
                             "redis.call('INCR', KEYS[1]) return ARGV[1]") as (client, echo):
            calls = [asyncio.ensure_future(echo(["n"], [str(i)])) for i in range(50)]
            await asyncio.sleep(0)
            for call in calls[::3]:
                call.cancel()
            done = await asyncio.gather(*calls, return_exceptions=True)
            for i, reply in enumerate(done):
                if not isinstance(reply, asyncio.CancelledError):
                    assert reply == str(i).encode()
            assert await echo(["n"], ["last"]) == b"last"
            # A script error is the caller's, and leaves the connection in use.
            failing = HotScript(client, "return redis.error_reply('ERR no')")
            with pytest.raises(redis.ResponseError, match="no"):
                await failing([], [])
            assert await failing._connected() is failing._link  # noqa: SLF001
            await failing.close()

    asyncio.run(scenario())


def test_pack_writes_what_redis_py_writes():
    from redis.asyncio.connection import Connection

    from memanto_redis.shared.infra.hot_script import pack

    args = ("EVALSHA", "abc", 3, "k1", "k2", "", "1.5", 500_000, 0, b'{"x":"\xc3\xa9"}', 1.25,
            "é", -7, "x" * 10_000)
    assert pack(*args) == b"".join(Connection().pack_command(*args))


def test_over_tls_with_a_password_and_a_database(own_redis, tmp_path):
    """A managed Redis (Heroku's `rediss://`) is reached over TLS, with a password, maybe
    another database: the connection is opened by redis-py as every client's, so the script
    runs there as well. TLS is a loopback proxy here (this redis-server has no TLS)."""
    port = own_redis.port
    cert, key = certificate("localhost")
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    async def relay(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        redis_r, redis_w = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.gather(pipe(client_r, redis_w), pipe(redis_r, client_w),
                             return_exceptions=True)

    async def scenario() -> None:
        plain = aredis.Redis(port=port)
        await plain.config_set("requirepass", "s3cret-pass")
        await plain.aclose()
        proxy = await asyncio.start_server(relay, "127.0.0.1", 0, ssl=tls)
        tls_port = proxy.sockets[0].getsockname()[1]
        client = aredis.Redis.from_url(f"rediss://:s3cret-pass@localhost:{tls_port}/3",
                                       ssl_ca_certs=str(tmp_path / "cert.pem"),
                                       **client_options(asynchronous=True))
        script = HotScript(client, SCRIPT)
        try:
            replies = await asyncio.gather(*(script(["n"], []) for _ in range(20)))
            assert sorted(replies) == list(range(1, 21))
            assert int(await client.get("n")) == 20  # in database 3, through the same TLS
        finally:
            await script.close()
            await client.aclose()
            proxy.close()
            await proxy.wait_closed()

    asyncio.run(scenario())


def test_requests_of_one_loop_turn_reach_redis_in_one_write(own_redis):
    """Many concurrent requests cost Redis one read, not one each: their commands leave in
    one write at the end of the event loop's turn (and each still gets its own reply)."""
    async def scenario() -> None:
        async with script_on(own_redis.port, "return ARGV[1]") as (client, echo):
            assert await echo([], ["warm"]) == b"warm"  # connected, script loaded
            before = (await client.info("stats"))["total_reads_processed"]
            replies = await asyncio.gather(*(echo([], [str(i)]) for i in range(100)))
            after = (await client.info("stats"))["total_reads_processed"]
            assert replies == [str(i).encode() for i in range(100)]
            # The 100 scripts in a read or two, and the second INFO in one (79 when each
            # request wrote its own command).
            assert after - before <= 4, after - before

    asyncio.run(scenario())
