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


def test_a_cards_file_read_through_its_line_index_gives_what_card_lines_gives(tmp_path):
    """lines_of: the same lines as card_lines over the whole file, a changed file read again, never half a line."""
    import os

    from digest.cards import lines_of
    from digest.runfolder import write_atomic

    _, text = _file()
    path = tmp_path / "cards.jsonl"
    write_atomic(path, text.rstrip("\n"))  # the last line without its newline, as a hand-edited file may end
    for keep in (lambda s: s in {"s2@contoso.com", "s0@contoso.com"}, lambda s: False, lambda s: True):
        assert lines_of(path, keep) == list(card_lines(io.StringIO(text.rstrip("\n")), keep))
    # Rewritten in place: the same inode, size and modification time, lines moved by a byte. The old index
    # points into the middle of lines: they are checked, the index made again.
    stat = os.stat(path)
    moved = text.rstrip("\n").replace("Europe/Paris", "Europe/Pari", 1).replace("s2@contoso.com", "s2@contoso.comm", 1)
    path.write_text(moved, encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert os.stat(path).st_size == stat.st_size and os.stat(path).st_ino == stat.st_ino
    keep = lambda s: s.startswith("s1@") or s.startswith("s2@")  # noqa: E731
    assert lines_of(path, keep) == list(card_lines(io.StringIO(moved), keep))
    assert [json.loads(line)["seller"] for line in lines_of(path, keep)] == ["s1@contoso.com", "s2@contoso.comm", "S9@Contoso.com"]


def test_the_zones_from_the_line_index_are_what_card_zones_reads(tmp_path):
    from digest.cards import zones_of
    from digest.runfolder import write_atomic

    _, text = _file()  # with a line another writer made: its zone comes from its JSON
    path = tmp_path / "cards.jsonl"
    write_atomic(path, text)
    assert zones_of(path) == dict(card_zones(io.StringIO(text)))
