"""A short fault soak (bench/soak.py runs the long one): writes go on while a worker is
SIGKILLed, the other SIGSTOPped, Redis SIGKILLed and the web process SIGKILLed, each
restarted; every acknowledged memory is then indexed exactly once (or failed with a
reason), and the only 5xx answers are 503 with Retry-After."""

from __future__ import annotations

from bench.soak import Plan, print_report, soak

SHORT = Plan(duration=30, writers=16, agents=24, rate=25, warmup=3, pause=2, stop_seconds=6,
             claim_idle_ms=2000, recover_timeout=60, drain_timeout=60)


def test_short_fault_soak(tmp_path):
    report = soak(SHORT, tmp_path, say=lambda line: print(line, flush=True))
    print_report(report, SHORT)
    assert report.ok, report.problems
    counts = report.counts
    assert counts["acknowledged"] > 0.8 * counts["sent"]
    assert counts["indexed"] + counts["failed, with a reason"] \
        + counts["lost in the fsync window before a Redis kill"] == counts["acknowledged"]
    assert counts["duplicates in the index"] == 0
    assert set(counts) <= {*SHORT_OUTCOMES}, counts  # no other kind of answer
    killed, stopped, lost_redis, lost_web = report.faults
    assert "moved to the other worker" in stopped.note
    # Losing Redis is a 503 at the door, losing the web process no answer at all; each
    # for a few seconds only.
    assert set(lost_redis.errors) <= {"503"} and lost_redis.door_out < 10
    assert set(lost_web.errors) <= {"no answer"} and lost_web.door_out < 20
    for fault in report.faults:
        assert fault.recovered - fault.at < 60, fault


SHORT_OUTCOMES = [
    "sent", "acknowledged", "503 with Retry-After", "no answer (refused, reset)", "indexed",
    "failed, with a reason", "lost in the fsync window before a Redis kill",
    "acknowledged in the fsync window", "index documents", "duplicates in the index",
    "indexed without an answer (it was lost in a fault)",
]
