"""Per-interaction arithmetic on integer arrays (numpy): participants, headcounts, the sellers' rows.

Interactions (``iid``), people (``pid``) and groups / accounts (``kid``; 0 = unmatched external)
are dense integer ids, so "join the interaction's headcounts to each participant" is an array
lookup (``n1[iid]``), not a hash join of tens of millions of rows. Participants arrive sorted by
(iid, kid, pid) from DuckDB: the rows of one interaction are contiguous, a person seen twice in it
is on adjacent rows, and so is each group / account of it (the runs that ``runs`` counts).

The arithmetic is the one of CONTRACT.md §3-5 as docs/metrics.md states it; every float
operation is written in the same order as the SQL it replaced, so the numbers are the same.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import numpy as np

MEETING = 1  # kind codes (digest.metrics.interactions.KINDS)


@contextmanager
def small_pages() -> Iterator[None]:
    """Ask numpy not to madvise its big arrays into transparent huge pages while this runs.

    With THP "defrag=madvise" (a common kernel default) every first touch of a huge page can
    stall on memory compaction: allocating the few GB of arrays here took 5 s instead of 1 s.
    numpy only exposes this as a private switch; without it, nothing changes.
    """
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:  # pragma: no cover - numpy < 2 or a future numpy without the switch
        try:
            from numpy.core.multiarray import _set_madvise_hugepage
        except ImportError:
            yield
            return
    previous = _set_madvise_hugepage(False)
    try:
        yield
    finally:
        _set_madvise_hugepage(previous)


@dataclass
class Part:
    """Participants, one row per (interaction, person), sorted by (iid, kid, pid)."""

    iid: np.ndarray  # int32
    kid: np.ndarray  # int32, 0 = external not matched to an account
    pid: np.ndarray  # int32
    vis: np.ndarray  # bool: seen by the recipients (not only bcc)
    sender: np.ndarray  # bool: sent the mail


def participants(batches, total: int) -> Part:
    """Collapse the sorted raw participant rows (Arrow record batches, `total` rows) to one row per person.

    Streams: the output arrays are allocated once (their unused tail is never touched).
    """
    out = Part(np.empty(total, np.int32), np.empty(total, np.int32), np.empty(total, np.int32),
               np.empty(total, bool), np.empty(total, bool))
    pos = 0
    for batch in batches:
        iid, kid, pid = (batch.column(i).to_numpy() for i in range(3))
        vis, sender = (batch.column(i).to_numpy(zero_copy_only=False) for i in (3, 4))
        if len(iid) == 0:
            continue
        first = np.ones(len(iid), dtype=bool)
        first[1:] = (iid[1:] != iid[:-1]) | (pid[1:] != pid[:-1])
        at = np.flatnonzero(first)
        cols = [iid[at], kid[at], pid[at], np.logical_or.reduceat(vis, at), np.logical_or.reduceat(sender, at)]
        if pos and cols[0][0] == out.iid[pos - 1] and cols[2][0] == out.pid[pos - 1]:  # continues the last batch's person
            out.vis[pos - 1] |= cols[3][0]
            out.sender[pos - 1] |= cols[4][0]
            cols = [c[1:] for c in cols]
        n = len(cols[0])
        for target, values in zip((out.iid, out.kid, out.pid, out.vis, out.sender), cols):
            target[pos:pos + n] = values
        pos += n
    return Part(out.iid[:pos], out.kid[:pos], out.pid[:pos], out.vis[:pos], out.sender[:pos])


@dataclass
class Stats:
    """Per interaction (index = iid): headcounts as everyone sees it (n0, e0 external) and as the
    sender of a mail with bcc sees it (n1, e1), whether it has bcc, whether it is counted."""

    n0: np.ndarray
    e0: np.ndarray
    n1: np.ndarray
    e1: np.ndarray
    bcc: np.ndarray
    counted: np.ndarray
    first_row: np.ndarray  # first_row[iid]..first_row[iid + 1]: the interaction's rows in Part


@dataclass
class Sellers:
    """One entry per seller: their sid (metrics_scope's), person id and week bounds (epoch seconds)."""

    sid: np.ndarray
    pid: np.ndarray
    win0: np.ndarray
    p0: np.ndarray
    w0: np.ndarray
    w1: np.ndarray


def seller_rows(part: Part, stats: Stats, sellers: Sellers, kind: np.ndarray, t0: np.ndarray,
                internal_of_kid: np.ndarray, max_meeting: float) -> dict[str, np.ndarray]:
    """(seller, interaction) rows with at least one other, in the seller's time range.

    view 1 = the sender of a mail with bcc (sees everyone); siv = the seller is in their own view;
    n_oth / n_ext / n_int = the others' headcounts; bucket 2 = reported week, 1 = prior week,
    0 = the two weeks before, -1 = a meeting in the 8 h before the window (de-overlap only).
    Narrow types and in-place operations: these arrays have tens of millions of rows.
    """
    at_of_pid = np.full(max(int(part.pid.max(initial=0)), int(sellers.pid.max(initial=0))) + 1, -1, dtype=np.int32)
    at_of_pid[sellers.pid] = np.arange(len(sellers.pid), dtype=np.int32)
    at = at_of_pid[part.pid]  # the seller's position in `sellers`, -1 for everyone else
    rows = np.flatnonzero(at >= 0)
    rows = rows[stats.counted[part.iid[rows]]]
    at, iid = at[rows], part.iid[rows]
    k, t = kind[iid], t0[iid]
    lo = sellers.win0[at]
    lo[k == MEETING] -= max_meeting
    with np.errstate(invalid="ignore"):  # chats have no start (NaN): kept whole, bucket -1
        keep = (t >= lo) & (t < sellers.w1[at])
    del lo
    keep |= k == 3
    rows, at, iid, k, t = rows[keep], at[keep], iid[keep], k[keep], t[keep]
    sender, vis, self_kid = part.sender[rows], part.vis[rows], part.kid[rows]
    self_internal = internal_of_kid[self_kid]
    view = sender & stats.bcc[iid]
    siv = view | vis
    n_all = np.where(view, stats.n1[iid], stats.n0[iid])
    e_all = np.where(view, stats.e1[iid], stats.e0[iid])
    n_oth = n_all - siv
    keep = n_oth > 0
    with np.errstate(invalid="ignore"):  # -1 + [t >= win0] + [t >= p0] + [t >= w0]
        bucket = (t >= sellers.win0[at]).astype(np.int8)
        bucket += t >= sellers.p0[at]
        bucket += t >= sellers.w0[at]
    bucket -= 1
    n_int = n_all - e_all
    n_int -= siv & self_internal
    e_all -= siv & ~self_internal
    out = {"sid": sellers.sid[at].astype(np.int32), "self_pid": part.pid[rows], "iid": iid, "k": k, "t0": t,
           "sender": sender, "view": view.astype(np.int8), "siv": siv, "self_internal": self_internal,
           "self_kid": self_kid, "bucket": bucket, "n_oth": n_oth, "n_ext": e_all, "n_int": n_int}
    del rows, at, iid, k, t, sender, view, siv, self_internal, self_kid, bucket, n_oth, e_all, n_int, n_all
    if keep.all():
        return out
    return {name: out.pop(name)[keep] for name in list(out)}


def _first_rows(iid: np.ndarray, size: int) -> np.ndarray:
    """first[i]: the first position of interaction i in the sorted `iid` (first[size] = len(iid))."""
    first = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(np.bincount(iid, minlength=size), out=first[1:])
    return first


def headcounts(part: Part, kind: np.ndarray, internal_of_kid: np.ndarray) -> Stats:
    """Headcounts per interaction; meetings with fewer than 2 or 250 and more participants are not counted.

    Part is sorted by interaction, so a count over an interaction's rows is the difference of a
    running sum at its first row and at the next interaction's.
    """
    row = _first_rows(part.iid, len(kind))
    running = np.zeros(len(part.iid) + 1, dtype=np.int32)

    def per_interaction(flags: np.ndarray) -> np.ndarray:
        np.cumsum(flags, dtype=np.int32, out=running[1:])
        return running[row[1:]] - running[row[:-1]]

    n0, n1 = per_interaction(part.vis), np.diff(row).astype(np.int32)
    flags = ~internal_of_kid[part.kid]
    e1 = per_interaction(flags)
    flags &= part.vis
    e0 = per_interaction(flags)
    counted = (n1 > 0) & ((kind != MEETING) | ((n1 >= 2) & (n1 < 250)))
    return Stats(n0, e0, n1, e1, n1 > n0, counted, row)


def share_terms(c: dict[str, np.ndarray], rows: np.ndarray, part: Part, first_row: np.ndarray,
                internal_of_kid: np.ndarray) -> dict[str, np.ndarray]:
    """The seller's minutes shared among the groups / accounts of the others (contrib `rows` only).

    Per (contrib row, group or account present): minutes x (its headcount - the seller if theirs)
    / headcount of the others on that side (internal or external). Only what a card shows: groups
    in the reported week; accounts in the prior and reported weeks and of meetings (28 days).
    Each contrib row is paired with its interaction's participant rows, which are sorted by kid:
    a group / account is a run of equal kid.
    """
    lo = first_row[c["iid"][rows]]
    count = first_row[c["iid"][rows] + 1] - lo
    rep = np.repeat(np.arange(len(rows)), count)
    at = np.arange(len(rep)) + np.repeat(lo - (np.cumsum(count) - count), count)
    kid = part.kid[at]
    start = np.ones(len(rep), dtype=bool)
    start[1:] = (rep[1:] != rep[:-1]) | (kid[1:] != kid[:-1])
    run = np.flatnonzero(start)
    running = np.zeros(len(rep) + 1, dtype=np.int32)
    np.cumsum(part.vis[at], dtype=np.int32, out=running[1:])
    end = np.append(run[1:], len(rep))
    n0, n1 = running[end] - running[run], end - run
    rep, kid = rows[rep[run]], kid[run]
    n = np.where(c["view"][rep] == 1, n1, n0)
    internal = internal_of_kid[kid]
    bucket, n_int, n_ext = c["bucket"][rep], c["n_int"][rep], c["n_ext"][rep]
    keep = (n > 0) & np.where(internal, (n_int > 0) & (bucket == 2),
                              (n_ext > 0) & ((bucket >= 1) | (c["k"][rep] == MEETING)))
    rep, kid, n, internal = rep[keep], kid[keep], n[keep], internal[keep]
    own = c["siv"][rep] & (c["self_internal"][rep] == internal) & (c["self_kid"][rep] == kid)
    minutes = c["minutes"][rep] * (n - own) / np.where(internal, c["n_int"][rep], c["n_ext"][rep])
    return {"sid": c["sid"][rep], "bucket": c["bucket"][rep], "internal": internal, "kid": kid,
            "meeting": c["k"][rep] == MEETING, "cat": c["cat"][rep], "minutes": minutes}
