"""The weekly run without a scheduler (`digest run`), and the demo's sample data folder.

The steps are the weekly DAG's, calling the same ``digest.pipeline`` functions; Airflow adds scheduling,
retries, mapping over batches on several workers and the UI. One difference: the DAG starts each cohort
at its own due time, while a run here computes the cards of the cohorts due by then several at a time, in
metrics sessions of up to ``metrics.session_sellers`` sellers (:func:`digest.pipeline.cohorts_cards`),
then renders, gates and delivers them cohort by cohort.
"""

from __future__ import annotations

import datetime as dt
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
             clock: Callable[[], float] = time.time, at: dt.datetime | None = None) -> WeeklyRun:
    """Run the weekly DAG's steps in this process for every cohort due by `at` (default: now) and not yet done.

    Cohorts not due yet are left for a later run (their sellers are not_yet_due in outcomes.jsonl);
    a cohort that started before only has its delivery retried (the ledger sends nothing twice).
    """
    from digest.pipeline import render_workers

    with render_workers.allowed():  # one process runs every batch: draw each batch on every core
        return _run_week(settings, week, sellers=sellers, delivery=delivery, dry_run=dry_run, progress=progress,
                         clock=clock, at=at)


def _run_week(settings: Settings, week: IsoWeek, *, sellers: Sequence[str] = (), delivery: str | None = None,
             dry_run: bool = False, progress: Callable[[str], None] | None = None,
             clock: Callable[[], float] = time.time, at: dt.datetime | None = None) -> WeeklyRun:
    via = delivery or settings.delivery.via
    if via not in DELIVERY_CHOICES:
        raise InputError(f"delivery {via!r} is not one of {', '.join(DELIVERY_CHOICES)}: choose one with --delivery.")
    moment = at or dt.datetime.fromtimestamp(clock(), dt.timezone.utc)
    tell = progress or (lambda _text: None)
    started = time.monotonic()
    steps: dict[str, pipeline.StepResult] = {}

    def step(work: Callable[[], pipeline.StepResult], label: str = "") -> pipeline.StepResult:
        began = time.monotonic()
        result = work().timed(time.monotonic() - began)
        before = steps.get(result.step)
        steps[result.step] = result if before is None else _summed(before, result)
        tell(f"{result.step}{label}: " + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in result.counts.items())
             + f" ({result.seconds:.1f} s)")
        return result

    step(lambda: pipeline.snapshot_inputs(settings, week))
    dataset = pipeline.load_snapshot(settings, week)  # once: the steps below would each load it again
    step(lambda: pipeline.coverage(settings, week, dataset))  # the CRM data page for the week (aggregates only)
    step(lambda: pipeline.plan_cohorts(settings, week, list(sellers) or None, dataset))
    due = pipeline.due_by(settings, week, moment)
    fresh = [c for c in due if not c.ready_at]  # not started, or stopped before its emails were gated: (re)do it, every step is idempotent
    for group in _sessions(fresh, settings.metrics.session_sellers):  # the due cohorts' cards, several per metrics session
        step(lambda: pipeline.cohorts_cards(settings, week, [c.key for c in group], moment, dataset),
             f" [{len(group)} cohort(s) due, {sum(len(c.sellers) for c in group):,} seller(s)]")
    for c in due:
        label = f" [due {c.key}, {len(c.sellers)} seller(s)]"
        if not c.ready_at:
            step(lambda: pipeline.cohort_render(settings, week, c.key, dataset), label)
            step(lambda: pipeline.cohort_gate(settings, week, c.key, moment, dataset), label)
        step(lambda: pipeline.cohort_deliver(settings, week, c.key, via, dry_run, clock=clock), label)
    waiting = [c for c in pipeline.read_cohorts(settings, week) if c.due_at > moment]
    if waiting:
        tell(f"not yet due: {sum(len(c.sellers) for c in waiting):,} seller(s) in {len(waiting)} cohort(s), the next at {waiting[0].key}")
    ordered = [steps[name] for name in pipeline.STEP_ORDER if name in steps]
    report = pipeline.write_report(settings, week, ordered, final=True)
    return WeeklyRun(str(week), tuple(ordered), report.paths[0], round(time.monotonic() - started, 2))


def _sessions(cohorts: Sequence[pipeline.Cohort], most: int) -> list[list[pipeline.Cohort]]:
    """Consecutive due cohorts grouped so that one metrics session computes each group's cards: its dataset-wide
    work (people, matching, the shared tables) is then done once per group, not once per cohort, while a group of
    more than `most` sellers is split (a session's memory grows with its sellers). A cohort is never split."""
    groups: list[list[pipeline.Cohort]] = []
    size = 0
    for c in cohorts:
        if groups and size + len(c.sellers) <= most:
            groups[-1].append(c)
            size += len(c.sellers)
        else:
            groups.append([c])
            size = len(c.sellers)
    return groups


def _summed(a: pipeline.StepResult, b: pipeline.StepResult) -> pipeline.StepResult:
    """The same step run for several cohorts, added as report.json adds it (digest.pipeline.report.added_step)."""
    from digest.pipeline.report import added_step

    d = added_step(a.to_xcom(), b.to_xcom())
    return pipeline.StepResult(d["step"], d["week"], d["counts"], tuple(d["paths"])).timed(d["seconds"])


# --- the demo's data folder -------------------------------------------------------------------

def ensure_sample(settings: Settings, week: IsoWeek, sellers: int, seed: int = 1, weeks: int | None = None) -> tuple[Path, bool]:
    """Make sure data.folder holds data for `week`: generate a sample there if it is empty or an older sample.

    A folder with data the demo did not generate is used as it is, never overwritten.
    Returns the folder and whether a sample was (re)generated.
    """
    from digest.sample.generator import DEFAULT_WEEKS, generate_sample

    weeks = weeks or DEFAULT_WEEKS
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
