"""Fairness at the door: other agents' remember latency (p99) with and without a flood
from one agent that is over its write quota (its writes answered 429).

One web process (its own embedded Redis, no worker). The others write through a few
connections (closed loop, from a separate process: wrk, else bench.loadgen); the flooder,
whose quota is small, hammers the same door through many connections at once. Printed:
the others' p99 alone and under the flood, their ratio (the goal: <= 1.5), and how much
of the flood was refused.

    .venv/bin/python bench/fairness.py [--duration 8] [--flood-connections 32]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.door import DOOR_TEXT  # noqa: E402
from bench.load import LoadResult, ensure_wrk, run_load  # noqa: E402
from bench.stack import (  # noqa: E402
    Agent,
    Context,
    RunFailed,
    banner,
    new_agent,
    run_in_context,
    start_stack,
)

GOAL = 1.5


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--duration", type=int, default=8, help="seconds of each measure")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up load")
    parser.add_argument("--connections", type=int, default=4, help="the others' connections")
    parser.add_argument("--flood-connections", type=int, default=32)
    parser.add_argument("--flood-rate", type=int, default=50,
                        help="the flooder's quota, memories a second (its burst the same)")
    parser.add_argument("--generator", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    return parser.parse_args(argv)


def load(ctx: Context, args: argparse.Namespace, agent: Agent, seconds: int,
         connections: int, name: str) -> LoadResult:
    url = f"{ctx.web_url}/api/v2/agents/{agent.agent_id}/remember"
    body = json.dumps({"content": DOOR_TEXT, "type": "preference"})
    # Each load its own folder: wrk's script and loadgen's body file are written there.
    folder = ctx.tmp / name
    folder.mkdir(exist_ok=True)
    return run_load(folder, args.generator, url, body,
                    {"X-Session-Token": agent.token, "Content-Type": "application/json"},
                    seconds, connections, 1)


def run(ctx: Context, args: argparse.Namespace) -> dict[str, float]:
    if args.generator == "auto":
        args.generator = ensure_wrk() or "python"
    print(f"load generator: {args.generator}; load average at start: "
          f"{' '.join(Path('/proc/loadavg').read_text().split()[:3])} on {os.cpu_count()} cores")
    start_stack(ctx)
    stamp = f"{int(time.time())}-{os.getpid()}"
    other = new_agent(ctx, f"fair-other-{stamp}")
    flooder = new_agent(ctx, f"fair-flood-{stamp}",
                        {"rate": args.flood_rate, "burst": args.flood_rate})

    banner("the others alone")
    if args.warmup:
        load(ctx, args, other, args.warmup, args.connections, "warmup")
    alone = load(ctx, args, other, args.duration, args.connections, "alone")
    print(f"others alone: {alone.rps:,.0f} req/s, p50 {alone.p50_ms:.2f} ms, "
          f"p99 {alone.p99_ms:.2f} ms, non-2xx {alone.non_2xx}")

    banner(f"the others under a flood ({args.flood_connections} connections, quota "
           f"{args.flood_rate}/s)")
    with ThreadPoolExecutor(2) as pool:
        # The flood starts first and ends last, so the others are measured inside it.
        flood_job = pool.submit(load, ctx, args, flooder, args.duration + 2,
                                args.flood_connections, "flood")
        time.sleep(1.0)
        flooded = load(ctx, args, other, args.duration, args.connections, "flooded")
        flood = flood_job.result()
    refused = flood.non_2xx / max(flood.requests, 1)
    print(f"others flooded: {flooded.rps:,.0f} req/s, p50 {flooded.p50_ms:.2f} ms, "
          f"p99 {flooded.p99_ms:.2f} ms, non-2xx {flooded.non_2xx}")
    print(f"flooder: {flood.rps:,.0f} req/s, {refused:.1%} refused (429)")
    ratio = flooded.p99_ms / alone.p99_ms if alone.p99_ms else float("nan")

    banner("summary")
    print(f"others' p99 alone {alone.p99_ms:.2f} ms, under the flood {flooded.p99_ms:.2f} ms: "
          f"ratio {ratio:.2f} (goal <= {GOAL})")
    return {"alone_p99_ms": alone.p99_ms, "flooded_p99_ms": flooded.p99_ms, "ratio": ratio,
            "alone_rps": alone.rps, "flooded_rps": flooded.rps, "flood_rps": flood.rps,
            "flood_refused": refused, "others_non_2xx": alone.non_2xx + flooded.non_2xx}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        figures = run_in_context("memanto-fair-", lambda ctx: run(ctx, args))
    except RunFailed:
        return 1
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
