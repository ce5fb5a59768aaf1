"""The relationship-health card as the seller reads it: the words of every cell, decided once so the
HTML table and the text part say the same (CONTRACT.md §8; the figures come from
:func:`digest.email.numbers.relationship_figures`).

A missing figure always reads as something a seller understands: "none", "none planned", "no mails",
"no replies yet", or "—" where there was nothing to divide by or the data has no conversations.
Plain strings only: the templates escape them.
"""

from __future__ import annotations

from dataclasses import dataclass

from digest.cards import AccountRelationship
from digest.email.i18n import Language
from digest.email.numbers import RelationshipFigures

DASH = "\u2014"
NBSP = "\u00a0"  # a date or a duration stays on one line in a narrow table cell


@dataclass(frozen=True)
class RelationshipRow:
    """One account of the card, every figure written in the seller's language."""

    account: str
    health: str  # "72 good (+5)"
    last: str  # "Nov 20", "none"
    next: str  # "Nov 25", "none planned"
    mails: str  # ratio by us / by them: "1.50 / 0.67", "no mails"
    mail_counts: str  # "12 sent, 8 received"
    started: str  # conversations started by you / them: "5 / 3", "—" without conversation data
    replies: str  # median reply time you / them: "4.2 h / 1.0 d", "no replies yet", "—"
    most_contacted: str  # "Frank Fabri, nora@northwind.com", "" when nobody


def relationship_rows(figures: RelationshipFigures, zone: str, lang: Language) -> tuple[RelationshipRow, ...]:
    """The rows of the accounts shown, in the card's order."""
    return tuple(_row(a, zone, lang) for a in figures.shown)


def health_text(a: AccountRelationship, lang: Language) -> str:
    """'72 good (+5)'; without a comparison (short data) just '72 good'."""
    fmt = lang.fmt
    text = lang.gettext("%(health)s %(grade)s") % {"health": fmt.number(a.health), "grade": fmt.grade(a.health_grade)}
    return text if a.health_change is None else f"{text} ({fmt.score_change(a.health_change)})"


def _row(a: AccountRelationship, zone: str, lang: Language) -> RelationshipRow:
    _, fmt = lang.gettext, lang.fmt
    if a.emails_sent or a.emails_received:
        mails = f"{fmt.ratio(a.ratio_by_us)} / {fmt.ratio(a.ratio_by_them)}"
    else:
        mails = _("no mails")
    counts = _("%(sent)s sent, %(received)s received") % {"sent": fmt.number(a.emails_sent),
                                                          "received": fmt.number(a.emails_received)}
    if a.initiated_by_you is None or a.initiated_by_them is None:  # no ConversationId column: nothing to tell
        started = replies = DASH
    else:
        started = f"{fmt.number(a.initiated_by_you)} / {fmt.number(a.initiated_by_them)}"
        if a.response_hours_you is None and a.response_hours_them is None:
            replies = _("no replies yet")
        else:
            replies = " / ".join(DASH if h is None else _unbroken(fmt.duration(h))
                                 for h in (a.response_hours_you, a.response_hours_them))
    return RelationshipRow(
        account=a.account_name, health=health_text(a, lang),
        last=_unbroken(fmt.day(a.last_interaction, zone)) if a.last_interaction else _("none"),
        next=_unbroken(fmt.day(a.next_interaction, zone)) if a.next_interaction else _("none planned"),
        mails=mails, mail_counts=counts, started=started, replies=replies, most_contacted=", ".join(a.most_contacted))


def _unbroken(text: str) -> str:
    return text.replace(" ", NBSP)
