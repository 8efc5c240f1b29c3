"""Numbers from a query string, checked against their bounds, with the field named."""

from __future__ import annotations

from collections.abc import Callable

from memanto_redis.shared.errors import InvalidInput


def bounded(raw: str | None, *, field: str, default: float, low: float, high: float,
            parse: Callable[[str], float], what: str) -> float:
    """`raw` parsed and within [low, high], `default` when absent; else a 422 that reads
    "<field> must be <what> from <low> to <high>"."""
    try:
        value = parse(raw) if raw not in (None, "") else default
        if not low <= value <= high:
            raise ValueError
    except ValueError:
        raise InvalidInput(f"{field} must be {what} from {_show(low)} to {_show(high)}",
                           [{"field": field, "message": "out of range",
                             "type": "value_error"}]) from None
    return value


def _show(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
