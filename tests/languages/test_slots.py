"""Schedule slots derived from the code, and the start minutes a cron stands for."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

import pytest

from benchmarks.schedule_spread import offline_model_codes
from languages.slots import (
    AYA_CARD_CODES,
    MINUTES_PER_WEEK,
    code_index,
    cron_at,
    slot_for,
    slot_minute,
    spread,
    start_minutes,
)

ALL_CODES = ["".join(letters) for letters in itertools.product("abcdefghijklmnopqrstuvwxyz", repeat=3)]


def test_two_codes_share_a_minute_only_when_their_indices_differ_by_a_week() -> None:
    by_minute: dict[int, list[str]] = {}
    for code in ALL_CODES:
        by_minute.setdefault(slot_minute(code), []).append(code)
    assert len(by_minute) == MINUTES_PER_WEEK  # every minute of the week is some code's slot
    for codes in by_minute.values():
        assert len(codes) <= 2
        if len(codes) == 2:
            assert code_index(codes[1]) - code_index(codes[0]) == MINUTES_PER_WEEK
    assert slot_minute("aaa") == slot_minute("oxs")


def test_no_two_realistic_languages_share_a_minute() -> None:
    codes = set(AYA_CARD_CODES) | offline_model_codes() | {"swh", "kin", "nob", "nno", "zsm", "ckb", "kmr"}
    assert len(codes) > 200
    assert len({slot_minute(code) for code in codes}) == len(codes)


def test_the_aya_languages_spread_over_the_week() -> None:
    measured = spread(AYA_CARD_CODES)
    assert measured["distinct_minutes"] == 70
    assert measured["max_per_hour"] <= 2
    assert min(measured["per_day"].values()) >= 5
    assert measured["max_gap"] < 4 * measured["ideal_gap"]


def prefect_starts(cron: str, timezone: str, week_of: datetime) -> set[int]:
    """The minutes of the week (UTC) at which Prefect's scheduler starts runs, in the week from `week_of`."""
    from prefect.server.schemas.schedules import CronSchedule

    schedule = CronSchedule(cron=cron, timezone=timezone)
    dates = asyncio.run(
        schedule.get_dates(start=week_of, end=week_of + timedelta(days=7) - timedelta(seconds=1))
    )
    return {int(date.timestamp() - week_of.timestamp()) // 60 for date in dates}


WINTER, SUMMER = datetime(2025, 1, 5, tzinfo=UTC), datetime(2025, 7, 6, tzinfo=UTC)  # Sundays, 00:00 UTC


@pytest.mark.parametrize("code", ["yor", "kin", "nob", "nld", "zzz", "aaa"])
def test_prefect_starts_the_slot_when_we_say(code: str) -> None:
    """The cron Prefect gets fires exactly at the code's minute of the week (Sunday 00:00 UTC is 0)."""
    assert prefect_starts(slot_for(code), "UTC", WINTER) == {slot_minute(code)}
    assert start_minutes(slot_for(code)) == {slot_minute(code)}
    assert cron_at(slot_minute(code)) == slot_for(code)


@pytest.mark.parametrize(
    ("cron", "timezone"),
    [("0 7 * * 3", "Europe/Amsterdam"), ("30 1 * * 1-5", "America/New_York"), ("0 0 * * 0", "UTC"),
     ("*/20 3 * * 6", "Asia/Kolkata")],
)  # fmt: skip
def test_start_minutes_agree_with_prefects_scheduler(cron: str, timezone: str) -> None:
    assert start_minutes(cron, timezone) == prefect_starts(cron, timezone, WINTER) | prefect_starts(
        cron, timezone, SUMMER
    )


def test_start_minutes_of_other_crons() -> None:
    assert start_minutes("0 7 * * 3") == {3 * 1440 + 7 * 60}
    assert len(start_minutes("*/15 * * * *")) == 4 * 24 * 7
    assert start_minutes("0 0 1 * *") == {day * 1440 for day in range(7)}  # the 1st can be any weekday
    assert start_minutes("0 0 * * 7") == {0}
    # 07:00 in Amsterdam is 06:00 UTC in winter and 05:00 UTC in summer.
    assert start_minutes("0 7 * * 3", "Europe/Amsterdam") == {3 * 1440 + 6 * 60, 3 * 1440 + 5 * 60}


@pytest.mark.parametrize("code", ["ab", "ABC", "ab1", "abcd"])
def test_only_three_letter_codes_have_a_slot(code: str) -> None:
    with pytest.raises(ValueError, match="is not a three-letter lowercase code"):
        slot_for(code)
