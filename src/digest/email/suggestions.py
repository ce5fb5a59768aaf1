"""The suggestion under each card: deterministic rules over the card's numbers (docs/email.md).

Each rule names the concrete account or group it is about, so a seller can act on it. Ties are
broken by the card's own order (hours or people descending, then id), which the cards already
follow (CONTRACT.md §6): the same cards always give the same words. The sentences come from the
seller's catalog and show the same rounded figures as the card (:mod:`digest.email.numbers`).
"""

from __future__ import annotations

from dataclasses import dataclass

from digest.cards import DepthOfEngagement, InternalNetworks, Leadership, Relationship, TimeWithCustomers
from digest.email.i18n import Language, english
from digest.email.numbers import WINDOW_WEEKS, group_shares, largest_remainder, relationship_figures, silence_days

GAP_POINTS = 5.0  # a share of time this far below the share of potential counts as under-served
DOMINANT_GROUP_PCT = 60.0  # one internal group taking this much of internal time is worth a nudge
MAX_NAMED = 3  # accounts named in one sentence
SILENT_DAYS = 14.0  # an account not heard from for this long, with nothing planned, is worth a nudge
SLOW_REPLY_HOURS = 24.0  # a median reply time of the seller's this long (and slower than the account's) is worth one


@dataclass(frozen=True)
class Suggestion:
    """One card's suggestion: the sentence, the rule that produced it, and what it is about."""

    rule: str
    text: str
    about: tuple[str, ...]  # account or group names the sentence names


def _names(names: list[str], lang: Language) -> str:
    if len(names) == 1:
        return names[0]
    return lang.gettext("%(first)s and %(last)s") % {"first": ", ".join(names[:-1]), "last": names[-1]}


def time_with_customers(card: TimeWithCustomers, lang: Language | None = None) -> Suggestion | None:
    """Point at the account whose share of time lags its share of potential the most."""
    lang = lang or english()
    _, fmt = lang.gettext, lang.fmt
    busy = [a for a in card.accounts if a.hours > 0]
    shown_share = dict(zip((a.account_id for a in busy), largest_remainder([a.hours for a in busy])))
    with_potential = [a for a in card.accounts if a.potential_share_pct is not None]
    if with_potential:
        # Largest gap first; on equal gaps, the larger potential (it matters more), then the card order.
        order = sorted(enumerate(with_potential),
                       key=lambda p: ((p[1].share_pct or 0.0) - p[1].potential_share_pct, -(p[1].potential or 0.0), p[0]))
        a = order[0][1]
        gap = a.potential_share_pct - (a.share_pct or 0.0)
        if gap >= GAP_POINTS:
            text = _("%(account)s holds %(potential)s of the potential in your book but got %(time)s of your "
                     "customer time. Could you plan time with them this week?")
            return Suggestion("under_served_potential", text % {
                "account": a.account_name, "potential": fmt.small_pct(a.potential_share_pct),
                "time": fmt.pct(shown_share.get(a.account_id, 0))}, (a.account_name,))
        biggest = max(with_potential, key=lambda x: (x.potential or 0.0))
        text = _("Your customer time follows potential well. Keep %(account)s, your largest opportunity, "
                 "at the top of your list.")
        return Suggestion("balanced", text % {"account": biggest.account_name}, (biggest.account_name,))
    if busy:
        a = busy[0]
        text = _("%(account)s took most of your customer time (%(hours)s). Adding revenue potential to your "
                 "accounts in CRM would show whether that matches your biggest opportunities.")
        return Suggestion("no_potential", text % {"account": a.account_name, "hours": fmt.hours(a.hours)},
                          (a.account_name,))
    if card.accounts:
        a = card.accounts[0]
        text = _("No customer time was recorded last week. A short check-in with %(account)s is a good place to start.")
        return Suggestion("no_customer_time", text % {"account": a.account_name}, (a.account_name,))
    return None


