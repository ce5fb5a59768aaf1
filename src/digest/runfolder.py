"""The run folder (ARCHITECTURE.md): every step reads what the previous one wrote here.

Also the atomic-write helpers every stage uses: a reader sees the old file or the new one, never half.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from digest.errors import InputError

MANIFEST = "emails.json"  # in each batch folder: the seller each .eml was rendered for (file names never say)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write a file so readers see the old or the new content, never half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: Path, text: str) -> None:
    """Write a UTF-8 text file atomically (see :func:`write_bytes_atomic`)."""
    write_bytes_atomic(path, text.encode("utf-8"))


def _manifest(path: Path) -> tuple[tuple[str, Path], ...]:
    """(seller, .eml path) of one batch manifest. A run's deliver batches each look up the whole run, which
    parsed every manifest of the run once per batch: the parse is kept per content (a few KB to hash)."""
    return _parsed_manifest(str(path.parent), path.read_bytes())


@functools.lru_cache(maxsize=1024)
def _parsed_manifest(folder: str, data: bytes) -> tuple[tuple[str, Path], ...]:
    return tuple((item["seller"].lower(), Path(folder) / item["file"]) for item in json.loads(data.decode("utf-8")))


@dataclass(frozen=True)
class RunFolder:
    """Paths of one run, e.g. runs/2026-W47/. Creating the object creates nothing on disk."""

    root: Path

    @classmethod
    def for_week(cls, runs_dir: str | Path, week: str) -> "RunFolder":
        return cls(Path(runs_dir) / week)

    @property
    def inputs(self) -> Path:
        return self.root / "inputs.json"

    @property
    def cards(self) -> Path:
        return self.root / "cards.jsonl"

    @property
    def emails(self) -> Path:
        return self.root / "emails"

    @property
    def outcomes(self) -> Path:
        return self.root / "outcomes.jsonl"

    def rendered(self, batch: str | None = None) -> dict[str, Path]:
        """Seller -> .eml path of every rendered email (of one batch, or all), read from the batch manifests."""
        out: dict[str, Path] = {}
        folders = [self.emails / batch] if batch is not None else sorted(p for p in self.emails.glob("*") if p.is_dir())
        for folder in folders if self.emails.is_dir() else []:
            manifest = folder / MANIFEST
            if not manifest.is_file():
                if any(folder.glob("*.eml")) or any(folder.glob("*.eml.sealed")):
                    raise InputError(f"{manifest} is missing, so nothing says whom the emails in {folder} are for: "
                                     "render the batch again (digest run, or the DAG's render step).")
                continue
            for seller, path in _manifest(manifest):
                if seller in out:
                    raise InputError(f"{seller} has two rendered emails ({out[seller]} and {path}): "
                                     "render the week again so each seller is in one batch.")
                out[seller] = path
        return out

    @property
    def sent_deleted(self) -> Path:
        """One JSON line per message file deleted because the ledger says it was sent (digest.delivery.cleanup)."""
        return self.root / "sent_deleted.jsonl"

    def deleted_after_delivery(self) -> set[str]:
        """Message files (relative to the run folder) deleted after delivery."""
        if not self.sent_deleted.is_file():
            return set()
        out = set()
        for line in self.sent_deleted.read_text(encoding="utf-8").splitlines():
            try:
                out.add(json.loads(line)["email"])
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a crash
        return out

    @property
    def audit(self) -> Path:
        return self.root / "audit.jsonl"

    @property
    def ledger(self) -> Path:
        return self.root / "deliveries.sqlite"

    @property
    def report(self) -> Path:
        return self.root / "report.json"

    @contextmanager
    def locked(self, name: str) -> Iterator[None]:
        """Hold the run folder's lock file `name` (e.g. "audit.lock"): one writer at a time across processes."""
        self.ensure()
        with (self.root / name).open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def ensure(self) -> "RunFolder":
        self.root.mkdir(parents=True, exist_ok=True)
        return self


def write_manifest(folder: Path, files: Iterable[tuple[str, str]]) -> Path:
    """Write a batch folder's manifest: which seller each .eml file was rendered for."""
    items = [{"seller": seller.lower(), "file": name} for seller, name in files]
    path = Path(folder) / MANIFEST
    write_atomic(path, json.dumps(items, indent=1, ensure_ascii=False) + "\n")
    return path


def add_to_manifest(folder: Path, seller: str, name: str) -> Path:
    """Add (or replace) one seller's entry in a batch manifest: for tools that write emails one at a time."""
    path = Path(folder) / MANIFEST
    items = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
    kept = [(i["seller"], i["file"]) for i in items if i["seller"] != seller.lower()]
    return write_manifest(folder, [*kept, (seller, name)])
