"""Opaque page cursors: where a page ended (a keyset position), handed out as URL-safe
base64 of JSON, so a client passes it back unread and the server may change what it holds."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from memanto_redis.shared.errors import InvalidInput

# Far above any position written here; longer text is refused before it is decoded.
MAX_CURSOR = 1024


def encode(position: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":"))
                                    .encode()).decode()


def refused(field: str = "cursor") -> InvalidInput:
    return InvalidInput(f"{field}: not a cursor this server handed out (pass next_cursor of "
                        "the page before, or none for the first page)",
                        [{"field": field, "message": "not a cursor", "type": "value_error"}])


def decode(cursor: str, field: str = "cursor") -> dict[str, Any]:
    """The position a cursor holds; InvalidInput naming `field` for anything else."""
    if len(cursor) > MAX_CURSOR:
        raise refused(field)
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, binascii.Error):  # UnicodeError and JSONDecodeError are ValueErrors
        raise refused(field) from None
    if not isinstance(position, dict):
        raise refused(field)
    return position
