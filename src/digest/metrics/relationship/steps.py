"""Running the relationship SQL (digest.metrics.relationship.sql) over a session: per seller and account, the rows :func:`card` reads."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from digest.metrics import interactions
from digest.metrics.people import MEETING_MAX_SECONDS
from digest.metrics.relationship.sql import (HEALTH, INTERACTIONS, NAMES, PEOPLE, REPLIES, STATS, STATS_ROWS, STEPS, TABLES, TOP,
                                             WEEKLY)
from digest.metrics.relationship.window import first_day_of_data, zone_windows
from digest.metrics.session import Session
from digest.sources.contract import has_column

WEIGHT_UNITS = 1_000_000  # weights are taken to 6 decimals, so the score is integer arithmetic (exact round half up)
_EARLY = dt.datetime(1900, 1, 1, tzinfo=dt.timezone.utc)


def _register(session: Session, lo: dt.datetime, hi: dt.datetime, hi_next: dt.datetime) -> None:
    """The collaboration tables with a row number ``r`` and ``ok`` (counted, CONTRACT.md §3, in range)."""
    con, d = session.con, session.dataset
    mails, _, _ = interactions.counted(d, _EARLY, hi, MEETING_MAX_SECONDS)  # mails of any time: conversation starts
    _, meetings, _ = interactions.counted(d, lo, hi_next, MEETING_MAX_SECONDS)  # meetings up to the lookahead
    _, _, calls = interactions.counted(d, lo, hi, MEETING_MAX_SECONDS)
    con.register("rel_mails", d.mails.select(["MailId", "SentTime", "sender_pid", "ConversationId"])
                 .append_column("r", _rows(d.mails)).append_column("ok", pc.and_(mails, _sellers_mails(session))))
    con.register("rel_meetings", d.meetings.select(["MeetingId", "StartTime", "organizer_pid"])
                 .append_column("r", _rows(d.meetings)).append_column("ok", meetings))
    con.register("rel_calls", d.calls.select(["CallId", "StartTime"]).append_column("r", _rows(d.calls)).append_column("ok", calls))
    chats = d.chat_messages
    in_range = pc.and_(pc.greater_equal(chats.column("SentTime"), pa.scalar(lo, chats.column("SentTime").type)),
                       pc.less(chats.column("SentTime"), pa.scalar(hi, chats.column("SentTime").type)))
    con.register("rel_chats", chats.select(["ChatId", "SentTime"]).append_column("r", _rows(chats)).filter(in_range))


def _sellers_mails(session: Session) -> pa.Array:
    """Which mails a seller of the session sent or received: only those can give a row (every row is a
    seller's own mail joined with the other participants of the same mail, and a conversation's start
    is the seller's first mail in it). A cohort's session (a tenth of the sellers) then reads a tenth of
    the mails. A mask beside the table, not a DuckDB semi-join: that one's hash table of row numbers
    (millions at 20,000 sellers) came on top of the conversations' and ran out of DuckDB's memory."""
    con, mails = session.con, session.dataset.mails
    pids = con.execute("SELECT DISTINCT pid FROM sellers WHERE pid IS NOT NULL").fetchnumpy()["pid"]
    mine = pc.is_in(mails.column("sender_pid"), value_set=pa.array(pids, mails.schema.field("sender_pid").type)).to_numpy(zero_copy_only=False)
    mine[con.execute("SELECT x.r FROM mail_rcpt x SEMI JOIN sellers s ON s.pid = x.pid").fetchnumpy()["r"]] = True
    return pa.array(mine)


def _rows(table: pa.Table) -> pa.Array:
    return pa.array(np.arange(table.num_rows, dtype=np.int32))


def results(session: Session, listed: pa.Table) -> dict[str, Any]:
    """The relationship rows of every seller of the session, grouped by seller id (see the module doc).

    `listed`: (sid, key) of the accounts each seller's card shows (the time-with-customers card's:
    digest.metrics.engine.listed_accounts); no other account gets rows, nothing else is fetched.
    """
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
    con.register("rel_listed_keys", listed)
    _register(session, lo, hi, hi_next)
    conversations = has_column(session.dataset.mails, "ConversationId")
    week_index = " + ".join(f"(i.t >= b.b{j})::INTEGER" for j in range(1, r.window_weeks + 1))  # j: a code-made int
    for sql, done in STEPS:
        con.execute(sql)
        for table in done:
            con.execute(f"DROP TABLE {table}")  # table names are code constants
    con.execute(INTERACTIONS.format(week_index=week_index))
    health = HEALTH.format(weeks="weeks", bd="bd", rn="rn", bn="bn")
    health_p = HEALTH.format(weeks="weeks_p", bd="bd_p", rn="rn_p", bn="bn_p")
    params = {"wf": round(r.weight_frequency * WEIGHT_UNITS), "wr": round(r.weight_recency * WEIGHT_UNITS),
              "wb": round(r.weight_balance * WEIGHT_UNITS), "units": WEIGHT_UNITS, "e": r.expected_weeks,
              "rd": r.recency_days * 86_400 * 1_000_000}
    con.execute(STATS.format(health=health, health_p=health_p), params)
    con.execute(TOP)
    con.execute("DROP TABLE rel_rows")
    con.execute(NAMES)
    out = {
        "windows": windows, "conversations": conversations,
        "stats": _grouped(con.execute(STATS_ROWS).fetchall(), 2),
        "weekly": _grouped(con.execute(WEEKLY).fetchall(), 2),
        "people": _grouped(con.execute(PEOPLE).fetchall(), 2),
        "replies": _grouped(con.execute(REPLIES, {"reply": r.reply_days * 86_400}).fetchall(), 2) if conversations else {},
    }
    for table in TABLES + interactions.SHARED_TABLES:
        con.execute(f"DROP TABLE IF EXISTS {table}")  # table names are code constants
    for name in ("rel_zones", "rel_listed_keys", "rel_mails", "rel_meetings", "rel_calls", "rel_chats"):
        con.unregister(name)
    return out


def _grouped(rows: list[tuple], key_columns: int) -> dict[tuple, list[tuple]]:
    """Rows grouped by their first `key_columns` columns (seller id, account id)."""
    out: dict[tuple, list[tuple]] = defaultdict(list)
    for row in rows:
        out[row[:key_columns]].append(row[key_columns:])
    return out
