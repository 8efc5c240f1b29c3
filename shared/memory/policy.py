"""An agent's memory policy: when its memories stop being active (MEMANTO 0.2.30's expiry
policies, same names and shapes).

Nothing expires on its own: a policy takes effect when a sweep runs (on demand, or the
scheduler's nightly one; shared/memory/policy_sweep.py), which expires each memory it
matches through the editor, so the expiry is a version in the memory's history.

A policy has two halves. `retention` is a table per type (`context: 7d`, `fact: never`);
`rules` are named match blocks tried in order, the first that matches deciding (so a rule
whose `expire_after` is `never` pins a memory active whatever the table says).
`purge_expired_after` is how long an expired memory is kept before a purge deletes it.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints, field_validator, model_validator

from memanto_redis.shared.memory.record import Memory
from memanto_redis.shared.memory.rules import MEMORY_TYPES, MemoryType, Provenance

POLICY_VERSION = 1
NEVER = "never"
# `mo` before the one-letter units, so "3mo" is not read as "3m". A month is 30 days:
# an expiry window needs no calendar.
_DURATION = re.compile(r"^(\d+)\s*(mo|[mhdwy])$", re.IGNORECASE)
UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86_400, "w": 604_800, "mo": 2_592_000,
                "y": 31_536_000}
# The longest window anyone can mean (beyond it, "never" says it better).
MAX_SECONDS = 1_000 * UNIT_SECONDS["y"]
# A rule's name is stamped on what it expires (expired_by), so it is a filter-safe token.
RuleName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                            max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]


def parse_duration(value: str) -> int | None:
    """"30d", "12h", "6mo", "1y" -> seconds; "never" (or "") -> None, no expiry.
    ValueError says what a duration looks like."""
    token = value.strip().lower()
    if token in (NEVER, ""):
        return None
    match = _DURATION.fullmatch(token)
    if not match:
        raise ValueError(f"invalid duration {value!r}: a whole number followed by "
                         "m, h, d, w, mo or y (e.g. '30d', '6mo'), or 'never'")
    seconds = int(match.group(1)) * UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"invalid duration {value!r}: must be greater than zero")
    if seconds > MAX_SECONDS:
        raise ValueError(f"invalid duration {value!r}: at most 1000y (or 'never')")
    return seconds


def _duration(value: Any) -> Any:
    # Checked as the policy is read, so a bad one is refused when saved, not at sweep time.
    if isinstance(value, str):
        parse_duration(value)
    return value


class _Lax(BaseModel):
    """As MEMANTO's models: unknown fields ignored, and null means "not given"."""

    @model_validator(mode="before")
    @classmethod
    def _null_is_absent(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None}
        return data


class PolicyMatch(_Lax):
    """What a memory must be for a rule to fire: every condition given (AND); within a
    list, any value (OR). An empty match matches every memory."""

    type: list[MemoryType] | None = None
    tags: list[str] | None = None
    source: list[str] | None = None
    provenance: list[Provenance] | None = None
    confidence_below: float | None = Field(default=None, ge=0.0, le=1.0)

    def matches(self, memory: Memory) -> bool:
        if self.type is not None and memory.type not in self.type:
            return False
        if self.tags is not None and not set(self.tags) & set(memory.tags):
            return False
        if self.source is not None and memory.source not in self.source:
            return False
        if self.provenance is not None and memory.provenance not in self.provenance:
            return False
        return self.confidence_below is None or memory.confidence < self.confidence_below


class PolicyRule(_Lax):
    name: RuleName
    match: PolicyMatch = Field(default_factory=PolicyMatch)
    expire_after: str = NEVER

    _check = field_validator("expire_after")(_duration)

    @property
    def window(self) -> int | None:
        return parse_duration(self.expire_after)


class MemoryPolicy(_Lax):
    """One agent's policy; the empty one (the default) expires nothing."""

    version: int = POLICY_VERSION
    retention: dict[str, str] = Field(default_factory=dict)
    rules: list[PolicyRule] = Field(default_factory=list)
    purge_expired_after: str = NEVER

    _check = field_validator("purge_expired_after")(_duration)

    @field_validator("retention")
    @classmethod
    def _known_types(cls, value: dict[str, str]) -> dict[str, str]:
        for memory_type, duration in value.items():
            if memory_type not in MEMORY_TYPES:
                raise ValueError(f"unknown memory type {memory_type!r} in retention; one of "
                                 + ", ".join(MEMORY_TYPES))
            parse_duration(duration)
        return value

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, value: list[PolicyRule]) -> list[PolicyRule]:
        # A rule's name is what an expired memory says expired it: one rule per name.
        names = [rule.name for rule in value]
        doubled = sorted({name for name in names if names.count(name) > 1})
        if doubled:
            raise ValueError(f"duplicate rule name {doubled[0]!r}")
        return value

    @property
    def purge_window(self) -> int | None:
        return parse_duration(self.purge_expired_after)

    def is_empty(self) -> bool:
        """Whether a sweep under this policy could never expire anything."""
        return not self.rules and all(parse_duration(d) is None
                                      for d in self.retention.values())

    def shortest_window(self) -> int | None:
        """The least age at which anything can expire (None: nothing can)."""
        windows = [w for w in (*(r.window for r in self.rules),
                               *(parse_duration(d) for d in self.retention.values()))
                   if w is not None]
        return min(windows, default=None)

    def shown(self) -> dict[str, Any]:
        """The policy as MEMANTO shows it: conditions not set are left out."""
        return self.model_dump(mode="json", exclude_none=True)

    def verdict(self, memory: Memory, now: float) -> str | None:
        """Why `memory` expires at `now` (the rule's name, or `retention.<type>`), or None
        when it stays. Its age counts from its last change: an edit shows it still lives."""
        if memory.lifecycle != "active":
            return None  # a sweep never re-stamps an expiry, nor revives a memory
        age = now - (memory.updated_at or memory.created_at)
        for rule in self.rules:
            if rule.match.matches(memory):
                window = rule.window
                return rule.name if window is not None and age >= window else None
        if memory.type not in self.retention:
            return None
        window = parse_duration(self.retention[memory.type])
        return f"retention.{memory.type}" if window is not None and age >= window else None
