"""Every seller accounted for: one state and a reason per seller in scope, in runs/<week>/outcomes.jsonl.

The sellers in scope (assigned at the week's end and in org data, or the sellers a run was narrowed
to) are fixed by the cards step in ``scope.json``. Each seller's state is then read from what the
steps left in the run folder, in this order, so it is always exactly one of :data:`STATES`:

- ``skipped``: opted out or excluded (scope), nothing to show (render), opted out since (ledger),
  or a run that rendered and audited only (``delivery none``, a dry run);
- ``blocked``: a privacy-gate rule failed for the seller's email;
- ``sent``: the ledger says sent (with when), whatever a later gate or render says: it happened;
- ``failed``: the ledger says failed, or a step did not get to the seller (the reason says which
  step to run); a crash therefore never loses a seller: the next write says where it stopped;
- ``not_yet_due``: the seller's Monday has not come yet (scheduling).

Steps that change states rewrite the file atomically; the counts always add up to the sellers in scope.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import asdict, dataclass
from typing import Iterable, Mapping, Sequence

from digest.config import Settings
from digest.errors import InputError
from digest.runfolder import RunFolder, write_atomic
from digest.weeks import IsoWeek

STATES = ("sent", "skipped", "blocked", "failed", "not_yet_due")
SCOPE_FILE = "scope.json"
COHORTS_FILE = "cohorts.json"  # written by digest.pipeline.cohorts: which due times have started
DELIVERY_FILE = "delivery.json"  # how this run delivers: {"via": outbox|graph|none, "dry_run": bool}


@dataclass(frozen=True)
class SellerOutcome:
    """One seller's state at the end of a step: states and reasons only, never card content."""

    seller: str
    state: str
    reason: str
    due_at: str | None = None
    sent_at: str | None = None

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v is not None or k in ("seller", "state", "reason")},
                          ensure_ascii=False, sort_keys=True)


def write_scope(settings: Settings, week: IsoWeek | str, scope: Iterable[Sequence], due: Mapping[str, str] | None = None) -> int:
    """Record the sellers in scope: (seller, time zone, why the cards leave them out or None), with each one's due_at."""
    items = [{"seller": s.lower(), "time_zone": tz, "left_out": why, **({"due_at": due[s]} if due and s in due else {})}
             for s, tz, why in scope]
    run = RunFolder.for_week(settings.runs.folder, str(week)).ensure()
    write_atomic(run.root / SCOPE_FILE, json.dumps(items, indent=1, ensure_ascii=False) + "\n")
    return len(items)


def record_delivery_mode(settings: Settings, week: IsoWeek | str, via: str, dry_run: bool) -> None:
    """Remember how this run delivers, so outcomes can tell 'held on purpose' from 'not delivered'."""
    run = RunFolder.for_week(settings.runs.folder, str(week)).ensure()
    write_atomic(run.root / DELIVERY_FILE, json.dumps({"via": via, "dry_run": bool(dry_run)}) + "\n")


def seller_outcomes(settings: Settings, week: IsoWeek | str) -> list[SellerOutcome]:
    """Each seller in scope with exactly one state and its reason, as the run folder says now."""
    run = RunFolder.for_week(settings.runs.folder, str(week))
    scope = _read(run, SCOPE_FILE, None)
    if scope is None:
        raise InputError(f"{run.root / SCOPE_FILE} is missing: run the cards step for {week} first (digest run).")
    skipped = _render_skips(run)
    rendered = run.rendered()
    gate = _read(run, "audit_gate.json", {})
    mode = _read(run, DELIVERY_FILE, {})
    rows = _ledger_rows(settings, run, str(week))
    cohorts = _read(run, COHORTS_FILE, None)
    started = None if cohorts is None else {c["key"] for c in cohorts if c.get("started_at")}
    out = []
    for item in scope:
        o = _outcome(item, skipped, rendered, gate, mode, rows, started)
        out.append(SellerOutcome(o.seller, o.state, o.reason, item.get("due_at"), o.sent_at))
    return out


