"""Settings, read from the environment in this one place (12-factor)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field


class ConfigError(ValueError):
    """An environment variable holds a value the service cannot use."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc


def _intervals(env: Mapping[str, str], name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    """Comma-separated whole seconds, e.g. "10,60,300"; "none" means no retries."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    if raw.strip().lower() == "none":
        return ()
    try:
        values = tuple(int(part) for part in raw.split(","))
    except ValueError as exc:
        raise ConfigError(f"{name} must be comma-separated whole seconds, got {raw!r}") from exc
    if any(v < 0 for v in values) or len(values) > 25:
        raise ConfigError(f"{name} takes at most 25 intervals of 0 or more seconds")
    return values


@dataclass(frozen=True)
class Settings:
    redis_url: str = "redis://127.0.0.1:6379/0"
    # How long a process waits for Redis at start before it gives up with a clear error.
    redis_wait_seconds: float = 30.0
    # Admin key from the environment; named keys live in Redis as digests.
    api_key: str = field(default="", repr=False)
    jwt_secret: str = field(default="", repr=False)
    session_hours: float = 6.0
    # Ingest pipeline.
    batch_size: int = 64
    block_ms: int = 500
    claim_idle_ms: int = 15_000
    max_deliveries: int = 5
    max_backlog: int = 500_000
    # Embeddings: a local sentence-transformers model by default.
    embed_model: str = "all-MiniLM-L6-v2"
    # CPU threads for the web process's query embeddings (the worker uses every core).
    web_embed_threads: int = 1
    max_body_bytes: int = 2 * 1024 * 1024
    # Short-term memory: newest entries kept per session, and idle time before it expires.
    stm_max_entries: int = 200
    stm_idle_seconds: int = 24 * 3600
    # Swarm facts: TTL when none is asked for, and the most that may be asked for.
    swarm_default_ttl: int = 3600
    swarm_max_ttl: int = 7 * 24 * 3600
    # Scheduler: how long the leader's lock lives without renewal.
    scheduler_lock_ms: int = 5000
    # Scheduled prompts: schedules per agent, runs kept per schedule, inbox messages kept
    # per agent, and inbox long-polls one web process holds open at once.
    max_schedules: int = 100
    schedule_runs_kept: int = 100
    inbox_max: int = 1000
    inbox_max_waiters: int = 50
    # Webhooks: seconds per attempt, and the pauses before each retry (their count is the
    # number of retries).
    webhook_timeout: float = 10.0
    webhook_retry_intervals: tuple[int, ...] = (10, 60, 300)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            redis_url=env.get("REDIS_URL") or cls.redis_url,
            redis_wait_seconds=_float(env, "MEMANTO_REDIS_WAIT_SECONDS", cls.redis_wait_seconds),
            api_key=env.get("MEMANTO_API_KEY", ""),
            jwt_secret=env.get("MEMANTO_JWT_SECRET", ""),
            session_hours=_float(env, "MEMANTO_SESSION_HOURS", cls.session_hours),
            batch_size=_int(env, "MEMANTO_BATCH_SIZE", cls.batch_size, minimum=1),
            block_ms=_int(env, "MEMANTO_BLOCK_MS", cls.block_ms, minimum=1),
            claim_idle_ms=_int(env, "MEMANTO_CLAIM_IDLE_MS", cls.claim_idle_ms, minimum=1),
            max_deliveries=_int(env, "MEMANTO_MAX_DELIVERIES", cls.max_deliveries, minimum=1),
            max_backlog=_int(env, "MEMANTO_MAX_BACKLOG", cls.max_backlog),
            embed_model=env.get("MEMANTO_EMBED_MODEL") or cls.embed_model,
            web_embed_threads=_int(env, "MEMANTO_WEB_EMBED_THREADS", cls.web_embed_threads,
                                   minimum=1),
            max_body_bytes=_int(env, "MEMANTO_MAX_BODY_BYTES", cls.max_body_bytes, minimum=1024),
            stm_max_entries=_int(env, "MEMANTO_STM_MAX_ENTRIES", cls.stm_max_entries, minimum=1),
            stm_idle_seconds=_int(env, "MEMANTO_STM_IDLE_SECONDS", cls.stm_idle_seconds,
                                  minimum=1),
            swarm_default_ttl=_int(env, "MEMANTO_SWARM_DEFAULT_TTL", cls.swarm_default_ttl,
                                   minimum=1),
            swarm_max_ttl=_int(env, "MEMANTO_SWARM_MAX_TTL", cls.swarm_max_ttl, minimum=1),
            scheduler_lock_ms=_int(env, "MEMANTO_SCHEDULER_LOCK_MS", cls.scheduler_lock_ms,
                                   minimum=500),
            max_schedules=_int(env, "MEMANTO_MAX_SCHEDULES", cls.max_schedules, minimum=1),
            schedule_runs_kept=_int(env, "MEMANTO_SCHEDULE_RUNS_KEPT", cls.schedule_runs_kept,
                                    minimum=1),
            inbox_max=_int(env, "MEMANTO_INBOX_MAX", cls.inbox_max, minimum=10),
            inbox_max_waiters=_int(env, "MEMANTO_INBOX_MAX_WAITERS", cls.inbox_max_waiters,
                                   minimum=1),
            webhook_timeout=_float(env, "MEMANTO_WEBHOOK_TIMEOUT", cls.webhook_timeout),
            webhook_retry_intervals=_intervals(env, "MEMANTO_WEBHOOK_RETRY_INTERVALS",
                                               cls.webhook_retry_intervals),
        )

    def require_secrets(self) -> None:
        """The web process cannot authenticate anybody without both secrets."""
        missing = [
            name
            for name, value in (("MEMANTO_API_KEY", self.api_key),
                                ("MEMANTO_JWT_SECRET", self.jwt_secret))
            if not value
        ]
        if missing:
            raise ConfigError(f"{' and '.join(missing)} must be set in the environment")
        if len(self.jwt_secret) < 32:
            raise ConfigError("MEMANTO_JWT_SECRET must be at least 32 characters")
