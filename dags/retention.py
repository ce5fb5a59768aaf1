"""Daily retention: delete raw uploads and rendered run files past the privacy.*_days settings.

Audit records stay. The day is the run's own date in the DAG's time zone, so a re-run of the same
day deletes the same things (and nothing more).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pendulum
from airflow.sdk import CronTriggerTimetable, dag, get_current_context, task

from digest.airflow import tasks as t

settings = t.load()


@dag(
    dag_id=t.RETENTION_DAG_ID,
    schedule=CronTriggerTimetable("30 3 * * *", timezone=settings.airflow.time_zone),
    start_date=pendulum.datetime(2024, 1, 1, tz=settings.airflow.time_zone),
    catchup=False,
    max_active_runs=1,
    default_args=t.default_args(settings),
    tags=["seller-digest"],
    doc_md=__doc__,
)
def seller_digest_retention():
    @task
    def purge() -> dict:
        from digest.pipeline.report import purge_all as purge_expired

        ctx, s = get_current_context(), t.load()
        moment = ctx.get("logical_date") or ctx["dag_run"].run_after
        day = moment.astimezone(ZoneInfo(s.airflow.time_zone)).date()
        counts = t.run_step(purge_expired, s, day)
        return {"step": "purge", "day": day.isoformat(), "counts": counts}

    purge()


seller_digest_retention()
