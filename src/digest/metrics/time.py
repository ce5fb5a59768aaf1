"""The seller's time in each interaction (CONTRACT.md §3) over a :class:`digest.metrics.session.Session`.

From the sellers' rows (``pairs``, digest.metrics.arrays) this builds ``contrib``: one row per
seller, interaction and bucket (0 = the first two weeks of the 28-day window, 1 = prior week,
2 = reported week) with the seller's minutes and the others' headcounts as the seller sees them,
and ``meaningful``: the seller's meaningful interactions of the 28 days (CONTRACT.md §5, depth).
Both are dicts of numpy arrays in ``session.arrays``. Meeting de-overlap and chat messages are
SQL over small Arrow tables.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from digest.metrics import interactions
from digest.metrics.interactions import CALL, CHAT, MEETING
from digest.metrics.session import Session

# De-overlap: +1/-1 events per seller; segment [t_i, t_i+1) is shared 1/k among the k meetings
# covering it; F(t) = time credited before t; a meeting gets F(end) - F(start). Equality joins only.
_MEET_TIME = """
WITH m AS (SELECT row, sid, t0, t1 FROM mpairs),
ev AS (SELECT sid, t, sum(d) AS d FROM (SELECT sid, t0 AS t, 1 AS d FROM m UNION ALL SELECT sid, t1, -1 FROM m)
       GROUP BY sid, t),
seg AS (SELECT sid, t, sum(d) OVER w AS k, lead(t) OVER w - t AS len FROM ev
        WINDOW w AS (PARTITION BY sid ORDER BY t)),
