"""The relationship card's SQL (digest.metrics.relationship), one statement per step, in the order they run.

Table and column names are code constants; values are bound as parameters ($wf, $reply, …) and the
only formatted parts are code-made expressions (the week index, the health formula).
"""

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
# Conversations numbered once (ConversationId strings are compared here only). In DuckDB, on both
# cores: numbering them with Arrow's dictionary_encode took 6.8 s at 20,000 sellers, this 2.5 s.
# rel_mails.ok holds only the mails a seller of the session took part in (steps._sellers_mails).
_CONVERSATIONS = """
CREATE OR REPLACE TEMP TABLE rel_conv AS
SELECT ConversationId AS conv, CAST(row_number() OVER () AS INTEGER) AS cid
FROM (SELECT DISTINCT ConversationId FROM rel_mails WHERE ok AND ConversationId IS NOT NULL)
"""
# The counted mails (any time) with the sender's pid and the conversation (the one string join of
# the mails here), then every recipient who matters (the session's mail_rcpt, integers, joined with
# rel_who) with the mail's row and conversation. Each person comes with their seller id and account
# (as rel_who has them), so what follows joins integers only.
_MAILS_INT = """
CREATE OR REPLACE TEMP TABLE rel_ms AS
SELECT m.r, epoch(m.SentTime) AS t, c.cid, w.pid AS spid, s.sid AS ssid,
       CASE WHEN NOT w.internal AND w.kid > 0 THEN w.kid END AS skid
FROM rel_mails m LEFT JOIN who w ON w.pid = m.sender_pid LEFT JOIN rel_sellers s ON s.pid = w.pid
LEFT JOIN rel_conv c ON c.conv = m.ConversationId WHERE m.ok
"""
_RECIPIENTS_INT = """
CREATE OR REPLACE TEMP TABLE rel_mx AS
SELECT m.r, m.t, m.cid, x.pid, coalesce(NOT x.vis, false) AS bcc, w.sid, w.kid
FROM mail_rcpt x JOIN rel_who w ON w.pid = x.pid JOIN rel_ms m ON m.r = x.r
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
      SELECT r, pid, sid, kid, 1 + bcc::INTEGER, t, cid FROM rel_mx) p
SEMI JOIN rel_keep USING (r) GROUP BY r, pid
"""
# A mail a seller sent only to themselves is not counted (CONTRACT.md §3): the sellers' sent mails
# of a conversation that have another recipient, anyone (the others do not matter for conversation starts).
_HAS_OTHER = """
CREATE OR REPLACE TEMP TABLE rel_has_other AS
SELECT DISTINCT m.r FROM (SELECT r, spid FROM rel_ms WHERE cid IS NOT NULL AND ssid IS NOT NULL) m
JOIN mail_rcpt x ON x.r = m.r AND x.pid <> m.spid
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
# (organizer and attendees not declined) from 2 to 249 only, and (as for mails) a seller of the session in them.
_MEET_PART = """
CREATE OR REPLACE TEMP TABLE rel_ep AS
WITH y AS MATERIALIZED (
    SELECT e.r, epoch(e.StartTime) AS t, e.organizer_pid AS pid, true AS org FROM rel_meetings e WHERE e.ok AND e.organizer_pid IS NOT NULL
    UNION ALL
    SELECT e.r, epoch(e.StartTime), a.pid, false FROM meeting_att a JOIN rel_meetings e ON e.r = a.r AND e.ok
), x AS (SELECT * FROM y WHERE r IN (SELECT r FROM y SEMI JOIN rel_sellers s USING (pid))
), n AS (SELECT r FROM x GROUP BY r HAVING count(DISTINCT pid) BETWEEN 2 AND 249)
SELECT x.r, x.pid, any_value(w.sid) AS sid, any_value(w.kid) AS kid, bool_or(x.org) AS org, any_value(x.t) AS t
FROM x SEMI JOIN n USING (r) JOIN rel_who w USING (pid) GROUP BY x.r, x.pid
"""
_CALL_PART = """
CREATE OR REPLACE TEMP TABLE rel_cp AS
SELECT c.r, w.pid, any_value(w.sid) AS sid, any_value(w.kid) AS kid, any_value(epoch(c.StartTime)) AS t
FROM call_participants p JOIN rel_calls c ON c.CallId = p.CallId AND c.ok
JOIN rel_who w ON w.pid = p.pid GROUP BY c.r, w.pid
"""
# Chat members (members and senders, as in the other cards) who matter, and the messages of the range.
_CHAT_PART = """
CREATE OR REPLACE TEMP TABLE rel_chp AS
SELECT DISTINCT x.ChatId, w.pid, w.sid, w.kid
FROM (SELECT ChatId, pid FROM chat_members UNION ALL SELECT ChatId, sender_pid FROM chat_messages) x
JOIN rel_who w ON w.pid = x.pid
"""
# The accounts the card shows per seller (those of the time-with-customers card: digest.metrics.engine),
# as integers; no other (seller, account) needs a row.
_LISTED = """
CREATE OR REPLACE TEMP TABLE rel_listed AS
SELECT DISTINCT l.sid, k.kid FROM rel_listed_keys l JOIN keys k ON k.key = l.key AND NOT k.internal
"""
# One row per (seller, interaction, account person the seller saw in it), for the accounts listed.
_ROWS = """
CREATE OR REPLACE TEMP TABLE rel_rows AS
SELECT * FROM (
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
) u SEMI JOIN rel_listed USING (sid, kid)
"""
INTERACTIONS = """
CREATE OR REPLACE TEMP TABLE rel_int AS
SELECT i.*, {week_index} AS widx, i.t >= b.r0 AND i.t < b.w1 AS cur, i.t >= b.rp0 AND i.t < b.w0 AS prev
FROM (SELECT sid, kid, k, item, any_value(t) AS t, any_value(cid) AS cid, bool_or(you) AS you, bool_or(them) AS them,
             bool_or(start) AS start FROM rel_rows GROUP BY sid, kid, k, item) i
