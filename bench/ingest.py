"""Ingest benchmark: front door, raw embedding, end-to-end pipeline, accepted-to-recall lag.

    cd /work/main && .venv/bin/python bench/ingest.py [--duration 10] [--backlog 3000]

Starts its own embedded Redis (free port, temporary data dir) and one web process, later
one worker, and stops every process it started by PID, also on error. The machine is
small and noisy, so the front door is printed next to a trivial baseline app measured
with the same load in the same run, and the pipeline next to the raw model speed.

Phase 1  front door: remember requests accepted/s by one web process under 64 concurrent
         clients (wrk, a separate process), p50/p99; no worker runs meanwhile.
Phase 2  raw embedding: texts/s of the model alone (embed_many, batch 64) in a subprocess.
Phase 3  end-to-end: a queued backlog, one worker; memories indexed/s from its first to
         its last indexed memory, and the ratio to phase 2.
Phase 4  lag: with the worker idle, time from a remember's answer to recall finding it.

This file parses the arguments and runs the phases in order; each phase is a module of
bench/ (door, embed, pipeline, lag), the stack and its context are bench/stack.py, the
summary bench/report.py.

The exit code is 0 whether goals are met or missed (PASS/MISS is printed); it is 1 only
when the benchmark itself could not run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.door import phase_door, reset_after_door  # noqa: E402
from bench.embed import phase_embed  # noqa: E402
from bench.lag import phase_lag  # noqa: E402
from bench.load import ensure_wrk  # noqa: E402
from bench.pipeline import phase_pipeline  # noqa: E402
from bench.report import Results, print_summary  # noqa: E402
from bench.stack import (  # noqa: E402
    Context,
    RunFailed,
    new_agent,
    run_in_context,
    start_stack,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--duration", type=int, default=10, help="seconds of measured load")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up load")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--backlog", type=int, default=3000, help="phase 3 memories")
    parser.add_argument("--embed-texts", type=int, default=2000, help="phase 2 texts")
    parser.add_argument("--probes", type=int, default=40, help="phase 4 memories")
    parser.add_argument("--generator", choices=["auto", "wrk", "python"], default="auto",
                        help="load generator (auto: wrk if available, else the Python one)")
    parser.add_argument("--raw-again", action=argparse.BooleanOptionalAction, default=True,
                        help="measure the raw embedding rate again after phase 3")
    return parser.parse_args(argv)


def choose_generator(args: argparse.Namespace) -> None:
    """Resolve --generator to a wrk path or 'python', and a label for the report."""
    wrk = None if args.generator == "python" else ensure_wrk()
    if wrk:
        version = subprocess.run([wrk, "--version"], capture_output=True, text=True,
                                 check=False).stdout.splitlines()
        args.generator = wrk
        args.generator_label = f"{version[0].split(' [')[0] if version else 'wrk'}, " \
                               f"{args.threads} threads"
        return
    if args.generator == "wrk":
        raise RuntimeError("wrk is not available")
    args.generator = "python"
    args.generator_label = "bench/loadgen.py (Python fallback; wrk not available)"


def run(ctx: Context, args: argparse.Namespace) -> None:
    choose_generator(args)
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"load average at start: {' '.join(load)} on {os.cpu_count()} cores")
    start_stack(ctx)
    stamp = f"{int(time.time())}-{os.getpid()}"
    door_agent = new_agent(ctx, f"bench-door-{stamp}")
    pipe_agent = new_agent(ctx, f"bench-pipe-{stamp}")
    door = phase_door(ctx, door_agent, args)
    reset_after_door(ctx, door_agent)
    embed = phase_embed(ctx, args)
    pipe, _worker = phase_pipeline(ctx, pipe_agent, args)
    # The idle worker blocks on the stream; it does not compete with this.
    embed_again = phase_embed(ctx, args, again=True) if args.raw_again else None
    lag = phase_lag(ctx, pipe_agent, args)
    print_summary(Results(door, embed, pipe, lag, embed_again), args)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        run_in_context("memanto-bench-", lambda ctx: run(ctx, args))
    except RunFailed:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
