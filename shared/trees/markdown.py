"""Seed 002's Markdown memory trees, as pure functions: slugs, frontmatter, the topic
layout, INDEX.md, and the mapping between the seed's four types and memory types.

    DIR/INDEX.md              one line per entry, and one pointer line per topic folder
    DIR/user_role.md          frontmatter (name, description, type, ...) + the content
    DIR/stripe/INDEX.md       a topic that gathered MIN_TOPIC or more entries
    DIR/stripe/retries.md

A memory's topic is its first tag. Everything here is deterministic (no export time, sorted
orders), so that export -> import -> export writes byte-identical trees.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import ValidationError

from memanto_redis.shared.errors import InvalidInput
from memanto_redis.shared.infra.times import iso
from memanto_redis.shared.memory.imports import ImportItem
from memanto_redis.shared.memory.rules import MemoryType

INDEX = "INDEX.md"
# A topic with this many entries or more gets its own folder.
MIN_TOPIC = 3
MAX_SLUG = 60
# Derived descriptions: the content's first line, cut to this.
DESCRIPTION_LEN = 150

MEMORY_TYPES: tuple[str, ...] = get_args(MemoryType)
SEED_TYPES = ("user", "feedback", "project", "reference")
# Memory type -> seed type, for `type:` in exported files (the exact one is `memory_type:`).
_SEED_OF = {"preference": "user", "relationship": "user",
            "instruction": "feedback", "learning": "feedback", "error": "feedback",
            "artifact": "reference"}
# Seed type -> memory type, for hand-written entries; each maps back to its seed type.
FROM_SEED = {"user": "preference", "feedback": "instruction", "project": "context",
             "reference": "artifact"}
# Frontmatter fields in the order export writes them.
FIELDS = ("name", "description", "type", "memory_type", "id", "tags", "confidence", "source",
          "provenance", "created_at", "updated_at", "metadata")

_FRONTMATTER = re.compile(r"\A---[ \t]*\n(.*?)^---[ \t]*(?:\n|\Z)", re.S | re.M)


class TreeError(InvalidInput):
    """A tree that cannot be read: each problem names its file."""


def seed_type(memory_type: str) -> str:
    return _SEED_OF.get(memory_type, "project")


def memory_type_of(kind: str) -> str:
    """A seed type (user, feedback, project, reference) or a memory type -> memory type."""
    if kind in FROM_SEED:
        return FROM_SEED[kind]
    if kind in MEMORY_TYPES:
        return kind
    raise ValueError(f"type must be one of {', '.join(SEED_TYPES)} (or a memory type: "
                     f"{', '.join(MEMORY_TYPES)}), got {kind!r}")


def slugify(text: str, fallback: str = "memory") -> str:
    """Lowercase ASCII letters, digits and `_`, at most MAX_SLUG characters."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")
    return slug[:MAX_SLUG].rstrip("_") or fallback


def one_line(text: str) -> str:
    return " ".join(text.split())


def derive_description(content: str) -> str:
    """The content's first non-blank line, whitespace folded, cut to DESCRIPTION_LEN."""
    line = one_line(next((ln for ln in content.splitlines() if ln.strip()), content))
    if len(line) <= DESCRIPTION_LEN:
        return line
    return line[: DESCRIPTION_LEN - 3].rstrip() + "..."


@dataclass(frozen=True)
class Entry:
    """One memory as a tree holds it. Hand-written entries may lack everything after
    `content`; exported ones carry all of it, so that a restore is exact."""

    name: str
    description: str
    memory_type: str
    content: str = ""
    memory_id: str | None = None
    tags: tuple[str, ...] = ()
    confidence: float | None = None
    source: str | None = None
    provenance: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    metadata: dict[str, Any] | None = field(default=None, compare=False)

    @property
    def topic(self) -> str | None:
        """The folder name of the entry's first tag."""
        return slugify(self.tags[0], "topic") if self.tags else None

    @classmethod
    def from_api(cls, memory: dict[str, Any]) -> Entry:
        """From the export route's shape (memory_id, title, description, content, ...)."""
        return cls(
            name=memory["title"], description=memory["description"],
            memory_type=memory["type"], content=memory.get("content", ""),
            memory_id=memory.get("memory_id"), tags=tuple(memory.get("tags") or ()),
            confidence=memory.get("confidence"), source=memory.get("source"),
            provenance=memory.get("provenance"), created_at=memory.get("created_at"),
            updated_at=memory.get("updated_at"), metadata=memory.get("metadata") or None,
        )

    def to_api(self) -> dict[str, Any]:
        """As an item of the import route's body."""
        item = {"memory_id": self.memory_id, "content": self.content, "title": self.name,
                "description": self.description, "type": self.memory_type,
                "tags": list(self.tags), "confidence": self.confidence, "source": self.source,
                "provenance": self.provenance, "created_at": self.created_at,
                "updated_at": self.updated_at, "metadata": self.metadata}
        return {k: v for k, v in item.items() if v is not None}


