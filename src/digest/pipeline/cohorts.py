"""Cohorts: sellers who share the moment they are due, each seller's own week and own Monday morning.

A seller is due at ``due_at`` = the later of (the end of their week in their zone + ``data.arrival_lag``)
and ``delivery.local_send_time`` in their zone (CONTRACT.md's week runs midnight to midnight in the
seller's zone). Sellers with the same ``due_at`` (one UTC instant) form a cohort; cards, render, the
gate and delivery run per cohort, never before its ``due_at``. ``cohorts.json`` in the run folder
lists them in due order, and records when each started; a seller of a cohort that has not started is
``not_yet_due`` in outcomes.jsonl.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from digest.config import Settings
from digest.errors import InputError
from digest.pipeline.outcomes import write_outcomes, write_scope
from digest.pipeline.steps import StepResult, load_snapshot, run_folder
from digest.runfolder import write_atomic
from digest.weeks import IsoWeek, parse_duration

if TYPE_CHECKING:  # pyarrow stays out of DAG parsing
    import pyarrow as pa

    from digest.sources.contract import Dataset

COHORTS_FILE = "cohorts.json"
COHORTS_LOCK = ".cohorts.lock"


@dataclass(frozen=True)
class Cohort:
    """The sellers due at one instant: `key` is that instant in UTC (ISO 8601, 'Z'), also what the DAG maps over."""

    key: str
    zones: tuple[str, ...]
    sellers: tuple[str, ...]  # everyone in scope due then, those the cards leave out (opted out, excluded) too
    started_at: str | None = None  # its cards step began: its sellers are no longer not_yet_due
    ready_at: str | None = None  # its emails were rendered and gated: a re-run only retries its delivery

    @property
    def due_at(self) -> dt.datetime:
        return parse_instant(self.key)

    @property
    def id(self) -> str:
        """A name safe in file and batch names: 20261130T0600Z."""
        return self.due_at.strftime("%Y%m%dT%H%MZ")

    def to_dict(self) -> dict:
        return {"key": self.key, "id": self.id, "zones": list(self.zones), "sellers": list(self.sellers),
                "started_at": self.started_at, "ready_at": self.ready_at}


def instant_key(moment: dt.datetime) -> str:
    """An aware moment as the cohort key: UTC, seconds, 'Z'."""
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(text: str) -> dt.datetime:
    """'2026-11-30T06:00:00Z' (or any ISO 8601 moment with an offset) -> an aware UTC datetime; a clear error otherwise."""
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{text!r} is not a moment. Write it like 2026-11-30T06:00:00Z (ISO 8601 with a time zone).") from None
    if moment.tzinfo is None:
        raise InputError(f"{text!r} has no time zone. Write it like 2026-11-30T06:00:00Z or 2026-11-30T07:00:00+01:00.")
    return moment.astimezone(dt.timezone.utc)


def plan_cohorts(settings: Settings, week: IsoWeek, sellers: Sequence[str] | None = None,
                 dataset: "Dataset | None" = None) -> StepResult:
    """Fix who is in scope (scope.json, with each seller's due_at) and group them into cohorts (cohorts.json).

    Cohorts that already started keep their start; a re-plan on changed data keeps who was sent.
    """
    from digest.metrics import seller_scope

    dataset = dataset if dataset is not None else load_snapshot(settings, week)
    lag = parse_duration(settings.data.arrival_lag, "data.arrival_lag")
    scope = seller_scope(dataset, week, settings, list(sellers) if sellers else None)
    due = {s: instant_key(week.due_at(tz, lag, settings.delivery.local_send_time)) for s, tz, _ in scope}
    run = run_folder(settings, week).ensure()
    with run.locked(COHORTS_LOCK):
        before = {c.key: c for c in read_cohorts(settings, week)}
        groups: dict[str, list[tuple[str, str]]] = {}
        for seller, tz, _ in scope:
            groups.setdefault(due[seller], []).append((seller, tz))
        cohorts = [Cohort(key, tuple(sorted({tz for _, tz in members})), tuple(sorted(s for s, _ in members)),
                          getattr(before.get(key), "started_at", None), getattr(before.get(key), "ready_at", None))
                   for key, members in sorted(groups.items())]
        write_scope(settings, week, [(s, tz, why) for s, tz, why in scope], due)
        _write(settings, week, cohorts)
    write_outcomes(settings, week)
    return StepResult("cohorts", str(week), {"cohorts": len(cohorts), "in_scope": len(scope)}, (str(run.root / COHORTS_FILE),))


def read_cohorts(settings: Settings, week: IsoWeek | str) -> list[Cohort]:
    """The cohorts of the week in due order (empty before plan_cohorts ran)."""
    path = run_folder(settings, week).root / COHORTS_FILE
    if not path.is_file():
        return []
    return [Cohort(d["key"], tuple(d["zones"]), tuple(d["sellers"]), d.get("started_at"), d.get("ready_at"))
            for d in json.loads(path.read_text(encoding="utf-8"))]


def cohort(settings: Settings, week: IsoWeek | str, key: str) -> Cohort:
    """One cohort by its key; a clear error when the week has no such cohort."""
    for c in read_cohorts(settings, week):
        if c.key == key:
            return c
    raise InputError(f"{week} has no cohort due at {key}: run the cohorts step first (digest run).")


def due_by(settings: Settings, week: IsoWeek | str, at: dt.datetime) -> list[Cohort]:
    """The cohorts due at or before `at` (a seller is due when due_at <= at)."""
    return [c for c in read_cohorts(settings, week) if c.due_at <= at]


def mark_started(settings: Settings, week: IsoWeek | str, key: str, at: dt.datetime) -> Cohort:
    """Record that a cohort's work began (its sellers stop being not_yet_due); the first start is kept."""
    return _mark(settings, week, key, started_at=instant_key(at))


def mark_ready(settings: Settings, week: IsoWeek | str, key: str, at: dt.datetime) -> Cohort:
    """Record that a cohort's emails are rendered and gated: later runs only retry its delivery."""
    return _mark(settings, week, key, ready_at=instant_key(at))


def _mark(settings: Settings, week: IsoWeek | str, key: str, **stamp: str) -> Cohort:
    run = run_folder(settings, week)
    with run.locked(COHORTS_LOCK):
        cohorts = read_cohorts(settings, week)
        if not any(c.key == key for c in cohorts):
            raise InputError(f"{week} has no cohort due at {key}: run the cohorts step first (digest run).")
        out = [dataclasses.replace(c, **{k: getattr(c, k) or v for k, v in stamp.items()}) if c.key == key else c for c in cohorts]
        _write(settings, week, out)
    return next(c for c in out if c.key == key)


def _write(settings: Settings, week: IsoWeek | str, cohorts: Sequence[Cohort]) -> None:
    path = run_folder(settings, week).root / COHORTS_FILE
    write_atomic(path, json.dumps([c.to_dict() for c in cohorts], indent=1, ensure_ascii=False) + "\n")


# --- the steps of one cohort ------------------------------------------------------------------

def cohort_cards(settings: Settings, week: IsoWeek, key: str, at: dt.datetime, dataset: "Dataset | None" = None,
                 batch_size: int | None = None) -> StepResult:
    """Start a cohort: compute its sellers' cards into cards.jsonl (merged with the other cohorts') and plan its batches."""
    return cohorts_cards(settings, week, [key], at, dataset, batch_size)


def cohorts_cards(settings: Settings, week: IsoWeek, keys: Sequence[str], at: dt.datetime, dataset: "Dataset | None" = None,
                  batch_size: int | None = None) -> StepResult:
    """Start several due cohorts at once (``digest run`` with more than one due): their sellers' cards from one metrics
    session, written as :func:`cohort_cards` writes each cohort's. The session's dataset-wide work (people, matching,
    the tables every seller shares) is then done once instead of once per cohort; each seller's cards are the same
    either way. One result for all of them (counts summed)."""
    import io

    from digest.cards import card_seller, write_cards
    from digest.metrics import compute_cards_and_interactions
    from digest.pipeline.used import write_used

    for key in keys:
        if cohort(settings, week, key).due_at > at:
            raise InputError(f"the cohort due at {key} is not due at {instant_key(at)}: a seller is never computed before their due time.")
    started = [mark_started(settings, week, key, at) for key in keys]
    dataset = dataset if dataset is not None else load_snapshot(settings, week)
    left_out = _left_out(settings, week)
    wanted = [s for c in started for s in c.sellers if s not in left_out]
    cards, used = compute_cards_and_interactions(dataset, week, settings, wanted) if wanted else ([], None)
    of = {s: i for i, c in enumerate(started) for s in c.sellers}
    mine: list[list] = [[] for _ in started]  # each cohort's cards, in the cards' order
    for card in cards:
        mine[of[card.seller]].append(card)
    if used is not None:  # for the render step's audit records: metrics knows them now, matching again costs as much
        for c, own in zip(started, mine):
            write_used(settings, week, c.id, used if len(started) == 1 else _rows_of(used, [card.seller for card in own]))
    run = run_folder(settings, week)
    batches: list[str] = []
    with run.locked(COHORTS_LOCK):  # cohorts may start at the same moment: merge, never overwrite
        lines = _card_lines(run.cards)
        buf = io.StringIO()
        write_cards(cards, buf)
        for line in buf.getvalue().splitlines():
            lines[card_seller(line)] = line
        write_atomic(run.cards, "".join(lines[s] + "\n" for s in sorted(lines)))
        for c, own in zip(started, mine):
            batches += _add_batches(run.root / "batches.json", c.id, [card.seller for card in own],
                                    batch_size or settings.airflow.batch_size)
    write_outcomes(settings, week)
    return StepResult("cards", str(week), {"sellers": len(cards), "batches": len(batches)}, (str(run.cards),))


def _rows_of(used: "pa.Table", sellers: Sequence[str]) -> "pa.Table":
    """The rows of `used` (seller, kind, interaction_id) whose seller is one of `sellers`."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return used.filter(pc.is_in(used["seller"], value_set=pa.array(list(sellers), pa.string())))


def cohort_batches(settings: Settings, week: IsoWeek | str, key: str) -> list[str]:
    """The batch ids of one cohort, in order (after its cards step)."""
    from digest.pipeline.steps import read_json

    prefix = cohort(settings, week, key).id + "-"
    path = run_folder(settings, week).root / "batches.json"
    return sorted(b for b in read_json(path, "batches") if b.startswith(prefix)) if path.is_file() else []


def cohort_render(settings: Settings, week: IsoWeek, key: str, dataset: "Dataset | None" = None) -> StepResult:
    """Render every batch of a cohort (and write their audit records) with the interactions its cards step kept (digest.pipeline.used)."""
    from digest.pipeline.emails import render_batch, used_interactions
    from digest.pipeline.steps import batch_sellers
    from digest.pipeline.used import read_used

    dataset = dataset if dataset is not None else load_snapshot(settings, week)
    batches = cohort_batches(settings, week, key)
    sellers = sorted({s for b in batches for s in batch_sellers(settings, week, b)})
    used = read_used(settings, week, cohort(settings, week, key).id) if sellers else None
    if used is None and sellers:  # not kept by the cards step (or unreadable): match them again
        used = used_interactions(settings, week, sellers, dataset)
    results = [render_batch(settings, week, b, dataset, used) for b in batches]
    return _merged("render", week, results)


def cohort_gate(settings: Settings, week: IsoWeek, key: str, at: dt.datetime, dataset: "Dataset | None" = None) -> StepResult:
    """The privacy gate over the cohort's emails (one gate at a time: each merges its verdicts into the run's).

    Only the cohort's own emails are opened: another cohort may be delivering, and deleting its sent files, meanwhile.
    """
    from digest.pipeline.emails import audit_gate

    c = cohort(settings, week, key)
    with run_folder(settings, week).locked(".gate.lock"):
        result = audit_gate(settings, week, dataset, list(c.sellers))
    mark_ready(settings, week, key, at)
    if result.counts.get("blocked"):
        _alert(settings, week, "gate_blocked", f"the privacy gate blocked {result.counts['blocked']:,} email(s)",
               [f"cohort due at {key}", f"emails passed: {result.counts.get('passed', 0):,}",
                f"emails blocked: {result.counts['blocked']:,} (digest audit runs/{week} says which rule)"], at)
    return result


def cohort_deliver(settings: Settings, week: IsoWeek, key: str, via: str, dry_run: bool = False, *,
                   clock=None) -> StepResult:
    """Plan a cohort's delivery (recorded in report.json) and deliver its batches; a re-run sends nothing twice."""
    import time

    from digest.pipeline.emails import deliver_batch, plan_delivery

    clock = clock or time.time
    c = cohort(settings, week, key)
    planned = plan_delivery(settings, week, via, dry_run, clock=clock, recipients=list(c.sellers), cohort=c.key)
    if via == "none":  # render and audit only: the cohort's emails are held
        held = len(set(c.sellers) & set(run_folder(settings, week).rendered()))
        return StepResult("deliver", str(week), {"held": held})
    try:  # outcomes.jsonl once for the cohort, after its last batch (each batch rewriting it for the whole run cost O(run))
        results = [deliver_batch(settings, week, b, via, dry_run, clock=clock, outcomes=False) for b in cohort_batches(settings, week, key)]
    finally:
        write_outcomes(settings, week)
    merged = _merged("deliver", week, results)
    counts = {**merged.counts, **{f"plan_{k}": v for k, v in planned.counts.items() if k in ("to_send", "late")}}
    if planned.counts.get("late"):
        import datetime as _dt

        _alert(settings, week, "cohort_late", f"{planned.counts['late']:,} email(s) of the cohort due at {key} miss the deadline",
               [f"deadline: {settings.delivery.deadline} in each seller's zone", f"emails to send: {planned.counts.get('to_send', 0):,}",
                f"late: {planned.counts['late']:,}"], _dt.datetime.fromtimestamp(clock(), _dt.timezone.utc))
    return StepResult("deliver", str(week), counts, merged.paths)


