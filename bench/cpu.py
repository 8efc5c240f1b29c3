"""Where the machine's CPU went: this benchmark's processes against everything else."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# -- how much of the machine was ours ------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _machine_cpu() -> tuple[float, float]:
    """(busy, steal) CPU seconds of the whole machine since boot, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq) / _TICK, steal / _TICK


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of one live process (all its threads)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(stat[11]) + int(stat[12])) / _TICK


@dataclass
class CpuShare:
    """Where the machine's CPU went during one phase, in percent of one core."""

    seconds: float
    ours: float
    others: float
    steal: float

    def describe(self) -> str:
        cores = os.cpu_count() or 1
        return (f"CPU over {self.seconds:.0f} s: this benchmark {self.ours:.0f}%, other "
                f"processes {self.others:.0f}%, steal {self.steal:.0f}% (of {cores * 100}%)")


class CpuMeter:
    """This benchmark's own CPU (itself, its reaped children, the live processes it
    started) against the machine's, so that load from anything else shows in the report."""

    def __init__(self, live_pids: Callable[[], list[int]]) -> None:
        self.live_pids = live_pids
        self.start = self.sample()

    def sample(self) -> tuple[float, float, float, float]:
        me = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        ours = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
        ours += sum(proc_cpu(pid) for pid in self.live_pids())
        busy, steal = _machine_cpu()
        return time.monotonic(), busy, steal, ours

    def share(self) -> CpuShare:
        wall0, busy0, steal0, ours0 = self.start
        wall1, busy1, steal1, ours1 = self.sample()
        span = max(wall1 - wall0, 1e-9)
        ours = (ours1 - ours0) / span * 100
        others = max(0.0, (busy1 - busy0) / span * 100 - ours)
        return CpuShare(span, ours, others, (steal1 - steal0) / span * 100)
