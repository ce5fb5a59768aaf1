"""The snapshot store: accept an upload as a whole or not at all, keep it, publish it into the data folder.

``accept_upload`` validates every file of an upload (mapping first; in append mode merged with the
data folder's current file). If any file is rejected nothing changes and one ValidationError lists
every problem. Otherwise the accepted files go into ``<data.store>/<UTC time>-<content hash>/`` with
a ``manifest.json``, then replace the data folder's files (each written aside, then renamed over
the old one: a reader sees the old file or the new one, never half of one). One upload at a time
(a lock file in the store). The same content accepted twice gives back the snapshot already in force.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterator

from digest.config import Settings
from digest.sources.contract import FileSpec
from digest.errors import InputError, ValidationError, rejected
from digest.sources.files import file_sha256, find_file, load_file, plain_text
from digest.sources.mapping import load_mapping
from digest.sources.upload import MODES, UploadFile, merge_append, read_upload_file, table_bytes, upload_files

SNAPSHOT_NAME = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{12}$")
MANIFEST = "manifest.json"
LOCK = ".lock"


@dataclass(frozen=True)
class SnapshotFile:
    """One accepted file of a snapshot, as published into the data folder."""

    path: str  # relative to the data folder, e.g. crm/accounts.csv
    sha256: str
    rows: int
    source: str  # the file as uploaded (its path in the upload entry)
    mapping: dict | None  # the mapping section applied to it, None without a mapping


@dataclass(frozen=True)
class Snapshot:
    """An accepted upload kept in the store (read from its manifest.json)."""

    path: Path
    uploaded: dt.datetime
    mode: str
    source: str  # the upload entry's name
    content_sha256: str
    files: tuple[SnapshotFile, ...]
    mapping_file: str | None = None

    @property
    def name(self) -> str:
        return self.path.name


def accept_upload(entry: Path, settings: Settings, *, mode: str = "replace", mapping: Path | None = None,
                  now: dt.datetime | None = None) -> Path:
    """Validate an upload as a whole; when every file passes, keep it as a snapshot and publish it.

    Returns the snapshot folder now in force (an existing one when the same content is already
    published). Raises ValidationError (every problem of every file) or InputError; then nothing changed.
    """
    if mode not in MODES:
        raise InputError(f"upload mode {mode!r} is not known: use replace (the files replace the current ones) "
                         f"or append (their rows are added to the current files).")
    entry = Path(entry)
    loaded = load_mapping(mapping) if mapping else None
    files, ignored = upload_files(entry, loaded)
    if not files:
        raise InputError(f"upload {entry} holds no file of the data contract"
                         + (f" (found: {', '.join(ignored[:10])})" if ignored else " (it is empty)")
                         + ": lay it out like the data folder (org/people.csv, crm/accounts.csv, …) or pass the --mapping "
                         "that names the export's files.")
    now = now or dt.datetime.now(dt.timezone.utc)  # the upload time: taken here, at the edge, unless given
    now = now.replace(tzinfo=dt.timezone.utc) if now.tzinfo is None else now.astimezone(dt.timezone.utc)
    data, store = Path(settings.data.folder), Path(settings.data.store)
    store.mkdir(parents=True, exist_ok=True)
    with _locked(store):
        for stale in store.glob(".staging-*"):  # left by a process that died: we hold the lock
            shutil.rmtree(stale, ignore_errors=True)
        staging = store / f".staging-{os.getpid()}-{secrets.token_hex(4)}"
        written = _stage_accepted(files, data, mode, staging)
        content = _content_sha(written)
        existing = _in_force(store, data, content)
        if existing is not None:
            shutil.rmtree(staging)
            return existing.path
        manifest = {"snapshot": None, "uploaded": now.isoformat().replace("+00:00", "Z"), "mode": mode, "source": entry.name,
                    "content_sha256": content, "mapping_file": str(loaded.path.resolve()) if loaded else None,
                    "mapping_sha256": loaded.sha256 if loaded else None, "ignored": ignored,
                    "files": [f.__dict__ for f in written]}
        final = store / f"{now:%Y%m%dT%H%M%SZ}-{content[:12]}"
        manifest["snapshot"] = final.name
        _write_new(staging / MANIFEST, (json.dumps(manifest, indent=1) + "\n").encode())
        created = not final.exists()  # else: the same content in the same second, replaced since: publish it again
        if created:
            os.rename(staging, final)
        else:
            shutil.rmtree(staging)
        try:
            _publish(final, data, written)
        except BaseException:
            if created:  # it failed before replacing any file: the data folder is as it was, so no snapshot either
                shutil.rmtree(final, ignore_errors=True)
            raise
    return final


def list_snapshots(settings: Settings) -> list[Snapshot]:
    """Every snapshot in the store, oldest first (entries without a readable manifest are left out)."""
    return _snapshots(Path(settings.data.store))


def _snapshots(store: Path) -> list[Snapshot]:
    if not store.is_dir():
        return []
    found = []
    for entry in sorted(store.iterdir()):
        if SNAPSHOT_NAME.match(entry.name) and (entry / MANIFEST).is_file():
            with contextlib.suppress(ValueError, KeyError, TypeError, OSError):
                found.append(read_snapshot(entry))
    return found


def current_snapshot(settings: Settings) -> Snapshot | None:
    """The newest accepted upload (its files are the data folder's, unless a later upload replaced some)."""
    snapshots = list_snapshots(settings)
    return snapshots[-1] if snapshots else None


def read_snapshot(path: Path) -> Snapshot:
    """A snapshot from its manifest.json."""
    m = json.loads((Path(path) / MANIFEST).read_text(encoding="utf-8"))
    return Snapshot(Path(path), dt.datetime.fromisoformat(m["uploaded"].replace("Z", "+00:00")), m["mode"], m["source"],
                    m["content_sha256"], tuple(SnapshotFile(**f) for f in m["files"]), m.get("mapping_file"))


# --- inside accept_upload ---------------------------------------------------------------------------

def _stage_accepted(files: list[UploadFile], data: Path, mode: str, staging: Path) -> list[SnapshotFile]:
    """Validate every file (merged with the current one in append mode) and write the accepted ones into
    `staging`; if any file is rejected, remove `staging` and raise one ValidationError for all of them."""
    errors: list[ValidationError] = []
    written = []
    try:
        for upload in files:
            try:
                table, rows = read_upload_file(upload)
                current = find_file(data, upload.spec) if data.is_dir() else None
                if mode == "append" and current is not None:
                    table = merge_append(_current_table(data, upload.spec), table, upload.spec,
                                         str(current.relative_to(data)), upload.label, rows)
            except ValidationError as exc:
                errors.append(exc)
                continue
            if not errors:  # once a file is rejected the upload is: only its problems matter now
                path = _target(upload, current)
                content = table_bytes(table, PurePosixPath(path).suffix)
                _write_new(staging / path, content)
                written.append(SnapshotFile(path, hashlib.sha256(content).hexdigest(), table.num_rows, upload.name,
                                            upload.mapping.describe() if upload.mapping else None))
        if errors:
            raise rejected(errors)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return written


def _current_table(data: Path, spec: FileSpec):
    try:
        return plain_text(load_file(data, spec)[0])  # as the upload's own rows: text, not dictionary-encoded
    except ValidationError as exc:
        raise ValidationError(f"{exc.file} (the data folder's current file, which append mode adds to)", exc.problems,
                              exc.total) from None


def _target(upload: UploadFile, current: Path | None) -> str:
    """Where the file goes in the data folder: a collaboration file keeps the format the folder already has."""
    if upload.spec.path.endswith(".csv"):
        return upload.spec.path
    return upload.spec.path + (current.suffix if current is not None else upload.suffix)


def _content_sha(files: list[SnapshotFile]) -> str:
    return hashlib.sha256("".join(f"{f.path}\0{f.sha256}\n" for f in sorted(files, key=lambda f: f.path)).encode()).hexdigest()


def _in_force(store: Path, data: Path, content: str) -> Snapshot | None:
    """The newest snapshot with this content whose files are exactly the data folder's: nothing to do."""
    for snap in reversed(_snapshots(store)):
        if snap.content_sha256 == content and all((data / f.path).is_file() and file_sha256(data / f.path) == f.sha256
                                                  for f in snap.files):
            return snap
    return None


def _publish(snapshot: Path, data: Path, files: list[SnapshotFile]) -> None:
    """Copy every file next to its target first, then rename each over the old one (atomic per file)."""
    temps: list[tuple[Path, Path]] = []
    try:
        for f in files:
            target = data / f.path
            target.parent.mkdir(parents=True, exist_ok=True)
            for stale in target.parent.glob(f".{target.name}.*.tmp"):
                stale.unlink(missing_ok=True)
            tmp = target.parent / f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
            temps.append((tmp, target))
            _write_new(tmp, (snapshot / f.path).read_bytes())
        for tmp, target in temps:
            os.replace(tmp, target)
        for parent in {target.parent for _, target in temps}:
            _fsync_dir(parent)
    finally:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)


def _write_new(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def _locked(store: Path) -> Iterator[None]:
    """One upload at a time per store (Airflow may process several uploads in parallel)."""
    with (store / LOCK).open("a+") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)

