"""Cron arithmetic: fields, seconds, timezones and DST, the slot due after downtime."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from memanto_redis.shared.schedule import cron

T = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp())


def at(epoch: int, zone: str = "UTC") -> str:
    return datetime.fromtimestamp(epoch, ZoneInfo(zone)).isoformat()


@pytest.mark.parametrize("expression", ["0 9 * * *", "*/5 * * * *", "0 9 * * MON-FRI",
                                        "* * * * * */2", "0 0 1 1 * 30", "15 10 L * *"])
def test_valid(expression):
    assert cron.check_cron(f"  {expression} ") == expression


@pytest.mark.parametrize("expression", ["* * * *", "* * * * * * *", "@hourly", "61 * * * *",
                                        "* * * * * 60", "H * * * *", "a b c d e", ""])
def test_invalid(expression):
    with pytest.raises(ValueError):
        cron.check_cron(expression)


def test_seconds_come_last():
    assert cron.next_slot("* * * * * */2", "UTC", T + 10) == T + 12
    assert cron.next_slot("* * * * * 30", "UTC", T) == T + 30
    assert cron.next_slot("5 * * * *", "UTC", T) == T + 300


def test_timezones_follow_daylight_saving_time():
    winter = cron.next_slot("0 9 * * *", "America/New_York", T)
    assert at(winter) == "2024-01-01T14:00:00+00:00"
    summer = cron.next_slot("0 9 * * *", "America/New_York",
                            datetime(2024, 7, 1, tzinfo=UTC).timestamp())
    assert at(summer) == "2024-07-01T13:00:00+00:00"
    # 02:30 does not exist in Berlin on 2024-03-31: that day's fire comes at 03:00.
    spring = cron.next_slot("30 2 * * *", "Europe/Berlin",
                            datetime(2024, 3, 30, 12, tzinfo=UTC).timestamp())
    assert at(spring, "Europe/Berlin") == "2024-03-31T03:00:00+02:00"


def test_never_firing_expression():
    with pytest.raises(ValueError, match="never fires"):
        cron.next_slot("0 0 30 2 *", "UTC", T)


def test_latest_slot_includes_now():
    assert cron.latest_slot("* * * * * */2", "UTC", T + 10) == T + 10
    assert cron.latest_slot("* * * * * */2", "UTC", T + 11.9) == T + 10


def test_due_fires_the_latest_missed_slot_once():
    # On time: the slot itself, then the next.
    assert cron.due("* * * * * */2", "UTC", T + 10, T + 10.004) == (T + 10, T + 12)
    # Down for a minute: one fire, for the most recent slot, and the next after now.
    assert cron.due("* * * * * */2", "UTC", T + 10, T + 71) == (T + 70, T + 72)
    # Down for three days: the daily 09:00 fires once, as today's.
    nine = T + 9 * 3600
    assert cron.due("0 9 * * *", "UTC", nine, nine + 3 * 86400 + 5) == (
        nine + 3 * 86400, nine + 4 * 86400)
