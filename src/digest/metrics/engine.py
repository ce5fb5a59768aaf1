"""The cards of every seller for one ISO week (CONTRACT.md §2-5; the rules in plain words: docs/metrics.md).

The numbers are computed over the dataset's Arrow tables with DuckDB and numpy:
``digest.metrics.session`` opens the session (people, counted interactions, integer arrays),
``digest.metrics.time`` the seller's time in each interaction, ``digest.metrics.cards`` the
aggregates, ``digest.metrics.relationship`` the relationship card (CONTRACT.md §8); this module only
turns the grouped result rows into :class:`digest.cards.SellerCards`.
Hours stay unrounded here. docs/metrics.md#performance says how it scales.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import pyarrow as pa

from digest.metrics import cards as metrics_cards, relationship as metrics_relationship, time as metrics_time
from digest.cards import (AccountDepth, AccountLeadership, AccountTime, DepthOfEngagement, GroupHours, InternalNetworks,
                          Leadership, SellerCards, Summary, TimeWithCustomers, Window)
from digest.config import Settings
from digest.sources.contract import Dataset
from digest.metrics.arrays import small_pages
from digest.metrics.session import list_scope, list_seller_emails, open_session
from digest.weeks import IsoWeek

INTERACTIONS_SCHEMA = pa.schema([("seller", pa.string()), ("kind", pa.string()), ("interaction_id", pa.string())])


def list_sellers(dataset: Dataset, week: IsoWeek, settings: Settings) -> list[str]:
    """The sellers of the week (CONTRACT.md §2), sorted: assigned at week end, in org data, not opted out."""
    return list_seller_emails(dataset, week, settings)


def seller_scope(dataset: Dataset, week: IsoWeek, settings: Settings, sellers: Sequence[str] | None = None) -> list[tuple[str, str, str | None]]:
    """Every seller in scope for the week (assigned at week end, in org data), with why the cards leave them out (or None)."""
    return list_scope(dataset, week, settings, None if sellers is None else [s.lower() for s in sellers])


def compute_cards(dataset: Dataset, week: IsoWeek, settings: Settings, sellers: Sequence[str] | None = None) -> list[SellerCards]:
    """Every seller's cards for the week (or only `sellers`, those of them who are sellers), sorted by seller."""
    return _compute(dataset, week, settings, sellers, with_interactions=False)[0]


def compute_cards_and_interactions(dataset: Dataset, week: IsoWeek, settings: Settings,
                                   sellers: Sequence[str] | None = None) -> tuple[list[SellerCards], pa.Table]:
    """:func:`compute_cards` and :func:`seller_interactions` from one session (a second one would match everything again)."""
    cards, used = _compute(dataset, week, settings, sellers, with_interactions=True)
    return cards, used


def _compute(dataset: Dataset, week: IsoWeek, settings: Settings, sellers: Sequence[str] | None,
             with_interactions: bool) -> tuple[list[SellerCards], pa.Table | None]:
    used = None
    with small_pages():
        session = open_session(dataset, week, settings, None if sellers is None else list(sellers))
        try:
            metrics_cards.build(session)
            if with_interactions:
                used = metrics_time.used(session).cast(INTERACTIONS_SCHEMA)
            with _gc_paused():
                res = metrics_cards.results(session)
            session.arrays.clear()  # the 28-day arrays go before the relationship window's SQL runs
            res["listed"] = {sid: listed_accounts(res["account_hours"].get(sid, []), _assigned(res, sid)) for sid, *_ in res["sellers"]}
            res["relationship"] = metrics_relationship.results(session, _listed_table(res["listed"]))
        finally:
            session.close()
    with _gc_paused():
        return [_cards(row, res, week, settings) for row in res["sellers"]], used


