"""The card aggregates (CONTRACT.md §5) as SQL over a :class:`digest.metrics_scope.Session`.

``contrib`` holds the seller's time per interaction and bucket (0 = the first two weeks of the
28-day window, 1 = prior week, 2 = reported week); every card is a GROUP BY over it, joined to
the per-interaction counts of ``vstats`` minus the seller's own row. Each function returns plain
rows grouped by seller id; ``digest.metrics`` turns them into value objects.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from digest.metrics_scope import Session

_BUCKET = "CASE WHEN {t} >= b.w0 THEN 2 WHEN {t} >= b.p0 THEN 1 WHEN {t} >= b.win0 THEN 0 ELSE -1 END"

# De-overlap: +1/-1 events per seller; segment [t_i, t_i+1) is shared 1/k among the k meetings
# covering it; F(t) = time credited before t; a meeting gets F(end) - F(start). Equality joins only.
_MEET_TIME = """
CREATE OR REPLACE TEMP TABLE meet_time AS
WITH m AS (SELECT sid, iid, t0, t1 FROM pairs WHERE kind = 'meeting' AND n_oth > 0),
ev AS (SELECT sid, t, sum(d) AS d FROM (SELECT sid, t0 AS t, 1 AS d FROM m UNION ALL SELECT sid, t1, -1 FROM m)
       GROUP BY sid, t),
seg AS (SELECT sid, t, sum(d) OVER w AS k, lead(t) OVER w - t AS len FROM ev
        WINDOW w AS (PARTITION BY sid ORDER BY t)),