JOIN rel_sellers b USING (sid)
"""
# Health (CONTRACT.md §8) in integers: round(100 x (wf F + wr R + wb B)) = floor((2N + D) / 2D) with
# F = min(weeks, E) / E, R = max(0, RD - elapsed) / RD (microseconds), B = bn / bd.
HEALTH = """(
    (2 * 100 * ($wf * least({weeks}, $e) * {bd} * $rd + $wr * {rn} * $e * {bd} + $wb * {bn} * $e * $rd)
     + CAST($units AS HUGEINT) * $e * {bd} * $rd)
    // (2 * CAST($units AS HUGEINT) * $e * {bd} * $rd))"""
STATS = """
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
REPLIES = """
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
STATS_ROWS = """
SELECT s.sid, k.key, s.sent, s.received, s.init_you, s.init_them, s.last, s.next, s.health, s.health_p
FROM rel_stats s JOIN keys k USING (kid)
"""
WEEKLY = """
SELECT i.sid, k.key, i.widx, count(*) FILTER (WHERE i.k = 0 AND i.you), count(*) FILTER (WHERE i.k = 0 AND i.them),
       count(*) FILTER (WHERE i.k = 1), count(*) FILTER (WHERE i.k = 2)
FROM rel_int i JOIN keys k USING (kid) WHERE i.cur AND i.k < 3 GROUP BY ALL
"""
# The three most contacted people per (seller, account) in the window: most interactions, then email.
TOP = """
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
NAMES = """
CREATE OR REPLACE TEMP TABLE rel_names AS
SELECT c.email, nullif(trim(x.ContactName), '') AS name FROM crm_contacts c
JOIN contacts x ON x.ContactId = c.contact_id AND x.ContactsStartDate = c.start_date
WHERE c.email IN (SELECT email FROM rel_top)
QUALIFY row_number() OVER (PARTITION BY c.email ORDER BY c.start_date DESC, c.account_id, c.contact_id) = 1
"""
PEOPLE = """
SELECT t.sid, k.key, coalesce(n.name, t.email) AS shown FROM rel_top t JOIN keys k ON k.kid = t.kid
LEFT JOIN rel_names n ON n.email = t.email
ORDER BY t.sid, k.key, t.n DESC, t.email
"""
TABLES = ("rel_listed", "rel_sellers", "rel_who", "rel_conv", "rel_ms", "rel_mx", "rel_keep", "rel_mp", "rel_has_other", "rel_sm", "rel_first", "rel_ep", "rel_cp", "rel_chp",
           "rel_rows", "rel_int", "rel_stats", "rel_top", "rel_names")

# The steps up to rel_rows, each with the tables no later step reads: dropped at once, so DuckDB
# holds only what is still needed (at 20,000 sellers the mail tables are GBs; beyond its memory
# limit it would spill them to disk).
STEPS = ((_LISTED, ()), (_SELLERS, ()), (_WHO, ()), (_CONVERSATIONS, ()), (_MAILS_INT, ("rel_conv",)), (_RECIPIENTS_INT, ()),
          (_MAIL_KEEP, ()), (_HAS_OTHER, ()), (_MAIL_PART, ("rel_keep", "rel_ms", "rel_mx")), (_SELLER_MAILS, ("rel_has_other",)),
          (_FIRST, ()), (_MEET_PART, ()), (_CALL_PART, ()), (_CHAT_PART, ()),
          (_ROWS, ("rel_mp", "rel_sm", "rel_first", "rel_ep", "rel_cp", "rel_chp")))
