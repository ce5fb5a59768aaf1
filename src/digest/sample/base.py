"""Building blocks of the sample generator: the time span, local working times, ids, participants.

Everything is vectorised with numpy and produces Arrow arrays directly, so a block of sellers is a
few hundred array operations whatever its size. Randomness always comes from the caller's
``numpy.random.Generator``; nothing here keeps state.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

from digest.sample.words import ZONES
from digest.weeks import IsoWeek

DAY = 86_400
AHEAD_DAYS = 14  # the calendar ahead of the last generated week (relationship.lookahead_days' default)
_EPOCH = dt.date(1970, 1, 1)
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


@dataclass(frozen=True, eq=False)
class Span:
    """The generated weeks: day 0 is the first Monday; offsets[zone, day] is the UTC offset (s)."""

    first_day: dt.date
    weeks: int
    offsets: np.ndarray

    @classmethod
    def ending(cls, end_week: IsoWeek, weeks: int) -> "Span":
        """`weeks` ISO weeks ending with `end_week`, with each zone's offset per day (DST included).

        Offsets go AHEAD_DAYS further: meetings already planned after the last week (the calendar ahead).
        """
        first = end_week.shift(-(weeks - 1)).monday
        days = [first + dt.timedelta(days=d) for d in range(weeks * 7 + AHEAD_DAYS)]
        offsets = np.array([
            # The offset at local noon stands for the whole day: activity never falls in the DST gap hours.
            [dt.datetime.combine(day, dt.time(12), tzinfo=ZoneInfo(name)).utcoffset().total_seconds() for day in days]
            for name, _ in ZONES
        ], dtype=np.int64)
        return cls(first, weeks, offsets)

    @property
    def days(self) -> int:
        return self.weeks * 7

    @property
    def last_day(self) -> dt.date:
        return self.first_day + dt.timedelta(days=self.days - 1)

    def day(self, index: int) -> dt.date:
        return self.first_day + dt.timedelta(days=int(index))

    def to_utc(self, day: np.ndarray, local_seconds: np.ndarray, zone: np.ndarray) -> np.ndarray:
        """Local (day index, seconds after midnight, zone index) -> UTC microseconds since the epoch."""
        base = (self.first_day - _EPOCH).days * DAY
        seconds = base + day.astype(np.int64) * DAY + local_seconds.astype(np.int64) - self.offsets[zone, day]
        return seconds * 1_000_000


def timestamps(micros: np.ndarray) -> pa.Array:
    """UTC microseconds -> timestamp[us, UTC] (the contract's type for times)."""
    return pa.array(micros.astype(np.int64), type=pa.timestamp("us", tz="UTC"))


def work_days(rng: np.random.Generator, week: np.ndarray, weekend: float = 0.03) -> np.ndarray:
    """A day index per event in its week: Monday-Friday, and a few on Saturday or Sunday."""
    weekday = rng.integers(0, 5, week.size)
    on_weekend = rng.random(week.size) < weekend
    weekday = np.where(on_weekend, rng.integers(5, 7, week.size), weekday)
    return week * 7 + weekday


def work_seconds(rng: np.random.Generator, n: int, evening: float = 0.08, early: float = 0.04) -> np.ndarray:
    """Local seconds after midnight: mostly 08:00-18:00, some evenings (to 23:00), some early mornings."""
    u = rng.random(n)
    office = rng.integers(8 * 3600, 18 * 3600, n)
    late = rng.integers(18 * 3600, 23 * 3600, n)
    morning = rng.integers(6 * 3600, 8 * 3600, n)
    return np.where(u < evening, late, np.where(u < evening + early, morning, office))


def slot_seconds(rng: np.random.Generator, n: int, first_hour: int = 8, last_hour: int = 17) -> np.ndarray:
    """Meeting starts on the half hour (a few on the quarter) between first_hour and last_hour."""
    half_hours = rng.integers(first_hour * 2, last_hour * 2, n) * 1800
    quarter = (rng.random(n) < 0.1) * 900
    return half_hours + quarter


def mix64(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a bijection on uint64, so distinct keys give distinct ids."""
    z = values.astype(np.uint64)
    with np.errstate(over="ignore"):
        z = (z + np.uint64(0x9E3779B97F4A7C15)) & _M64
        z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _M64
        z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _M64
    return z ^ (z >> np.uint64(31))


def id_keys(seed: int, kind: int, block: int, local: np.ndarray) -> np.ndarray:
    """Unique, seed-dependent 64-bit keys for item `local` of `block` (kind keeps id families apart)."""
    key = (np.uint64(kind) << np.uint64(56)) | (np.uint64(block) << np.uint64(32)) | local.astype(np.uint64)
    return mix64(key ^ mix64(np.array([seed], dtype=np.uint64))[0])


def hex_ids(keys: np.ndarray, prefix: str, suffix: str = "", upper: bool = False) -> pa.Array:
    """Fixed-width ids `prefix + 16 hex digits + suffix`, built straight into an Arrow buffer."""
    head, tail = prefix.encode(), suffix.encode()
    n, width = keys.size, len(head) + 16 + len(tail)
    buf = np.empty((n, width), dtype=np.uint8)
    buf[:, : len(head)] = np.frombuffer(head, dtype=np.uint8)
    shifts = np.arange(60, -1, -4, dtype=np.uint64)
    digits = _HEX[((keys.astype(np.uint64)[:, None] >> shifts) & np.uint64(15)).astype(np.intp)]
    if upper:
        digits = np.where(digits >= 97, digits - 32, digits).astype(np.uint8)
    buf[:, len(head): len(head) + 16] = digits
    if tail:
        buf[:, len(head) + 16:] = np.frombuffer(tail, dtype=np.uint8)
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int64)
    return pa.Array.from_buffers(pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(buf.tobytes())]).cast(pa.string())


class Participants:
    """Collects (event, person, code) rows from several draws, then dedupes (event, person).

    The first row of a pair wins, so callers add the most specific role first (the organizer
    before attendees, `to` before `cc`). Rows come back grouped by event, in the order added.
    """

    def __init__(self) -> None:
        self._parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, event: np.ndarray, person: np.ndarray, code: int | np.ndarray, mask: np.ndarray | None = None) -> None:
        if mask is not None:
            event, person = event[mask], person[mask]
            code = code[mask] if isinstance(code, np.ndarray) else code
        codes = code if isinstance(code, np.ndarray) else np.full(event.size, code, dtype=np.int8)
        self._parts.append((event.astype(np.int64), person.astype(np.int64), codes.astype(np.int8)))

    def rows(self, exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(event, person, code) without repeated pairs; `exclude[event]` drops that person (e.g. the sender)."""
        event = np.concatenate([p[0] for p in self._parts])
        person = np.concatenate([p[1] for p in self._parts])
        code = np.concatenate([p[2] for p in self._parts])
        keep = person >= 0
        if exclude is not None:
            keep &= person != exclude[event]
        event, person, code = event[keep], person[keep], code[keep]
        key = event * (int(person.max(initial=0)) + 1) + person
        _, first = np.unique(key, return_index=True)
        first.sort()
        order = first[np.argsort(event[first], kind="stable")]
        return event[order], person[order], code[order]
