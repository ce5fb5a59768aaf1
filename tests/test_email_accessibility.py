"""Accessibility of the email (issue 13): real data tables and text contrast of at least 4.5:1,
computed from the colours the inlined CSS gives every piece of text and its background."""

from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser

import pytest

from digest.config import RenderSettings
from digest.email.contrast import MIN_TEXT_CONTRAST, contrast_ratio
from digest.email.render import Renderer
from digest.errors import ConfigError
from render_cards import full_cards, sparse_cards

VOID = {"br", "img", "meta", "link", "hr", "input"}


class _Colours(HTMLParser):
    """Each text's colour and background, inherited down the element stack from inline styles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str, str, bool]] = [("root", "#1F2933", "#EEF2F5", False)]
        self.pairs: list[tuple[str, str, str]] = []
        self.tables: list[dict] = []
        self._in_body = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self._in_body = True
        if tag == "table":
            self.tables.append({"attrs": a, "th": [], "caption": False})
        elif tag == "th" and self.tables:
            self.tables[-1]["th"].append(a)
        elif tag == "caption" and self.tables:
            self.tables[-1]["caption"] = True
        if tag in VOID:
            return
        style = a.get("style", "")
        colour = _prop(style, "color") or self.stack[-1][1]
        background = _prop(style, "background-color") or self.stack[-1][2]
        hidden = self.stack[-1][3] or "display: none" in style or "display:none" in style
        self.stack.append((tag, colour, background, hidden))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        while len(self.stack) > 1:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        _, colour, background, hidden = self.stack[-1]
        if self._in_body and data.strip() and not hidden and data.strip() != "\xa0":
            self.pairs.append((data.strip(), colour, background))


def _prop(style: str, name: str) -> str | None:
    found = re.search(rf"(?:^|;)\s*{name}\s*:\s*(#[0-9A-Fa-f]{{3,6}})", style)
    return found.group(1) if found else None


def _parsed(email) -> _Colours:
    p = _Colours()
    p.feed(email.html)
    return p


@pytest.fixture(scope="module", params=["en", "de"])
def emails(request):
    r = Renderer(RenderSettings(default_locale=request.param))
    return [r.render(full_cards(), "2026-11-23"), r.render(sparse_cards(), "2026-11-23")]


def test_data_tables_are_real_tables_with_scoped_headers_and_a_caption(emails):
    for email in emails:
        tables = _parsed(email).tables
        data = [t for t in tables if t["th"]]
        assert data, "no data table"
        for t in data:
            assert t["attrs"].get("role") != "presentation"
            assert t["caption"], "a data table without a caption"
            assert all(th.get("scope") in ("col", "row") for th in t["th"])
        assert all(t["attrs"].get("role") == "presentation" for t in tables if not t["th"])  # layout tables say so


def test_every_text_has_a_contrast_of_at_least_4_5_to_1(emails):
    for email in emails:
        pairs = _parsed(email).pairs
        assert len(pairs) > 50
        low = [(text, fg, bg, round(contrast_ratio(fg, bg), 2)) for text, fg, bg in pairs
               if contrast_ratio(fg, bg) < MIN_TEXT_CONTRAST]
        assert not low, low[:5]


def test_dark_mode_colours_have_the_same_contrast():
    # The dark scheme's rules (in the <style> media query) pair a text colour with each background it sits on.
    css = Renderer(RenderSettings()).render(full_cards(), "2026-11-23").html
    dark = css.split("prefers-color-scheme: dark", 1)[1].split("</style>", 1)[0]
    colours = set(re.findall(r"[^-]color: (#[0-9A-F]{6})", dark))
    backgrounds = {"#111820", "#1F2933", "#2A3642", "#17323A"}
    assert colours and backgrounds <= set(re.findall(r"background-color: (#[0-9A-F]{6})", dark))
    for fg in colours - {"#FFFFFF", "#111820"}:  # white is the button's (on the accent), #111820 the hidden preheader
        for bg in backgrounds:
            assert contrast_ratio(fg, bg) >= MIN_TEXT_CONTRAST, (fg, bg)


def test_an_accent_colour_too_light_for_text_is_refused():
    with pytest.raises(ConfigError, match="render.accent_color.*too light.*darker"):
        Renderer(RenderSettings(accent_color="#7FD1DC"))
    Renderer(dataclasses.replace(RenderSettings(), accent_color="#0B6E79"))
