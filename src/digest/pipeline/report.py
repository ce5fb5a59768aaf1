"""runs/<week>/report.json: every step's counts and timings, failures, and why sellers got no email."""

from __future__ import annotations

import json
from typing import Sequence

from digest.config import Settings
from digest.pipeline.outcomes import COHORTS_FILE, SCOPE_FILE, STATES, seller_outcomes, summarize, write_outcomes
from digest.pipeline.steps import StepResult, run_folder
from digest.runfolder import write_atomic
from digest.weeks import IsoWeek

# The steps of a weekly run in the order they run (digest run and the seller_digest DAG): the keys of
# report.json "steps" (written sorted by name), and the order the admin run page shows them in.
STEP_ORDER = ("snapshot", "coverage", "cohorts", "cards", "batches", "render", "audit_gate", "plan_delivery", "deliver", "report")


def write_report(settings: Settings, week: IsoWeek, steps: Sequence[StepResult | dict] = (), failure: dict | None = None,
                 *, final: bool = False, add: bool = False) -> StepResult:
    """Merge step results (and a failure, if any) into runs/<week>/report.json.

    `final` (the report step) also rewrites outcomes.jsonl and adds every seller's state, counted, with the reasons.
    """
    run = run_folder(settings, week).ensure()
    report = json.loads(run.report.read_text(encoding="utf-8")) if run.report.is_file() else {"week": str(week), "steps": {}}
    for step in steps:
        data = step.to_xcom() if isinstance(step, StepResult) else dict(step)
        before = report["steps"].get(data["step"]) if add else None
        report["steps"][data["step"]] = added_step(before, data) if before else data
    if failure:
        report.setdefault("failures", []).append(failure)
    if final and (run.root / SCOPE_FILE).is_file():
        write_outcomes(settings, week)
        outcomes = seller_outcomes(settings, week)
        report["sellers"] = summarize(outcomes)  # the counts add up to the sellers in scope
        report["reasons"] = outcome_reasons(settings, week)
        report["cohorts"] = cohort_summaries(run.root, outcomes, report.get("cohort_plans", {}))
    write_atomic(run.report, json.dumps(report, indent=2, sort_keys=True) + "\n")
    return StepResult("report", str(week), {"steps": len(report["steps"]), "failures": len(report.get("failures", []))}, (str(run.report),))


def start_report(settings: Settings, week: IsoWeek) -> None:
    """A new run of the week (a DAG run): its steps, plans and failures replace the previous run's in report.json."""
    run = run_folder(settings, week).ensure()
    if run.report.is_file():
        report = json.loads(run.report.read_text(encoding="utf-8"))
        for key in ("steps", "failures", "delivery_plan", "cohort_plans"):
            report.pop(key, None)
        report["steps"] = {}
        write_atomic(run.report, json.dumps(report, indent=2, sort_keys=True) + "\n")


def added_step(before: dict, data: dict) -> dict:
    """A step run once per cohort: counts and seconds added (the gate's counts: the latest, it sees every email)."""
    counts = dict(data.get("counts", {})) if data["step"] == "audit_gate" else {
        k: int(before.get("counts", {}).get(k, 0)) + int(v) for k, v in data.get("counts", {}).items()}
    if data["step"] != "audit_gate":
        counts = {**before.get("counts", {}), **counts}
    seconds = round(float(before.get("seconds") or 0) + float(data.get("seconds") or 0), 2)
    return {**data, "counts": counts, "seconds": seconds, "paths": list(dict.fromkeys([*before.get("paths", []), *data.get("paths", [])]))}


def outcome_reasons(settings: Settings, week: IsoWeek) -> dict[str, int]:
    """Why sellers got no email, as "state: reason" -> how many (every seller in scope but the sent)."""
    out: dict[str, int] = {}
    for o in seller_outcomes(settings, week):
        if o.state != "sent":
            key = f"{o.state}: {o.reason}"
            out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items()))


def cohort_summaries(run_root, outcomes, plans: dict) -> list[dict]:
    """Per cohort (due order): when due, its zones, whether it started, its sellers per state, and whether its plan ran late."""
    path = run_root / COHORTS_FILE
    if not path.is_file():
        return []
    by_seller = {o.seller: o.state for o in outcomes}
    out = []
    for c in json.loads(path.read_text(encoding="utf-8")):
        states = dict.fromkeys(STATES, 0)
        for s in c["sellers"]:
            states[by_seller.get(s, "failed")] += 1
        plan = plans.get(c["key"]) or {}
        out.append({"due_at": c["key"], "zones": c["zones"], "sellers": len(c["sellers"]), "started_at": c.get("started_at"),
                    "states": states, "late": int(plan.get("late") or 0), "expected_finish": plan.get("finish")})
    return out


def purge_all(settings: Settings, today) -> dict[str, int]:
    """Retention as of `today`: raw uploads and run files past privacy.*_days, and delivered emails (keep_sent_days)."""
    from digest.audit.retention import purge
    from digest.delivery.cleanup import delete_sent_runs

    counts = purge(settings, today).to_dict()
    counts["sent_email_files"] = delete_sent_runs(settings, today)
    return counts