f AS MATERIALIZED (SELECT sid, t, coalesce(sum(CASE WHEN k > 0 THEN len / k ELSE 0 END) OVER (PARTITION BY sid ORDER BY t
             ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS f FROM seg)
SELECT m.row, fe.f - fs.f AS secs
FROM m JOIN f fs ON fs.sid = m.sid AND fs.t = m.t0 JOIN f fe ON fe.sid = m.sid AND fe.t = m.t1
"""
# Chat: the seller's own messages in their window, per bucket; meaningful with 2-8 members and
# at least 3 messages (by anyone) in the window.
_CHAT_MINUTES = """
SELECT p.row, CAST(CASE WHEN m.t >= p.w0 THEN 2 WHEN m.t >= p.p0 THEN 1 WHEN m.t >= p.win0 THEN 0 ELSE -1 END AS TINYINT)
       AS bucket, count(*) * $chat AS minutes
FROM cpairs p JOIN chat_msgs m ON m.iid = p.iid AND m.sender = p.self_pid AND m.t >= p.win0 AND m.t < p.w1
GROUP BY ALL
"""
_CHAT_MEANINGFUL = """
SELECT p.row FROM cpairs p JOIN chat_msgs m ON m.iid = p.iid AND m.t >= p.win0 AND m.t < p.w1
WHERE p.n_oth BETWEEN 1 AND 7 GROUP BY p.row HAVING count(*) >= 3
"""
CONTRIB_COLUMNS = ("sid", "self_pid", "iid", "k", "bucket", "view", "siv", "self_internal", "self_kid",
                   "n_oth", "n_ext", "n_int")


def build(session: Session) -> None:
    """Create ``contrib`` and ``meaningful`` in session.arrays (and drop the pairs)."""
    con, a, m = session.con, session.arrays, session.settings.metrics
    p = a.pop("pairs")
    minutes = np.where(p["sender"], float(m.mail_sent_minutes), float(m.mail_received_minutes))
    for rows, secs in (_meeting_secs(session, p), _call_secs(session, p)):
        minutes[rows] = secs / 60
    rows = np.flatnonzero((p["k"] < CHAT) & (p["bucket"] >= 0))
    chat_rows, chat_bucket, chat_minutes, chat_meaningful = _chats(session, p, float(m.chat_message_minutes))
    meaningful = np.concatenate([rows[(p["n_oth"][rows] >= 1) & (p["n_oth"][rows] <= 7)], chat_meaningful])
    a["contrib"] = c = {"minutes": np.concatenate([minutes[rows], chat_minutes])}
    del minutes
    a["meaningful"] = {}
    for name in CONTRIB_COLUMNS:  # column by column, dropping the pairs' column: these are big
        column = p.pop(name)
        c[name] = np.concatenate([column[rows], column[chat_rows]])
        if name in ("sid", "self_pid", "iid", "view"):
            a["meaningful"][name] = column[meaningful]
    c["bucket"][len(rows):] = chat_bucket


def _meeting_secs(session: Session, p: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(pair rows, de-overlapped seconds) of the meetings."""
    rows = np.flatnonzero(p["k"] == MEETING)
    session.con.register("mpairs", pa.table({"row": rows, "sid": p["sid"][rows], "t0": p["t0"][rows],
                                             "t1": session.arrays["t1"][p["iid"][rows]]}))
    res = session.con.sql(_MEET_TIME).to_arrow_table()
    session.con.unregister("mpairs")
    return res.column("row").to_numpy(), res.column("secs").to_numpy()


def _call_secs(session: Session, p: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(pair rows, the seller's own seconds) of the calls (LeaveTime - JoinTime, summed over their joins)."""
    rows = np.flatnonzero(p["k"] == CALL)
    calls = session.con.sql(interactions.CALL_SECS).to_arrow_table()
    keys = (calls.column("iid").to_numpy().astype(np.int64) << 32) | calls.column("pid").to_numpy().astype(np.int64)
    order = np.argsort(keys)
    wanted = (p["iid"][rows].astype(np.int64) << 32) | p["self_pid"][rows].astype(np.int64)
    at = np.searchsorted(keys[order], wanted)
    return rows, calls.column("secs").to_numpy()[order][at]


def _chats(session: Session, p: dict[str, np.ndarray], chat_minutes: float):
    """Chat rows: (pair row, bucket, minutes) of the seller's messages, and the meaningful chats' pair rows."""
    con, s = session.con, session.arrays["sellers"]
    rows = np.flatnonzero(p["k"] == CHAT)
    at = np.searchsorted(s.sid, p["sid"][rows])
    con.register("cpairs", pa.table({"row": rows, "iid": p["iid"][rows], "self_pid": p["self_pid"][rows],
                                     "n_oth": p["n_oth"][rows], "win0": s.win0[at], "p0": s.p0[at],
                                     "w0": s.w0[at], "w1": s.w1[at]}))
    res = con.sql(_CHAT_MINUTES, params={"chat": chat_minutes}).to_arrow_table()
    meaningful = con.sql(_CHAT_MEANINGFUL).to_arrow_table().column("row").to_numpy()
    con.unregister("cpairs")
    return (res.column("row").to_numpy(), res.column("bucket").to_numpy(), res.column("minutes").to_numpy(),
            np.sort(meaningful))


def used(session: Session) -> pa.Table:
    """(seller, kind, interaction_id) of every contrib and meaningful row, sorted (the privacy audit's scope)."""
    c, m = session.arrays["contrib"], session.arrays["meaningful"]
    pairs = np.unique((np.concatenate([c["sid"], m["sid"]]).astype(np.int64) << 32) | np.concatenate([c["iid"], m["iid"]]))
    sid, iid = (pairs >> 32).astype(np.int32), (pairs & 0xFFFFFFFF).astype(np.int32)
    sellers = session.con.sql("SELECT sid, seller FROM sellers").to_arrow_table()
    seller_of = dict(zip(sellers.column("sid").to_pylist(), sellers.column("seller").to_pylist()))
    table = pa.table({"seller": pa.array([seller_of[i] for i in sid.tolist()], pa.string()),
                      "kind": pa.array(np.array(interactions.KINDS, dtype=object)[session.arrays["kind"][iid]], pa.string()),
                      "interaction_id": interactions.interaction_ids(session.con, session.dataset, session.numbering, iid)})
    return table.sort_by([("seller", "ascending"), ("kind", "ascending"), ("interaction_id", "ascending")])
