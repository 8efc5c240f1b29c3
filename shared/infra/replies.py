"""Redis replies as text. The service's clients never decode responses (vectors are bytes),
so every reply that holds text comes back as bytes, and redis-py types it `bytes | str`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

# A hash as HGETALL returns it.
RawHash = dict[bytes, bytes]


def raw_hash(reply: Any) -> RawHash:
    """HGETALL's reply, typed as what it is here (bytes to bytes)."""
    return cast(RawHash, reply)


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def text_or_none(value: bytes | str | None) -> str | None:
    return None if value is None else text(value)


def text_fields(raw: Mapping[Any, Any]) -> dict[str, str]:
    """A hash (HGETALL) with its names and values as text."""
    return {text(k): text(v) for k, v in raw.items()}
