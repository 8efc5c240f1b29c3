"""The summary: every phase's headline figures against the goals, and the machine."""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.door import DoorResult
from bench.embed import EMBED_BATCH, EmbedResult
from bench.lag import LagResult
from bench.pipeline import PipelineResult
from bench.stack import ROOT, banner

# Goals.
DOOR_RPS_GOAL = 5_000.0
DOOR_P99_GOAL_MS = 25.0
DOOR_RATIO_GOAL = 0.9  # the door against the bare baseline, in the same run
PIPELINE_RATIO_GOAL = 0.9  # the pipeline against raw embedding, in the same run
NOISY_PERCENT = 25.0  # other processes using more than this share of one core


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def machine_info() -> dict[str, str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=False)
    return {
        "nproc": nproc.stdout.strip() or str(os.cpu_count()),
        "cpu": model,
        "python": f"{platform.python_version()} ({sys.executable})",
        "kernel": platform.release(),
    }


@dataclass
class Results:
    door: DoorResult
    embed: EmbedResult
    pipe: PipelineResult
    lag: LagResult
    embed_again: EmbedResult | None = None


def print_summary(res: Results, args: argparse.Namespace) -> None:
    info = machine_info()
    door, pipe, lag = res.door, res.pipe, res.lag
    d, b = door.door.load, door.baseline.load
    ratio = pipe.rate / res.embed.rate
    rows: list[tuple[str, str, str, str]] = [
        ("door accepted/s", f"{d.rps:,.0f}", f">= {DOOR_RPS_GOAL:,.0f}",
         verdict(d.rps >= DOOR_RPS_GOAL)),
        ("door p50 / p99 latency", f"{d.p50_ms:.2f} / {d.p99_ms:.2f} ms",
         f"p99 <= {DOOR_P99_GOAL_MS:.0f} ms", verdict(d.p99_ms <= DOOR_P99_GOAL_MS)),
        ("door non-2xx; stream entries",
         f"{d.non_2xx}; {door.door.stream_entries} for {door.door.ok_responses} 2xx",
         "non-2xx = 0", verdict(d.non_2xx == 0 and 0 <= door.door.stream_entries
                                - door.door.ok_responses <= door.connections)),
        ("baseline (one XADD) req/s", f"{b.rps:,.0f} (p50 {b.p50_ms:.2f} / p99 "
         f"{b.p99_ms:.2f} ms)", "", ""),
        ("door / baseline", f"{door.ratio:.2f}", f">= {DOOR_RATIO_GOAL}",
         verdict(door.ratio >= DOOR_RATIO_GOAL)),
        ("CPU per request, door / base", f"{door.door.app_us:.0f} / {door.baseline.app_us:.0f}"
         f" us (one core: ~{door.door.one_core_rps:,.0f} / "
         f"~{door.baseline.one_core_rps:,.0f} req/s)", "", ""),
        ("raw embedding texts/s", f"{res.embed.rate:,.1f}", "", ""),
        ("pipeline indexed/s", f"{pipe.rate:,.1f} (XLEN polls: {pipe.polled_rate:,.1f})",
         "", ""),
        ("pipeline / raw", f"{ratio:.2f}", f">= {PIPELINE_RATIO_GOAL}",
         verdict(ratio >= PIPELINE_RATIO_GOAL)),
    ]
    if res.embed_again is not None:
        mean = (res.embed.rate + res.embed_again.rate) / 2
        rows.append(("raw again after phase 3", f"{res.embed_again.rate:,.1f} (pipeline / "
                     f"it: {pipe.rate / res.embed_again.rate:.2f}; / mean of both: "
                     f"{pipe.rate / mean:.2f})", "", ""))
    rows.append(("accepted -> recall p50 / p95", f"{lag.p50:.0f} / {lag.p95:.0f} ms", "", ""))
    banner("Summary")
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    for name, value, goal, mark in rows:
        print(f"  {name:<{width}}  {value:<{value_width}}  {goal:<16} {mark}".rstrip())
    shares = [("baseline", door.baseline.cpu), ("door", door.door.cpu),
              ("raw", res.embed.cpu), ("pipeline", pipe.cpu), ("lag", lag.cpu)]
    if res.embed_again is not None:
        shares.insert(4, ("raw again", res.embed_again.cpu))
    print("  other processes' CPU (% of one core): "
          + ", ".join(f"{name} {cpu.others:.0f}%" for name, cpu in shares))
    noisy = [name for name, cpu in shares if cpu.others > NOISY_PERCENT]
    if noisy:
        print(f"  WARNING: other processes took over {NOISY_PERCENT:.0f}% of a core during "
              f"{', '.join(noisy)}: those figures are depressed; rerun on a quiet machine")
    print(f"  load: {door.generator}, {door.connections} connections, {door.duration} s "
          f"(+{args.warmup} s warm-up) per target; pipeline backlog {pipe.backlog}, "
          f"batch {EMBED_BATCH}; raw over {res.embed.texts} texts, torch threads "
          f"{res.embed.torch_threads}; {len(lag.lags_ms)} probes")
    print(f"  machine: nproc {info['nproc']}, CPU {info['cpu']}, kernel {info['kernel']}")
    print(f"  python: {info['python']}")
    python = Path(sys.executable)
    if python.is_relative_to(ROOT):
        python = python.relative_to(ROOT)
    print(f"  command: cd {ROOT} && {' '.join([str(python), *sys.argv])}")

