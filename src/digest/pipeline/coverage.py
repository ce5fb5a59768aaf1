"""The CRM data page's step: compute its figures for a week into runs/<week>/coverage/ and point `latest` at it.

`digest coverage` (any output folder) and the DAGs (crm_upload after each publish, the weekly run
for its week) call these. A notice ("data is not associated", "data has not been processed") is
information for the admin, never an error: the step succeeds and the page shows it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typing import TYPE_CHECKING

from digest.config import Settings
from digest.pipeline.steps import StepResult, run_folder
from digest.runfolder import write_atomic
from digest.weeks import IsoWeek

if TYPE_CHECKING:
    from digest.sources.contract import Dataset

LATEST = "coverage-latest.json"  # in runs/: which week's coverage the admin page shows
INPUTS = ".inputs.json"  # in runs/<week>/coverage/: what its figures were computed from (a hash) and the files written


def write_coverage(settings: Settings, week: IsoWeek, out: Path, dataset: "Dataset | None" = None,
                   data_folder: Path | None = None) -> dict[str, Any]:
    """Compute every figure of the page for `week` and write coverage.json and the CSVs into `out`; returns the document."""
    from digest.metrics.coverage import compute_collaboration  # heavy (duckdb, numpy): loaded when the step runs
    from digest.pipeline.coverage_files import coverage_document, csv_documents, write_files
    from digest.sources.coverage import upload_coverage
    from digest.sources.files import load_data
    from digest.sources.processing import processing_states

    folder = Path(data_folder or settings.data.folder)
    dataset = dataset if dataset is not None else load_data(folder, settings)
    upload = upload_coverage(dataset, week.sunday, folder)
    collab = compute_collaboration(dataset, week, settings)
    doc = coverage_document(str(week), upload, collab, processing_states(settings, folder))
    write_files(Path(out), doc, csv_documents(upload, collab))
    return doc


def coverage(settings: Settings, week: IsoWeek, dataset: "Dataset | None" = None) -> StepResult:
    """The CRM data page for `week`: runs/<week>/coverage/ (coverage.json and the CSVs) and runs/coverage-latest.json.

    The figures are kept with what they were computed from (:data:`INPUTS`: the snapshot's file hashes, every
    setting, the processing states, the code version): a later run of the week on the same inputs (``digest run``
    from cron every hour, a retried DAG run) reads them back instead of matching every collaborator again
    (81 s at 20,000 sellers). Without a dataset from files (hashes unknown) they are always computed."""
    out = run_folder(settings, week).root / "coverage"
    key = _inputs_key(settings, week, dataset)
    doc = _computed_before(out, key)
    if doc is None:
        (out / INPUTS).unlink(missing_ok=True)  # recomputing: until it is done, the figures are from nothing known
        doc = write_coverage(settings, week, out, dataset)
        if key is not None:
            files = sorted(p.name for p in out.iterdir() if p.name != INPUTS)
            write_atomic(out / INPUTS, json.dumps({"key": key, "files": files}, indent=1) + "\n")
    write_atomic(Path(settings.runs.folder) / LATEST, json.dumps({"week": str(week), "folder": f"{week}/coverage"}) + "\n")
    ext = doc["external_collaborators"]
    counts = {"accounts": doc["counts"]["accounts"], "notices": len(doc["notices"]), "collaborators": ext["all"],
              "collaborators_matched": ext["default"] + ext["extrapolation"]}
    return StepResult("coverage", str(week), counts, (str(out),))


def _inputs_key(settings: Settings, week: IsoWeek, dataset: "Dataset | None") -> str | None:
    """A hash of everything the page's figures depend on, or None when the dataset's files are not known by hash."""
    import dataclasses
    import hashlib

    from digest import __version__
    from digest.pipeline.steps import settings_fingerprint
    from digest.sources.processing import processing_states

    files = {k: v.get("sha256") for k, v in (dataset.origin.items() if dataset is not None else ())}
    if not files or not all(files.values()):
        return None
    wanted = {"week": str(week), "files": files, "settings": settings_fingerprint(settings), "version": __version__,
              "processing": [dataclasses.asdict(p) for p in processing_states(settings)]}
    return hashlib.sha256(json.dumps(wanted, sort_keys=True, default=str).encode()).hexdigest()


def _computed_before(out: Path, key: str | None) -> dict[str, Any] | None:
    """coverage.json as computed from the inputs `key` names, when it and its files are all still there."""
    if key is None:
        return None
    try:
        kept = json.loads((out / INPUTS).read_text(encoding="utf-8"))
        if kept.get("key") != key or not all((out / name).is_file() for name in kept.get("files", ())):
            return None
        return json.loads((out / "coverage.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, AttributeError):
        return None


def latest_coverage(settings: Settings) -> Path | None:
    """The folder of the coverage the admin page shows (the newest one computed), None before any."""
    pointer = Path(settings.runs.folder) / LATEST
    try:
        folder = json.loads(pointer.read_text(encoding="utf-8"))["folder"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    week = str(folder).split("/")[0]
    try:
        IsoWeek.parse(week)  # the pointer only ever names runs/<week>/coverage
    except Exception:  # noqa: BLE001 - a hand-edited pointer: show nothing rather than another path
        return None
    path = Path(settings.runs.folder) / week / "coverage"
    return path if (path / "coverage.json").is_file() else None
