"""Accounts, depth, internal networks and leadership (CONTRACT.md §2, §4, §5), numbers worked out by hand."""

from __future__ import annotations

import datetime as dt

import pytest
from metrics_fixtures import ANA, WEEK_TEXT, base_world, cards_for, hours, settings

from digest.metrics import compute_cards, list_sellers, seller_interactions
from digest.weeks import IsoWeek

FRANK, FIONA, NORA, SAM, TOM = "frank@fabrikam.com", "fiona@fabrikam.com", "nora@northwind.com", "sam@contoso.com", "tom@contoso.com"
MIA, DAN, VIC = "mia@contoso.com", "dan@contoso.com", "vic@contoso.com"
approx = pytest.approx


def test_time_is_shared_among_accounts_by_external_headcount_and_among_groups_by_internal_headcount():
    w = base_world()
    # 60 min; external others: frank + fiona (A1), nora (A2), an unknown person; internal: sam, tom.
    w.meeting("2026-11-17 09:00", "2026-11-17 10:00", ANA, [FRANK, FIONA, NORA, "x@unknown.org", SAM, TOM])
    c = cards_for(w)
    accounts = {a.account_id: a.hours for a in c.time_with_customers.accounts}
    assert accounts == {"A1": approx(hours(30)), "A2": approx(hours(15))}
    assert c.time_with_customers.other_external_hours == approx(hours(15))
    assert c.summary.external_hours == approx(1.0) and c.summary.internal_hours == 0.0
    assert {g.group: g.hours for g in c.internal_networks.groups} == {"Solution Specialist": approx(0.5), "Seller": approx(0.5)}


def test_time_with_customers_listing_shares_potential_and_change():
    w = base_world()
    w.account("A3", "Litware", "litware.com")  # neither assigned nor met: not listed
    w.meeting("2026-11-17 09:00", "2026-11-17 10:30", ANA, [FRANK])  # A1 this week 1.5 h
    w.meeting("2026-11-18 09:00", "2026-11-18 09:30", ANA, [NORA])   # A2 this week 0.5 h
    w.meeting("2026-11-10 09:00", "2026-11-10 10:00", ANA, [FRANK])  # A1 prior week 1 h
    c = cards_for(w).time_with_customers
    rows = [(a.account_id, a.account_name, a.hours, a.share_pct, a.potential, a.potential_share_pct, a.change_pct)
            for a in c.accounts]
    assert rows == [
        ("A1", "Fabrikam", approx(1.5), approx(75.0), 3_000_000, approx(75.0), approx(50.0)),
        ("A2", "Northwind", approx(0.5), approx(25.0), 1_000_000, approx(25.0), None),  # revenue when no annual revenue
    ]


def test_assigned_accounts_are_listed_without_hours_and_unassigned_only_with_hours():
    w = base_world()
    w.account("A3", "Litware")
    w.assign(ANA, "A3", since=dt.date(2026, 11, 23))  # starts after the week: not in force
    w.account("A4", "NoPotential")
    w.assign(ANA, "A4")
    c = cards_for(w).time_with_customers
    assert [(a.account_id, a.hours, a.potential, a.potential_share_pct) for a in c.accounts] == [
        ("A1", 0.0, 3_000_000, approx(100.0)), ("A4", 0.0, None, None)]


def test_lists_are_sorted_by_hours_then_id():
    w = base_world()
    w.account("A0", "Zeta", "zeta.com")
    w.meeting("2026-11-17 09:00", "2026-11-17 10:00", ANA, ["p@zeta.com"])
    w.meeting("2026-11-17 11:00", "2026-11-17 12:00", ANA, [NORA])
    w.meeting("2026-11-17 13:00", "2026-11-17 15:00", ANA, [FRANK])
    assert [a.account_id for a in cards_for(w).time_with_customers.accounts] == ["A1", "A0", "A2"]


