"""Request bodies and their validation rules (DESIGN.md, "Validation")."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

MemoryType = Literal[
    "fact", "preference", "goal", "decision", "artifact", "learning", "event",
    "instruction", "relationship", "context", "observation", "commitment", "error",
]
Provenance = Literal[
    "explicit_statement", "inferred", "observed", "validated", "corrected", "imported",
]

AGENT_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
MAX_CONTENT = 10_000
MAX_TITLE = 100
MAX_TAGS = 20
MAX_TAG_LEN = 64
MAX_SOURCE = 100
MAX_BATCH = 100
MAX_RECALL_LIMIT = 100

# Tags are stored in one RediSearch TAG field separated by commas.
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                       max_length=MAX_TAG_LEN, pattern=r"^[^,]+$")]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


# Text that must say something: spaces alone are refused.
NotBlank = AfterValidator(_not_blank)
Content = Annotated[str, StringConstraints(min_length=1, max_length=MAX_CONTENT), NotBlank]


class Body(BaseModel):
    # Unknown fields and wrong types are the client's mistake, named in the answer.
    model_config = ConfigDict(extra="forbid", strict=True)


class AgentCreate(Body):
    agent_id: str = Field(pattern=AGENT_ID_RE.pattern)
    description: str | None = Field(default=None, max_length=1000)
    # The agent's memory pattern, as MEMANTO's own clients send it.
    pattern: Literal["support", "project", "tool"] = "support"


class ActivateBody(Body):
    duration_hours: float | None = Field(default=None, gt=0, le=24 * 30)


class MemoryIn(Body):
    content: Content
    type: MemoryType = "fact"
    title: str | None = Field(default=None, max_length=MAX_TITLE)
    confidence: float = Field(default=0.8, ge=0.0, le=1.0)
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    source: str = Field(default="agent", min_length=1, max_length=MAX_SOURCE)
    provenance: Provenance = "explicit_statement"


class BatchIn(BaseModel):
    # Items are validated one by one so that one bad item does not sink the batch.
    model_config = ConfigDict(extra="forbid", strict=True)
    memories: list[object] = Field(min_length=1, max_length=MAX_BATCH)


def parse_time(value: str | float | int, *, end_of_day: bool = False) -> float:
    """ISO 8601 time or date (UTC when no zone is given), or epoch seconds -> epoch seconds."""
    if isinstance(value, bool):
        raise ValueError("expected an ISO 8601 time or epoch seconds")
    if isinstance(value, int | float):
        return float(value)
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return moment.timestamp() + (86_400 - 1e-6 if end_of_day else 0.0)
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"not an ISO 8601 time: {value!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class RecallIn(Body):
    query: str = Field(min_length=1, max_length=MAX_CONTENT)
    limit: int = Field(default=10, ge=1, le=MAX_RECALL_LIMIT)
    min_similarity: float | None = Field(default=None, ge=0.0, le=1.0)
    type: list[MemoryType] | None = Field(default=None, max_length=13)
    tags: list[Tag] | None = Field(default=None, max_length=MAX_TAGS)
    created_after: str | float | None = None
    created_before: str | float | None = None
    status: Literal["active", "expired", "all"] = "active"

    @field_validator("type", "tags", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        # A single value is read as a list of one.
        return [value] if isinstance(value, str) else value

    @field_validator("created_after", "created_before")
    @classmethod
    def _time(cls, value: str | float | None) -> str | float | None:
        if value is not None:
            parse_time(value)
        return value


def derive_title(content: str) -> str:
    """First line of the content, whitespace folded, cut to the title's limit."""
    line = next((ln for ln in content.splitlines() if ln.strip()), content)
    line = " ".join(line.split())
    return line if len(line) <= MAX_TITLE else line[: MAX_TITLE - 3].rstrip() + "..."


