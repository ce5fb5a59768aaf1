"""External people -> CRM accounts (CONTRACT.md §4): by contact email, else by the email's domain.

Everything runs as DuckDB SQL inside the caller's connection, so the metrics match every external
person of tens of thousands of sellers in one pass. :func:`match_emails` is the stand-alone entry
point (CLI, audits, tests); :func:`create_matches` is what ``digest.metrics.engine`` uses in its session.

The CRM snapshot is the one in force on ``as_of`` (per AccountId and per ContactId, the row with
the latest start date on or before it). SQL only binds values; table names are code constants.
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable

import duckdb
import pyarrow as pa

from digest.config import Settings
from digest.sources.contract import Dataset
from digest.sources.exclusions import PARTICIPANTS_SQL, connect

MATCH_SCHEMA = pa.schema([("email", pa.string()), ("account_id", pa.string()),
                          ("method", pa.string()), ("reason", pa.string())])

# Accounts and contacts in force on $as_of. A contact whose row in force points to an account that
# does not exist (in force) matches nothing: we never fall back to an older row of the contact.
_CRM_ACCOUNTS = """
CREATE OR REPLACE TEMP TABLE crm_accounts AS
SELECT AccountId AS account_id, AccountName AS account_name, AccountWebsite AS website,
       coalesce(AccountAnnualRevenue, AccountRevenue) AS potential
FROM accounts WHERE AccountsStartDate <= $as_of
QUALIFY row_number() OVER (PARTITION BY AccountId ORDER BY AccountsStartDate DESC) = 1
"""
_CRM_CONTACTS = """
CREATE OR REPLACE TEMP TABLE crm_contacts AS
SELECT * FROM (
    SELECT ContactId AS contact_id, ContactsAccountId AS account_id, ContactEmail AS email,
           ContactsStartDate AS start_date
    FROM contacts WHERE ContactsStartDate <= $as_of
    QUALIFY row_number() OVER (PARTITION BY ContactId ORDER BY ContactsStartDate DESC) = 1
) c WHERE email IS NOT NULL AND account_id IN (SELECT account_id FROM crm_accounts)
"""
# Rule 1: one account per contact email (latest start date, then the smallest AccountId).
_CONTACT_OWNER = """
CREATE OR REPLACE TEMP TABLE contact_owner AS
SELECT email, split_part(email, '@', 2) AS domain, account_id, contact_id FROM crm_contacts
QUALIFY row_number() OVER (PARTITION BY email ORDER BY start_date DESC, account_id, contact_id) = 1
"""
# Rule 2a: website hosts (lower-case; scheme, port, path and a leading www. removed).
_WEB_HOSTS = r"""
CREATE OR REPLACE TEMP TABLE web_hosts AS
SELECT host, min(account_id) AS account_id, count(DISTINCT account_id) AS n_accounts,
       string_agg(DISTINCT account_id, ', ' ORDER BY account_id) AS accounts
FROM (SELECT account_id, regexp_replace(regexp_replace(regexp_replace(lower(trim(website)),
          '^[a-z][a-z0-9+.-]*://', ''), '[/:?#].*$', ''), '^www\.', '') AS host
      FROM crm_accounts WHERE website IS NOT NULL)
