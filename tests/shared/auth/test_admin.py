"""The one decision of who is an admin: a key's name, or a principal's scope flag."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from memanto_redis.shared.auth.admin import is_admin, require_admin
from memanto_redis.shared.errors import Forbidden


def test_by_name_and_by_scope():
    assert is_admin("admin") and not is_admin("ci-key") and not is_admin(None)
    assert is_admin(SimpleNamespace(name="ops", scope=SimpleNamespace(admin=True)))
    assert not is_admin(SimpleNamespace(name="admin", scope=SimpleNamespace(admin=False)))
    with pytest.raises(Forbidden, match="only an admin key may set quotas"):
        require_admin("ci-key", "set quotas")
