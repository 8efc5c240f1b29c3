"""The scheduler's lead (shared/schedule/leader.py): one lock, renewed by compare-and-set,
lost when it expires, in-process against the real Redis."""

from __future__ import annotations

import time

from memanto_redis.shared.infra import keys
from memanto_redis.shared.schedule.leader import Leadership


def test_the_lock_renews_by_compare_and_set_and_expires(r, queue):
    a = Leadership(r, keys.SCHEDULER_LEADER, 600)
    b = Leadership(r, keys.SCHEDULER_LEADER, 600)
    assert a.hold()
    for _ in range(6):  # a live leader keeps the lock well past one expiry
        time.sleep(0.2)
        assert a.hold() and not b.hold()
    # A leader that stalls past its expiry finds the lock taken and does not renew it.
    time.sleep(0.7)
    assert b.hold()
    assert not a.hold()
    assert r.get(keys.SCHEDULER_LEADER).decode() == b.token
    a.release()  # not ours: left alone
    assert r.get(keys.SCHEDULER_LEADER).decode() == b.token
    b.release()
    assert r.get(keys.SCHEDULER_LEADER) is None
