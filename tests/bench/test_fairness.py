"""bench/fairness.py's short version: its own stack comes up and goes down, the flooder is
refused (429) and slowed by the held answers, the other agent is never refused, and both
p99 figures and their ratio are printed. (The ratio's goal, <= 1.5, is the full run's: a
2-second run on a shared machine is too noisy to hold it to.)"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys

from tests.support import ROOT


def test_fairness_short_run():
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "fairness.py"), "--duration", "2", "--warmup",
         "0", "--connections", "2", "--flood-connections", "16", "--json",
         # wrk when it is there; never the "auto" that installs it (a download).
         "--generator", "wrk" if shutil.which("wrk") else "python"],
        capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert "ratio" in done.stdout and "under the flood" in done.stdout
    assert figures["others_non_2xx"] == 0
    assert figures["flood_refused"] > 0.2
    # 16 connections whose refusals are each held 0.5 s, plus 50 accepted a second.
    assert figures["flood_rps"] < 200
    assert math.isfinite(figures["ratio"]) and figures["alone_p99_ms"] > 0
