"""The metrics session: who the sellers are, their weeks, and the interactions they took part in.

One DuckDB connection holds the dataset's Arrow tables and the temp tables built here, in order:

- ``org``: the org snapshot at the week's Sunday (one row per person; ``grp`` = group attribute).
- ``sellers``: CONTRACT.md §2 sellers in scope, with their zone, person id and week bounds as epoch
  seconds (``win0`` 28-day window start, ``p0`` prior week start, ``w0``/``w1`` reported week).
- ``who``: every email once, with a small integer id (``pid``), internal or not, and ``kid``, the
  integer id (table ``keys``) of its group (internal) or matched account (external; null when
  unmatched); ``dflt`` = matched by contact. Emails are compared once, here; the rest joins integers.
- ``ids`` / ``part``: counted interactions in the time range (integer ``iid``, kind code ``k``) and
  their participants, one row per (interaction, person) with ``vis`` (seen by the recipients: not
  bcc), ``sender`` and the person's classification.
- ``inter``: per interaction, its times and its headcounts (all, external; as everyone sees it and
  as the sender of a mail with bcc sees it). Meetings with fewer than 2 or 250 and more
  participants are left out here. ``call_secs``: the sellers' own time in calls.

Counting is per interaction, then the seller's own row is subtracted ("others" = participants
minus the seller), so nothing is exploded to seller x interaction x other until the last, narrow
aggregates of ``digest.metrics_cards``.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)

from digest import matching
from digest import metrics_arrays as arrays
from digest.config import Settings
from digest.contract import Dataset
from digest.errors import ConfigError, InputError
from digest.exclusions import apply_exclusions, normalized_rules
from digest.weeks import IsoWeek

MEETING_MAX_SECONDS = 8 * 3600  # meetings of 8 h or longer are not counted; also the de-overlap margin
KINDS = ("mail", "meeting", "call", "chat")  # kind codes k = 0, 1, 2, 3
MEMORY_LIMIT_BYTES = 3 << 30  # DuckDB's working memory (on top of the dataset); it spills to disk beyond

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
# Everyone who appears anywhere, with a small integer id (pid).
_PERSONS = """
CREATE OR REPLACE TEMP TABLE persons AS
SELECT email, CAST(row_number() OVER () AS INTEGER) AS pid FROM (
    SELECT Sender AS email FROM mails UNION SELECT Email FROM mail_recipients UNION SELECT Organizer FROM meetings
    UNION SELECT Email FROM meeting_attendees UNION SELECT Email FROM call_participants
    UNION SELECT Email FROM chat_members UNION SELECT Sender FROM chat_messages UNION SELECT PersonId FROM people
) WHERE email IS NOT NULL
"""
_WHO0 = """
CREATE OR REPLACE TEMP TABLE who0 AS
SELECT pe.email, pe.pid, list_contains($internal::VARCHAR[], split_part(pe.email, '@', 2)) AS internal,
       CASE WHEN list_contains($internal::VARCHAR[], split_part(pe.email, '@', 2)) THEN coalesce(o.grp, '(none)')
            ELSE m.account_id END AS key, coalesce(m.method = 'default', false) AS dflt
