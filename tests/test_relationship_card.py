"""The relationship-health card (issue 14, CONTRACT.md §8): every figure in the HTML, the text part
and the alt text alike, nulls that read as words, "since <date>" on short data, German, the
suggestion rule, and no card at all for cards written before the relationship section existed."""

from __future__ import annotations

import dataclasses
import io
import re

import pytest
from PIL import Image

from digest.cards import AccountRelationship, Relationship, WeekActivity, Window
from digest.config import RenderSettings
from digest.email import suggestions
from digest.email.charts import COLUMN_PX, ChartMaker
from digest.email.i18n import english
from digest.email.render import Renderer
from render_cards import WEEKS, full_cards, relationship
from test_render_email import parse

AS_OF = "2026-11-23"


def plain(text: str) -> str:
    """Babel's thin and no-break spaces as plain spaces, runs of white space as one."""
    return " ".join(text.replace("\u2009", " ").replace("\u00a0", " ").replace("\u202f", " ").split())


def html_text(email) -> str:
    return plain(" ".join(parse(email.html).text))


def card_html(email) -> str:
    """The relationship card's panel of the HTML (up to the footer)."""
    return email.html.split('id="relationship"', 1)[1].split('id="privacy"', 1)[0]


def with_relationship(rel: Relationship | None, **changes) -> "object":
    return dataclasses.replace(full_cards(), relationship=rel, **changes)


def account(account_id: str = "A1", name: str = "Contoso", **changes) -> AccountRelationship:
    base = relationship().accounts[0]
    return dataclasses.replace(base, account_id=account_id, account_name=name, **changes)


def nulls() -> Relationship:
    """Mails without a ConversationId column, nothing received, nothing planned, and an idle account."""
    quiet = tuple(WeekActivity(w, 0, 0, 0, 0) for w in WEEKS)
    busy = account(emails_sent=3, emails_received=0, ratio_by_us=None, ratio_by_them=0.0, initiated_by_you=None,
                   initiated_by_them=None, response_hours_you=None, response_hours_them=None, next_interaction=None,
                   most_contacted=(), health=21, health_grade="poor", health_change=None,
                   weekly=quiet[:-1] + (WeekActivity(WEEKS[-1], 3, 0, 0, 0),))
    idle = AccountRelationship("A4", "Northwind", 0, 0, None, None, None, None, None, None, None, None, quiet, (), 0, "poor", None)
    return Relationship(relationship().window, (busy, idle))


@pytest.fixture(scope="module")
def renderer():
    return Renderer(RenderSettings())


@pytest.fixture(scope="module")
def email(renderer):
    return renderer.render(full_cards(), AS_OF)


@pytest.mark.parametrize("figure", [
    "Relationship health", "in the last 9 weeks",
    "86 good (+5)", "Nov 20", "Nov 25", "1.50 / 0.67", "12 sent, 8 received", "5 / 3", "4.2 h / 30.5 h",
    "Most contacted: Frank Fabri, nora@contoso-partner.com, Lee Chen",
    "55 fair (\u22126)", "2.00 / 0.50", "3 / 0", "2.2 d / 6.0 h", "Most contacted: Mara Quell",
    "12 poor (\u22123)", "Oct 2", "\u2014 / 0.00", "2 sent, 0 received", "no replies yet",
    "0 poor (no change)", "no mails", "none planned",
    "No mails, meetings or calls with Northwind in the last 9 weeks, and nothing is planned.",
])
def test_every_figure_is_in_the_html_and_the_text_part(email, figure):
    assert figure in html_text(email), figure
    assert figure in plain(email.text), figure


def test_the_card_comes_fifth_with_its_chart_tables_and_explore_button(email):
    assert [i.filename for i in email.images][-1] == "relationship.png"
    order = [m.group(1) for m in re.finditer(r'<td class="panel" id="([a-z_]+)"', email.html)]
    assert order[-1] == "relationship" and len(order) == 5
    panel = card_html(email)
    assert panel.count("<caption") == 2 and panel.count('scope="row"') == 8  # 4 accounts in each of the two tables
    assert 'href="https://insights.example.com/explore"' in panel
    assert "None" not in panel and "None" not in email.text