def write_outcomes(settings: Settings, week: IsoWeek | str) -> dict[str, int]:
    """Rewrite runs/<week>/outcomes.jsonl from the run folder; returns the count per state (every state present).

    A run folder without scope.json (emails rendered by hand with `digest render`, not by a run) has
    no sellers to account for: nothing is written and the counts are empty.
    """
    run = RunFolder.for_week(settings.runs.folder, str(week))
    if not (run.root / SCOPE_FILE).is_file():
        return {}
    outcomes = seller_outcomes(settings, week)
    write_atomic(run.outcomes, "".join(o.to_json() + "\n" for o in outcomes))
    return count_states(outcomes)


def count_states(outcomes: Iterable[SellerOutcome]) -> dict[str, int]:
    """Sellers per state, every state present (zero when none)."""
    counts = dict.fromkeys(STATES, 0)
    for o in outcomes:
        counts[o.state] += 1
    return counts


def summarize(outcomes: Sequence[SellerOutcome]) -> dict:
    """For report.json: sellers in scope, the count per state, and per state the reasons with how many."""
    reasons: dict[str, dict[str, int]] = {}
    for o in outcomes:
        if o.state != "sent":
            bucket = reasons.setdefault(o.state, {})
            bucket[o.reason] = bucket.get(o.reason, 0) + 1
    return {"in_scope": len(outcomes), "states": count_states(outcomes),
            "reasons": {state: dict(sorted(r.items(), key=lambda x: (-x[1], x[0]))) for state, r in sorted(reasons.items())}}


def _outcome(item: Mapping, skipped: Mapping[str, str], rendered: Mapping, gate: Mapping, mode: Mapping,
             rows: Mapping, started: set[str] | None) -> SellerOutcome:
    who = item["seller"]
    if item.get("left_out"):
        return SellerOutcome(who, "skipped", item["left_out"])  # at once, whatever their due time
    row = rows.get(who)
    if row is not None and row.state == "sent":  # what happened: no later verdict or re-render un-sends an email
        return SellerOutcome(who, "sent", "sent" + (f" via {row.via}" if row.via else ""), sent_at=_iso(row.sent_at))
    if started is not None and item.get("due_at") not in started:
        return SellerOutcome(who, "not_yet_due", f"due at {item.get('due_at')}: their week or their Monday morning has not come yet")
    if who in skipped:
        return SellerOutcome(who, "skipped", f"no email: {skipped[who]}")
    if who not in rendered:
        return SellerOutcome(who, "failed", "not rendered: the render step did not finish for this seller (re-run the run)")
    if not gate:
        return SellerOutcome(who, "failed", "rendered, not checked: the privacy gate did not run (re-run the run)")
    if who in gate.get("blocked", {}):
        return SellerOutcome(who, "blocked", "privacy gate: " + ", ".join(gate["blocked"][who]) + " (digest audit says why)")
    if who not in gate.get("passed", []):
        return SellerOutcome(who, "failed", "rendered after the privacy gate ran: run the gate again (re-run the run)")
    if mode.get("via") == "none":
        return SellerOutcome(who, "skipped", "held: the run rendered and audited only (delivery none)")
    if row is None:
        return SellerOutcome(who, "failed", "not delivered: the deliver step did not run for this seller (re-run delivery)")
    if row.state in ("failed", "skipped"):
        return SellerOutcome(who, row.state, row.reason or f"{row.state} (no reason recorded)")
    if mode.get("dry_run"):
        return SellerOutcome(who, "skipped", "dry run: planned, nothing sent")
    return SellerOutcome(who, "failed", f"not delivered yet ({row.state}): re-run delivery, the ledger sends it once")


def _render_skips(run: RunFolder) -> dict[str, str]:
    out: dict[str, str] = {}
    for path in sorted(run.emails.glob("*/skipped.json")) if run.emails.is_dir() else []:
        for item in json.loads(path.read_text(encoding="utf-8")):
            out[item["recipient"].lower()] = item["reason"]
    return out


def _ledger_rows(settings: Settings, run: RunFolder, week: str) -> dict:
    if not (settings.delivery.ledger_url or run.ledger.is_file()):
        return {}
    from digest.delivery.ledger import Ledger, ledger_url

    ledger = Ledger(ledger_url(settings.delivery.ledger_url, run.root), time.time)
    try:
        return {row.recipient: row for row in ledger.rows(week)}
    finally:
        ledger.close()


def _read(run: RunFolder, name: str, default):
    path = run.root / name
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else default


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat(timespec="seconds")
