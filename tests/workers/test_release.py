"""The release phase: a real `python -m memanto_redis.workers.release` creates the indexes
(and fails the deploy, in one line, on a Redis it cannot use)."""

from __future__ import annotations

import json
import subprocess
import sys

from memanto_redis.shared.infra import keys
from tests.support import ROOT, free_port, service_env

RELEASE = [sys.executable, "-m", "memanto_redis.workers.release"]


def test_release_creates_the_indexes(redis_url, r):
    done = subprocess.run(RELEASE, cwd=ROOT, env=service_env(redis_url), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    indexes = {name.decode() for name in r.execute_command("FT._LIST")}
    assert {keys.MEMORY_INDEX, keys.SWARM_INDEX} <= indexes
    last = json.loads(done.stderr.strip().splitlines()[-1])
    assert last["process"] == "release" and "indexes ready" in last["event"]


def test_release_fails_on_an_unreachable_redis():
    url = f"redis://127.0.0.1:{free_port()}/0"
    done = subprocess.run(RELEASE, cwd=ROOT, env=service_env(url, MEMANTO_REDIS_WAIT_SECONDS="0"),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("release: cannot reach Redis")
