"""Values from a query string, checked against their bounds, with the field named: the
one way every dialect reads its query parameters."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from memanto_redis.api.body import explain
from memanto_redis.shared.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)
MAX_HOURS = 24 * 30


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
                           [{"field": field, "in": "query", "message": "out of range",
                             "type": "value_error"}]) from None
    return value


def whole(request: Request, name: str, default: int, low: int, high: int) -> int:
    """A whole number from the query string (ASCII digits only: str.isdigit() also takes
    characters such as '²' that int() refuses)."""
    def parse(raw: str) -> int:
        if not (raw.isascii() and raw.isdigit()):
            raise ValueError
        return int(raw)

    return int(bounded(request.query_params.get(name), field=name, default=default, low=low,
                       high=high, parse=parse, what="a whole number"))


def hours(request: Request, name: str, default: float | None = None) -> float:
    """A number of hours, more than 0 and at most 30 days; required without a default."""
    raw = request.query_params.get(name)
    if raw in (None, "") and default is None:
        raise InvalidInput(f"{name} is required",
                           [{"field": name, "in": "query", "message": "required",
                             "type": "missing"}])
    value = bounded(raw, field=name, default=default or 0.0, low=0, high=MAX_HOURS,
                    parse=float, what="a number of hours")
    if value <= 0:
        raise InvalidInput(f"{name} must be > 0 and <= {MAX_HOURS}",
                           [{"field": name, "in": "query", "message": "out of range",
                             "type": "value_error"}])
    return value


_TRUE = frozenset(("true", "1", "yes", "on"))
_FALSE = frozenset(("false", "0", "no", "off"))


def flag(request: Request, name: str, default: bool = False) -> bool:
    """A yes/no from the query string, spelled as FastAPI (so MEMANTO) takes it."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in _TRUE | _FALSE:
        return raw.lower() in _TRUE
    raise InvalidInput(f"{name} must be true or false",
                       [{"field": name, "in": "query", "message": "not a boolean",
                         "type": "bool_parsing"}])


def model(request: Request, kind: type[M]) -> M:
    """The query string validated by a model; list fields take repeated parameters and
    comma-separated values alike (agno sends topics=a&topics=b; people type topics=a,b)."""
    values: dict[str, object] = dict(request.query_params)
    for name, spec in kind.model_fields.items():
        if getattr(spec.annotation, "__origin__", None) is list or "list[" in str(
                spec.annotation):
            values[name] = [v.strip() for raw in request.query_params.getlist(name)
                            for v in raw.split(",") if v.strip()]
    try:
        return kind.model_validate(values)
    except ValidationError as exc:
        raise explain(exc, where="query") from None


def _show(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