def depth_of_engagement(card: DepthOfEngagement, lang: Language | None = None) -> Suggestion | None:
    """Name the accounts with one or no engaged person, those with the most known contacts first."""
    lang = lang or english()
    thin = [a for a in card.accounts if a.engaged_people <= 1]
    if thin:
        thin = sorted(thin, key=lambda a: (-a.known_contacts, a.engaged_people, a.account_id))[:MAX_NAMED]
        names = [a.account_name for a in thin]
        text = lang.ngettext(
            "%(accounts)s is down to one engaged person or none in the last 28 days. Relationships with several "
            "people are more resilient: who else could you bring in?",
            "%(accounts)s are down to one engaged person or none in the last 28 days. Relationships with several "
            "people are more resilient: who else could you bring in?", len(names))
        return Suggestion("single_threaded", text % {"accounts": _names(names, lang)}, tuple(names))
    if card.accounts:
        a = min(card.accounts, key=lambda x: (x.engaged_people / x.known_contacts if x.known_contacts else 1.0, x.account_id))
        text = lang.gettext("Every account has several engaged people. At %(account)s you engaged %(engaged)s of "
                            "%(known)s known contacts: is there someone you have not met yet?")
        return Suggestion("broaden", text % {"account": a.account_name, "engaged": lang.fmt.number(a.engaged_people),
                                             "known": lang.fmt.number(a.known_contacts)}, (a.account_name,))
    return None


def internal_networks(card: InternalNetworks, lang: Language | None = None) -> Suggestion | None:
    """Nudge when one group dominates internal time, else name the largest group."""
    lang = lang or english()
    groups = [g for g in card.groups if g.hours > 0]
    if not groups:
        return None
    total = sum(g.hours for g in groups)
    top = groups[0]
    if len(groups) == 1 or 100 * top.hours / total >= DOMINANT_GROUP_PCT:
        text = lang.gettext("%(share)s of your internal time went to %(group)s. Specialists from other groups can "
                            "help you close: who could you involve in your next opportunity?")
        share = group_shares([g.hours for g in groups])[0]
        return Suggestion("dominant_group", text % {"share": lang.fmt.pct(share), "group": top.group}, (top.group,))
    text = lang.ngettext(
        "You worked with %(count)s internal group, most with %(group)s (%(hours)s). A broad network helps you "
        "bring the right expertise to customers.",
        "You worked with %(count)s internal groups, most with %(group)s (%(hours)s). A broad network helps you "
        "bring the right expertise to customers.", len(groups))
    return Suggestion("spread", text % {"count": lang.fmt.number(len(groups)), "group": top.group,
                                        "hours": lang.fmt.hours(top.hours)}, (top.group,))


def leadership(card: Leadership, lang: Language | None = None) -> Suggestion | None:
    """Name the account with the most customer meeting time that no manager or leader joined."""
    lang = lang or english()
    accounts = [a for a in card.accounts if a.customer_meeting_hours > 0]
    if not accounts:
        return None
    alone = [a for a in accounts if a.manager_hours <= 0 and a.leadership_hours <= 0]
    if alone:
        a = alone[0]  # the card lists accounts by hours, descending
        text = lang.gettext("You met %(account)s for %(hours)s in 28 days without your manager or leadership. "
                            "Consider inviting them to your next meeting.")
        return Suggestion("no_leadership", text % {"account": a.account_name,
                                                   "hours": lang.fmt.hours(a.customer_meeting_hours)}, (a.account_name,))
    a = min(accounts, key=lambda x: (x.leadership_hours / x.customer_meeting_hours, -x.customer_meeting_hours, x.account_id))
    text = lang.gettext("Your manager or leadership joined meetings at every account. %(account)s had the least "
                        "leadership time (%(hours)s): a good candidate for your next executive touchpoint.")
    return Suggestion("least_leadership", text % {"account": a.account_name, "hours": lang.fmt.hours(a.leadership_hours)},
                      (a.account_name,))


