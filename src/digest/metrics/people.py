"""Who is in a metrics session: the org snapshot, the sellers and their weeks, every person's id.

Temp tables (one DuckDB connection, see digest.metrics.session):

- ``org``: the org snapshot at the week's Sunday (one row per person; ``grp`` = group attribute).
- ``sellers``: CONTRACT.md §2 sellers in scope (``sid``), with their zone, person id and week bounds
  as epoch seconds (``win0`` 28-day window start, ``p0`` prior week start, ``w0``/``w1`` reported
  week) and the reported week's bounds as ISO strings.
- ``who``: every email once, with its small integer id (``pid``, digest.metrics.persons), internal or not, ``kid`` the integer
  id (table ``keys``) of its group (internal) or matched account (external; 0 when unmatched), and
  ``dflt`` = matched by contact (CONTRACT.md §4). Emails are compared here; the rest joins integers.
- ``crm_accounts`` / ``crm_contacts``: the CRM snapshot at the Sunday (digest.metrics.matching).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb
import pyarrow as pa

from digest.metrics import matching
from digest.config import Settings
from digest.errors import InputError
from digest.sources.exclusions import normalized_rules
from digest.weeks import IsoWeek

MEETING_MAX_SECONDS = 8 * 3600  # meetings of 8 h or longer are not counted; also the de-overlap margin

_ORG = """
CREATE OR REPLACE TEMP TABLE org AS
SELECT PersonId AS email, nullif(trim(ManagerId), '') AS manager, nullif(trim(TimeZone), '') AS tz,
       nullif(trim(CAST(grp AS VARCHAR)), '') AS grp, nullif(trim(Locale), '') AS locale
FROM people_g WHERE EffectiveDate <= $sunday AND PersonId IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY PersonId ORDER BY EffectiveDate DESC) = 1
"""
_SELLERS = """
CREATE OR REPLACE TEMP TABLE sellers0 AS
SELECT a.seller, coalesce(o.tz, $default_tz) AS tz, o.locale
FROM (SELECT DISTINCT SellerEmail AS seller FROM assignments WHERE SellerAssignmentStartDate <= $sunday) a
JOIN org o ON o.email = a.seller
WHERE NOT EXISTS (SELECT 1 FROM optouts x WHERE x.PersonId = a.seller)
  AND NOT list_contains($addresses::VARCHAR[], a.seller) AND NOT list_contains($domains::VARCHAR[], split_part(a.seller, '@', 2))
  AND ($all OR a.seller IN (SELECT email FROM wanted))
"""
# Every seller in scope for the week (assigned at week end and in org data), with why the cards leave them out.
_SCOPE = """
SELECT a.seller, coalesce(o.tz, $default_tz) AS tz,
       CASE WHEN EXISTS (SELECT 1 FROM optouts x WHERE x.PersonId = a.seller) THEN 'opted out'
            WHEN list_contains($addresses::VARCHAR[], a.seller) THEN 'excluded address (privacy.excluded_addresses)'
            WHEN list_contains($domains::VARCHAR[], split_part(a.seller, '@', 2)) THEN 'excluded domain (privacy.excluded_domains)'
       END AS reason
FROM (SELECT DISTINCT SellerEmail AS seller FROM assignments WHERE SellerAssignmentStartDate <= $sunday) a
JOIN org o ON o.email = a.seller
WHERE ($all OR a.seller IN (SELECT email FROM wanted))
ORDER BY a.seller
"""
# The CRM data page (digest.metrics.coverage): every employee in force, in UTC (an org-level window).
_EMPLOYEES = """
CREATE OR REPLACE TEMP TABLE sellers0 AS
SELECT o.email AS seller, 'UTC' AS tz, o.locale FROM org o
WHERE NOT EXISTS (SELECT 1 FROM optouts x WHERE x.PersonId = o.email)
  AND NOT list_contains($addresses::VARCHAR[], o.email) AND NOT list_contains($domains::VARCHAR[], split_part(o.email, '@', 2))
"""
_SELLER_BOUNDS = """
CREATE OR REPLACE TEMP TABLE sellers_b AS
SELECT CAST(row_number() OVER (ORDER BY s.seller) AS INTEGER) AS sid, s.seller, s.tz, s.locale, z.win0, z.p0, z.w0, z.w1,
       z.start_iso, z.end_iso
