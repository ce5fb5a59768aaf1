"""Weekly Seller insights, one DAG run per reported week, one mapped group per cohort (sellers due at the same moment).

week → snapshot → CRM data page (coverage) and cohorts → for each cohort [wait until due (deferred: no worker slot while waiting) →
snapshot (fresh data for its week) → cards → render → privacy gate → deliver (in the senders' pool)] → report.
Each task is a few lines calling `digest.pipeline`; XCom carries paths, counts and cohort keys only.
Every step is idempotent (it rewrites the same files; delivery reads the ledger first), so any task
can be cleared and re-run. Transient errors are retried with backoff; bad input fails at once;
every failure is written into runs/<week>/report.json.
"""

from __future__ import annotations

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync
from airflow.sdk import Asset, CronTriggerTimetable, Param, dag, get_current_context, task, task_group

from digest import pipeline
from digest.airflow import tasks as t
from digest.airflow.notify import alert_failure
from digest.weeks import IsoWeek

settings = t.load()
SNAPSHOT = Asset(t.SNAPSHOT_ASSET_URI)


@dag(
    dag_id=t.WEEKLY_DAG_ID,
    schedule=CronTriggerTimetable(settings.airflow.schedule, timezone=settings.airflow.time_zone) if settings.airflow.schedule else None,
    start_date=pendulum.datetime(2024, 1, 1, tz=settings.airflow.time_zone),
    catchup=False,
    max_active_runs=1,
    default_args={**t.default_args(settings), "on_failure_callback": [t.record_failure, alert_failure]},
    params={
        "week": Param(None, type=["null", "string"], pattern=r"^\d{4}-W\d{2}$",
                      description="ISO week to report, like 2026-W47 (empty: the last week that has ended somewhere)."),
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
        return str(t.begin_run(get_current_context(), t.load()))

    @task(inlets=[SNAPSHOT])
    def snapshot_inputs(week: str) -> dict:
        return t.run_step(pipeline.snapshot_inputs, t.load(), IsoWeek.parse(week))

    @task
    def coverage(week: str) -> dict:  # the CRM data page for the week (aggregates only), beside the cohorts
        s, w = t.load(), IsoWeek.parse(week)
        return t.cohort_step(s, w, pipeline.coverage, s, w)

    @task
    def plan_cohorts(week: str) -> list[str]:
        s, w = t.load(), IsoWeek.parse(week)
        t.cohort_step(s, w, pipeline.plan_cohorts, s, w, get_current_context()["params"].get("sellers") or None)
        return [c.key for c in pipeline.read_cohorts(s, w)]  # due instants: what the cohort group is mapped over

    @task_group(group_id="cohort")
    def cohort(week: str, key: str):
        wait = DateTimeSensorAsync(task_id="wait_until_due", target_time=key)

        @task
        def refresh_snapshot(week: str, key: str) -> dict:  # the cohort's week has ended: read the data as it is now
            return t.run_step(pipeline.snapshot_inputs, t.load(), IsoWeek.parse(week))

        @task
        def cards(week: str, key: str) -> dict:
            return t.cohort_cards(t.load(), IsoWeek.parse(week), key)

        @task
        def render(week: str, key: str) -> dict:
            s, w = t.load(), IsoWeek.parse(week)
            return t.cohort_step(s, w, pipeline.cohort_render, s, w, key)

        @task
        def audit_gate(week: str, key: str) -> dict:
            return t.cohort_gate(t.load(), IsoWeek.parse(week), key)

        @task(pool=settings.airflow.pool)
        def deliver(week: str, key: str) -> dict:
            s, params = t.load(), get_current_context()["params"]
            via = params.get("delivery") or s.delivery.via
            w = IsoWeek.parse(week)
            return t.cohort_step(s, w, pipeline.cohort_deliver, s, w, key, via, bool(params.get("dry_run")))

        steps = [refresh_snapshot(week, key), cards(week, key), render(week, key), audit_gate(week, key), deliver(week, key)]
        wait >> steps[0]
        for before, after in zip(steps, steps[1:]):
            before >> after
        return steps[-1]

    @task(trigger_rule="all_done")  # report what happened, also when a cohort failed
    def report(week: str, snapshot: dict | None, delivered: list) -> dict:  # each cohort's steps already added their counts
        return t.final_report(t.load(), IsoWeek.parse(week), [snapshot])

    week = resolve_week()
    snap = snapshot_inputs(week)
    keys = plan_cohorts(week)
    snap >> [keys, coverage(week)]
    delivered = cohort.partial(week=week).expand(key=keys)
    reported = report(week, snap, delivered)
    # the run's state: failed when any cohort failed (the report runs anyway, this leaf does not)
    [reported, delivered] >> EmptyOperator(task_id="finished")


seller_digest()
