"""ISO weeks: parsing, "last week", a week's bounds in a seller's own time zone, and when a seller is due."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from digest.errors import ConfigError, InputError

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_WEEKLY = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun)[a-z]*\s+(\d{1,2}):(\d{2})$", re.I)
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*h)?\s*(?:(\d+(?:\.\d+)?)\s*m(?:in)?)?\s*$", re.I)
UTC = dt.timezone.utc


def parse_weekly_time(rule: str, setting: str = "the setting") -> tuple[int, int, int]:
    """'Mon 07:00' -> (weekday 0-6, hour, minute); a ConfigError naming `setting` otherwise."""
    m = _WEEKLY.match(rule.strip())
    if not m or int(m.group(2)) > 23 or int(m.group(3)) > 59:
        raise ConfigError(f"{setting}: {rule!r} is not a weekday and a time. Write it like 'Mon 09:00'.")
    return _DAYS.index(m.group(1)[:3].lower()), int(m.group(2)), int(m.group(3))


def parse_duration(text: str, setting: str = "the setting") -> dt.timedelta:
    """'2h', '90m', '1h30m' or '0h' -> a timedelta; a ConfigError naming `setting` otherwise."""
    m = _DURATION.match(text or "")
    if not text or not text.strip() or not m or (m.group(1) is None and m.group(2) is None):
        raise ConfigError(f"{setting}: {text!r} is not a duration. Write it like '2h', '90m' or '1h30m'.")
    return dt.timedelta(hours=float(m.group(1) or 0), minutes=float(m.group(2) or 0))


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
    def reported_at(cls, moment: dt.datetime) -> "IsoWeek":
        """The week a run at `moment` reports: the last week that has ended somewhere on Earth (UTC+14 first)."""
        return cls.of((moment.astimezone(UTC) + dt.timedelta(hours=14)).date() - dt.timedelta(days=7))

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

    def local_moment(self, rule: str, time_zone: str, setting: str = "the setting") -> dt.datetime:
        """The moment `rule` (like 'Mon 07:00') names in the week after this one, in `time_zone` (aware)."""
        day, hour, minute = parse_weekly_time(rule, setting)
        date = self.shift(1).monday + dt.timedelta(days=day)
        return dt.datetime.combine(date, dt.time(hour, minute), tzinfo=ZoneInfo(time_zone))

    def due_at(self, time_zone: str, arrival_lag: dt.timedelta, send_rule: str) -> dt.datetime:
        """When a seller in `time_zone` is due (UTC): the later of their week's end + the data's arrival lag
        (elapsed time) and their local send time (`send_rule` in the week after)."""
        week_end = self.bounds(time_zone)[1].astimezone(UTC) + arrival_lag
        local_send = self.local_moment(send_rule, time_zone, "delivery.local_send_time").astimezone(UTC)
        return max(week_end, local_send)