def relationship(card: Relationship, zone: str, lang: Language | None = None, max_rows: int = 6,
                 window_weeks: int = WINDOW_WEEKS) -> Suggestion | None:
    """Among every account of the card (the chart shows the first `max_rows`, the most active this
    week; the accounts at risk are often further down): the longest silence with nothing planned,
    else the slowest replies of yours, else the lowest health score. The sentence carries the figures
    it rests on, so it reads on its own for an account the chart does not show."""
    lang = lang or english()
    _, fmt = lang.gettext, lang.fmt
    figures = relationship_figures(card, max_rows, window_weeks)
    accounts = card.accounts
    if not accounts:
        return None
    unplanned = [(silence_days(a, card.window.end), i, a) for i, a in enumerate(accounts) if a.next_interaction is None]
    if unplanned:
        # No interaction at all in the window is the longest silence; ties keep the card order.
        days, _i, a = min(unplanned, key=lambda p: (-(p[0] if p[0] is not None else float("inf")), p[1]))
        if days is None:
            text = _("No mails, meetings or calls with %(account)s %(period)s, and nothing is planned. A short note "
                     "or a meeting invitation could restart the conversation.")
            return Suggestion("silent_account", text % {"account": a.account_name,
                                                        "period": fmt.period(figures.weeks, figures.since)}, (a.account_name,))
        if days >= SILENT_DAYS:
            text = lang.ngettext(
                "Your last interaction with %(account)s was on %(date)s, %(days)s day ago, and nothing is planned. "
                "A short note or a meeting invitation could restart the conversation.",
                "Your last interaction with %(account)s was on %(date)s, %(days)s days ago, and nothing is planned. "
                "A short note or a meeting invitation could restart the conversation.", int(days))
            return Suggestion("silent_account", text % {"account": a.account_name, "days": fmt.number(int(days)),
                                                        "date": fmt.day(a.last_interaction, zone)}, (a.account_name,))
    slow = [(a.response_hours_you, i, a) for i, a in enumerate(accounts) if a.response_hours_you is not None
            and a.response_hours_you >= SLOW_REPLY_HOURS
            and (a.response_hours_them is None or a.response_hours_you > a.response_hours_them)]
    if slow:
        hours, _i, a = min(slow, key=lambda p: (-p[0], p[1]))
        if a.response_hours_them is None:
            text = _("Your replies to %(account)s take %(yours)s (median). Answering within a day keeps the "
                     "conversation moving.")
        else:
            text = _("Your replies to %(account)s take %(yours)s (median); theirs take %(theirs)s. Answering within a "
                     "day keeps the conversation moving.")
        return Suggestion("slow_replies", text % {
            "account": a.account_name, "yours": fmt.duration(hours),
            "theirs": fmt.duration(a.response_hours_them or 0.0)}, (a.account_name,))
    a = min(enumerate(accounts), key=lambda p: (p[1].health, p[0]))[1]
    text = _("%(account)s has the lowest relationship health of your accounts (%(health)s of 100, %(grade)s). "
             "Who else there could you meet or hear from more often?")
    return Suggestion("lowest_health", text % {"account": a.account_name, "health": fmt.number(a.health),
                                               "grade": fmt.grade(a.health_grade)}, (a.account_name,))


def suggest_all(cards, lang: Language | None = None, max_rows: int = 6, window_weeks: int = WINDOW_WEEKS) -> dict[str, Suggestion | None]:
    """The suggestion of each card of one seller, by card key (relationship: None without the card)."""
    return {
        "relationship": (relationship(cards.relationship, cards.time_zone, lang, max_rows, window_weeks)
                         if cards.relationship is not None else None),
        "time_with_customers": time_with_customers(cards.time_with_customers, lang),
        "depth_of_engagement": depth_of_engagement(cards.depth_of_engagement, lang),
        "internal_networks": internal_networks(cards.internal_networks, lang),
        "leadership": leadership(cards.leadership, lang),
    }
