"""Request bodies of the MEMANTO v2 dialect."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from memanto_redis.api.body import explain
from memanto_redis.shared.auth.scope import ADMIN_SCOPE, Scope
from memanto_redis.shared.errors import InvalidInput
from memanto_redis.shared.infra.hybrid import SearchMode
from memanto_redis.shared.infra.times import parse_time
from memanto_redis.shared.memory.classify import classify
from memanto_redis.shared.memory.fields import Body, Content, NotBlank, Tag
from memanto_redis.shared.memory.filters import Filters
from memanto_redis.shared.memory.record import Draft
from memanto_redis.shared.memory.rules import (
    AGENT_ID_RE,
    MAX_BATCH,
    MAX_CONTENT,
    MAX_RECALL_LIMIT,
    MAX_TAG_LEN,
    MAX_TAGS,
    MAX_TITLE,
    Lifecycle,
    MemoryType,
    Provenance,
)


class ActivateBody(Body):
    """MEMANTO's activate takes no body; this server's extension reads `duration_hours`
    from one, and ignores whatever else a client sends."""

    model_config = Body.model_config | ConfigDict(extra="ignore")
    duration_hours: float | None = Field(default=None, gt=0, le=24 * 30)

    @model_validator(mode="before")
    @classmethod
    def _only_an_object(cls, data: Any) -> Any:
        # MEMANTO reads no body here: anything but an object is as good as none.
        return data if isinstance(data, dict) else {}


class ExpireIn(BaseModel):
    """MEMANTO's MemoryExpireRequest: why, stamped as expired_by ("manual" when absent or
    null), bounded as a source is."""

    model_config = ConfigDict(extra="ignore")
    reason: str | None = Field(default=None, min_length=1, max_length=64,
                               pattern=r"^[A-Za-z0-9._-]+$")

    @model_validator(mode="before")
    @classmethod
    def _null_is_none(cls, data: Any) -> Any:
        # FastAPI reads a JSON null body as no body: MEMANTO's default request.
        return {} if data is None else data


class Lax(BaseModel):
    """A body as MEMANTO's clients send it: numbers sent as strings are read as numbers
    (pydantic's lax mode, as MEMANTO's own models are), unknown fields are ignored; NaN and
    the infinities are still no numbers."""

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)


class NullIsAbsent(Lax):
    """MEMANTO's models serialise every optional field, None included: null is "not given"
    and takes the field's default. (Remember, the hot path, reads its nulls itself instead
    of paying this second pass.)"""

    @model_validator(mode="before")
    @classmethod
    def _drop_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data


class AgentCreate(NullIsAbsent):
    """MEMANTO's AgentCreate, as lax as its model: unknown fields ignored, null "not given".
    The id keeps this server's rule (a Redis key part: 64 characters at most, dots allowed
    after the first), where MEMANTO takes any length of letters, digits, - and _."""

    agent_id: str = Field(pattern=AGENT_ID_RE.pattern)
    description: str | None = Field(default=None, max_length=1000)
    # The agent's memory pattern, as MEMANTO's own clients send it.
    pattern: Literal["support", "project", "tool"] = "support"


# MEMANTO's limits on what a memory says of itself (its `core.MemorySource`, `MemoryTag`).
MAX_SOURCE_V2 = 64
SOURCE_PATTERN = r"^[A-Za-z0-9._-]+$"
MEMANTO_TAG_PATTERN = r"^[^,\x00-\x1f\x7f\x85\u2028\u2029]+$"
# A tag is shown to language models beside the memory: no directives, no '#' filter token.
_DIRECTIVES = re.compile(
    r"\bignore\s+(previous|prior)\s+instructions\b|\bsystem\s+override\b|^system:\s*"
    r"|\bexfiltrate\b|\bsend\s+all\s+memories\b|\b(override|disregard)\s+previous\b",
    re.IGNORECASE)
MAX_QUERY = 1_000
# recall/all reads a whole agent (MEMANTO's UI route): this many at most per page.
MAX_ALL_LIMIT = 5_000


def _no_directive(tag: str) -> str:
    if tag.startswith("#") or _DIRECTIVES.search(tag):
        raise ValueError("tag matches an injection directive or a '#'-prefixed filter token")
    return tag


Source = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                          max_length=MAX_SOURCE_V2, pattern=SOURCE_PATTERN)]
MemantoTag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                              max_length=MAX_TAG_LEN,
                                              pattern=MEMANTO_TAG_PATTERN),
                       AfterValidator(_no_directive)]
Query = Annotated[str, StringConstraints(min_length=1, max_length=MAX_QUERY), NotBlank]


def _check_time(value: str | float) -> str | float:
    parse_time(value)
    return value


def _check_optional_time(value: str | float | None) -> str | float | None:
    return value if value is None else _check_time(value)


class MemoryIn(Lax):
    """The remember body (and a batch item), MEMANTO's `RememberRequest`: every optional
    field may be null, which means its default."""

    content: Content
    # Omitted: classified from the content (classify.py), as MEMANTO does.
    type: MemoryType | None = None
    title: str | None = Field(default=None, max_length=MAX_TITLE)
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    tags: list[MemantoTag] | None = Field(default=None, max_length=MAX_TAGS)
    # A memory may be written already expired, with its audit trail.
    status: Literal["active", "expired"] | None = None
    expired_at: str | float | None = None
    expired_by: Source | None = None
    source: Source | None = None
    provenance: Provenance | None = None

    _expired_at = field_validator("expired_at")(_check_optional_time)

    def draft(self) -> Draft:
        expired = self.status == "expired"
        if expired and (self.expired_at is None or self.expired_by is None):
            raise InvalidInput("an expired memory must have both expired_at and expired_by",
                               [{"field": "status", "type": "value_error",
                                 "message": "expired needs expired_at and expired_by"}])
        return Draft(
            content=self.content, type=self.type or classify(self.content), title=self.title,
            confidence=0.8 if self.confidence is None else self.confidence,
            tags=self.tags or [], source=self.source or "agent",
            provenance=self.provenance or "explicit_statement",
            lifecycle="expired" if expired else "active",
            expired_at=parse_time(self.expired_at)
            if expired and self.expired_at is not None else None,
            expired_by=self.expired_by if expired else None)


class BatchIn(Lax):
    # Items are validated one by one, so that each bad one is named (memories.3.content).
    memories: list[object] = Field(min_length=1, max_length=MAX_BATCH)


def batch_items(raws: list[object]) -> list[Draft | InvalidInput]:
    """A batch's items checked one by one, so that one bad item does not sink the batch:
    each a draft, or the problem that names its fields (`memories.3.content`)."""
    items: list[Draft | InvalidInput] = []
    for i, raw in enumerate(raws):
        try:
            items.append(MemoryIn.model_validate(raw).draft())
        except ValidationError as exc:
            items.append(explain(exc, prefix=f"memories.{i}."))
        except InvalidInput as exc:
            items.append(InvalidInput(exc.message, [
                e | {"field": f"memories.{i}.{e['field']}"} for e in exc.errors]))
    return items


def whole_batch(raws: list[object]) -> list[Draft | InvalidInput]:
    """MEMANTO's batch: one invalid item refuses the whole request (its 422 names every
    bad item's field, `memories.3.content`); what is returned is all drafts."""
    items = batch_items(raws)
    errors = [e for item in items if isinstance(item, InvalidInput) for e in item.errors]
    if errors:
        raise InvalidInput("invalid memories in the batch (nothing was queued): "
                           + "; ".join(f"{e['field']}: {e['message']}" for e in errors),
                           errors)
    return items


