"""Relationship health per account (CONTRACT.md §8) over a :class:`digest.metrics.session.Session`.

The window is ``relationship.window_weeks`` ISO weeks ending with the reported week, in the
seller's zone, moved to the first day of data when the data is shorter. Everything is DuckDB SQL
over the session's dataset tables and its ``who`` / ``keys`` / ``sellers`` tables (the same
matching, exclusions, opt-outs and de-duplicated rows as the other cards); the interaction rules of
§3 come from :func:`digest.metrics.interactions.counted` plus the meeting headcount rule here. The
other cards' arrays cover 28 days only: this step reads its longer range on its own, after they
are gone, so the other cards are not slowed down.

Steps (temp tables; strings are compared once, in the first joins, then only integers):

1. ``rel_who``: who matters, the sellers (``sid``) and external people matched to an account (``kid``);
2. strings to integers, once: ``rel_conv`` numbers the conversations; ``rel_ms`` is every counted
   mail (any time: conversation starts look back to the start of the data) with its row ``r``,
   time, ``cid`` and sender (pid, sid, kid); ``rel_mx`` every recipient of them with the same mail
   columns and its own pid / sid / kid. The recipients and meeting attendees come as integers from
   the session (``mail_rcpt``, ``meeting_att``: digest.metrics.interactions.SHARED_PARTICIPANTS, the
   MailId / MeetingId and email joins done once for all cards); this step drops them at its end;
3. ``rel_keep``: only the mails with an account person and the mails of their conversations go on
   (``rel_mp`` one row per mail and person who matters, ``rel_sm`` the sellers' own mails);
   meetings, calls and chats turn their emails into pids the same way;
4. ``rel_rows``: one row per seller, interaction and account person the seller saw in it (mails as
   the seller sees them: the sender sees bcc recipients, a bcc'd seller sees the visible ones),
   with ``you`` (the seller sent / organised), ``them`` (that person sent / organised), and for
   mails the conversation (``cid``) and whether the mail starts it for the seller (``start``);
5. ``rel_int``: the rows per (seller, account, interaction); per (seller, account) the counts,
   weeks, last and next interaction, response medians (one window pass) and the health score of
   both windows (the window and the one a week earlier), and the three most contacted people
   (``rel_top``; names looked up for those only).

:func:`card` turns the rows into a :class:`digest.cards.Relationship` (the accounts of the
time-with-customers card, in its order). docs/metrics.md#relationship-health has the rules in words.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Sequence
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from digest.cards import AccountRelationship, Relationship, WeekActivity, Window
from digest.config import RelationshipSettings
from digest.metrics import interactions
from digest.metrics.people import MEETING_MAX_SECONDS
from digest.metrics.session import Session
from digest.sources.contract import Dataset, has_column
from digest.weeks import IsoWeek

MAIL, MEETING, CALL, CHAT = interactions.MAIL, interactions.MEETING, interactions.CALL, interactions.CHAT
WEIGHT_UNITS = 1_000_000  # weights are taken to 6 decimals, so the score is integer arithmetic (exact round half up)
_FAR = dt.datetime(9999, 1, 1, tzinfo=dt.timezone.utc)
_EARLY = dt.datetime(1900, 1, 1, tzinfo=dt.timezone.utc)

_SELLERS = """
CREATE OR REPLACE TEMP TABLE rel_sellers AS
SELECT s.sid, s.pid, z.* EXCLUDE (tz, start_iso) FROM sellers s JOIN rel_zones z USING (tz) WHERE s.pid IS NOT NULL
"""
# Sellers (their own rows) and external people matched to an account (kid); nobody else matters here.
# who has every email once (pid), so comparing pids is comparing emails.
_WHO = """
CREATE OR REPLACE TEMP TABLE rel_who AS
SELECT w.pid, s.sid, CASE WHEN NOT w.internal AND w.kid > 0 THEN w.kid END AS kid
FROM who w LEFT JOIN rel_sellers s ON s.pid = w.pid
WHERE s.sid IS NOT NULL OR (NOT w.internal AND w.kid > 0)
"""
# Conversations numbered once (ConversationId strings are compared here only).
_CONVERSATIONS = """
CREATE OR REPLACE TEMP TABLE rel_conv AS
SELECT ConversationId AS conv, CAST(row_number() OVER () AS INTEGER) AS cid
FROM (SELECT DISTINCT ConversationId FROM rel_mails WHERE ok AND ConversationId IS NOT NULL)
"""
# The counted mails (any time) with the sender's pid (the one string join of the mails here), then
# every recipient of them (the session's mail_rcpt, integers) with the mail's row, time, conversation
# and sender. Each person comes with their seller id and account (as rel_who has them), so what
# follows joins integers only and never goes back from a recipient to its mail.
_MAILS_INT = """
CREATE OR REPLACE TEMP TABLE rel_ms AS
SELECT m.r, epoch(m.SentTime) AS t, c.cid, w.pid AS spid, s.sid AS ssid,
       CASE WHEN NOT w.internal AND w.kid > 0 THEN w.kid END AS skid
