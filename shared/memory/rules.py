"""What a memory may hold: its types, provenances, limits and id formats (DESIGN.md,
"Validation"). Every dialect's request models check against these."""

from __future__ import annotations

import re
from typing import Literal, get_args

MemoryType = Literal[
    "fact", "preference", "goal", "decision", "artifact", "learning", "event",
    "instruction", "relationship", "context", "observation", "commitment", "error",
]
MEMORY_TYPES: tuple[str, ...] = get_args(MemoryType)
Provenance = Literal[
    "explicit_statement", "inferred", "observed", "validated", "corrected", "imported",
]
Lifecycle = Literal["active", "expired", "all"]

# Not starting with a dot: '.' and '..' would vanish from a URL's path.
AGENT_ID_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$")
MEMORY_ID_RE = re.compile(r"^[A-Za-z0-9-]{1,64}$")
# A user or team id of the /memories dialect: anything printable but braces (which would
# break the key's hash tag) and commas (the tag separator).
USER_ID_PATTERN = r"^[^{},\x00-\x1f\x7f]{1,128}$"
USER_ID_RE = re.compile(USER_ID_PATTERN)
# Tags are stored in one RediSearch TAG field separated by commas; a control character can
# never be queried.
TAG_PATTERN = r"^[^,\x00-\x1f\x7f]+$"

MAX_CONTENT = 10_000
MAX_TITLE = 100
MAX_TAGS = 20
MAX_TAG_LEN = 64
MAX_SOURCE = 100
MAX_BATCH = 100
MAX_RECALL_LIMIT = 100
MAX_DESCRIPTION = 500


def namespace(agent_id: str) -> str:
    """The MEMANTO namespace of an agent's memories."""
    return f"memanto_agent_{agent_id}"


def derive_title(content: str) -> str:
    """First line of the content, whitespace folded, cut to the title's limit."""
    line = next((ln for ln in content.splitlines() if ln.strip()), content)
    line = " ".join(line.split())
    return line if len(line) <= MAX_TITLE else line[: MAX_TITLE - 3].rstrip() + "..."


def split_tags(raw: str | bytes | None) -> list[str]:
    """Tags as the index stores them (one comma-separated field) -> a list."""
    if isinstance(raw, bytes):
        raw = raw.decode()
    return [t for t in (raw or "").split(",") if t]