def test_the_alt_text_states_every_accounts_numbers(email):
    alt = email.images[-1].alt
    assert alt.startswith("Relationship health of your accounts in the last 9 weeks. ")
    for part in ("Contoso: health 86 of 100 (good), 27 interactions (per week 4, 0, 3, 4, 2, 4, 3, 4, 3), the last on Nov 20",
                 "Lucerne Publishing: health 12 of 100 (poor), 3 interactions", "Northwind: health 0 of 100 (poor), 0 interactions"):
        assert part in alt
    assert 'alt="Relationship health of your accounts' in email.html


def test_nulls_read_as_words_never_none(renderer):
    email = renderer.render(with_relationship(nulls()), AS_OF)
    text, html = plain(email.text), plain(" ".join(parse(card_html(email)).text))
    for words in ("21 poor", "\u2014 / 0.00", "3 sent, 0 received", "none planned", "0 poor", "no mails",
                  "your mail data has no conversation ids"):
        assert words in text and words in html, words
    assert "health 21 poor; last interaction: Nov 20; next meeting: none planned" in text
    assert "Northwind: health 0 poor; last interaction: none; next meeting: none planned" in text
    assert "Most contacted" not in text and "Most contacted" not in html  # nobody to name
    assert "None" not in email.html and "None" not in email.text and "nan" not in text
    assert "started you / them: \u2014; reply time you / them: \u2014" in text  # not known, rather than zero


def test_an_account_list_with_nothing_at_all_says_so_in_a_sentence(renderer):
    idle = Relationship(relationship().window, (nulls().accounts[1],))
    email = renderer.render(with_relationship(idle), AS_OF)
    assert "relationship.png" not in [i.filename for i in email.images]
    assert "No mails, meetings or calls with your accounts in this period" in email.html
    assert "No mails, meetings or calls with your accounts in this period" in email.text
    assert "No mails, meetings or calls with Northwind in the last 9 weeks" in email.text  # the suggestion still names it


def test_a_short_window_says_since_when_everywhere(renderer):
    short = Relationship(Window("2026-10-14T09:30:00+02:00", "2026-11-23T00:00:00+01:00"),
                         tuple(dataclasses.replace(a, weekly=a.weekly[3:]) for a in relationship().accounts))
    email = renderer.render(with_relationship(short), AS_OF)
    assert "since October 14, 2026" in html_text(email) and "since October 14, 2026" in email.text
    assert "in the last 9 weeks" not in email.html and "in the last 9 weeks" not in email.text
    assert email.images[-1].alt.startswith("Relationship health of your accounts since October 14, 2026. ")
    assert "per week 4, 2, 4, 3, 4, 3" in email.images[-1].alt  # the six weeks the window touches


def test_the_full_window_is_measured_against_relationship_window_weeks():
    cards = full_cards()  # a 9-week window
    assert "in the last 9 weeks" in Renderer(RenderSettings(), relationship_weeks=9).render(cards, AS_OF).text
    assert "since September 21, 2026" in Renderer(RenderSettings(), relationship_weeks=12).render(cards, AS_OF).text


def test_a_german_seller_gets_the_card_in_german():
    email = Renderer(RenderSettings()).render(dataclasses.replace(full_cards(), locale="de_DE"), AS_OF)
    text, html = plain(email.text), html_text(email)
    for phrase in ("Gesundheit der Kundenbeziehungen", "in den letzten 9 Wochen", "86 gut (+5)", "20. Nov.", "25. Nov.",
                   "1,50 / 0,67", "12 gesendet, 8 erhalten", "4,2 h / 30,5 h", "2,2 T / 6,0 h", "keiner geplant",
                   "noch keine Antworten", "keine Mails", "Häufigste Kontakte: Frank Fabri", "55 mittel (−6)", "12 schwach"):
        assert phrase in text and phrase in html, phrase
    assert "Gesundheit der Beziehungen zu Ihren Accounts in den letzten 9 Wochen" in email.images[-1].alt
    short = Relationship(Window("2026-10-14T00:00:00+02:00", "2026-11-23T00:00:00+01:00"), relationship().accounts)
    de = Renderer(RenderSettings(default_locale="de")).render(with_relationship(short), AS_OF)
    assert "seit dem 14. Oktober 2026" in plain(de.text)


