"""An upload entry: which contract files it holds, each read and validated as a whole (mapping first).

An entry is a folder laid out like the data folder (any subset of its files), or one file named
like a contract file (``accounts.csv``, ``mails.parquet``, …). With a mapping, a section's
``file`` option names the export's own file instead. Append mode merges a file with the data
folder's current one (:func:`merge_append`); the store (digest.sources.store) decides what happens.
:func:`check_upload` is `digest validate`: each file judged on its own, nothing written.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from digest.config import Settings
from digest.sources.contract import FILES, FileSpec
from digest.errors import InputError, Problem, ValidationError
from digest.sources.files import CACHE_DIR, SUFFIXES, find_file, load_file, read_raw, validate_table
from digest.sources.mapping import FileMapping, Mapping, apply_mapping, load_mapping

MODES = ("replace", "append")


@dataclass(frozen=True)
class UploadFile:
    """One contract file found in an upload entry."""

    spec: FileSpec
    source: Path  # the file as uploaded
    name: str  # its path in the upload entry
    label: str  # how messages name it: that path (and the contract file, when mapped)
    mapping: FileMapping | None = None

    @property
    def suffix(self) -> str:
        return ".parquet" if self.source.suffix == ".parquet" else ".csv"

    @property
    def target(self) -> str:
        """The contract file it is, with the suffix it has (collaboration files: .csv or .parquet)."""
        return self.spec.path if self.spec.path.endswith(".csv") else self.spec.path + self.suffix


def upload_files(entry: Path, mapping: Mapping | None = None) -> tuple[list[UploadFile], list[str]]:
    """The contract files of an upload entry, and the names of files in it that are not used."""
    entry = Path(entry)
    if not entry.exists():
        raise InputError(f"upload {entry} does not exist: give a folder laid out like the data folder or one CSV file "
                         f"named like a contract file (docs/data-contract.md, 'Uploads').")
    if entry.is_file():
        return _single_file(entry, mapping), []
    found: list[UploadFile] = []
    for spec in FILES:
        fm = mapping.for_spec(spec) if mapping else None
        if fm and fm.file:
            path = entry / fm.file
            if path.is_file():
                found.append(UploadFile(spec, path, fm.file, _label(fm.file, spec), fm))
            continue
        path = find_file(entry, spec)
        if path is not None:
            name = str(path.relative_to(entry))
            found.append(UploadFile(spec, path, name, name, fm))
    used = {f.source.resolve() for f in found}
    ignored = sorted(str(p.relative_to(entry)) for p in entry.rglob("*")
                     if p.is_file() and p.resolve() not in used and not _hidden(p.relative_to(entry)))
    return found, ignored


def _single_file(path: Path, mapping: Mapping | None) -> list[UploadFile]:
    mapped = [fm for fm in (mapping.files.values() if mapping else ()) if fm.file and PurePosixPath(fm.file).name == path.name]
    if mapped:
        return [UploadFile(fm.spec, path, path.name, _label(path.name, fm.spec), fm) for fm in mapped]
    for spec in FILES:
        name = PurePosixPath(spec.path).name
        names = (name,) if name.endswith(".csv") else tuple(name + s for s in SUFFIXES)
        if path.name in names:
            return [UploadFile(spec, path, path.name, path.name, mapping.for_spec(spec) if mapping else None)]
    accepted = ", ".join(PurePosixPath(s.path).name + ("" if s.path.endswith(".csv") else ".csv") for s in FILES)
    raise InputError(f"upload {path}: the file name does not say which contract file it is. Name it one of {accepted} "
                     f"(collaboration files may be .parquet), upload a folder laid out like the data folder, "
                     f"or name the export in a mapping's [<file>.options] file.")


def _label(source: str, spec: FileSpec) -> str:
    return f"{source} (as {spec.path})"


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") or part == CACHE_DIR for part in relative.parts)


@dataclass(frozen=True)
class FileCheck:
    """The verdict on one file of an upload or data folder (`digest validate`)."""

    path: str  # the contract file, e.g. crm/accounts.csv or collaboration/mails.parquet
    source: str  # the file as found
    rows: int | None  # rows accepted (after ids seen twice collapsed), None when rejected
    error: ValidationError | None


@dataclass(frozen=True)
class UploadCheck:
    """What `digest validate` found in a folder or file: a verdict per file, unused files, notices."""

    files: tuple[FileCheck, ...]
    ignored: tuple[str, ...]
    notices: tuple[str, ...]
    missing: tuple[str, ...]  # required files of a complete data folder that are not there

    @property
    def ok(self) -> bool:
        return bool(self.files) and all(f.error is None for f in self.files)


def check_upload(entry: Path, settings: Settings, mapping: Path | None = None, *, cache: bool = False) -> UploadCheck:
    """Validate each file of an upload entry or data folder on its own; nothing is published (`digest validate`).

    `cache`: reuse (and keep) validated tables in the folder's cache, as runs do with the data folder.
    """
    entry = Path(entry)
    loaded = load_mapping(mapping) if mapping else None
    files, ignored = upload_files(entry, loaded)
    checks, tables = [], {}
    for upload in files:
        try:
            if cache and upload.mapping is None and entry.is_dir():
                table = load_file(entry, upload.spec)[0]  # type: ignore[index]
            else:
                table = read_upload_file(upload)[0]
        except ValidationError as exc:
            checks.append(FileCheck(upload.target, upload.name, None, exc))
            continue
        checks.append(FileCheck(upload.target, upload.name, table.num_rows, None))
        if upload.spec.key in ("people", "contacts", "assignments"):
            tables[upload.spec.key] = table
    present = {f.spec.key for f in files}
    missing = tuple(spec.path for spec in FILES if not spec.optional_file and spec.key not in present)
    return UploadCheck(tuple(checks), tuple(ignored), tuple(notices(tables, settings.metrics.internal_domains)), missing)


def read_upload_file(upload: UploadFile) -> tuple[pa.Table, list[int] | None]:
    """Read one upload file, apply its mapping, validate it as a whole.

    Returns the typed table and, when a mapping dropped rows, the source row number of each row kept
    (None: row i is row ``i + 2`` of a CSV); raises ValidationError naming rows of the file as uploaded.
    """
    raw, first_row = read_raw(upload.source, upload.label, many_lines=upload.spec.path.endswith(".csv"))
    rows = None
    if upload.mapping:
        raw, rows = apply_mapping(raw, upload.mapping, upload.label, first_row)
    return validate_table(raw, upload.spec, upload.label, first_row, row_numbers=rows), rows


def merge_append(current: pa.Table, new: pa.Table, spec: FileSpec, current_label: str, new_label: str,
                 new_rows: list[int] | None = None) -> pa.Table:
    """The current rows then the new ones, validated as one file.

    A new row identical to a row already there is not added again (re-sending a file is harmless); a
    new row with the same key (AccountId + AccountsStartDate, …) but other values is a duplicate.
    """
    merged = pa.concat_tables([current, new], promote_options="default")
    part = np.concatenate([np.zeros(current.num_rows, np.int8), np.ones(new.num_rows, np.int8)])
    first = merged.append_column("__i", pa.array(np.arange(merged.num_rows, dtype=np.int64)))
    keep = first.group_by(merged.column_names, use_threads=False).aggregate([("__i", "min")]).column("__i_min")
    keep = np.sort(keep.to_numpy())
    if spec.unique_id and not spec.collapse_duplicates:
        rows = new_rows or list(range(2, new.num_rows + 2))
        _reject_conflicts(merged, keep, part, current.num_rows, spec, current_label, new_label, rows)
    merged = merged.take(pa.array(keep))
    return validate_table(merged, spec, f"{current_label} + {new_label}", first_row=2)


def _reject_conflicts(merged: pa.Table, keep: np.ndarray, part: np.ndarray, n_current: int, spec: FileSpec,
                      current_label: str, new_label: str, new_rows: list[int]) -> None:
    keys = list(zip(*(merged.column(k).to_pylist() for k in spec.unique_id)))
    existing = {keys[i]: i for i in keep if part[i] == 0}
    problems = []
    for i in keep:
        if part[i] == 1 and keys[i] in existing:
            value = " / ".join(str(v) for v in keys[i])
            problems.append(Problem(new_label, new_rows[int(i) - n_current], " + ".join(spec.unique_id), value,
                                    f"each {' + '.join(spec.unique_id)} once: the current {current_label} has it with other "
                                    f"values (row {existing[keys[i]] + 2}); change the start date to add a new version, "
                                    f"or upload in replace mode"))
    if problems:
        raise ValidationError(new_label, problems[:200], len(problems))


# --- writing the accepted files --------------------------------------------------------------------

def table_bytes(table: pa.Table, suffix: str) -> bytes:
    """The accepted table as written into a snapshot: CSV in the contract's own formats, or Parquet."""
    sink = io.BytesIO()
    if suffix == ".parquet":
        pq.write_table(table, sink, compression="zstd")
        return sink.getvalue()
    text = pa.table({name: _as_csv_text(table.column(name)) for name in table.column_names})
    pacsv.write_csv(text, sink, write_options=pacsv.WriteOptions(quoting_style="needed"))
    return sink.getvalue()


