"""Weekly Seller insights: week → snapshot → cards → batches → render (mapped) → privacy gate → delivery plan → deliver (mapped, pooled) → report.

Each task is a few lines calling `digest.pipeline`; XCom carries paths and counts only. Every step
is idempotent (it rewrites the same files; delivery reads the ledger first), so any task can be
cleared and re-run. Transient errors (services, network, disk) are retried with backoff; bad input
fails at once; every failure is written into runs/<week>/report.json.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, CronTriggerTimetable, Param, dag, get_current_context, task

from digest import pipeline
from digest.airflow import tasks as t
from digest.weeks import IsoWeek

settings = t.load()
SNAPSHOT = Asset(t.SNAPSHOT_ASSET_URI)


@dag(
    dag_id=t.WEEKLY_DAG_ID,
    schedule=CronTriggerTimetable(settings.airflow.schedule, timezone=settings.airflow.time_zone),
    start_date=pendulum.datetime(2024, 1, 1, tz=settings.airflow.time_zone),
    catchup=False,
    max_active_runs=1,
    default_args={**t.default_args(settings), "on_failure_callback": t.record_failure},
    params={
        "week": Param(None, type=["null", "string"], pattern=r"^\d{4}-W\d{2}$",
                      description="ISO week to report, like 2026-W47 (empty: last week of the run date)."),
        "sellers": Param([], type="array", items={"type": "string"},
                         description="Only these sellers (email addresses); empty: every seller."),
        "delivery": Param(None, type=["null", "string"], enum=[None, *t.DELIVERY_CHOICES],
                          description="outbox, graph or none (render and audit only); empty: the delivery.via setting."),
        "dry_run": Param(False, type="boolean", description="Plan and record deliveries without sending anything."),
    },
    tags=["seller-digest"],
    doc_md=__doc__,
)
def seller_digest():
    @task
    def resolve_week() -> str:
        return str(t.week_of(get_current_context(), t.load()))

    @task(inlets=[SNAPSHOT])
    def snapshot_inputs(week: str) -> dict:
        return t.run_step(pipeline.snapshot_inputs, t.load(), IsoWeek.parse(week))

    @task
    def compute_cards(week: str) -> dict:
        sellers = get_current_context()["params"].get("sellers") or None
        return t.run_step(pipeline.compute_cards, t.load(), IsoWeek.parse(week), sellers)

    @task
    def plan_batches(week: str) -> list[str]:
        s, w = t.load(), IsoWeek.parse(week)
        t.run_step(pipeline.plan_batches, s, w, s.airflow.batch_size)
        return pipeline.batch_ids(s, w)  # ids like "0003": what render and deliver are mapped over

    @task(map_index_template="{{ batch }}")
    def render(week: str, batch: str) -> dict:
        return t.run_step(pipeline.render_batch, t.load(), IsoWeek.parse(week), batch)

    @task
    def audit_gate(week: str) -> dict:
        return t.run_step(pipeline.audit_gate, t.load(), IsoWeek.parse(week))

    @task
    def plan_delivery(week: str) -> dict:
        s, params = t.load(), get_current_context()["params"]
        via = params.get("delivery") or s.delivery.via
        return t.run_step(pipeline.plan_delivery, s, IsoWeek.parse(week), via, bool(params.get("dry_run")))

    @task(pool=settings.airflow.pool, map_index_template="{{ batch }}")
    def deliver(week: str, batch: str) -> dict:
        s, params = t.load(), get_current_context()["params"]
        via = params.get("delivery") or s.delivery.via
        return t.deliver(s, IsoWeek.parse(week), batch, via, bool(params.get("dry_run")))

    @task
    def report(week: str, snapshot: dict, cards: dict, batches: list, rendered: list, gate: dict, planned: dict,
               delivered: list) -> dict:
        plan = {"step": "batches", "week": week, "counts": {"batches": len(batches)}}
        steps = [snapshot, cards, plan, t.merge_results("render", rendered), gate, planned, t.merge_results("deliver", delivered)]
        return t.write_run_report(t.load(), IsoWeek.parse(week), steps, final=True)

    week = resolve_week()
    snap = snapshot_inputs(week)
    cards = compute_cards(week)
    plan = plan_batches(week)
    rendered = render.partial(week=week).expand(batch=plan)
    gate = audit_gate(week)
    planned = plan_delivery(week)
    delivered = deliver.partial(week=week).expand(batch=plan)
    snap >> cards >> plan
    rendered >> gate >> planned >> delivered
    report(week, snap, cards, plan, rendered, gate, planned, delivered)


seller_digest()
