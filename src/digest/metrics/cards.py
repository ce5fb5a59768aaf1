"""The card aggregates (CONTRACT.md §5) as SQL over a :class:`digest.metrics.session.Session`.

Built on ``contrib`` and ``meaningful`` (``digest.metrics.time``). Shares give each contrib row's
minutes to the groups / accounts of its interaction in proportion to headcount, minus the seller's
own row (``digest.metrics.arrays.share_terms``), summed per seller, bucket and group or account;
every card is a small GROUP BY over that. :func:`results` returns plain rows grouped by seller id;
``digest.metrics.engine`` turns them into value objects.

Minutes are summed exactly, as integers in units of 2**-60 minute (every term of 1/256 minute or
more converts without loss): an integer sum does not depend on the order in which DuckDB's threads
add the terms up, so the same data always gives the same cards. (A float sum could land on either
side of a rounding tie like 628.5 min = 10.475 h from one run to the next.)
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import pyarrow as pa

from digest.metrics import arrays
from digest.metrics import time as metrics_time
from digest.metrics.session import Session

CHUNK_ROWS = 2_000_000  # contrib rows whose shares are computed at a time (bounds memory)
SCALE = float(2 ** 60)  # fixed-point units per minute: every term of 1/256 min or more converts exactly
_Q = "CAST(round({x} * $scale) AS HUGEINT)"

# The manager chain at the end of the window; a repeated person (a cycle) ends it.
_CHAIN = """
CREATE OR REPLACE TEMP TABLE chain AS
WITH RECURSIVE c(sid, person, depth, path) AS (
    SELECT s.sid, o.manager, 1, [s.seller, o.manager] FROM sellers s JOIN org o ON o.email = s.seller
    WHERE o.manager IS NOT NULL AND o.manager <> s.seller
    UNION ALL
    SELECT c.sid, o.manager, c.depth + 1, list_append(c.path, o.manager) FROM c JOIN org o ON o.email = c.person
    WHERE o.manager IS NOT NULL AND NOT list_contains(c.path, o.manager)
) SELECT c.sid, w.pid, c.depth FROM c JOIN who w ON w.email = c.person
"""
# Per counted meeting with external others: 2 = a manager's manager or above attended, 1 = the
# manager did (no row: neither).
_MEETING_CATEGORY = """
WITH cp AS (SELECT p.iid, p.pid FROM part p SEMI JOIN (SELECT DISTINCT pid FROM chain) x ON x.pid = p.pid)
SELECT c.row, max(CASE WHEN ch.depth >= 2 THEN 2 ELSE 1 END) AS cat
FROM contrib c JOIN chain ch ON ch.sid = c.sid JOIN cp ON cp.iid = c.iid AND cp.pid = ch.pid
WHERE c.k = 1 AND c.n_ext > 0 GROUP BY c.row
"""
# Shares (digest.metrics.arrays.share_terms), summed exactly per seller, bucket, group / account,
# meeting or not, and leadership category; one insert per chunk of contrib rows.
_SHARES = """CREATE OR REPLACE TEMP TABLE shares
              (sid INTEGER, bucket TINYINT, internal BOOLEAN, kid INTEGER, meeting BOOLEAN, cat INTEGER, q HUGEINT)"""
_SHARES_ADD = f"""
INSERT INTO shares SELECT sid, bucket, internal, kid, meeting, cat, sum({_Q.format(x="minutes")}) FROM terms GROUP BY ALL
"""
_SUMMARY = f"""
CREATE OR REPLACE TEMP TABLE summary AS
SELECT sid, bucket, sum(q) AS total, coalesce(sum(q) FILTER (WHERE n_ext > 0), 0) AS ext,
       coalesce(sum(q) FILTER (WHERE k = 0), 0) AS mail, coalesce(sum(q) FILTER (WHERE k = 1), 0) AS meeting,
       coalesce(sum(q) FILTER (WHERE k = 2), 0) AS call, coalesce(sum(q) FILTER (WHERE k = 3), 0) AS chat
FROM (SELECT sid, bucket, k, n_ext, {_Q.format(x="minutes")} AS q FROM contrib WHERE bucket IN (1, 2))
GROUP BY ALL
"""
# Distinct external others of the seller's meaningful interactions matched to each account.
_DEPTH = """
CREATE OR REPLACE TEMP TABLE depth AS
WITH d AS (SELECT DISTINCT m.sid, p.kid, p.pid, p.dflt FROM meaningful m
           JOIN part p ON p.iid = m.iid AND (m.view = 1 OR p.vis) AND p.pid <> m.self_pid
           WHERE NOT p.internal AND p.kid > 0)
