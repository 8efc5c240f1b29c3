"""How often a schedule fires, and the least interval an agent's own session may ask for
(`MEMANTO_SCHEDULE_MIN_INTERVAL`): an API key may schedule faster."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from croniter import croniter

from memanto_redis.shared.errors import InvalidInput

# Slots looked at: a year of them at most, enough for any pattern short of a leap day's.
MAX_SLOTS = 600
HORIZON = 366 * 86_400


def shortest_gap(expression: str, timezone: str, after: float, below: float) -> float:
    """The shortest time between two consecutive slots over the coming year (MAX_SLOTS at
    most), stopping as soon as one is shorter than `below`."""
    it = croniter(expression, datetime.fromtimestamp(after, ZoneInfo(timezone)))
    previous = it.get_next(float)
    shortest = float("inf")
    for _ in range(MAX_SLOTS):
        slot = it.get_next(float)
        shortest = min(shortest, slot - previous)
        if shortest < below or slot - after > HORIZON:
            break
        previous = slot
    return shortest


def check(expression: str, timezone: str, now: float, min_interval: int) -> None:
    """Refuse a schedule that would fire more often than every `min_interval` seconds (0:
    no limit). The expression is valid already."""
    if min_interval <= 0:
        return
    try:
        gap = shortest_gap(expression, timezone, now, min_interval)
    except Exception:  # croniter's bad-date errors: the store refuses a never-firing one
        return
    if gap < min_interval:
        message = (f"fires every {gap:g} s at times; a session may schedule at most once "
                   f"every {min_interval} s (an API key may go faster)")
        raise InvalidInput(f"invalid request: cron: {message}",
                           [{"field": "cron", "message": message, "type": "value_error"}])
