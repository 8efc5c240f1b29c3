"""Trimming superseded versions to what MEMANTO_VERSIONS_KEPT keeps.

Each change of a memory archives its state and drops the one version that falls out of the
window (`edits.MemoryEditor._archive`). A window made smaller leaves the older versions
behind; `trim` removes every archived version beyond the newest `kept` of its memory. The
release phase runs it, so a lowered setting holds from the next deploy (a Heroku config
change is a release too); a release whose window is not smaller than the last one's skips
the scan.
"""

from __future__ import annotations

from collections import defaultdict

from redis import Redis

from memanto_redis.shared.infra import keys

_CHUNK = 500
_VERSION = keys.VERSION_PREFIX.encode()


def trim(client: Redis, kept: int) -> int:
    """Unlink, for every memory of every agent, the archived versions older than its
    newest `kept` (0 keeps them all); returns how many went. Safe beside live edits: a
    version archived meanwhile only raises the newest, and what is older stays older.
    Skipped (0) when the last trim left every memory within a window no wider: each change
    since has kept to the window too."""
    window = client.get(keys.VERSIONS_WINDOW)
    if kept <= 0 or (window is not None and 0 < int(window) <= kept):
        client.set(keys.VERSIONS_WINDOW, kept)
        return 0
    removed = 0
    for set_key in client.scan_iter(match=keys.VERSION_KEYS_PATTERN, count=1000):
        by_memory: defaultdict[bytes, list[tuple[int, bytes]]] = defaultdict(list)
        for key in client.sscan_iter(set_key, count=1000):
            # The set holds the agent's tombstones too (tomb:{agent}:<id>, and an id may be
            # all digits): only version keys are counted.
            if not key.startswith(_VERSION):
                continue
            memory, _, number = key.rpartition(b":")
            if number.isdigit():
                by_memory[memory].append((int(number), key))
        doomed = [key for versions in by_memory.values()
                  for _, key in sorted(versions)[:-kept]]
        for start in range(0, len(doomed), _CHUNK):
            chunk = doomed[start:start + _CHUNK]
            with client.pipeline(transaction=False) as pipe:
                pipe.unlink(*chunk)  # each key's index document goes with it
                pipe.srem(set_key, *chunk)
                pipe.execute()
        removed += len(doomed)
    client.set(keys.VERSIONS_WINDOW, kept)
    return removed
