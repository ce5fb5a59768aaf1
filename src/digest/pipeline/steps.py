"""The use cases of a weekly run; the CLI and the Airflow tasks call these and nothing else.

Every step reads what the previous one wrote into the run folder (``runs/<week>/``) and writes its
own output atomically, so any step can be re-run alone and gives the same files. Steps return
small frozen results (paths and counts): they are what Airflow passes through XCom.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Sequence

from digest import __version__
from digest.config import Settings
from digest.errors import InputError
from digest.runfolder import RunFolder, write_atomic
from digest.weeks import IsoWeek

DEFAULT_BATCH_SIZE = 250


@dataclass(frozen=True)
class StepResult:
    """What a step did: counts and the files it wrote (never data)."""

    step: str
    week: str
    counts: dict[str, int]
    paths: tuple[str, ...] = ()
    seconds: float = 0.0  # wall time of the step (summed over batches when merged)

    def to_xcom(self) -> dict[str, Any]:
        return {"step": self.step, "week": self.week, "counts": dict(self.counts), "paths": list(self.paths),
                "seconds": round(self.seconds, 2)}

    def timed(self, seconds: float) -> "StepResult":
        return replace(self, seconds=seconds)


def resolve_week(week: str | None, today: dt.date) -> IsoWeek:
    """The week to report: the `week` parameter if given, else last week relative to `today`."""
    return IsoWeek.parse(week) if week else IsoWeek.last_week(today)


def run_folder(settings: Settings, week: IsoWeek | str) -> RunFolder:
    return RunFolder.for_week(settings.runs.folder, str(week))


def read_json(path: Path, what: str) -> Any:
    if not path.is_file():
        raise InputError(f"{path} is missing: run the {what} step first (digest run does every step in order).")
    return json.loads(path.read_text(encoding="utf-8"))


# --- snapshot ---------------------------------------------------------------------------------

def snapshot_inputs(settings: Settings, week: IsoWeek, data_folder: str | Path | None = None) -> StepResult:
    """Validate the data folder and record which inputs and settings this run uses (hashes, not data)."""
    from digest.sources.files import load_data

    folder = Path(data_folder or settings.data.folder)
    if settings.pull.source == "graph":  # pull the weeks from Microsoft Graph into the data folder first
        from digest.pipeline.pull import pull_into

        pull_into(settings, week, folder)
    dataset = load_data(folder, settings)
    run = run_folder(settings, week).ensure()
    inputs = {
        "week": str(week),
        "data_folder": str(folder.resolve()),
        "files": dataset.origin,
        "settings_source": settings.source,
        "settings_hash": settings_fingerprint(settings),
        "code_version": __version__,
    }
    write_atomic(run.inputs, json.dumps(inputs, indent=2, sort_keys=True, default=str) + "\n")
    counts = {key: int(table.num_rows) for key, table in dataset.tables().items()}
    return StepResult("snapshot", str(week), counts, (str(run.inputs),))


def settings_fingerprint(settings: Settings) -> str:
    """A hash of every setting in force except secrets (for inputs.json and the audit)."""
    from digest.config import iter_settings

    values = {}
    for section, name, f in iter_settings():
        if not f.metadata.get("secret"):
            values[f"{section}.{name}"] = getattr(getattr(settings, section), name)
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()


def load_snapshot(settings: Settings, week: IsoWeek):
    """Load the inputs recorded by the snapshot step, refusing data that changed since."""
    from digest.sources.files import load_data

    run = run_folder(settings, week)
    inputs = read_json(run.inputs, "snapshot")
    dataset = load_data(Path(inputs["data_folder"]), settings)
    changed = sorted(k for k, v in inputs["files"].items() if dataset.origin.get(k, {}).get("sha256") != v.get("sha256"))
    if changed:
        raise InputError(f"inputs changed since the snapshot of {week} ({', '.join(changed)}): "
                         f"re-run the snapshot step so the run uses one consistent set of files.")
    return dataset


# --- cards ------------------------------------------------------------------------------------

def compute_cards(settings: Settings, week: IsoWeek, sellers: Sequence[str] | None = None, dataset=None) -> StepResult:
    """Compute every seller's cards for the week into runs/<week>/cards.jsonl (`dataset`: the snapshot, if loaded)."""
    import io

    from digest.cards import write_cards
    from digest.metrics.engine import compute_cards as compute
    from digest.metrics.engine import seller_scope
    from digest.pipeline.outcomes import write_outcomes, write_scope

    dataset = dataset if dataset is not None else load_snapshot(settings, week)
    wanted = list(sellers) if sellers else None
    cards = compute(dataset, week, settings, sellers=wanted)
    buf = io.StringIO()
    n = write_cards(cards, buf)
    run = run_folder(settings, week)
    write_atomic(run.cards, buf.getvalue())
    scope = write_scope(settings, week, seller_scope(dataset, week, settings, wanted))  # every seller the run must account for
    write_outcomes(settings, week)
    return StepResult("cards", str(week), {"sellers": n, "in_scope": scope}, (str(run.cards),))


# --- batches ----------------------------------------------------------------------------------

def plan_batches(settings: Settings, week: IsoWeek, batch_size: int = DEFAULT_BATCH_SIZE) -> StepResult:
    """Split the sellers of cards.jsonl into batches for mapped render/deliver tasks."""
    from digest.cards import card_zones

    run = run_folder(settings, week)
    if not run.cards.is_file():
        raise InputError(f"{run.cards} is missing: run the cards step first.")
    with run.cards.open(encoding="utf-8") as f:
        sellers = [seller for seller, _ in card_zones(f)]
    batches = [sellers[i:i + batch_size] for i in range(0, len(sellers), batch_size)]
    doc = {f"{i:04d}": b for i, b in enumerate(batches)}
    path = run.root / "batches.json"
    write_atomic(path, json.dumps(doc, indent=1) + "\n")
    return StepResult("batches", str(week), {"batches": len(batches), "sellers": len(sellers)}, (str(path),))


def batch_ids(settings: Settings, week: IsoWeek) -> list[str]:
    """The batch ids written by :func:`plan_batches`, in order."""
    return sorted(read_json(run_folder(settings, week).root / "batches.json", "batches"))


def batch_sellers(settings: Settings, week: IsoWeek, batch: str) -> list[str]:
    doc = read_json(run_folder(settings, week).root / "batches.json", "batches")
    if batch not in doc:
        raise InputError(f"batch {batch!r} is not in the plan of {week}; known batches: {', '.join(sorted(doc)) or 'none'}.")
    return list(doc[batch])


def iter_batch_cards(settings: Settings, week: IsoWeek, batch: str) -> Iterable:
    from digest.cards import lines_of, read_cards

    wanted = set(batch_sellers(settings, week, batch))
    yield from read_cards(lines_of(run_folder(settings, week).cards, wanted.__contains__), wanted)


# --- report -----------------------------------------------------------------------------------

def step_dict(result: StepResult) -> dict[str, Any]:
    return asdict(result)