def _alert(settings: Settings, week: IsoWeek | str, kind: str, summary: str, lines: list[str], at: dt.datetime) -> None:
    """Tell the admins (admin.alert_addresses); an alert that cannot go out never stops the run."""
    import logging

    from digest.delivery.alerts import send_alert
    from digest.errors import DigestError

    try:
        send_alert(settings, str(week), kind, summary, lines, at)
    except (DigestError, OSError) as exc:
        logging.getLogger(__name__).warning("alert %s for %s not sent: %s", kind, week, type(exc).__name__)


def _merged(name: str, week: IsoWeek | str, results: Sequence[StepResult]) -> StepResult:
    """One result for a step run once per batch: counts summed."""
    counts: dict[str, int] = {}
    for r in results:
        for k, v in r.counts.items():
            counts[k] = counts.get(k, 0) + int(v)
    return StepResult(name, str(week), {"batches": len(results), **counts}, tuple(p for r in results for p in r.paths))


def _left_out(settings: Settings, week: IsoWeek | str) -> set[str]:
    from digest.pipeline.outcomes import SCOPE_FILE

    path = run_folder(settings, week).root / SCOPE_FILE
    return {i["seller"] for i in json.loads(path.read_text(encoding="utf-8")) if i.get("left_out")} if path.is_file() else set()


def _card_lines(path) -> dict[str, str]:
    if not path.is_file():
        return {}
    from digest.cards import card_lines, card_seller

    with path.open(encoding="utf-8") as f:  # merged whole by every cohort: the sellers read from each line's start
        return {card_seller(line): line.rstrip("\n") for line in card_lines(f)}


def _add_batches(path, prefix: str, sellers: Sequence[str], size: int) -> list[str]:
    doc = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    doc = {k: v for k, v in doc.items() if not k.startswith(prefix + "-")}
    ids = []
    for i in range(0, len(sellers), size):
        ids.append(f"{prefix}-{i // size:04d}")
        doc[ids[-1]] = list(sellers[i:i + size])
    write_atomic(path, json.dumps(dict(sorted(doc.items())), indent=1) + "\n")
    return ids
