"""CRM or org upload: find uploads in the inbox → validate, accept or reject each → publish the snapshot asset → coverage.

Runs when the upload asset gets an event (an admin's "create event" in the UI, or the REST API
after copying files) and every few minutes as a watcher of the inbox folder (a run with an empty
inbox skips). A rejected upload keeps the previous snapshot in force; its validation report (file,
row, column, value, expected) is on the admin pages. The weekly DAG reads the published snapshot.
After a publish, the CRM data page's figures are computed for last week (runs/<week>/coverage/).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException

from digest.airflow import tasks as t

settings = t.load()
UPLOADS = Asset(t.UPLOAD_ASSET_URI)
SNAPSHOT = Asset(t.SNAPSHOT_ASSET_URI)


@dag(
    dag_id=t.UPLOAD_DAG_ID,
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable(settings.airflow.upload_poll, timezone=settings.airflow.time_zone),
                                 assets=UPLOADS),
    start_date=pendulum.datetime(2024, 1, 1, tz=settings.airflow.time_zone),
    catchup=False,
    max_active_runs=1,
    default_args=t.default_args(settings),
    tags=["seller-digest"],
    doc_md=__doc__,
)
def crm_upload():
    @task
    def find_uploads() -> list[str]:
        found = t.pending_uploads(t.load().airflow.upload_inbox)
        if not found:
            raise AirflowSkipException("the upload inbox is empty")
        return found

    @task(map_index_template="{{ upload }}")
    def validate_and_accept(upload: str) -> dict:
        from digest.airflow.uploads import process_upload

        ctx = get_current_context()
        received = ctx.get("logical_date") or ctx["dag_run"].run_after
        return t.run_step(process_upload, t.load(), upload, received)

    @task(outlets=[SNAPSHOT])
    def publish(results: list) -> dict:
        accepted = [r["upload"] for r in results if r["accepted"]]
        if not accepted:  # nothing new: no asset event, the weekly DAG keeps the previous snapshot
            raise AirflowSkipException(f"no upload accepted ({len(results)} rejected): see the validation reports")
        return {"accepted": len(accepted), "rejected": len(results) - len(accepted)}

    @task
    def coverage(published: dict) -> dict:
        from digest import pipeline

        settings = t.load()
        return t.run_step(pipeline.coverage, settings, t.week_of(get_current_context(), settings))

    coverage(publish(validate_and_accept.expand(upload=find_uploads())))


crm_upload()
