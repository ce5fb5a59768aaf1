"""The rendered email: structure, numbers in both parts, escaping, sizes, images, skips, golden HTML."""

from __future__ import annotations

import dataclasses
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from digest.config import RenderSettings
from digest.errors import ConfigError
from digest.email.message import RenderedEmail
from digest.email.render import Renderer, Skipped, first_name
from render_cards import HOSTILE, full_cards, idle_cards, sparse_cards

GOLDEN = Path(__file__).parent / "golden"
AS_OF = "2026-11-23"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.style = ""
        self._in_style = False
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.style += data
        else:
            self.text.append(data)


def parse(html: str) -> _Tags:
    p = _Tags()
    p.feed(html)
    return p


@pytest.fixture(scope="module")
def renderer():
    return Renderer(RenderSettings())


@pytest.fixture(scope="module")
def email(renderer) -> RenderedEmail:
    return renderer.render(full_cards(), AS_OF, "Ana María López")


def test_recipient_is_the_seller_alone_and_the_subject_states_the_split(email):
    assert email.recipient == "ana.lopez@contoso.com" and email.week == "2026-W47"
    assert email.subject == "Seller insights: 56% of your week with customers and partners (Nov 16 – 22, 2026)"
    assert email.recipient_name == "Ana María López"


def test_every_cid_has_its_image_and_every_image_is_referenced(email):
    cids = set(re.findall(r'src="cid:([^"]+)"', email.html))
    assert cids == {i.content_id for i in email.images} and len(cids) == 5  # five cards


def test_images_have_width_css_width_max_width_and_alt_with_numbers(email):
    imgs = [a for t, a in parse(email.html).tags if t == "img"]
    assert len(imgs) == 5
    for a in imgs:
        assert a["width"] == "536", a
        assert "width:536px" in a["style"].replace(" ", "") and "max-width:100%" in a["style"].replace(" ", "")
        assert re.search(r"\d", a["alt"]), a["alt"]
    alts = {a["alt"] for a in imgs}
    assert alts == {i.alt for i in email.images}


def test_html_is_small_has_lang_preheader_and_nothing_remote_or_active(email):
    assert len(email.html.encode()) < 95_000
    parsed = parse(email.html)
    assert len(parsed.style.encode()) < 16_000
    html_tag = next(a for t, a in parsed.tags if t == "html")
    assert html_tag["lang"] == "en-US"  # render.default_locale
    assert "Last week 56% of your collaboration time was with customers and partners" in email.html
    assert not [t for t, _ in parsed.tags if t in ("script", "iframe", "object", "embed", "form")]
    assert "data:" not in email.html
    srcs = [a.get("src", "") for t, a in parsed.tags if t == "img"]
    assert all(s.startswith("cid:") for s in srcs)
    # CSS was inlined by premailer: the cards carry their styles on the elements.
    assert any("background-color" in a.get("style", "") for t, a in parsed.tags if t == "td")


def test_hostile_account_names_are_escaped_in_html_and_plain_in_text(email):
    assert "<script>" not in email.html
    assert "Fabrikam &amp; &lt;script&gt;alert(1)&lt;/script&gt; $x$" in email.html
    assert HOSTILE in email.text  # the text part is plain text: no escaping, no markup
    assert HOSTILE in " ".join(parse(email.html).text)


@pytest.mark.parametrize("number", [
    "56%", "44%", "\u22123.1 pts", "+3.1 pts", "21.5 h", "12.0 h", "9.5 h",  # header
    "4.5 h (+12%)", "60%", "45% of $310M", "\u221250%", "2.0 h (new)",  # time with customers
    "4 engaged (3 in CRM)", "Contoso", "12",  # depth
    "3.5 h", "1.2 h", "(none)",  # internal networks
    "6.0 h", "1.5 h", "1.0 h",  # leadership
    "Data as of November 23, 2026", "Week 47 of 2026", "Central European Time (Europe/Paris)",
])
def test_the_text_part_carries_the_same_key_numbers_as_the_html(email, number):
    html_text = " ".join(" ".join(parse(email.html).text).split())
    assert number in email.text
    assert number in html_text or number.replace(" engaged", "") in html_text


def test_header_footer_and_buttons(email):
    text = " ".join(" ".join(parse(email.html).text).split())
    for phrase in ("Hi Ana,", "For your eyes only", "How the numbers are computed", "Opt out of Seller insights",
                   "Explore", "Manage meetings", "Here is a closer look"):
        assert phrase in text
    links = [a.get("href") for t, a in parse(email.html).tags if t == "a"]
    s = RenderSettings()
    assert links.count(s.explore_url) == 4 and links.count(s.calendar_url) == 1
    assert s.docs_url in links and s.opt_out_url in links


def test_cards_with_nothing_to_show_say_so_instead_of_an_empty_chart(renderer):
    email = renderer.render(sparse_cards(), AS_OF)
    assert [i.filename for i in email.images] == ["internal_networks.png"]
    assert "No time with customers or partners showed up last week" in email.html
    assert "No customer meetings in the last 28 days" in email.text
    assert "A short check-in with Northwind" in email.text  # the suggestion still names an account


def test_a_seller_without_collaboration_is_skipped_with_the_reason(renderer):
    result = renderer.render(idle_cards(), AS_OF)
    assert result == Skipped("idle@contoso.com", "2026-W47", "no collaboration recorded in 2026-W47")


@pytest.mark.parametrize("address,name,expected", [
    ("ana.lopez@x.com", None, "Ana"), ("JEAN-PAUL.roux@x.com", None, "Jean"), ("bo_li2@x.com", "", "Bo"),
    ("x99@x.com", None, "X"), ("ana.lopez@x.com", "María José López", "María"),
])
def test_first_name(address, name, expected):
    assert first_name(address, name) == expected


def test_a_bad_accent_colour_is_refused_with_the_fix():
    with pytest.raises(ConfigError, match="render.accent_color.*six hex digits"):
        Renderer(RenderSettings(accent_color="red;background:url(x)"))


def _normalise(html: str) -> str:
    return re.sub(r"cid:[a-z_]+\.[0-9a-f]{16}@seller-digest", "cid:IMAGE", html)


def german_cards():
    return dataclasses.replace(full_cards(), locale="de_DE")


@pytest.mark.parametrize("name,cards", [("full", full_cards), ("sparse", sparse_cards), ("full_de", german_cards)])
def test_golden_html_and_text(renderer, name, cards):
    email = renderer.render(cards(), AS_OF)
    for suffix, got in (("html", _normalise(email.html)), ("txt", email.text)):
        path = GOLDEN / f"email_{name}.{suffix}"
        if os.environ.get("UPDATE_GOLDEN") == "1" or not path.exists():
            path.write_text(got, encoding="utf-8")
            if os.environ.get("UPDATE_GOLDEN") != "1":
                pytest.fail(f"{path} was missing and has been written: review it and run the tests again")
        assert got == path.read_text(encoding="utf-8"), f"{path} differs: review, then UPDATE_GOLDEN=1 to accept"