class MemoryPatch(Body):
    """Any of the editable fields, validated as remember validates them."""

    content: Content | None = None
    title: str | None = Field(default=None, min_length=1, max_length=MAX_TITLE)
    type: MemoryType | None = None
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    tags: list[Tag] | None = Field(default=None, max_length=MAX_TAGS)
    source: str | None = Field(default=None, min_length=1, max_length=MAX_SOURCE)

    def changes(self) -> dict:
        return self.model_dump(exclude_unset=True, exclude_none=True)


class TemporalFilters(Body):
    limit: int = Field(default=10, ge=1, le=MAX_RECALL_LIMIT)
    type: list[MemoryType] | None = Field(default=None, max_length=13)
    tags: list[Tag] | None = Field(default=None, max_length=MAX_TAGS)

    @field_validator("type", "tags", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


def _check_time(value: str | float) -> str | float:
    parse_time(value)
    return value


class AsOfIn(TemporalFilters):
    query: str | None = Field(default=None, min_length=1, max_length=MAX_CONTENT)
    as_of: str | float

    _as_of = field_validator("as_of")(_check_time)


class ChangedSinceIn(TemporalFilters):
    query: str | None = Field(default=None, min_length=1, max_length=MAX_CONTENT)
    since: str | float
    status: Literal["active", "expired", "all"] = "all"

    _since = field_validator("since")(_check_time)


class RecentIn(TemporalFilters):
    status: Literal["active", "expired", "all"] = "active"


class AllIn(TemporalFilters):
    limit: int = Field(default=50, ge=1, le=MAX_RECALL_LIMIT)
    cursor: str | None = Field(default=None, max_length=4096)
    status: Literal["active", "expired", "all"] = "all"


class ApiKeyCreate(Body):
    name: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")


# A user or team id of the /memories dialect: anything printable but braces (which would
# break the key's hash tag) and commas (the tag separator).
USER_ID_PATTERN = r"^[^{},\x00-\x1f]{1,128}$"


class UserMemoryIn(Body):
    """agno's UserMemoryCreateSchema, plus the agent and team it may name."""

    memory: Annotated[str, StringConstraints(min_length=1, max_length=5000), NotBlank]
    user_id: str = Field(pattern=USER_ID_PATTERN)
    topics: list[Tag] | None = Field(default=None, max_length=MAX_TAGS)
    agent_id: str | None = Field(default=None, pattern=AGENT_ID_RE.pattern)
    team_id: str | None = Field(default=None, pattern=USER_ID_PATTERN)


class UserMemoryPatch(Body):
    memory: Annotated[str, StringConstraints(min_length=1, max_length=5000), NotBlank]
    user_id: str | None = Field(default=None, pattern=USER_ID_PATTERN)
    topics: list[Tag] | None = Field(default=None, max_length=MAX_TAGS)


class DeleteMemoriesIn(Body):
    memory_ids: list[str] = Field(min_length=1, max_length=1000)
    user_id: str | None = Field(default=None, pattern=USER_ID_PATTERN)


class MemoryListParams(BaseModel):
    """Query parameters of GET /memories (strings from the URL, so not strict)."""

    model_config = ConfigDict(extra="ignore")
    user_id: str | None = Field(default=None, pattern=USER_ID_PATTERN)
    agent_id: str | None = Field(default=None, pattern=AGENT_ID_RE.pattern)
    team_id: str | None = Field(default=None, pattern=USER_ID_PATTERN)
    topics: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    search_content: str | None = Field(default=None, min_length=1, max_length=1000)
    limit: int = Field(default=20, ge=1, le=100)
    page: int = Field(default=1, ge=1, le=100_000)
    sort_by: Literal["updated_at", "created_at"] = "updated_at"
    sort_order: Literal["asc", "desc"] = "desc"


class StatsParams(BaseModel):
    model_config = ConfigDict(extra="ignore")
    user_id: str | None = Field(default=None, pattern=USER_ID_PATTERN)
    limit: int = Field(default=20, ge=1, le=100)
    page: int = Field(default=1, ge=1, le=100_000)
