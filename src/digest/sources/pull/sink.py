"""Where a Graph pull writes: the eight collaboration files as Parquet, in chunks, published at once.

Rows are buffered per file and written as a Parquet row group every ``chunk_rows`` rows, so a pull
over tens of thousands of mailboxes holds one chunk per file in memory, not the week. The files
are written into a temporary folder inside the data folder; :meth:`PullSink.publish` swaps it in
for ``<data>/collaboration`` only after the whole pull finished, so readers see the previous files
or the new ones, never half of a pull. An interrupted pull leaves the data folder as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from digest.sources.contract import (CALL_PARTICIPANTS, CALLS, CHAT_MEMBERS, CHAT_MESSAGES, MAIL_RECIPIENTS, MAILS, MEETING_ATTENDEES,
                             MEETINGS, FileSpec)

COLLABORATION = (MAILS, MAIL_RECIPIENTS, MEETINGS, MEETING_ATTENDEES, CALLS, CALL_PARTICIPANTS, CHAT_MESSAGES, CHAT_MEMBERS)
MANIFEST = "pull.json"
TEMP_PREFIX = ".pull-"


class PullSink:
    """Thread-safe buffered Parquet writers for the collaboration files of one pull."""

    def __init__(self, data_folder: Path, chunk_rows: int):
        self.data_folder = Path(data_folder)
        self.data_folder.mkdir(parents=True, exist_ok=True)
        _remove_stale(self.data_folder)
        self.root = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=self.data_folder))
        self.folder = self.root / "collaboration"
        self.folder.mkdir()
        self.chunk_rows = chunk_rows
        self.counts = {spec.key: 0 for spec in COLLABORATION}
        self._buffers: dict[str, list[dict]] = {spec.key: [] for spec in COLLABORATION}
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._specs = {spec.key: spec for spec in COLLABORATION}
        self._lock = threading.Lock()
        self._closed = False

    def add(self, key: str, rows: list[dict]) -> None:
        """Queue rows of one file; a full chunk is written at once."""
        if not rows:
            return
        with self._lock:
            buffer = self._buffers[key]
            buffer.extend(rows)
            self.counts[key] += len(rows)
            if len(buffer) >= self.chunk_rows:
                self._flush(key)

    def _flush(self, key: str) -> None:
        buffer = self._buffers[key]
        spec = self._specs[key]
        schema = _schema(spec)
        if key not in self._writers:
            self._writers[key] = pq.ParquetWriter(self.folder / (Path(spec.path).name + ".parquet"), schema)
        if buffer:
            self._writers[key].write_table(pa.Table.from_pylist(buffer, schema=schema))
        buffer.clear()

    def close(self) -> None:
        """Write what is buffered and close every file (each file exists, empty files included)."""
        with self._lock:
            if self._closed:
                return
            for key in self._buffers:
                self._flush(key)
                self._writers.pop(key).close()
            self._closed = True

    def publish(self, manifest: dict) -> Path:
        """Swap the pulled files in for <data>/collaboration (with the manifest next to them)."""
        self.close()
        (self.folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
        target = self.data_folder / "collaboration"
        old = self.root / "previous"
        if target.exists():
            os.replace(target, old)
        os.replace(self.folder, target)
        shutil.rmtree(self.root, ignore_errors=True)
        return target

    def discard(self) -> None:
        """Drop an unfinished pull; the data folder stays as it was."""
        with self._lock:
            for writer in self._writers.values():
                try:
                    writer.close()
                except (OSError, pa.ArrowException):
                    pass
            self._writers.clear()
        shutil.rmtree(self.root, ignore_errors=True)


def _schema(spec: FileSpec) -> pa.Schema:
    return spec.arrow_schema()


def _remove_stale(folder: Path) -> None:
    """Temporary folders of pulls that were killed (the process never reached discard)."""
    for stale in folder.glob(TEMP_PREFIX + "*"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
