"""Hand-built cards for the email tests (CONTRACT.md §6), including hostile account names."""

from __future__ import annotations

import dataclasses

from digest.cards import (AccountDepth, AccountLeadership, AccountTime, DepthOfEngagement, GroupHours, InternalNetworks,
                          Leadership, SellerCards, Summary, TimeWithCustomers, Window)

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
    )


def sparse_cards(seller: str = "bo@contoso.com") -> SellerCards:
    """Internal work only: the customer, depth and leadership cards have nothing to show."""
    c = full_cards(seller)
    return dataclasses.replace(
        c, summary=Summary(5.0, 0.0, 5.0, 0.0, None, 2.0, 3.0, 0.0, 0.0),
        time_with_customers=TimeWithCustomers((AccountTime("A4", "Northwind", 0.0, None, None, None, None),), 0.0),
        depth_of_engagement=DepthOfEngagement(()), leadership=Leadership(()))


def idle_cards(seller: str = "idle@contoso.com") -> SellerCards:
    """No collaboration at all: no email."""
    c = sparse_cards(seller)
    return dataclasses.replace(c, summary=Summary(0.0, 0.0, 0.0, None, None, 0.0, 0.0, 0.0, 0.0),
                               internal_networks=InternalNetworks("FunctionType", ()))
