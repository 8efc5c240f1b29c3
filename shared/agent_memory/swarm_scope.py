"""Which swarm facts a tenant key sees: those whose `source_agent` its agent patterns
cover. The index narrows the search where it can (exact ids, and prefixes of 2 or more
characters, which RediSearch's tag prefixes need); fnmatch decides every fact in the end,
so what the index cannot express is never shown, only fetched."""

from __future__ import annotations

import re
from collections.abc import Sequence
from fnmatch import fnmatchcase

from redisvl.query.filter import FilterExpression

from memanto_redis.shared.infra.fulltext import Tag

# Facts fetched for a pattern the index cannot narrow, before fnmatch keeps those in scope.
OVERFETCH = 1000
_WILDCARD = re.compile(r"[*?]")
_MIN_PREFIX = 2


def _clause(pattern: str) -> str | None:
    """A tag-query term for the pattern, or None when the index cannot narrow it."""
    first = _WILDCARD.search(pattern)
    if first is None:
        return str(Tag.escaper.escape(pattern))
    prefix = pattern[:first.start()]
    return str(Tag.escaper.escape(prefix)) + "*" if len(prefix) >= _MIN_PREFIX else None


def narrowing(field: str, patterns: Sequence[str]) -> FilterExpression | None:
    """An index filter holding every fact the patterns cover (maybe more), or None when
    one of them cannot be expressed (then the caller fetches OVERFETCH and filters)."""
    clauses = [_clause(p) for p in patterns]
    if not clauses or any(c is None for c in clauses):
        return None
    return FilterExpression(f"@{field}:{{{' | '.join(c for c in clauses if c)}}}")


def covered(patterns: Sequence[str], source_agent: str) -> bool:
    return any(fnmatchcase(source_agent, p) for p in patterns)