FROM rel_mails m LEFT JOIN who w ON w.email = m.Sender LEFT JOIN rel_sellers s ON s.pid = w.pid
LEFT JOIN rel_conv c ON c.conv = m.ConversationId WHERE m.ok
"""
_RECIPIENTS_INT = """
CREATE OR REPLACE TEMP TABLE rel_mx AS
SELECT m.r, m.t, m.cid, m.spid, x.pid, coalesce(NOT x.vis, false) AS bcc, w.sid, w.kid
FROM mail_rcpt x JOIN rel_ms m ON m.r = x.r LEFT JOIN rel_who w ON w.pid = x.pid
"""
# The mails that matter (about half): those with a person matched to an account, and every mail of
# their conversations (a mail starts a conversation unless the seller has an earlier one in it).
_MAIL_KEEP = """
CREATE OR REPLACE TEMP TABLE rel_keep AS
WITH a AS (SELECT r, cid FROM rel_ms WHERE skid IS NOT NULL UNION ALL SELECT r, cid FROM rel_mx WHERE kid IS NOT NULL)
SELECT r FROM rel_ms
WHERE cid IN (SELECT cid FROM a WHERE cid IS NOT NULL) OR (cid IS NULL AND r IN (SELECT r FROM a WHERE cid IS NULL))
"""
# Mail participants who matter (rel_who), one row per (kept mail, person): role 0 sender, 1 to / cc, 2 only bcc.
_MAIL_PART = """
CREATE OR REPLACE TEMP TABLE rel_mp AS
SELECT r, pid, any_value(sid) AS sid, any_value(kid) AS kid, min(role) AS role, any_value(t) AS t, any_value(cid) AS cid
FROM (SELECT r, spid AS pid, ssid AS sid, skid AS kid, 0 AS role, t, cid FROM rel_ms WHERE ssid IS NOT NULL OR skid IS NOT NULL
      UNION ALL
      SELECT r, pid, sid, kid, 1 + bcc::INTEGER, t, cid FROM rel_mx WHERE sid IS NOT NULL OR kid IS NOT NULL) p
