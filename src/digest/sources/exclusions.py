"""Excluded domains and addresses (CONTRACT.md §7): drop the whole interaction for everyone in it.

An interaction with even one excluded participant disappears from the dataset, for every seller in
it, before any metric is computed. The privacy gate re-checks the same rule independently
(``digest.audit.scope``), so a metric that forgot to call :func:`apply_exclusions` is blocked.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from digest.config import Settings
from digest.sources.contract import Dataset

# Participants per kind (CONTRACT.md §3): who is "in" an interaction. Declined attendees are not.
# Rows, not distinct ones (UNION ALL): every use de-duplicates or aggregates them anyway, and a
# DISTINCT over every participant row of the snapshot was most of the audit's scope queries.
PARTICIPANTS_SQL = """
    SELECT 'mail' AS kind, MailId AS interaction_id, Sender AS email FROM mails
    UNION ALL SELECT 'mail', MailId, Email FROM mail_recipients
    UNION ALL SELECT 'meeting', MeetingId, Organizer FROM meetings
    UNION ALL SELECT 'meeting', MeetingId, Email FROM meeting_attendees WHERE Response IS DISTINCT FROM 'declined'
    UNION ALL SELECT 'call', CallId, Email FROM call_participants
    UNION ALL SELECT 'chat', ChatId, Email FROM chat_members
    UNION ALL SELECT 'chat', ChatId, Sender FROM chat_messages
"""

# Which table holds each kind's rows, and the column naming the interaction.
_KIND_TABLES = {
    "mail": (("mails", "MailId"), ("mail_recipients", "MailId")),
    "meeting": (("meetings", "MeetingId"), ("meeting_attendees", "MeetingId")),
    "call": (("calls", "CallId"), ("call_participants", "CallId")),
    "chat": (("chat_messages", "ChatId"), ("chat_members", "ChatId")),
}


@dataclass(frozen=True)
class Exclusions:
    """What was dropped, as counts only: interactions per kind and per reason."""

    by_domain: dict[str, int]  # kind -> interactions dropped because of an excluded domain
    by_address: dict[str, int]  # kind -> interactions dropped because of an excluded address (and no domain)

    @property
    def total(self) -> int:
        return sum(self.by_domain.values()) + sum(self.by_address.values())

    def to_dict(self) -> dict[str, dict[str, int]]:
        return {"excluded_domain": dict(self.by_domain), "excluded_address": dict(self.by_address)}


def normalized_rules(settings: Settings) -> tuple[list[str], list[str]]:
    """Excluded domains and addresses, trimmed and lower-cased (emails compare case-insensitively)."""
    domains = sorted({d.strip().lower().lstrip("@") for d in settings.privacy.excluded_domains if d.strip()})
    addresses = sorted({a.strip().lower() for a in settings.privacy.excluded_addresses if a.strip()})
    return domains, addresses


def connect(dataset: Dataset) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with every table of the dataset registered by its file key."""
    con = duckdb.connect(":memory:")
    for name, table in dataset.tables().items():
        con.register(name, table)
    return con


def excluded_interactions(con: duckdb.DuckDBPyConnection, settings: Settings) -> pa.Table:
    """(kind, interaction_id, reason) of every interaction with an excluded participant."""
    domains, addresses = normalized_rules(settings)
    return con.sql(
        f"""
        WITH p AS ({PARTICIPANTS_SQL}),
        flagged AS (
            SELECT kind, interaction_id,
                   bool_or(list_contains(?, split_part(lower(email), '@', 2))) AS by_domain,
                   bool_or(list_contains(?, lower(email))) AS by_address
            FROM p WHERE email IS NOT NULL GROUP BY kind, interaction_id)
        SELECT kind, interaction_id, CASE WHEN by_domain THEN 'excluded_domain' ELSE 'excluded_address' END AS reason
        FROM flagged WHERE by_domain OR by_address ORDER BY kind, interaction_id
        """,
        params=[domains, addresses],
    ).to_arrow_table()


def apply_exclusions(dataset: Dataset, settings: Settings) -> tuple[Dataset, Exclusions]:
    """The dataset without every interaction that has an excluded participant, and what was dropped."""
    domains, addresses = normalized_rules(settings)
    if not domains and not addresses:
        return dataset, Exclusions({}, {})
    by_domain: dict[str, int] = {}
    by_address: dict[str, int] = {}
    con = connect(dataset)
    try:
        dropped = excluded_interactions(con, settings)
        con.register("dropped_direct", dropped)
        # Calls that were a meeting are part of that meeting: they go with it.
        con.execute("""CREATE TEMP VIEW dropped AS SELECT kind, interaction_id FROM dropped_direct
                       UNION SELECT 'call', c.CallId FROM calls c JOIN dropped_direct d
                       ON d.kind = 'meeting' AND d.interaction_id = c.MeetingId""")
        for kind, reason in con.execute("SELECT kind, reason FROM dropped_direct").fetchall():
            target = by_domain if reason == "excluded_domain" else by_address
            target[kind] = target.get(kind, 0) + 1
        tables = {}
        for kind, specs in _KIND_TABLES.items():
            for table, column in specs:
                # Anti-join on the interaction id; values are bound, table names are constants.
                tables[table] = con.sql(
                    f'SELECT t.* FROM "{table}" t WHERE NOT EXISTS (SELECT 1 FROM dropped d '
                    f'WHERE d.kind = ? AND d.interaction_id = t."{column}")', params=[kind]).to_arrow_table()
    finally:
        con.close()
    cleaned = dataclasses.replace(dataset, **{k: v.cast(getattr(dataset, k).schema) for k, v in tables.items()})
    return cleaned, Exclusions(by_domain, by_address)
