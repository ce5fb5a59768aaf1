"""What DAG tasks share: settings, the week of a run, which errors are retried, the failure record.

The DAG files stay declarations; each task calls one ``digest.pipeline`` function through
:func:`run_step`, which returns only paths and counts (that is all XCom ever carries).
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from digest.config import Settings, load_settings
from digest.errors import DigestError, ServiceError
from digest.weeks import IsoWeek

WEEKLY_DAG_ID = "seller_digest"
UPLOAD_DAG_ID = "crm_upload"
RETENTION_DAG_ID = "seller_digest_retention"
SNAPSHOT_ASSET_URI = "seller-digest://snapshot/latest"
UPLOAD_ASSET_URI = "seller-digest://uploads/inbox"
DELIVERY_CHOICES = ("outbox", "graph", "none")


def load() -> Settings:
    """The settings in force for this process (airflow sets DIGEST_CONFIG to the launcher's snapshot)."""
    return load_settings()


def default_args(settings: Settings) -> dict[str, Any]:
    """Task defaults: retries with exponential backoff, and the failure recorded in the run report."""
    a = settings.airflow
    return {
        "owner": "seller-digest",
        "retries": a.retries,
        "retry_delay": timedelta(seconds=a.retry_delay_seconds),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(seconds=a.max_retry_delay_seconds),
    }


def is_transient(exc: BaseException) -> bool:
    """Errors worth a retry: a service or the network or the disk failed, not the input or the code."""
    import sqlalchemy.exc

    return isinstance(exc, (ServiceError, OSError, sqlalchemy.exc.OperationalError))


def run_step(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Call one pipeline step; transient errors are re-raised (Airflow retries), others fail at once."""
    from airflow.sdk.exceptions import AirflowFailException

    began = time.monotonic()
    try:
        result = fn(*args, **kwargs)
    except Exception as exc:
        if is_transient(exc):
            raise
        kind = "bad input or settings" if isinstance(exc, DigestError) else "internal error (a bug: report it)"
        raise AirflowFailException(f"{kind}, not retried: {exc}") from exc
    if hasattr(result, "timed"):
        return result.timed(time.monotonic() - began).to_xcom()
    if hasattr(result, "to_xcom"):
        return result.to_xcom()
    return result.to_dict() if hasattr(result, "to_dict") else dict(result)


def week_of(context: Mapping[str, Any], settings: Settings) -> IsoWeek:
    """The week of a run: the `week` param if set, else the last week that has ended somewhere on Earth at the run's moment.

    A run on Sunday afternoon UTC (when Pacific/Kiritimati's Monday has begun) and one on Monday
    morning both report the week that just ended; each cohort then waits for its own due time.
    """
    params = context.get("params") or {}
    if params.get("week"):
        return IsoWeek.parse(params["week"])
    # manual runs in Airflow 3 may have no logical date: their run_after is the moment instead
    moment = context.get("logical_date") or context["dag_run"].run_after
    return IsoWeek.reported_at(moment)


def begin_run(context: Mapping[str, Any], settings: Settings) -> IsoWeek:
    """The first task of a weekly DAG run: its week, and a fresh report.json for this run's steps."""
    from digest.pipeline import start_report

    week = week_of(context, settings)
    with report_lock(settings, week):
        start_report(settings, week)
    return week


def cohort_step(settings: Settings, week: IsoWeek, fn: Callable[..., Any], *args: Any) -> dict[str, Any]:
    """Run one cohort's step and add its counts to the week's report.json (cohorts finish at different times)."""
    result = run_step(fn, *args)
    with report_lock(settings, week):
        from digest.pipeline import write_report

        write_report(settings, week, [result], add=True)
    return result


def now_utc():
    """The moment a task runs (the edge of the system: the library never reads the clock)."""
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc)


def cohort_cards(settings: Settings, week: IsoWeek, key: str) -> dict[str, Any]:
    """Start a cohort (it is due: the sensor waited) and compute its cards."""
    from digest import pipeline

    return cohort_step(settings, week, pipeline.cohort_cards, settings, week, key, now_utc())


def cohort_gate(settings: Settings, week: IsoWeek, key: str) -> dict[str, Any]:
    """The privacy gate after a cohort's render (it sees every email rendered so far)."""
    from digest import pipeline

    return cohort_step(settings, week, pipeline.cohort_gate, settings, week, key, now_utc())


REPORT_LOCK = ".report.lock"  # also taken by the delivery plan when it records itself


def report_lock(settings: Settings, week: IsoWeek):
    """Serialise writers of report.json: mapped tasks can fail (and be recorded) at the same moment."""
    from digest.pipeline.steps import run_folder

    return run_folder(settings, week).locked(REPORT_LOCK)


def write_run_report(settings: Settings, week: IsoWeek, steps: Sequence[Mapping[str, Any]] = (),
                     failure: Mapping[str, Any] | None = None, *, final: bool = False) -> dict[str, Any]:
    """Merge step results or a failure into runs/<week>/report.json (under the report lock)."""
    from digest.pipeline import write_report

    with report_lock(settings, week):
        return write_report(settings, week, list(steps), dict(failure) if failure else None, final=final).to_xcom()


def final_report(settings: Settings, week: IsoWeek, steps: Sequence[Mapping[str, Any] | None]) -> dict[str, Any]:
    """The report task: every seller's state and the steps that ran (a step that failed has no result to add)."""
    return write_run_report(settings, week, [s for s in steps if s], final=True)


def record_failure(context: Mapping[str, Any]) -> None:
    """on_failure_callback: write which task failed, on which try, and why, into the run report."""
    settings = load()
    ti = context["ti"]
    try:
        week = week_of(context, settings)
    except DigestError:
        return  # no week to file it under (a bad week param); Airflow's own log has the error
    error = context.get("exception")
    failure = {
        "task": ti.task_id,
        "map_index": getattr(ti, "map_index", -1),
        "try": getattr(ti, "try_number", None),
        "run_id": getattr(ti, "run_id", None) or context["dag_run"].run_id,
        "error": (str(error) if error is not None else "unknown")[:2000],
        "transient": bool(error is not None and is_transient(error)),
    }
    write_run_report(settings, week, failure=failure)


def pending_uploads(inbox: str | Path) -> list[str]:
    """Uploads waiting in the inbox (each a file or a folder), oldest first; hidden names are ignored."""
    folder = Path(inbox)
    if not folder.is_dir():
        return []
    entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
    return [str(p) for p in sorted(entries, key=lambda p: (p.stat().st_mtime, p.name))]
