"""Cards -> one seller's email (:class:`~digest.email.message.RenderedEmail`): pure, no I/O but templates.

Jinja2 renders the HTML, text and subject templates (autoescape on for HTML, StrictUndefined),
premailer then inlines the CSS (with its rewriting of width/height attributes turned off: images
keep the width attribute the template gives them), and the charts travel as ``cid:`` inline PNGs.
A seller with no collaboration at all gets no email: :class:`Skipped` says why.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import jinja2
from premailer import Premailer

from digest.email import formatting, suggestions
from digest.cards import SellerCards
from digest.email.charts import COLUMN_PX, Chart, ChartMaker
from digest.config import PROJECT_ROOT, RenderSettings
from digest.errors import ConfigError
from digest.email.message import InlineImage, RenderedEmail

TEMPLATES = PROJECT_ROOT / "templates"
_HEX = re.compile(r"^#[0-9A-Fa-f]{6}$")

CARDS = (  # key, title, question, button ("explore" or "calendar")
    ("time_with_customers", "Time with customers",
     "Are you spending time with customers in proportion to their potential?", "explore"),
    ("depth_of_engagement", "Depth of engagement",
     "How many people are you engaging at each account?", "explore"),
    ("internal_networks", "Leverage internal networks",
     "Who in the company are you working with to win?", "explore"),
    ("leadership", "Connect with leadership",
     "How much are you involving your manager or leadership in customer meetings?", "calendar"),
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
    "time_with_customers": "No time with customers or partners showed up last week. When it does, you will see here how it "
                           "compares with each account's potential.",
    "depth_of_engagement": "No engaged contacts at your accounts in the last 28 days yet. Meetings, calls and mails with "
                           "customers will show up here.",
    "internal_networks": "No time with colleagues last week. Time with internal experts will show up here.",
    "leadership": "No customer meetings in the last 28 days, so there is nothing to split between you, your manager "
                  "and leadership yet.",
}


def first_name(address: str, display_name: str | None = None) -> str:
    """The name in the greeting: the given name if known, else from the address (ana.lopez@x -> 'Ana')."""
    if display_name and display_name.strip():
        return display_name.strip().split()[0]
    local = address.split("@", 1)[0]
    token = re.split(r"[._\-+]", local)[0] or local
    token = re.sub(r"\d+$", "", token) or token
    return token[:1].upper() + token[1:].lower()


def week_label(cards: SellerCards) -> str:
    """'16 to 22 Nov 2026' from the window (the seller's own week)."""
    start = dt.date.fromisoformat(cards.window.start[:10])
    end = dt.date.fromisoformat(cards.window.end[:10]) - dt.timedelta(days=1)
    if start.month == end.month:
        return f"{start.day} to {end.day} {end:%b %Y}"
    return f"{start.day} {start:%b} to {end.day} {end:%b %Y}"


class Renderer:
    """Renders sellers' emails; keeps the templates and the chart figures between sellers."""

    def __init__(self, settings: RenderSettings, templates: Path = TEMPLATES, charts: ChartMaker | None = None) -> None:
        if not _HEX.match(settings.accent_color):
            raise ConfigError(f"render.accent_color = {settings.accent_color!r} is not a colour like '#0B6E79'. "
                              f"Set it to # followed by six hex digits.")
        self.settings = settings
        self.charts = charts or ChartMaker()
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(templates),
            autoescape=lambda name: bool(name) and name.endswith(".html.j2"),
            undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
        for name in ("hours", "pct", "points", "change", "money", "short"):
            self.env.filters[name] = getattr(formatting, name)
        self._inliner = _Inliner()

    def render(self, cards: SellerCards, data_as_of: str, name: str | None = None) -> RenderedEmail | Skipped:
        """One seller's email, or a Skipped when they had no collaboration in the week."""
        if not cards.summary.collaboration_hours or cards.summary.collaboration_hours <= 0:
            return Skipped(cards.seller, cards.week, f"no collaboration recorded in {cards.week}")
        views = self._views(cards)
        context = {
            "cards": cards, "views": views, "settings": self.settings, "data_as_of": data_as_of,
            "column_px": COLUMN_PX,
            "first_name": first_name(cards.seller, name), "week_label": week_label(cards),
            "internal_pct": None if cards.summary.external_pct is None else 100.0 - cards.summary.external_pct,
            "internal_change": None if cards.summary.external_pct_change is None else -cards.summary.external_pct_change,
        }
        subject = " ".join(self.env.get_template("subject.txt.j2").render(context).split())
        html = self.inline_css(self.env.get_template("email.html.j2").render(context, subject=subject))
        text = self.env.get_template("email.txt.j2").render(context, subject=subject)
        images = tuple(v.image for v in views if v.image is not None)
        return RenderedEmail(recipient=cards.seller, week=cards.week, subject=subject, html=_lines(html),
                             text=_lines(text), images=images, recipient_name=(name or "").strip())

    def _views(self, cards: SellerCards) -> list[CardView]:
        charts = self.charts.all_charts(cards, self.settings.top_accounts, self.settings.max_rows)
        tips = suggestions.suggest_all(cards)
        views = []
        for key, title, question, button in CARDS:
            chart = charts[key]
            tip = tips[key]
            label, url = (("Manage meetings", self.settings.calendar_url) if button == "calendar"
                          else ("Explore", self.settings.explore_url))
            views.append(CardView(key, title, question, _image(chart, cards) if chart else None,
                                  chart.height if chart else 0, EMPTY[key], tip.text if tip else "", label, url))
        return views

    def inline_css(self, html: str) -> str:
        """The HTML with its <style> rules moved onto the elements (premailer); media queries stay."""
        return self._inliner.transform(html)


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
               names: dict[str, str] | None = None) -> Iterator[RenderedEmail | Skipped]:
    """Render many sellers with one renderer (figures and templates reused)."""
    renderer = Renderer(settings)
    names = {k.lower(): v for k, v in (names or {}).items()}
    for card in cards:
        yield renderer.render(card, data_as_of, names.get(card.seller.lower()))

