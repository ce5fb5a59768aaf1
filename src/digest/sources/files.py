"""The data folder (CONTRACT.md §1): find, read and validate every file into a typed Dataset.

A file that breaks the contract is rejected as a whole: :class:`ValidationError` names the file,
row, column, value and what was expected, for every problem found (the first 20 are shown). Files
that pass come out with exactly the contract's columns and Arrow types (see digest.sources.contract);
collaboration rows seen from several mailboxes collapse to one.

Validated tables are cached as Arrow IPC files (zstd) next to the data (``<folder>/.digest-cache/``), keyed by the
file's content hash, so the steps of a run that read the same folder validate it once.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import hashlib
import os
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from digest.config import Settings
from digest.sources.contract import BLANK_ALLOWED, FILES, Dataset, FileSpec, empty_table, with_absent
from digest.errors import InputError, Problem, ValidationError, rejected
from digest.sources.columns import as_text, convert

CACHE_DIR = ".digest-cache"
CACHE_VERSION = "4"  # bump when validation or the contract's types change (3: ConversationId, absent-column marks; 4: Arrow IPC)
KEEP_PROBLEMS = 200  # problems kept per file (reports); the message shows the first 20
SUFFIXES = (".csv", ".parquet")


def find_file(folder: Path, spec: FileSpec) -> Path | None:
    """The file of `spec` in `folder` (collaboration files: .csv or .parquet), None when absent."""
    if spec.path.endswith(".csv"):
        path = folder / spec.path
        return path if path.is_file() else None
    found = [folder / (spec.path + s) for s in SUFFIXES if (folder / (spec.path + s)).is_file()]
    if len(found) > 1:
        raise InputError(f"{folder / spec.path} exists as both .csv and .parquet: keep one of them so the data is not read twice.")
    return found[0] if found else None


def file_sha256(path: Path) -> str:
    """The SHA-256 (hex) of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def load_data(folder: str | Path, settings: Settings | None = None, *, cache: bool = True) -> Dataset:
    """Read and validate every file of the data folder; raise on the first folder-level gap.

    All bad files are reported together in one :class:`ValidationError`.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"data folder {folder} does not exist: set data.folder (or --data) to a folder laid out as in "
                         f"docs/data-contract.md, or generate one with `digest sample --out {folder}`.")
    missing = [spec.path for spec in FILES if not spec.optional_file and find_file(folder, spec) is None]
    if missing:
        raise InputError(f"data folder {folder} lacks {', '.join(missing)} (collaboration files as .csv or .parquet): "
                         f"add them (docs/data-contract.md lists every file and column).")
    tables: dict[str, pa.Table] = {}
    origin: dict[str, dict] = {}
    errors: list[ValidationError] = []
    for spec in FILES:
        try:
            loaded = load_file(folder, spec, cache=cache)
        except ValidationError as exc:
            errors.append(exc)
            continue
        tables[spec.key] = empty_table(spec) if loaded is None else loaded[0]
        if loaded is not None:
            origin[spec.key] = loaded[1]
    if errors:
        raise rejected(errors)
    if settings is not None:  # opt-outs from the email's link count from the next load on (never part of a snapshot)
        from digest.sources.optouts import with_link_optouts

        tables["optouts"] = with_link_optouts(tables["optouts"], settings)
    return Dataset(**tables, origin=origin)


def load_file(folder: Path, spec: FileSpec, *, cache: bool = True) -> tuple[pa.Table, dict] | None:
    """One validated file of the data folder and its origin (path, sha256, rows); None when absent.

    An unchanged file (same content hash) comes from the cache; a changed one is validated again.
    """
    path = find_file(folder, spec)
    if path is None:
        return None
    sha = file_sha256(path)
    table = _cached(folder, spec, sha) if cache else None
    if table is None:
        table = dictionary_encoded(read_file(path, spec, label=str(path.relative_to(folder))), spec)
        if cache:
            _store_cache(folder, spec, sha, table)
    table = dictionary_encoded(table, spec)  # an entry of an older layout: encoded now
    return table, {"path": str(path.relative_to(folder)), "sha256": sha, "rows": table.num_rows}


def dictionary_encoded(table: pa.Table, spec: FileSpec) -> pa.Table:
    """`table` with the spec's repeated columns dictionary-encoded: the same values, each distinct one stored once.

    At 20,000 sellers the collaboration files hold ~60 M addresses of a few hundred thousand people;
    DuckDB and the Arrow functions the metrics use read the encoded columns as text.
    """
    for name in spec.repeated:
        i = table.schema.get_field_index(name)
        if i < 0:
            continue
        column = encoded(table.column(i))
        if column is not table.column(i):
            table = table.set_column(i, table.schema.field(i).with_type(column.type), column)
    return table


def encoded(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A text column as a dictionary column whose chunks all hold one dictionary (the column itself
    when it already is one), so an index means the same value in every chunk."""
    if not pa.types.is_dictionary(column.type):
        return pc.dictionary_encode(column)
    return column if _one_dictionary(column) else column.unify_dictionaries()


