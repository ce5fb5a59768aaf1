"""A delivered message leaves the run folder: its files are deleted once the ledger says sent.

On real data ``privacy.keep_sent_days`` (default 0) says how long after its send a message's files (the sealed
or plain .eml, a preview and its images) may stay. The deliver step deletes what is due right
after sending; ``digest purge`` and the retention DAG delete the rest. Each deletion is appended to
``runs/<week>/sent_deleted.jsonl`` (file and time, no content), so the audit can tell "deleted
after delivery" from "missing". The audit record, with the message's hash, stays.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from pathlib import Path
from typing import Callable

from digest.config import Settings
from digest.delivery.ledger import Ledger, ledger_url
from digest.errors import InputError
from digest.runfolder import RunFolder
from digest.weeks import IsoWeek

CLEANUP_LOCK = ".cleanup.lock"


def delete_sent(settings: Settings, week: str, now: float, *, clock: Callable[[], float] = time.time) -> int:
    """Delete the files of every message of `week` sent at least keep_sent_days before `now`; returns how many."""
    from digest.sealed import is_sample

    run = RunFolder.for_week(settings.runs.folder, week)
    if not settings.delivery.ledger_url and not run.ledger.is_file():
        return 0  # nothing was ever delivered from this run
    if is_sample(settings):
        return 0  # the generated sample: its readable emails and previews are the demo (retention still purges them)
    cutoff = now - settings.privacy.keep_sent_days * 86400
    ledger = Ledger(ledger_url(settings.delivery.ledger_url, run.root), clock)
    try:
        due = ledger.sent_sources(week, cutoff)
    finally:
        ledger.close()
    if not due:
        return 0
    deleted = 0
    with run.locked(CLEANUP_LOCK), run.sent_deleted.open("a", encoding="utf-8") as log:  # one cleaner at a time
        for source in due:
            eml = run.root / source
            if not eml.exists():
                continue  # deleted earlier (by another cohort's deliver task, or retention)
            at = dt.datetime.fromtimestamp(now, dt.timezone.utc).isoformat().replace("+00:00", "Z")
            log.write(json.dumps({"email": source, "deleted_at": at}, sort_keys=True) + "\n")
            log.flush()  # logged before it goes: a gate that finds the file missing finds why
            for path in _files_of(eml):  # the message, its preview and images
                _remove(path)
            deleted += 1
    return deleted


def _remove(path: Path) -> None:
    """Delete a file or folder, if it is still there."""
    try:
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    except FileNotFoundError:
        pass


def delete_sent_runs(settings: Settings, today: dt.date) -> int:
    """:func:`delete_sent` over every run folder, as of the end of `today` (for `digest purge` and the retention DAG)."""
    runs = Path(settings.runs.folder)
    end = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(0), tzinfo=dt.timezone.utc).timestamp()
    deleted = 0
    for folder in sorted(runs.iterdir()) if runs.is_dir() else []:
        try:
            week = IsoWeek.parse(folder.name)
        except InputError:
            continue
        deleted += delete_sent(settings, str(week), end)
    return deleted


def _files_of(eml: Path) -> list[Path]:
    stem = eml.name.removesuffix(".sealed").removesuffix(".eml")
    return [eml, eml.with_name(f"{stem}.html"), eml.with_name(f"{stem}_files")]
