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
from digest import metrics_interactions as interactions
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
SELECT w.email, w.pid, w.internal, coalesce(k.kid, 0) AS kid, w.dflt FROM who0 w LEFT JOIN keys k ON k.internal = w.internal AND k.key = w.key
"""
_SELLER_PIDS = "CREATE OR REPLACE TEMP TABLE sellers AS SELECT s.*, w.pid FROM sellers_b s LEFT JOIN who w ON w.email = s.seller"
@dataclass
class Session:
    """An open DuckDB connection with the session's temp tables, and the interaction arrays.

    kind / t0 / t1 are indexed by iid, internal_of_kid by kid, dflt_of_pid by pid; ``part`` the
    participants, ``stats`` their headcounts, ``pairs`` the sellers' rows (digest.metrics_arrays).
    """

    con: duckdb.DuckDBPyConnection
    week: IsoWeek
    settings: Settings
    dataset: Dataset
    spill_dir: str
    numbering: interactions.Numbering | None = None
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


def open_session(dataset: Dataset, week: IsoWeek, settings: Settings, sellers: list[str] | None) -> Session:
    """Build the session's temp tables and arrays (see the module doc) for the sellers in scope."""
    dataset, _ = apply_exclusions(dataset, settings)
    con, spill_dir = _connect(dataset, settings, sellers)
    session = Session(con, week, settings, dataset, spill_dir)
    try:
        _create_people(con, week, settings, sellers is None)
        lo, hi = _time_range(week, con.execute("SELECT DISTINCT tz FROM sellers").fetchall())
        masks = interactions.counted(dataset, lo, hi, MEETING_MAX_SECONDS)
        if sellers is not None:
            con.execute(interactions.WANTED_IDS)
        session.numbering = interactions.register(con, dataset, masks, lo, hi, sellers is not None)
        del masks
        con.execute(interactions.CHAT_MSGS)
        _build_arrays(session)
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
    a["kind"], a["t0"], a["t1"] = interactions.times(con, session.numbering)
    keys = con.sql("SELECT kid, internal FROM keys").to_arrow_table()
    a["internal_of_kid"] = np.zeros(pc_max(keys.column("kid")) + 1, dtype=bool)
    a["internal_of_kid"][keys.column("kid").to_numpy()] = keys.column("internal").to_numpy()
    who = con.sql("SELECT pid, dflt FROM who").to_arrow_table()
    a["dflt_of_pid"] = np.zeros(pc_max(who.column("pid")) + 1, dtype=bool)
    a["dflt_of_pid"][who.column("pid").to_numpy()] = who.column("dflt").to_numpy()
    s = con.sql("SELECT sid, pid, win0, p0, w0, w1 FROM sellers WHERE pid IS NOT NULL ORDER BY sid").to_arrow_table()
    sellers = arrays.Sellers(*(s.column(c).to_numpy() for c in ("sid", "pid", "win0", "p0", "w0", "w1")))
    part = arrays.participants(con.sql(interactions.PARTICIPANTS).to_arrow_reader(1 << 20),
                               interactions.participant_bound(session.dataset))
    stats = arrays.headcounts(part, a["kind"], a["internal_of_kid"])
    a["pairs"] = arrays.seller_rows(part, stats, sellers, a["kind"], a["t0"], a["internal_of_kid"], float(MEETING_MAX_SECONDS))
    a["first_row"] = stats.first_row
    del stats
    a["part"], a["sellers"] = part, sellers


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
