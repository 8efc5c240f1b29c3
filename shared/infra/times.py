"""Times are stored as epoch seconds and shown as ISO 8601 UTC with a trailing Z."""

from __future__ import annotations

import math
import time
from datetime import UTC, date, datetime
from datetime import time as clock

# The times a client may name: from the epoch to the last second of year 9999 (what ISO
# 8601 and Python's datetime can write).
EPOCH_MIN = 0.0
EPOCH_MAX = 253_402_300_799.0
# A memory's own times (created, updated) may run at most this far ahead of the clock.
FUTURE_SLACK = 86_400.0


def iso(epoch: float | str | bytes | None) -> str | None:
    """A stored time as ISO 8601; never raises (what cannot be written reads as None, and a
    time outside the representable years is shown at its bound)."""
    if epoch is None or epoch == b"" or epoch == "":
        return None
    try:
        seconds = float(epoch)
    except ValueError:
        return None
    if not math.isfinite(seconds):
        return None
    moment = datetime.fromtimestamp(min(max(seconds, EPOCH_MIN), EPOCH_MAX), tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: str | float | int, *, end_of_day: bool = False) -> float:
    """ISO 8601 time or date (UTC when no zone is given), or epoch seconds -> epoch seconds,
    from 1970 to the end of year 9999."""
    if isinstance(value, bool):
        raise ValueError("expected an ISO 8601 time or epoch seconds")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        try:
            seconds = moment(value, end_of_day=end_of_day).timestamp()
        except (ValueError, OverflowError) as exc:
            raise ValueError(f"not an ISO 8601 time: {value!r}") from exc
    if not math.isfinite(seconds) or not EPOCH_MIN <= seconds <= EPOCH_MAX + 1:
        raise ValueError("must be a time from 1970-01-01 to 9999-12-31")
    return min(seconds, EPOCH_MAX)


def moment(value: str, *, end_of_day: bool = False) -> datetime:
    """An ISO 8601 time or date as an aware datetime (UTC when no zone is given); a bare
    date is its first instant, or with `end_of_day` its last (23:59:59.999999, as MEMANTO
    reads it). ValueError when it is neither."""
    if len(value) == 10:
        day = date.fromisoformat(value)
        return datetime.combine(day, clock.max if end_of_day else clock.min, tzinfo=UTC)
    found = datetime.fromisoformat(value)
    return found if found.tzinfo is not None else found.replace(tzinfo=UTC)


def stated(value: str | float | int, *, end_of_day: bool = False) -> str:
    """A time a client named, written back as MEMANTO writes it (`datetime.isoformat()`,
    microseconds and offset): exact, where `iso` of the epoch seconds could round a day's
    last microsecond into the next day. Call after `parse_time` accepted `value`."""
    if isinstance(value, str):
        return moment(value, end_of_day=end_of_day).isoformat()
    return datetime.fromtimestamp(min(max(float(value), EPOCH_MIN), EPOCH_MAX),
                                  tz=UTC).isoformat()


def check_not_future(seconds: float) -> float:
    """A memory's own time: not more than a day ahead of the clock."""
    if seconds > time.time() + FUTURE_SLACK:
        raise ValueError("must not be more than a day in the future")
    return seconds
