"""Hand-built cards for the email tests (CONTRACT.md §6), including hostile account names."""

from __future__ import annotations

import dataclasses

from digest.cards import (AccountDepth, AccountLeadership, AccountRelationship, AccountTime, DepthOfEngagement, GroupHours,
                          InternalNetworks, Leadership, Relationship, SellerCards, Summary, TimeWithCustomers, WeekActivity,
                          Window)

HOSTILE = "Fabrikam & <script>alert(1)</script> $x$"


def full_cards(seller: str = "ana.lopez@contoso.com", second: str = HOSTILE) -> SellerCards:
    """A seller with something on every card."""
    return SellerCards(
        seller=seller, week="2026-W47", time_zone="Europe/Paris",
        window=Window("2026-11-16T00:00:00+01:00", "2026-11-23T00:00:00+01:00"),
        summary=Summary(21.5, 12.0, 9.5, 55.81, -3.1, 6.0, 13.0, 2.0, 0.5),
        time_with_customers=TimeWithCustomers((
            AccountTime("A1", "Contoso", 4.5, 60.0, 310_000_000, 45.0, 12.5),
            AccountTime("A2", second, 2.0, 26.67, 250_000_000, 36.0, None),
            AccountTime("A3", "Lucerne Publishing", 1.0, 13.33, 130_000_000, 19.0, -50.0),
            AccountTime("A4", "Northwind", 0.0, 0.0, None, None, None),
        ), 1.0),
        depth_of_engagement=DepthOfEngagement((
            AccountDepth("A1", "Contoso", 4, 3, 12),
            AccountDepth("A2", second, 1, 1, 8),
            AccountDepth("A4", "Northwind", 0, 0, 5),
        )),
        internal_networks=InternalNetworks("FunctionType", (
            GroupHours("Solution Specialist", 3.5), GroupHours("Marketing", 1.25), GroupHours("(none)", 0.5))),
        leadership=Leadership((
            AccountLeadership("A1", "Contoso", 6.0, 1.0, 1.5, 3.5),
            AccountLeadership("A2", second, 2.0, 0.0, 0.0, 2.0),
        )),
        relationship=relationship(second),
    )


def sparse_cards(seller: str = "bo@contoso.com") -> SellerCards:
    """Internal work only: the customer, depth and leadership cards have nothing to show; cards from
    before the relationship card (CONTRACT.md §8) existed."""
    c = full_cards(seller)
    return dataclasses.replace(
        c, summary=Summary(5.0, 0.0, 5.0, 0.0, None, 2.0, 3.0, 0.0, 0.0), relationship=None,
        time_with_customers=TimeWithCustomers((AccountTime("A4", "Northwind", 0.0, None, None, None, None),), 0.0),
        depth_of_engagement=DepthOfEngagement(()), leadership=Leadership(()))


def idle_cards(seller: str = "idle@contoso.com") -> SellerCards:
    """No collaboration at all: no email."""
    c = sparse_cards(seller)
    return dataclasses.replace(c, summary=Summary(0.0, 0.0, 0.0, None, None, 0.0, 0.0, 0.0, 0.0),
                               internal_networks=InternalNetworks("FunctionType", ()))


WEEKS = tuple(f"2026-W{n}" for n in range(39, 48))  # the 9 ISO weeks of the relationship window


def _weeks(*totals: tuple[int, int, int, int]) -> tuple[WeekActivity, ...]:
    return tuple(WeekActivity(w, *t) for w, t in zip(WEEKS, totals))


def relationship(second: str = HOSTILE) -> Relationship:
    """The relationship card of full_cards' accounts: a healthy account, a slow replier, a quiet one, a silent one."""
    quiet = (0, 0, 0, 0)
    return Relationship(Window("2026-09-21T00:00:00+02:00", "2026-11-23T00:00:00+01:00"), (
        AccountRelationship("A1", "Contoso", 12, 8, 1.5, 0.67, 5, 3, 4.2, 30.5, "2026-11-20T15:30:00+01:00",
                            "2026-11-25T10:00:00+01:00",
                            _weeks((2, 1, 1, 0), quiet, (1, 1, 0, 1), (2, 1, 1, 0), (1, 0, 1, 0), (2, 2, 0, 0),
                                   (1, 1, 1, 0), (2, 1, 0, 1), (1, 1, 1, 0)),
                            ("Frank Fabri", "nora@contoso-partner.com", "Lee Chen"), 86, "good", 5),
        AccountRelationship("A2", second, 4, 2, 2.0, 0.5, 3, 0, 52.0, 6.0, "2026-11-18T09:00:00+01:00", None,
                            _weeks(quiet, (1, 0, 0, 0), quiet, (1, 1, 0, 0), quiet, (1, 0, 1, 0), quiet, quiet, (1, 1, 0, 0)),
                            ("Mara Quell",), 55, "fair", -6),
        AccountRelationship("A3", "Lucerne Publishing", 2, 0, None, 0.0, 2, 0, None, None, "2026-10-02T11:00:00+02:00", None,
                            _weeks((1, 0, 1, 0), (1, 0, 0, 0), quiet, quiet, quiet, quiet, quiet, quiet, quiet),
                            ("tom@lucerne.example",), 12, "poor", -3),
        AccountRelationship("A4", "Northwind", 0, 0, None, None, 0, 0, None, None, None, None,
                            _weeks(*[quiet] * 9), (), 0, "poor", 0),
    ))