def _one_dictionary(column: pa.ChunkedArray) -> bool:
    """Whether every chunk of a dictionary column holds the same dictionary (the same buffers, as
    dictionary_encode and the cache make them)."""
    def key(chunk: pa.DictionaryArray) -> tuple:
        d = chunk.dictionary
        return len(d), d.offset, tuple(b.address if b is not None else None for b in d.buffers())
    if column.num_chunks == 0:
        return True
    first = key(column.chunk(0))
    return all(key(c) == first for c in column.chunks[1:])


def plain_text(table: pa.Table) -> pa.Table:
    """`table` with every dictionary-encoded column as plain text again (to merge it with a file just read)."""
    for i, f in enumerate(table.schema):
        if pa.types.is_dictionary(f.type):
            table = table.set_column(i, f.with_type(f.type.value_type), table.column(i).cast(f.type.value_type))
    return table


def read_file(path: Path, spec: FileSpec, *, rename: Mapping[str, str] | None = None, label: str | None = None) -> pa.Table:
    """Read one file (CSV or Parquet) and validate it against `spec`; `rename` maps source → contract headers.

    The file is read and converted in batches of rows (BATCH_BYTES of CSV, BATCH_ROWS of Parquet), so
    only one batch of raw text is held next to the typed table: the first load of a large week's
    folder needs little more memory than its result.
    """
    label = label or str(path)
    first_row = 1 if path.suffix == ".parquet" else 2
    parts: list[pa.Table] = []
    problems: list[Problem] = []
    total = 0
    row = first_row
    for raw in _raw_batches(path, label, many_lines=spec.path.endswith(".csv")):
        if rename:
            raw = raw.rename_columns([rename.get(name, name) for name in raw.column_names])
        if not parts and not problems:
            _check_headers(raw.column_names, spec, label)
        typed, found, count = _typed(raw, spec, label, lambda i, at=row: i + at)
        row += raw.num_rows
        total += count
        if found or problems:
            problems += found[:max(0, KEEP_PROBLEMS - len(problems))]
            parts = [typed.slice(0, 0)]  # rejected: keep only the schema, read on for the other problems
        else:
            parts.append(typed)
    if problems:
        raise ValidationError(label, _sorted(problems, spec), total)
    return _finish(pa.concat_tables(parts) if len(parts) > 1 else parts[0], spec, label, lambda i: i + first_row)


BATCH_BYTES = 1 << 26  # 64 MB of CSV text per batch
BATCH_ROWS = 1 << 21  # Parquet rows per batch


