"""runs/<week>/report.json: every step's counts and timings, failures, and why sellers got no email."""

from __future__ import annotations

import json
import time
from typing import Sequence

from digest.config import Settings
from digest.pipeline.emails import skipped_of
from digest.pipeline.steps import StepResult, run_folder
from digest.runfolder import write_atomic
from digest.weeks import IsoWeek

# The steps of a weekly run in the order they run (digest run and the seller_digest DAG): the keys of
# report.json "steps" (written sorted by name), and the order the admin run page shows them in.
STEP_ORDER = ("snapshot", "cards", "batches", "render", "audit_gate", "deliver", "report")


def write_report(settings: Settings, week: IsoWeek, steps: Sequence[StepResult | dict] = (), failure: dict | None = None,
                 *, final: bool = False) -> StepResult:
    """Merge step results (and a failure, if any) into runs/<week>/report.json.

    `final` (the report step) also counts why sellers were skipped and why deliveries failed.
    """
    run = run_folder(settings, week).ensure()
    report = json.loads(run.report.read_text(encoding="utf-8")) if run.report.is_file() else {"week": str(week), "steps": {}}
    for step in steps:
        data = step.to_xcom() if isinstance(step, StepResult) else dict(step)
        report["steps"][data["step"]] = data
    if failure:
        report.setdefault("failures", []).append(failure)
    if final:
        report["reasons"] = outcome_reasons(settings, week)
    write_atomic(run.report, json.dumps(report, indent=2, sort_keys=True) + "\n")
    return StepResult("report", str(week), {"steps": len(report["steps"]), "failures": len(report.get("failures", []))}, (str(run.report),))


def outcome_reasons(settings: Settings, week: IsoWeek) -> dict[str, int]:
    """Why sellers got no email: render skips and delivery failures or skips, counted by reason."""
    from digest.delivery.ledger import Ledger, ledger_url

    reasons: dict[str, int] = {}
    for item in skipped_of(settings, week):
        key = f"not rendered: {item['reason']}"
        reasons[key] = reasons.get(key, 0) + 1
    run = run_folder(settings, week)
    if settings.delivery.ledger_url or run.ledger.is_file():
        ledger = Ledger(ledger_url(settings.delivery.ledger_url, run.root), time.time)
        try:
            for row in ledger.rows(str(week)):
                if row.state in ("failed", "skipped"):
                    key = f"{row.state}: {row.reason or 'no reason recorded'}"
                    reasons[key] = reasons.get(key, 0) + 1
        finally:
            ledger.close()
    return dict(sorted(reasons.items()))
