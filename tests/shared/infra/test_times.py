"""Times (shared/infra/times.py): parsing and formatting within the years a memory can hold."""

from __future__ import annotations

import pytest

from memanto_redis.shared.infra.times import iso, parse_time


def test_iso_never_raises():
    assert iso(float("nan")) is None
    assert iso("not a time") is None
    assert iso(1e300) == "9999-12-31T23:59:59.000Z"
    assert iso(-1e300) == "1970-01-01T00:00:00.000Z"
    with pytest.raises(ValueError):
        parse_time(float("inf"))
    assert parse_time("9999-12-31", end_of_day=True) == 253_402_300_799.0
