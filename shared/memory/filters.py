"""Which memories a read is about: the caller's filters, as index expressions."""

from __future__ import annotations

from dataclasses import dataclass, field

from redisvl.query.filter import FilterExpression, Num

from memanto_redis.shared.infra.fulltext import Tag


@dataclass(frozen=True, slots=True)
class Filters:
    """Type, tags and creation-time bounds (epoch seconds) shared by every kind of recall;
    empty means no bound."""

    types: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    created_after: float | None = None
    created_before: float | None = None

    def expression(self) -> FilterExpression:
        expression = FilterExpression("*")
        if self.types:
            expression &= Tag("type") == list(self.types)
        if self.tags:
            expression &= Tag("tags") == list(self.tags)
        if self.created_after is not None:
            expression &= Num("created_ts") >= self.created_after
        if self.created_before is not None:
            expression &= Num("created_ts") <= self.created_before
        return expression


NO_FILTERS = Filters()


def live_filter(agent_id: str, status: str = "active") -> FilterExpression:
    """The agent's current memories (not earlier versions), by lifecycle status."""
    expression = (Tag("agent_id") == agent_id) & (Tag("kind") == "live")
    if status != "all":
        expression &= Tag("lifecycle") == status
    return expression