SEMI JOIN rel_keep USING (r) GROUP BY r, pid
"""
# A mail a seller sent only to themselves is not counted (CONTRACT.md §3): the sent mails of a
# conversation that have another recipient (the others do not matter for conversation starts).
_HAS_OTHER = """
CREATE OR REPLACE TEMP TABLE rel_has_other AS
SELECT DISTINCT r FROM rel_mx WHERE cid IS NOT NULL AND pid <> spid AND spid IN (SELECT pid FROM sellers)
"""
# Every counted mail of each seller (any time: conversation starts are looked up in all the data).
_SELLER_MAILS = """
CREATE OR REPLACE TEMP TABLE rel_sm AS
SELECT p.sid, p.pid, p.r, p.t, p.cid, p.role = 0 AS sent FROM rel_mp p
WHERE p.sid IS NOT NULL AND (p.role > 0 OR p.cid IS NULL OR p.r IN (SELECT r FROM rel_has_other))
"""
_FIRST = """
CREATE OR REPLACE TEMP TABLE rel_first AS
SELECT sid, cid, min(t) AS t0 FROM rel_sm WHERE cid IS NOT NULL GROUP BY ALL
"""
# Meeting and call participants, one row per (interaction, person); meetings with their headcount
# (organizer and attendees not declined) from 2 to 249 only.
_MEET_PART = """
CREATE OR REPLACE TEMP TABLE rel_ep AS
WITH x AS MATERIALIZED (
    SELECT e.r, epoch(e.StartTime) AS t, w.pid, true AS org FROM rel_meetings e JOIN who w ON w.email = e.Organizer WHERE e.ok
    UNION ALL
    SELECT e.r, epoch(e.StartTime), a.pid, false FROM meeting_att a JOIN rel_meetings e ON e.r = a.r AND e.ok
), n AS (SELECT r FROM x GROUP BY r HAVING count(DISTINCT pid) BETWEEN 2 AND 249)
SELECT x.r, x.pid, any_value(w.sid) AS sid, any_value(w.kid) AS kid, bool_or(x.org) AS org, any_value(x.t) AS t
FROM x SEMI JOIN n USING (r) JOIN rel_who w USING (pid) GROUP BY x.r, x.pid
"""
_CALL_PART = """
CREATE OR REPLACE TEMP TABLE rel_cp AS
SELECT c.r, w.pid, any_value(w.sid) AS sid, any_value(w.kid) AS kid, any_value(epoch(c.StartTime)) AS t
FROM call_participants p JOIN rel_calls c ON c.CallId = p.CallId AND c.ok JOIN who e ON e.email = p.Email
JOIN rel_who w ON w.pid = e.pid GROUP BY c.r, w.pid
"""
# Chat members (members and senders, as in the other cards) who matter, and the messages of the range.
_CHAT_PART = """
CREATE OR REPLACE TEMP TABLE rel_chp AS
SELECT DISTINCT x.ChatId, w.pid, w.sid, w.kid
FROM (SELECT ChatId, Email FROM chat_members UNION ALL SELECT ChatId, Sender FROM chat_messages) x
JOIN who e ON e.email = x.Email JOIN rel_who w ON w.pid = e.pid
"""
# One row per (seller, interaction, account person the seller saw in it).
_ROWS = """
CREATE OR REPLACE TEMP TABLE rel_rows AS
SELECT s.sid, a.kid, a.pid, 0 AS k, s.r AS item, s.t, s.cid, s.sent AS you, a.role = 0 AS them,
       s.cid IS NOT NULL AND s.t = f.t0 AS start
