"""The rules of a memory's fields as pydantic types, for every dialect's request models
and for restores (imports, Markdown trees)."""

from __future__ import annotations

from typing import Annotated

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from memanto_redis.shared.memory.classify import classify
from memanto_redis.shared.memory.record import Draft
from memanto_redis.shared.memory.rules import (
    MAX_CONTENT,
    MAX_SOURCE,
    MAX_TAG_LEN,
    MAX_TAGS,
    MAX_TITLE,
    TAG_PATTERN,
    MemoryType,
    Provenance,
)

Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                       max_length=MAX_TAG_LEN, pattern=TAG_PATTERN)]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


# Text that must say something: spaces alone are refused.
NotBlank = AfterValidator(_not_blank)
Content = Annotated[str, StringConstraints(min_length=1, max_length=MAX_CONTENT), NotBlank]


def json_size(value: object) -> int:
    """The size of `value` as a memory's record stores it (orjson), or ValueError when it
    cannot be stored: orjson writes integers of at most 64 bits."""
    try:
        return len(orjson.dumps(value))
    except orjson.JSONEncodeError:
        raise ValueError("integers must fit in 64 bits") from None


class Body(BaseModel):
    # Unknown fields and wrong types are the client's mistake, named in the answer.
    # NaN and the infinities are no numbers a memory can hold.
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class MemoryFields(Body):
    """What a caller describes of a new memory."""

    content: Content
    # Omitted: classified from the content (classify.py), as MEMANTO does.
    type: MemoryType | None = None
    title: str | None = Field(default=None, max_length=MAX_TITLE)
    confidence: float = Field(default=0.8, ge=0.0, le=1.0)
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    source: str = Field(default="agent", min_length=1, max_length=MAX_SOURCE)
    provenance: Provenance = "explicit_statement"

    def draft(self) -> Draft:
        return Draft(content=self.content, type=self.type or classify(self.content),
                     title=self.title, confidence=self.confidence, tags=self.tags,
                     source=self.source, provenance=self.provenance)
