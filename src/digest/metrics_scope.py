"""The metrics session: who the sellers are, their weeks, and the interactions they took part in.

One DuckDB connection holds the dataset's Arrow tables and the temp tables built here, in order:

- ``org``: the org snapshot at the week's Sunday (one row per person; ``grp`` = group attribute).
- ``sellers``: CONTRACT.md §2 sellers in scope, with their zone and their week bounds as epoch
  seconds (``win0`` 28-day window start, ``p0`` prior week start, ``w0``/``w1`` reported week).
- ``inter`` / ``part``: counted interactions in the time range and their participants, one row
  per (interaction, person) with ``vis`` (seen by recipients: not bcc), ``sender``, ``secs``
  (call time).
- ``who``: every participant classified: internal or external, account match, group.
- ``vstats``: per interaction and view, how many participants of each account / group.
- ``pairs``: (seller, interaction) rows with the seller's view and their own classification.

Counting is per interaction, then the seller's own row is subtracted ("others" = participants
minus the seller), so nothing is exploded to seller x interaction x other. The cards are then
aggregated by ``digest.metrics_cards``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb
import pyarrow as pa

from digest import matching
from digest.config import Settings
from digest.contract import Dataset
from digest.errors import ConfigError, InputError
from digest.exclusions import apply_exclusions, normalized_rules
from digest.weeks import IsoWeek

MEETING_MAX_SECONDS = 8 * 3600  # meetings of 8 h or longer are not counted; also the de-overlap margin

_ORG = """
CREATE OR REPLACE TEMP TABLE org AS
SELECT PersonId AS email, nullif(trim(ManagerId), '') AS manager, nullif(trim(TimeZone), '') AS tz,
       nullif(trim(CAST(grp AS VARCHAR)), '') AS grp
FROM people_g WHERE EffectiveDate <= $sunday AND PersonId IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY PersonId ORDER BY EffectiveDate DESC) = 1
"""
_SELLERS = """
CREATE OR REPLACE TEMP TABLE sellers0 AS
SELECT a.seller, coalesce(o.tz, $default_tz) AS tz
FROM (SELECT DISTINCT SellerEmail AS seller FROM assignments WHERE SellerAssignmentStartDate <= $sunday) a
JOIN org o ON o.email = a.seller
WHERE NOT EXISTS (SELECT 1 FROM optouts x WHERE x.PersonId = a.seller)
  AND NOT list_contains($addresses::VARCHAR[], a.seller) AND NOT list_contains($domains::VARCHAR[], split_part(a.seller, '@', 2))
  AND ($all OR a.seller IN (SELECT email FROM wanted))
"""
_SELLER_BOUNDS = """
CREATE OR REPLACE TEMP TABLE sellers_b AS
SELECT CAST(row_number() OVER (ORDER BY s.seller) AS INTEGER) AS sid, s.seller, s.tz, z.win0, z.p0, z.w0, z.w1,
       z.start_iso, z.end_iso
