"""Settings from the environment: names, defaults, minimums and their one-line errors."""

from __future__ import annotations

import pytest

from memanto_redis.shared.infra.settings import ConfigError, Settings

SECRET = "s" * 40


def test_defaults_without_any_variable():
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.redis_wait_seconds == 30.0
    assert (settings.api_key, settings.jwt_secret) == ("", "")
    assert settings.session_hours == 6.0
    assert (settings.batch_size, settings.block_ms, settings.claim_idle_ms) == (64, 500, 15_000)
    assert (settings.max_deliveries, settings.max_backlog) == (5, 500_000)
    assert settings.embed_model == "all-MiniLM-L6-v2"
    assert settings.web_embed_threads == 1
    assert (settings.embeddings_url, settings.embeddings_api_key) == ("", "")
    assert (settings.embeddings_dims, settings.embeddings_timeout) == (None, 30.0)
    assert settings.max_body_bytes == 2 * 1024 * 1024
    assert (settings.stm_max_entries, settings.stm_idle_seconds) == (200, 24 * 3600)
    assert (settings.swarm_default_ttl, settings.swarm_max_ttl) == (3600, 7 * 24 * 3600)
    assert settings.scheduler_lock_ms == 5000
    assert (settings.max_schedules, settings.schedule_runs_kept) == (100, 100)
    assert (settings.inbox_max, settings.inbox_max_waiters) == (1000, 50)
    assert settings.webhook_timeout == 10.0
    assert settings.webhook_retry_intervals == (10, 60, 300)
    assert (settings.heartbeat_seconds, settings.metrics_token) == (5.0, "")
    assert (settings.log_format, settings.log_level) == ("json", "INFO")


