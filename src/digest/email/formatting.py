"""How numbers, dates and money are written in the email, through Babel in the seller's locale.

One :class:`Formatter` per email, so the HTML, the text part, the alt texts and the suggestions
always show the same figures in the same language. The words around the numbers (units, "new",
"was") come from the same gettext catalog as the templates.
"""

from __future__ import annotations

import datetime as dt
import gettext
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel import numbers as babel_numbers
from babel.dates import format_date, format_interval, format_skeleton, get_timezone_name

from digest.email.numbers import Change


def parse_locale(tag: str) -> Locale:
    """'de', 'de-CH' or 'de_CH' -> a Babel Locale; ValueError (with the value) when Babel does not know it."""
    try:
        return Locale.parse(tag.strip().replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError, AttributeError):
        raise ValueError(f"{tag!r} is not a locale Babel knows; write a tag like en, en_GB, de or fr_CH") from None


# Babel's number formatting is pure but not cheap (~20 us a call, ~400 calls an email: the same
# figures appear in the HTML, the text part, the alt texts and the suggestions, and repeat from
# seller to seller). Kept per (value and its type, pattern, locale); typed: 3 and 3.0 are different keys.
@lru_cache(maxsize=1 << 16, typed=True)
def format_decimal(value: float, format: str | None = None, *, locale: Locale) -> str:
    return babel_numbers.format_decimal(value, format, locale=locale)


@lru_cache(maxsize=1 << 14, typed=True)
def format_percent(value: float, *, locale: Locale) -> str:
    return babel_numbers.format_percent(value, locale=locale)


@lru_cache(maxsize=1 << 14, typed=True)
def format_compact_currency(value: float, currency: str, *, locale: Locale, fraction_digits: int) -> str:
    return babel_numbers.format_compact_currency(value, currency, locale=locale, fraction_digits=fraction_digits)