class _Filtered(NullIsAbsent):
    type: list[MemoryType] | None = Field(default=None, max_length=13)
    tags: list[Tag] | None = Field(default=None, max_length=MAX_TAGS)
    created_after: str | float | None = None
    created_before: str | float | None = None

    _times = field_validator("created_after", "created_before")(_check_optional_time)

    @field_validator("type", "tags", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        # A single value is read as a list of one.
        return [value] if isinstance(value, str) else value

    def filters(self) -> Filters:
        after, before = self.created_after, self.created_before
        return Filters(
            types=list(self.type or []), tags=list(self.tags or []),
            created_after=parse_time(after) if after is not None else None,
            created_before=parse_time(before, end_of_day=True) if before is not None
            else None,
        )


class RecallIn(_Filtered):
    query: Query
    # Beyond 100 is MEMANTO's 400 (k_too_large), beyond 1,000 characters its 413
    # (query_too_long): api/v2/errors.py answers them so.
    limit: int = Field(default=10, ge=1, le=MAX_RECALL_LIMIT)
    min_similarity: float | None = Field(default=None, ge=0.0, le=1.0)
    status: Lifecycle = "all"
    search_mode: SearchMode = "hybrid"


class MemoryPatch(NullIsAbsent):
    """Any of the editable fields, validated as remember validates them, with MEMANTO's
    leeway: an empty title is taken, and a blank content is the route's 400 (as MEMANTO's),
    not a 422."""

    content: str | None = Field(default=None, max_length=MAX_CONTENT)
    title: str | None = Field(default=None, max_length=MAX_TITLE)
    type: MemoryType | None = None
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    tags: list[MemantoTag] | None = Field(default=None, max_length=MAX_TAGS)
    source: Source | None = None

    def changes(self) -> dict[str, object]:
        return self.model_dump(exclude_unset=True, exclude_none=True)


class _Temporal(_Filtered):
    limit: int = Field(default=10, ge=1, le=MAX_RECALL_LIMIT)


class AsOfIn(_Temporal):
    query: Query | None = None
    as_of: str | float
    search_mode: SearchMode = "hybrid"

    _as_of = field_validator("as_of")(_check_time)


class ChangedSinceIn(_Temporal):
    query: Query | None = None
    since: str | float
    search_mode: SearchMode = "hybrid"
    status: Lifecycle = "all"

    _since = field_validator("since")(_check_time)


class RecentIn(_Temporal):
    status: Lifecycle = "all"


class AllIn(_Temporal):
    """MEMANTO's body of recall/all (its RecallRecentRequest); the cursor is ours."""

    limit: int = Field(default=MAX_ALL_LIMIT, ge=1, le=MAX_ALL_LIMIT)
    cursor: str | None = Field(default=None, max_length=4096)
    status: Lifecycle = "all"


class ApiKeyCreate(Body):
    """A named key: admin, or a tenant key bound to agent-id patterns and user ids."""

    name: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")
    admin: bool = False
    agents: list[str] = Field(default_factory=list, max_length=100)
    users: list[str] = Field(default_factory=list, max_length=100)
    read_only: bool = False
    may_activate: bool = False
    may_manage_agents: bool = False

    def scope(self) -> Scope:
        """The key's scope, checked (InvalidInput names a bad pattern or user id)."""
        if self.admin:
            if self.agents or self.users or self.read_only or self.may_activate \
                    or self.may_manage_agents:
                raise InvalidInput("admin: an admin key reaches everything; send no agents, "
                                   "users or flags with it")
            return ADMIN_SCOPE
        if not self.agents and not self.users:
            raise InvalidInput("agents or users: a tenant key needs agent patterns (e.g. "
                               "'support-*') or user ids, or admin: true",
                               [{"field": "agents", "message": "empty", "type": "missing"}])
        return Scope.tenant(self.agents, self.users, read_only=self.read_only,
                            may_activate=self.may_activate,
                            may_manage_agents=self.may_manage_agents)
