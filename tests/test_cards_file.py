"""cards.jsonl read for a few sellers: the same cards as reading it all, without parsing the others."""

from __future__ import annotations

import dataclasses
import io
import json

from digest.cards import card_lines, card_zones, read_cards, write_cards
from render_cards import full_cards


def _file() -> tuple[list, str]:
    cards = [dataclasses.replace(full_cards(f"s{i}@contoso.com"), time_zone=zone)
             for i, zone in enumerate(("Europe/Paris", "America/New_York", "Asia/Tokyo", "UTC"))]
    out = io.StringIO()
    write_cards(cards, out)
    # A line another writer made (keys sorted: the seller is not first) must still be found.
    foreign = json.loads(cards[3].to_json())
    text = out.getvalue() + "\n" + json.dumps(dict(sorted(foreign.items())) | {"seller": "S9@Contoso.com"}, sort_keys=True) + "\n"
    return cards, text


def test_a_few_sellers_cards_are_the_same_as_reading_the_whole_file():
    cards, text = _file()
    everyone = list(read_cards(io.StringIO(text)))
    assert [c.seller for c in everyone] == ["s0@contoso.com", "s1@contoso.com", "s2@contoso.com", "s3@contoso.com", "S9@Contoso.com"]
    wanted = {"s2@contoso.com", "S9@Contoso.com", "nobody@contoso.com"}
    assert list(read_cards(io.StringIO(text), wanted)) == [c for c in everyone if c.seller in wanted]
    parsed = []
    kept = list(card_lines(io.StringIO(text), lambda s: parsed.append(s) or s == "s1@contoso.com"))
    assert len(kept) == 2 and json.loads(kept[0])["seller"] == "s1@contoso.com"  # and the foreign line, to be checked
    assert parsed == ["s0@contoso.com", "s1@contoso.com", "s2@contoso.com", "s3@contoso.com"]  # read from the line's start


def test_every_sellers_zone_is_read_from_the_line_start_or_the_json():
    _, text = _file()
    assert list(card_zones(io.StringIO(text))) == [("s0@contoso.com", "Europe/Paris"), ("s1@contoso.com", "America/New_York"),
                                                   ("s2@contoso.com", "Asia/Tokyo"), ("s3@contoso.com", "UTC"), ("S9@Contoso.com", "UTC")]


def test_each_lines_seller_is_read_from_its_start_or_its_json():
    from digest.cards import card_seller

    cards, text = _file()
    assert [card_seller(line) for line in card_lines(io.StringIO(text))] == [c.seller for c in cards] + ["S9@Contoso.com"]
