"""Jobs run by the `jobs` process (`python -m memanto_redis.workers.jobs`: RQ's
`rq worker --with-scheduler memanto` with this module's JobsWorker).

`deliver` puts a fired prompt in the agent's inbox and, as a `system` message, in its
short-term memory, then hands a webhook (when the schedule has one) to `post_webhook`,
which RQ retries with backoff. Both read the schedule from Redis rather than from their
arguments, so neither a prompt nor a secret ever sits in RQ's job data or its logs.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import sys
import time
from typing import Any

from redis import ConnectionPool, Redis
from redis.client import Pipeline
from redis.exceptions import WatchError
from rq import Queue, Retry, Worker, get_current_job
from rq.job import Job

from memanto_redis.shared.agent_memory.stm import DEFAULT_SESSION, StmWriter
from memanto_redis.shared.infra import keys, logs, metrics, scripts
from memanto_redis.shared.infra.connection import HEALTH_CHECK_SECONDS, client_options
from memanto_redis.shared.infra.heartbeat import Heartbeat
from memanto_redis.shared.infra.replies import text
from memanto_redis.shared.infra.settings import ConfigError, Settings
from memanto_redis.shared.infra.times import iso
from memanto_redis.shared.schedule import egress, inbox, webhooks


@functools.cache
def settings() -> Settings:
    """The jobs process's settings, read once: JobsWorker reads them as the process starts,
    and each work horse it forks for a job inherits them."""
    return Settings.from_env()


# RQ's scheduler (`--with-scheduler`: it moves retries due after their interval back to the
# queue) runs in a child process that dies on a Redis blip, and the worker starts it again
# only in its maintenance turn, every 600 s by default: retries would stall for ten minutes.
MAINTENANCE_SECONDS = 10


def _quiet_maintenance(logger: logging.Logger) -> None:
    """Maintenance every few seconds would fill the console with RQ's two lines about
    cleaning registries (at INFO); they say nothing an operator acts on, so drop them."""
    if not any(isinstance(f, _MaintenanceLines) for f in logger.filters):
        logger.addFilter(_MaintenanceLines())


class _MaintenanceLines(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno == logging.INFO and "cleaning" in str(record.msg))


class JobsWorker(Worker):
    """The `jobs` process's worker (`rq worker -w ...jobs.JobsWorker`). Naming it makes
    the parent import this module once, so each forked work horse starts with the job code
    loaded instead of importing it again per job (0.5 s and more on a busy machine); it
    reads the settings then too, so a bad value stops the process at once, in one line.

    It also keeps RQ's scheduler alive: maintenance (which restarts a dead scheduler) runs
    every MAINTENANCE_SECONDS at most, and an idle worker wakes from its wait for a job
    that often to do it; its Redis connections get the service's retry and keepalive."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        try:
            current = settings()
        except ConfigError as exc:
            raise SystemExit(f"jobs: {exc}") from None
        # Before RQ's work() looks for a handler: it then finds ours and adds none.
        logs.setup("jobs", current.log_format, current.log_level)
        kwargs["maintenance_interval"] = min(
            kwargs.get("maintenance_interval") or MAINTENANCE_SECONDS, MAINTENANCE_SECONDS)
        _quiet_maintenance(logging.getLogger("rq.worker"))
        connection = kwargs.get("connection")
        if connection is not None:
            # As RQ sets its socket timeout: on the pool, for every connection made from
            # now on (the scheduler's child builds its own pool from these too).
            connection.connection_pool.connection_kwargs.update(
                health_check_interval=HEALTH_CHECK_SECONDS, **client_options())
        super().__init__(*args, **kwargs)

    @property
    def dequeue_timeout(self) -> int:
        return max(1, min(super().dequeue_timeout, self.maintenance_interval))

    def work(self, *args: Any, **kwargs: Any) -> bool:
        """RQ's work loop, with our heartbeat beating beside it (RQ's own is kept in RQ's
        keys, per worker, with its own expiry; ours is the service's, like the others)."""
        # A pool of its own: a connection the beat opened before RQ set its socket timeout
        # for blocking dequeues would time out under RQ's next dequeue.
        pool = self.connection.connection_pool
        client = Redis(connection_pool=ConnectionPool(connection_class=pool.connection_class,
                                                      **pool.connection_kwargs))
        beat = Heartbeat(client, "jobs", self.name, settings().heartbeat_seconds,
                         info=lambda: {"queue": keys.JOBS_QUEUE}).start()
        try:
            return bool(super().work(*args, **kwargs))
        finally:
            beat.stop()
            client.close()


class WebhookFailed(Exception):
    """The receiver did not answer 2xx; raised so that RQ retries the job."""


def job_id(kind: str, agent_id: str, name: str, scheduled_for: int) -> str:
    """The RQ job id of one step of one run ("fire": its delivery, "webhook": its webhook):
    the same for every attempt, so RQ holds one such job per run however often it is
    enqueued. RQ ids allow only letters, digits, - and _; names may hold dots."""
    digest = hashlib.sha256(f"{agent_id}/{name}/{scheduled_for}".encode()).hexdigest()[:32]
    return f"memanto-{kind}-{digest}"


def deliver(agent_id: str, name: str, scheduled_for: int) -> str:
    job = _current_job()
    return Delivery(job.connection, settings()).deliver(agent_id, name, scheduled_for)


def post_webhook(agent_id: str, name: str, scheduled_for: int) -> str:
    job = _current_job()
    # RQ counts retries down while a job runs; none left means this attempt is the last.
    final = not job.retries_left
    return Delivery(job.connection, settings()).post_webhook(
        agent_id, name, scheduled_for, final=final)


