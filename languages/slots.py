"""Weekly schedule slots: a language's start minute derived from its code, and which crons start together.

`slot_for(code)` needs nothing but the code, so contributors working in parallel on different languages
never pick the same minute, and the lead can re-derive every config's slot at any time
(`dpo-factory deployments --reslot`). The rule is multiplicative (Fibonacci) hashing of the code read as
a base-26 number: minute of the week = index × 6229 mod 10080. 6229 is the integer nearest
10080/φ that is coprime to 10080, so the map is one-to-one modulo 10080: two codes share a minute only
when their indices differ by exactly 10080 (`aaa` and `oxs`), and no two Aya languages do. The golden
ratio spreads codes that differ in one letter (language families: `arb`, `ars`, `ary`) far apart.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
MULTIPLIER = 6229
DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
# Two Mondays a half year apart: a zone's UTC offset in winter and in summer (daylight saving time).
# The 70 language tags of the Aya dataset card: the languages this project exists for. No two of
# them, nor any language an offline language-ID model knows, share a slot (tests/languages/test_slots.py).
# fmt: off
AYA_CARD_CODES = (
    "amh", "arb", "ary", "ars", "acq", "arz", "apc", "ben", "ceb", "dan", "deu", "ell", "eng", "eus", "fil",
    "fin", "fra", "gle", "guj", "hat", "hau", "hin", "hun", "ibo", "ind", "ita", "jav", "jpn", "kan", "kir",
    "kor", "kur", "lit", "mal", "mar", "mlg", "msa", "mya", "nep", "nld", "nso", "nya", "pan", "pes", "pol",
    "por", "pus", "rus", "sin", "sna", "snd", "som", "spa", "sqi", "srp", "sun", "swa", "swe", "tam", "tel",
    "tha", "tur", "ukr", "urd", "vie", "wol", "xho", "yor", "zho", "zul",
)
# fmt: on
_REFERENCE_DAYS = (datetime(2025, 1, 6), datetime(2025, 7, 7))
_FIELD_RANGES = (range(60), range(24), range(1, 32), range(1, 13), range(7))


def code_index(code: str) -> int:
    """A three-letter lowercase code as a base-26 number: `aaa` is 0, `zzz` is 17575."""
    if len(code) != 3 or not all("a" <= letter <= "z" for letter in code):
        raise ValueError(f"'{code}' is not a three-letter lowercase code")
    return sum((ord(letter) - ord("a")) * 26**power for power, letter in zip((2, 1, 0), code, strict=True))


def slot_minute(code: str) -> int:
    """The language's start as minutes after Sunday 00:00 UTC."""
    return code_index(code) * MULTIPLIER % MINUTES_PER_WEEK


def cron_at(minute_of_week: int) -> str:
    """A weekly cron expression starting at the given minute of the week (Sunday 00:00 is 0)."""
    day, minute_of_day = divmod(minute_of_week % MINUTES_PER_WEEK, MINUTES_PER_DAY)
    hour, minute = divmod(minute_of_day, 60)
    return f"{minute} {hour} * * {day}"


def slot_for(code: str) -> str:
    """The weekly cron expression of a language, derived from its code alone (see the module doc)."""
    return cron_at(slot_minute(code))


def describe_minute(minute_of_week: int) -> str:
    """`Tuesday 03:17 UTC` for a minute of the week."""
    day, minute_of_day = divmod(minute_of_week % MINUTES_PER_WEEK, MINUTES_PER_DAY)
    return f"{DAYS[day]} {minute_of_day // 60:02d}:{minute_of_day % 60:02d} UTC"


def describe_cron(cron: str) -> str:
    """`Tuesday 03:17 UTC` for a weekly cron written by `cron_at`; the cron itself otherwise."""
    minutes = start_minutes(cron)
    return describe_minute(next(iter(minutes))) if len(minutes) == 1 else cron


def _values(field: list[object], allowed: range) -> set[int]:
    # `*`, and anything croniter keeps symbolic (`L`, `1#2`), may match any value: assume it does.
    if all(isinstance(value, int) for value in field):
        return {int(value) for value in field}  # croniter already reads weekday 7 as 0
    return set(allowed)


def start_minutes(cron: str, timezone: str = "UTC") -> frozenset[int]:
    """Every minute of the week (UTC, Sunday 00:00 is 0) at which the schedule can start a run.

    A day-of-month or month restriction can fall on any weekday over the years, so such a cron counts
    as possibly starting on every weekday. Zones with daylight saving time count with both offsets.
    """
    from prefect._vendor.croniter import croniter

    fields, _ = croniter.expand(cron)
    minutes, hours, days_of_month, months, weekdays = (
        _values(field, allowed) for field, allowed in zip(fields, _FIELD_RANGES, strict=False)
    )
    restricted_dates = days_of_month != set(_FIELD_RANGES[2]) or months != set(_FIELD_RANGES[3])
    if restricted_dates:
        weekdays = set(_FIELD_RANGES[4])
    zone = ZoneInfo(timezone)
    offsets = {int(day.replace(tzinfo=zone).utcoffset() / timedelta(minutes=1)) for day in _REFERENCE_DAYS}
    return frozenset(
        (day * MINUTES_PER_DAY + hour * 60 + minute - offset) % MINUTES_PER_WEEK
        for day, hour, minute, offset in itertools.product(weekdays, hours, minutes, offsets)
    )


def spread(codes: Iterable[str]) -> dict[str, object]:
    """How evenly the derived slots of `codes` cover the week: gaps in minutes, starts per day and hour."""
    minutes = sorted(slot_minute(code) for code in codes)
    gaps = [(minutes[(i + 1) % len(minutes)] - minute) % MINUTES_PER_WEEK for i, minute in enumerate(minutes)]
    per_day = [sum(1 for minute in minutes if minute // MINUTES_PER_DAY == day) for day in range(7)]
    per_hour = [sum(1 for minute in minutes if minute // 60 == hour) for hour in range(7 * 24)]
    return {
        "languages": len(minutes),
        "distinct_minutes": len(set(minutes)),
        "ideal_gap": round(MINUTES_PER_WEEK / len(minutes), 1),
        "min_gap": min(gaps),
        "median_gap": sorted(gaps)[len(gaps) // 2],
        "max_gap": max(gaps),
        "per_day": dict(zip(DAYS, per_day, strict=True)),
        "max_per_hour": max(per_hour),
    }
