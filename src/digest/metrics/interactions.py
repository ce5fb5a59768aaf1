"""Counted interactions and their participants, numbered with small integers (CONTRACT.md §3).

Mails, meetings and calls are numbered by their row in the dataset's Arrow table: a counted row
(start in the time range, not excluded by §3) gets the next ``iid`` of its kind's block, the others
0. The numbers ride along as an extra column of the registered tables (``mails_i``, ``meetings_i``,
``calls_i``), so no table of id strings is built. Chats (an id per chat, not per row) are numbered
in SQL (``chat_ids``). Participants are then read as integers (``who`` gives each email its pid
and kid) in one sorted stream for digest.metrics.arrays. Addresses are joined as integers: each
address column has its pid column (digest.metrics.persons).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Iterator

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from digest.sources.contract import Dataset
from digest.sources.files import take_sorted

MAIL, MEETING, CALL, CHAT = range(4)
KINDS = ("mail", "meeting", "call", "chat")
_EXCLUDED_SENSITIVITY = pa.array(["private", "confidential"])

_CHAT_IDS = """
CREATE OR REPLACE TEMP TABLE chat_ids AS
SELECT CAST($first + row_number() OVER () - 1 AS INTEGER) AS iid, xid FROM (
    SELECT DISTINCT ChatId AS xid FROM chat_messages WHERE SentTime >= $lo AND SentTime < $hi
) x
"""
_CHAT_IDS_NARROWED = _CHAT_IDS.rstrip() + " WHERE xid IN (SELECT xid FROM wanted_ids WHERE k = 3)\n"
# Only when a run is narrowed to a few sellers: the interactions they appear in (anywhere).
WANTED_IDS = """
CREATE OR REPLACE TEMP TABLE wanted_ids AS
SELECT DISTINCT k, xid FROM (
    SELECT 0 AS k, MailId AS xid, Sender AS email FROM mails UNION ALL SELECT 0, MailId, Email FROM mail_recipients
    UNION ALL SELECT 1, MeetingId, Organizer FROM meetings UNION ALL SELECT 1, MeetingId, Email FROM meeting_attendees
    UNION ALL SELECT 2, CallId, Email FROM call_participants
    UNION ALL SELECT 3, ChatId, Email FROM chat_members UNION ALL SELECT 3, ChatId, Sender FROM chat_messages
) WHERE email IN (SELECT seller FROM sellers)
"""
# Every mail recipient and meeting attendee not declined (of any time) as integers: the row ``r`` of
# the mail / meeting in its table, the person's pid and kid, for mails ``vis`` (not bcc; null when
# Kind is). Their string joins (id, email) are done once, for the 28-day cards (PARTICIPANTS) and
# the relationship card's longer range (digest.metrics.relationship, which drops the tables).
SHARED_PARTICIPANTS = ("""
CREATE OR REPLACE TEMP TABLE mail_rcpt AS
SELECT m.r, w.pid, w.kid, x.Kind <> 'bcc' AS vis FROM mail_recipients x
JOIN (SELECT MailId, r FROM mails_i) m ON m.MailId = x.MailId JOIN who w ON w.pid = x.pid
""", """
CREATE OR REPLACE TEMP TABLE meeting_att AS
SELECT m.r, w.pid, w.kid FROM meeting_attendees a
JOIN (SELECT MeetingId, r FROM meetings_i) m ON m.MeetingId = a.MeetingId JOIN who w ON w.pid = a.pid
WHERE a.Response IS DISTINCT FROM 'declined'
""")
SHARED_TABLES = ("mail_rcpt", "meeting_att")
# Participants as written (a person can appear twice: sender and recipient, organizer and attendee),
# sorted so that digest.metrics.arrays can collapse and count them in one pass.
PARTICIPANTS = """
SELECT iid, kid, pid, vis, sender FROM (
    SELECT m.iid, w.kid, w.pid, true AS vis, true AS sender FROM mails_i m JOIN who w ON w.pid = m.sender_pid
      WHERE m.iid >= $lo AND m.iid < $hi
    UNION ALL
    SELECT m.iid, x.kid, x.pid, x.vis, false FROM mail_rcpt x
      JOIN (SELECT iid, r FROM mails_i WHERE iid >= $lo AND iid < $hi) m ON m.r = x.r
    UNION ALL
    SELECT m.iid, w.kid, w.pid, true, false FROM meetings_i m JOIN who w ON w.pid = m.organizer_pid
      WHERE m.iid >= $lo AND m.iid < $hi
    UNION ALL
    SELECT m.iid, x.kid, x.pid, true, false FROM meeting_att x
      JOIN (SELECT iid, r FROM meetings_i WHERE iid >= $lo AND iid < $hi) m ON m.r = x.r
    UNION ALL
    SELECT c.iid, w.kid, w.pid, true, false FROM call_participants p
      JOIN (SELECT iid, CallId FROM calls_i WHERE iid >= $lo AND iid < $hi) c ON c.CallId = p.CallId JOIN who w ON w.pid = p.pid
    UNION ALL
    SELECT c.iid, w.kid, w.pid, true, false
      FROM (SELECT ChatId, pid FROM chat_members UNION ALL SELECT ChatId, sender_pid FROM chat_messages) x
      JOIN (SELECT iid, xid FROM chat_ids WHERE iid >= $lo AND iid < $hi) c ON c.xid = x.ChatId JOIN who w ON w.pid = x.pid
) ORDER BY iid, kid, pid
"""
SORT_ROWS = 32_000_000  # participant rows (upper bound) DuckDB sorts at a time: one sort of ~100 M (40,000 sellers) ran out of its memory


def participant_batches(con: duckdb.DuckDBPyConnection, numbering: "Numbering", total: int,
                        batch_rows: int = 1 << 20) -> Iterator[pa.RecordBatch]:
    """Every participant row (PARTICIPANTS), sorted by iid, kid, pid, as record batches: sorted one iid range
    at a time, ranges of about SORT_ROWS of the `total` rows, so DuckDB never sorts all of them at once."""
    end = numbering.first[-1]  # one past the last iid
    ranges = max(1, -(-total // SORT_ROWS))
    bounds = np.unique(np.linspace(1, max(end, 1), ranges + 1).round().astype(np.int64))
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        yield from con.sql(PARTICIPANTS, params={"lo": int(lo), "hi": int(hi)}).to_arrow_reader(batch_rows)


# The sellers' own time in each call, and every message of the counted chats.
CALL_SECS = """
SELECT c.iid, s.pid, sum(greatest(coalesce(epoch(p.LeaveTime) - epoch(p.JoinTime), 0.0), 0.0)) AS secs
FROM call_participants p JOIN (SELECT iid, CallId FROM calls_i WHERE iid > 0) c ON c.CallId = p.CallId
JOIN sellers s ON s.pid = p.pid GROUP BY ALL
"""
CHAT_MSGS = """
CREATE OR REPLACE TEMP TABLE chat_msgs AS
SELECT c.iid, w.pid AS sender, epoch(m.SentTime) AS t
FROM chat_messages m JOIN chat_ids c ON c.xid = m.ChatId JOIN who w ON w.pid = m.sender_pid
"""
_TIMES = {
    "mails_i": "SELECT iid, epoch(SentTime) AS t0, NULL::DOUBLE AS t1 FROM mails_i WHERE iid > 0",
    "meetings_i": "SELECT iid, epoch(StartTime) AS t0, epoch(EndTime) AS t1 FROM meetings_i WHERE iid > 0",
    "calls_i": "SELECT iid, epoch(StartTime) AS t0, epoch(EndTime) AS t1 FROM calls_i WHERE iid > 0",
}


@dataclass
class Numbering:
    """Where each kind's iids start, and for each kind the table rows of its counted interactions."""

    first: list[int] = field(default_factory=list)  # first iid of mail, meeting, call, chat; then one past the last
    rows: list[np.ndarray] = field(default_factory=list)  # mail, meeting, call: table row of iid first[k] + i


