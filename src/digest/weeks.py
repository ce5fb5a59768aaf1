"""ISO weeks: parsing, "last week", and a week's bounds in a seller's own time zone."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from digest.errors import InputError

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


@dataclass(frozen=True, order=True)
class IsoWeek:
    year: int
    week: int

    @classmethod
    def parse(cls, text: str) -> "IsoWeek":
        """'2026-W47' -> IsoWeek(2026, 47); a clear error otherwise."""
        m = _WEEK.match(text.strip())
        if not m:
            raise InputError(f"week {text!r} is not an ISO week. Write it like 2026-W47.")
        year, week = int(m.group(1)), int(m.group(2))
        try:
            dt.date.fromisocalendar(year, week, 1)
        except ValueError:
            raise InputError(f"week {text!r} does not exist: {year} has no ISO week {week}.") from None
        return cls(year, week)

    @classmethod
    def of(cls, day: dt.date) -> "IsoWeek":
        y, w, _ = day.isocalendar()
        return cls(y, w)

    @classmethod
    def last_week(cls, today: dt.date) -> "IsoWeek":
        """The week reported by a run on `today` (any day of week W+1 reports W)."""
        return cls.of(today - dt.timedelta(days=7))

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    @property
    def monday(self) -> dt.date:
        return dt.date.fromisocalendar(self.year, self.week, 1)

    @property
    def sunday(self) -> dt.date:
        """'The end of the week' for org and CRM snapshots (CONTRACT.md §1)."""
        return self.monday + dt.timedelta(days=6)

    def shift(self, weeks: int) -> "IsoWeek":
        return IsoWeek.of(self.monday + dt.timedelta(weeks=weeks))

    def bounds(self, time_zone: str) -> tuple[dt.datetime, dt.datetime]:
        """Monday 00:00 to next Monday 00:00 in `time_zone` (aware datetimes)."""
        tz = ZoneInfo(time_zone)
        start = dt.datetime.combine(self.monday, dt.time(0), tzinfo=tz)
        end = dt.datetime.combine(self.monday + dt.timedelta(days=7), dt.time(0), tzinfo=tz)
        return start, end

    def window_28(self, time_zone: str) -> tuple[dt.datetime, dt.datetime]:
        """The four ISO weeks ending with this one, in `time_zone`."""
        return self.shift(-3).bounds(time_zone)[0], self.bounds(time_zone)[1]
