"""Uploads landing in the inbox: validate, accept as the new snapshot or reject, keep a validation report.

The inbox (``airflow.upload_inbox``) holds one entry per upload (a folder laid out like the data
folder, or a single CSV). Each processed entry moves to ``.accepted/`` or ``.rejected/`` so it is
processed once; its report goes to ``.reports/<received>-<name>.json`` for the admin pages.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

from digest.config import Settings
from digest.errors import InputError, ValidationError
from digest.runfolder import write_atomic

MAX_PROBLEMS_KEPT = 200


def reports_folder(settings: Settings) -> Path:
    return Path(settings.airflow.upload_inbox) / ".reports"


def process_upload(settings: Settings, upload: str | Path, received: dt.datetime) -> dict[str, Any]:
    """Validate one upload; accept it into the snapshot store or reject it. Returns its report (no data)."""
    from digest.sources.store import accept_upload

    entry = Path(upload)
    path = reports_folder(settings) / f"{received.strftime('%Y%m%dT%H%M%S')}-{entry.name}.json"
    if not entry.exists() and path.is_file():  # a re-run of the same task: report what it did
        done = json.loads(path.read_text(encoding="utf-8"))
        return {"upload": entry.name, "accepted": done["accepted"], "problems": done["total_problems"], "report": str(path)}
    if not entry.exists():
        raise InputError(f"upload {entry} is gone from the inbox: it was processed already or removed; nothing to do.")
    report: dict[str, Any] = {"upload": entry.name, "received": received.isoformat(timespec="seconds"),
                              "accepted": False, "snapshot": None, "total_problems": 0, "problems": [], "message": ""}
    try:
        snapshot = accept_upload(entry, settings)
    except ValidationError as exc:
        report.update(total_problems=exc.total, message=str(exc),
                      problems=[asdict(p) for p in exc.problems[:MAX_PROBLEMS_KEPT]])
        _settle(entry, "rejected", received)
    except InputError as exc:
        report.update(total_problems=1, message=str(exc))
        _settle(entry, "rejected", received)
    else:
        report.update(accepted=True, snapshot=str(snapshot))
        _settle(entry, "accepted", received)
    write_atomic(path, json.dumps(report, indent=1, default=str) + "\n")
    return {"upload": entry.name, "accepted": report["accepted"], "problems": report["total_problems"], "report": str(path)}


def _settle(entry: Path, outcome: str, received: dt.datetime) -> None:
    """Move a processed upload out of the inbox, so a re-run does not process it twice."""
    target = entry.parent / f".{outcome}" / f"{received.strftime('%Y%m%dT%H%M%S')}-{entry.name}"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(entry), str(target))
