"""The audit chain (``runs/<week>/audit.jsonl``) read once per process, then only what was appended.

A weekly run in one process records every render batch and gates every cohort; each of them read the
whole chain (~45 KB a record with its hashed interactions: ~0.9 GB at 20,000 sellers), so the work grew
with the square of the run. :func:`chain_index` keeps, per file and process, an index of the file's
complete lines: how many records, the last one's hash, the problems :func:`verify_chain` finds in them,
and where each email's newest record is. A later call reads only the lines written since.

Whether the indexed bytes are still the file's first bytes is checked two ways:

- ``verified=True`` (the gate): the SHA-256 of the file's first bytes is compared with the index's, so an
  edited, removed or reordered record is found exactly as reading and verifying the whole file would find
  it (the index is then built again from the file);
- ``verified=False`` (appending records): the same file (inode), no shorter, and the last indexed line
  unchanged at its place. An edit in place of an earlier record is then only seen by the next gate, which
  finds the chain broken and blocks every email of the run.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO, Iterable

GENESIS = "0" * 64


def record_hash(record: dict[str, Any]) -> str:
    """The hash of a record's content (every field but ``hash``), as the chain stores it."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


def record_problems(n: int, record: dict[str, Any] | None, prev: str) -> tuple[list[str], str]:
    """What is wrong with record `n` of a chain (None: a line that is not a JSON object) given the hash the
    record before it holds (GENESIS for the first), and what the next record must name as its ``prev``."""
    if record is None:
        return [f"record {n}: not valid JSON (the file was edited)"], ""
    problems = []
    if record.get("hash") != record_hash(record):
        problems.append(f"record {n}: content does not match its hash (the record was edited)")
    if record.get("prev") != prev:
        problems.append(f"record {n}: does not follow record {n - 1} (a record was removed, inserted or reordered)")
    return problems, record.get("hash", "")


@dataclass
class ChainIndex:
    """What the chain's complete lines hold, as read_records + verify_chain + effective_records would give it.

    `head`: the last record's ``hash`` (None when it is not readable or has none); `newest`: email file ->
    (offset, length, ``hash``) of its newest record's line."""

    path: Path
    inode: int = -1
    size: int = 0  # bytes indexed: whole lines only
    digest: Any = field(default_factory=hashlib.sha256)  # of those bytes
    count: int = 0
    head: str | None = None
    prev: str = GENESIS  # what the next record must name as its ``prev`` (verify_chain's state)
    problems: list[str] = field(default_factory=list)
    newest: dict[str, tuple[int, int, Any]] = field(default_factory=dict)
    last: tuple[int, bytes] = (0, b"")  # the last indexed line: its offset and bytes

    @property
    def tail_hash(self) -> str:
        """What a record appended now names as ``prev``: GENESIS for an empty chain, '' after an unreadable record."""
        if not self.count:
            return GENESIS
        return "" if self.head is None else self.head

    def hash_of(self, email: str) -> Any:
        """The ``hash`` of the newest record of an email file (None without one)."""
        newest = self.newest.get(email)
        return None if newest is None else newest[2]

    def records(self, emails: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The newest record of each of `emails` (those with one), parsed from the file."""
        wanted = sorted((self.newest[e][:2], e) for e in set(emails) if e in self.newest)
        out: dict[str, dict[str, Any]] = {}
        if not wanted:
            return out
        with self.path.open("rb") as f:
            for (offset, length), email in wanted:
                f.seek(offset)
                out[email] = json.loads(f.read(length))
        return out

    def _add(self, data: bytes, start: int) -> None:
        """Index the whole lines `data` (starting at byte `start` of the file)."""
        offset = start
        for line in data.splitlines(keepends=True):
            here, offset = offset, offset + len(line)
            if not line.strip():
                continue
            self.count += 1
            self.last = (here, line)
            try:
                rec = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                rec = None
            rec = rec if isinstance(rec, dict) else None
            problems, self.prev = record_problems(self.count, rec, self.prev)
            self.problems += problems
            self.head = None if rec is None else rec.get("hash")
            if rec is not None and "email" in rec:
                self.newest[rec["email"]] = (here, len(line), rec.get("hash"))
        self.size = offset
        self.digest.update(data)


_INDEXES: dict[str, ChainIndex] = {}
FILES_KEPT = 4  # chains a process keeps an index of (a long-lived process may see many weeks)
READ_CHUNK = 1 << 24


def chain_index(path: Path, *, verified: bool = True) -> ChainIndex:
    """The index of `path` now (an empty one when there is no file). Call it under the run's audit lock:
    a writer appending meanwhile could leave half a line, which is never indexed."""
    path = Path(path)
    key = str(path.resolve())
    try:
        f = path.open("rb")
    except FileNotFoundError:
        _INDEXES.pop(key, None)
        return ChainIndex(path)
    with f:
        st = os.fstat(f.fileno())
        index = _INDEXES.get(key)
        if index is None or not _still_prefix(f, st, index, verified):
            index = ChainIndex(path, inode=st.st_ino)
        f.seek(index.size)
        data = f.read()
    whole = data[:data.rfind(b"\n") + 1]
    index._add(whole, index.size)
    _INDEXES.pop(key, None)
    while len(_INDEXES) >= FILES_KEPT:  # the least recently read goes first
        _INDEXES.pop(next(iter(_INDEXES)))
    _INDEXES[key] = index
    if len(whole) == len(data):
        return index
    # Half a line at the end: counted as read_records would, on a copy; the kept index never holds it.
    partial = replace(index, digest=index.digest.copy(), problems=list(index.problems), newest=dict(index.newest))
    partial._add(data[len(whole):], index.size)
    return partial


def _still_prefix(f: BinaryIO, st: os.stat_result, index: ChainIndex, verified: bool) -> bool:
    if st.st_ino != index.inode or st.st_size < index.size:
        return False
    offset, line = index.last
    f.seek(offset)
    if f.read(len(line)) != line:
        return False
    if not verified:
        return True
    digest, left = hashlib.sha256(), index.size
    f.seek(0)
    while left:
        chunk = f.read(min(READ_CHUNK, left))
        if not chunk:
            return False
        digest.update(chunk)
        left -= len(chunk)
    return digest.digest() == index.digest.digest()