FROM sellers0 s JOIN zones z USING (tz)
"""
_SELLER_PIDS = """
CREATE OR REPLACE TEMP TABLE sellers AS SELECT s.*, pe.pid FROM sellers_b s LEFT JOIN persons pe ON pe.email = s.seller
"""
# Counted interactions whose start is in the time range (CONTRACT.md §3 exclusions, except the
# meeting headcount, applied once participants are known). Calls of a meeting are that meeting.
# iid: a small integer id, so the big joins below compare integers, not long message ids.
_INTER = """
CREATE OR REPLACE TEMP TABLE inter AS
SELECT CAST(row_number() OVER () AS INTEGER) AS iid, * FROM (
    SELECT 'mail' AS kind, MailId AS xid, epoch(SentTime) AS t0, NULL::DOUBLE AS t1 FROM mails
     WHERE SentTime >= $lo AND SentTime < $hi AND coalesce(Sensitivity, 'normal') NOT IN ('private', 'confidential')
    UNION ALL
    SELECT 'meeting', MeetingId, epoch(StartTime), epoch(EndTime) FROM meetings
     WHERE StartTime >= $lo AND StartTime < $hi AND NOT coalesce(IsCancelled, false)
       AND coalesce(Sensitivity, 'normal') NOT IN ('private', 'confidential')
       AND EndTime > StartTime AND epoch(EndTime) - epoch(StartTime) < $max_meeting
    UNION ALL
    SELECT 'call', CallId, epoch(StartTime), epoch(EndTime) FROM calls
     WHERE StartTime >= $lo AND StartTime < $hi AND nullif(trim(MeetingId), '') IS NULL
    UNION ALL
    SELECT DISTINCT 'chat', ChatId, NULL::DOUBLE, NULL::DOUBLE FROM chat_messages WHERE SentTime >= $lo AND SentTime < $hi
)
"""
# Everyone who appears anywhere, with a small integer id (pid).
_PERSONS = """
CREATE OR REPLACE TEMP TABLE persons AS
SELECT email, CAST(row_number() OVER () AS INTEGER) AS pid FROM (
    SELECT Sender AS email FROM mails UNION SELECT Email FROM mail_recipients UNION SELECT Organizer FROM meetings
    UNION SELECT Email FROM meeting_attendees UNION SELECT Email FROM call_participants
    UNION SELECT Email FROM chat_members UNION SELECT Sender FROM chat_messages UNION SELECT PersonId FROM people
) WHERE email IS NOT NULL
"""
# Participants (CONTRACT.md §3), one row per person: a sender who is also a recipient is one person.
_PART = """
CREATE OR REPLACE TEMP TABLE part AS
WITH i AS (SELECT iid, kind, xid FROM inter),
p AS (
    SELECT i.iid, i.kind, m.Sender AS email, true AS vis, true AS sender, 0.0 AS secs
      FROM mails m JOIN i ON i.kind = 'mail' AND i.xid = m.MailId
    UNION ALL SELECT i.iid, i.kind, r.Email, r.Kind <> 'bcc', false, 0.0
      FROM mail_recipients r JOIN i ON i.kind = 'mail' AND i.xid = r.MailId
    UNION ALL SELECT i.iid, i.kind, m.Organizer, true, false, 0.0
      FROM meetings m JOIN i ON i.kind = 'meeting' AND i.xid = m.MeetingId
    UNION ALL SELECT i.iid, i.kind, a.Email, true, false, 0.0
      FROM meeting_attendees a JOIN i ON i.kind = 'meeting' AND i.xid = a.MeetingId
     WHERE a.Response IS DISTINCT FROM 'declined'
    UNION ALL SELECT i.iid, i.kind, c.Email, true, false, greatest(coalesce(epoch(c.LeaveTime) - epoch(c.JoinTime), 0.0), 0.0)
      FROM call_participants c JOIN i ON i.kind = 'call' AND i.xid = c.CallId
    UNION ALL SELECT i.iid, i.kind, c.Email, true, false, 0.0 FROM chat_members c JOIN i ON i.kind = 'chat' AND i.xid = c.ChatId
    UNION ALL SELECT i.iid, i.kind, c.Sender, true, false, 0.0 FROM chat_messages c JOIN i ON i.kind = 'chat' AND i.xid = c.ChatId
)
SELECT p.iid, any_value(p.kind) AS kind, pe.pid, bool_or(p.vis) AS vis, bool_or(p.sender) AS sender, sum(p.secs) AS secs
FROM p JOIN persons pe ON pe.email = p.email
GROUP BY p.iid, pe.pid
"""
# Meetings with fewer than 2 or 250 and more participants (organizer included) are not counted.
_MEETING_HEADCOUNT = """
CREATE OR REPLACE TEMP TABLE bad_meetings AS
SELECT iid FROM part WHERE kind = 'meeting' GROUP BY iid HAVING count(*) < 2 OR count(*) >= 250
"""
_DROP_BAD_MEETINGS = (
    "DELETE FROM inter WHERE iid IN (SELECT iid FROM bad_meetings)",
    "DELETE FROM part WHERE iid IN (SELECT iid FROM bad_meetings)",
)
# The sellers' rows; meetings from 8 h before the window too, as they can overlap the window's.
_SCOPE = """
CREATE OR REPLACE TEMP TABLE pairs0 AS
SELECT s.sid, s.pid AS self_pid, p.kind, p.iid, p.vis AS self_vis, p.sender, p.secs, i.t0, i.t1,
       s.win0, s.p0, s.w0, s.w1
FROM part p JOIN sellers s ON s.pid = p.pid JOIN inter i ON i.iid = p.iid
WHERE p.kind = 'chat' OR (i.t0 >= s.win0 - CASE WHEN p.kind = 'meeting' THEN $max_meeting ELSE 0 END AND i.t0 < s.w1)
"""
# Only when a run is narrowed to a few sellers: drop interactions none of them took part in.
_PART_IN_SCOPE = """
CREATE OR REPLACE TEMP TABLE part AS
SELECT * FROM part p SEMI JOIN (SELECT DISTINCT iid FROM pairs0) k ON k.iid = p.iid
"""
_WHO = """
CREATE OR REPLACE TEMP TABLE who AS
SELECT pe.pid, pe.email, list_contains($internal::VARCHAR[], split_part(pe.email, '@', 2)) AS internal,
       m.account_id, m.method, coalesce(o.grp, '(none)') AS grp
