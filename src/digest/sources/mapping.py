"""Column mappings: load a real export (its own file names, headers and quirks) without editing it.

A mapping is a small TOML file with one section per contract file, named like the file
(``people``, ``accounts``, ``contacts``, ``seller_assignments``, ``optouts``, ``mails``, …)::

    [accounts]
    "Account ID" = "AccountId"                 # source header = contract column
    Created = "AccountsStartDate"
    Email = ["ContactEmail", "ContactName"]    # one source header may fill several columns

    [accounts.options]
    file = "crm_accounts.csv"                  # the export's file name inside the upload
    date_format = "%Y-%m-%d %H:%M:%S.%f"       # how the export writes dates (Python strptime codes)
    drop_rows = { Status = ["History"] }       # rows to leave out: source header = values
    keep = ["SalesPersonFlag"]                 # people only: extra columns kept as custom attributes

Headers not named in a section pass through unchanged. Every mistake in the mapping itself
(unknown file, unknown column, two sources for one column, unknown option) is a clear
:class:`~digest.errors.InputError` that names the mapping file, the key and the fix.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from digest.sources.contract import FILES, FileSpec
from digest.errors import InputError

OPTIONS = ("file", "date_format", "drop_rows", "keep")
SECTIONS: dict[str, FileSpec] = {PurePosixPath(spec.path).name.removesuffix(".csv"): spec for spec in FILES}
ALIASES = {spec.key: name for name, spec in SECTIONS.items() if spec.key != name}  # "assignments" → "seller_assignments"


@dataclass(frozen=True)
class FileMapping:
    """How one export file becomes one contract file."""

    spec: FileSpec
    columns: dict[str, tuple[str, ...]]  # source header → contract columns
    file: str | None = None  # the export's file name in the upload (None: the contract's own name)
    date_format: str | None = None
    drop_rows: dict[str, tuple[str, ...]] = field(default_factory=dict)  # source header → values whose rows are left out
    keep: tuple[str, ...] = ()  # people: extra source columns kept as custom attributes

    def describe(self) -> dict[str, Any]:
        """The mapping of this file as plain data (written into snapshot manifests)."""
        return {"file": self.file, "columns": {k: list(v) for k, v in self.columns.items()}, "date_format": self.date_format,
                "drop_rows": {k: list(v) for k, v in self.drop_rows.items()}, "keep": list(self.keep)}


@dataclass(frozen=True)
class Mapping:
    """A loaded, checked mapping file: per contract file key, its FileMapping."""

    path: Path
    sha256: str
    files: dict[str, FileMapping]

    def for_spec(self, spec: FileSpec) -> FileMapping | None:
        """The mapping of one contract file, None when the mapping does not mention it."""
        return self.files.get(spec.key)


def load_mapping(path: str | Path) -> Mapping:
    """Read and check a mapping file; raise InputError naming the file, the key and the fix."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"mapping file {path} does not exist: pass the path of a TOML mapping "
                         f"(examples/mappings/adventureworks.toml shows one; docs/data-contract.md explains them).")
    data = path.read_bytes()
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"mapping {path}: not valid TOML ({exc}). Fix the syntax; "
                         f"examples/mappings/adventureworks.toml shows the layout.") from None
    if not raw:
        raise InputError(f"mapping {path} maps no file: add a section like [accounts] with lines \"Your header\" = \"AccountId\".")
    files: dict[str, FileMapping] = {}
    for section, body in raw.items():
        name = ALIASES.get(section, section)
        if name not in SECTIONS:
            raise InputError(f"mapping {path}: unknown file [{section}]{_did_you_mean(section, SECTIONS)}. "
                             f"Sections are named after the contract files: {', '.join(SECTIONS)}.")
        if not isinstance(body, dict):
            raise InputError(f"mapping {path}: {section} must be a section [{section}] of \"source header\" = \"contract column\" lines.")
        spec = SECTIONS[name]
        if spec.key in files:
            raise InputError(f"mapping {path}: [{section}] maps the same file as another section; keep one of them.")
        files[spec.key] = _file_mapping(path, section, spec, body)
    return Mapping(path, hashlib.sha256(data).hexdigest(), files)


def _file_mapping(path: Path, section: str, spec: FileSpec, body: dict[str, Any]) -> FileMapping:
    options = body["options"] if isinstance(body.get("options"), dict) else {}  # a header named "options" maps like any other
    known = [c.name for c in spec.columns]
    columns: dict[str, tuple[str, ...]] = {}
    source_of: dict[str, str] = {}
    for source, target in body.items():
        if source == "options" and isinstance(target, dict):
            continue
        targets = (target,) if isinstance(target, str) else tuple(target) if isinstance(target, list) else None
        if not targets or not all(isinstance(t, str) for t in targets):
            raise InputError(f"mapping {path}: [{section}] {source!r}: the value must be a contract column name "
                             f"(or a list of them), like {source!r} = \"{known[0]}\".")
        for t in targets:
            if t not in known:
                raise InputError(f"mapping {path}: [{section}] {source!r} = {t!r}: {t} is not a column of {spec.path}"
                                 f"{_did_you_mean(t, known)}. Its columns are: {', '.join(known)}."
                                 + (" To keep an extra org attribute, list its header in [people.options] keep." if spec.key == "people" else ""))
            if t in source_of:
                raise InputError(f"mapping {path}: [{section}] both {source_of[t]!r} and {source!r} map to {t}: "
                                 f"a contract column takes one source header; remove one of the two lines.")
            source_of[t] = source
        columns[source] = targets
    unknown = [k for k in options if k not in OPTIONS]
    if unknown:
        raise InputError(f"mapping {path}: [{section}.options] has unknown option {unknown[0]!r}"
                         f"{_did_you_mean(unknown[0], OPTIONS)}. Options are: {', '.join(OPTIONS)}.")
    return FileMapping(spec, columns, _file_option(path, section, options.get("file")),
                       _date_format(path, section, options.get("date_format")),
                       _drop_rows(path, section, options.get("drop_rows", {})),
                       _keep(path, section, spec, options.get("keep", [])))


