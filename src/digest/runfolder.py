"""The run folder (ARCHITECTURE.md): every step reads what the previous one wrote here.

Also the atomic-write helpers every stage uses: a reader sees the old file or the new one, never half.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path


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
    def audit(self) -> Path:
        return self.root / "audit.jsonl"

    @property
    def ledger(self) -> Path:
        return self.root / "deliveries.sqlite"

    @property
    def report(self) -> Path:
        return self.root / "report.json"

    def ensure(self) -> "RunFolder":
        self.root.mkdir(parents=True, exist_ok=True)
        return self
