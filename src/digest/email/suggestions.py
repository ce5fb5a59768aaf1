"""The suggestion under each card: deterministic rules over the card's numbers (docs/email.md).

Each rule names the concrete account or group it is about, so a seller can act on it. Ties are
broken by the card's own order (hours or people descending, then id), which the cards already
follow (CONTRACT.md §6): the same cards always give the same words.
"""

from __future__ import annotations

from dataclasses import dataclass

from digest.cards import DepthOfEngagement, InternalNetworks, Leadership, TimeWithCustomers
from digest.email.formatting import hours, pct

GAP_POINTS = 5.0  # a share of time this far below the share of potential counts as under-served
DOMINANT_GROUP_PCT = 60.0  # one internal group taking this much of internal time is worth a nudge
MAX_NAMED = 3  # accounts named in one sentence


@dataclass(frozen=True)
class Suggestion:
    """One card's suggestion: the sentence, the rule that produced it, and what it is about."""

    rule: str
    text: str
    about: tuple[str, ...]  # account or group names the sentence names


def _names(names: list[str]) -> str:
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


def time_with_customers(card: TimeWithCustomers) -> Suggestion | None:
    """Point at the account whose share of time lags its share of potential the most."""
    with_potential = [a for a in card.accounts if a.potential_share_pct is not None]
    if with_potential:
        # Largest gap first; on equal gaps, the larger potential (it matters more), then the card order.
        order = sorted(enumerate(with_potential),
                       key=lambda p: ((p[1].share_pct or 0.0) - p[1].potential_share_pct, -(p[1].potential or 0.0), p[0]))
        a = order[0][1]
        gap = a.potential_share_pct - (a.share_pct or 0.0)
        if gap >= GAP_POINTS:
            return Suggestion("under_served_potential",
                              f"{a.account_name} holds {pct(a.potential_share_pct)} of the potential in your book but got "
                              f"{pct(a.share_pct or 0.0)} of your customer time. Could you plan time with them this week?",
                              (a.account_name,))
        biggest = max(with_potential, key=lambda x: (x.potential or 0.0))
        return Suggestion("balanced",
                          f"Your customer time follows potential well. Keep {biggest.account_name}, your largest "
                          f"opportunity, at the top of your list.", (biggest.account_name,))
    busiest = [a for a in card.accounts if a.hours > 0]
    if busiest:
        a = busiest[0]
        return Suggestion("no_potential",
                          f"{a.account_name} took most of your customer time ({hours(a.hours)}). Adding revenue potential "
                          f"to your accounts in CRM would show whether that matches your biggest opportunities.",
                          (a.account_name,))
    if card.accounts:
        a = card.accounts[0]
        return Suggestion("no_customer_time",
                          f"No customer time was recorded last week. A short check-in with {a.account_name} is a good "
                          f"place to start.", (a.account_name,))
    return None


def depth_of_engagement(card: DepthOfEngagement) -> Suggestion | None:
    """Name the accounts with one or no engaged person, those with the most known contacts first."""
    thin = [a for a in card.accounts if a.engaged_people <= 1]
    if thin:
        thin = sorted(thin, key=lambda a: (-a.known_contacts, a.engaged_people, a.account_id))[:MAX_NAMED]
        names = [a.account_name for a in thin]
        verb = "is" if len(names) == 1 else "are"
        return Suggestion("single_threaded",
                          f"{_names(names)} {verb} down to one engaged person or none in the last 28 days. "
                          f"Relationships with several people are more resilient: who else could you bring in?",
                          tuple(names))
    if card.accounts:
        a = min(card.accounts, key=lambda x: (x.engaged_people / x.known_contacts if x.known_contacts else 1.0, x.account_id))
        return Suggestion("broaden",
                          f"Every account has several engaged people. At {a.account_name} you engaged "
                          f"{a.engaged_people} of {a.known_contacts} known contacts: is there someone you have not met yet?",
                          (a.account_name,))
    return None


def internal_networks(card: InternalNetworks) -> Suggestion | None:
    """Nudge when one group dominates internal time, else name the largest group."""
    groups = [g for g in card.groups if g.hours > 0]
    if not groups:
        return None
    total = sum(g.hours for g in groups)
    top = groups[0]
    share = 100 * top.hours / total
    if len(groups) == 1 or share >= DOMINANT_GROUP_PCT:
        return Suggestion("dominant_group",
                          f"{pct(share)} of your internal time went to {top.group}. Specialists from other groups "
                          f"can help you close: who could you involve in your next opportunity?", (top.group,))
    return Suggestion("spread",
                      f"You worked with {len(groups)} internal groups, most with {top.group} ({hours(top.hours)}). "
                      f"A broad network helps you bring the right expertise to customers.", (top.group,))


def leadership(card: Leadership) -> Suggestion | None:
    """Name the account with the most customer meeting time that no manager or leader joined."""
    accounts = [a for a in card.accounts if a.customer_meeting_hours > 0]
    if not accounts:
        return None
    alone = [a for a in accounts if a.manager_hours <= 0 and a.leadership_hours <= 0]
    if alone:
        a = alone[0]  # the card lists accounts by hours, descending
        return Suggestion("no_leadership",
                          f"You met {a.account_name} for {hours(a.customer_meeting_hours)} in 28 days without your "
                          f"manager or leadership. Consider inviting them to your next meeting.", (a.account_name,))
    a = min(accounts, key=lambda x: (x.leadership_hours / x.customer_meeting_hours, -x.customer_meeting_hours, x.account_id))
    return Suggestion("least_leadership",
                      f"Your manager or leadership joined meetings at every account. {a.account_name} had the least "
                      f"leadership time ({hours(a.leadership_hours)}): a good candidate for your next executive touchpoint.",
                      (a.account_name,))


def suggest_all(cards) -> dict[str, Suggestion | None]:
    """The suggestion of each card of one seller, by card key."""
    return {
        "time_with_customers": time_with_customers(cards.time_with_customers),
        "depth_of_engagement": depth_of_engagement(cards.depth_of_engagement),
        "internal_networks": internal_networks(cards.internal_networks),
        "leadership": leadership(cards.leadership),
    }
