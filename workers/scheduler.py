"""The `scheduler` process: the cron clock.

    python -m memanto_redis.workers.scheduler

Reads the due set (schedules by next fire time), fires each due schedule by enqueueing an
RQ job for the `jobs` process, and moves the schedule's `next_run` on with croniter. Run
two for availability: one leads (shared/leader.py), the other stands by.

Exactly once per (schedule, scheduled time): a fire is ONE Redis transaction, under WATCH
of the schedule hash and the leader lock, that checks the schedule is still due at the
`next_run` it read and this process still leads, then moves `next_run` on, writes the run
record and enqueues the delivery job. Either all of it happens or none of it does. So a
scheduler dying at any point leaves the slot either unfired (still due: the next leader
fires it) or fired once with `next_run` already past it (nobody fires it again), and two
schedulers racing on one slot cannot both commit, whichever of them thinks it leads. The
job id is derived from (agent, schedule, time), and delivery is idempotent on the run
record, so even a job RQ runs twice delivers once.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import cast

import redis
from redis import Redis
from redis.client import Pipeline
from redis.exceptions import WatchError
from rq import Queue, Retry

from memanto_redis.shared.infra import keys, metrics
from memanto_redis.shared.infra.connection import connect
from memanto_redis.shared.infra.heartbeat import Heartbeat
from memanto_redis.shared.infra.replies import text
from memanto_redis.shared.infra.settings import Settings
from memanto_redis.shared.infra.times import iso
from memanto_redis.shared.schedule import cron
from memanto_redis.shared.schedule.leader import Leadership
from memanto_redis.shared.schedule.store import due_member, split_member
from memanto_redis.workers import jobs, policy_sweep
from memanto_redis.workers.process import StopFlag, run_main

log = logging.getLogger("memanto.scheduler")

# Longest nap between looks at the due set: bounds how late a schedule created meanwhile
# (due sooner than anything known at the last look) can fire.
MAX_PAUSE = 0.25
BATCH = 100
# How long a day's "sweep queued" marker outlives the day, and the most a sweep may run.
SWEEP_MARKER_SECONDS = 3 * 86_400
SWEEP_TIMEOUT = 3 * 3600


class Clock:
    """One turn fires every due schedule (up to a batch); `turn(now=...)` tests drive it."""

    def __init__(self, redis: Redis, queue: Queue, leader: Leadership | None = None,
                 runs_kept: int = 100, tally: metrics.Tally | None = None) -> None:
        self.redis = redis
        self.queue = queue
        self.leader = leader
        self.runs_kept = runs_kept
        self.tally = tally

    def turn(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        due = cast(list[bytes], self.redis.zrangebyscore(keys.SCHEDULES_DUE, "-inf", now,
                                                         start=0, num=BATCH))
        return sum(self.fire(member, now) for member in due)

    def pause(self, now: float | None = None) -> float:
        """Seconds until the earliest schedule is due, at most MAX_PAUSE."""
        now = time.time() if now is None else now
        first = cast(list[tuple[bytes, float]],
                     self.redis.zrange(keys.SCHEDULES_DUE, 0, 0, withscores=True))
        return min(MAX_PAUSE, max(0.0, first[0][1] - now)) if first else MAX_PAUSE

    def fire(self, member: bytes | str, now: float) -> bool:
        """Fire one schedule if it is still due; True when this call fired it."""
        due = text(member)
        agent_id, name = split_member(due)
        key = keys.schedule(agent_id, name)
        with self.redis.pipeline() as pipe:
            try:
                pipe.watch(key, keys.SCHEDULER_LEADER)
                if self.leader and not self.leader.holds_lock(pipe):
                    return False
                expression, timezone, next_run = pipe.hmget(key, "cron", "timezone", "next_run")
                if next_run is None or expression is None or timezone is None:
                    # Deleted: drop what is left of it in the due set.
                    pipe.multi()
                    pipe.zrem(keys.SCHEDULES_DUE, due)
                    pipe.execute()
                    return False
                if int(next_run) > now:
                    # Fired by another process since our read: follow its next_run.
                    pipe.multi()
                    pipe.zadd(keys.SCHEDULES_DUE, {due: int(next_run)})
                    pipe.execute()
                    return False
                scheduled, following = cron.due(text(expression), text(timezone),
                                                int(next_run), now)
                self._commit(pipe, agent_id, name, scheduled, following, now)
            except WatchError:
                # The schedule or the lock changed under us: this slot is someone else's
                # (or gone); the next turn reads afresh.
                return False
            except ValueError as exc:
                log.error("schedule %s/%s cannot be computed (%s); taking it off the clock",
                          agent_id, name, exc)
                self.redis.zrem(keys.SCHEDULES_DUE, due)
                return False
        log.info("fired %s/%s for %s (next %s)", agent_id, name, iso(scheduled), iso(following))
        if self.tally is not None:
            self.tally.inc(metrics.FIRES)
            self.tally.observe(metrics.FIRE_DELAY, max(0.0, now - scheduled))
            if now - scheduled > metrics.LATE_SECONDS:
                self.tally.inc(metrics.LATE_FIRES)
        return True

    def _commit(self, pipe: Pipeline, agent_id: str, name: str, scheduled: int, following: int,
                now: float) -> None:
        runs = keys.schedule_runs(agent_id, name)
        # The oldest runs that fall out of the kept window once this one is added.
        dropped = [int(s) for s in cast(list[bytes], pipe.zrange(runs, 0, -self.runs_kept))]
        pipe.multi()
        pipe.hset(keys.schedule(agent_id, name),
                  mapping={"next_run": following, "last_run": scheduled})
        pipe.hincrby(keys.schedule(agent_id, name), "run_count", 1)
        pipe.zadd(keys.SCHEDULES_DUE, {due_member(agent_id, name): following})
        pipe.hset(keys.schedule_run(agent_id, name, scheduled),
                  mapping={"scheduled_for": scheduled, "fired_at": repr(now),
                           "status": "queued"})
        pipe.zadd(runs, {str(scheduled): scheduled})
        if dropped:
            pipe.zrem(runs, *[str(s) for s in dropped])
            pipe.delete(*[keys.schedule_run(agent_id, name, s) for s in dropped])
        self.queue.enqueue(
            jobs.deliver, agent_id, name, scheduled,
            job_id=jobs.job_id("fire", agent_id, name, scheduled),
            description=f"deliver {agent_id}/{name} for {iso(scheduled)}",
            # Delivery is idempotent, so a retry (or RQ re-running a job whose worker died)
            # is safe.
            retry=Retry(max=3, interval=[1, 5, 30]),
            job_timeout=60, result_ttl=3600, failure_ttl=7 * 24 * 3600,
            pipeline=pipe,
        )
        pipe.execute()


class Nightly:
    """Queues the day's memory-policy sweep (policy_sweep.sweep_policies) once per UTC
    day, at `at` (HH:MM, UTC) or, when no scheduler led then, as soon after as one does.
    `tick(now=...)` tests drive it."""

    def __init__(self, redis: Redis, queue: Queue, at: str,
                 leader: Leadership | None = None) -> None:
        self.redis = redis
        self.queue = queue
        self.at = None if at == "off" else int(at[:2]) * 3600 + int(at[3:]) * 60
        self.leader = leader
        self._queued_day: str | None = None  # spares Redis a look every turn once done

    def due_day(self, now: float) -> str | None:
        """The UTC day whose sweep is due at `now`, if its time has come."""
        if self.at is None or now % 86_400 < self.at:
            return None
        return datetime.fromtimestamp(now, tz=UTC).date().isoformat()

    def tick(self, now: float | None = None) -> bool:
        """Queue the sweep if it is due and not queued yet; True when this call did. One
        transaction under WATCH of the day's marker and the leader lock, as a fire."""
        now = time.time() if now is None else now
        day = self.due_day(now)
        if day is None or day == self._queued_day:
            return False
        marker = keys.POLICY_SWEEP_DAY_PREFIX + day
        with self.redis.pipeline() as pipe:
            try:
                pipe.watch(marker, keys.SCHEDULER_LEADER)
                if self.leader and not self.leader.holds_lock(pipe):
                    return False
                if pipe.exists(marker):
                    self._queued_day = day
                    return False
                pipe.multi()
                pipe.set(marker, repr(now), ex=SWEEP_MARKER_SECONDS)
                self.queue.enqueue(policy_sweep.sweep_policies,
                                   job_id=f"memanto-policy-sweep-{day}",
                                   description=f"memory-policy sweep of {day}",
                                   job_timeout=SWEEP_TIMEOUT, result_ttl=7 * 86_400,
                                   failure_ttl=7 * 86_400, pipeline=pipe)
                pipe.execute()
            except WatchError:
                return False  # another scheduler moved first; the next turn reads afresh
        self._queued_day = day
        log.info("queued the memory-policy sweep of %s", day)
        return True


