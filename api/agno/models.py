"""Request bodies and query parameters of the /memories dialect (agno's AgentOS)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from memanto_redis.shared.memory.fields import Body, NotBlank, Tag
from memanto_redis.shared.memory.rules import AGENT_ID_RE, MAX_TAGS, USER_ID_PATTERN
from memanto_redis.shared.memory.user_memories import Listing

# The deepest a page may reach (page x limit): the index answers at most this many results
# of one query (RediSearch's MAXSEARCHRESULTS is 10,000 on some servers).
MAX_REACH = 10_000


def check_reach(page: int, limit: int) -> int:
    """A page (whose limit was validated before it) the index can reach."""
    if page * limit > MAX_REACH:
        raise ValueError(f"page x limit must be at most {MAX_REACH}: narrow the query with "
                         "filters instead")
    return page


MemoryText = Annotated[str, StringConstraints(min_length=1, max_length=5000), NotBlank]


class UserMemoryIn(Body):
    """agno's UserMemoryCreateSchema, plus the agent and team it may name."""

    memory: MemoryText
    user_id: str = Field(pattern=USER_ID_PATTERN)
    topics: list[Tag] | None = Field(default=None, max_length=MAX_TAGS)
    agent_id: str | None = Field(default=None, pattern=AGENT_ID_RE.pattern)
    team_id: str | None = Field(default=None, pattern=USER_ID_PATTERN)


class UserMemoryPatch(Body):
    memory: MemoryText
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

    @field_validator("page")
    @classmethod
    def _within_reach(cls, page: int, info: ValidationInfo) -> int:
        return check_reach(page, info.data.get("limit", 1))

    def listing(self) -> Listing:
        return Listing(user_id=self.user_id, agent_id=self.agent_id, team_id=self.team_id,
                       topics=self.topics, search_content=self.search_content,
                       sort_by=self.sort_by, descending=self.sort_order == "desc",
                       page=self.page, limit=self.limit)


class StatsParams(BaseModel):
    model_config = ConfigDict(extra="ignore")
    user_id: str | None = Field(default=None, pattern=USER_ID_PATTERN)
    limit: int = Field(default=20, ge=1, le=100)
    page: int = Field(default=1, ge=1, le=100_000)

    @field_validator("page")
    @classmethod
    def _within_reach(cls, page: int, info: ValidationInfo) -> int:
        return check_reach(page, info.data.get("limit", 1))
