"""A memory as a restore hands it over (the import route, a Markdown tree): with its id,
its times, its one-line description and metadata."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from memanto_redis.shared.infra.times import check_not_future, parse_time
from memanto_redis.shared.memory.fields import MemoryFields, json_size
from memanto_redis.shared.memory.record import Draft
from memanto_redis.shared.memory.rules import (
    MAX_BATCH,
    MAX_DESCRIPTION,
    MEMORY_ID_RE,
    Provenance,
)


class ImportItem(MemoryFields):
    """A memory as remember takes it, plus what a restore keeps: its id, its times, its
    one-line description and metadata. Without an id it gets a new one."""

    memory_id: str | None = Field(default=None, pattern=MEMORY_ID_RE.pattern)
    # Imported memories did not come from the caller's own statement.
    provenance: Provenance = "imported"
    description: str | None = Field(default=None, min_length=1, max_length=MAX_DESCRIPTION)
    metadata: dict[str, Any] | None = None
    created_at: str | float | None = None
    updated_at: str | float | None = None

    @field_validator("metadata")
    @classmethod
    def _storable(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            json_size(value)
        return value

    @field_validator("description")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        return " ".join(value.split()) if value is not None else None

    @field_validator("created_at", "updated_at")
    @classmethod
    def _time(cls, value: str | float | None) -> str | float | None:
        if value is not None:
            check_not_future(parse_time(value))
        return value

    @model_validator(mode="after")
    def _in_order(self) -> ImportItem:
        if self.created_at is not None and self.updated_at is not None \
                and parse_time(self.updated_at) < parse_time(self.created_at):
            raise ValueError("updated_at is before created_at")
        return self

    def times(self) -> tuple[float | None, float | None]:
        """(created, updated) in epoch seconds; one given stands for both."""
        created = parse_time(self.created_at) if self.created_at is not None else None
        updated = parse_time(self.updated_at) if self.updated_at is not None else None
        return created if created is not None else updated, \
            updated if updated is not None else created

    def draft(self) -> Draft:
        """The remember fields' draft, with what an import carries beside them."""
        created, updated = self.times()
        return replace(super().draft(), memory_id=self.memory_id, created_at=created,
                       updated_at=updated,
                       metadata=dict(self.metadata) if self.metadata else None)


class ImportIn(BaseModel):
    # All or nothing: one bad item refuses the request, naming it (`memories.3.content`).
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
    memories: list[ImportItem] = Field(min_length=1, max_length=MAX_BATCH)
