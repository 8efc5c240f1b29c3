"""Fixtures of the tests that start worker processes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator

import pytest
import redis
from rq import Queue

from memanto_redis.shared.infra import keys
from tests.support import stop

# What a test of processes starts from and leaves: no due schedules, no leader or RQ
# scheduler lock, an empty jobs queue, no workers' figures.
_GLOBAL = (keys.SCHEDULES_DUE, keys.SCHEDULER_LEADER, keys.METRICS,
           f"rq:scheduler-lock:{keys.JOBS_QUEUE}")


@pytest.fixture
def procs(r: redis.Redis) -> Iterator[list[subprocess.Popen]]:
    """Processes a test starts, each in its own process group; a clean clock and queue."""
    r.delete(*_GLOBAL)
    Queue(keys.JOBS_QUEUE, connection=r).empty()
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        # SIGTERM lets `rq worker` stop its scheduler child and free its lock, and lets a
        # scheduler give up the lead; the group kill then reaps anything left of ours.
        stop(proc, signal.SIGTERM, timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    r.delete(*_GLOBAL)
