"""Retention: delete raw uploads and rendered emails once they are older than the settings allow.

What goes (docs/privacy.md, "What is stored and for how long"):

- ``privacy.raw_data_days``: snapshots in ``data.store`` (each top-level entry is one accepted
  upload) older than this; the newest snapshot always stays, it is the one in force.
- ``privacy.rendered_email_days``: a run's ``emails/`` and ``cards.jsonl`` once the reported week
  ended that many days ago, and outbox files as old. Audit records, the gate verdict, the ledger
  and report.json stay: they hold hashes and counts, and they are what a reviewer checks later.

``today`` is a parameter: the caller (the retention DAG, ``digest purge``) decides what today is.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

from digest.config import Settings
from digest.errors import InputError
from digest.weeks import IsoWeek

# The audit salt must outlive every record hashed with it; the opt-out log is in force whatever the
# snapshot; the keys open this week's messages and sign links in emails already sent.
KEEP_IN_STORE = {"audit_salt", "optout_events.jsonl", "message_key", "unsubscribe_secret"}


@dataclass(frozen=True)
class PurgeCounts:
    """How many things each retention rule deleted."""

    snapshots: int = 0
    run_email_files: int = 0
    run_cards: int = 0
    outbox_files: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"snapshots": self.snapshots, "run_email_files": self.run_email_files,
                "run_cards": self.run_cards, "outbox_files": self.outbox_files}


def purge(settings: Settings, today: dt.date) -> PurgeCounts:
    """Delete what is past its retention as of `today`; returns counts (0 days = keep forever)."""
    p = settings.privacy
    snapshots = _purge_store(Path(settings.data.store), today - dt.timedelta(days=p.raw_data_days)) if p.raw_data_days else 0
    emails = cards = outbox = 0
    if p.rendered_email_days:
        cutoff = today - dt.timedelta(days=p.rendered_email_days)
        emails, cards = _purge_runs(Path(settings.runs.folder), cutoff)
        outbox = _purge_files(Path(settings.delivery.outbox_folder), cutoff)
    return PurgeCounts(snapshots, emails, cards, outbox)


def _day(path: Path) -> dt.date:
    """The day an entry last changed: the newest file inside a folder (a folder's own time moves
    whenever an entry is added or removed, so it says nothing about the data's age)."""
    times = [f.stat().st_mtime for f in path.rglob("*") if f.is_file()] if path.is_dir() else []
    return dt.date.fromtimestamp(max(times or [path.stat().st_mtime]))


def _purge_store(store: Path, cutoff: dt.date) -> int:
    if not store.is_dir():
        return 0
    entries = [e for e in store.iterdir() if e.name not in KEEP_IN_STORE and not e.name.startswith(".")]
    entries.sort(key=lambda e: (_day(e), e.name))
    deleted = 0
    for entry in entries[:-1]:  # the newest snapshot is the one in force: never deleted
        if _day(entry) < cutoff:
            _remove(entry)
            deleted += 1
    return deleted


def _purge_runs(runs: Path, cutoff: dt.date) -> tuple[int, int]:
    if not runs.is_dir():
        return 0, 0
    emails = cards = 0
    for run in sorted(runs.iterdir()):
        try:
            week = IsoWeek.parse(run.name)
        except InputError:
            continue  # not a run folder: not ours to delete
        if week.sunday >= cutoff:
            continue
        for folder in (run / "emails", run / ".work"):  # .work: batches a crashed render left half-done
            if folder.is_dir():
                emails += sum(1 for f in folder.rglob("*") if f.is_file())
                shutil.rmtree(folder)
        if (run / "cards.jsonl").is_file():
            (run / "cards.jsonl").unlink()
            cards += 1
    return emails, cards


def _purge_files(folder: Path, cutoff: dt.date) -> int:
    if not folder.is_dir():
        return 0
    deleted = 0
    for f in sorted(folder.rglob("*")):
        if f.is_file() and dt.date.fromtimestamp(f.stat().st_mtime) < cutoff:
            f.unlink()
            deleted += 1
    return deleted


def _remove(entry: Path) -> None:
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry)
    else:
        entry.unlink()
