"""The weekly run without a scheduler (`digest run`), and the demo's sample data folder.

The steps are exactly the weekly DAG's, in the same order, calling the same ``digest.pipeline``
functions; Airflow adds scheduling, retries, mapping over batches on several workers and the UI.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from digest import pipeline
from digest.config import Settings
from digest.errors import InputError
from digest.runfolder import write_atomic
from digest.sealed import SAMPLE_MARK  # noqa: F401 - where the demo marks its sample (re-exported)
from digest.weeks import IsoWeek

DELIVERY_CHOICES = ("outbox", "graph", "none")


@dataclass(frozen=True)
class WeeklyRun:
    """What a run did: every step's counts (as in report.json) and where its files are."""

    week: str
    steps: tuple[pipeline.StepResult, ...]
    report: str
    seconds: float

    def counts(self, step: str) -> dict[str, int]:
        return next((dict(s.counts) for s in self.steps if s.step == step), {})


def run_week(settings: Settings, week: IsoWeek, *, sellers: Sequence[str] = (), delivery: str | None = None,
             dry_run: bool = False, progress: Callable[[str], None] | None = None,
             clock: Callable[[], float] = time.time) -> WeeklyRun:
    """Run every step of the weekly DAG in this process, in order; returns the steps' results."""
    via = delivery or settings.delivery.via
    if via not in DELIVERY_CHOICES:
        raise InputError(f"delivery {via!r} is not one of {', '.join(DELIVERY_CHOICES)}: choose one with --delivery.")
    tell = progress or (lambda _text: None)
    started = time.monotonic()
    steps: list[pipeline.StepResult] = []

    def step(work: Callable[[], pipeline.StepResult]) -> pipeline.StepResult:
        began = time.monotonic()
        result = work().timed(time.monotonic() - began)
        steps.append(result)
        tell(f"{result.step}: " + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in result.counts.items())
             + f" ({result.seconds:.1f} s)")
        return result

    step(lambda: pipeline.snapshot_inputs(settings, week))
    dataset = pipeline.load_snapshot(settings, week)  # once: the steps below would each load it again
    step(lambda: pipeline.compute_cards(settings, week, list(sellers) or None, dataset))
    step(lambda: pipeline.plan_batches(settings, week, settings.airflow.batch_size))
    batches = pipeline.batch_ids(settings, week)
    def each_batch(name: str, work: Callable[[str], pipeline.StepResult]) -> list[pipeline.StepResult]:
        done = []
        for i, b in enumerate(batches, start=1):
            done.append(work(b))
            if len(batches) > 1:
                tell(f"{name} batch {b}: {i}/{len(batches)} batches, "
                     + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in done[-1].counts.items()))
        return done

    step(lambda: _merged("render", week, each_batch("render", lambda b: pipeline.render_batch(settings, week, b, dataset))))
    step(lambda: pipeline.audit_gate(settings, week, dataset))
    step(lambda: pipeline.plan_delivery(settings, week, via, dry_run, clock=clock))
    if via == "none":
        held = sum(len(pipeline.batch_sellers(settings, week, b)) for b in batches)
        step(lambda: pipeline.StepResult("deliver", str(week), {"held": held}))
    else:
        step(lambda: _merged("deliver", week, each_batch(
            "deliver", lambda b: pipeline.deliver_batch(settings, week, b, via, dry_run, clock=clock))))
    report = pipeline.write_report(settings, week, steps, final=True)
    return WeeklyRun(str(week), tuple(steps), report.paths[0], round(time.monotonic() - started, 2))


def _merged(name: str, week: IsoWeek, results: Sequence[pipeline.StepResult]) -> pipeline.StepResult:
    """One result for a step run once per batch: counts summed."""
    counts: dict[str, int] = {}
    for r in results:
        for k, v in r.counts.items():
            counts[k] = counts.get(k, 0) + int(v)
    return pipeline.StepResult(name, str(week), {"batches": len(results), **counts},
                               tuple(p for r in results for p in r.paths))


# --- the demo's data folder -------------------------------------------------------------------

def ensure_sample(settings: Settings, week: IsoWeek, sellers: int, seed: int = 1, weeks: int = 4) -> tuple[Path, bool]:
    """Make sure data.folder holds data for `week`: generate a sample there if it is empty or an older sample.

    A folder with data the demo did not generate is used as it is, never overwritten.
    Returns the folder and whether a sample was (re)generated.
    """
    from digest.sample.generator import generate_sample

    folder = Path(settings.data.folder)
    mark = folder / SAMPLE_MARK
    wanted = {"end_week": str(week), "sellers": sellers, "seed": seed, "weeks": weeks}
    if folder.is_dir() and any(p.name != SAMPLE_MARK and not p.name.startswith(".") for p in folder.iterdir()):
        if not mark.is_file():
            return folder, False  # real data (or an admin's own sample): use it
        if json.loads(mark.read_text(encoding="utf-8")) == wanted:
            return folder, False
    generate_sample(folder, sellers=sellers, weeks=weeks, seed=seed, end_week=week, overwrite=True)
    write_atomic(mark, json.dumps(wanted, sort_keys=True) + "\n")
    return folder, True
