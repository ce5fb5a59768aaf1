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

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

MEETING = 1  # kind codes (digest.metrics_scope.KINDS)


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


def headcounts(runs: "Runs", kind: np.ndarray, internal_of_kid: np.ndarray) -> Stats:
    """Headcounts per interaction; meetings with fewer than 2 or 250 and more participants are not counted."""
    size = len(kind)
    at = np.flatnonzero(runs.first[1:] > runs.first[:-1])  # interactions with participants
    starts = runs.first[at]
    external = ~internal_of_kid[runs.kid]

    def total(values: np.ndarray) -> np.ndarray:
        out = np.zeros(size, dtype=np.int32)
        if len(at):
            out[at] = np.add.reduceat(values, starts)
        return out

    n1, n0 = total(runs.n1), total(runs.n0)
    e1, e0 = total(np.where(external, runs.n1, 0)), total(np.where(external, runs.n0, 0))
    counted = (n1 > 0) & ((kind != MEETING) | ((n1 >= 2) & (n1 < 250)))
    return Stats(n0, e0, n1, e1, n1 > n0, counted)


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


@dataclass
class Runs:
    """Headcount of each group / account per interaction (the runs of equal (iid, kid) in Part):
    n1 everyone, n0 those seen by the recipients. first[iid]..first[iid + 1] are the interaction's runs."""

    kid: np.ndarray
    n0: np.ndarray
    n1: np.ndarray
    first: np.ndarray


def runs(part: Part, size: int) -> Runs:
    """Count each interaction's people per group / account (`size` = number of interaction ids + 1)."""
    n = len(part.iid)
    start = np.ones(n, dtype=bool)
    np.not_equal(part.iid[1:], part.iid[:-1], out=start[1:])
    start[1:] |= part.kid[1:] != part.kid[:-1]
    at = np.flatnonzero(start)
    del start
    n0 = np.add.reduceat(part.vis, at, dtype=np.int32) if n else np.zeros(0, np.int32)
    n1 = np.diff(at, append=n).astype(np.int32)
    first = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(np.bincount(part.iid[at], minlength=size), out=first[1:])
    return Runs(part.kid[at], n0, n1, first)


def share_terms(c: dict[str, np.ndarray], rows: np.ndarray, runs: Runs, internal_of_kid: np.ndarray) -> dict[str, np.ndarray]:
    """The seller's minutes shared among the groups / accounts of the others (contrib `rows` only).

    Per (contrib row, group or account present): minutes x (its headcount - the seller if theirs)
    / headcount of the others on that side (internal or external). Only what a card shows: groups
    in the reported week; accounts in the prior and reported weeks and of meetings (28 days).
    """
    iid = c["iid"][rows]
    lo, count = runs.first[iid], runs.first[iid + 1] - runs.first[iid]
    rep = np.repeat(rows, count)
    at = np.arange(len(rep)) + np.repeat(lo - (np.cumsum(count) - count), count)
    kid = runs.kid[at]
    n = np.where(c["view"][rep] == 1, runs.n1[at], runs.n0[at])
    internal = internal_of_kid[kid]
    bucket, n_int, n_ext = c["bucket"][rep], c["n_int"][rep], c["n_ext"][rep]
    keep = (n > 0) & np.where(internal, (n_int > 0) & (bucket == 2),
                              (n_ext > 0) & ((bucket >= 1) | (c["k"][rep] == MEETING)))
    rep, kid, n, internal = rep[keep], kid[keep], n[keep], internal[keep]
    own = c["siv"][rep] & (c["self_internal"][rep] == internal) & (c["self_kid"][rep] == kid)
    minutes = c["minutes"][rep] * (n - own) / np.where(internal, c["n_int"][rep], c["n_ext"][rep])
    return {"sid": c["sid"][rep], "bucket": c["bucket"][rep], "internal": internal, "kid": kid,
            "meeting": c["k"][rep] == MEETING, "cat": c["cat"][rep], "minutes": minutes}
