"""Languages (issue 13): Babel formats in the seller's locale, catalogs that cannot go stale, a
complete German email with the right week dates and time zone, the locale from the org data."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from digest.cards import SellerCards
from digest.config import RenderSettings
from digest.errors import ConfigError
from digest.email.render import Renderer
from metrics_fixtures import ANA, base_world, cards_for
from render_cards import full_cards
from test_render_email import parse

ROOT = Path(__file__).resolve().parent.parent
AS_OF = "2026-11-23"
TOM = "tom@contoso.com"


def _messages():
    spec = importlib.util.spec_from_file_location("messages", ROOT / "scripts" / "messages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _german_catalog():
    with (ROOT / "templates/locale/de/LC_MESSAGES/messages.po").open("rb") as f:
        return read_po(f, locale="de")


def test_catalogs_are_up_to_date_with_the_templates_and_the_code(capsys):
    assert _messages().main(["--check"]) == 0, capsys.readouterr().out


def test_the_german_catalog_is_complete():
    assert _messages().problems("de", _german_catalog()) == []


@pytest.fixture(scope="module")
def german():
    cards = dataclasses.replace(full_cards(), locale="de_DE")
    return Renderer(RenderSettings(currency="EUR")).render(cards, AS_OF, "Ana")


def plain(text: str) -> str:
    """Babel's thin and no-break spaces as plain spaces, runs of white space as one."""
    return " ".join(text.replace("\u2009", " ").replace("\u00a0", " ").replace("\u202f", " ").split())


def test_a_german_seller_gets_german_words_numbers_dates_and_time_zone(german):
    text = plain(" ".join(parse(german.html).text))
    assert 'lang="de-DE"' in german.html
    for phrase in ("Hallo Ana,", "16.–22. Nov. 2026", "Datenstand 23. November 2026", "KW 47/2026",
                   "Mitteleuropäische Zeit (Europe/Paris)", "56 %", "−3,1 Pkt.", "21,5 h", "4,5 h (+12 %)",
                   "45 % von 310 Mio. €", "2,0 h (neu)", "Nur für Sie", "Vorschlag"):
        assert phrase in plain(german.text) and phrase in text, phrase
    assert plain(german.subject) == "Seller insights: 56 % Ihrer Woche mit Kunden und Partnern (16.–22. Nov. 2026)"


def test_no_english_sentence_is_left_in_the_german_email(german):
    text = " ".join(" ".join(parse(german.html).text).split()) + german.text
    for m in _german_catalog():
        if m.id and isinstance(m.id, str) and "%" not in m.id and len(m.id) > 12 and m.string != m.id:
            assert m.id not in text, m.id


def test_week_dates_follow_the_sellers_zone_across_a_month_in_both_languages():
    cards = dataclasses.replace(full_cards(), week="2026-W49", time_zone="America/Los_Angeles",
                                window=type(full_cards().window)("2026-11-30T00:00:00-08:00", "2026-12-07T00:00:00-08:00"))
    en = Renderer(RenderSettings()).render(cards, "2026-12-07")
    de = Renderer(RenderSettings(default_locale="de")).render(cards, "2026-12-07")
    assert "Nov 30 – Dec 6, 2026" in plain(en.subject) and "Pacific Time (America/Los_Angeles)" in en.text
    assert "30. Nov. – 6. Dez. 2026" in plain(de.subject) and "Nordamerikanische Westküstenzeit (America/Los_Angeles)" in de.text


def test_a_locale_without_a_catalog_keeps_english_words_with_its_own_formats():
    email = Renderer(RenderSettings(default_locale="en_GB")).render(full_cards(), AS_OF)
    assert "16–22 Nov 2026" in plain(email.subject) and "Data as of 23 November 2026" in email.text


def test_bad_locales_are_refused_with_the_fix():
    with pytest.raises(ConfigError, match="render.default_locale.*tag like"):
        Renderer(RenderSettings(default_locale="xx_YY_ZZ"))


def test_cards_carry_the_locale_only_when_the_org_data_has_one():
    plain = full_cards()
    assert '"locale"' not in plain.to_json()
    assert SellerCards.from_json(plain.to_json()).to_json() == plain.to_json()
    tagged = dataclasses.replace(plain, locale="de_CH")
    d = json.loads(tagged.to_json())
    assert list(d)[:4] == ["seller", "week", "time_zone", "locale"] and d["locale"] == "de_CH"
    assert SellerCards.from_json(tagged.to_json()) == tagged


def test_the_locale_column_of_people_csv_reaches_the_cards():
    w = base_world()
    w.rows["people"][3]["Locale"] = "de_CH"  # ana
    w.meeting("2026-11-17 09:00", "2026-11-17 10:00", ANA, [TOM])
    assert cards_for(w).locale == "de_CH"
    assert cards_for(base_world()).locale is None