# Every field, the variable that sets it, a value for it, and that value as read.
ENVIRONMENT = [
    ("redis_url", "REDIS_URL", "redis://db.internal:6380/2", "redis://db.internal:6380/2"),
    ("redis_wait_seconds", "MEMANTO_REDIS_WAIT_SECONDS", "2.5", 2.5),
    ("api_key", "MEMANTO_API_KEY", "admin-key", "admin-key"),
    ("jwt_secret", "MEMANTO_JWT_SECRET", SECRET, SECRET),
    ("session_hours", "MEMANTO_SESSION_HOURS", "0.5", 0.5),
    ("session_max_hours", "MEMANTO_SESSION_MAX_HOURS", "24", 24.0),
    ("write_rate", "MEMANTO_WRITE_RATE", "2.5", 2.5),
    ("write_burst", "MEMANTO_WRITE_BURST", "10", 10),
    ("rate_limit_hold", "MEMANTO_RATE_LIMIT_HOLD", "0", 0.0),
    ("max_memories", "MEMANTO_MAX_MEMORIES", "0", 0),
    ("max_stm_sessions", "MEMANTO_MAX_STM_SESSIONS", "3", 3),
    ("max_swarm_facts", "MEMANTO_MAX_SWARM_FACTS", "4", 4),
    ("versions_kept", "MEMANTO_VERSIONS_KEPT", "5", 5),
    ("schedule_min_interval", "MEMANTO_SCHEDULE_MIN_INTERVAL", "300", 300),
    ("batch_size", "MEMANTO_BATCH_SIZE", "8", 8),
    ("block_ms", "MEMANTO_BLOCK_MS", "50", 50),
    ("claim_idle_ms", "MEMANTO_CLAIM_IDLE_MS", "1000", 1000),
    ("max_deliveries", "MEMANTO_MAX_DELIVERIES", "3", 3),
    ("max_backlog", "MEMANTO_MAX_BACKLOG", "0", 0),
    ("idempotency_seconds", "MEMANTO_IDEMPOTENCY_SECONDS", "60", 60),
    ("embed_model", "MEMANTO_EMBED_MODEL", "/models/mine", "/models/mine"),
    ("web_embed_threads", "MEMANTO_WEB_EMBED_THREADS", "4", 4),
    # The service's root, whether given as such or as its endpoint.
    ("embeddings_url", "MEMANTO_EMBEDDINGS_URL", " http://embed.internal:8100/v1/embeddings/",
     "http://embed.internal:8100"),
    ("embeddings_api_key", "MEMANTO_EMBEDDINGS_API_KEY", "embed-key", "embed-key"),
    ("embeddings_dims", "MEMANTO_EMBEDDINGS_DIMS", "384", 384),
    ("embeddings_timeout", "MEMANTO_EMBEDDINGS_TIMEOUT", "2.5", 2.5),
    ("max_body_bytes", "MEMANTO_MAX_BODY_BYTES", "1024", 1024),
    ("max_upload_bytes", "MEMANTO_MAX_UPLOAD_BYTES", "4096", 4096),
    ("max_upload_chunks", "MEMANTO_MAX_UPLOAD_CHUNKS", "7", 7),
    ("upload_read_seconds", "MEMANTO_UPLOAD_READ_SECONDS", "2.5", 2.5),
    ("policy_sweep_at", "MEMANTO_POLICY_SWEEP_AT", "off", "off"),
    ("stm_max_entries", "MEMANTO_STM_MAX_ENTRIES", "3", 3),
    ("stm_idle_seconds", "MEMANTO_STM_IDLE_SECONDS", "60", 60),
    ("swarm_default_ttl", "MEMANTO_SWARM_DEFAULT_TTL", "10", 10),
    ("swarm_max_ttl", "MEMANTO_SWARM_MAX_TTL", "20", 20),
    ("scheduler_lock_ms", "MEMANTO_SCHEDULER_LOCK_MS", "500", 500),
    ("max_schedules", "MEMANTO_MAX_SCHEDULES", "2", 2),
    ("schedule_runs_kept", "MEMANTO_SCHEDULE_RUNS_KEPT", "7", 7),
    ("inbox_max", "MEMANTO_INBOX_MAX", "10", 10),
    ("inbox_max_waiters", "MEMANTO_INBOX_MAX_WAITERS", "1", 1),
    ("webhook_timeout", "MEMANTO_WEBHOOK_TIMEOUT", "1.5", 1.5),
    ("webhook_retry_intervals", "MEMANTO_WEBHOOK_RETRY_INTERVALS", "10,60", (10, 60)),
    ("webhook_allow", "MEMANTO_WEBHOOK_ALLOW", " 127.0.0.1, fd00::/8,hooks.internal ",
     ("127.0.0.1", "fd00::/8", "hooks.internal")),
    ("heartbeat_seconds", "MEMANTO_HEARTBEAT_SECONDS", "0.5", 0.5),
    ("metrics_token", "MEMANTO_METRICS_TOKEN", "scrape-token", "scrape-token"),
    ("log_format", "LOG_FORMAT", "Text", "text"),
    ("log_level", "LOG_LEVEL", "debug", "DEBUG"),
]


def test_every_field_has_a_variable():
    assert sorted(field for field, *_ in ENVIRONMENT) == sorted(Settings.model_fields)


@pytest.mark.parametrize(("field", "name", "raw", "value"), ENVIRONMENT,
                         ids=[name for _, name, _, _ in ENVIRONMENT])
def test_each_variable_sets_its_field(field, name, raw, value):
    settings = Settings.from_env({name: raw})
    assert getattr(settings, field) == value
    assert Settings.env_name(field) == name
    # ... and nothing else.
    others = {f: v for f, v in settings.model_dump().items() if f != field}
    assert others == {f: v for f, v in Settings().model_dump().items() if f != field}


@pytest.mark.parametrize(("field", "name"), [(f, n) for f, n, _, _ in ENVIRONMENT],
                         ids=[name for _, name, _, _ in ENVIRONMENT])
def test_an_empty_variable_means_the_default(field, name):
    assert getattr(Settings.from_env({name: ""}), field) == getattr(Settings(), field)


def test_other_names_are_not_read():
    settings = Settings.from_env({"MEMANTO_REDIS_URL": "redis://elsewhere:1/0",
                                  "BATCH_SIZE": "8", "MEMANTO_UNKNOWN": "x"})
    assert settings == Settings()


