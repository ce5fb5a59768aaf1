"""The relationship card of one seller (CONTRACT.md §8) from the rows of :func:`digest.metrics.relationship.steps.results`."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any, Sequence
from zoneinfo import ZoneInfo

from digest.cards import AccountRelationship, Relationship, WeekActivity, Window
from digest.metrics.relationship.window import ZoneWindow


def grade(health: int) -> str:
    """good >= 60, fair 40-59, poor < 40 (CONTRACT.md §8)."""
    return "good" if health >= 60 else "fair" if health >= 40 else "poor"


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def card(sid: int, tz: str, accounts: Sequence[tuple[str, str]], rel: dict[str, Any]) -> Relationship:
    """The relationship card of one seller: every (account_id, account_name) given, in that order."""
    window: ZoneWindow = rel["windows"][tz]
    zone, quiet = _zone(tz), _quiet_weeks(window)
    stats_of, replies_of, weekly_of, people_of = rel["stats"], rel["replies"], rel["weekly"], rel["people"]
    conv = rel["conversations"]
    out = []
    for account_id, name in accounts:
        key = (sid, account_id)
        stats = stats_of.get(key)
        sent, received, init_you, init_them, last, nxt, health, health_p = stats[0] if stats else (0, 0, 0, 0, None, None, 0, 0)
        replies = replies_of.get(key)
        you, them = replies[0] if replies else (None, None)
        weekly = _weekly(window, quiet, weekly_of.get(key))
        out.append(AccountRelationship(
            account_id, name, sent, received, _ratio(sent, received), _ratio(received, sent),
            init_you if conv else None, init_them if conv else None, you, them,
            _iso(last, zone), _iso(nxt, zone),
            weekly,
            tuple(p for (p,) in people_of.get(key, ())), int(health), grade(int(health)),
            int(health) - int(health_p) if window.previous else None))
    return Relationship(Window(window.start_iso, window.end_iso), tuple(out))


@lru_cache(maxsize=64)
def _quiet_weeks(window: ZoneWindow) -> tuple[WeekActivity, ...]:
    """The window's weeks without any activity (shared: the card's objects are immutable)."""
    return tuple(WeekActivity(label, 0, 0, 0, 0) for _, label in window.weeks)


@lru_cache(maxsize=1 << 16)
def _activity(label: str, sent: int, received: int, meetings: int, calls: int) -> WeekActivity:
    """One week's counts; the same counts share one (immutable) object: 20,000 sellers' cards repeat them a lot."""
    return WeekActivity(label, sent, received, meetings, calls)


@lru_cache(maxsize=1024)
def _zone(tz: str) -> ZoneInfo:
    return ZoneInfo(tz)


def _weekly(window: ZoneWindow, quiet: tuple[WeekActivity, ...], rows: list[tuple] | None) -> tuple[WeekActivity, ...]:
    if not rows:
        return quiet
    counts = {r[0]: r for r in rows}  # (week index, sent, received, meetings, calls)
    return tuple(q if (r := counts.get(j)) is None else _activity(label, r[1], r[2], r[3], r[4])
                 for (j, label), q in zip(window.weeks, quiet))


def _iso(epoch: float | None, zone: ZoneInfo) -> str | None:
    return None if epoch is None else dt.datetime.fromtimestamp(epoch, zone).isoformat()