def test_depth_counts_distinct_people_of_meaningful_interactions_default_and_extrapolation():
    w = base_world()
    w.mail("2026-11-17 09:00", ANA, to=[FRANK, "new@fabrikam.com"])           # frank (default), new (website)
    w.meeting("2026-10-26 09:00", "2026-10-26 10:00", ANA, [FIONA])            # first day of the 28-day window
    w.meeting("2026-10-25 09:00", "2026-10-25 10:00", ANA, [NORA])             # the day before: outside
    w.mail("2026-11-18 09:00", ANA, to=[f"p{i}@northwind.com" for i in range(8)])  # 9 participants: not meaningful
    w.mail("2026-11-18 10:00", ANA, to=[FRANK] + [SAM] * 1)                    # frank again: counted once
    c = cards_for(w).depth_of_engagement
    assert [(a.account_id, a.engaged_people, a.engaged_people_default, a.known_contacts) for a in c.accounts] == [
        ("A1", 3, 2, 2)]


def test_eight_participants_are_meaningful():
    w = base_world()
    w.meeting("2026-11-17 09:00", "2026-11-17 10:00", ANA, [f"p{i}@northwind.com" for i in range(7)])
    depth = {a.account_id: (a.engaged_people, a.engaged_people_default, a.known_contacts)
             for a in cards_for(w).depth_of_engagement.accounts}
    assert depth == {"A2": (7, 0, 1), "A1": (0, 0, 2)}  # the new people match northwind.com's website


def test_a_chat_is_meaningful_with_2_to_8_members_and_3_messages_in_the_window():
    w = base_world()
    w.chat([ANA, FRANK], [("2026-11-03 09:00", FRANK), ("2026-11-17 09:00", FRANK)])  # 2 messages: no
    w.chat([ANA, NORA], [("2026-11-03 09:00", NORA), ("2026-11-10 09:00", NORA), ("2026-11-17 09:00", NORA)])  # 3: yes
    w.chat([ANA, FIONA], [("2026-10-20 09:00", FIONA)] * 2 + [("2026-11-17 09:00", FIONA)])  # 2 outside the window
    c = cards_for(w).depth_of_engagement
    assert [(a.account_id, a.engaged_people) for a in c.accounts] == [("A2", 1), ("A1", 0)]


def test_leadership_precedence_over_the_28_days():
    w = base_world()
    w.meeting("2026-11-17 09:00", "2026-11-17 10:00", ANA, [FRANK, MIA, DAN])  # skip-level (dan): leadership
    w.meeting("2026-11-03 09:00", "2026-11-03 09:30", ANA, [FRANK, VIC])       # VP, 3 levels up: leadership
    w.meeting("2026-11-10 09:00", "2026-11-10 10:30", ANA, [FRANK, MIA])       # manager only
    w.meeting("2026-11-18 09:00", "2026-11-18 11:00", ANA, [FRANK, NORA])      # own: 1 h each account
    w.meeting("2026-11-19 09:00", "2026-11-19 10:00", ANA, [FRANK], declined=[DAN])  # dan declined: own
    w.meeting("2026-11-19 11:00", "2026-11-19 12:00", ANA, [TOM, MIA])         # no customer: not a customer meeting
    c = cards_for(w).leadership
    rows = [(a.account_id, a.customer_meeting_hours, a.leadership_hours, a.manager_hours, a.own_hours) for a in c.accounts]
    # A1: 1 + 0.5 leadership, 1.5 manager, own = half of the 2 h meeting + the hour dan declined.
    assert rows == [("A1", approx(5.0), approx(1.5), approx(1.5), approx(1 + 1)),
                    ("A2", approx(1.0), 0.0, 0.0, approx(1.0))]


def test_manager_chain_with_a_cycle_or_a_missing_manager():
    w = base_world()
    w.rows["people"] = [p for p in w.rows["people"] if p["PersonId"] != MIA]
    w.person(MIA, ANA, "Sales Manager")  # ana -> mia -> ana: a cycle
    w.meeting("2026-11-17 09:00", "2026-11-17 10:00", ANA, [FRANK, MIA])
    assert cards_for(w).leadership.accounts[0].manager_hours == approx(1.0)
    w2 = base_world()
    w2.rows["people"] = [p for p in w2.rows["people"] if p["PersonId"] != MIA]  # the manager is not in org data
    w2.meeting("2026-11-17 09:00", "2026-11-17 10:00", ANA, [FRANK, MIA])
    w2.meeting("2026-11-18 09:00", "2026-11-18 10:00", ANA, [FRANK, DAN])  # dan is no longer reachable
    a = cards_for(w2).leadership.accounts[0]
    assert (a.leadership_hours, a.manager_hours, a.own_hours) == (0.0, approx(1.0), approx(1.0))


