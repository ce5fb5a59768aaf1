"""The metrics session: one DuckDB connection and the integer arrays the cards are computed from.

:func:`open_session` builds, in order:

1. who and when (``digest.metrics.people``): the org snapshot, the sellers and their weeks, every
   email's integer id (``digest.metrics.persons``, from the address columns' dictionaries) and group / matched account;
2. the counted interactions, numbered (``digest.metrics.interactions``), and their participants
   read once, sorted, as integers;
3. the arrays (``digest.metrics.arrays``): participants collapsed to one row per person, headcounts
   per interaction, and the sellers' (seller, interaction) rows.

Counting is per interaction, then the seller's own row is subtracted ("others" = participants
minus the seller), so nothing is exploded to seller x interaction x other except in bounded chunks
(``digest.metrics.cards``). DuckDB's working memory is limited (:func:`memory_limit`); beyond it,
it spills into a private temporary folder removed by :meth:`Session.close`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from digest.metrics import arrays
from digest.metrics import interactions
from digest.metrics import people
from digest.metrics import persons
from digest.config import Settings
from digest.sources.contract import Dataset
from digest.errors import ConfigError
from digest.sources.exclusions import apply_exclusions
from digest.metrics.people import MEETING_MAX_SECONDS
from digest.weeks import IsoWeek

MEMORY_LIMIT_BYTES = 3 << 30  # DuckDB's working memory (on top of the dataset); it spills to disk beyond


@dataclass
class Session:
    """An open DuckDB connection with the session's temp tables, and the interaction arrays.

    ``arrays``: kind / t0 / t1 indexed by iid, internal_of_kid by kid, dflt_of_pid by pid,
    first_row (an interaction's rows in ``part``), ``part`` the participants, ``sellers``,
    ``pairs`` the sellers' rows; digest.metrics.time and digest.metrics.cards add theirs.
    """

    con: duckdb.DuckDBPyConnection
    week: IsoWeek
    settings: Settings
    dataset: Dataset
    spill_dir: str
    numbering: interactions.Numbering | None = None
    arrays: dict = field(default_factory=dict)

    def close(self) -> None:
        self.arrays.clear()  # the big arrays go now, not when the caller drops the session
        self.con.close()
        shutil.rmtree(self.spill_dir, ignore_errors=True)


def open_session(dataset: Dataset, week: IsoWeek, settings: Settings, sellers: list[str] | None,
                 employees: bool = False) -> Session:
    """Build the session's temp tables and arrays (see the module doc) for the sellers in scope.

    `employees`: every employee in force takes the sellers' place, in UTC (digest.metrics.coverage).
    """
    dataset, _ = apply_exclusions(dataset, settings)
    dataset, everyone = persons.with_pids(dataset)
    con, spill_dir = _connect(dataset, settings, sellers)
    session = Session(con, week, settings, dataset, spill_dir)
    try:
        people.create_people(con, week, settings, sellers is None, everyone, employees)
        lo, hi = people.time_range(week, con.execute("SELECT DISTINCT tz FROM sellers").fetchall())
        masks = interactions.counted(dataset, lo, hi, MEETING_MAX_SECONDS)
        if sellers is not None:
            con.execute(interactions.WANTED_IDS)
        session.numbering = interactions.register(con, dataset, masks, lo, hi, sellers is not None)
        del masks
        con.execute(interactions.CHAT_MSGS)
        for sql in interactions.SHARED_PARTICIPANTS:  # kept for the relationship card too
            con.execute(sql)
        _build_arrays(session)
    except BaseException:
        session.close()
        raise
    return session


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
    bound = interactions.participant_bound(session.dataset)
    part = arrays.participants(interactions.participant_batches(con, session.numbering, bound), bound)
    stats = arrays.headcounts(part, a["kind"], a["internal_of_kid"])
    a["pairs"] = arrays.seller_rows(part, stats, sellers, a["kind"], a["t0"], a["internal_of_kid"], float(MEETING_MAX_SECONDS))
    a["first_row"] = stats.first_row
    del stats
    a["part"], a["sellers"] = part, sellers


def pc_max(column: pa.ChunkedArray) -> int:
    """The largest value of an integer column, 0 when empty."""
    value = pc.max(column).as_py()
    return int(value or 0)


def list_seller_emails(dataset: Dataset, week: IsoWeek, settings: Settings) -> list[str]:
    """CONTRACT.md §2 sellers of the week (assigned at week end, in org data, not opted out or excluded)."""
    con, spill_dir = _connect(dataset, settings, None)
    try:
        people.create_sellers(con, week, settings, True)
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


def list_scope(dataset: Dataset, week: IsoWeek, settings: Settings, sellers: list[str] | None = None) -> list[tuple[str, str, str | None]]:
    """Every seller in scope (assigned at week end, in org data; or only `sellers`): (seller, zone, why left out or None)."""
    con, spill_dir = _connect(dataset, settings, sellers)
    try:
        return people.sellers_in_scope(con, week, settings, sellers is None)
    finally:
        con.close()
        shutil.rmtree(spill_dir, ignore_errors=True)


def _connect(dataset: Dataset, settings: Settings, sellers: list[str] | None) -> tuple[duckdb.DuckDBPyConnection, str]:
    attribute = settings.metrics.group_attribute
    if attribute not in dataset.people.column_names:
        raise ConfigError(f"metrics.group_attribute = {attribute!r} is not a column of org/people.csv. Set it to one of: "
                          f"{', '.join(c for c in dataset.people.column_names if c not in ('PersonId', 'ManagerId'))}.")
    # Row order never matters here (results are sorted at the end): let DuckDB stream and spill freely,
    # into a private temporary folder (removed by Session.close) once its memory limit is reached.
    spill_dir = tempfile.mkdtemp(prefix="digest-metrics-")
    # Background threads return memory DuckDB freed to the system (the numpy steps need it next).
    con = duckdb.connect(":memory:", config={"preserve_insertion_order": False, "temp_directory": spill_dir,
                                             "memory_limit": f"{memory_limit() >> 20}MiB",
                                             "allocator_background_threads": True})
    for name, table in dataset.tables().items():
        con.register(name, table)
    # The group attribute is exposed under a fixed name: no identifier from settings enters SQL.
    con.register("people_g", dataset.people.select(["PersonId", "EffectiveDate", "ManagerId", "TimeZone", "Locale"])
                 .append_column("grp", dataset.people.column(attribute)))
    con.register("wanted", pa.table({"email": pa.array(sorted({s.strip().lower() for s in sellers or []}), pa.string())}))
    return con, spill_dir


