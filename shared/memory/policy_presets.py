"""MEMANTO's three ready-made policies, by name, to adopt and then edit.

In all three, preferences, instructions and relationships (durable truths about the user)
never expire on a timer, context (current state) goes first, and a memory tagged `pinned`
is exempt: whoever pinned it overrode the policy on purpose.
"""

from __future__ import annotations

from typing import Any

from memanto_redis.shared.errors import NotFound
from memanto_redis.shared.memory.policy import MemoryPolicy

_PINNED = {"name": "pinned", "match": {"tags": ["pinned"]}, "expire_after": "never"}

PRESETS: dict[str, dict[str, Any]] = {
    "conservative": {
        "description": "Expire only fast-rotting state. Nothing durable ages out, and "
                       "nothing is ever purged.",
        "policy": {
            "retention": {"context": "30d", "event": "90d", "error": "90d"},
            "rules": [_PINNED],
            "purge_expired_after": "never",
        },
    },
    "balanced": {
        "description": "Sensible defaults for a working agent: transient state ages out "
                       "in weeks, semantic knowledge in months, durable truths never.",
        "policy": {
            "retention": {"context": "7d", "event": "30d", "error": "30d",
                          "observation": "60d", "commitment": "90d", "artifact": "180d"},
            "rules": [
                _PINNED,
                {"name": "scratch-notes", "match": {"tags": ["scratch", "temp"]},
                 "expire_after": "3d"},
                {"name": "low-confidence-guesses",
                 "match": {"provenance": ["inferred"], "confidence_below": 0.5},
                 "expire_after": "14d"},
            ],
            "purge_expired_after": "never",
        },
    },
    "aggressive": {
        "description": "Keep the working set tight. Most types age out quickly and "
                       "expired memories are purged after a year.",
        "policy": {
            "retention": {"context": "3d", "event": "14d", "error": "14d",
                          "observation": "30d", "commitment": "30d", "artifact": "60d",
                          "fact": "180d", "decision": "180d", "goal": "180d",
                          "learning": "180d"},
            "rules": [
                _PINNED,
                {"name": "scratch-notes", "match": {"tags": ["scratch", "temp"]},
                 "expire_after": "1d"},
                {"name": "low-confidence-imports",
                 "match": {"provenance": ["imported", "inferred"], "confidence_below": 0.5},
                 "expire_after": "7d"},
            ],
            "purge_expired_after": "365d",
        },
    },
}


class UnknownPreset(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"Unknown preset '{name}'. Must be one of: "
                         + ", ".join(sorted(PRESETS)) + ".")


def preset(name: str) -> MemoryPolicy:
    """The named preset's policy; UnknownPreset names the ones there are."""
    if name not in PRESETS:
        raise UnknownPreset(name)
    return MemoryPolicy.model_validate(PRESETS[name]["policy"])


def describe(name: str) -> str:
    return str(PRESETS[name]["description"]) if name in PRESETS else ""


def summaries() -> list[dict[str, Any]]:
    """Each preset as MEMANTO lists them."""
    listed = []
    for name in PRESETS:
        policy = preset(name)
        listed.append({"name": name, "description": describe(name),
                       "retention": policy.retention, "rule_count": len(policy.rules),
                       "purge_expired_after": policy.purge_expired_after})
    return listed
