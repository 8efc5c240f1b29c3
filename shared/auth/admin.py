"""Who counts as an admin, decided in this one place: a caller whose key's scope says
admin (scoped keys, `scope.admin`), or, for a bare key name, the environment's key (named
"admin" by ApiKeys)."""

from __future__ import annotations

from memanto_redis.shared.auth.apikeys import ADMIN
from memanto_redis.shared.errors import Forbidden


def is_admin(who: object) -> bool:
    """`who` is a key's name, or a principal carrying a `scope` with an `admin` flag."""
    scope = getattr(who, "scope", None)
    if scope is not None:
        return bool(getattr(scope, "admin", False))
    return who == ADMIN


def require_admin(who: object, doing: str) -> None:
    if not is_admin(who):
        raise Forbidden(f"only an admin key may {doing}")