def _as_csv_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Dates as YYYY-MM-DD, times as ISO 8601 UTC with Z, true/false, numbers without a needless .0."""
    kind = column.type
    if pa.types.is_timestamp(kind):
        whole = len(column) == 0 or not pc.any(pc.not_equal(pc.microsecond(column), 0)).as_py() and \
            not pc.any(pc.not_equal(pc.millisecond(column), 0)).as_py()
        unit = column.cast(pa.timestamp("s", tz="UTC")) if whole else column
        return pc.strftime(unit, format="%Y-%m-%dT%H:%M:%SZ")
    return column.cast(pa.string())


# --- notices: accepted data that will not do what the admin probably expects ------------------------

def notices(tables: dict[str, pa.Table], internal_domains: tuple[str, ...] = ()) -> list[str]:
    """Plain-words warnings about accepted files (never a rejection): internal contacts, unknown sellers."""
    out = []
    people, contacts, assignments = (tables.get(k) for k in ("people", "contacts", "assignments"))
    domains = set(internal_domains)
    if not domains and people is not None:
        domains = {e.rsplit("@", 1)[1] for e in pc.unique(people.column("PersonId")).to_pylist() if e}
    if contacts is not None and domains and contacts.num_rows:
        emails = [e for e in pc.unique(contacts.column("ContactEmail")).to_pylist() if e]
        inside = sorted({e.rsplit("@", 1)[1] for e in emails if e.rsplit("@", 1)[1] in domains})
        count = sum(1 for e in emails if e.rsplit("@", 1)[1] in domains)
        if count:
            out.append(f"crm/contacts.csv: {count} of {len(emails)} contact emails are on an internal domain "
                       f"({', '.join(inside[:3])}), so those people count as colleagues and time with them never goes to "
                       f"an account. Upload the contacts' own (customer) addresses, or check metrics.internal_domains.")
    if assignments is not None and people is not None and assignments.num_rows:
        known = set(people.column("PersonId").to_pylist())
        sellers = [e for e in pc.unique(assignments.column("SellerEmail")).to_pylist() if e]
        unknown = sorted(e for e in sellers if e not in known)
        if unknown:
            out.append(f"crm/seller_assignments.csv: {len(unknown)} of {len(sellers)} sellers are not in org/people.csv "
                       f"({', '.join(unknown[:3])}{', …' if len(unknown) > 3 else ''}): they get no digest until they are.")
    return out
