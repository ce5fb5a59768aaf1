"""Suggestion rules: deterministic, and each names the account or group it is about."""

from __future__ import annotations

import dataclasses

from digest.email import suggestions
from digest.cards import AccountDepth, AccountLeadership, AccountTime, DepthOfEngagement, GroupHours, InternalNetworks, Leadership, TimeWithCustomers
from render_cards import HOSTILE, full_cards


def test_time_names_the_account_whose_time_lags_its_potential_most():
    s = suggestions.time_with_customers(full_cards().time_with_customers)
    assert s.rule == "under_served_potential" and s.about == (HOSTILE,)
    assert s.text.startswith(f"{HOSTILE} holds 36% of the potential in your book but got 27% of your customer time")


def test_time_in_line_with_potential_names_the_biggest_opportunity():
    card = TimeWithCustomers((AccountTime("A1", "Contoso", 5, 50, 100, 50, None), AccountTime("A2", "Lucerne", 5, 50, 100, 50, None)), 0)
    s = suggestions.time_with_customers(card)
    assert s.rule == "balanced" and s.about == ("Contoso",)  # equal potentials: card order decides


def test_time_without_potential_or_without_hours():
    busy = TimeWithCustomers((AccountTime("A1", "Contoso", 3, 100, None, None, None),), 0)
    assert suggestions.time_with_customers(busy).rule == "no_potential"
    idle = TimeWithCustomers((AccountTime("A9", "Northwind", 0, None, None, None, None),), 0)
    s = suggestions.time_with_customers(idle)
    assert s.rule == "no_customer_time" and "Northwind" in s.text
    assert suggestions.time_with_customers(TimeWithCustomers((), 0)) is None


def test_depth_names_accounts_with_one_or_no_engaged_person_most_contacts_first():
    s = suggestions.depth_of_engagement(full_cards().depth_of_engagement)
    assert s.rule == "single_threaded" and s.about == (HOSTILE, "Northwind")
    deep = DepthOfEngagement((AccountDepth("A1", "Contoso", 4, 4, 10), AccountDepth("A2", "Lucerne", 3, 3, 30)))
    s = suggestions.depth_of_engagement(deep)
    assert s.rule == "broaden" and s.about == ("Lucerne",) and "3 of 30" in s.text


def test_internal_networks_dominant_group_and_spread():
    s = suggestions.internal_networks(full_cards().internal_networks)
    assert s.rule == "dominant_group" and s.about == ("Solution Specialist",) and s.text.startswith("67% ")
    spread = InternalNetworks("FunctionType", (GroupHours("Engineering", 2), GroupHours("Legal", 2), GroupHours("Finance", 1)))
    s = suggestions.internal_networks(spread)
    assert s.rule == "spread" and s.about == ("Engineering",) and "3 internal groups" in s.text
    assert suggestions.internal_networks(InternalNetworks("FunctionType", ())) is None


def test_leadership_names_the_busiest_account_without_manager_or_leadership():
    s = suggestions.leadership(full_cards().leadership)
    assert s.rule == "no_leadership" and s.about == (HOSTILE,) and "2.0 h" in s.text
    covered = Leadership((AccountLeadership("A1", "Contoso", 4, 2, 1, 1), AccountLeadership("A2", "Lucerne", 4, 0.5, 1, 2.5)))
    s = suggestions.leadership(covered)
    assert s.rule == "least_leadership" and s.about == ("Lucerne",)
    assert suggestions.leadership(Leadership(())) is None


def test_rules_are_deterministic():
    cards = full_cards()
    assert suggestions.suggest_all(cards) == suggestions.suggest_all(dataclasses.replace(cards))