def test_only_the_first_max_rows_accounts_are_shown_and_the_rest_counted():
    many = Relationship(relationship().window, tuple(account(f"B{i}", f"Account {i}") for i in range(8)))
    email = Renderer(RenderSettings(max_rows=3)).render(with_relationship(many), AS_OF)
    panel = card_html(email)
    assert "Account 2" in panel and "Account 3" not in panel and "And 5 more accounts." in panel
    assert "And 5 more accounts." in email.text and "Account 3" not in email.text.split("== Relationship health ==")[1]
    assert "Account 3" not in email.images[-1].alt


def test_cards_without_a_relationship_section_have_no_fifth_card(renderer):
    email = renderer.render(with_relationship(None), AS_OF)
    assert len(email.images) == 4 and "relationship.png" not in [i.filename for i in email.images]
    assert 'id="relationship"' not in email.html and "Relationship health" not in email.html + email.text
    links = [a.get("href") for t, a in parse(email.html).tags if t == "a"]
    assert links.count(RenderSettings().explore_url) == 3


def test_hostile_names_stay_escaped_in_the_card(email):
    panel = card_html(email)
    assert "<script>" not in panel and "Fabrikam &amp; &lt;script&gt;alert(1)&lt;/script&gt; $x$" in panel


def test_the_chart_is_deterministic_2x_and_sized_by_its_rows():
    a = ChartMaker().relationship(relationship(), lang=english())
    b = ChartMaker().relationship(relationship(), lang=english())
    assert a.png == b.png and a.alt == b.alt  # same data, same bytes
    image = Image.open(io.BytesIO(a.png))
    assert image.size == (COLUMN_PX * 2, a.height * 2) and "transparency" not in image.info
    colours = {c for _, c in image.convert("RGB").getcolors(4096)}
    assert {(0, 158, 115), (230, 159, 0), (213, 94, 0), (0, 114, 178)} <= colours  # good, fair, poor, weekly columns
    two = ChartMaker().relationship(Relationship(relationship().window, relationship().accounts[:2]), lang=english())
    assert two.height < a.height


# --- the suggestion ---------------------------------------------------------------------------

def _rel(*accounts: AccountRelationship) -> Relationship:
    return Relationship(relationship().window, accounts)


def test_the_suggestion_names_the_longest_silence_with_nothing_planned():
    s = suggestions.relationship(relationship(), "Europe/Paris")
    assert s.rule == "silent_account" and s.about == ("Northwind",)  # nothing at all in the window beats any date
    dated = _rel(*relationship().accounts[:3])  # Lucerne: last on Oct 2, 51 days before the window's end
    s = suggestions.relationship(dated, "Europe/Paris")
    assert s.rule == "silent_account" and s.about == ("Lucerne Publishing",)
    assert s.text.startswith("Your last interaction with Lucerne Publishing was on Oct 2, 51 days ago, and nothing is planned.")


def test_a_planned_meeting_or_a_recent_interaction_is_no_silence_then_slow_replies_count():
    a1, a2 = relationship().accounts[:2]  # a2 (the hostile name): last on Nov 18, replies 52 h against their 6 h
    s = suggestions.relationship(_rel(a1, a2), "Europe/Paris")
    assert s.rule == "slow_replies" and s.about == (a2.account_name,)
    assert "take 2.2 d (median); theirs take 6.0 h" in s.text
    planned = dataclasses.replace(relationship().accounts[3], next_interaction="2026-11-24T10:00:00+01:00")
    assert suggestions.relationship(_rel(a1, planned), "Europe/Paris").rule == "lowest_health"


def test_without_silence_or_slow_replies_the_lowest_health_is_named():
    s = suggestions.relationship(_rel(account("A1", "Contoso", health=80), account("A2", "Lucerne", health=61)), "UTC")
    assert s.rule == "lowest_health" and s.about == ("Lucerne",) and "(61 of 100, good)" in s.text
    assert suggestions.relationship(_rel(), "UTC") is None


def test_the_suggestion_considers_every_account_of_the_card_not_only_those_shown():
    """The chart shows the most active accounts of the week; the one at risk is often further down the list."""
    names = [a.account_name for a in relationship().accounts]
    s = suggestions.relationship(relationship(), "Europe/Paris", max_rows=2)
    assert s.rule == "silent_account" and s.about == ("Northwind",) and names.index("Northwind") >= 2


def test_the_suggestion_is_in_the_email_with_the_cards_explore_link(email):
    panel = card_html(email)
    assert "No mails, meetings or calls with Northwind in the last 9 weeks" in plain(panel)
    assert panel.index("Suggestion") < panel.index("https://insights.example.com/explore")
