"""The run folder (ARCHITECTURE.md): every step reads what the previous one wrote here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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