def run(clock: Clock, leader: Leadership, should_stop: Callable[[], bool],
        nightly: Nightly | None = None) -> None:
    """Lead and fire, or stand by, until told to stop; a lost Redis is waited out."""
    leading = False
    try:
        while not should_stop():
            try:
                held = leader.hold()
                if held and not leading and clock.tally is not None:
                    clock.tally.inc(metrics.LEADER_CHANGES)
                leading = held
                if held:
                    if nightly is not None:
                        nightly.tick()
                    clock.turn()
                    time.sleep(clock.pause())
                else:
                    time.sleep(MAX_PAUSE)
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                # Still leading as far as we know: once Redis answers, the renewal's
                # compare-and-set keeps the lead if the lock survived (a restart from the
                # AOF keeps it), or gives it up if it expired meanwhile. A fire checks the
                # lock under WATCH either way, so thinking we lead never fires twice.
                log.warning("Redis unavailable (%s); retrying", exc)
                time.sleep(0.5)
    finally:
        with contextlib.suppress(redis.RedisError):
            leader.release()


def main(settings: Settings) -> None:
    stop = StopFlag()
    client = connect(settings.redis_url, wait_seconds=settings.redis_wait_seconds)
    leader = Leadership(client, keys.SCHEDULER_LEADER, settings.scheduler_lock_ms)
    tally = metrics.Tally(client)
    clock = Clock(client, Queue(keys.JOBS_QUEUE, connection=client), leader,
                  runs_kept=settings.schedule_runs_kept, tally=tally)
    beat = Heartbeat(client, "scheduler", leader.token, settings.heartbeat_seconds,
                     info=lambda: {"leading": leader.holds_lock(client)},
                     flush=tally.flush).start()
    log.info("scheduler %s up (lock %d ms); waiting to lead", leader.token,
             settings.scheduler_lock_ms)
    try:
        run(clock, leader, stop,
            Nightly(client, clock.queue, settings.policy_sweep_at, leader))
    finally:
        beat.stop()
    log.info("scheduler %s stopped", leader.token)


if __name__ == "__main__":
    run_main("scheduler", main)