def _file_option(path: Path, section: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or value.startswith("/") or ".." in PurePosixPath(value).parts:
        raise InputError(f"mapping {path}: [{section}.options] file = {value!r}: give the export's file name relative "
                         f"to the upload folder, like \"crm_accounts.csv\".")
    return value


def _date_format(path: Path, section: str, value: Any) -> str | None:
    if value is None:
        return None
    probe = dt.datetime(2026, 11, 16, 9, 5, 7, 123456)
    try:
        ok = isinstance(value, str) and dt.datetime.strptime(probe.strftime(value), value).date() == probe.date()
    except ValueError:
        ok = False
    if not ok:
        raise InputError(f"mapping {path}: [{section}.options] date_format = {value!r} does not read back a whole date: "
                         f"use Python strptime codes with %Y, %m (or %b) and %d, like \"%d.%m.%Y\" or \"%Y-%m-%d %H:%M:%S\".")
    return value


def _drop_rows(path: Path, section: str, value: Any) -> dict[str, tuple[str, ...]]:
    shape = f"mapping {path}: [{section}.options] drop_rows must look like {{ Status = [\"History\"] }} (source header = values)"
    if not isinstance(value, dict):
        raise InputError(shape + ".")
    out = {}
    for header, values in value.items():
        values = [values] if isinstance(values, str) else values
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise InputError(shape + f"; {header!r} has {values!r}.")
        out[header] = tuple(v.strip() for v in values)
    return out


def _keep(path: Path, section: str, spec: FileSpec, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"mapping {path}: [{section}.options] keep must be a list of source headers, like [\"CostCenter\"].")
    if value and not spec.keep_extra_columns:
        raise InputError(f"mapping {path}: [{section}.options] keep: only org data (people) keeps extra columns; "
                         f"{spec.path} uses the contract's columns only. Remove keep.")
    return tuple(value)


def _did_you_mean(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    close = close or [c for c in choices if c.lower() == word.lower()]
    return f" (did you mean {close[0]!r}?)" if close else ""


# --- applying a mapping to a file as read ---------------------------------------------------------

def apply_mapping(raw: pa.Table, fm: FileMapping, label: str, first_row: int) -> tuple[pa.Table, list[int] | None]:
    """The raw table with rows dropped, headers renamed and dates rewritten; plus the source row numbers
    of the rows kept (None when no row was dropped), so problems still name rows of the export."""
    rows = None
    for header in (*fm.drop_rows, *fm.columns):
        if header not in raw.column_names:
            raise InputError(f"{label}: the mapping {_where(fm)} names the header {header!r}, which this file does not have"
                             f"{_did_you_mean(header, raw.column_names)}. Its headers are: {', '.join(raw.column_names)}. "
                             f"Fix the mapping or the export.")
    if fm.drop_rows:
        keep = pa.array([True] * raw.num_rows, pa.bool_())
        for header, values in fm.drop_rows.items():
            text = pc.fill_null(pc.utf8_trim_whitespace(raw.column(header).cast(pa.string())), "")
            keep = pc.and_(keep, pc.invert(pc.is_in(text, value_set=pa.array(values, pa.string()))))
        kept = pc.indices_nonzero(keep.combine_chunks() if isinstance(keep, pa.ChunkedArray) else keep)
        rows = [i + first_row for i in kept.to_pylist()]
        raw = raw.take(kept)
    mapped = {t for targets in fm.columns.values() for t in targets}
    columns: dict[str, pa.ChunkedArray] = {}
    for name in raw.column_names:
        if name in fm.columns:
            for target in fm.columns[name]:
                columns[target] = raw.column(name)
        elif name in mapped:
            continue  # a header with a contract name that the mapping fills from another header: the mapping wins
        elif name in {c.name for c in fm.spec.columns} or name in fm.keep or not fm.spec.keep_extra_columns:
            columns[name] = raw.column(name)
        # else: an unmapped extra column of org data is left out (exports carry ids and personal data we do not need)
    table = pa.table(columns)
    if fm.date_format:
        table = _rewrite_dates(table, fm)
    return table, rows


def _rewrite_dates(table: pa.Table, fm: FileMapping) -> pa.Table:
    """Rewrite the date columns' values that match date_format as YYYY-MM-DD; others stay (and are reported)."""
    for column in fm.spec.columns:
        if column.kind != "date" or column.name not in table.column_names:
            continue
        text = pc.utf8_trim_whitespace(table.column(column.name).cast(pa.string())).combine_chunks()
        fixed = {v: _parse_date(v, fm.date_format) for v in pc.unique(text).to_pylist() if v}
        keys = pa.array(list(fixed), pa.string())
        values = pa.array([fixed[k] or k for k in fixed], pa.string())
        rewritten = pc.take(values, pc.index_in(text, value_set=keys))
        table = table.set_column(table.column_names.index(column.name), column.name, pc.coalesce(rewritten, text))
    return table


def _parse_date(value: str, fmt: str) -> str | None:
    if "%f" in fmt:  # SQL Server writes up to 9 digits of fractions; strptime reads at most 6
        value = re.sub(r"(\.\d{6})\d+", r"\1", value)
    try:
        return dt.datetime.strptime(value, fmt).date().isoformat()
    except ValueError:
        return None


def _where(fm: FileMapping) -> str:
    return f"[{next(n for n, s in SECTIONS.items() if s is fm.spec)}]"