def _raw_batches(path: Path, label: str, many_lines: bool) -> Iterator[pa.Table]:
    """The file as written, in batches (CSV columns all as text); always at least one batch (maybe empty)."""
    if path.suffix == ".parquet":
        try:
            parquet = pq.ParquetFile(path)
            batches = parquet.iter_batches(batch_size=BATCH_ROWS)
            schema = parquet.schema_arrow
        except (pa.ArrowException, OSError) as exc:
            raise _unreadable_parquet(label, exc) from None
    else:
        _check_not_wide(path, label)
        headers = _csv_headers(path, label)
        try:
            reader = pacsv.open_csv(
                path,
                read_options=pacsv.ReadOptions(block_size=BATCH_BYTES),
                parse_options=pacsv.ParseOptions(newlines_in_values=many_lines),
                convert_options=pacsv.ConvertOptions(column_types={h: pa.string() for h in headers},
                                                     strings_can_be_null=False, quoted_strings_can_be_null=False),
            )
        except pa.ArrowInvalid as exc:
            raise _reader_error(path, label, str(exc)) from None
        batches, schema = reader, reader.schema
    yielded = False
    try:
        for batch in batches:
            yielded = True
            yield pa.Table.from_batches([batch], schema=schema)
    except pa.ArrowInvalid as exc:
        if path.suffix == ".parquet":
            raise _unreadable_parquet(label, exc) from None
        raise _reader_error(path, label, str(exc)) from None
    except (pa.ArrowException, OSError) as exc:
        raise ValidationError(label, [Problem(label, None, None, None, f"a readable file ({exc})")]) from None
    if not yielded:
        yield schema.empty_table()


def _unreadable_parquet(label: str, exc: Exception) -> ValidationError:
    return ValidationError(label, [Problem(label, None, None, None, f"a readable Parquet file ({exc})")])


def read_raw(path: Path, label: str, many_lines: bool = True) -> tuple[pa.Table, int]:
    """The file as written, whole: CSV columns all as text; returns the table and the row number of its first row."""
    return pa.concat_tables(list(_raw_batches(path, label, many_lines))), 1 if path.suffix == ".parquet" else 2


SAVE_AS_UTF8 = "save it as CSV UTF-8 (Excel: File > Save As > CSV UTF-8)"
WIDE_BOMS = ((codecs.BOM_UTF32_LE, "UTF-32 LE"), (codecs.BOM_UTF32_BE, "UTF-32 BE"),
             (codecs.BOM_UTF16_LE, "UTF-16 LE"), (codecs.BOM_UTF16_BE, "UTF-16 BE"))  # UTF-32 LE starts like UTF-16 LE
SNIFF_BYTES = 1 << 16


def _check_not_wide(path: Path, label: str) -> None:
    """Refuse a UTF-16/32 (or binary) file before its header is read: by its byte-order mark, else by its NUL bytes."""
    with path.open("rb") as f:
        head = f.read(SNIFF_BYTES)
    for bom, name in WIDE_BOMS:
        if head.startswith(bom):
            raise ValidationError(label, [Problem(label, None, None, None, line=1, expected=(
                f"UTF-8 text: this file is {name} (it starts with the {name} byte-order mark); {SAVE_AS_UTF8}, "
                f"or convert it with `iconv -f {name.split()[0]} -t UTF-8`"))])
    nul = head.find(b"\x00")
    if nul < 0:
        return
    line = head.count(b"\n", 0, nul) + 1
    name = _utf16_by_nuls(head)
    looks = f"{name} without a byte-order mark (every other byte is NUL)" if name else "not text: it holds NUL bytes (a workbook or another binary file?)"
    fix = f"{SAVE_AS_UTF8}, or convert it with `iconv -f {name.replace(' ', '')} -t UTF-8`" if name else SAVE_AS_UTF8
    raise ValidationError(label, [Problem(label, None, None, None, line=line, expected=(
        f"UTF-8 text: this file looks {looks}; the first NUL byte is at byte offset {nul}; {fix}"))])


