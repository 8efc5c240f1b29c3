"""A small closed-loop HTTP/1.1 load generator: the fallback when `wrk` is not installed.

It runs as its own process (like wrk), keeps N keep-alive connections busy with the same
POST for a fixed time and prints one JSON line: requests, non-2xx, requests/s, p50/p99.
It is Python, so on a small machine it saturates before wrk does; the benchmark says
which generator it used.

    python -m bench.loadgen --url http://127.0.0.1:8000/path --body-file body.json \
        --header 'X-Session-Token: ...' --connections 64 --duration 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    non_2xx: int = 0
    errors: int = 0


def build_request(url: str, body: bytes, headers: list[str]) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    lines = [f"POST {parts.path or '/'} HTTP/1.1", f"Host: {host}:{port}",
             f"Content-Length: {len(body)}", *headers, "", ""]
    return host, port, "\r\n".join(lines).encode() + body


async def read_response(reader: asyncio.StreamReader) -> int:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("server closed the connection")
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def connection(host: str, port: int, request: bytes, deadline: float,
                     tally: Tally) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            writer.write(request)
            try:
                status = await read_response(reader)
            except (ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError):
                tally.errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            tally.latencies.append(time.perf_counter() - start)
            if not 200 <= status < 300:
                tally.non_2xx += 1
    finally:
        writer.close()


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)] if ordered else math.nan


async def run(url: str, body: bytes, headers: list[str], connections: int,
              duration: float) -> dict:
    host, port, request = build_request(url, body, headers)
    tally = Tally()
    start = time.perf_counter()
    await asyncio.gather(*(connection(host, port, request, start + duration, tally)
                           for _ in range(connections)))
    elapsed = time.perf_counter() - start
    return {
        "requests": len(tally.latencies),
        "seconds": elapsed,
        "rps": len(tally.latencies) / elapsed,
        "p50_ms": percentile(tally.latencies, 50) * 1000,
        "p99_ms": percentile(tally.latencies, 99) * 1000,
        "non_2xx": tally.non_2xx,
        "errors": tally.errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--body-file", type=Path, required=True)
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args()
    coro = run(args.url, args.body_file.read_bytes(), args.header, args.connections,
               args.duration)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(coro)
    else:
        result = uvloop.run(coro)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