@dataclass(frozen=True)
class Placed:
    entry: Entry
    slug: str
    folder: str | None

    @property
    def path(self) -> str:
        return f"{self.folder}/{self.slug}.md" if self.folder else f"{self.slug}.md"


def _order(entry: Entry) -> tuple[str, str, str]:
    # By the times as written (milliseconds), so a restored tree orders as the original.
    return entry.created_at or "", entry.memory_id or "", entry.name


def layout(entries: list[Entry]) -> list[Placed]:
    """Where each entry goes, oldest first: a slug unique in the whole tree (from its name;
    `_2`, `_3`, ... in that order on a clash), and its topic's folder when the topic
    gathers MIN_TOPIC entries or more."""
    ordered = sorted(entries, key=_order)
    sizes = Counter(e.topic for e in ordered if e.topic)
    # `index.md` would clash with INDEX.md on case-insensitive file systems.
    used = {"index"}
    placed = []
    for entry in ordered:
        base = slug = slugify(entry.name)
        n = 1
        while slug in used:
            n += 1
            slug = f"{base}_{n}"
        used.add(slug)
        folder = entry.topic if entry.topic and sizes[entry.topic] >= MIN_TOPIC else None
        placed.append(Placed(entry, slug, folder))
    return placed


def _link_text(text: str) -> str:
    return one_line(text).replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")


def index_line(name: str, target: str, description: str) -> str:
    return f"- [{_link_text(name)}]({target}) — {one_line(description)}"


def render_index(title: str, lines: list[str]) -> str:
    return f"# {title}\n\n" + "".join(line + "\n" for line in lines)


def render_entry(entry: Entry) -> str:
    head: dict[str, Any] = {
        "name": entry.name, "description": one_line(entry.description),
        "type": seed_type(entry.memory_type), "memory_type": entry.memory_type,
        "id": entry.memory_id, "tags": list(entry.tags), "confidence": entry.confidence,
        "source": entry.source, "provenance": entry.provenance,
        "created_at": entry.created_at, "updated_at": entry.updated_at,
        "metadata": entry.metadata or None,
    }
    head = {k: v for k, v in head.items() if v is not None}
    text = yaml.safe_dump(head, sort_keys=False, allow_unicode=True, default_flow_style=None,
                          width=1_000_000)
    # One newline closes the body; parse_entry takes exactly that one away.
    return f"---\n{text}---\n{entry.content}\n"


def render_tree(entries: list[Entry]) -> dict[str, str]:
    """The whole tree: relative path -> file text, INDEX.md files included."""
    placed = layout(entries)
    files = {p.path: render_entry(p.entry) for p in placed}
    folders: dict[str, list[Placed]] = {}
    root_lines = []
    for p in placed:
        if p.folder:
            folders.setdefault(p.folder, []).append(p)
        else:
            root_lines.append(index_line(p.entry.name, p.path, p.entry.description))
    for folder, members in sorted(folders.items()):
        root_lines.append(f"- [{folder}/]({folder}/{INDEX}) — {len(members)} entries")
        files[f"{folder}/{INDEX}"] = render_index(folder, [
            index_line(p.entry.name, f"{p.slug}.md", p.entry.description) for p in members])
    files[INDEX] = render_index("Memory", root_lines)
    return files


# -- reading -------------------------------------------------------------------------------

def _text(value: Any, name: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"{name} must be text")
    # YAML has trimmed plain values already; spaces kept in quotes are meant.
    return str(value)


def _time(value: Any, name: str) -> str:
    # Unquoted YAML times arrive as datetime/date objects.
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return iso(moment.timestamp()) or ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return value.strip()
    raise ValueError(f"{name} must be an ISO 8601 time")


def _tags(value: Any) -> list[str]:
    if isinstance(value, str):
        return [t.strip() for t in value.split(",") if t.strip()]
    if not isinstance(value, list):
        raise ValueError("tags must be a list")
    return [_text(tag, "each tag") for tag in value]


def _topic_first(tags: list[str], folder: str) -> list[str]:
    """An entry in a topic folder carries that topic as its first tag (so that its export
    lands in the same folder): moved first, or added."""
    topic = slugify(folder, "topic")
    for i, tag in enumerate(tags):
        if slugify(tag, "topic") == topic:
            return [tag, *tags[:i], *tags[i + 1:]]
    return [folder if "," not in folder else topic, *tags]


