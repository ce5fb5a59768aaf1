"""Cards -> one seller's email (:class:`~digest.email.message.RenderedEmail`): pure, no I/O but templates.

The seller's locale (the cards' ``locale``, else ``render.default_locale``) picks the catalog and
the Babel formats; the figures come from :mod:`digest.email.numbers` so every part agrees.
Jinja2 renders the HTML, text and subject templates (autoescape on for HTML, StrictUndefined),
premailer then inlines the CSS (with its rewriting of width/height attributes turned off: images
keep the width attribute the template gives them), and the charts travel as ``cid:`` inline PNGs.
A seller with no collaboration at all gets no email: :class:`Skipped` says why.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import jinja2
from babel.numbers import is_currency
from premailer import Premailer

from digest.email import numbers, suggestions
from digest.email.numbers import WINDOW_WEEKS
from digest.email.relationship import relationship_rows
from digest.cards import SellerCards
from digest.email.charts import COLUMN_PX, Chart, ChartMaker
from digest.config import PROJECT_ROOT, RenderSettings
from digest.errors import ConfigError
from digest.email.contrast import MIN_TEXT_CONTRAST, contrast_ratio
from digest.email.formatting import parse_locale
from digest.email.i18n import N_, Catalogs, Language
from digest.email.message import InlineImage, RenderedEmail

TEMPLATES = PROJECT_ROOT / "templates"
_HEX = re.compile(r"^#[0-9A-Fa-f]{6}$")

CARDS = (  # key, title, question, button ("explore" or "calendar")
    ("time_with_customers", N_("Time with customers"),
     N_("Are you spending time with customers in proportion to their potential?"), "explore"),
    ("depth_of_engagement", N_("Depth of engagement"),
     N_("How many people are you engaging at each account?"), "explore"),
    ("internal_networks", N_("Leverage internal networks"),
     N_("Who in the company are you working with to win?"), "explore"),
    ("leadership", N_("Connect with leadership"),
     N_("How much are you involving your manager or leadership in customer meetings?"), "calendar"),
    ("relationship", N_("Relationship health"),  # only with the cards' relationship section (CONTRACT.md §8)
     N_("Who writes, who answers, and when did you last and next meet each account?"), "explore"),
)


@dataclass(frozen=True)
class Skipped:
    """A seller who gets no email this week, and why (reported by the run)."""

    recipient: str
    week: str
    reason: str


@dataclass(frozen=True)
class CardView:
    """What a card partial shows: its texts, its chart (or a friendly empty sentence), its button."""

    key: str
    title: str
    question: str
    image: InlineImage | None
    image_height: int
    empty_text: str
    suggestion: str
    button_label: str
    button_url: str


EMPTY = {
    "time_with_customers": N_("No time with customers or partners showed up last week. When it does, you will see here "
                              "how it compares with each account's potential."),
    "depth_of_engagement": N_("No engaged contacts at your accounts in the last 28 days yet. Meetings, calls and mails "
                              "with customers will show up here."),
    "internal_networks": N_("No time with colleagues last week. Time with internal experts will show up here."),
    "leadership": N_("No customer meetings in the last 28 days, so there is nothing to split between you, your "
                     "manager and leadership yet."),
    "relationship": N_("No mails, meetings or calls with your accounts in this period, and none planned. When there "
                       "are, you will see here how each relationship is doing."),
}


def first_name(address: str, display_name: str | None = None) -> str:
    """The name in the greeting: the given name if known, else from the address (ana.lopez@x -> 'Ana')."""
    if display_name and display_name.strip():
        return display_name.strip().split()[0]
    local = address.split("@", 1)[0]
    token = re.split(r"[._\-+]", local)[0] or local
    token = re.sub(r"\d+$", "", token) or token
    return token[:1].upper() + token[1:].lower()


class Renderer:
    """Renders sellers' emails; keeps the templates, catalogs and chart figures between sellers."""

    def __init__(self, settings: RenderSettings, templates: Path = TEMPLATES, charts: ChartMaker | None = None,
                 relationship_weeks: int = WINDOW_WEEKS) -> None:
        """``relationship_weeks``: relationship.window_weeks, against which a shorter window reads "since <date>"."""
        if not _HEX.match(settings.accent_color):
            raise ConfigError(f"render.accent_color = {settings.accent_color!r} is not a colour like '#0B6E79'. "
                              f"Set it to # followed by six hex digits.")
        for background in ("#FFFFFF", "#F0F7F8"):  # white button text, headings on panels and suggestions
            if contrast_ratio(settings.accent_color, background) < MIN_TEXT_CONTRAST:
                raise ConfigError(f"render.accent_color = {settings.accent_color!r} is too light for text on {background} "
                                  f"(contrast {contrast_ratio(settings.accent_color, background):.1f}:1, needs "
                                  f"{MIN_TEXT_CONTRAST}:1). Choose a darker colour, like the default '#0B6E79'.")
        try:
            self.default_locale = parse_locale(settings.default_locale)
        except ValueError as e:
            raise ConfigError(f"render.default_locale = {e}.") from None
        _check_currency(settings.currency)
        self.settings = settings
        self.relationship_weeks = relationship_weeks
        self.charts = charts or ChartMaker()
        self.catalogs = Catalogs(
            templates, autoescape=lambda name: bool(name) and name.endswith(".html.j2"),
            undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
        self._inliner = _Inliner()

    def language(self, cards: SellerCards) -> Language:
        """The seller's language: their own locale from the org data, else render.default_locale."""
        tag = cards.locale
        try:
            locale = parse_locale(tag) if tag else self.default_locale
        except ValueError as e:
            raise ConfigError(f"cards of {cards.seller}: locale {e}.") from None
        return self.catalogs.language(locale, self.settings.currency)

    def render(self, cards: SellerCards, data_as_of: str, name: str | None = None) -> RenderedEmail | Skipped:
        """One seller's email, or a Skipped when they had no collaboration in the week."""
        if not cards.summary.collaboration_hours or cards.summary.collaboration_hours <= 0:
            return Skipped(cards.seller, cards.week, f"no collaboration recorded in {cards.week}")
        lang = self.language(cards)
        env = self.catalogs.env(lang)
        fmt = lang.fmt
        views = self._views(cards, lang)
        rel = None if cards.relationship is None else numbers.relationship_figures(
            cards.relationship, self.settings.max_rows, self.relationship_weeks)
        external, internal = numbers.split(cards.summary.external_pct)
        context = {
            "cards": cards, "views": views, "settings": self.settings, "column_px": COLUMN_PX, "fmt": fmt,
            "lang": lang.tag, "data_as_of": fmt.date(data_as_of), "first_name": first_name(cards.seller, name),
            "week_label": fmt.week(cards.window.start, cards.window.end), "time_zone": fmt.time_zone(cards.time_zone),
            "week_number": cards.week.split("-W")[-1].lstrip("0"), "week_year": cards.week.split("-W")[0],
            "external_pct": external, "internal_pct": internal,
            "internal_change": None if cards.summary.external_pct_change is None else -cards.summary.external_pct_change,
            "customers": numbers.customer_time(cards.time_with_customers, self.settings.top_accounts),
            "leadership_shares": numbers.leadership_shares,
            "relationship": rel, "relationship_rows": relationship_rows(rel, cards.time_zone, lang) if rel else (),
        }
        subject = " ".join(env.get_template("subject.txt.j2").render(context).split())
        html = self.inline_css(env.get_template("email.html.j2").render(context, subject=subject))
        text = env.get_template("email.txt.j2").render(context, subject=subject)
        images = tuple(v.image for v in views if v.image is not None)
        return RenderedEmail(recipient=cards.seller, week=cards.week, subject=subject, html=_lines(html),
                             text=_lines(text), images=images, recipient_name=(name or "").strip())

    def _views(self, cards: SellerCards, lang: Language) -> list[CardView]:
        charts = self.charts.all_charts(cards, self.settings.top_accounts, self.settings.max_rows, lang,
                                        self.relationship_weeks)
        tips = suggestions.suggest_all(cards, lang, self.settings.max_rows, self.relationship_weeks)
        _ = lang.gettext
        views = []
        for key, title, question, button in CARDS:
            if key == "relationship" and cards.relationship is None:  # cards from before §8: no fifth card
                continue
            chart = charts[key]
            tip = tips[key]
            label, url = ((_("Manage meetings"), self.settings.calendar_url) if button == "calendar"
                          else (_("Explore"), self.settings.explore_url))
            views.append(CardView(key, _(title), _(question), _image(chart, cards) if chart else None,
                                  chart.height if chart else 0, _(EMPTY[key]), tip.text if tip else "", label, url))
        return views

    def inline_css(self, html: str) -> str:
        """The HTML with its <style> rules moved onto the elements (premailer); media queries stay."""
        return self._inliner.transform(html)


def _check_currency(code: str) -> None:
    if not (len(code) == 3 and code.isupper() and is_currency(code)):
        raise ConfigError(f"render.currency = {code!r} is not an ISO 4217 currency code. Set it to one like USD, EUR or GBP.")


class _Inliner(Premailer):
    """premailer configured once, keeping the parsed <style> rules between emails.

    Every email carries the same <style> (only the settings fill it in), so its rules are parsed
    and serialised by cssutils once per renderer instead of once per email. Floating-image
    alignment is off: it re-parses every image's style to look for a `float`, which no rule sets.
    """

    def __init__(self) -> None:
        super().__init__(base_url=None, allow_network=False, disable_basic_attributes=["width", "height"],
                         disable_validation=True, cssutils_logging_level=logging.CRITICAL, strip_important=False,
                         keep_style_tags=False, remove_classes=False, align_floating_images=False)
        self._rules: dict[tuple[str, int], tuple[list, list]] = {}
        self._leftover: dict[int, str] = {}

    def _parse_style_rules(self, css_body, ruleset_index):
        key = (css_body, ruleset_index)
        if key not in self._rules:
            self._rules[key] = super()._parse_style_rules(css_body, ruleset_index)
        return self._rules[key]

    def _css_rules_to_string(self, rules):
        # `rules` is one of the cached leftover lists above: the same object, the same text.
        if id(rules) not in self._leftover:
            self._leftover[id(rules)] = super()._css_rules_to_string(rules)
        return self._leftover[id(rules)]


def _image(chart: Chart, cards: SellerCards) -> InlineImage:
    # Content ids are stable per (week, seller, chart): re-rendering gives the same message.
    tag = hashlib.sha256(f"{cards.week}/{cards.seller.lower()}/{chart.kind}".encode()).hexdigest()[:16]
    return InlineImage(content_id=f"{chart.kind}.{tag}@seller-digest", filename=f"{chart.kind}.png",
                       data=chart.png, alt=chart.alt)


def _lines(text: str) -> str:
    # One line ending everywhere and a final newline: the .eml round trip is then exact.
    return "\n".join(text.splitlines()) + "\n"


def render_all(cards: Iterable[SellerCards], settings: RenderSettings, data_as_of: str,
               names: dict[str, str] | None = None, relationship_weeks: int = WINDOW_WEEKS) -> Iterator[RenderedEmail | Skipped]:
    """Render many sellers with one renderer (figures and templates reused)."""
    renderer = Renderer(settings, relationship_weeks=relationship_weeks)
    names = {k.lower(): v for k, v in (names or {}).items()}
    for card in cards:
        yield renderer.render(card, data_as_of, names.get(card.seller.lower()))

