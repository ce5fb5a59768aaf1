"""`digest sample`: a deterministic synthetic sales organisation written as a data folder (CONTRACT.md §1).

The company (docs/sample.md): a VP of sales, directors, managers with ~8 sellers each, a pool of
specialists, accounts with contacts, and W weeks of mail (customer threads with replies both ways),
meetings, calls and chats, plus customer meetings planned in the two weeks after them. Sellers are
generated in blocks of 64 with their own random stream (``SeedSequence(seed, spawn_key=(block,))``),
and files are streamed chunk by chunk, so memory depends on the chunk, not on the company size,
and the same (sellers, weeks, seed, end_week, chunk_sellers) always gives byte-identical files.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from digest.sources.contract import FILES_BY_KEY, MEETING_ATTENDEES, MEETINGS, RESPONSES
from digest.config import RelationshipSettings
from digest.errors import InputError
from digest.sample import words as W
from digest.sample.activity import chats, draw, mails, words
from digest.sample.base import Span, timestamps
from digest.sample.meetings import ALL_HANDS_REPLIES, all_hands_ids, all_hands_weeks, meetings
from digest.sample.org import BLOCK_SELLERS, block_count, build_block, person_email, total_people
from digest.weeks import IsoWeek

CSV_FILES = ("people", "accounts", "contacts", "assignments", "optouts")
PARQUET_FILES = ("mails", "mail_recipients", "meetings", "meeting_attendees", "calls", "call_participants",
                 "chat_messages", "chat_members")
PARQUET_OPTIONS = dict(compression="zstd", compression_level=3, use_dictionary=True, write_statistics=True,
                       version="2.6", data_page_size=1 << 20)
ALL_HANDS_MIN = 300  # invitees of the monthly all-hands, at least (other departments fill up small samples)
MAX_SELLERS, MAX_WEEKS = 1_000_000, 104
DEFAULT_WEEKS = RelationshipSettings().window_weeks  # the relationship card's window (relationship.window_weeks, CONTRACT.md §8) and more than the 28 days


@dataclass(frozen=True)
class SampleSummary:
    """What `generate_sample` wrote: rows and bytes per file, the internal domain, the days covered."""

    out_dir: str
    sellers: int
    weeks: int
    seed: int
    end_week: str
    first_day: dt.date  # Monday of the first generated week
    last_day: dt.date  # Sunday of end_week
    internal_domain: str
    people: int  # distinct people in org/people.csv
    files: tuple[tuple[str, int, int], ...]  # (path relative to out_dir, rows, bytes)

    @property
    def total_rows(self) -> int:
        return sum(rows for _, rows, _ in self.files)

    @property
    def total_bytes(self) -> int:
        return sum(size for _, _, size in self.files)

    def rows(self, key: str) -> int:
        """Rows written to the file of contract key `key` (e.g. "mails")."""
        path = _relative_path(key)
        return next(rows for p, rows, _ in self.files if p == path)


def _relative_path(key: str) -> str:
    spec = FILES_BY_KEY[key]
    return spec.path + (".parquet" if key in PARQUET_FILES else "")


def generate_sample(out_dir: str | Path, sellers: int, weeks: int, seed: int, end_week: IsoWeek,
                    chunk_sellers: int = 1000, overwrite: bool = False,
                    progress: Callable[[int], None] | None = None) -> SampleSummary:
    """Write a sample company's data folder; `progress(sellers_done)` is called after each chunk."""
    _check_args(sellers, weeks, chunk_sellers)
    out = Path(out_dir)
    _prepare_folder(out, overwrite)
    span = Span.ending(end_week, weeks)
    blocks_per_chunk = max(1, -(-chunk_sellers // BLOCK_SELLERS))
    n_blocks = block_count(sellers)
    rows = {key: 0 for key in CSV_FILES + PARQUET_FILES}
    seen_domains: set[str] = set()
    with _Writers(out) as writers:
        pending = _company(sellers, seed, span)
        for first in range(0, n_blocks, blocks_per_chunk):
            for b in range(first, min(n_blocks, first + blocks_per_chunk)):
                rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(b,))))
                size = min(BLOCK_SELLERS, sellers - b * BLOCK_SELLERS)
                block = build_block(b, size, seed, span, rng, seen_domains)
                for key, table in {**block.tables, **mails(block, span, seed, rng), **meetings(block, span, seed, rng),
                                   **chats(block, span, seed, rng)}.items():
                    pending.setdefault(key, []).append(table)
            for key, tables in pending.items():
                rows[key] += sum(t.num_rows for t in tables)
            writers.write_chunk(pending)
            pending = {}
            if progress:
                progress(min(sellers, (first + blocks_per_chunk) * BLOCK_SELLERS))
    files = tuple((_relative_path(k), rows[k], (out / _relative_path(k)).stat().st_size) for k in CSV_FILES + PARQUET_FILES)
    return SampleSummary(str(out), sellers, weeks, seed, str(end_week), span.first_day, span.last_day,
                         W.INTERNAL_DOMAIN, total_people(sellers), files)