FROM persons pe LEFT JOIN matches m ON m.email = pe.email LEFT JOIN org o ON o.email = pe.email
"""
_KEYS = """
CREATE OR REPLACE TEMP TABLE keys AS
SELECT CAST(row_number() OVER () AS INTEGER) AS kid, internal, key FROM (SELECT DISTINCT internal, key FROM who0 WHERE key IS NOT NULL)
"""
_WHO = """
CREATE OR REPLACE TEMP TABLE who AS
SELECT w.email, w.pid, w.internal, k.kid, w.dflt FROM who0 w LEFT JOIN keys k ON k.internal = w.internal AND k.key = w.key
"""
_SELLER_PIDS = "CREATE OR REPLACE TEMP TABLE sellers AS SELECT s.*, w.pid FROM sellers_b s LEFT JOIN who w ON w.email = s.seller"
# Only when a run is narrowed to a few sellers: the interactions they appear in (anywhere).
_WANTED_IDS = """
CREATE OR REPLACE TEMP TABLE wanted_ids AS
SELECT DISTINCT k, xid FROM (
    SELECT 0::UTINYINT AS k, MailId AS xid, Sender AS email FROM mails UNION ALL SELECT 0, MailId, Email FROM mail_recipients
    UNION ALL SELECT 1, MeetingId, Organizer FROM meetings UNION ALL SELECT 1, MeetingId, Email FROM meeting_attendees
    UNION ALL SELECT 2, CallId, Email FROM call_participants
    UNION ALL SELECT 3, ChatId, Email FROM chat_members UNION ALL SELECT 3, ChatId, Sender FROM chat_messages
) WHERE email IN (SELECT seller FROM sellers)
"""
# Counted interactions whose start is in the time range (CONTRACT.md §3 exclusions, except the
# meeting headcount, applied once participants are known). Calls of a meeting are that meeting.
_IDS_ALL = """
    SELECT 0::UTINYINT AS k, MailId AS xid, epoch(SentTime) AS t0, NULL::DOUBLE AS t1 FROM mails
     WHERE SentTime >= $lo AND SentTime < $hi AND coalesce(Sensitivity, 'normal') NOT IN ('private', 'confidential')
    UNION ALL
    SELECT 1, MeetingId, epoch(StartTime), epoch(EndTime) FROM meetings
     WHERE StartTime >= $lo AND StartTime < $hi AND NOT coalesce(IsCancelled, false)
       AND coalesce(Sensitivity, 'normal') NOT IN ('private', 'confidential')
       AND EndTime > StartTime AND epoch(EndTime) - epoch(StartTime) < $max_meeting
    UNION ALL
    SELECT 2, CallId, epoch(StartTime), epoch(EndTime) FROM calls
     WHERE StartTime >= $lo AND StartTime < $hi AND nullif(trim(MeetingId), '') IS NULL
    UNION ALL
    SELECT DISTINCT 3, ChatId, NULL::DOUBLE, NULL::DOUBLE FROM chat_messages WHERE SentTime >= $lo AND SentTime < $hi
