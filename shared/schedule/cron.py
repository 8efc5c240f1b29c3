"""Cron arithmetic for schedules: validation, the next slot, the slot due now.

Expressions are standard 5-field cron (`minute hour day month weekday`), evaluated in the
schedule's IANA timezone (DST included). A 6th field, LAST, gives seconds (croniter's own
convention): `* * * * * */2` fires every two seconds. Slots are whole epoch seconds.
"""

from __future__ import annotations

import math
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from croniter import croniter


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def check_timezone(name: str) -> str:
    """An IANA zone name known to this machine's tz database (e.g. UTC, Europe/Berlin)."""
    if name not in _zones():
        raise ValueError(f"unknown timezone {name!r}; use an IANA name such as UTC or "
                         "Europe/Berlin")
    return name


def check_cron(expression: str) -> str:
    """The expression with its fields separated by single spaces; ValueError if unusable."""
    fields = expression.split()
    if any(f.startswith("@") for f in fields):
        raise ValueError("cron aliases such as @daily are not supported; write the fields")
    if len(fields) not in (5, 6):
        raise ValueError(f"cron needs 5 fields (minute hour day month weekday), or 6 with "
                         f"seconds last; got {len(fields)}")
    normal = " ".join(fields)
    # croniter raises several kinds of errors (and KeyError/IndexError on odd input): any of
    # them means the expression is unusable.
    try:
        valid = croniter.is_valid(normal)
    except Exception:
        valid = False
    if not valid:
        raise ValueError(f"invalid cron expression {normal!r}")
    return normal


def next_slot(expression: str, timezone: str, after: float) -> int:
    """The first slot strictly after `after`; ValueError when there is none (say, Feb 30)."""
    base = datetime.fromtimestamp(after, ZoneInfo(timezone))
    try:
        return int(croniter(expression, base).get_next(float))
    except Exception as exc:  # croniter's bad-date and bad-cron errors alike
        raise ValueError(f"cron expression {expression!r} never fires") from exc


def latest_slot(expression: str, timezone: str, at: float) -> int:
    """The last slot at or before `at`."""
    # get_prev is strict, and slots are whole seconds: look back from the next second.
    base = datetime.fromtimestamp(math.floor(at) + 1, ZoneInfo(timezone))
    return int(croniter(expression, base).get_prev(float))


def due(expression: str, timezone: str, next_run: int, now: float) -> tuple[int, int]:
    """The slot to fire now and the next one after it, for a schedule due at `next_run`.

    After downtime several slots may have passed: they fire ONCE, as the most recent of
    them (a late "9:00 report" is still the 9:00 one, and a per-second schedule does not
    replay an hour of seconds). The next fire is the first slot after now.
    """
    scheduled = max(next_run, latest_slot(expression, timezone, now))
    return scheduled, next_slot(expression, timezone, now)