f AS (SELECT sid, t, coalesce(sum(CASE WHEN k > 0 THEN len / k ELSE 0 END) OVER (PARTITION BY sid ORDER BY t
             ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS f FROM seg)
SELECT m.sid, m.iid, fe.f - fs.f AS secs
FROM m JOIN f fs ON fs.sid = m.sid AND fs.t = m.t0 JOIN f fe ON fe.sid = m.sid AND fe.t = m.t1
"""
_CHAT_MSGS = """
CREATE OR REPLACE TEMP TABLE chat_msgs AS
SELECT i.iid, pe.pid AS sender, epoch(m.SentTime) AS t
FROM chat_messages m JOIN inter i ON i.kind = 'chat' AND i.xid = m.ChatId JOIN persons pe ON pe.email = m.Sender
WHERE i.iid IN (SELECT iid FROM pairs WHERE kind = 'chat')
"""
_CONTRIB = f"""
CREATE OR REPLACE TEMP TABLE contrib AS
WITH b AS (SELECT p.*, {_BUCKET.format(t="p.t0").replace("b.", "p.")} AS bucket FROM pairs p WHERE p.n_oth > 0),
c AS (
    SELECT sid, iid, bucket, CASE WHEN sender THEN $sent ELSE $received END AS minutes
    FROM b WHERE kind = 'mail' AND bucket >= 0
    UNION ALL
    SELECT b.sid, b.iid, b.bucket, mt.secs / 60 FROM b JOIN meet_time mt ON mt.sid = b.sid AND mt.iid = b.iid
    WHERE b.kind = 'meeting' AND b.bucket >= 0
    UNION ALL
    SELECT sid, iid, bucket, secs / 60 FROM b WHERE kind = 'call' AND bucket >= 0
    UNION ALL
    SELECT b.sid, b.iid, {_BUCKET.format(t="m.t")} AS bk, count(*) * $chat
    FROM b JOIN chat_msgs m ON m.iid = b.iid AND m.sender = b.self_pid AND m.t >= b.win0 AND m.t < b.w1
    WHERE b.kind = 'chat' GROUP BY ALL
)
SELECT c.sid, c.iid, c.bucket, c.minutes, p.kind, p.view, p.n_ext, p.n_int, p.self_in_view, p.self_internal, p.self_key
FROM c JOIN pairs p ON p.sid = c.sid AND p.iid = c.iid
"""
# A chat is meaningful for a member when it has 2-8 members and >= 3 messages in their window.
_MEANINGFUL = """
CREATE OR REPLACE TEMP TABLE meaningful AS
SELECT sid, iid, view FROM pairs WHERE kind IN ('mail', 'meeting', 'call') AND n_oth BETWEEN 1 AND 7 AND t0 >= win0
UNION ALL
SELECT p.sid, p.iid, p.view FROM pairs p JOIN chat_msgs m ON m.iid = p.iid AND m.t >= p.win0 AND m.t < p.w1
WHERE p.kind = 'chat' AND p.n_oth BETWEEN 1 AND 7
GROUP BY ALL HAVING count(*) >= 3
"""
_SUMMARY = """
SELECT sid, bucket, sum(minutes) / 60, coalesce(sum(minutes) FILTER (WHERE n_ext > 0), 0) / 60,
       coalesce(sum(minutes) FILTER (WHERE kind = 'mail'), 0) / 60,
       coalesce(sum(minutes) FILTER (WHERE kind = 'meeting'), 0) / 60,
       coalesce(sum(minutes) FILTER (WHERE kind = 'call'), 0) / 60,
       coalesce(sum(minutes) FILTER (WHERE kind = 'chat'), 0) / 60
FROM contrib WHERE bucket IN (1, 2) GROUP BY ALL
"""
# Shares of the seller's time: per interaction, headcount of each key among the others.
# Only what a card shows: groups in the reported week, accounts in the prior and reported
# weeks, and accounts of meetings over the 28 days (leadership).
_SHARES = """
CREATE OR REPLACE TEMP TABLE shares AS
SELECT c.sid, c.iid, c.kind, c.bucket, v.internal, v.key,
       c.minutes * (v.n - CASE WHEN c.self_in_view AND c.self_internal = v.internal
                               AND c.self_key IS NOT DISTINCT FROM v.key THEN 1 ELSE 0 END)
                 / CASE WHEN v.internal THEN c.n_int ELSE c.n_ext END AS minutes
FROM contrib c JOIN vstats v ON v.iid = c.iid AND v.view = c.view
WHERE (v.internal AND c.n_int > 0 AND c.bucket = 2)
   OR (NOT v.internal AND c.n_ext > 0 AND (c.bucket >= 1 OR c.kind = 'meeting'))
"""
_ACCOUNT_HOURS = """
SELECT sid, bucket, key, sum(minutes) / 60 FROM shares
WHERE NOT internal AND bucket IN (1, 2) GROUP BY ALL HAVING sum(minutes) > 0
"""
_GROUP_HOURS = """
SELECT sid, key, sum(minutes) / 60 FROM shares WHERE internal AND bucket = 2 GROUP BY ALL HAVING sum(minutes) > 0
"""
_DEPTH = """
SELECT m.sid, w.account_id, count(DISTINCT p.pid), count(DISTINCT p.pid) FILTER (WHERE w.method = 'default')
FROM meaningful m JOIN sellers s USING (sid)
JOIN part p ON p.iid = m.iid AND (m.view = 1 OR p.vis) AND p.pid <> s.pid
JOIN who w ON w.pid = p.pid AND NOT w.internal AND w.account_id IS NOT NULL
GROUP BY ALL
"""
# The manager chain at the end of the window; a repeated person (a cycle) ends it.
_CHAIN = """
CREATE OR REPLACE TEMP TABLE chain AS
WITH RECURSIVE c(sid, person, depth, path) AS (
    SELECT s.sid, o.manager, 1, [s.seller, o.manager] FROM sellers s JOIN org o ON o.email = s.seller
    WHERE o.manager IS NOT NULL AND o.manager <> s.seller
    UNION ALL
    SELECT c.sid, o.manager, c.depth + 1, list_append(c.path, o.manager) FROM c JOIN org o ON o.email = c.person
    WHERE o.manager IS NOT NULL AND NOT list_contains(c.path, o.manager)
) SELECT c.sid, pe.pid, c.depth FROM c JOIN persons pe ON pe.email = c.person
"""
# 2 = a manager's manager or above attended, 1 = the manager did, 0 (no row) = neither.
_LEADERSHIP = """
WITH cm AS (SELECT DISTINCT sid, iid FROM shares WHERE kind = 'meeting' AND NOT internal AND key IS NOT NULL),
-- Materialized so the join is (meeting x the seller's chain) first, never the chain x everything.
cc AS MATERIALIZED (SELECT cm.sid, cm.iid, ch.pid, ch.depth FROM cm JOIN chain ch ON ch.sid = cm.sid),
cat AS (SELECT cc.sid, cc.iid, max(CASE WHEN cc.depth >= 2 THEN 2 ELSE 1 END) AS cat
        FROM cc JOIN part p ON p.iid = cc.iid AND p.pid = cc.pid GROUP BY ALL)
SELECT sh.sid, sh.key, sum(sh.minutes) / 60,
       coalesce(sum(sh.minutes) FILTER (WHERE cat.cat = 2), 0) / 60,
       coalesce(sum(sh.minutes) FILTER (WHERE cat.cat = 1), 0) / 60,
       coalesce(sum(sh.minutes) FILTER (WHERE cat.cat IS NULL), 0) / 60
FROM shares sh LEFT JOIN cat ON cat.sid = sh.sid AND cat.iid = sh.iid
WHERE sh.kind = 'meeting' AND NOT sh.internal AND sh.key IS NOT NULL GROUP BY ALL HAVING sum(sh.minutes) > 0
"""
_ASSIGNED = """
SELECT DISTINCT s.sid, a.SellerAssignmentAccountId FROM assignments a JOIN sellers s ON s.seller = a.SellerEmail
WHERE a.SellerAssignmentStartDate <= $sunday AND a.SellerAssignmentAccountId IN (SELECT account_id FROM crm_accounts)
"""
_ACCOUNTS = """
SELECT a.account_id, a.account_name, a.potential, coalesce(k.n, 0)
FROM crm_accounts a LEFT JOIN (SELECT account_id, count(DISTINCT email) AS n FROM crm_contacts GROUP BY 1) k USING (account_id)
"""
USED = """
SELECT s.seller, i.kind, i.xid AS interaction_id FROM (
    SELECT sid, iid FROM contrib UNION SELECT sid, iid FROM meaningful
) u JOIN sellers s USING (sid) JOIN inter i USING (iid) ORDER BY 1, 2, 3
"""


def build(session: Session) -> None:
    """Create the time tables (meet_time, chat_msgs, contrib, meaningful, shares, chain)."""
    con, m = session.con, session.settings.metrics
    con.execute(_MEET_TIME)
    con.execute(_CHAT_MSGS)
    con.execute(_CONTRIB, {"sent": float(m.mail_sent_minutes), "received": float(m.mail_received_minutes),
                           "chat": float(m.chat_message_minutes)})
    con.execute(_MEANINGFUL)
    con.execute(_SHARES)
    con.execute(_CHAIN)


def _by_sid(rows: list[tuple]) -> dict[int, list[tuple]]:
    out: dict[int, list[tuple]] = defaultdict(list)
    for row in rows:
        out[row[0]].append(row[1:])
    return out


def results(session: Session) -> dict[str, Any]:
    """Every card's rows, grouped by seller id, plus the account catalogue."""
    con = session.con
    return {
        "sellers": con.execute("SELECT sid, seller, tz, start_iso, end_iso FROM sellers ORDER BY seller").fetchall(),
        "summary": _by_sid(con.execute(_SUMMARY).fetchall()),
        "account_hours": _by_sid(con.execute(_ACCOUNT_HOURS).fetchall()),
        "groups": _by_sid(con.execute(_GROUP_HOURS).fetchall()),
        "depth": _by_sid(con.execute(_DEPTH).fetchall()),
        "leadership": _by_sid(con.execute(_LEADERSHIP).fetchall()),
        "assigned": _by_sid(con.execute(_ASSIGNED, {"sunday": session.week.sunday}).fetchall()),
        "accounts": {r[0]: r[1:] for r in con.execute(_ACCOUNTS).fetchall()},
    }