"""
_IDS = f"CREATE OR REPLACE TEMP TABLE ids AS SELECT CAST(row_number() OVER () AS INTEGER) AS iid, * FROM ({_IDS_ALL})"
_IDS_NARROWED = f"""
CREATE OR REPLACE TEMP TABLE ids AS SELECT CAST(row_number() OVER () AS INTEGER) AS iid, x.* FROM ({_IDS_ALL}) x
SEMI JOIN wanted_ids w ON w.k = x.k AND w.xid = x.xid
"""
# Participants (CONTRACT.md §3) as written: a person can appear twice (sender and recipient,
# organizer and attendee); digest.metrics_arrays collapses them. One statement per kind keeps a
# single id hash table in memory at a time.
_RAW = (
    """CREATE OR REPLACE TEMP TABLE raw AS SELECT i.iid, coalesce(w.kid, 0) AS kid, w.pid, x.vis, x.sender FROM ids i JOIN (
        SELECT MailId AS xid, Sender AS email, true AS vis, true AS sender FROM mails
        UNION ALL SELECT MailId, Email, Kind <> 'bcc', false FROM mail_recipients) x ON i.k = 0 AND i.xid = x.xid
       JOIN who w ON w.email = x.email""",
    """INSERT INTO raw SELECT i.iid, coalesce(w.kid, 0), w.pid, true, false FROM ids i JOIN (
        SELECT MeetingId AS xid, Organizer AS email FROM meetings
        UNION ALL SELECT MeetingId, Email FROM meeting_attendees WHERE Response IS DISTINCT FROM 'declined') x
      ON i.k = 1 AND i.xid = x.xid JOIN who w ON w.email = x.email""",
    """INSERT INTO raw SELECT i.iid, coalesce(w.kid, 0), w.pid, true, false FROM ids i
       JOIN call_participants c ON i.k = 2 AND i.xid = c.CallId JOIN who w ON w.email = c.Email""",
    """INSERT INTO raw SELECT i.iid, coalesce(w.kid, 0), w.pid, true, false FROM ids i JOIN (
        SELECT ChatId AS xid, Email AS email FROM chat_members UNION ALL SELECT ChatId, Sender FROM chat_messages) x
      ON i.k = 3 AND i.xid = x.xid JOIN who w ON w.email = x.email""",
)
_RAW_SORTED = "SELECT iid, kid, pid, vis, sender FROM raw ORDER BY iid, kid, pid"
_CALL_SECS = """
CREATE OR REPLACE TEMP TABLE call_secs AS
SELECT i.iid, s.pid, sum(greatest(coalesce(epoch(c.LeaveTime) - epoch(c.JoinTime), 0.0), 0.0)) AS secs
FROM call_participants c JOIN ids i ON i.k = 2 AND i.xid = c.CallId JOIN sellers s ON s.seller = c.Email
GROUP BY ALL
"""
_CHAT_MSGS = """
CREATE OR REPLACE TEMP TABLE chat_msgs AS
SELECT i.iid, w.pid AS sender, epoch(m.SentTime) AS t
FROM chat_messages m JOIN ids i ON i.k = 3 AND i.xid = m.ChatId JOIN who w ON w.email = m.Sender
"""


@dataclass
class Session:
    """An open DuckDB connection with the session's temp tables, and the interaction arrays.

    kind / t0 / t1 are indexed by iid, internal_of_kid by kid, dflt_of_pid by pid; ``part`` the
    participants, ``stats`` their headcounts, ``pairs`` the sellers' rows (digest.metrics_arrays).
    """

    con: duckdb.DuckDBPyConnection
    week: IsoWeek
    settings: Settings
    spill_dir: str
    arrays: dict = field(default_factory=dict)

    def close(self) -> None:
        self.con.close()
        shutil.rmtree(self.spill_dir, ignore_errors=True)


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


def open_session(dataset: Dataset, week: IsoWeek, settings: Settings, sellers: list[str] | None,
                 keep_ids: bool = False) -> Session:
    """Build the session's temp tables and arrays (see the module doc) for the sellers in scope.

    `keep_ids`: keep the table ``ids`` (interaction id strings) for :data:`digest.metrics_time.USED`.
    """
    dataset, _ = apply_exclusions(dataset, settings)
    con, spill_dir = _connect(dataset, settings, sellers)
    session = Session(con, week, settings, spill_dir)
    try:
        _create_people(con, week, settings, sellers is None)
        lo, hi = _time_range(week, session.con.execute("SELECT DISTINCT tz FROM sellers").fetchall())
        if sellers is not None:
            con.execute(_WANTED_IDS)
        con.execute(_IDS if sellers is None else _IDS_NARROWED, {"lo": lo, "hi": hi, "max_meeting": MEETING_MAX_SECONDS})
        for sql in _RAW:
            con.execute(sql)
        for sql in (_CALL_SECS, _CHAT_MSGS):
            con.execute(sql)
        _build_arrays(session)
        for table in ["wanted_ids"] * (sellers is not None) + ["ids"] * (not keep_ids):
            con.execute(f"DROP TABLE {table}")  # table names are code constants
    except BaseException:
        session.close()
        raise
    return session


def _create_people(con: duckdb.DuckDBPyConnection, week: IsoWeek, settings: Settings, everyone: bool) -> None:
    """Temp tables org, sellers, who and keys (and the CRM snapshot tables crm_accounts, crm_contacts)."""
    create_sellers(con, week, settings, everyone)
    internal = matching.internal_domains(con, settings)
    con.execute(_PERSONS)
    con.execute("CREATE OR REPLACE TEMP VIEW emails_in AS SELECT email FROM persons")
    matching.create_crm_snapshot(con, week.sunday)
    matching.create_matches(con, settings, internal, reasons=False)
    con.execute(_WHO0, {"internal": internal})
    con.execute(_KEYS)
    con.execute(_WHO)
    for table in ("who0", "matches", "persons", "contact_owner", "web_hosts", "domain_share"):
        con.execute(f"DROP TABLE {table}")  # table names are code constants
    con.execute(_SELLER_PIDS)


def _build_arrays(session: Session) -> None:
    con, a = session.con, session.arrays
    n_ids = con.execute("SELECT count(*) FROM ids").fetchall()[0][0]
    ids = con.sql("SELECT iid, k, t0, t1 FROM ids").to_arrow_table()
    iid = ids.column("iid").to_numpy()
    a["kind"] = np.full(n_ids + 1, 255, dtype=np.uint8)
    a["kind"][iid] = ids.column("k").to_numpy()
    for name in ("t0", "t1"):
        a[name] = np.full(n_ids + 1, np.nan)
        a[name][iid] = ids.column(name).to_numpy(zero_copy_only=False)
    del ids, iid
    keys = con.sql("SELECT kid, internal FROM keys").to_arrow_table()
    a["internal_of_kid"] = np.zeros(int(pc_max(keys.column("kid"))) + 1, dtype=bool)
    a["internal_of_kid"][keys.column("kid").to_numpy()] = keys.column("internal").to_numpy()
    who = con.sql("SELECT pid, dflt FROM who").to_arrow_table()
    a["dflt_of_pid"] = np.zeros(int(pc_max(who.column("pid"))) + 1, dtype=bool)
    a["dflt_of_pid"][who.column("pid").to_numpy()] = who.column("dflt").to_numpy()
    s = con.sql("SELECT sid, pid, win0, p0, w0, w1 FROM sellers WHERE pid IS NOT NULL ORDER BY sid").to_arrow_table()
    sellers = arrays.Sellers(*(s.column(c).to_numpy() for c in ("sid", "pid", "win0", "p0", "w0", "w1")))
    total = con.execute("SELECT count(*) FROM raw").fetchall()[0][0]
    part = arrays.participants(con.sql(_RAW_SORTED).to_arrow_reader(1 << 20), total)
    con.execute("DROP TABLE raw")
    a["runs"] = arrays.runs(part, len(a["kind"]))
    stats = arrays.headcounts(a["runs"], a["kind"], a["internal_of_kid"])
    a["part"], a["sellers"] = part, sellers
    a["pairs"] = arrays.seller_rows(part, stats, sellers, a["kind"], a["t0"], a["internal_of_kid"], float(MEETING_MAX_SECONDS))


def pc_max(column: pa.ChunkedArray) -> int:
    """The largest value of an integer column, 0 when empty."""
    value = pa.compute.max(column).as_py()
    return int(value or 0)


def list_seller_emails(dataset: Dataset, week: IsoWeek, settings: Settings) -> list[str]:
    """CONTRACT.md §2 sellers of the week (assigned at week end, in org data, not opted out or excluded)."""
    con, spill_dir = _connect(dataset, settings, None)
    try:
        create_sellers(con, week, settings, True)
        return [r[0] for r in con.execute("SELECT seller FROM sellers_b ORDER BY seller").fetchall()]
    finally:
        con.close()
        shutil.rmtree(spill_dir, ignore_errors=True)


def memory_limit() -> int:
    """DuckDB's memory limit: MEMORY_LIMIT_BYTES, or a quarter of the machine's memory when that is less."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return MEMORY_LIMIT_BYTES
    return max(256 << 20, min(MEMORY_LIMIT_BYTES, total // 4))


def _connect(dataset: Dataset, settings: Settings, sellers: list[str] | None) -> tuple[duckdb.DuckDBPyConnection, str]:
    attribute = settings.metrics.group_attribute
    if attribute not in dataset.people.column_names:
        raise ConfigError(f"metrics.group_attribute = {attribute!r} is not a column of org/people.csv. Set it to one of: "
                          f"{', '.join(c for c in dataset.people.column_names if c not in ('PersonId', 'ManagerId'))}.")
    # Row order never matters here (results are sorted at the end): let DuckDB stream and spill freely,
    # into a private temporary folder (removed by Session.close) once its memory limit is reached.
    spill_dir = tempfile.mkdtemp(prefix="digest-metrics-")
    con = duckdb.connect(":memory:", config={"preserve_insertion_order": False, "temp_directory": spill_dir,
                                             "memory_limit": f"{memory_limit() >> 20}MB"})
    for name, table in dataset.tables().items():
        con.register(name, table)
    # The group attribute is exposed under a fixed name: no identifier from settings enters SQL.
    con.register("people_g", dataset.people.select(["PersonId", "EffectiveDate", "ManagerId", "TimeZone"])
                 .append_column("grp", dataset.people.column(attribute)))
    con.register("wanted", pa.table({"email": pa.array(sorted({s.strip().lower() for s in sellers or []}), pa.string())}))
    return con, spill_dir


def create_sellers(con: duckdb.DuckDBPyConnection, week: IsoWeek, settings: Settings, everyone: bool) -> list[str]:
    """Temp tables org and sellers_b (sellers with week bounds); returns the sellers' distinct time zones."""
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
            who = con.execute("SELECT min(seller) FROM sellers0 WHERE tz = $tz", {"tz": tz}).fetchall()[0][0]
            raise InputError(f"org/people.csv, column TimeZone: value {tz!r} (seller {who}) is not a known time zone. "
                             "Write an IANA name like Europe/Paris, or fix data.default_time_zone.") from None


def _time_range(week: IsoWeek, rows: list[tuple]) -> tuple[dt.datetime, dt.datetime]:
    """UTC range covering every seller's 28-day window, plus the meeting de-overlap margin before it."""
    zones = [r[0] for r in rows]
    utc = dt.timezone.utc
    if not zones:
        start, end = week.window_28("UTC")
        return start.astimezone(utc), end.astimezone(utc)
    lo = min(week.window_28(tz)[0] for tz in zones) - dt.timedelta(seconds=MEETING_MAX_SECONDS)
    hi = max(week.bounds(tz)[1] for tz in zones)
    return lo.astimezone(utc), hi.astimezone(utc)
