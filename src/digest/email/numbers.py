"""The figures an email shows, decided once so the chart, the table, the text part and the alt
texts agree: shares rounded by the largest-remainder method (what is shown adds up to 100), the
accounts shown and the hidden ones summed, and how a change against the week before is stated.

Pure arithmetic, no wording: :mod:`digest.email.formatting` writes these figures in the seller's locale.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Sequence

from digest.cards import AccountLeadership, AccountRelationship, Relationship, TimeWithCustomers
from digest.config import RelationshipSettings

WINDOW_WEEKS = RelationshipSettings().window_weeks  # the default relationship window, for callers without settings
WAS_BELOW_HOURS = 0.5  # a prior week under this is stated as "was 0.1 h", not as a percentage
WAS_ABOVE_PCT = 300.0  # a rise larger than this is stated as "was 0.3 h" too


def largest_remainder(values: Sequence[float | None], total: int = 100) -> list[int]:
    """Whole numbers proportional to ``values`` that add up to ``total`` (Hamilton's method).

    Each value is floored, then the units left are given to the largest remainders (ties: the
    earlier value, so the result is deterministic). All zero or empty: all zeros.
    """
    clean = [max(v or 0.0, 0.0) for v in values]
    whole = sum(clean)
    if whole <= 0:
        return [0] * len(clean)
    exact = [total * v / whole for v in clean]
    floors = [math.floor(x) for x in exact]
    left = total - sum(floors)
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return floors


@dataclass(frozen=True)
class Change:
    """How an account's hours compare with the week before: ``kind`` is new, was, same or pct."""

    kind: str
    value: float = 0.0  # the percentage (pct) or the prior week's hours (was)


def change_of(hours: float, change_pct: float | None) -> Change:
    """'new' with nothing the week before, 'was 0.1 h' against a tiny prior week, else the change."""
    if change_pct is None or change_pct <= -100.0 and hours > 0:
        return Change("new")
    prior = hours * 100.0 / (100.0 + change_pct) if change_pct > -100.0 else 0.0
    if round(change_pct) == 0:
        return Change("same")
    if change_pct > WAS_ABOVE_PCT or prior < WAS_BELOW_HOURS:
        return Change("was", prior)
    return Change("pct", change_pct)


@dataclass(frozen=True)
class ShownAccount:
    """One account row as the seller sees it, with its rounded share of time."""

    account_id: str
    name: str
    hours: float
    share: int  # whole percent of the time with accounts; the shown shares add up to 100
    potential: float | None
    potential_share_pct: float | None
    change: Change


@dataclass(frozen=True)
class CustomerTime:
    """The time-with-customers figures: the top accounts, the hidden ones summed, unmatched time."""

    shown: tuple[ShownAccount, ...]
    more_count: int  # accounts with time that are not shown one by one
    more_hours: float
    more_share: int
    unmatched_hours: float  # external time matched to no account (not part of the shares)

    @property
    def total_hours(self) -> float:
        return sum(a.hours for a in self.shown) + self.more_hours


def customer_time(card: TimeWithCustomers, top: int) -> CustomerTime:
    """The accounts with time: ``top`` shown, the rest as one 'and N more' line; shares add up to 100."""
    named = [a for a in card.accounts if a.hours > 0]
    shares = largest_remainder([a.hours for a in named])
    shown = tuple(ShownAccount(a.account_id, a.account_name, a.hours, s, a.potential, a.potential_share_pct,
                               change_of(a.hours, a.change_pct)) for a, s in zip(named[:top], shares[:top]))
    rest = named[top:]
    return CustomerTime(shown, len(rest), sum(a.hours for a in rest), sum(shares[top:]),
                        max(card.other_external_hours, 0.0))


def leadership_shares(a: AccountLeadership) -> tuple[int, int, int]:
    """Your time / manager included / leadership included, in whole percent adding up to 100."""
    own, manager, leader = largest_remainder([a.own_hours, a.manager_hours, a.leadership_hours])
    if own + manager + leader == 0:
        return (100, 0, 0)
    return (own, manager, leader)


def split(external_pct: float | None) -> tuple[int | None, int | None]:
    """External and internal share of the week in whole percent adding up to 100."""
    if external_pct is None:
        return (None, None)
    ext, internal = largest_remainder([external_pct, 100.0 - external_pct])
    return (ext, internal)


def group_shares(hours: Sequence[float]) -> list[int]:
    """Each internal group's share of internal time, in whole percent adding up to 100."""
    return largest_remainder(list(hours))


@dataclass(frozen=True)
class RelationshipFigures:
    """The relationship card as shown: the first rows, how many more, and the window it covers."""

    shown: tuple[AccountRelationship, ...]
    more_count: int
    weeks: int  # whole weeks of the window
    since: str | None  # the window's start when data is shorter than the configured window, else None
    no_threads: bool  # a shown account has no conversation figures (the mails have no ConversationId column)

    def activity(self, a: AccountRelationship) -> tuple[int, ...]:
        """Mails, meetings and calls with the account in each week of the window, oldest first."""
        return tuple(w.sent + w.received + w.meetings + w.calls for w in a.weekly)


def relationship_figures(card: Relationship, max_rows: int, window_weeks: int) -> RelationshipFigures:
    """The accounts shown (the first ``max_rows``) and the window: "since <start>" when it is shorter
    than ``window_weeks`` weeks before its end (CONTRACT.md §8, short data)."""
    start, end = (dt.date.fromisoformat(card.window.start[:10]), dt.date.fromisoformat(card.window.end[:10]))
    short = start > end - dt.timedelta(weeks=window_weeks)
    shown = card.accounts[:max_rows]
    return RelationshipFigures(shown, max(0, len(card.accounts) - max_rows), max(1, round((end - start).days / 7)),
                               card.window.start if short else None, any(a.initiated_by_you is None for a in shown))


def silence_days(a: AccountRelationship, window_end: str) -> float | None:
    """Elapsed days from the account's last interaction to the window's end (None: none in the window)."""
    if a.last_interaction is None:
        return None
    gap = dt.datetime.fromisoformat(window_end) - dt.datetime.fromisoformat(a.last_interaction)
    return max(gap.total_seconds() / 86400, 0.0)