WHERE host <> '' GROUP BY host
"""
# Rule 2b: per domain, the account with the most contact emails that rule 1 gives it, and the runner-up.
_DOMAIN_SHARE = """
CREATE OR REPLACE TEMP TABLE domain_share AS
SELECT domain, account_id, n, total, coalesce(runner_up, 0) AS runner_up FROM (
    SELECT domain, account_id, n, sum(n) OVER w AS total,
           row_number() OVER (w ORDER BY n DESC, account_id) AS rk,
           lead(n) OVER (w ORDER BY n DESC, account_id) AS runner_up
    FROM (SELECT domain, account_id, count(*) AS n FROM contact_owner GROUP BY domain, account_id)
    WINDOW w AS (PARTITION BY domain)
) WHERE rk = 1
"""
# The decision per email. `emails_in` is a relation with an `email` column (a code constant).
# 1e-9: "at least 0.8 of 5" must accept 4 although 0.8 * 5 is not exactly 4 in floating point.
_MATCHES = """
CREATE OR REPLACE TEMP TABLE matches AS
WITH e AS (
    SELECT DISTINCT email, split_part(email, '@', 2) AS domain,
           list_contains($internal::VARCHAR[], split_part(email, '@', 2)) AS is_internal,
           list_contains($personal::VARCHAR[], split_part(email, '@', 2)) AS is_personal
    FROM emails_in WHERE email IS NOT NULL
), d AS (
    SELECT e.*, co.account_id AS contact_account, co.contact_id, w.n_accounts AS web_n, w.account_id AS web_account,
           w.accounts AS web_accounts, s.account_id AS top_account, s.n, s.total, s.runner_up,
           s.n >= $share * s.total - 1e-9 AND s.n > s.runner_up AS share_ok
    FROM e LEFT JOIN contact_owner co ON co.email = e.email
           LEFT JOIN web_hosts w ON w.host = e.domain
           LEFT JOIN domain_share s ON s.domain = e.domain
)
SELECT email,
    CASE WHEN is_internal THEN NULL WHEN contact_account IS NOT NULL THEN contact_account
         WHEN is_personal THEN NULL WHEN web_n = 1 THEN web_account WHEN share_ok THEN top_account END AS account_id,
    CASE WHEN is_internal THEN NULL WHEN contact_account IS NOT NULL THEN 'default'
         WHEN is_personal THEN NULL WHEN web_n = 1 OR share_ok THEN 'extrapolation' END AS method,
    CASE WHEN NOT $reasons THEN NULL  -- the metrics need no reasons: skip building millions of strings
         WHEN is_internal THEN 'internal domain ' || domain || ': colleagues are not matched to accounts'
         WHEN contact_account IS NOT NULL THEN 'contact ' || contact_id || ' of account ' || contact_account
         WHEN is_personal THEN 'personal domain ' || domain || ': not a contact, and personal domains are never extrapolated'
         WHEN web_n = 1 THEN 'domain ' || domain || ' is the website of account ' || web_account
         ELSE concat_ws('; ',
             CASE WHEN web_n > 1 THEN 'domain ' || domain || ' is the website of several accounts (' || web_accounts || ')' END,
             CASE WHEN total IS NULL THEN 'no known contact at ' || domain
                  WHEN share_ok THEN printf('%d of %d known contacts at %s are on account %s (share %.2f >= %.2f)',
                                            n, total, domain, top_account, n / total, $share)
                  WHEN n = runner_up THEN printf('tie: two or more accounts have %d of the %d known contacts at %s',
                                                 n, total, domain)
                  ELSE printf('account %s has only %d of %d known contacts at %s (share %.2f < %.2f)',
                              top_account, n, total, domain, n / total, $share) END)
    END AS reason
FROM d
"""


def internal_domains(con: duckdb.DuckDBPyConnection, settings: Settings) -> list[str]:
    """The internal domains: the setting, else the domains of every PersonId in org data."""
    if settings.metrics.internal_domains:
        return sorted({d.strip().lower().lstrip("@") for d in settings.metrics.internal_domains if d.strip()})
    rows = con.execute("SELECT DISTINCT split_part(lower(PersonId), '@', 2) FROM people WHERE PersonId IS NOT NULL")
    return sorted(r[0] for r in rows.fetchall() if r[0])


def personal_domains(settings: Settings) -> list[str]:
    return sorted({d.strip().lower().lstrip("@") for d in settings.metrics.personal_domains if d.strip()})


def create_crm_snapshot(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> None:
    """Temp tables crm_accounts, crm_contacts, contact_owner, web_hosts, domain_share as of a date."""
    for sql in (_CRM_ACCOUNTS, _CRM_CONTACTS):
        con.execute(sql, {"as_of": as_of})
    for sql in (_CONTACT_OWNER, _WEB_HOSTS, _DOMAIN_SHARE):
        con.execute(sql)


def create_matches(con: duckdb.DuckDBPyConnection, settings: Settings, internal: list[str], reasons: bool = True) -> None:
    """Temp table matches(email, account_id, method, reason) for every email of the relation `emails_in`.

    Needs :func:`create_crm_snapshot` first. Unmatched emails have null account_id and method;
    reason is null when `reasons` is False.
    """
    con.execute(_MATCHES, {"internal": internal, "personal": personal_domains(settings),
                           "share": float(settings.metrics.extrapolation_share), "reasons": reasons})


def match_emails(dataset: Dataset, emails: Iterable[str] | None, settings: Settings, as_of: dt.date) -> pa.Table:
    """Match emails (None: every external participant of the collaboration data) to accounts as of a date.

    Returns an Arrow table (email, account_id, method, reason) sorted by email; method is
    ``default`` or ``extrapolation``, null with account_id when unmatched; reason says why.
    """
    con = connect(dataset)
    try:
        internal = internal_domains(con, settings)
        if emails is None:
            con.execute(f"""CREATE TEMP TABLE emails_in AS SELECT DISTINCT lower(email) AS email FROM ({PARTICIPANTS_SQL})
                            WHERE NOT list_contains($internal::VARCHAR[], split_part(lower(email), '@', 2))""", {"internal": internal})
        else:
            wanted = sorted({e.strip().lower() for e in emails if e and e.strip()})
            con.register("emails_in", pa.table({"email": pa.array(wanted, pa.string())}))
        create_crm_snapshot(con, as_of)
        create_matches(con, settings, internal)
        return con.sql("SELECT email, account_id, method, reason FROM matches ORDER BY email").to_arrow_table().cast(MATCH_SCHEMA)
    finally:
        con.close()