def test_from_env_reads_the_process_environment(monkeypatch):
    monkeypatch.setenv("MEMANTO_BATCH_SIZE", "9")
    monkeypatch.setenv("REDIS_URL", "redis://from-env:6379/0")
    settings = Settings.from_env()
    assert (settings.batch_size, settings.redis_url) == (9, "redis://from-env:6379/0")
    # Keyword construction is the keywords and the defaults, whatever the environment says.
    assert Settings(redis_url="redis://given:1/0").batch_size == 64


def test_keyword_construction_and_replace():
    settings = Settings(redis_url="redis://given:1/0", api_key="key", jwt_secret=SECRET)
    assert (settings.redis_url, settings.api_key, settings.jwt_secret) == (
        "redis://given:1/0", "key", SECRET)
    smaller = settings.varied(max_schedules=2, stm_max_entries=3)
    assert (smaller.max_schedules, smaller.stm_max_entries) == (2, 3)
    assert (smaller.redis_url, smaller.api_key, smaller.jwt_secret) == (
        settings.redis_url, settings.api_key, settings.jwt_secret)
    assert settings.max_schedules == 100


def test_settings_are_immutable():
    settings = Settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.batch_size = 1
    assert settings.batch_size == 64
    assert hash(settings) == hash(Settings())


WHOLE = "a whole number >= {}"
EMBED_URL = "an http:// or https:// URL (the service's root, /v1/embeddings is added)"
BAD_VALUES = [
    ("MEMANTO_BATCH_SIZE", "abc", WHOLE.format(1)),
    ("MEMANTO_BATCH_SIZE", "0", WHOLE.format(1)),
    ("MEMANTO_BATCH_SIZE", "2.5", WHOLE.format(1)),
    ("MEMANTO_BLOCK_MS", "0", WHOLE.format(1)),
    ("MEMANTO_CLAIM_IDLE_MS", "-5", WHOLE.format(1)),
    ("MEMANTO_MAX_DELIVERIES", "0", WHOLE.format(1)),
    ("MEMANTO_MAX_BACKLOG", "-1", WHOLE.format(0)),
    ("MEMANTO_WEB_EMBED_THREADS", "0", WHOLE.format(1)),
    ("MEMANTO_MAX_BODY_BYTES", "1023", WHOLE.format(1024)),
    ("MEMANTO_STM_MAX_ENTRIES", "0", WHOLE.format(1)),
    ("MEMANTO_STM_IDLE_SECONDS", "0", WHOLE.format(1)),
    ("MEMANTO_SWARM_DEFAULT_TTL", "0", WHOLE.format(1)),
    ("MEMANTO_SWARM_MAX_TTL", "0", WHOLE.format(1)),
    ("MEMANTO_SCHEDULER_LOCK_MS", "499", WHOLE.format(500)),
    ("MEMANTO_MAX_SCHEDULES", "0", WHOLE.format(1)),
    ("MEMANTO_SCHEDULE_RUNS_KEPT", "0", WHOLE.format(1)),
    ("MEMANTO_INBOX_MAX", "9", WHOLE.format(10)),
    ("MEMANTO_INBOX_MAX_WAITERS", "0", WHOLE.format(1)),
    ("MEMANTO_SESSION_HOURS", "six", "a number"),
    ("MEMANTO_REDIS_WAIT_SECONDS", "x", "a number"),
    ("MEMANTO_WEBHOOK_TIMEOUT", "10s", "a number"),
    ("MEMANTO_HEARTBEAT_SECONDS", "0", "a number of seconds > 0"),
    ("MEMANTO_EMBEDDINGS_URL", "embed.internal:8100", EMBED_URL),
    ("MEMANTO_EMBEDDINGS_URL", "ftp://embed.internal", EMBED_URL),
    ("MEMANTO_EMBEDDINGS_URL", "http://", EMBED_URL),
    ("MEMANTO_EMBEDDINGS_DIMS", "0", WHOLE.format(1)),
    ("MEMANTO_EMBEDDINGS_DIMS", "many", WHOLE.format(1)),
    ("MEMANTO_EMBEDDINGS_TIMEOUT", "0", "a number of seconds > 0"),
    ("LOG_FORMAT", "xml", "'json' (one object per line) or 'text'"),
    ("LOG_LEVEL", "loud", "DEBUG, INFO, WARNING or ERROR"),
]