def seller_interactions(dataset: Dataset, week: IsoWeek, settings: Settings, sellers: Sequence[str] | None = None) -> pa.Table:
    """(seller, kind, interaction_id) of every interaction the sellers' cards were built from.

    kind is mail, meeting, call or chat; the id is MailId, MeetingId, CallId or ChatId.
    """
    with small_pages():
        session = open_session(dataset, week, settings, None if sellers is None else list(sellers))
        try:
            metrics_time.build(session)
            return metrics_time.used(session).cast(INTERACTIONS_SCHEMA)
        finally:
            session.close()


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while millions of small acyclic objects are made: each pass
    would walk all of them (it doubled the time to build 20,000 sellers' cards)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _pct(part: float, whole: float) -> float | None:
    return 100.0 * part / whole if whole > 0 else None


def _order(hours: float) -> float:
    # Lists are sorted by the value the reader sees (2 decimals), then by id.
    return -round(hours, 2)


def _cards(row: tuple, res: dict[str, Any], week: IsoWeek, settings: Settings) -> SellerCards:
    sid, seller, tz, start, end, locale = row
    accounts = res["accounts"]
    assigned = _assigned(res, sid)
    customers = _time_with_customers(res["account_hours"].get(sid, []), res["listed"][sid], accounts)
    return SellerCards(
        seller=seller, week=str(week), time_zone=tz, locale=locale, window=Window(start, end),
        summary=_summary(res["summary"].get(sid, [])),
        time_with_customers=customers,
        depth_of_engagement=_depth(res["depth"].get(sid, []), assigned, accounts),
        internal_networks=InternalNetworks(settings.metrics.group_attribute, tuple(
            GroupHours(g, h) for g, h in sorted(res["groups"].get(sid, []), key=lambda r: (_order(r[1]), r[0])))),
        leadership=_leadership(res["leadership"].get(sid, []), assigned, accounts),
        relationship=metrics_relationship.card(sid, tz, [(a.account_id, a.account_name) for a in customers.accounts],
                                               res["relationship"]),
    )


def _summary(rows: list[tuple]) -> Summary:
    by_bucket = {r[0]: r[1:] for r in rows}
    total, ext, mail, meeting, call, chat = by_bucket.get(2, (0.0,) * 6)
    prior_total, prior_ext = by_bucket.get(1, (0.0, 0.0))[:2]
    pct, prior_pct = _pct(ext, total), _pct(prior_ext, prior_total)
    change = pct - prior_pct if pct is not None and prior_pct is not None else None
    return Summary(total, ext, total - ext, pct, change, mail, meeting, call, chat)


def _assigned(res: dict[str, Any], sid: int) -> set[str]:
    return {a for (a,) in res["assigned"].get(sid, [])}


def _listed_table(listed: dict[int, list[str]]) -> pa.Table:
    """(sid, key) of every account a seller's time-with-customers card lists: those the relationship card shows."""
    sids, keys = [], []
    for sid, accounts in listed.items():
        sids += [sid] * len(accounts)
        keys += accounts
    return pa.table({"sid": pa.array(sids, pa.int32()), "key": pa.array(keys, pa.string())})


def listed_accounts(rows: list[tuple], assigned: set[str]) -> list[str]:
    """The accounts of the time-with-customers card (CONTRACT.md §5), sorted: assigned, or with hours last week."""
    return sorted(assigned | {key for bucket, key, h in rows if bucket == 2 and key is not None and h > 0})


def _time_with_customers(rows: list[tuple], listed: list[str], accounts: dict[str, tuple]) -> TimeWithCustomers:
    """`listed`: the card's accounts (:func:`listed_accounts`)."""
    week = {key: h for bucket, key, h in rows if bucket == 2}
    prior = {key: h for bucket, key, h in rows if bucket == 1}
    other = week.pop(None, 0.0)
    total = sum(week.get(a, 0.0) for a in listed)
    potentials = [accounts[a][1] for a in listed if accounts[a][1] is not None]
    total_potential = sum(potentials)
    out = []
    for a in listed:
        name, potential, _ = accounts[a]
        hours, before = week.get(a, 0.0), prior.get(a, 0.0)
        out.append(AccountTime(a, name, hours, _pct(hours, total), potential,
                               _pct(potential, total_potential) if potential is not None else None,
                               100.0 * (hours - before) / before if before > 0 else None))
    out.sort(key=lambda t: (_order(t.hours), t.account_id))
    return TimeWithCustomers(tuple(out), other)


def _depth(rows: list[tuple], assigned: set[str], accounts: dict[str, tuple]) -> DepthOfEngagement:
    engaged = {a: (n, n_default) for a, n, n_default in rows}
    out = [AccountDepth(a, accounts[a][0], *engaged.get(a, (0, 0)), accounts[a][2])
           for a in assigned | {a for a, (n, _) in engaged.items() if n > 0}]
    out.sort(key=lambda d: (-d.engaged_people, d.account_id))
    return DepthOfEngagement(tuple(out))


def _leadership(rows: list[tuple], assigned: set[str], accounts: dict[str, tuple]) -> Leadership:
    hours = {a: rest for a, *rest in rows}
    out = [AccountLeadership(a, accounts[a][0], *hours.get(a, (0.0, 0.0, 0.0, 0.0)))
           for a in assigned | {a for a, h in hours.items() if h[0] > 0}]
    out.sort(key=lambda t: (_order(t.customer_meeting_hours), t.account_id))
    return Leadership(tuple(out))