class Formatter:
    """Numbers, shares, changes, money and dates for one locale and currency."""

    def __init__(self, locale: Locale, currency: str, translations: gettext.NullTranslations) -> None:
        self.locale = locale
        self.currency = currency
        self._ = translations.gettext
        self.ngettext = translations.ngettext

    def hours(self, value: float | None) -> str:
        """3.25 -> '3.2 h'; below 0.1 h in minutes so small numbers do not read as zero."""
        if value is None:
            return self._("n/a")
        if 0 < value < 0.1:
            return self._("%(minutes)s min") % {"minutes": max(1, round(value * 60))}
        return self._("%(hours)s h") % {"hours": format_decimal(value, "0.0", locale=self.locale)}

    def pct(self, value: float | int | None) -> str:
        """A whole percentage as shown (46 -> '46 %' in German, '46%' in English); None -> 'n/a'."""
        if value is None:
            return self._("n/a")
        return format_percent(round(value) / 100, locale=self.locale)

    def small_pct(self, value: float | None) -> str:
        """Like pct, but a share above 0 and under 1 % reads '< 1 %' rather than '0 %'."""
        if value is not None and 0 < value < 1:
            return "< " + self.pct(1)
        return self.pct(value)

    def points(self, value: float | None) -> str:
        """A change in percentage points with its sign: -3.1 -> '−3.1 pts', 0 -> 'no change'."""
        if value is None:
            return self._("no comparison")
        if round(value, 1) == 0:
            return self._("no change")
        number = format_decimal(abs(value), "0.0", locale=self.locale)
        return (self._("+%(points)s pts") if value > 0 else self._("\u2212%(points)s pts")) % {"points": number}

    def change(self, change: Change) -> str:
        """'new', 'was 0.1 h', 'no change' or '+13 %' (a minus sign, never '−0 %')."""
        if change.kind == "new":
            return self._("new")
        if change.kind == "was":
            return self._("was %(hours)s") % {"hours": self.hours(change.value)}
        if change.kind == "same":
            return self._("no change")
        text = format_percent(abs(round(change.value)) / 100, locale=self.locale)
        return ("+" if change.value > 0 else "\u2212") + text

    def money(self, value: float | None) -> str:
        """An account's potential in ``render.currency``, compact: 310000000 -> '$310M' / '310 Mio. $'."""
        if value is None:
            return self._("n/a")
        digits = 1 if 1 <= _leading(value) < 10 else 0
        return format_compact_currency(value, self.currency, locale=self.locale, fraction_digits=digits)

    def number(self, value: int) -> str:
        """A count, with the locale's grouping."""
        return format_decimal(value, locale=self.locale)

    def date(self, iso: str) -> str:
        """'2026-11-23' -> 'November 23, 2026' / '23. November 2026'."""
        return format_date(dt.date.fromisoformat(iso[:10]), "long", locale=self.locale)

    def week(self, start_iso: str, end_iso: str) -> str:
        """The seller's week from its window, last day included: 'Nov 16 – 22, 2026' / '16.–22. Nov. 2026'."""
        start = dt.date.fromisoformat(start_iso[:10])
        end = dt.date.fromisoformat(end_iso[:10]) - dt.timedelta(days=1)
        return format_interval(start, end, "yMMMd", locale=self.locale)

    def day(self, iso: str, zone: str) -> str:
        """A moment's day in the seller's zone, short: '2026-11-20T15:00:00+00:00' -> 'Nov 20' / '20. Nov.'."""
        return format_skeleton("MMMd", _local(iso, zone).date(), locale=self.locale)

    def duration(self, hours: float) -> str:
        """Elapsed time: '35 min', '5.2 h', from two days on '3.5 d' / '3,5 T'."""
        if hours < 1:
            return self._("%(minutes)s min") % {"minutes": max(1, round(hours * 60))}
        if hours < 48:
            return self.hours(hours)
        return self._("%(days)s d") % {"days": format_decimal(hours / 24, "0.0", locale=self.locale)}

    def ratio(self, value: float | None) -> str:
        """A mail ratio with 2 decimals (CONTRACT.md §8); '—' when there was nothing to divide by."""
        return "\u2014" if value is None else format_decimal(value, "0.00", locale=self.locale)

    def score_change(self, value: int) -> str:
        """A change of a 0-100 score: '+5', '−3', 'no change'."""
        if value == 0:
            return self._("no change")
        return ("+" if value > 0 else "\u2212") + format_decimal(abs(value), locale=self.locale)

    def grade(self, grade: str) -> str:
        """A health grade (CONTRACT.md §8: good, fair, poor) in the seller's language."""
        words = {"good": self._("good"), "fair": self._("fair"), "poor": self._("poor")}
        return words.get(grade, grade)

    def period(self, weeks: int, since: str | None) -> str:
        """The relationship window: 'in the last 9 weeks', or 'since October 1, 2026' when data is short."""
        if since is not None:
            return self._("since %(date)s") % {"date": self.date(since)}
        return self.ngettext("in the last %(num)s week", "in the last %(num)s weeks", weeks) % {"num": self.number(weeks)}

    def time_zone(self, name: str) -> str:
        """'Europe/Paris' -> 'Central European Time (Europe/Paris)' in the seller's language."""
        try:
            return f"{get_timezone_name(ZoneInfo(name), locale=self.locale)} ({name})"
        except (LookupError, ValueError):
            return name


def _local(iso: str, zone: str) -> dt.datetime:
    """An ISO 8601 moment in the seller's zone (the offset it was written with, if the zone is unknown)."""
    moment = dt.datetime.fromisoformat(iso)
    try:
        return moment.astimezone(ZoneInfo(zone)) if moment.tzinfo else moment
    except (LookupError, ValueError):
        return moment


def _leading(value: float) -> float:
    """The number compact notation shows before its suffix (310000000 -> 310, 7900000 -> 7.9)."""
    v = abs(value)
    while v >= 1000:
        v /= 1000
    return v
