"""Settings, read from the environment in this one place (12-factor).

Each field is read from `MEMANTO_<FIELD>` (the Redis URL from `REDIS_URL`); an empty
variable means the default. pydantic-settings finds the variables and pydantic checks the
values; a value the service cannot use becomes one `ConfigError` line that names the
variable and what it must be.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from annotated_types import Ge
from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

ENV_PREFIX = "MEMANTO_"
# Fields read from a variable of their own name, without the prefix, as other tools spell them.
UNPREFIXED = {"redis_url": "REDIS_URL", "log_format": "LOG_FORMAT", "log_level": "LOG_LEVEL"}
MAX_RETRY_INTERVALS = 25


class ConfigError(ValueError):
    """An environment variable holds a value the service cannot use."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        frozen=True,
        env_prefix=ENV_PREFIX,
        env_ignore_empty=True,
    )

    # REDIS_URL, without the prefix, as every Redis tool spells it.
    redis_url: str = Field("redis://127.0.0.1:6379/0",
                           validation_alias=AliasChoices("redis_url", "REDIS_URL"))
    # How long a process waits for Redis at start before it gives up with a clear error.
    redis_wait_seconds: float = 30.0
    # Admin key from the environment; named keys live in Redis as digests.
    api_key: str = Field("", repr=False)
    jwt_secret: str = Field("", repr=False)
    session_hours: float = 6.0
    # A session's absolute lifetime from its start: extending past it takes an API key.
    session_max_hours: float = Field(7 * 24.0, gt=0, description="a number of hours > 0")
    # Ingest pipeline.
    batch_size: int = Field(64, ge=1)
    block_ms: int = Field(500, ge=1)
    claim_idle_ms: int = Field(15_000, ge=1)
    max_deliveries: int = Field(5, ge=1)
    max_backlog: int = Field(500_000, ge=0)
    # How long a write's Idempotency-Key is remembered: a retry within it is answered again,
    # not stored twice.
    idempotency_seconds: int = Field(86_400, ge=1)
    # Quotas, per agent (0: none). Writes: a token bucket refilled at `write_rate` memories
    # a second up to `write_burst` (an admin may set either per agent); then caps on what
    # an agent holds: memories, STM sessions, live swarm facts written in its name, and
    # archived versions per memory. A session caller's schedules fire at most once per
    # `schedule_min_interval` seconds.
    write_rate: float = Field(1000.0, ge=0, description="memories a second >= 0")
    write_burst: int = Field(2000, ge=1)
    max_memories: int = Field(1_000_000, ge=0)
    max_stm_sessions: int = Field(1000, ge=0)
    max_swarm_facts: int = Field(10_000, ge=0)
    versions_kept: int = Field(100, ge=0)
    schedule_min_interval: int = Field(60, ge=0)
    # Seconds a 429 is held before it is sent, which slows a flooding client down.
    rate_limit_hold: float = Field(0.5, ge=0, le=5, description="seconds from 0 to 5")
    # Embeddings: a local sentence-transformers model by default.
    embed_model: str = "all-MiniLM-L6-v2"
    # CPU threads for the web process's query embeddings (the worker uses every core).
    web_embed_threads: int = Field(1, ge=1)
    # Embeddings from a service instead (any OpenAI-compatible /v1/embeddings, such as
    # `memanto embed-server`): the web and workers then need no torch. The key is sent as a
    # Bearer token (and `memanto embed-server` asks for it); the size of the vectors is asked
    # of the service once at start unless given here.
    embeddings_url: str = Field("", description="an http:// or https:// URL (the service's "
                                "root, /v1/embeddings is added)")
    embeddings_api_key: str = Field("", repr=False)
    embeddings_dims: int | None = Field(None, ge=1, description="a whole number >= 1")
    embeddings_timeout: float = Field(30.0, gt=0, description="a number of seconds > 0")
    max_body_bytes: int = Field(2 * 1024 * 1024, ge=1024)
    # Uploads (upload-file): the largest file taken (streamed to disk, never held in
    # memory), the most memories, one per chunk of its text, one file may make, and the
    # longest its text may take to extract (in a process of its own, killed then).
    max_upload_bytes: int = Field(25 * 1024 * 1024, ge=1024)
    max_upload_chunks: int = Field(1000, ge=1)
    upload_read_seconds: float = Field(60.0, gt=0, le=3600,
                                       description="seconds, more than 0 and at most 3600")
    # Short-term memory: newest entries kept per session, and idle time before it expires.
    stm_max_entries: int = Field(200, ge=1)
    stm_idle_seconds: int = Field(24 * 3600, ge=1)
    # Swarm facts: TTL when none is asked for, and the most that may be asked for.
    swarm_default_ttl: int = Field(3600, ge=1)
    swarm_max_ttl: int = Field(7 * 24 * 3600, ge=1)
    # Scheduler: how long the leader's lock lives without renewal.
    scheduler_lock_ms: int = Field(5000, ge=500)
    # When (UTC, HH:MM) the scheduler queues the nightly memory-policy sweep, or "off".
    policy_sweep_at: str = Field("03:00", pattern=r"^(([01]\d|2[0-3]):[0-5]\d|off)$",
                                 description="a UTC time as HH:MM (e.g. 03:00), or 'off'")
    # Scheduled prompts: schedules per agent, runs kept per schedule, inbox messages kept
    # per agent, and inbox long-polls one web process holds open at once.
    max_schedules: int = Field(100, ge=1)
    schedule_runs_kept: int = Field(100, ge=1)
    inbox_max: int = Field(1000, ge=10)
    inbox_max_waiters: int = Field(50, ge=1)
    # Webhooks: seconds per attempt, and the pauses before each retry (their count is the
    # number of retries). In the environment: comma-separated seconds, e.g. "10,60,300",
    # or "none" for no retries (NoDecode: not JSON, as pydantic-settings reads tuples).
    webhook_timeout: float = 10.0
    webhook_retry_intervals: Annotated[
        tuple[Annotated[int, Field(ge=0)], ...], NoDecode,
        Field(max_length=MAX_RETRY_INTERVALS,
              description=f"comma-separated whole seconds (0 or more, at most "
                          f"{MAX_RETRY_INTERVALS} of them) or 'none'"),
    ] = (10, 60, 300)
    # Internal addresses webhooks may reach all the same (none by default: loopback,
    # private, link-local... are refused): comma-separated IPs, CIDRs or host names.
    webhook_allow: Annotated[
        tuple[str, ...], NoDecode,
        Field(description="comma-separated IPs, CIDRs (10.0.0.0/8, fd00::/8) or host names"),
    ] = ()

    # Operations: how often worker processes write their heartbeat (it lives 3 times as
    # long), the Bearer token /metrics asks for (none: open), and the logs' shape.
    heartbeat_seconds: float = Field(5.0, gt=0, description="a number of seconds > 0")
    metrics_token: str = Field("", repr=False)
    log_format: Literal["json", "text"] = Field(
        "json", validation_alias=AliasChoices("log_format", "LOG_FORMAT"),
        description="'json' (one object per line) or 'text'")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", validation_alias=AliasChoices("log_level", "LOG_LEVEL"),
        description="DEBUG, INFO, WARNING or ERROR")

    @field_validator("log_format", "log_level", mode="before")
    @classmethod
    def _any_case(cls, value: Any, info: Any) -> Any:
        if not isinstance(value, str):
            return value
        return value.strip().lower() if info.field_name == "log_format" else value.strip().upper()

    @field_validator("embeddings_url")
    @classmethod
    def _service_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        parts = urlsplit(value)
        if value and (parts.scheme not in ("http", "https") or not parts.hostname):
            raise ValueError("not an http(s) URL")
        # Given as the root or as the endpoint itself: either way, the root.
        return value.removesuffix("/v1/embeddings").removesuffix("/v1")

    @field_validator("webhook_retry_intervals", mode="before")
    @classmethod
    def _split_intervals(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text == "":
            return cls.model_fields["webhook_retry_intervals"].default
        if text.lower() == "none":
            return ()
        return tuple(part.strip() for part in text.split(","))

    @field_validator("webhook_allow", mode="before")
    @classmethod
    def _split_allow(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.split(",")
        return tuple(str(part).strip() for part in value if str(part).strip())

    @field_validator("webhook_allow")
    @classmethod
    def _check_allow(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from memanto_redis.shared.schedule.egress import Allow

        Allow.parse(value)  # ValueError names the entry
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Keyword arguments only: `Settings(batch_size=8)` is exactly that and the defaults,
        # whatever the environment holds. from_env() is the one reader of the environment.
        return (init_settings,)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings from `env` (the process's environment unless given): what every
        process reads once at its start."""
        values = _Environment(cls, os.environ if env is None else env)()
        try:
            return cls(**values)
        except ValidationError as exc:
            raise ConfigError(_explain(exc, values)) from exc

    @classmethod
    def env_name(cls, field: str) -> str:
        """The environment variable that sets `field`."""
        return UNPREFIXED.get(field, ENV_PREFIX + field.upper())

    def varied(self, **changes: Any) -> Settings:
        """These settings with some changed, each value checked again."""
        return type(self)(**(self.model_dump() | changes))

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
        # The admin key reaches everything: it must not be guessable.
        if len(self.api_key) < 32:
            raise ConfigError("MEMANTO_API_KEY must be at least 32 characters")


class _Environment(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping rather than os.environ."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._env = env
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {
            name if self.case_sensitive else name.lower(): value
            for name, value in self._env.items()
            if not (self.env_ignore_empty and value == "")
        }


def _explain(exc: ValidationError, values: Mapping[str, Any]) -> str:
    """One line for all of a ValidationError's problems, each naming its variable."""
    problems: dict[str, str] = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        if field in problems:
            continue
        info = Settings.model_fields.get(field)
        if info is None:
            problems[field] = error["msg"]
            continue
        got = values.get(field, error.get("input"))
        problems[field] = f"{Settings.env_name(field)} must be {_expected(info)}, got {got!r}"
    return "; ".join(problems.values())


def _expected(info: Any) -> str:
    if info.description:
        return str(info.description)
    if info.annotation is int:
        least = [m.ge for m in info.metadata if isinstance(m, Ge)]
        return "a whole number" + (f" >= {least[0]}" if least else "")
    if info.annotation is float:
        return "a number"
    return f"a valid {getattr(info.annotation, '__name__', 'value')}"