def _in_range(column: pa.ChunkedArray, lo: dt.datetime, hi: dt.datetime) -> pa.ChunkedArray:
    return pc.and_(pc.greater_equal(column, pa.scalar(lo, column.type)), pc.less(column, pa.scalar(hi, column.type)))


def _not_secret(table: pa.Table) -> pa.ChunkedArray:
    return pc.invert(pc.is_in(pc.fill_null(table.column("Sensitivity"), "normal"), value_set=_EXCLUDED_SENSITIVITY))


def counted(dataset: Dataset, lo: dt.datetime, hi: dt.datetime, max_meeting_seconds: int) -> list[pa.ChunkedArray]:
    """Per kind (mail, meeting, call): which rows are counted interactions starting in [lo, hi).

    CONTRACT.md §3: no private or confidential mail or meeting, no cancelled meeting, no meeting
    of 8 h or longer (or ending before it starts), no call of a meeting (it is the meeting).
    """
    m, e, c = dataset.mails, dataset.meetings, dataset.calls
    mails = pc.and_(_in_range(m.column("SentTime"), lo, hi), _not_secret(m))
    length = pc.subtract(e.column("EndTime").cast(pa.int64()), e.column("StartTime").cast(pa.int64()))  # microseconds
    meetings = pc.and_(pc.and_(_in_range(e.column("StartTime"), lo, hi), _not_secret(e)),
                       pc.and_(pc.invert(pc.fill_null(e.column("IsCancelled"), False)),
                               pc.and_(pc.greater(length, 0), pc.less(length, max_meeting_seconds * 1_000_000))))
    no_meeting = pc.fill_null(pc.equal(pc.utf8_trim(c.column("MeetingId"), characters=" "), ""), True)
    calls = pc.and_(_in_range(c.column("StartTime"), lo, hi), no_meeting)
    return [mails, meetings, calls]


