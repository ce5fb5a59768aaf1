"""What the CRM data page says about the uploads alone: counts, join coverage, rows that do not join, attributes.

Everything is about the rows **in force** on the reported week's Sunday, as for the cards: per
AccountId, ContactId and PersonId the row with the latest start / effective date on or before it;
a seller assignment from its start date on. Rows are numbered as a spreadsheet shows the data
folder's file (the header is row 1), and values are given as written in that file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from digest.sources.contract import ACCOUNTS, ASSIGNMENTS, CONTACTS, PEOPLE, Dataset, FileSpec
from digest.sources.files import find_file, read_raw

TOP_VALUES = 100
CRM_FILES: tuple[tuple[str, FileSpec], ...] = (("accounts", ACCOUNTS), ("contacts", CONTACTS),
                                                ("seller_assignments", ASSIGNMENTS), ("org_data", PEOPLE))

# Row positions (0-based, in file order) in force on $sunday. Table names are code constants.
_IN_FORCE = {
    "accounts": """SELECT i FROM accounts_i WHERE AccountsStartDate <= $sunday
                   QUALIFY row_number() OVER (PARTITION BY AccountId ORDER BY AccountsStartDate DESC) = 1""",
    "contacts": """SELECT i FROM contacts_i WHERE ContactsStartDate <= $sunday
                   QUALIFY row_number() OVER (PARTITION BY ContactId ORDER BY ContactsStartDate DESC) = 1""",
    "seller_assignments": "SELECT i FROM assignments_i WHERE SellerAssignmentStartDate <= $sunday",
    "org_data": """SELECT i FROM people_i WHERE EffectiveDate <= $sunday
                   QUALIFY row_number() OVER (PARTITION BY PersonId ORDER BY EffectiveDate DESC) = 1""",
}
_TABLE = {"accounts": "accounts_i", "contacts": "contacts_i", "seller_assignments": "assignments_i", "org_data": "people_i"}
_JOIN = """
WITH a AS (SELECT x.AccountId AS id FROM accounts_i x JOIN f_accounts f USING (i)),
c AS (SELECT x.i, x.ContactsAccountId AS id FROM contacts_i x JOIN f_contacts f USING (i)),
s AS (SELECT x.i, x.SellerAssignmentAccountId AS id, x.SellerEmail AS seller FROM assignments_i x JOIN f_seller_assignments f USING (i)),
o AS (SELECT x.PersonId AS email FROM people_i x JOIN f_org_data f USING (i))
SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM c), (SELECT count(*) FROM c WHERE id IN (SELECT id FROM a)),
       (SELECT count(*) FROM s), (SELECT count(*) FROM s WHERE id IN (SELECT id FROM a)),
       (SELECT count(DISTINCT id) FROM c WHERE id IN (SELECT id FROM a)),
       (SELECT count(DISTINCT id) FROM s WHERE id IN (SELECT id FROM a)),
       (SELECT count(DISTINCT seller) FROM s), (SELECT list(DISTINCT seller ORDER BY seller) FROM s WHERE seller NOT IN (SELECT email FROM o))
"""
_UNJOINED = {
    "contacts": """SELECT x.i FROM contacts_i x JOIN f_contacts f USING (i) WHERE x.ContactsAccountId NOT IN
                   (SELECT AccountId FROM accounts_i JOIN f_accounts USING (i)) ORDER BY x.i""",
    "seller_assignments": """SELECT x.i FROM assignments_i x JOIN f_seller_assignments f USING (i) WHERE x.SellerAssignmentAccountId
                             NOT IN (SELECT AccountId FROM accounts_i JOIN f_accounts USING (i)) ORDER BY x.i""",
}


@dataclass(frozen=True)
class Share:
    """n of a whole, and its percentage (None when the whole is 0)."""

    n: int
    of: int

    @property
    def pct(self) -> float | None:
        return 100.0 * self.n / self.of if self.of else None


@dataclass(frozen=True)
class Attribute:
    """One column of an uploaded file, over its rows in force."""

    data: str  # accounts, contacts, seller_assignments, org_data
    column: str
    non_blank: Share
    unique: int
    top: tuple[tuple[str, int], ...]  # up to TOP_VALUES (value, rows): count descending, then value


@dataclass(frozen=True)
class Unjoined:
    """Rows in force that name an account not in force: the file's header, then (row number, values as written)."""

    data: str
    header: tuple[str, ...]
    rows: tuple[tuple[int, tuple[str, ...]], ...]


