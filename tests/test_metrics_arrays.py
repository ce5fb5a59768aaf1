"""The integer-array steps of the metrics (digest.metrics.arrays) against plain Python, and the
promise that the same data gives the same cards whatever the order of its rows.
"""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from metrics_fixtures import World, settings
from test_metrics_properties import WEEK, build, worlds

from digest.metrics import arrays
from digest.cards import write_cards
from digest.metrics import compute_cards

rows = st.lists(st.tuples(st.integers(1, 6), st.integers(0, 3), st.integers(1, 5), st.booleans(), st.booleans()),
                max_size=60)


def _batches(raw: list[tuple], cuts: list[int]) -> list[pa.RecordBatch]:
    names = ("iid", "kid", "pid", "vis", "sender")
    types = (pa.int32(), pa.int32(), pa.int32(), pa.bool_(), pa.bool_())
    bounds = [0] + sorted(set(c % (len(raw) + 1) for c in cuts)) + [len(raw)]
    return [pa.record_batch([pa.array([r[i] for r in raw[a:b]], t) for i, t in enumerate(types)], names=list(names))
            for a, b in zip(bounds, bounds[1:])]


@hsettings(max_examples=200, deadline=None, derandomize=True)
@given(rows, st.lists(st.integers(0, 60), max_size=8))
def test_participants_collapse_a_person_seen_twice_even_across_batches(raw, cuts):
    # kid is a property of the person, as in the real stream (one kid per pid).
    raw = sorted((iid, pid % 4, pid, vis, sender) for iid, _, pid, vis, sender in raw)
    part = arrays.participants(_batches(raw, cuts), len(raw))
    expected: dict[tuple[int, int], list] = {}
    for iid, kid, pid, vis, sender in raw:
        seen = expected.setdefault((iid, pid), [kid, False, False])
        seen[1] |= vis
        seen[2] |= sender
    got = {(int(i), int(p)): [int(k), bool(v), bool(s)]
           for i, k, p, v, s in zip(part.iid, part.kid, part.pid, part.vis, part.sender)}
    assert got == expected and len(part.iid) == len(expected)
    assert list(zip(part.iid.tolist(), part.kid.tolist(), part.pid.tolist())) == sorted(
        (i, k, p) for (i, p), (k, _, _) in expected.items())


@hsettings(max_examples=200, deadline=None, derandomize=True)
@given(rows)
def test_headcounts_per_interaction(raw):
    raw = sorted({(iid, pid % 4, pid): (vis, sender) for iid, _, pid, vis, sender in raw}.items())
    part = arrays.Part(*(np.array([r[0][i] for r in raw], np.int32) for i in range(3)),
                       np.array([r[1][0] for r in raw], bool), np.array([r[1][1] for r in raw], bool))
    kind = np.array([255, 0, 1, 1, 2, 3, 0], np.uint8)  # iid 2 and 3 are meetings
    internal_of_kid = np.array([False, True, True, False])
    stats = arrays.headcounts(part, kind, internal_of_kid)
    for iid in range(1, 7):
        mine = [(k, v) for (i, k, _), (v, _) in raw if i == iid]
        assert stats.n1[iid] == len(mine) and stats.n0[iid] == sum(v for _, v in mine)
        assert stats.e1[iid] == sum(not internal_of_kid[k] for k, _ in mine)
        assert stats.e0[iid] == sum(v and not internal_of_kid[k] for k, v in mine)
        assert stats.counted[iid] == (len(mine) > 0 and (kind[iid] != 1 or 2 <= len(mine) < 250))
        assert list(range(stats.first_row[iid], stats.first_row[iid + 1])) == [
            n for n, ((i, _, _), _) in enumerate(raw) if i == iid]


def _shuffled(world: World, seed: int) -> World:
    rng = random.Random(seed)
    rows = {key: rng.sample(values, len(values)) for key, values in world.rows.items()}
    return World(rows=rows, columns=world.columns)


@hsettings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(worlds, st.integers(0, 1000))
def test_the_order_of_the_rows_never_changes_a_card(spec, seed):
    world = build(spec)
    # Shares in thirds of 5, 2.5 and 50 minutes: a float sum of them depends on the order of the
    # rows (27 of 30 shuffles changed the cards when the sums were plain floats).
    for n in range(8):
        day = f"2026-11-{16 + n % 5}"
        world.mail(f"{day} 1{n}:00", "s0@contoso.com", to=["c0@contoso.com", "m0@contoso.com", "d0@contoso.com"])
        world.mail(f"{day} 1{n}:30", "c0@contoso.com", to=["s0@contoso.com"], cc=["m0@contoso.com", "e0@fabrikam.com"])
        world.meeting(f"{day} 0{n}:00", f"{day} 0{n}:50", "s0@contoso.com", ["c0@contoso.com", "e0@fabrikam.com", "e2@northwind.com"])
        # Threads with the customer both ways, for the relationship card's starts and response times.
        world.mail(f"{day} 1{n}:10", "e0@fabrikam.com", to=["s0@contoso.com"], conversation=f"t{n % 3}")
        world.mail(f"{day} 1{n}:40", "s0@contoso.com", to=["e0@fabrikam.com", "e1@fabrikam.com"], conversation=f"t{n % 3}")
    first = compute_cards(world.dataset(), WEEK, settings())
    again = compute_cards(_shuffled(world, seed).dataset(), WEEK, settings())
    assert [dataclasses.asdict(c) for c in again] == [dataclasses.asdict(c) for c in first]  # to the last bit