@pytest.mark.parametrize(("name", "raw", "expected"), BAD_VALUES,
                         ids=[f"{name}={raw}" for name, raw, _ in BAD_VALUES])
def test_a_bad_value_is_one_line_naming_the_variable(name, raw, expected):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({name: raw})
    assert str(caught.value) == f"{name} must be {expected}, got {raw!r}"


def test_every_bad_value_is_named_on_one_line():
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"MEMANTO_BATCH_SIZE": "abc", "MEMANTO_INBOX_MAX": "5"})
    assert str(caught.value) == ("MEMANTO_BATCH_SIZE must be a whole number >= 1, got 'abc'; "
                                 "MEMANTO_INBOX_MAX must be a whole number >= 10, got '5'")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(("raw", "intervals"), [
    ("10,60", (10, 60)),
    (" 10 , 60 ,300 ", (10, 60, 300)),
    ("0", (0,)),
    ("none", ()),
    ("None", ()),
    (" NONE ", ()),
    ("   ", (10, 60, 300)),
    (",".join(["1"] * 25), (1,) * 25),
])
def test_retry_intervals(raw, intervals):
    settings = Settings.from_env({"MEMANTO_WEBHOOK_RETRY_INTERVALS": raw})
    assert settings.webhook_retry_intervals == intervals


@pytest.mark.parametrize("raw", ["10,x", "10,,60", "10,-1", "1.5", "[10, 60]", "never",
                                 ",".join(["1"] * 26)])
def test_bad_retry_intervals(raw):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"MEMANTO_WEBHOOK_RETRY_INTERVALS": raw})
    assert str(caught.value) == (
        "MEMANTO_WEBHOOK_RETRY_INTERVALS must be comma-separated whole seconds (0 or more, "
        f"at most 25 of them) or 'none', got {raw!r}")


@pytest.mark.parametrize("raw", ["127.0.0.1,bad host", "10.0.0.0/33", "http://x/"])
def test_bad_webhook_allow_list(raw):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"MEMANTO_WEBHOOK_ALLOW": raw})
    assert str(caught.value) == (
        "MEMANTO_WEBHOOK_ALLOW must be comma-separated IPs, CIDRs (10.0.0.0/8, fd00::/8) or "
        f"host names, got {raw!r}")


def test_secrets_are_not_in_the_repr():
    settings = Settings.from_env({"MEMANTO_API_KEY": "admin-key-value",
                                  "MEMANTO_JWT_SECRET": SECRET})
    for text in (repr(settings), str(settings)):
        assert "admin-key-value" not in text
        assert SECRET not in text
        assert "api_key" not in text and "jwt_secret" not in text
    assert "batch_size=64" in repr(settings)


def test_require_secrets():
    with pytest.raises(ConfigError, match="^MEMANTO_API_KEY and MEMANTO_JWT_SECRET must be set"):
        Settings.from_env({}).require_secrets()
    with pytest.raises(ConfigError, match="^MEMANTO_JWT_SECRET must be set"):
        Settings.from_env({"MEMANTO_API_KEY": "k"}).require_secrets()
    with pytest.raises(ConfigError, match="^MEMANTO_JWT_SECRET must be at least 32 characters"):
        Settings.from_env({"MEMANTO_API_KEY": "k", "MEMANTO_JWT_SECRET": "short"}).require_secrets()
    with pytest.raises(ConfigError, match="^MEMANTO_API_KEY must be at least 32 characters$"):
        Settings.from_env({"MEMANTO_API_KEY": "k" * 31,
                           "MEMANTO_JWT_SECRET": SECRET}).require_secrets()
    Settings.from_env({"MEMANTO_API_KEY": "k" * 32, "MEMANTO_JWT_SECRET": SECRET}).require_secrets()


def test_a_variant_is_checked_again():
    with pytest.raises(ValueError):
        Settings().varied(batch_size=0)