FROM sellers0 s JOIN zones z USING (tz)
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
SELECT CAST(row_number() OVER () AS INTEGER) AS kid, internal, key
FROM (SELECT DISTINCT internal, key FROM who0 WHERE key IS NOT NULL)
"""
_WHO = """
CREATE OR REPLACE TEMP TABLE who AS
SELECT w.email, w.pid, w.internal, coalesce(k.kid, 0) AS kid, w.dflt
FROM who0 w LEFT JOIN keys k ON k.internal = w.internal AND k.key = w.key
"""
_SELLER_PIDS = "CREATE OR REPLACE TEMP TABLE sellers AS SELECT s.*, w.pid FROM sellers_b s LEFT JOIN who w ON w.email = s.seller"


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


def create_people(con: duckdb.DuckDBPyConnection, week: IsoWeek, settings: Settings, everyone: bool, persons: pa.Table,
                  employees: bool = False) -> None:
    """Temp tables org, sellers, who and keys (and the CRM snapshot tables crm_accounts, crm_contacts).

    `persons`: every email that appears anywhere, with its pid (digest.metrics.persons.with_pids).

    `employees`: the "sellers" are every employee in force, all in UTC (the CRM data page).
    """
    create_sellers(con, week, settings, everyone, employees)
    internal = matching.internal_domains(con, settings)
    con.register("persons", persons)
    con.execute("CREATE OR REPLACE TEMP VIEW emails_in AS SELECT email FROM persons")
    matching.create_crm_snapshot(con, week.sunday)
    matching.create_matches(con, settings, internal, reasons=False)
    con.execute(_WHO0, {"internal": internal})
    con.execute(_KEYS)
    con.execute(_WHO)
    for table in ("who0", "matches", "contact_owner", "web_hosts", "domain_share"):
        con.execute(f"DROP TABLE {table}")  # table names are code constants
    con.unregister("persons")
    con.execute(_SELLER_PIDS)


def create_sellers(con: duckdb.DuckDBPyConnection, week: IsoWeek, settings: Settings, everyone: bool,
                   employees: bool = False) -> list[str]:
    """Temp tables org and sellers_b (sellers with week bounds); returns the sellers' distinct time zones."""
    domains, addresses = normalized_rules(settings)
    con.execute(_ORG, {"sunday": week.sunday})
    if employees:
        con.execute(_EMPLOYEES, {"domains": domains, "addresses": addresses})
    else:
        con.execute(_SELLERS, {"sunday": week.sunday, "default_tz": settings.data.default_time_zone, "all": everyone,
                               "domains": domains, "addresses": addresses})
    zones = [r[0] for r in con.execute("SELECT DISTINCT tz FROM sellers0 ORDER BY tz").fetchall()]
    _check_zones(con, zones)
    con.register("zones", week_bounds(week, zones))
    con.execute(_SELLER_BOUNDS)
    return zones


def sellers_in_scope(con: duckdb.DuckDBPyConnection, week: IsoWeek, settings: Settings, everyone: bool) -> list[tuple[str, str, str | None]]:
    """(seller, time zone, reason left out or None) of every seller in scope for the week, sorted."""
    domains, addresses = normalized_rules(settings)
    con.execute(_ORG, {"sunday": week.sunday})
    return [tuple(r) for r in con.execute(_SCOPE, {"sunday": week.sunday, "default_tz": settings.data.default_time_zone, "all": everyone,
                                                   "domains": domains, "addresses": addresses}).fetchall()]


def _check_zones(con: duckdb.DuckDBPyConnection, zones: list[str]) -> None:
    for tz in zones:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            who = con.execute("SELECT min(seller) FROM sellers0 WHERE tz = $tz", {"tz": tz}).fetchall()[0][0]
            raise InputError(f"org/people.csv, column TimeZone: value {tz!r} (seller {who}) is not a known time zone. "
                             "Write an IANA name like Europe/Paris, or fix data.default_time_zone.") from None


def time_range(week: IsoWeek, rows: list[tuple]) -> tuple[dt.datetime, dt.datetime]:
    """UTC range covering every seller's 28-day window, plus the meeting de-overlap margin before it."""
    zones = [r[0] for r in rows]
    utc = dt.timezone.utc
    if not zones:
        start, end = week.window_28("UTC")
        return start.astimezone(utc), end.astimezone(utc)
    lo = min(week.window_28(tz)[0] for tz in zones) - dt.timedelta(seconds=MEETING_MAX_SECONDS)
    hi = max(week.bounds(tz)[1] for tz in zones)
    return lo.astimezone(utc), hi.astimezone(utc)
