"""Times are stored as epoch seconds and shown as ISO 8601 UTC with a trailing Z."""

from __future__ import annotations

from datetime import UTC, date, datetime


def iso(epoch: float | str | bytes | None) -> str | None:
    if epoch is None or epoch == b"" or epoch == "":
        return None
    moment = datetime.fromtimestamp(float(epoch), tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: str | float | int, *, end_of_day: bool = False) -> float:
    """ISO 8601 time or date (UTC when no zone is given), or epoch seconds -> epoch seconds."""
    if isinstance(value, bool):
        raise ValueError("expected an ISO 8601 time or epoch seconds")
    if isinstance(value, int | float):
        return float(value)
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return moment.timestamp() + (86_400 - 1e-6 if end_of_day else 0.0)
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"not an ISO 8601 time: {value!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
