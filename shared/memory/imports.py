"""The import body: memories restored with their ids, times and descriptions, as a Markdown
tree (shared/markdown_tree.py) or another store hands them over."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from memanto_redis.shared.memory.models import MAX_BATCH, MemoryIn, Provenance, parse_time

MEMORY_ID_PATTERN = r"^[A-Za-z0-9-]{1,64}$"  # as shared.memories.MEMORY_ID_RE
MAX_DESCRIPTION = 500


class ImportItem(MemoryIn):
    """A memory as remember takes it, plus what a restore keeps: its id, its times, its
    one-line description and metadata. Without an id it gets a new one."""

    memory_id: str | None = Field(default=None, pattern=MEMORY_ID_PATTERN)
    # Imported memories did not come from the caller's own statement.
    provenance: Provenance = "imported"
    description: str | None = Field(default=None, min_length=1, max_length=MAX_DESCRIPTION)
    metadata: dict[str, Any] | None = None
    created_at: str | float | None = None
    updated_at: str | float | None = None

    @field_validator("description")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        return " ".join(value.split()) if value is not None else None

    @field_validator("created_at", "updated_at")
    @classmethod
    def _time(cls, value: str | float | None) -> str | float | None:
        if value is not None:
            parse_time(value)
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


class ImportIn(BaseModel):
    # All or nothing: one bad item refuses the request, naming it (`memories.3.content`).
    model_config = ConfigDict(extra="forbid", strict=True)
    memories: list[ImportItem] = Field(min_length=1, max_length=MAX_BATCH)