FROM persons pe LEFT JOIN matches m ON m.email = pe.email LEFT JOIN org o ON o.email = pe.email
"""
# View 0: what everyone sees (no bcc); view 1: the sender's view of a mail that has bcc recipients.
_BCC_MAILS = "CREATE OR REPLACE TEMP TABLE bcc_mails AS SELECT DISTINCT iid FROM part WHERE kind = 'mail' AND NOT vis"
_VSTATS = """
CREATE OR REPLACE TEMP TABLE vstats AS
SELECT p.iid, 0 AS view, w.internal, CASE WHEN w.internal THEN w.grp ELSE w.account_id END AS key, count(*) AS n
FROM part p JOIN who w ON w.pid = p.pid WHERE p.vis GROUP BY ALL
UNION ALL
SELECT p.iid, 1, w.internal, CASE WHEN w.internal THEN w.grp ELSE w.account_id END, count(*)
FROM part p SEMI JOIN bcc_mails b ON b.iid = p.iid JOIN who w ON w.pid = p.pid GROUP BY ALL
"""
_PAIRS = """
CREATE OR REPLACE TEMP TABLE pairs AS
WITH tot AS (SELECT iid, view, sum(n) AS n_all, sum(n) FILTER (WHERE NOT internal) AS n_ext,
                    sum(n) FILTER (WHERE internal) AS n_int FROM vstats GROUP BY ALL),
p AS (SELECT q.*, CASE WHEN q.sender AND q.iid IN (SELECT iid FROM bcc_mails) THEN 1 ELSE 0 END AS view
      FROM pairs0 q)
SELECT p.sid, p.self_pid, p.kind, p.iid, p.view, p.sender, p.secs, p.t0, p.t1, p.win0, p.p0, p.w0, p.w1,
       w.internal AS self_internal, CASE WHEN w.internal THEN w.grp ELSE w.account_id END AS self_key,
       (p.view = 1 OR p.self_vis) AS self_in_view,
       t.n_all - CASE WHEN p.view = 1 OR p.self_vis THEN 1 ELSE 0 END AS n_oth,
       coalesce(t.n_ext, 0) - CASE WHEN (p.view = 1 OR p.self_vis) AND NOT w.internal THEN 1 ELSE 0 END AS n_ext,
       coalesce(t.n_int, 0) - CASE WHEN (p.view = 1 OR p.self_vis) AND w.internal THEN 1 ELSE 0 END AS n_int
FROM p JOIN who w ON w.pid = p.self_pid
JOIN tot t ON t.iid = p.iid AND t.view = p.view
"""


@dataclass(frozen=True)
class Session:
    """An open DuckDB connection with the metric temp tables built for one week and set of sellers."""

    con: duckdb.DuckDBPyConnection
    week: IsoWeek
    settings: Settings
    internal: tuple[str, ...]

    def close(self) -> None:
        self.con.close()


def week_bounds(week: IsoWeek, zones: list[str]) -> pa.Table:
    """Per time zone: 28-day window, prior week and reported week bounds (epoch s) and ISO strings."""
    rows = {k: [] for k in ("tz", "win0", "p0", "w0", "w1", "start_iso", "end_iso")}
    for tz in zones:
        w0, w1 = week.bounds(tz)
        rows["tz"].append(tz)
        rows["win0"].append(week.window_28(tz)[0].timestamp())
        rows["p0"].append(week.shift(-1).bounds(tz)[0].timestamp())
        rows["w0"].append(w0.timestamp())
        rows["w1"].append(w1.timestamp())
        rows["start_iso"].append(w0.isoformat())
        rows["end_iso"].append(w1.isoformat())
    return pa.table(rows, schema=pa.schema([("tz", pa.string())] + [(k, pa.float64()) for k in ("win0", "p0", "w0", "w1")]
                                           + [("start_iso", pa.string()), ("end_iso", pa.string())]))


def open_session(dataset: Dataset, week: IsoWeek, settings: Settings, sellers: list[str] | None) -> Session:
    """Build the session's temp tables (see the module doc) for the sellers in scope."""
    dataset, _ = apply_exclusions(dataset, settings)
    con = _connect(dataset, settings, sellers)
    try:
        zones = create_sellers(con, week, settings, sellers is None)
        lo, hi = _time_range(week, zones)
        internal = matching.internal_domains(con, settings)
        con.execute(_PERSONS)
        con.execute(_SELLER_PIDS)
        con.execute(_INTER, {"lo": lo, "hi": hi, "max_meeting": MEETING_MAX_SECONDS})
        con.execute(_PART)
        con.execute(_MEETING_HEADCOUNT)
        for sql in _DROP_BAD_MEETINGS:
            con.execute(sql)
        con.execute(_SCOPE, {"max_meeting": MEETING_MAX_SECONDS})
        if sellers is not None:
            con.execute(_PART_IN_SCOPE)
        con.execute("CREATE OR REPLACE TEMP VIEW emails_in AS SELECT email FROM persons")
        matching.create_crm_snapshot(con, week.sunday)
        matching.create_matches(con, settings, internal, reasons=False)
        con.execute(_WHO, {"internal": internal})
        con.execute(_BCC_MAILS)
        con.execute(_VSTATS)
        con.execute(_PAIRS)
    except BaseException:
        con.close()
        raise
    return Session(con, week, settings, tuple(internal))