def _check_args(sellers: int, weeks: int, chunk_sellers: int) -> None:
    if not 1 <= sellers <= MAX_SELLERS:
        raise InputError(f"--sellers {sellers}: give a number of sellers from 1 to {MAX_SELLERS:,}.")
    if not 1 <= weeks <= MAX_WEEKS:
        raise InputError(f"--weeks {weeks}: give a number of weeks from 1 to {MAX_WEEKS} (the data ends with --end-week).")
    if chunk_sellers < 1:
        raise InputError(f"chunk_sellers {chunk_sellers}: give a chunk of at least 1 seller (default 1000).")


def _prepare_folder(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} is a file: give a folder for the sample (it is created when missing).")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise InputError(f"{out} is not empty: choose an empty or new folder, or pass --force to replace the sample files in it.")
    for key in PARQUET_FILES:  # the loader reads either suffix: a stale CSV would shadow or clash with ours
        stale = out / (FILES_BY_KEY[key].path + ".csv")
        if stale.exists():
            raise InputError(f"{stale} exists and would clash with the generated {stale.stem}.parquet: move it away or choose another folder.")


def _company(sellers: int, seed: int, span: Span) -> dict[str, list[pa.Table]]:
    """Rows above the blocks: the VP, and the monthly all-hands (VP organizes, everybody is invited)."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(2**32 - 1,))))
    vp = person_email(0, seed)
    org_date = (span.first_day - dt.timedelta(days=90)).replace(day=1)
    people = pa.table({
        "PersonId": [vp], "EffectiveDate": [f"{org_date:%m/%d/%Y}"], "ManagerId": pa.nulls(1, pa.string()),
        "Organization": ["Enterprise Sales"], "LevelDesignation": ["Executive"], "FunctionType": ["Sales Leadership"],
        "TimeZone": [W.ZONES[0][0]], "HireDate": ["03/01/2015"], "SupervisorIndicator": ["Manager+"], "Region": ["Global"],
    })
    ids = all_hands_ids(seed, span.weeks)
    n = len(ids)
    start = span.to_utc(all_hands_weeks(span.weeks) * 7 + 3, np.full(n, 16 * 3600), np.zeros(n, dtype=np.int64))
    meetings_t = pa.table([ids, timestamps(start), timestamps(start + 3600 * 1_000_000), pa.array([vp] * n, pa.string()),
                           pa.array([False] * n), pa.array(["normal"] * n, pa.string())], schema=MEETINGS.arrow_schema())
    people_total = total_people(sellers)
    others = [person_email(people_total + i, seed) for i in range(max(50, ALL_HANDS_MIN - people_total))]
    invitees = np.tile(np.arange(len(others)), n)
    which = np.repeat(np.arange(n), len(others))
    attendees = pa.table([
        pa.concat_arrays([ids, ids.take(pa.array(which))]),
        pa.array([vp] * n + [others[i] for i in invitees], pa.string()),
        pa.concat_arrays([pa.array(["organizer"] * n, pa.string()),
                          words(draw(rng, which.size, ALL_HANDS_REPLIES), pa.array(RESPONSES, pa.string()))]),
    ], schema=MEETING_ATTENDEES.arrow_schema())
    return {"people": [people], "meetings": [meetings_t], "meeting_attendees": [attendees]}


class _Writers:
    """One streaming writer per output file, opened on first write with that table's schema.

    A chunk is written on a background thread while the next one is generated (Arrow's writers
    release the GIL); at most one chunk waits, so memory stays at about two chunks.
    """

    def __init__(self, out: Path):
        self.out = out
        self.open: dict[str, pacsv.CSVWriter | pq.ParquetWriter] = {}
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sample-writer")
        self.pending: Future | None = None

    def __enter__(self) -> "_Writers":
        return self

    def write_chunk(self, tables: dict[str, list[pa.Table]]) -> None:
        """Queue one chunk (file key -> tables, in order) behind the previous one."""
        self._wait()
        self.pending = self.pool.submit(self._write_all, tables)

    def _write_all(self, tables: dict[str, list[pa.Table]]) -> None:
        for key, parts in tables.items():
            self.write(key, pa.concat_tables(parts))

    def _wait(self) -> None:
        if self.pending is not None:
            self.pending.result()  # re-raises a writer's error here, in the caller
            self.pending = None

    def write(self, key: str, table: pa.Table) -> None:
        if key not in self.open:
            path = self.out / _relative_path(key)
            path.parent.mkdir(parents=True, exist_ok=True)
            if key in PARQUET_FILES:
                self.open[key] = pq.ParquetWriter(path, table.schema, **PARQUET_OPTIONS)
            else:
                self.open[key] = pacsv.CSVWriter(path, table.schema, write_options=pacsv.WriteOptions(quoting_style="needed"))
        self.open[key].write_table(table)

    def __exit__(self, *exc) -> None:
        try:
            if exc[0] is None:
                self._wait()
        finally:
            self.pool.shutdown(wait=True)
            for writer in self.open.values():
                writer.close()