def _utf16_by_nuls(head: bytes) -> str | None:
    """UTF-16 LE or BE when most high (or low) bytes are NUL, as in UTF-16 text of Latin letters; else None (binary)."""
    pairs = max(1, len(head) // 2)
    odd, even = head[1::2].count(0) / pairs, head[0::2].count(0) / pairs
    if odd > 0.4 and even < 0.05:
        return "UTF-16 LE"
    if even > 0.4 and odd < 0.05:
        return "UTF-16 BE"
    return None


def _reader_error(path: Path, label: str, message: str) -> ValidationError:
    """The rejection of a CSV file pyarrow could not read, with the file and line of each problem (error path only)."""
    if bad := _first_non_utf8(path, label):
        return ValidationError(label, [bad])
    problems, total = _csv_shape_problems(path, label)
    if problems:
        return ValidationError(label, problems, total)
    return ValidationError(label, [Problem(label, None, None, None, f"a well-formed CSV file; the reader said: {message.splitlines()[0]}")])


def _first_non_utf8(path: Path, label: str) -> Problem | None:
    """The first byte that is not UTF-8: its line, the text around it (bad bytes escaped), its byte offset, the encoding it looks like."""
    offset = 0
    with path.open("rb") as f:
        for number, line in enumerate(f, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                around = line[max(0, exc.start - 20): exc.end + 20].rstrip(b"\r\n")
                return Problem(label, None, None, around.decode("utf-8", errors="backslashreplace"), line=number,
                               expected=_not_utf8_expected(line, exc.start, offset + exc.start))
            offset += len(line)
    return None


def _not_utf8_expected(line: bytes, start: int, offset: int) -> str:
    """What a non-UTF-8 line was expected to be, naming the encoding it looks like and the fix."""
    try:
        line.decode("cp1252")
        looks, source = "Windows-1252 / Latin-1 (Excel's plain CSV or ANSI)", "cp1252"
    except UnicodeDecodeError:
        looks, source = "Latin-1 or another 8-bit encoding", "latin1"
    return (f"UTF-8 text: byte 0x{line[start]:02X} at byte offset {offset} of the file is not UTF-8; the file looks like {looks}; "
            f"{SAVE_AS_UTF8}, or convert it with `iconv -f {source} -t UTF-8`")


class _LineTap:
    """Feeds csv.reader line by line and keeps the lines of the record being read (to show it and count lines)."""

    def __init__(self, lines):
        self.lines = lines
        self.record: list[str] = []

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = next(self.lines)
        self.record.append(line)
        return line

    def shown(self) -> str:
        """The first line of the current record, shortened for a message."""
        text = self.record[0].rstrip("\r\n") if self.record else ""
        return text if len(text) <= 100 else text[:100] + "…"


def _csv_shape_problems(path: Path, label: str) -> tuple[list[Problem], int]:
    """Records whose number of values differs from the header's, and a quote that never closes, at their first line.

    Python's csv module reads the file again (only after pyarrow refused it), so each problem has
    the line an editor shows (header = line 1) even when quoted values span lines.
    """
    problems: list[Problem] = []
    total = 0
    width: int | None = None
    start = 1
    with path.open(encoding="utf-8-sig", newline="") as f:
        tap = _LineTap(f)
        reader = csv.reader(tap, strict=True)
        while True:
            try:
                record = next(reader, None)
            except csv.Error as exc:  # the reader drops the rest of the line and goes on with the next one
                record, expected = [], _quote_expected(exc, reader.line_num)
            else:
                if record is None:
                    break
                if width is None:
                    width = len(record)
                expected = _width_expected(width, len(record)) if record and len(record) != width else None
            if expected:
                total += 1
                if len(problems) < KEEP_PROBLEMS:
                    problems.append(Problem(label, None, None, tap.shown(), expected, line=start))
                if "closing double quote" in expected:
                    break  # the rest of the file was read as that one value
            tap.record = []
            start = reader.line_num + 1
    return problems, total


def _width_expected(width: int, found: int) -> str:
    """What a record with too many or too few values should have been."""
    if found > width:
        return (f"{width} values like the header, found {found}: a value holding a comma must be in double quotes "
                f"(\"Northwind, Inc.\"), or a value is one too many")
    return f"{width} values like the header, found {found}: a blank value still needs its comma (a,,c)"


def _quote_expected(exc: csv.Error, last_line: int) -> str:
    """What a value with broken quoting should have been (csv's own words kept for the rare other cases)."""
    text = str(exc)
    if "unexpected end of data" in text:
        return (f"a closing double quote: the quoted value that starts on this line never closes (the file ends at line {last_line}); "
                "close it, and write a quote inside a quoted value twice (\"\")")
    if "field larger than field limit" in text:
        return (f"a closing double quote: the quoted value that starts on this line runs on past line {last_line} (over 128 KB); "
                "close it, and write a quote inside a quoted value twice (\"\")")
    return f"well-formed CSV quoting ({text}): a quoted value ends with a quote followed by a comma or the end of the line; write a quote inside it twice (\"\")"


def _csv_headers(path: Path, label: str) -> list[str]:
    """The header row (the first record), refused when empty, repeating a name, or not UTF-8."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            first = next(csv.reader(f), None)
    except UnicodeDecodeError:  # in the header or the first few KB: name the first bad byte
        bad = _first_non_utf8(path, label)
        raise ValidationError(label, [bad or Problem(label, None, None, None, f"UTF-8 text; {SAVE_AS_UTF8}", line=1)]) from None
    if not first or not any(h.strip() for h in first):
        raise ValidationError(label, [Problem(label, 1, None, None, "a header row with the column names (the file is empty)")])
    seen: set[str] = set()
    twice = [h for h in first if h in seen or seen.add(h)]  # type: ignore[func-returns-value]
    if twice:
        raise ValidationError(label, [Problem(label, 1, h, None, "each column name once (this one appears twice)") for h in twice])
    return first


def validate_table(raw: pa.Table, spec: FileSpec, label: str, first_row: int = 2, *,
                   row_numbers: Sequence[int] | None = None) -> pa.Table:
    """Check `raw` against the contract; return the typed, de-duplicated table or raise with every problem.

    Problems name row ``first_row + position``, or ``row_numbers[position]`` when given (rows were dropped).
    """
    _check_headers(raw.column_names, spec, label)
    row = (lambda i: row_numbers[i]) if row_numbers is not None else (lambda i: i + first_row)
    table, problems, total = _typed(raw, spec, label, row)
    if problems:
        raise ValidationError(label, _sorted(problems, spec), total)
    return _finish(table, spec, label, row)


def _typed(raw: pa.Table, spec: FileSpec, label: str, row) -> tuple[pa.Table, list[Problem], int]:
    """Every column converted to its contract type, with the problems found (the first KEEP_PROBLEMS) and their total."""
    problems: list[Problem] = []
    total = 0
    columns: dict[str, pa.ChunkedArray] = {}
    for column in spec.columns:
        if column.name not in raw.column_names:
            columns[column.name] = pa.chunked_array([pa.nulls(raw.num_rows, column.arrow_type)])
            continue
        converted = convert(column, raw.column(column.name), KEEP_PROBLEMS)
        total += converted.bad_total
        problems += [Problem(label, row(i), column.name, value, column.expected()) for i, value in converted.bad]
        if column.required and (spec.key, column.name) not in BLANK_ALLOWED and (converted.bad_total or converted.array.null_count):
            blank = _blank_positions(raw.column(column.name))  # nulls of a clean column are its blanks
            total += len(blank)
            problems += [Problem(label, row(i), column.name, "", "a value (this column is required)") for i in blank[:KEEP_PROBLEMS]]
        columns[column.name] = converted.array.cast(column.arrow_type)
    extra = tuple(n for n in raw.column_names if n not in {c.name for c in spec.columns}) if spec.keep_extra_columns else ()
    for name in extra:
        columns[name] = as_text(raw.column(name))
    absent = tuple(c.name for c in spec.columns if not c.required and c.name not in raw.column_names)
    return with_absent(pa.table(columns, schema=spec.arrow_schema(extra)), absent), problems, total


def _finish(table: pa.Table, spec: FileSpec, label: str, row) -> pa.Table:
    """The whole typed table: ids that must be unique checked, rows seen from several mailboxes collapsed."""
    if spec.unique_id and not spec.collapse_duplicates:
        dupes = _duplicate_problems(table, spec, label, row)
        if dupes:
            raise ValidationError(label, _sorted(dupes, spec), len(dupes))
    return _collapse(table, spec) if spec.collapse_duplicates else table


def _sorted(problems: list[Problem], spec: FileSpec) -> list[Problem]:
    order = {c.name: i for i, c in enumerate(spec.columns)}
    return sorted(problems, key=lambda p: (p.row or 0, order.get(p.column or "", len(order))))[:KEEP_PROBLEMS]


def _check_headers(headers: list[str], spec: FileSpec, label: str) -> None:
    missing = [name for name in spec.required if name not in headers]
    if not missing:
        return
    problems = []
    for name in missing:
        close = difflib.get_close_matches(name, headers, n=1, cutoff=0.6) or [h for h in headers if h.lower() == name.lower()]
        hint = f" (found {close[0]!r}: names are exact and case-sensitive; rename it or use a column mapping)" if close else \
            " (add it, or map your export's header to it with a column mapping: docs/data-contract.md)"
        problems.append(Problem(label, 1, name, None, f"a column named {name}{hint}"))
    problems.append(Problem(label, 1, None, None, f"the required columns {', '.join(spec.required)}; the headers found are {', '.join(headers) or 'none'}"))
    raise ValidationError(label, problems, len(missing))


def _blank_positions(values: pa.ChunkedArray) -> list[int]:
    blank = pc.is_null(as_text(values))
    if not pc.any(blank).as_py():
        return []
    return pc.indices_nonzero(blank.combine_chunks()).to_pylist()


def _duplicate_problems(table: pa.Table, spec: FileSpec, label: str, row) -> list[Problem]:
    keys = table.select(list(spec.unique_id))
    counts = keys.group_by(list(spec.unique_id)).aggregate([([], "count_all")])
    if counts.num_rows == table.num_rows:
        return []
    seen: dict[tuple, int] = {}
    problems = []
    for i, key in enumerate(zip(*(keys.column(k).to_pylist() for k in spec.unique_id))):
        if key in seen:
            value = " / ".join(str(v) for v in key)
            problems.append(Problem(label, row(i), " + ".join(spec.unique_id), value,
                                    f"each {' + '.join(spec.unique_id)} once (the same as row {row(seen[key])})"))
        else:
            seen[key] = i
    return problems


# An attendee seen from several mailboxes: a real answer beats "none" or "notResponded", which is
# all another attendee's copy of the event may know about them (the organizer's copy, or their own,
# holds the answer). Lower rank wins; equal ranks keep the first row.
RESPONSE_RANK = {"organizer": 0, "declined": 1, "accepted": 2, "tentativelyAccepted": 3, "notResponded": 4, "none": 5}


def _collapse(table: pa.Table, spec: FileSpec) -> pa.Table:
    """Keep one row per id (the same message or meeting seen from several mailboxes): the first,
    or for meeting attendees the most informative response."""
    keys = list(spec.unique_id)
    n = table.num_rows
    if n == 0:
        return table
    order = np.arange(n, dtype=np.int64)
    if spec.key == "meeting_attendees":
        ranks = pc.index_in(table.column("Response"), value_set=pa.array(list(RESPONSE_RANK))).fill_null(len(RESPONSE_RANK))
        order = ranks.to_numpy().astype(np.int64) * n + order
    indexed = table.select(keys).append_column("__order", pa.array(order))
    best = _first_per_key(indexed, keys)
    if len(best) == n:
        return table
    keep = np.zeros(n, dtype=bool)
    keep[best % n] = True
    return table.filter(pa.array(keep))  # chunk by chunk, in row order (a take would join the chunks first)


KEY_HASH = "hash({columns})"  # 64 bits per key; a test makes every key collide to check the exact path


def _first_per_key(indexed: pa.Table, keys: list[str]) -> np.ndarray:
    """The smallest __order per key, exactly, without a hash table of every text key.

    Each row's key is hashed to 64 bits (DuckDB's hash, streaming); rows whose hash no other row
    has are their key's only row. Only the rows that share a hash (the duplicates, and the rare
    hash collision of different keys) are grouped by their actual text in DuckDB, which spills to
    disk when memory runs short. On 29 M mail recipients this needs ~1 GB instead of 5.5 GB.
    """
    import tempfile

    import duckdb

    columns = ", ".join('"' + k.replace('"', '""') + '"' for k in keys)  # contract column names, never data
    order = indexed.column("__order").to_numpy()
    with tempfile.TemporaryDirectory(prefix="digest-collapse-") as spill:
        con = duckdb.connect(config={"temp_directory": spill})
        try:
            con.execute("SET enable_progress_bar = false")
            con.register("indexed", indexed.select(keys))
            hashes = con.sql(f"SELECT {KEY_HASH.format(columns=columns)} AS h FROM indexed").to_arrow_table().column("h").to_numpy()
            by_hash = np.argsort(hashes)  # any order among equal hashes: those rows are grouped by their text below
            sorted_hashes = hashes[by_hash]
            del hashes
            shared = np.zeros(len(order), dtype=bool)
            same = sorted_hashes[1:] == sorted_hashes[:-1]
            del sorted_hashes
            shared[1:] |= same
            shared[:-1] |= same
            del same
            alone, candidates = by_hash[~shared], by_hash[shared]
            del by_hash, shared
            if not len(candidates):
                return order[alone]
            con.register("candidates", take_sorted(indexed, np.sort(candidates)))
            grouped = con.sql(f"SELECT min(__order) AS o FROM candidates GROUP BY {columns}").to_arrow_table()
        finally:
            con.close()
    return np.concatenate([order[alone], grouped.column("o").to_numpy()])


def take_sorted(data: pa.Table | pa.ChunkedArray, rows: np.ndarray) -> pa.Table | pa.ChunkedArray:
    """``data.take(rows)`` for ascending `rows`, taken chunk by chunk (the result keeps one chunk per source chunk).

    Arrow's take joins a column's chunks into one array first, and a string array holds at most 2 GB
    of text: past that (the mail ids of ~40,000 sellers' weeks) any take from the column fails."""
    table = isinstance(data, pa.Table)
    pieces, start = [], 0
    for part in data.to_batches() if table else data.chunks:  # a table's batches cut every column at the same rows
        end = start + len(part)
        lo, hi = np.searchsorted(rows, [start, end])
        if hi > lo:
            pieces.append(part.take(pa.array(rows[lo:hi] - start)))
        start = end
    if table:
        return pa.Table.from_batches(pieces, data.schema)
    return pa.chunked_array(pieces, data.type)


# --- cache of validated tables ------------------------------------------------------------------

def _cache_path(folder: Path, spec: FileSpec, sha: str) -> Path:
    return folder / CACHE_DIR / f"{spec.key}-{sha[:32]}-v{CACHE_VERSION}.arrow"


def _cached(folder: Path, spec: FileSpec, sha: str) -> pa.Table | None:
    path = _cache_path(folder, spec, sha)
    if not path.is_file():
        return None
    try:  # the repeated columns come back as they were written: one dictionary per column
        with pa.memory_map(str(path)) as source:
            return ipc.open_file(source).read_all()
    except (pa.ArrowException, OSError):
        return None  # a damaged cache entry: validate again


def _store_cache(folder: Path, spec: FileSpec, sha: str, table: pa.Table) -> None:
    target = _cache_path(folder, spec, sha)
    try:
        target.parent.mkdir(exist_ok=True)
        for old in target.parent.glob(f"{spec.key}-*.*"):  # one entry per file: the current content (older layouts too)
            old.unlink(missing_ok=True)
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        # Arrow IPC keeps each repeated column's one dictionary (Parquet would write one per row
        # group, and the metrics would have to unify them again: ~15 s at 20,000 sellers).
        with ipc.new_file(str(tmp), table.schema, options=ipc.IpcWriteOptions(compression="zstd")) as writer:
            writer.write_table(table)
        os.replace(tmp, target)
    except OSError:
        pass  # a read-only data folder: no cache, validation runs each time