SELECT sid, kid, count(*) AS n, count(*) FILTER (WHERE dflt) AS n_default FROM d GROUP BY ALL
"""
# Sums stay integers here (fixed-point minutes); _by_sid turns them into hours.
_SUMMARY_ROWS = "SELECT sid, bucket, total, ext, mail, meeting, call, chat FROM summary"
_ACCOUNT_HOURS = """
SELECT sh.sid, sh.bucket, k.key, sum(sh.q) FROM shares sh LEFT JOIN keys k USING (kid)
WHERE NOT sh.internal AND sh.bucket IN (1, 2) GROUP BY ALL HAVING sum(sh.q) > 0
"""
_GROUP_HOURS = """
SELECT sh.sid, k.key, sum(sh.q) FROM shares sh JOIN keys k USING (kid)
WHERE sh.internal AND sh.bucket = 2 GROUP BY ALL HAVING sum(sh.q) > 0
"""
_DEPTH_ROWS = "SELECT d.sid, k.key, d.n, d.n_default FROM depth d JOIN keys k USING (kid)"
_LEADERSHIP = """
SELECT sh.sid, k.key, sum(sh.q), coalesce(sum(sh.q) FILTER (WHERE sh.cat = 2), 0),
       coalesce(sum(sh.q) FILTER (WHERE sh.cat = 1), 0), coalesce(sum(sh.q) FILTER (WHERE sh.cat = 0), 0)
FROM shares sh JOIN keys k USING (kid)
WHERE sh.meeting AND NOT sh.internal GROUP BY ALL HAVING sum(sh.q) > 0
"""
_ASSIGNED = """
SELECT DISTINCT s.sid, a.SellerAssignmentAccountId FROM assignments a JOIN sellers s ON s.seller = a.SellerEmail
WHERE a.SellerAssignmentStartDate <= $sunday AND a.SellerAssignmentAccountId IN (SELECT account_id FROM crm_accounts)
"""
_ACCOUNTS = """
SELECT a.account_id, a.account_name, a.potential, coalesce(k.n, 0)
FROM crm_accounts a LEFT JOIN (SELECT account_id, count(DISTINCT email) AS n FROM crm_contacts GROUP BY 1) k USING (account_id)
"""


def build(session: Session) -> None:
    """Create the small per-seller tables the cards read (summary, shares, depth) from the session's arrays."""
    con, a = session.con, session.arrays
    metrics_time.build(session)
    part, c = a.pop("part"), a["contrib"]
    c["row"] = np.arange(len(c["sid"]), dtype=np.int32)
    con.register("part", pa.table({"iid": part.iid, "pid": part.pid, "vis": part.vis, "kid": part.kid,
                                   "internal": a["internal_of_kid"][part.kid], "dflt": a["dflt_of_pid"][part.pid]}))
    con.register("contrib", pa.table({k: c[k] for k in ("row", "sid", "iid", "k", "bucket", "n_ext", "minutes")}))
    con.register("meaningful", pa.table(a["meaningful"]))
    con.execute(_CHAIN)
    cat = con.sql(_MEETING_CATEGORY).to_arrow_table()
    c["cat"] = np.zeros(len(c["sid"]), dtype=np.int8)
    c["cat"][cat.column("row").to_numpy()] = cat.column("cat").to_numpy()
    con.execute(_SUMMARY, {"scale": SCALE})
    con.execute(_DEPTH)
    con.unregister("part")
    con.execute(_SHARES)
    wanted = np.flatnonzero((c["bucket"] >= 1) | (c["k"] == 1))
    for chunk in np.array_split(wanted, max(1, len(wanted) // CHUNK_ROWS)):
        con.register("terms", pa.table(arrays.share_terms(c, chunk, part, a["first_row"], a["internal_of_kid"])))
        con.execute(_SHARES_ADD, {"scale": SCALE})
        con.unregister("terms")
    for name in ("contrib", "meaningful"):
        con.unregister(name)


def _by_sid(rows: list[tuple], hours_from: int | None = None) -> dict[int, list[tuple]]:
    """Rows grouped by their first column (seller id); columns from `hours_from` on are fixed-point
    minutes, made hours here: Python's int -> float is correctly rounded (DuckDB's HUGEINT -> DOUBLE
    may round twice)."""
    out: dict[int, list[tuple]] = defaultdict(list)
    for row in rows:
        if hours_from is None:
            out[row[0]].append(row[1:])
        else:
            out[row[0]].append(row[1:hours_from] + tuple(float(q) / SCALE / 60 for q in row[hours_from:]))
    return out


def results(session: Session) -> dict[str, Any]:
    """Every card's rows, grouped by seller id, plus the account catalogue."""
    con = session.con
    return {
        "sellers": con.execute("SELECT sid, seller, tz, start_iso, end_iso, locale FROM sellers ORDER BY seller").fetchall(),
        "summary": _by_sid(con.execute(_SUMMARY_ROWS).fetchall(), hours_from=2),
        "account_hours": _by_sid(con.execute(_ACCOUNT_HOURS).fetchall(), hours_from=3),
        "groups": _by_sid(con.execute(_GROUP_HOURS).fetchall(), hours_from=2),
        "depth": _by_sid(con.execute(_DEPTH_ROWS).fetchall()),
        "leadership": _by_sid(con.execute(_LEADERSHIP).fetchall(), hours_from=2),
        "assigned": _by_sid(con.execute(_ASSIGNED, {"sunday": session.week.sunday}).fetchall()),
        "accounts": {r[0]: r[1:] for r in con.execute(_ACCOUNTS).fetchall()},
    }
