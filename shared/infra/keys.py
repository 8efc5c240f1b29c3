"""Every Redis key, stream and group name the service uses, in one place.

Per-agent keys carry the agent in a hash tag (`{agent}`) so that a Redis Cluster keeps
one agent's keys in one slot, which the Lua scripts rely on.
"""

from __future__ import annotations

# Sorted set of agent ids, scored by creation time.
AGENTS = "memanto:agents"
# Stream of accepted writes waiting to be embedded, and its consumer group.
INGEST_STREAM = "memanto:ingest"
INGEST_GROUP = "indexers"
# Stream of entries that failed too often, with their last error.
DEAD_LETTER_STREAM = "memanto:ingest:dead"
# Hash: stream entry id -> last error seen while processing it.
INGEST_ERRORS = "memanto:ingest:errors"
# String: the agent whose session was activated last (MEMANTO's GET /api/v2/status).
LAST_SESSION = "memanto:session:last"
# Hash: SHA-256 digest of a named API key -> JSON {name, scope} (a bare name: an admin
# key made before keys had scopes).
API_KEYS = "memanto:apikeys"
# Hash: name of a named API key -> JSON {digest, created_at, prefix, scope} (never the key).
API_KEY_NAMES = "memanto:apikey:names"
# RQ queue the `jobs` process works (scheduled-prompt delivery, webhooks).
JOBS_QUEUE = "memanto"
# Sorted set: "agent/schedule" -> the schedule's next fire time (epoch seconds).
SCHEDULES_DUE = "memanto:schedules:due"
# String with a TTL: the token of the scheduler process that leads (fires schedules).
SCHEDULER_LEADER = "memanto:scheduler:leader"
# String with a TTL, one per running worker process: `heartbeat(kind, name)` below.
HEARTBEAT_PREFIX = "memanto:heartbeat:"
# Sorted set: "kind:name" of every process that ever beat -> when it last did, so that
# readers find the heartbeats without a SCAN over the whole keyspace.
HEARTBEATS = "memanto:heartbeats"
# Hash: the workers' Prometheus figures (counters and histogram buckets, summed over every
# process), which the web's /metrics serves.
METRICS = "memanto:metrics"
# Hash: agent id -> "rate burst", an admin's write quota for that agent instead of the
# settings' (shared/memory/quotas.py).
QUOTA_OVERRIDES = "memanto:quota:overrides"
# Set: the agents that have a memory policy (shared/memory/policy_sweep.py), for the
# nightly sweep; and a string per UTC day the scheduler has queued that day's sweep.
POLICIES = "memanto:policies"
POLICY_SWEEP_DAY_PREFIX = "memanto:policies:swept:"
# RediSearch index over the memory documents, and the key prefix it watches.
MEMORY_INDEX = "memanto:memories"
MEMORY_PREFIX = "mem:"
# Earlier versions of memories live under this prefix, in the same index.
VERSION_PREFIX = "ver:"
# A live document's valid_to: "still current" (year 3000).
FOREVER = 32503680000.0
# RediSearch index over the swarm facts (hashes with a TTL), the key prefix it watches,
# and the counter that numbers the facts.
SWARM_INDEX = "memanto:swarm"
SWARM_PREFIX = "swarm:fact:"
SWARM_SEQ = "swarm:seq"


def agent(agent_id: str) -> str:
    """Hash: the agent's profile (description, created_at, last_active, ...)."""
    return f"agent:{{{agent_id}}}"


def session(agent_id: str) -> str:
    """Hash with a TTL: the agent's one active session; gone means expired or revoked."""
    return f"sess:{{{agent_id}}}"


def pending(agent_id: str) -> str:
    """Sorted set: the agent's memories accepted but not yet indexed (queued or failed), by
    when they were accepted, so that reads can show them before the worker has."""
    return f"qz:{{{agent_id}}}"


def memory_ids(agent_id: str) -> str:
    """Set: every memory id the agent holds (queued, indexed or failed)."""
    return f"mids:{{{agent_id}}}"


def write_bucket(agent_id: str) -> str:
    """Hash with a TTL {tokens, at}: the agent's write token bucket, as of `at` (Redis
    time); gone means full."""
    return f"rl:{{{agent_id}}}"


def swarm_written(agent_id: str) -> str:
    """Sorted set: the swarm facts written in the agent's name, by when they expire, so the
    live ones are counted without a search."""
    return f"swarmby:{{{agent_id}}}"


def policy(agent_id: str) -> str:
    """String: the agent's memory policy as JSON."""
    return f"policy:{{{agent_id}}}"