FROM rel_sm s JOIN rel_sellers b ON b.sid = s.sid AND s.t >= b.rp0 AND s.t < b.w1
JOIN rel_mp a ON a.r = s.r AND a.kid IS NOT NULL AND a.pid <> s.pid AND (s.sent OR a.role < 2)
LEFT JOIN rel_first f ON f.sid = s.sid AND f.cid = s.cid
UNION ALL
SELECT s.sid, a.kid, a.pid, 1, s.r, s.t, NULL, s.org, a.org, false
FROM rel_ep s JOIN rel_sellers b ON b.sid = s.sid AND s.t >= b.rp0 AND s.t < b.r1
JOIN rel_ep a ON a.r = s.r AND a.kid IS NOT NULL AND a.pid <> s.pid
UNION ALL
SELECT s.sid, a.kid, a.pid, 2, s.r, s.t, NULL, false, false, false
FROM rel_cp s JOIN rel_sellers b ON b.sid = s.sid AND s.t >= b.rp0 AND s.t < b.w1
JOIN rel_cp a ON a.r = s.r AND a.kid IS NOT NULL AND a.pid <> s.pid
UNION ALL
SELECT s.sid, a.kid, a.pid, 3, m.r, epoch(m.SentTime), NULL, false, false, false
FROM rel_chp s JOIN rel_chp a ON a.ChatId = s.ChatId AND a.kid IS NOT NULL AND a.pid <> s.pid
JOIN rel_sellers b ON b.sid = s.sid
JOIN rel_chats m ON m.ChatId = s.ChatId AND epoch(m.SentTime) >= b.rp0 AND epoch(m.SentTime) < b.w1
WHERE s.sid IS NOT NULL
"""
_INTERACTIONS = """
CREATE OR REPLACE TEMP TABLE rel_int AS
SELECT i.*, {week_index} AS widx, i.t >= b.r0 AND i.t < b.w1 AS cur, i.t >= b.rp0 AND i.t < b.w0 AS prev
FROM (SELECT sid, kid, k, item, any_value(t) AS t, any_value(cid) AS cid, bool_or(you) AS you, bool_or(them) AS them,
             bool_or(start) AS start FROM rel_rows GROUP BY sid, kid, k, item) i
