"""The tools' arguments: each is the request model of the dialect the tool comes from (so
an argument is checked exactly as the HTTP body field of the same name), plus the agent the
call is about. `schema` turns one into the JSON Schema a tool advertises."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, WithJsonSchema, field_validator

from memanto_redis.api.agent_memory.memory import STM_DEFAULT_LIMIT, STM_MAX_LIMIT
from memanto_redis.api.agent_memory.models import (
    ScheduleIn,
    StmEntryIn,
    SwarmFactIn,
    SwarmSearchIn,
)
from memanto_redis.api.v2.models import (
    AgentCreate,
    AsOfIn,
    ChangedSinceIn,
    MemoryIn,
    MemoryPatch,
    RecallIn,
    RecentIn,
)
from memanto_redis.shared.agent_memory.stm import CURRENT, check_session_id
from memanto_redis.shared.infra.cursors import MAX_CURSOR
from memanto_redis.shared.memory.edits import HISTORY_MAX_PAGE, HISTORY_PAGE
from memanto_redis.shared.memory.fields import Body, Content
from memanto_redis.shared.memory.rules import AGENT_ID_RE, MAX_BATCH
from memanto_redis.shared.schedule.inbox import MAX_COUNT, MAX_WAIT, STREAM_ID_RE
from memanto_redis.shared.schedule.store import NAME_RE

AGENT_ID = AGENT_ID_RE.pattern


class _Agent(Body):
    agent_id: str | None = Field(
        default=None, pattern=AGENT_ID,
        description="The agent whose memory this is. Leave it out when connected with an "
                    "agent's session token (or through `memanto mcp --agent NAME`): that "
                    "agent is meant. Required with an API key.")


class _Memory(_Agent):
    memory_id: str = Field(min_length=1, max_length=128,
                           description="The memory's id, as remember or recall gave it.")


class RememberArgs(_Agent, MemoryIn):
    # A tool's arguments stay strict, though v2's HTTP bodies are lax as MEMANTO's.
    model_config = Body.model_config


class BatchRememberArgs(_Agent):
    # Each item is checked on its own, as batch-remember's are: one bad item does not sink
    # the others. The schema still shows a model what an item holds.
    memories: Annotated[list[Any], Field(min_length=1, max_length=MAX_BATCH), WithJsonSchema({
        "type": "array", "minItems": 1, "maxItems": MAX_BATCH,
        "items": MemoryIn.model_json_schema() | {"description": "remember's fields"},
        "description": f"1-{MAX_BATCH} memories.",
    })]


class RecallArgs(_Agent, RecallIn):
    model_config = Body.model_config


class RecentArgs(_Agent, RecentIn):
    model_config = Body.model_config


class AsOfArgs(_Agent, AsOfIn):
    model_config = Body.model_config


class ChangedSinceArgs(_Agent, ChangedSinceIn):
    model_config = Body.model_config


class CreateAgentArgs(AgentCreate):
    model_config = Body.model_config


class NoArgs(Body):
    pass


class AgentArgs(Body):
    agent_id: str = Field(pattern=AGENT_ID)


class ForgetArgs(_Memory):
    pass


class EditArgs(_Memory, MemoryPatch):
    model_config = Body.model_config
    # v2's PATCH refuses a blank content itself (MEMANTO's 400); a tool's argument is checked
    # here.
    content: Content | None = None


class HistoryArgs(_Memory):
    limit: int = Field(default=HISTORY_PAGE, ge=1, le=HISTORY_MAX_PAGE,
                       description="Versions in this page, oldest first.")
    cursor: str | None = Field(default=None, max_length=MAX_CURSOR,
                               description="next_cursor of the page before, for the next "
                                           "page; leave it out for the first.")


class StmAppendArgs(_Agent, StmEntryIn):
    pass


class StmReadArgs(_Agent):
    limit: int = Field(default=STM_DEFAULT_LIMIT, ge=1, le=STM_MAX_LIMIT,
                       description="How many of the newest entries (oldest first).")
    session: str = Field(default=CURRENT, description="A session id, or 'current': the "
                         "session last written (else the agent's live session).")

    @field_validator("session")
    @classmethod
    def _session(cls, value: str) -> str:
        return value if value == CURRENT else check_session_id(value)


class SwarmPostArgs(SwarmFactIn):
    pass


class SwarmSearchArgs(SwarmSearchIn):
    pass


class InboxArgs(_Agent):
    after: str = Field(default="0", pattern=STREAM_ID_RE.pattern,
                       description="The last_id of the previous read, to get only newer "
                                   "prompts; '0' (the default) for every prompt held.")
    wait: float = Field(default=0.0, ge=0, le=MAX_WAIT,
                        description=f"Seconds (0-{MAX_WAIT:g}) to wait for a prompt when none "
                                    "is there yet.")
    limit: int = Field(default=100, ge=1, le=MAX_COUNT)

    @field_validator("after")
    @classmethod
    def _after(cls, value: str) -> str:
        if any(int(part) >= 2**64 for part in value.split("-")):
            raise ValueError("not an inbox message id")
        return value


class ScheduleCreateArgs(_Agent, ScheduleIn):
    pass


class ScheduleListArgs(_Agent):
    pass


class ScheduleArgs(_Agent):
    name: str = Field(pattern=NAME_RE.pattern, description="The schedule's name.")


# What each field of the dialects' models means, for a model reading a tool's schema (the
# models themselves say it only in the README).
FIELD_DOCS = {
    "agent_id": "The agent's id: 1-64 letters, digits, '-', '_' or '.'.",
    "content": "The text itself: one self-contained statement (1-10,000 characters).",
    "type": "fact, preference, goal, decision, artifact, learning, event, instruction, "
            "relationship, context, observation, commitment or error (to filter: a list of "
            "them).",
    "title": "A short label (<= 100 characters); derived from the content when left out.",
    "confidence": "How sure this is, 0-1: 1.0 only for what the user said outright.",
    "tags": "Lowercase labels for filtering later (<= 20; as a filter: any of them).",
    "source": "Who or what it came from (default 'agent').",
    "provenance": "explicit_statement (the user said it), inferred, observed, validated, "
                  "corrected or imported.",
    "query": "What to look for, in natural language.",
    "limit": "The most results to answer.",
    "min_similarity": "Leave out results less similar than this (cosine, 0-1).",
    "threshold": "Leave out results less similar than this (cosine, 0-1).",
    "status": "active, expired or all.",
    "search_mode": "hybrid (meaning and words, the default), semantic or keyword.",
    "created_after": "Only memories created after this (ISO 8601 time, date, or epoch "
                     "seconds).",
    "created_before": "Only memories created before this (a bare date means the end of that "
                      "day, UTC).",
    "as_of": "The moment to look back to (ISO 8601 time, or a date: the end of that day, "
             "UTC).",
    "since": "Changes after this moment (ISO 8601 time, date, or epoch seconds).",
    "role": "Who said it: user, assistant, system or tool.",
    "session": "The short-term memory session; left out, the current one.",
    "source_agent": "Whose fact it is; left out, the caller's agent (a session token may "
                    "post only as its own agent).",
    "ttl_seconds": "How long the fact lives (default 1 hour; at most a week).",
    "name": "A name of 1-64 letters, digits, '-', '_' or '.'.",
    "cron": "When: 5 fields 'minute hour day month weekday' (e.g. '0 9 * * MON-FRI'); a 6th "
            "field gives seconds.",
    "prompt": "The prompt delivered to the agent's inbox at each fire.",
    "timezone": "The IANA zone the cron is read in (default UTC).",
    "webhook_url": "An http(s) URL to POST each fire to, signed.",
    "description": "What the agent is for.",
    "pattern": "support, project or tool.",
}


def schema(model: type[Body]) -> dict[str, Any]:
    """The JSON Schema of a tool's arguments, trimmed for a model to read: every field
    described, no titles, and an optional field shown as what to send (it may be left out)
    rather than as "this or null"."""
    trimmed: dict[str, Any] = _trimmed(model.model_json_schema())
    return trimmed


def _trimmed(node: Any) -> Any:
    if isinstance(node, list):
        return [_trimmed(item) for item in node]
    if not isinstance(node, dict):
        return node
    # (A property named title maps to a schema, not to a string: it stays.)
    node = {key: _trimmed(value) for key, value in node.items()
            if not (key == "title" and isinstance(value, str))}
    for name, spec in node.get("properties", {}).items():
        options = [o for o in spec.get("anyOf", ()) if o != {"type": "null"}]
        if "anyOf" in spec and spec.get("default", ...) is None:
            del spec["anyOf"], spec["default"]
            spec.update(options[0] if len(options) == 1 else {"anyOf": options})
        if name in FIELD_DOCS:
            spec.setdefault("description", FIELD_DOCS[name])
    return node
