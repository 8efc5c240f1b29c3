"""Trimming archived versions to the window kept: each memory keeps its newest `kept`,
across agents, with the agents' sets of version keys kept in step; 0 keeps everything."""

from __future__ import annotations

from memanto_redis.shared.infra import keys
from memanto_redis.shared.memory import versions
from tests.conftest import unique
from tests.support import versions_held


def _archive(r, agent_id: str, memory_id: str, numbers: range) -> None:
    for n in numbers:
        key = keys.version(agent_id, memory_id, n)
        r.hset(key, mapping={"memory_id": memory_id, "version": n})
        r.sadd(keys.version_keys(agent_id), key)


def test_each_memory_keeps_its_newest(r):
    one, two = unique("vers"), unique("vers")
    _archive(r, one, "m-long", range(1, 13))  # 1-12, so 10 and 11 sort before 9 as text
    _archive(r, one, "m-short", range(1, 3))
    _archive(r, two, "m-other", range(4, 8))
    r.delete(keys.VERSIONS_WINDOW)  # as on a Redis no release has trimmed yet
    assert versions.trim(r, 0) == 0
    assert versions_held(r, one, "m-long") == list(range(1, 13))

    removed = versions.trim(r, 3)
    assert removed >= 9 + 0 + 1  # and whatever other tests left beyond three
    assert versions_held(r, one, "m-long") == [10, 11, 12]
    assert versions_held(r, one, "m-short") == [1, 2]
    assert versions_held(r, two, "m-other") == [5, 6, 7]
    assert r.smembers(keys.version_keys(one)) == {
        keys.version(one, m, n).encode()
        for m, numbers in (("m-long", (10, 11, 12)), ("m-short", (1, 2))) for n in numbers}
    versions.trim(r, 3)  # again: nothing more of these goes
    assert (versions_held(r, one, "m-long"), versions_held(r, two, "m-other")) == (
        [10, 11, 12], [5, 6, 7])


def test_tombstones_in_the_same_set_are_never_taken_for_versions(r):
    """An agent's set of version keys holds its tombstones too; ids may be all digits, and
    a tombstone read as "version 7 of memory tomb:{agent}" would be trimmed."""
    agent = unique("vers")
    for memory_id in ("7", "8", "9", "10"):
        _archive(r, agent, memory_id, range(1, 2))
        tomb = keys.tombstone(agent, memory_id)
        r.hset(tomb, mapping={"deleted_at": 1.0, "version": 2})
        r.sadd(keys.version_keys(agent), tomb)
    r.delete(keys.VERSIONS_WINDOW)
    versions.trim(r, 1)
    assert all(r.exists(keys.tombstone(agent, m)) for m in ("7", "8", "9", "10"))
    assert all(versions_held(r, agent, m) == [1] for m in ("7", "8", "9", "10"))
    assert r.scard(keys.version_keys(agent)) == 8


def test_a_window_no_smaller_than_the_last_skips_the_scan(r):
    """Once every memory is within a window, changes keep to it: the next releases scan
    nothing until the window is made smaller than the last one trimmed to."""
    agent = unique("vers")
    r.delete(keys.VERSIONS_WINDOW)
    _archive(r, agent, "m", range(1, 6))
    versions.trim(r, 4)
    assert versions_held(r, agent, "m") == [2, 3, 4, 5]
    _archive(r, agent, "old", range(1, 8))  # more than any window: not looked for
    assert versions.trim(r, 4) == 0 and versions.trim(r, 6) == 0
    assert versions_held(r, agent, "old") == list(range(1, 8))
    # Widened to 6 by that release, then narrowed to 5: scanned again.
    assert versions.trim(r, 5) >= 2
    assert (versions_held(r, agent, "old"), versions_held(r, agent, "m")) == (
        [3, 4, 5, 6, 7], [2, 3, 4, 5])
    # 0 (keep everything) lets the next narrowing scan too.
    assert versions.trim(r, 0) == 0
    assert versions.trim(r, 3) >= 3
    assert (versions_held(r, agent, "old"), versions_held(r, agent, "m")) == ([5, 6, 7], [3, 4, 5])