def register(con: duckdb.DuckDBPyConnection, dataset: Dataset, masks: list[pa.ChunkedArray],
             lo: dt.datetime, hi: dt.datetime, wanted: bool) -> Numbering:
    """Number the counted interactions; register mails_i and meetings_i (with their row ``r``), calls_i; create chat_ids.

    `wanted`: only the interactions of the table wanted_ids (a run narrowed to a few sellers).
    """
    numbering = Numbering()
    nxt = 1
    for kind, (name, table, id_column) in enumerate((("mails_i", dataset.mails, "MailId"),
                                                     ("meetings_i", dataset.meetings, "MeetingId"),
                                                     ("calls_i", dataset.calls, "CallId"))):
        mask = masks[kind]
        if wanted:
            ids = con.sql("SELECT xid FROM wanted_ids WHERE k = $k", params={"k": kind}).to_arrow_table().column(0)
            mask = pc.and_(mask, pc.is_in(table.column(id_column), value_set=ids.combine_chunks()))
        rows = np.flatnonzero(mask.to_numpy(zero_copy_only=False)) if table.num_rows else np.zeros(0, np.int64)
        iid = np.zeros(table.num_rows, dtype=np.int32)
        iid[rows] = np.arange(nxt, nxt + len(rows), dtype=np.int32)
        registered = table.append_column("iid", pa.array(iid))
        if kind != CALL:  # the row number too, for mail_rcpt and meeting_att
            registered = registered.append_column("r", pa.array(np.arange(table.num_rows, dtype=np.int32)))
        con.register(name, registered)
        numbering.first.append(nxt)
        numbering.rows.append(rows)
        nxt += len(rows)
    numbering.first.append(nxt)
    con.execute(_CHAT_IDS_NARROWED if wanted else _CHAT_IDS, {"first": nxt, "lo": lo, "hi": hi})
    numbering.first.append(nxt + con.execute("SELECT count(*) FROM chat_ids").fetchall()[0][0])
    return numbering


def participant_bound(dataset: Dataset) -> int:
    """An upper bound of the participant rows (every row of every participant column)."""
    return sum(t.num_rows for t in (dataset.mails, dataset.mail_recipients, dataset.meetings, dataset.meeting_attendees,
                                    dataset.call_participants, dataset.chat_members, dataset.chat_messages))


def times(con: duckdb.DuckDBPyConnection, numbering: Numbering) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """kind, t0, t1 (epoch seconds; NaN for chats) indexed by iid; kind 255 for iid 0."""
    size = numbering.first[-1]
    kind = np.full(size, 255, dtype=np.uint8)
    for k in range(4):
        kind[numbering.first[k]:numbering.first[k + 1]] = k
    t0, t1 = np.full(size, np.nan), np.full(size, np.nan)
    for name, sql in _TIMES.items():
        table = con.sql(sql).to_arrow_table()
        iid = table.column("iid").to_numpy()
        t0[iid] = table.column("t0").to_numpy(zero_copy_only=False)
        t1[iid] = table.column("t1").to_numpy(zero_copy_only=False)
    return kind, t0, t1


def interaction_ids(con: duckdb.DuckDBPyConnection, dataset: Dataset, numbering: Numbering, iid: np.ndarray) -> pa.Array:
    """The id strings (MailId, MeetingId, CallId, ChatId) of interaction numbers (in Arrow: no Python string per row)."""
    parts, where = [], []
    for kind, (table, column) in enumerate(((dataset.mails, "MailId"), (dataset.meetings, "MeetingId"),
                                            (dataset.calls, "CallId"))):
        at = np.flatnonzero((iid >= numbering.first[kind]) & (iid < numbering.first[kind + 1]))
        rows = numbering.rows[kind][iid[at] - numbering.first[kind]]
        by_row = np.argsort(rows, kind="stable")  # taken chunk by chunk in row order: a column may hold > 2 GB of text
        parts.append(take_sorted(table.column(column), rows[by_row]).cast(pa.string()))
        where.append(at[by_row])
    chats = con.sql("SELECT iid, xid FROM chat_ids ORDER BY iid").to_arrow_table()
    at = np.flatnonzero(iid >= numbering.first[CHAT])
    known = chats.column("iid").to_numpy()
    parts.append(chats.column("xid").take(pa.array(np.searchsorted(known, iid[at]))).cast(pa.string()))
    where.append(at)
    order = np.concatenate(where)
    back = np.empty(len(order), dtype=np.int64)
    back[order] = np.arange(len(order))  # row i of the result is row back[i] of the kinds' ids one after another
    ids = pa.chunked_array([chunk for part in parts for chunk in part.chunks], pa.string())
    return ids.take(pa.array(back)).combine_chunks()
