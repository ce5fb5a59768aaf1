"""Airflow's notifier for seller-digest: a task that failed for good alerts the admins (admin.alert_addresses).

A BaseNotifier, so it can also be attached to any DAG or task (``on_failure_callback=AlertNotifier()``);
the alert goes through digest.delivery.alerts (the outbox or Graph) and names the task, its cohort
or batch and the try, never an error text (it may name a seller or a value).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from airflow.sdk.bases.notifier import BaseNotifier

from digest.config import load_settings


class AlertNotifier(BaseNotifier):
    """Sends the 'task failed' alert for the task instance in the context."""

    def notify(self, context: Any) -> None:
        from digest.airflow.tasks import week_of
        from digest.delivery.alerts import send_alert
        from digest.errors import DigestError

        settings = load_settings()
        ti = context["ti"]
        try:
            week = str(week_of(context, settings))
        except DigestError:
            return  # no week to file it under (a bad week param): Airflow's own log has the error
        error = context.get("exception")
        lines = [f"task: {ti.task_id}", f"map index: {getattr(ti, 'map_index', -1)}", f"try: {getattr(ti, 'try_number', '?')}",
                 f"error kind: {type(error).__name__ if error is not None else 'unknown'}",
                 "the reason is in the run report (failures) and the task log"]
        try:
            send_alert(settings, week, "task_failed", f"task {ti.task_id} failed for good", lines, dt.datetime.now(dt.timezone.utc))
        except (DigestError, OSError) as exc:
            logging.getLogger(__name__).warning("the failure alert was not sent: %s", type(exc).__name__)


def alert_failure(context: Any) -> None:
    """on_failure_callback: alert the admins (admin.alert_addresses) that a task failed for good; ids and counts only."""
    AlertNotifier().notify(context)