def memory(agent_id: str, memory_id: str) -> str:
    """Hash: an embedded memory document, under the index's prefix."""
    return f"{MEMORY_PREFIX}{{{agent_id}}}:{memory_id}"


def version(agent_id: str, memory_id: str, number: int) -> str:
    """Hash: a superseded version of a memory (with its vector), valid over
    [valid_from, valid_to); indexed, so that as-of recall can find it."""
    return f"{versions_of(agent_id, memory_id)}{number}"


def versions_of(agent_id: str, memory_id: str) -> str:
    """What every version key of one memory begins with."""
    return f"{VERSION_PREFIX}{{{agent_id}}}:{memory_id}:"


def version_keys(agent_id: str) -> str:
    """Set: every version key of the agent, so clearing the agent reaches them all."""
    return f"vers:{{{agent_id}}}"


VERSION_KEYS_PATTERN = version_keys("*")  # every agent's version_keys set, for SCAN
# String: the window of versions the last release phase left every memory within (0: no
# bound), so a release whose window is not smaller skips the scan.
VERSIONS_WINDOW = "memanto:versions:window"


def tombstone(agent_id: str, memory_id: str) -> str:
    """Hash: when a memory was deleted and its last version number (history survives)."""
    return f"tomb:{{{agent_id}}}:{memory_id}"


def idempotent(agent_id: str, caller: str, key: str) -> str:
    """String with a TTL: the records a write with this Idempotency-Key queued, for the
    caller (an agent's session or an API key) that sent it; `key` is already a digest."""
    return f"idem:{{{agent_id}}}:{caller}:{key}"


def queued(agent_id: str, memory_id: str) -> str:
    """Hash: a memory accepted but not yet indexed, kept outside the index's prefix so the
    front door's write does not make RediSearch index text inside the request."""
    return f"q:{{{agent_id}}}:{memory_id}"


def stm(agent_id: str, session_id: str) -> str:
    """List of JSON entries {id, role, content, timestamp}: one short-term memory session,
    newest last, capped and expiring when idle."""
    return f"stm:{{{agent_id}}}:{session_id}"


def stm_seq(agent_id: str, session_id: str) -> str:
    """Counter giving the session's STM entries their ids (1, 2, ...)."""
    return f"stm:{{{agent_id}}}:{session_id}:seq"


def stm_current(agent_id: str) -> str:
    """String: the agent's most recently written STM session, expiring with it."""
    return f"stm:{{{agent_id}}}:current"


def stm_sessions(agent_id: str) -> str:
    """Set: the agent's STM session ids, so clearing reaches them all without a SCAN;
    expires with the most recently written session."""
    return f"stms:{{{agent_id}}}"


def schedule(agent_id: str, name: str) -> str:
    """Hash: one cron schedule (cron, prompt, timezone, webhook, secret, next_run, ...)."""
    return f"sched:{{{agent_id}}}:{name}"


def schedules(agent_id: str) -> str:
    """Sorted set: the agent's schedule names, scored by creation time."""
    return f"scheds:{{{agent_id}}}"


def schedule_runs(agent_id: str, name: str) -> str:
    """Sorted set: the scheduled times (epoch seconds) of a schedule's kept runs."""
    return f"runs:{{{agent_id}}}:{name}"


def schedule_run(agent_id: str, name: str, scheduled_for: int) -> str:
    """Hash: one fire of a schedule (fired_at, status, inbox id, webhook outcome)."""
    return f"run:{{{agent_id}}}:{name}:{scheduled_for}"


def inbox(agent_id: str) -> str:
    """Stream: prompts fired at the agent, capped at the newest few thousand."""
    return f"inbox:{{{agent_id}}}"


# Hash: memory id -> the owner (agent, or a user's own space) of a /memories memory.
MEMORY_OWNERS = "memanto:memory:owner"
# Owners of /memories memories that belong to no agent: one space per user.
USER_OWNER_PREFIX = "~user."


def user_owner(user_id: str) -> str:
    """The owner id of a user's memories that name no agent ('~' is never in an agent id)."""
    return USER_OWNER_PREFIX + user_id


def swarm_fact(fact_id: int | str) -> str:
    """Hash with a TTL: one swarm fact, with its vector; gone (from list and search) when
    the key expires."""
    return f"{SWARM_PREFIX}{fact_id}"


def heartbeat(kind: str, name: str) -> str:
    """String with a TTL: a JSON note a worker, scheduler or jobs process rewrites every few
    seconds; gone means the process is dead (or cut off from Redis)."""
    return f"{HEARTBEAT_PREFIX}{kind}:{name}"
