"""The steps of a weekly run that the CLI and the DAG tasks call (steps, emails, pull), and the run in one process (weekly).

May import every stage below it (sources, metrics, email, audit, delivery, sample); never cli or airflow.
"""

from digest.pipeline.coverage import coverage, latest_coverage, write_coverage
from digest.pipeline.emails import audit_gate, deliver_batch, plan_delivery, record_audit, render_batch, skipped_of
from digest.pipeline.cohorts import (Cohort, cohort_batches, cohort_cards, cohorts_cards, cohort_deliver, cohort_gate, cohort_render,
                                     due_by, parse_instant, plan_cohorts, read_cohorts)
from digest.pipeline.outcomes import STATES, SellerOutcome, seller_outcomes, write_outcomes
from digest.pipeline.pull import pull_into, sellers_in_force
from digest.pipeline.steps import (DEFAULT_BATCH_SIZE, StepResult, batch_ids, batch_sellers, compute_cards, iter_batch_cards,
                                   load_snapshot, plan_batches, read_json, resolve_week, run_folder, settings_fingerprint,
                                   snapshot_inputs, step_dict)
from digest.pipeline.report import STEP_ORDER, outcome_reasons, start_report, write_report
from digest.runfolder import write_atomic

__all__ = ["coverage", "latest_coverage", "write_coverage", "DEFAULT_BATCH_SIZE", "STEP_ORDER", "StepResult", "audit_gate", "batch_ids", "batch_sellers", "compute_cards", "deliver_batch",
           "iter_batch_cards", "load_snapshot", "plan_batches", "pull_into", "read_json", "record_audit", "render_batch",
           "resolve_week", "run_folder", "sellers_in_force", "settings_fingerprint", "skipped_of", "snapshot_inputs",
           "step_dict", "write_atomic", "write_report", "outcome_reasons", "plan_delivery", "STATES", "SellerOutcome",
           "seller_outcomes", "write_outcomes", "Cohort", "cohort_batches", "cohort_cards", "cohorts_cards", "cohort_deliver", "cohort_gate",
           "cohort_render", "due_by", "parse_instant", "plan_cohorts", "read_cohorts", "STEP_ORDER", "start_report"]
