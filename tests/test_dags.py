"""The DAG files: they import without errors, quickly, without heavy work, and declare what the issue asks."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
from airflow_fixtures import airflow_env, airflow_home  # noqa: F401 - fixtures

pytestmark = pytest.mark.airflow

REPO = Path(__file__).resolve().parents[1]
DAG_FILES = sorted((REPO / "dags").glob("*.py"))
HEAVY = ("duckdb", "pyarrow", "matplotlib", "premailer", "lxml", "pandas", "msal")

# Imports Airflow's SDK first (the dag-processor has it loaded already), then times one DAG file.
_TIME_ONE = """
import json, sys, time, runpy
import airflow.sdk, airflow.sdk.definitions.dag  # noqa
t = time.perf_counter()
runpy.run_path(sys.argv[1])
took = time.perf_counter() - t
print(json.dumps({"seconds": took, "heavy": [m for m in %r if m in sys.modules]}))
"""


@pytest.fixture(scope="module")
def dagbag(airflow_home):  # noqa: F811
    import os

    from airflow.dag_processing.dagbag import DagBag

    saved = dict(os.environ)
    os.environ.update(airflow_home.env)
    try:
        return DagBag(dag_folder=str(REPO / "dags"))
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_every_dag_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert {"seller_digest", "crm_upload", "seller_digest_retention"} <= set(dagbag.dag_ids)


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_imports_fast_and_light(path, airflow_env):  # noqa: F811
    out = subprocess.run([sys.executable, "-c", _TIME_ONE % (HEAVY,), str(path)], capture_output=True, text=True,
                         env={**__import__("os").environ, **airflow_env.env}, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["seconds"] < 1.0, f"{path.name} took {result['seconds']:.2f} s to import"
    assert result["heavy"] == [], f"{path.name} imports {result['heavy']} at parse time: import them inside tasks"


def test_weekly_dag_shape(dagbag):
    dag = dagbag.get_dag("seller_digest")
    assert dag.catchup is False and dag.max_active_runs == 1
    assert dag.timetable.expression == "0 12 * * 0"
    assert str(dag.timetable.timezone) == "UTC"
    assert {"week", "sellers", "delivery", "dry_run"} <= set(dag.params.keys())
    group = ["wait_until_due", "refresh_snapshot", "cards", "render", "audit_gate", "deliver"]
    order = ["resolve_week", "snapshot_inputs", "plan_cohorts", *(f"cohort.{name}" for name in group), "report", "finished"]
    assert set(order) | {"coverage"} == set(dag.task_ids)
    assert "coverage" in dag.get_task("snapshot_inputs").get_flat_relative_ids(upstream=False)
    for before, after in zip(order, order[1:]):
        assert after in dag.get_task(before).get_flat_relative_ids(upstream=False), f"{before} must run before {after}"
    wait, deliver = dag.get_task("cohort.wait_until_due"), dag.get_task("cohort.deliver")
    from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync
    from airflow.sdk.definitions.taskgroup import MappedTaskGroup

    assert isinstance(wait.task_group, MappedTaskGroup) and deliver.task_group is wait.task_group, "mapped over cohorts"
    assert isinstance(wait, DateTimeSensorAsync), "each cohort defers until it is due (no worker slot while waiting)"
    assert deliver.pool == "seller_digest_senders" and dag.get_task("cohort.render").pool != deliver.pool
    assert dag.get_task("report").trigger_rule == "all_done"


def test_weekly_dag_retries_and_failure_callback(dagbag):
    from digest.airflow.tasks import record_failure

    dag = dagbag.get_dag("seller_digest")
    task = dag.get_task("cohort.cards")
    assert task.retries == 1 and task.retry_exponential_backoff  # the test settings (airflow_fixtures): production is 3
    assert task.retry_delay == dt.timedelta(seconds=1) and task.max_retry_delay == dt.timedelta(seconds=2)
    callbacks = task.on_failure_callback if isinstance(task.on_failure_callback, list) else [task.on_failure_callback]
    assert record_failure in callbacks


def test_weekly_dag_follows_the_settings(airflow_env, monkeypatch, tmp_path):  # noqa: F811
    """A changed schedule, time zone and batch setting show up in the parsed DAG."""
    from airflow.dag_processing.dagbag import DagBag

    cfg = Path(airflow_env.env["DIGEST_CONFIG"]).read_text(encoding="utf-8")
    cfg = cfg.replace('schedule = "0 12 * * 0"', 'schedule = "15 7 * * 2"').replace('time_zone = "UTC"', 'time_zone = "Europe/Paris"')
    (tmp_path / "digest.toml").write_text(cfg, encoding="utf-8")
    monkeypatch.setenv("DIGEST_CONFIG", str(tmp_path / "digest.toml"))
    bag = DagBag(dag_folder=str(REPO / "dags" / "seller_digest.py"))
    dag = bag.get_dag("seller_digest")
    assert dag.timetable.expression == "15 7 * * 2"
    assert str(dag.timetable.timezone) == "Europe/Paris"


def test_an_empty_schedule_means_manual_runs_only(airflow_env, monkeypatch, tmp_path):  # noqa: F811
    from airflow.dag_processing.dagbag import DagBag

    cfg = Path(airflow_env.env["DIGEST_CONFIG"]).read_text(encoding="utf-8").replace('schedule = "0 12 * * 0"', 'schedule = ""')
    (tmp_path / "digest.toml").write_text(cfg, encoding="utf-8")
    monkeypatch.setenv("DIGEST_CONFIG", str(tmp_path / "digest.toml"))
    dag = DagBag(dag_folder=str(REPO / "dags" / "seller_digest.py")).get_dag("seller_digest")
    assert type(dag.timetable).__name__ == "NullTimetable"  # no automatic runs


def test_upload_and_retention_dags(dagbag):
    upload = dagbag.get_dag("crm_upload")
    assert upload.catchup is False and upload.max_active_runs == 1
    assert "seller-digest://snapshot/latest" in {getattr(o, "uri", None) for o in upload.get_task("publish").outlets}
    assert upload.get_task("coverage").upstream_task_ids == {"publish"}  # the CRM data page after each publish
    retention = dagbag.get_dag("seller_digest_retention")
    assert retention.task_ids == ["purge"] and retention.catchup is False


def test_week_of_a_run(airflow_env):  # noqa: F811
    """A run reports the last week that has ended somewhere on Earth at its moment; the week param wins."""
    import pendulum

    from digest.airflow.tasks import week_of

    s = airflow_env.settings
    monday = pendulum.datetime(2026, 11, 23, 6, tz="UTC")
    assert str(week_of({"params": {}, "logical_date": monday}, s)) == "2026-W47"
    assert str(week_of({"params": {"week": "2026-W10"}, "logical_date": monday}, s)) == "2026-W10"
    sunday_noon_utc = pendulum.datetime(2026, 11, 22, 12, 0, tz="UTC")  # the default schedule: Monday has begun at UTC+14
    assert str(week_of({"params": {}, "logical_date": sunday_noon_utc}, s)) == "2026-W47"
    assert str(week_of({"params": {}, "logical_date": pendulum.datetime(2026, 11, 22, 6, 0, tz="UTC")}, s)) == "2026-W46"