@dataclass(frozen=True)
class UploadCoverage:
    """Counts, join coverage, rows that do not join and attributes of the CRM and org files in force."""

    as_of: str
    accounts: int
    contacts: Share  # contacts in force whose ContactsAccountId is an account in force
    assignments: Share  # the same for SellerAssignmentAccountId
    accounts_with_contacts: Share
    accounts_with_assignments: Share
    sellers: int  # distinct SellerEmail of the assignments in force
    sellers_missing: tuple[str, ...]  # of them, not in org data in force
    unjoined: tuple[Unjoined, ...]
    attributes: tuple[Attribute, ...]

    @property
    def associated(self) -> bool:
        """True when every contact and assignment joins and every account has a contact and an assignment."""
        return all(s.n == s.of for s in (self.contacts, self.assignments, self.accounts_with_contacts,
                                          self.accounts_with_assignments)) and not self.sellers_missing


def upload_coverage(dataset: Dataset, sunday: dt.date, folder: Path | None) -> UploadCoverage:
    """The upload figures of the CRM data page as of a Sunday; `folder` (the data folder) gives the values as written."""
    con = duckdb.connect(":memory:")
    try:
        for table, source in (("accounts_i", dataset.accounts), ("contacts_i", dataset.contacts),
                              ("assignments_i", dataset.assignments), ("people_i", dataset.people)):
            con.register(table, source.append_column("i", pa.array(range(source.num_rows), pa.int64())))
        in_force = {}
        for key, sql in _IN_FORCE.items():
            rows = con.execute(sql, {"sunday": sunday}).fetchnumpy()["i"]
            in_force[key] = pa.array(sorted(rows.tolist()), pa.int64())
            con.register(f"f_{key}", pa.table({"i": in_force[key]}))
        (n_acc, n_con, con_ok, n_asg, asg_ok, acc_con, acc_asg, n_sellers, missing) = con.execute(_JOIN).fetchall()[0]
        unjoined_rows = {k: con.execute(sql).fetchnumpy()["i"].tolist() for k, sql in _UNJOINED.items()}
    finally:
        con.close()
    raw = {key: _as_written(dataset, key, spec, folder) for key, spec in CRM_FILES}
    unjoined = tuple(Unjoined(key, tuple(raw[key].column_names), tuple(
        (i + 2, tuple(raw[key].column(c)[i].as_py() or "" for c in raw[key].column_names)) for i in unjoined_rows[key]))
        for key in ("contacts", "seller_assignments"))
    attributes = tuple(a for key, _ in CRM_FILES for a in attributes_of(key, raw[key].take(in_force[key])))
    return UploadCoverage(sunday.isoformat(), int(n_acc), Share(int(con_ok), int(n_con)), Share(int(asg_ok), int(n_asg)),
                          Share(int(acc_con), int(n_acc)), Share(int(acc_asg), int(n_acc)), int(n_sellers),
                          tuple(missing or ()), unjoined, attributes)


def _as_written(dataset: Dataset, key: str, spec: FileSpec, folder: Path | None) -> pa.Table:
    """The data folder's file as text, row for row like the dataset's table; the typed table as text without it."""
    typed = getattr(dataset, spec.key)
    path = find_file(folder, spec) if folder is not None and Path(folder).is_dir() else None
    if path is not None and path.suffix == ".csv":
        raw, _ = read_raw(path, str(path))
        if raw.num_rows == typed.num_rows:
            return raw
    present = [c for c in typed.column_names if typed.column(c).null_count < typed.num_rows or not typed.num_rows]
    return pa.table({c: pc.cast(typed.column(c), pa.string()) for c in present})


def attributes_of(data: str, table: pa.Table) -> list[Attribute]:
    """Non-blank count, coverage, unique values and the top values of every column (values trimmed, blank = empty)."""
    out = []
    for name in table.column_names:
        values = pc.utf8_trim_whitespace(pc.cast(table.column(name), pa.string()))
        values = pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)
        counts = pc.value_counts(values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values)
        pairs = [(v, int(n)) for v, n in zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist())
                 if v is not None]
        pairs.sort(key=lambda p: (-p[1], p[0]))
        non_blank = sum(n for _, n in pairs)
        out.append(Attribute(data, name, Share(non_blank, table.num_rows), len(pairs), tuple(pairs[:TOP_VALUES])))
    return out
