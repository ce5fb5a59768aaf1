"""Whether each CRM and org file has been processed (the CRM data page's "Data has not been processed" notice).

Per data type: *processed* at the time of the newest accepted upload holding its file (a file put
into the data folder by hand, like the demo's sample, counts as processed at its modification
time); *validation failed* when a later upload holding it was rejected (the crm_upload DAG's
report names it); *not uploaded* when the data folder has no such file.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from digest.config import Settings
from digest.sources.contract import ACCOUNTS, ASSIGNMENTS, CONTACTS, PEOPLE
from digest.sources.store import list_snapshots

DATA_TYPES = (("accounts", ACCOUNTS.path), ("contacts", CONTACTS.path), ("seller_assignments", ASSIGNMENTS.path),
              ("org_data", PEOPLE.path))
REPORTS = ".reports"  # under airflow.upload_inbox, written by digest.airflow.uploads


@dataclass(frozen=True)
class Processing:
    """The state of one data type's file."""

    data: str
    path: str
    status: str  # processed, validation failed, not uploaded
    at: str | None  # ISO time processed (or rejected)
    report: str | None = None  # the upload report's name (the admin page /uploads/<name>) when validation failed

    @property
    def notice(self) -> bool:
        return self.status != "processed"


def processing_states(settings: Settings, folder: Path | None = None) -> list[Processing]:
    """The state of accounts, contacts, seller assignments and org data (see the module doc)."""
    folder = Path(folder or settings.data.folder)
    accepted: dict[str, dt.datetime] = {}
    for snap in list_snapshots(settings):
        for f in snap.files:
            accepted[f.path] = snap.uploaded
    rejected = _rejected_reports(Path(settings.airflow.upload_inbox) / REPORTS)
    out = []
    for data, path in DATA_TYPES:
        file = folder / path
        at = accepted.get(path)
        if at is None and file.is_file():
            at = dt.datetime.fromtimestamp(file.stat().st_mtime, dt.timezone.utc)
        failed = [r for r in rejected if _mentions(r[2], path) and (at is None or r[0] > at)]
        if failed:
            when, name, _ = failed[-1]
            out.append(Processing(data, path, "validation failed", _iso(when), name))
        elif at is None:
            out.append(Processing(data, path, "not uploaded", None))
        else:
            out.append(Processing(data, path, "processed", _iso(at)))
    return out


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _rejected_reports(folder: Path) -> list[tuple[dt.datetime, str, dict]]:
    """(received, report name, report) of every rejected upload, oldest first; unreadable reports are skipped."""
    out = []
    for f in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            doc = json.loads(f.read_text(encoding="utf-8"))
            if doc.get("accepted"):
                continue
            received = dt.datetime.fromisoformat(str(doc["received"]).replace("Z", "+00:00"))
        except (ValueError, KeyError, OSError):
            continue
        if received.tzinfo is None:
            received = received.replace(tzinfo=dt.timezone.utc)
        out.append((received, f.stem, doc))
    out.sort(key=lambda r: r[0])
    return out


def _mentions(report: dict, path: str) -> bool:
    """Whether a rejected upload concerned this file: a problem names it, or its message does."""
    name = PurePosixPath(path).name
    files = [str(p.get("file") or "") for p in report.get("problems") or []]
    return any(name in f for f in files) or name in str(report.get("message") or "")