def test_the_written_cards_are_the_same_from_one_run_to_the_next(tmp_path):
    world = build({"zones": [None, "Europe/Paris", "Australia/Sydney"], "mails": [], "meetings": [], "calls": [], "chats": []})
    for n in range(40):
        world.mail(f"2026-11-{16 + n % 7} {8 + n % 9:02d}:{n % 60:02d}", "s1@contoso.com",
                   to=["c0@contoso.com", "e0@fabrikam.com", "m0@contoso.com"][: 1 + n % 3], cc=["e3@gmail.com"] * (n % 2))
    out = []
    for _ in range(3):
        path = tmp_path / f"cards{len(out)}.jsonl"
        with path.open("w", encoding="utf-8") as f:
            write_cards(compute_cards(world.dataset(), WEEK, settings()), f)
        out.append(path.read_bytes())
    assert out[0] == out[1] == out[2]


@hsettings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(worlds, st.integers(1, 40))
def test_participants_sorted_in_iid_ranges_give_the_same_cards(spec, sort_rows):
    """digest.metrics.interactions sorts the participant rows one iid range at a time (SORT_ROWS of them):
    cards computed with ranges of any size are those of one sort of every row."""
    from digest.metrics import interactions

    world = build(spec)
    for n in range(6):
        day = f"2026-11-{16 + n % 5}"
        world.mail(f"{day} 1{n}:00", "s0@contoso.com", to=["c0@contoso.com", "m0@contoso.com"], cc=["e0@fabrikam.com"])
        world.meeting(f"{day} 0{n}:00", f"{day} 0{n}:50", "s0@contoso.com", ["c0@contoso.com", "e2@northwind.com"])
    whole = compute_cards(world.dataset(), WEEK, settings())
    default, interactions.SORT_ROWS = interactions.SORT_ROWS, sort_rows
    try:
        ranged = compute_cards(world.dataset(), WEEK, settings())
    finally:
        interactions.SORT_ROWS = default
    assert [dataclasses.asdict(c) for c in ranged] == [dataclasses.asdict(c) for c in whole]


def test_participant_batches_cover_every_iid_range_once():
    import duckdb

    from digest.metrics import interactions
    from digest.metrics.interactions import Numbering, participant_batches

    con = duckdb.connect()
    for name, cols in (("mails_i", "iid INTEGER, r BIGINT, sender_pid INTEGER"), ("meetings_i", "iid INTEGER, r BIGINT, organizer_pid INTEGER"),
                       ("mail_rcpt", "r BIGINT, kid INTEGER, pid INTEGER, vis BOOLEAN"), ("meeting_att", "r BIGINT, kid INTEGER, pid INTEGER"),
                       ("calls_i", "iid INTEGER, CallId VARCHAR"), ("call_participants", "CallId VARCHAR, pid INTEGER"),
                       ("chat_members", "ChatId VARCHAR, pid INTEGER"), ("chat_messages", "ChatId VARCHAR, sender_pid INTEGER"),
                       ("chat_ids", "iid INTEGER, xid VARCHAR"), ("who", "pid INTEGER, kid INTEGER")):
        con.execute(f"CREATE TABLE {name} ({cols})")
    con.execute("INSERT INTO who SELECT range, range % 3 FROM range(1, 8)")
    con.execute("INSERT INTO mails_i SELECT range, range, range % 7 + 1 FROM range(0, 30)")  # iid 0: not counted
    con.execute("INSERT INTO mail_rcpt SELECT range % 30, range % 3, range % 7 + 1, range % 2 = 0 FROM range(90)")
    con.execute("INSERT INTO chat_ids VALUES (30, 'c1'), (31, 'c2')")
    con.execute("INSERT INTO chat_members VALUES ('c1', 2), ('c2', 3), ('c2', 4)")
    numbering = Numbering(first=[1, 30, 30, 30, 32])
    whole = pa.Table.from_batches(list(participant_batches(con, numbering, 10)))
    for sort_rows in (1, 7, 40):
        default, interactions.SORT_ROWS = interactions.SORT_ROWS, sort_rows
        try:
            ranged = pa.Table.from_batches(list(participant_batches(con, numbering, 200, batch_rows=16)))
        finally:
            interactions.SORT_ROWS = default
        keys = [tuple(r) for r in zip(*(ranged.column(c).to_pylist() for c in ("iid", "kid", "pid")))]
        assert keys == sorted(keys) and ranged.num_rows == whole.num_rows == 29 + 90 - 3 + 3  # sender rows + recipients of iids 1-29 + chats
        assert sorted(map(tuple, zip(*ranged.to_pydict().values()))) == sorted(map(tuple, zip(*whole.to_pydict().values())))
