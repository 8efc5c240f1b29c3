"""Times are stored as epoch seconds and shown as ISO 8601 UTC with a trailing Z."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(epoch: float | str | bytes | None) -> str | None:
    if epoch is None or epoch == b"" or epoch == "":
        return None
    moment = datetime.fromtimestamp(float(epoch), tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