def _current_job() -> Job:
    job = get_current_job()
    if job is None:
        raise RuntimeError("called outside an RQ job")
    return job


class Delivery:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self.stm = StmWriter(settings.stm_max_entries, settings.stm_idle_seconds)
        self.queue = Queue(keys.JOBS_QUEUE, connection=redis)
        self._deliver = redis.register_script(scripts.DELIVER_PROMPT)
        self._stm_append = redis.register_script(scripts.STM_APPEND)
        self._attempt = redis.register_script(scripts.RECORD_WEBHOOK_ATTEMPT)

    def deliver(self, agent_id: str, name: str, scheduled_for: int) -> str:
        run = keys.schedule_run(agent_id, name, scheduled_for)
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    # The run record is the once-only token: its delivered_at is written in
                    # the same transaction as the inbox entry and the STM message.
                    pipe.watch(run)
                    fired_at, delivered = pipe.hmget(run, "fired_at", "delivered_at")
                    if fired_at is None:
                        return "skipped: the schedule was deleted"
                    if delivered:
                        return "skipped: already delivered"
                    raw_prompt, webhook_url = pipe.hmget(keys.schedule(agent_id, name),
                                                         "prompt", "webhook_url")
                    if raw_prompt is None:
                        return "skipped: the schedule was deleted"
                    prompt = text(raw_prompt)
                    session = self._stm_session(pipe, agent_id)
                    now = time.time()
                    pipe.multi()
                    self._deliver(keys=[keys.inbox(agent_id), run],
                                  args=[self.settings.inbox_max, repr(now),
                                        *inbox.entry_fields(name, prompt, scheduled_for,
                                                            float(fired_at))],
                                  client=pipe)
                    self._stm_append(*self.stm.call(agent_id, session, [("system", prompt)],
                                                    now), client=pipe)
                    if webhook_url:
                        pipe.hset(run, "webhook_status", "pending")
                        self._enqueue_webhook(pipe, agent_id, name, scheduled_for)
                    metrics.count_now(pipe, metrics.DELIVERIES)
                    pipe.execute()
                    return f"delivered to the inbox and STM session {session}"
                except WatchError:
                    continue

    @staticmethod
    def _stm_session(pipe: Pipeline, agent_id: str) -> str:
        """The agent's current STM session: the one last written, else its live session."""
        current = pipe.get(keys.stm_current(agent_id)) or pipe.hget(keys.session(agent_id),
                                                                     "sid")
        return text(current) if current else DEFAULT_SESSION

    def _enqueue_webhook(self, pipe: Pipeline, agent_id: str, name: str,
                         scheduled_for: int) -> None:
        intervals = list(self.settings.webhook_retry_intervals)
        self.queue.enqueue(
            post_webhook, agent_id, name, scheduled_for,
            job_id=job_id("webhook", agent_id, name, scheduled_for),
            description=f"webhook {agent_id}/{name} for {iso(scheduled_for)}",
            retry=Retry(max=len(intervals), interval=intervals) if intervals else None,
            job_timeout=int(self.settings.webhook_timeout) + 30,
            result_ttl=3600, failure_ttl=7 * 24 * 3600, pipeline=pipe,
        )

    def post_webhook(self, agent_id: str, name: str, scheduled_for: int, final: bool) -> str:
        run = keys.schedule_run(agent_id, name, scheduled_for)
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.hmget(keys.schedule(agent_id, name), "webhook_url", "secret", "prompt")
            pipe.hmget(run, "fired_at", "webhook_status", "webhook_attempts")
            (url, secret, prompt), (fired_at, status, attempts) = pipe.execute()
        if url is None or fired_at is None:
            return "skipped: the schedule was deleted"
        if status == b"delivered":
            return "skipped: already delivered"
        raw = webhooks.body(agent_id, name, prompt.decode(), scheduled_for, float(fired_at))
        delivery = f"{agent_id}/{name}/{scheduled_for}"
        headers = webhooks.headers(secret.decode(), raw, delivery, int(attempts or 0) + 1)
        # Sent only to an address the policy admits, the one it checked (egress.py).
        attempt = egress.post(url.decode(), raw, headers, self.settings.webhook_timeout,
                              egress.Allow.parse(self.settings.webhook_allow))
        error = attempt.error
        final = final or attempt.final
        now = repr(time.time())
        outcome = "delivered" if error is None else "failed" if final else "retrying"
        fields = ["webhook_status", outcome, "webhook_last_attempt_at", now,
                  "webhook_http_status", attempt.http_status or "",
                  "webhook_error", error or ""]
        if error is None:
            fields += ["webhook_delivered_at", now]
        self._attempt(keys=[run], args=fields)
        metrics.count_now(self.redis, metrics.WEBHOOKS, outcome=outcome)
        if error is None:
            return f"webhook delivered (HTTP {attempt.http_status})"
        if attempt.final:
            # Not raised: a retry would be refused the same way.
            return f"webhook {delivery}: {error}, not retried"
        raise WebhookFailed(f"webhook {delivery}: {error}" + ("" if final else "; will retry"))


def main() -> None:
    """The jobs process: RQ's own `rq worker` command, given the Redis URL in its
    environment (RQ_REDIS_URL) instead of on its command line, where `ps` would show the
    password in it to every user of the host."""
    from rq.cli import main as rq_main

    try:
        os.environ["RQ_REDIS_URL"] = settings().redis_url
    except ConfigError as exc:
        sys.exit(f"jobs: {exc}")
    sys.argv = ["rq", "worker", "--with-scheduler", "-w", f"{__name__}.JobsWorker",
                keys.JOBS_QUEUE]
    rq_main()


if __name__ == "__main__":
    main()