def _fields(head: dict[str, Any], body: str, folder: str | None) -> dict[str, Any]:
    unknown = sorted(set(head) - set(FIELDS), key=str)
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(map(str, unknown))} (known: "
                         f"{', '.join(FIELDS)})")
    for required in ("name", "type"):
        if head.get(required) in (None, ""):
            raise ValueError(f"{required} is required")
    exact = head.get("id") is not None
    content = body if exact else body.strip()
    if not content.strip():
        raise ValueError("the body is empty: write the memory below the frontmatter")
    memory_type = memory_type_of(_text(head["type"], "type"))
    if head.get("memory_type") is not None:
        memory_type = _text(head["memory_type"], "memory_type")
        if memory_type not in MEMORY_TYPES:
            raise ValueError(f"memory_type must be one of {', '.join(MEMORY_TYPES)}, "
                             f"got {memory_type!r}")
    tags = _tags(head["tags"]) if head.get("tags") is not None else []
    if folder is not None:
        tags = _topic_first(tags, folder)
    metadata = head.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise ValueError("metadata must be a mapping")
    description = head.get("description")
    return {
        "name": _text(head["name"], "name"),
        "description": (one_line(_text(description, "description")) if description
                        not in (None, "") else derive_description(content)),
        "memory_type": memory_type, "content": content,
        "memory_id": _text(head["id"], "id") if exact else None,
        "tags": tuple(tags),
        "confidence": head.get("confidence"),
        "source": _text(head["source"], "source") if head.get("source") else None,
        "provenance": _text(head["provenance"], "provenance") if head.get("provenance")
        else None,
        "created_at": _time(head["created_at"], "created_at") if head.get("created_at")
        else None,
        "updated_at": _time(head["updated_at"], "updated_at") if head.get("updated_at")
        else None,
        "metadata": metadata or None,
    }


def parse_entry(text: str, where: str, folder: str | None = None) -> Entry:
    """One Markdown entry. Its body is kept exactly when it has an `id` (an export), else
    trimmed. `folder`: the topic folder it was found in. Problems raise TreeError naming
    `where`."""
    text = text.removeprefix("\ufeff")
    if text.startswith("---\r\n"):
        text = text.replace("\r\n", "\n")
    found = _FRONTMATTER.match(text)
    if not found:
        raise TreeError(f"{where}: no frontmatter: the file must start with a '---' line, "
                        "then name, description and type, then a closing '---' line")
    try:
        head = yaml.safe_load(found.group(1))
    except yaml.YAMLError as exc:
        problem = one_line(str(exc))
        raise TreeError(f"{where}: the frontmatter is not valid YAML: {problem}") from exc
    if not isinstance(head, dict):
        raise TreeError(f"{where}: the frontmatter must be fields (name, description, type)")
    body = text[found.end():]
    try:
        entry = Entry(**_fields(head, body.removesuffix("\n"), folder))
        ImportItem.model_validate(entry.to_api())
    except ValueError as exc:
        # pydantic's ValidationError is a ValueError too; name each field at fault.
        raise TreeError(f"{where}: {_explain(exc)}") from None
    return entry


def _explain(exc: ValueError) -> str:
    if not isinstance(exc, ValidationError):
        return str(exc)
    names = {"title": "name", "memory_id": "id", "type": "memory_type", "content": "body"}
    parts = []
    for err in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in err["loc"])
        where = names.get(where, where)
        parts.append(f"{where}: {err['msg']}" if where else err["msg"])
    return "; ".join(parts)


def read_tree(root: Path) -> list[Entry]:
    """Every entry of a tree, by path (INDEX.md files and hidden folders skipped). Every
    bad file is reported, in one TreeError."""
    if not root.is_dir():
        raise TreeError(f"{root}: not a folder")
    entries: list[Entry] = []
    problems: list[str] = []
    seen: dict[str, Path] = {}
    for path in sorted(root.rglob("*.md")):
        rel = path.relative_to(root)
        if path.name.lower() == INDEX.lower() or any(p.startswith(".") for p in rel.parts):
            continue
        folder = rel.parent.name if rel.parent != Path(".") else None
        try:
            text = path.read_bytes().decode("utf-8")
            entry = parse_entry(text, str(path), folder)
        except UnicodeDecodeError:
            problems.append(f"{path}: not UTF-8 text")
            continue
        except TreeError as exc:
            problems.append(exc.message)
            continue
        if entry.memory_id and entry.memory_id in seen:
            problems.append(f"{path}: id {entry.memory_id} is also used by "
                            f"{seen[entry.memory_id]}")
            continue
        if entry.memory_id:
            seen[entry.memory_id] = path
        entries.append(entry)
    if problems:
        raise TreeError("\n".join(problems))
    return entries


def write_tree(root: Path, files: dict[str, str]) -> None:
    """Write a rendered tree byte for byte (no newline translation)."""
    for rel, text in sorted(files.items()):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