def test_org_data_is_the_snapshot_at_the_weeks_sunday():
    w = base_world()
    w.person(SAM, DAN, "Architect", since=dt.date(2026, 11, 22))         # in force on Sunday
    w.person(TOM, MIA, "Manager", since=dt.date(2026, 11, 23))           # the next day: not yet
    w.person(ANA, DAN, "Seller", since=dt.date(2026, 11, 20))           # ana's manager is dan by Sunday
    w.meeting("2026-11-17 09:00", "2026-11-17 10:00", ANA, [SAM, TOM, "ghost@contoso.com"])
    w.meeting("2026-11-18 09:00", "2026-11-18 10:00", ANA, [FRANK, DAN])
    c = cards_for(w)
    assert {g.group: g.hours for g in c.internal_networks.groups} == {
        "Architect": approx(hours(20)), "Seller": approx(hours(20)), "(none)": approx(hours(20)),
        "Leadership": approx(1.0)}  # dan, in the customer meeting
    assert c.leadership.accounts[0].manager_hours == approx(1.0)


def test_sellers_of_the_week():
    w = base_world()
    w.person("bob@contoso.com", MIA, "Seller")
    w.assign("bob@contoso.com", "A2", since=dt.date(2026, 11, 23))  # starts next week
    w.assign("ghost@contoso.com", "A2")                              # not in org data
    w.person("cy@contoso.com", MIA, "Seller")
    w.assign("cy@contoso.com", "A2")
    w.optout("cy@contoso.com")
    w.person("dee@contoso.com", MIA, "Seller")
    w.assign("dee@contoso.com", "A2")
    week = IsoWeek.parse(WEEK_TEXT)
    assert list_sellers(w.dataset(), week, settings()) == [ANA, "dee@contoso.com"]
    narrowed = compute_cards(w.dataset(), week, settings(), sellers=["DEE@contoso.com", "ghost@contoso.com"])
    assert [c.seller for c in narrowed] == ["dee@contoso.com"]


def test_seller_interactions_lists_what_the_cards_used():
    w = base_world()
    m = w.mail("2026-11-17 09:00", ANA, to=[FRANK])
    w.mail("2026-11-17 09:00", TOM, to=[SAM])                                     # not ana's
    t = w.meeting("2026-11-03 09:00", "2026-11-03 10:00", ANA, [FRANK])          # window: depth, leadership
    w.meeting("2026-11-17 09:00", "2026-11-17 10:00", TOM, [FRANK], declined=[ANA])
    h = w.chat([ANA, NORA], [("2026-11-17 09:00", NORA)] * 3)                     # meaningful, received only
    w.chat([ANA, TOM], [("2026-11-17 09:00", TOM)])                               # received only: used by nothing
    got = seller_interactions(w.dataset(), IsoWeek.parse(WEEK_TEXT), settings(), [ANA]).to_pylist()
    assert got == [{"seller": ANA, "kind": "chat", "interaction_id": h}, {"seller": ANA, "kind": "mail", "interaction_id": m},
                   {"seller": ANA, "kind": "meeting", "interaction_id": t}]


def test_group_attribute_setting_and_a_bad_one():
    from digest.errors import ConfigError

    w = base_world()
    w.rows["people"] = [p for p in w.rows["people"] if p["PersonId"] != TOM]
    w.person(TOM, MIA, "Seller", Region="EMEA")
    w.meeting("2026-11-17 09:00", "2026-11-17 10:00", ANA, [TOM, SAM])
    c = cards_for(w, metrics={"group_attribute": "Region"})
    assert c.internal_networks.attribute == "Region"
    assert {g.group: g.hours for g in c.internal_networks.groups} == {"EMEA": approx(0.5), "(none)": approx(0.5)}
    with pytest.raises(ConfigError, match="metrics.group_attribute"):
        cards_for(w, metrics={"group_attribute": "Nope"})
