"""Figures a seller can trust (issue 13): shares that add up, changes that read right, hidden
accounts summed, the currency on every potential, and the same figures in chart, table and text."""

from __future__ import annotations

import dataclasses
import re

import pytest

from digest.cards import AccountTime, TimeWithCustomers
from digest.config import RenderSettings
from digest.errors import ConfigError
from digest.email import labels, numbers
from digest.email.charts import ChartMaker
from digest.email.i18n import english
from digest.email.render import Renderer
from render_cards import full_cards
from test_render_email import parse

AS_OF = "2026-11-23"


def many_accounts() -> TimeWithCustomers:
    """12 accounts like the demo's: the top shares round up past 100 when rounded one by one."""
    hours = [2.05, 1.55, 1.35, 1.05, 0.85, 0.65, 0.45, 0.25, 0.2, 0.1, 0.1, 0.05]
    accounts = tuple(AccountTime(f"A{i:02}", f"Pelpalux Systems {i}", h, None, 7_900_000 + i, 0.4 if i == 3 else 8.0,
                                 4100.0 if i == 0 else (-0.3 if i == 1 else None)) for i, h in enumerate(hours))
    return TimeWithCustomers(accounts, 0.0)


@pytest.fixture(scope="module")
def renderer():
    return Renderer(RenderSettings())


@pytest.fixture(scope="module")
def busy(renderer):
    cards = dataclasses.replace(full_cards(), time_with_customers=many_accounts())
    return renderer.render(cards, AS_OF)


def test_largest_remainder_adds_up_and_breaks_ties_in_order():
    assert numbers.largest_remainder([1, 1, 1]) == [34, 33, 33]
    assert numbers.largest_remainder([20.5, 20.5, 59.0]) == [21, 20, 59]
    assert numbers.largest_remainder([0, 0]) == [0, 0] and numbers.largest_remainder([]) == []
    for values in ([2.05, 1.55, 1.35, 1.05, 0.85], [55.81, 44.19], [1e-9, 3, 3]):
        assert sum(numbers.largest_remainder(values)) == 100


def test_a_change_against_a_tiny_or_empty_week_reads_new_or_was_never_a_huge_or_minus_zero_pct():
    fmt = english().fmt
    assert fmt.change(numbers.change_of(2.0, None)) == "new"
    assert fmt.change(numbers.change_of(4.2, 4100.0)) == "was 0.1 h"
    assert fmt.change(numbers.change_of(0.3, 50.0)) == "was 0.2 h"  # a prior week under half an hour
    assert fmt.change(numbers.change_of(3.0, -0.3)) == "no change"
    assert fmt.change(numbers.change_of(4.5, 12.5)) == "+12%" and fmt.change(numbers.change_of(1.0, -50.0)) == "\u221250%"


def test_potentials_carry_the_currency_and_small_shares_read_below_one_pct():
    fmt = english().fmt
    assert fmt.money(310_000_000) == "$310M" and fmt.money(7_900_000) == "$7.9M" and fmt.money(9_100_000_000) == "$9.1B"
    assert fmt.small_pct(0.4) == "< 1%" and fmt.small_pct(0) == "0%" and fmt.small_pct(45.0) == "45%"
    euro = Renderer(RenderSettings(currency="EUR")).render(full_cards(), AS_OF)
    assert "45% of €310M" in euro.text
    with pytest.raises(ConfigError, match="render.currency.*ISO 4217"):
        Renderer(RenderSettings(currency="usd"))


def _table_rows(html: str, card: str) -> list[list[str]]:
    section = html.split(f'id="{card}"', 1)[1].split('class="spacer"', 1)[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", section, re.S)
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)] for r in rows]


def test_shown_shares_add_up_to_100_and_are_the_same_in_chart_table_and_text(busy):
    rows = [r for r in _table_rows(busy.html, "time_with_customers") if len(r) == 4][1:]  # below the header row
    shares = [int(r[2].rstrip("%")) for r in rows]
    assert sum(shares) == 100 and len(rows) == 6  # 5 accounts and "and 7 more accounts"
    assert rows[-1][:2] == ["and 7 more accounts", "1.8 h"]
    alt = next(i.alt for i in busy.images if i.filename == "time_with_customers.png")
    for r in rows:
        assert f"{r[2]}" in alt and f"{r[2]} of your time with accounts" in busy.text
    assert "- and 7 more accounts: 1.8 h" in busy.text


def test_the_text_part_never_hides_hours_behind_a_zero(busy):
    assert "Other customers and partners: 0.0 h" not in busy.text
    assert "not matched to an account" not in busy.text  # no unmatched time here: no line about it
    assert "Customers and partners not matched to an account: 1.0 h." in Renderer(RenderSettings()).render(full_cards(), AS_OF).text


def test_no_four_digit_percentage_no_minus_zero_and_the_small_potential_share(busy):
    text = " ".join(parse(busy.html).text) + busy.text
    assert not re.search(r"\d{4,}\s?%", text) and "\u22120%" not in text and "-0%" not in text
    assert "2.0 h (was 3 min)" in busy.text and "1.6 h (no change)" in busy.text
    assert "potential < 1% of $7.9M" in busy.text


def test_chart_labels_wrap_on_words_and_are_never_cut():
    assert labels.fit("Rosalink & Partners", 16).lines == ("Rosalink &", "Partners")
    long = labels.fit("Internationale Versicherungsgesellschaft Nordrhein", 16)
    assert long.lines == ("Internationale", "Versicherungsgesells-", "chaft Nordrhein") and long.size < 12
    # A "word" no line can hold breaks after a bracket or slash, and keeps every letter.
    odd = labels.fit("Fabrikam & <script>alert(1)</script> $x$", 16)
    assert "".join(odd.lines).replace(" ", "") == "Fabrikam&<script>alert(1)</script>$x$"
    assert all(len(line) <= 16 * 12 / odd.size for line in odd.lines)
    maker = ChartMaker()
    cards = dataclasses.replace(full_cards(), time_with_customers=many_accounts())
    for kind, chart in maker.all_charts(cards).items():
        drawn = maker._boards[kind].drawn_texts()
        assert not any("\u2026" in t for t in drawn), (kind, drawn)
    drawn = " ".join(maker._boards["time_with_customers"].drawn_texts())
    assert "Pelpalux Systems 0" in drawn and "7 more accounts" in drawn


def test_the_same_cards_give_the_same_bytes(renderer):
    a, b = renderer.render(full_cards(), AS_OF), Renderer(RenderSettings()).render(full_cards(), AS_OF)
    assert a == b and len(a.html.encode()) < 95_000