JOIN rel_sellers b USING (sid)
"""
# Health (CONTRACT.md §8) in integers: round(100 x (wf F + wr R + wb B)) = floor((2N + D) / 2D) with
# F = min(weeks, E) / E, R = max(0, RD - elapsed) / RD (microseconds), B = bn / bd.
_HEALTH = """(
    (2 * 100 * ($wf * least({weeks}, $e) * {bd} * $rd + $wr * {rn} * $e * {bd} + $wb * {bn} * $e * $rd)
     + CAST($units AS HUGEINT) * $e * {bd} * $rd)
    // (2 * CAST($units AS HUGEINT) * $e * {bd} * $rd))"""
_STATS = """
CREATE OR REPLACE TEMP TABLE rel_stats AS
WITH a AS (
    SELECT i.sid, i.kid,
        count(*) FILTER (WHERE cur AND k = 0 AND you) AS sent,
        count(*) FILTER (WHERE cur AND k = 0 AND them) AS received,
        count(*) FILTER (WHERE cur AND ((k = 0 AND you AND start) OR (k = 1 AND you))) AS init_you,
        count(*) FILTER (WHERE cur AND ((k = 0 AND them AND start) OR (k = 1 AND them))) AS init_them,
        count(DISTINCT widx) FILTER (WHERE cur) AS weeks,
        max(t) FILTER (WHERE cur) AS last,
        min(t) FILTER (WHERE k = 1 AND t >= b.w1 AND t < b.r1) AS next,
        count(*) FILTER (WHERE prev AND k = 0 AND you) AS sent_p,
        count(*) FILTER (WHERE prev AND k = 0 AND them) AS received_p,
        count(DISTINCT widx) FILTER (WHERE prev) AS weeks_p,
        max(t) FILTER (WHERE prev) AS last_p,
        any_value(b.w1) AS w1, any_value(b.w0) AS w0
    FROM rel_int i JOIN rel_sellers b USING (sid) GROUP BY ALL
), h AS (
    SELECT *,
        CAST(CASE WHEN sent > 0 THEN least(received, sent) ELSE (received > 0)::INTEGER END AS HUGEINT) AS bn,
        CAST(greatest(sent, 1) AS HUGEINT) AS bd,
        CAST(coalesce(greatest(0, $rd - CAST(round((w1 - last) * 1e6) AS HUGEINT)), 0) AS HUGEINT) AS rn,
        CAST(CASE WHEN sent_p > 0 THEN least(received_p, sent_p) ELSE (received_p > 0)::INTEGER END AS HUGEINT) AS bn_p,
        CAST(greatest(sent_p, 1) AS HUGEINT) AS bd_p,
        CAST(coalesce(greatest(0, $rd - CAST(round((w0 - last_p) * 1e6) AS HUGEINT)), 0) AS HUGEINT) AS rn_p
    FROM a
)
SELECT sid, kid, sent, received, init_you, init_them, last, next,
       CAST({health} AS INTEGER) AS health, CAST({health_p} AS INTEGER) AS health_p FROM h
"""
# Response times: per seller, account and conversation, for each mail of the window the other
# side's next mail strictly later (the frame leaves out the mails of the same instant), if it comes
# before this side's next one, within reply_days and before the window's end; the median over mails
# (DuckDB's median interpolates an even count). A later mail is in the window too, so mails before
# it (the week before, kept for health_change) are left out.
_REPLIES = """
WITH n AS (
    SELECT sid, kid, t, you, them, min(CASE WHEN you THEN t END) OVER w AS next_y, min(CASE WHEN them THEN t END) OVER w AS next_h
    FROM rel_int WHERE k = 0 AND cur AND cid IS NOT NULL AND (you OR them)
    WINDOW w AS (PARTITION BY sid, kid, cid ORDER BY t RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING EXCLUDE GROUP)
), p AS (
    SELECT n.sid, n.kid, n.them AS to_you,
           CASE WHEN n.them AND n.next_y < coalesce(n.next_h, 'infinity'::DOUBLE) THEN n.next_y
                WHEN n.you AND n.next_h < coalesce(n.next_y, 'infinity'::DOUBLE) THEN n.next_h END - n.t AS secs,
           b.w1 - n.t AS before_end
    FROM n JOIN rel_sellers b USING (sid)
)
SELECT p.sid, k.key, median(secs) FILTER (WHERE to_you) / 3600, median(secs) FILTER (WHERE NOT to_you) / 3600
FROM p JOIN keys k USING (kid) WHERE secs <= $reply AND secs < before_end GROUP BY ALL
"""
_STATS_ROWS = """
SELECT s.sid, k.key, s.sent, s.received, s.init_you, s.init_them, s.last, s.next, s.health, s.health_p
FROM rel_stats s JOIN keys k USING (kid)
"""
_WEEKLY = """
SELECT i.sid, k.key, i.widx, count(*) FILTER (WHERE i.k = 0 AND i.you), count(*) FILTER (WHERE i.k = 0 AND i.them),
       count(*) FILTER (WHERE i.k = 1), count(*) FILTER (WHERE i.k = 2)
FROM rel_int i JOIN keys k USING (kid) WHERE i.cur AND i.k < 3 GROUP BY ALL
"""
# The three most contacted people per (seller, account) in the window: most interactions, then email.
_TOP = """
CREATE OR REPLACE TEMP TABLE rel_top AS
WITH r AS (
    SELECT r.sid, r.kid, r.pid, count(*) AS n FROM rel_rows r JOIN rel_sellers b USING (sid)
    WHERE r.t >= b.r0 AND r.t < b.w1 GROUP BY ALL
)
SELECT r.sid, r.kid, r.n, w.email FROM r JOIN who w ON w.pid = r.pid
QUALIFY row_number() OVER (PARTITION BY r.sid, r.kid ORDER BY r.n DESC, w.email) <= 3
"""
# Their names: that of the contact row rule 1 of CONTRACT.md §4 matches (latest start, smallest
# account, id); only the emails of rel_top are looked up (all of their contact rows).
_NAMES = """
CREATE OR REPLACE TEMP TABLE rel_names AS
SELECT c.email, nullif(trim(x.ContactName), '') AS name FROM crm_contacts c
JOIN contacts x ON x.ContactId = c.contact_id AND x.ContactsStartDate = c.start_date
WHERE c.email IN (SELECT email FROM rel_top)
QUALIFY row_number() OVER (PARTITION BY c.email ORDER BY c.start_date DESC, c.account_id, c.contact_id) = 1
"""
_PEOPLE = """
SELECT t.sid, k.key, coalesce(n.name, t.email) AS shown FROM rel_top t JOIN keys k ON k.kid = t.kid
LEFT JOIN rel_names n ON n.email = t.email
ORDER BY t.sid, k.key, t.n DESC, t.email
"""
_TABLES = ("rel_sellers", "rel_who", "rel_conv", "rel_ms", "rel_mx", "rel_keep", "rel_mp", "rel_has_other", "rel_sm", "rel_first", "rel_ep", "rel_cp", "rel_chp",
           "rel_rows", "rel_int", "rel_stats", "rel_top", "rel_names")

# The steps up to rel_rows, each with the tables no later step reads: dropped at once, so DuckDB
# holds only what is still needed (at 20,000 sellers the mail tables are GBs; beyond its memory
# limit it would spill them to disk).
_STEPS = ((_SELLERS, ()), (_WHO, ()), (_CONVERSATIONS, ()), (_MAILS_INT, ("rel_conv",)), (_RECIPIENTS_INT, ()),
          (_MAIL_KEEP, ()), (_MAIL_PART, ("rel_keep", "rel_ms")), (_HAS_OTHER, ("rel_mx",)), (_SELLER_MAILS, ("rel_has_other",)),
          (_FIRST, ()), (_MEET_PART, ()), (_CALL_PART, ()), (_CHAT_PART, ()),
          (_ROWS, ("rel_mp", "rel_sm", "rel_first", "rel_ep", "rel_cp", "rel_chp")))


@dataclass(frozen=True)
class ZoneWindow:
    """The relationship window in one time zone: bounds (epoch seconds) and its ISO weeks."""

    start_iso: str  # window.start (moved to the first day of data when the data is shorter)
    end_iso: str
    weeks: tuple[tuple[int, str], ...]  # (week index 1..W, "2026-W47") of the weeks the window touches
    previous: bool  # the window one week earlier holds data (health_change is not null)


def zone_windows(week: IsoWeek, zones: Sequence[str], r: RelationshipSettings,
                 first_data: dt.datetime | None) -> tuple[pa.Table, dict[str, ZoneWindow]]:
    """Per time zone: the bounds table the SQL joins (rel_zones) and the window as the card writes it.

    Week j (0..W) is ``week.shift(j - W)``: the window is weeks 1..W, the one a week earlier 0..W-1.
    """
    n = r.window_weeks
    cols: dict[str, list] = {k: [] for k in ("tz", "start_iso", "r0", "rp0", "w0", "w1", "r1")}
    for j in range(n + 1):
        cols[f"b{j}"] = []
    out = {}
    for tz in zones:
        zone = ZoneInfo(tz)
        starts = [week.shift(j - n).bounds(tz)[0] for j in range(n + 1)]
        w0, w1 = week.bounds(tz)
        first = None if first_data is None else dt.datetime.combine(first_data.astimezone(zone).date(), dt.time(0), tzinfo=zone)
        r0 = min(max(starts[1], first), w1) if first else starts[1]
        rp0 = min(max(starts[0], first), w0) if first else starts[0]
        for key, value in (("tz", tz), ("start_iso", r0.isoformat()), ("r0", r0), ("rp0", rp0), ("w0", w0), ("w1", w1),
                           ("r1", w1 + dt.timedelta(days=r.lookahead_days))):
            cols[key].append(value if key in ("tz", "start_iso") else value.timestamp())
        for j, start in enumerate(starts):
            cols[f"b{j}"].append(start.timestamp())
        ends = starts[2:] + [w1]
        weeks = tuple((j, str(week.shift(j - n))) for j, end in zip(range(1, n + 1), ends) if end > r0)
        out[tz] = ZoneWindow(r0.isoformat(), w1.isoformat(), weeks, first is None or w0 > first)
    schema = pa.schema([("tz", pa.string()), ("start_iso", pa.string())]
                       + [(k, pa.float64()) for k in cols if k not in ("tz", "start_iso")])
    return pa.table(cols, schema=schema), out


def first_day_of_data(dataset: Dataset) -> dt.datetime | None:
    """The earliest start of any collaboration row (mail, meeting, call, chat message), UTC; None without any."""
    found = [pc.min(t.column(c)).as_py() for t, c in ((dataset.mails, "SentTime"), (dataset.meetings, "StartTime"),
                                                      (dataset.calls, "StartTime"), (dataset.chat_messages, "SentTime"))]
    found = [f for f in found if f is not None]
    return min(found) if found else None


def _register(session: Session, lo: dt.datetime, hi: dt.datetime, hi_next: dt.datetime) -> None:
    """The collaboration tables with a row number ``r`` and ``ok`` (counted, CONTRACT.md §3, in range)."""
    con, d = session.con, session.dataset
    mails, _, _ = interactions.counted(d, _EARLY, hi, MEETING_MAX_SECONDS)  # mails of any time: conversation starts
    _, meetings, _ = interactions.counted(d, lo, hi_next, MEETING_MAX_SECONDS)  # meetings up to the lookahead
    _, _, calls = interactions.counted(d, lo, hi, MEETING_MAX_SECONDS)
    con.register("rel_mails", d.mails.select(["MailId", "SentTime", "Sender", "ConversationId"])
                 .append_column("r", _rows(d.mails)).append_column("ok", mails))
    con.register("rel_meetings", d.meetings.select(["MeetingId", "StartTime", "Organizer"])
                 .append_column("r", _rows(d.meetings)).append_column("ok", meetings))
    con.register("rel_calls", d.calls.select(["CallId", "StartTime"]).append_column("r", _rows(d.calls)).append_column("ok", calls))
    chats = d.chat_messages
    in_range = pc.and_(pc.greater_equal(chats.column("SentTime"), pa.scalar(lo, chats.column("SentTime").type)),
                       pc.less(chats.column("SentTime"), pa.scalar(hi, chats.column("SentTime").type)))
    con.register("rel_chats", chats.select(["ChatId", "SentTime"]).append_column("r", _rows(chats)).filter(in_range))


def _rows(table: pa.Table) -> pa.Array:
    return pa.array(np.arange(table.num_rows, dtype=np.int32))


def results(session: Session) -> dict[str, Any]:
    """The relationship rows of every seller of the session, grouped by seller id (see the module doc)."""
    con, r = session.con, session.settings.relationship
    zones = [z for (z,) in con.execute("SELECT DISTINCT tz FROM sellers ORDER BY tz").fetchall()]
    bounds, windows = zone_windows(session.week, zones, r, first_day_of_data(session.dataset))
    if not zones:
        return {"windows": windows, "stats": {}, "weekly": {}, "people": {}, "replies": {}, "conversations": True}
    utc = dt.timezone.utc
    lo = dt.datetime.fromtimestamp(min(bounds.column("rp0").to_pylist()), utc)
    hi = dt.datetime.fromtimestamp(max(bounds.column("w1").to_pylist()), utc)
    hi_next = dt.datetime.fromtimestamp(max(bounds.column("r1").to_pylist()), utc)
    con.register("rel_zones", bounds)
    _register(session, lo, hi, hi_next)
    conversations = has_column(session.dataset.mails, "ConversationId")
    week_index = " + ".join(f"(i.t >= b.b{j})::INTEGER" for j in range(1, r.window_weeks + 1))  # j: a code-made int
    for sql, done in _STEPS:
        con.execute(sql)
        for table in done:
            con.execute(f"DROP TABLE {table}")  # table names are code constants
    con.execute(_INTERACTIONS.format(week_index=week_index))
    health = _HEALTH.format(weeks="weeks", bd="bd", rn="rn", bn="bn")
    health_p = _HEALTH.format(weeks="weeks_p", bd="bd_p", rn="rn_p", bn="bn_p")
    params = {"wf": round(r.weight_frequency * WEIGHT_UNITS), "wr": round(r.weight_recency * WEIGHT_UNITS),
              "wb": round(r.weight_balance * WEIGHT_UNITS), "units": WEIGHT_UNITS, "e": r.expected_weeks,
              "rd": r.recency_days * 86_400 * 1_000_000}
    con.execute(_STATS.format(health=health, health_p=health_p), params)
    con.execute(_TOP)
    con.execute("DROP TABLE rel_rows")
    con.execute(_NAMES)
    out = {
        "windows": windows, "conversations": conversations,
        "stats": _grouped(con.execute(_STATS_ROWS).fetchall(), 2),
        "weekly": _grouped(con.execute(_WEEKLY).fetchall(), 2),
        "people": _grouped(con.execute(_PEOPLE).fetchall(), 2),
        "replies": _grouped(con.execute(_REPLIES, {"reply": r.reply_days * 86_400}).fetchall(), 2) if conversations else {},
    }
    for table in _TABLES + interactions.SHARED_TABLES:
        con.execute(f"DROP TABLE IF EXISTS {table}")  # table names are code constants
    for name in ("rel_zones", "rel_mails", "rel_meetings", "rel_calls", "rel_chats"):
        con.unregister(name)
    return out


def _grouped(rows: list[tuple], key_columns: int) -> dict[tuple, list[tuple]]:
    """Rows grouped by their first `key_columns` columns (seller id, account id)."""
    out: dict[tuple, list[tuple]] = defaultdict(list)
    for row in rows:
        out[row[:key_columns]].append(row[key_columns:])
    return out


def grade(health: int) -> str:
    """good >= 60, fair 40-59, poor < 40 (CONTRACT.md §8)."""
    return "good" if health >= 60 else "fair" if health >= 40 else "poor"


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def card(sid: int, tz: str, accounts: Sequence[tuple[str, str]], rel: dict[str, Any]) -> Relationship:
    """The relationship card of one seller: every (account_id, account_name) given, in that order."""
    window: ZoneWindow = rel["windows"][tz]
    zone, quiet = ZoneInfo(tz), _quiet_weeks(window)
    out = []
    for account_id, name in accounts:
        key = (sid, account_id)
        stats = rel["stats"].get(key)
        sent, received, init_you, init_them, last, nxt, health, health_p = stats[0] if stats else (0, 0, 0, 0, None, None, 0, 0)
        replies = rel["replies"].get(key)
        you, them = replies[0] if replies else (None, None)
        weekly = _weekly(window, quiet, rel["weekly"].get(key))
        conv = rel["conversations"]
        out.append(AccountRelationship(
            account_id, name, sent, received, _ratio(sent, received), _ratio(received, sent),
            init_you if conv else None, init_them if conv else None, you, them,
            _iso(last, zone), _iso(nxt, zone),
            weekly,
            tuple(p for (p,) in rel["people"].get(key, ())), int(health), grade(int(health)),
            int(health) - int(health_p) if window.previous else None))
    return Relationship(Window(window.start_iso, window.end_iso), tuple(out))


@lru_cache(maxsize=64)
def _quiet_weeks(window: ZoneWindow) -> tuple[WeekActivity, ...]:
    """The window's weeks without any activity (shared: the card's objects are immutable)."""
    return tuple(WeekActivity(label, 0, 0, 0, 0) for _, label in window.weeks)


def _weekly(window: ZoneWindow, quiet: tuple[WeekActivity, ...], rows: list[tuple] | None) -> tuple[WeekActivity, ...]:
    if not rows:
        return quiet
    counts = {w: c for w, *c in rows}
    return tuple(WeekActivity(label, *counts[j]) if j in counts else q for (j, label), q in zip(window.weeks, quiet))


def _iso(epoch: float | None, zone: ZoneInfo) -> str | None:
    return None if epoch is None else dt.datetime.fromtimestamp(epoch, zone).isoformat()