def list_seller_emails(dataset: Dataset, week: IsoWeek, settings: Settings) -> list[str]:
    """CONTRACT.md §2 sellers of the week (assigned at week end, in org data, not opted out or excluded)."""
    con = _connect(dataset, settings, None)
    try:
        create_sellers(con, week, settings, True)
        return [r[0] for r in con.execute("SELECT seller FROM sellers_b ORDER BY seller").fetchall()]
    finally:
        con.close()


def _connect(dataset: Dataset, settings: Settings, sellers: list[str] | None) -> duckdb.DuckDBPyConnection:
    attribute = settings.metrics.group_attribute
    if attribute not in dataset.people.column_names:
        raise ConfigError(f"metrics.group_attribute = {attribute!r} is not a column of org/people.csv. Set it to one of: "
                          f"{', '.join(c for c in dataset.people.column_names if c not in ('PersonId', 'ManagerId'))}.")
    # Row order never matters here (results are sorted at the end): let DuckDB stream and spill freely.
    con = duckdb.connect(":memory:", config={"preserve_insertion_order": False})
    for name, table in dataset.tables().items():
        con.register(name, table)
    # The group attribute is exposed under a fixed name: no identifier from settings enters SQL.
    con.register("people_g", dataset.people.select(["PersonId", "EffectiveDate", "ManagerId", "TimeZone"])
                 .append_column("grp", dataset.people.column(attribute)))
    con.register("wanted", pa.table({"email": pa.array(sorted({s.strip().lower() for s in sellers or []}), pa.string())}))
    return con


def create_sellers(con: duckdb.DuckDBPyConnection, week: IsoWeek, settings: Settings, everyone: bool) -> list[str]:
    """Temp tables org and sellers (with week bounds); returns the sellers' distinct time zones."""
    domains, addresses = normalized_rules(settings)
    con.execute(_ORG, {"sunday": week.sunday})
    con.execute(_SELLERS, {"sunday": week.sunday, "default_tz": settings.data.default_time_zone, "all": everyone,
                           "domains": domains, "addresses": addresses})
    zones = [r[0] for r in con.execute("SELECT DISTINCT tz FROM sellers0 ORDER BY tz").fetchall()]
    _check_zones(con, zones)
    con.register("zones", week_bounds(week, zones))
    con.execute(_SELLER_BOUNDS)
    return zones


def _check_zones(con: duckdb.DuckDBPyConnection, zones: list[str]) -> None:
    for tz in zones:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            who = con.execute("SELECT min(seller) FROM sellers0 WHERE tz = $tz", {"tz": tz}).fetchone()[0]
            raise InputError(f"org/people.csv, column TimeZone: value {tz!r} (seller {who}) is not a known time zone. "
                             "Write an IANA name like Europe/Paris, or fix data.default_time_zone.") from None


def _time_range(week: IsoWeek, zones: list[str]) -> tuple[dt.datetime, dt.datetime]:
    """UTC range covering every seller's 28-day window, plus the meeting de-overlap margin before it."""
    utc = dt.timezone.utc
    if not zones:
        start, end = week.window_28("UTC")
        return start.astimezone(utc), end.astimezone(utc)
    lo = min(week.window_28(tz)[0] for tz in zones) - dt.timedelta(seconds=MEETING_MAX_SECONDS)
    hi = max(week.bounds(tz)[1] for tz in zones)
    return lo.astimezone(utc), hi.astimezone(utc)

