"""Distributed mode without Docker: scheduler + Celery worker + api-server + dag-processor on 127.0.0.1.

Against the local PostgreSQL (Airflow's metadata database and the delivery ledger, in a database of
its own, dropped afterwards) and Redis (a dedicated db number, flushed afterwards), the weekly DAG
runs for ~200 sample sellers; the test checks the run, the emails in the outbox, the ledger and
that the admin pages refuse anonymous requests. Every process started is stopped (process groups).
"""

from __future__ import annotations

import email
import socket
from pathlib import Path

import pytest

from digest.airflow import launcher
from digest.airflow.client import AirflowClient
from digest.airflow.tasks import WEEKLY_DAG_ID
from digest.config import Settings
from digest.weeks import IsoWeek

pytestmark = [pytest.mark.distributed, pytest.mark.airflow, pytest.mark.timeout(900)]

PG_HOST, PG_PORT, REDIS_PORT, REDIS_DB = "127.0.0.1", 5432, 6379, 11
DATABASE = "digest_airflow_test"
SELLERS = 200
WEEK = IsoWeek(2026, 45)


def require_service(port: int, name: str, restart: str) -> None:
    """Fail (not skip: CI runs these services) with the command that brings the service back."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=3).close()
    except OSError as exc:
        pytest.fail(f"{name} is not reachable on 127.0.0.1:{port} ({exc}). Start it: `{restart}`, then re-run the test.")


@pytest.fixture(scope="module")
def services():
    require_service(PG_PORT, "PostgreSQL", "sudo service postgresql start")
    require_service(REDIS_PORT, "Redis", "sudo service redis-server start")
    import psycopg
    import redis

    admin = psycopg.connect(host=PG_HOST, port=PG_PORT, user="postgres", dbname="postgres", autocommit=True)
    admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{DATABASE}"')
    broker = redis.Redis(host="127.0.0.1", port=REDIS_PORT, db=REDIS_DB)
    broker.flushdb()
    try:
        yield f"postgres@{PG_HOST}:{PG_PORT}/{DATABASE}"
    finally:
        broker.flushdb()
        admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        admin.close()


def distributed_settings(base: Path, pg: str) -> Settings:
    s = Settings()
    s = s.replace("data", folder=str(base / "data"), store=str(base / "store"))
    s = s.replace("runs", folder=str(base / "runs"))
    s = s.replace("delivery", outbox_folder=str(base / "outbox"), **ledger_setting(pg))
    # no schedule: only the run the test triggers (a scheduled run of last week would queue before it)
    return s.replace("airflow", home=str(base / "airflow"), upload_inbox=str(base / "inbox"), batch_size=50, pool_slots=2, schedule="")


def ledger_setting(pg: str) -> dict[str, str]:
    """The delivery ledger in PostgreSQL (delivery.ledger_url; a secret, so it reaches Airflow via the environment)."""
    return {"ledger_url": f"postgresql+psycopg://{pg}"}


def celery_overrides(pg: str) -> dict[str, dict[str, str]]:
    return {
        "core": {"executor": "CeleryExecutor"},
        "database": {"sql_alchemy_conn": f"postgresql+psycopg2://{pg}"},
        "celery": {"broker_url": f"redis://127.0.0.1:{REDIS_PORT}/{REDIS_DB}", "result_backend": f"db+postgresql://{pg}",
                   "worker_concurrency": "2"},
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_weekly_dag_on_celery_and_postgresql(services, tmp_path):
    from steps_ready import require_pipeline_steps

    require_pipeline_steps()
    from digest.sample import generate_sample

    settings = distributed_settings(tmp_path, services)
    generate_sample(settings.data.folder, SELLERS, 4, 7, WEEK)
    port = _free_port()
    names = ("api-server", "scheduler", "dag-processor", "triggerer", "celery worker")  # the triggerer runs the cohorts' waits
    try:
        home = launcher.up(settings, port=port, services=names, overrides=celery_overrides(services))
        assert {s.name for s in launcher.status(settings) if s.running} == {"api-server", "scheduler", "dag-processor", "triggerer"}
        client = AirflowClient(home, port)
        anonymous = __import__("requests").get(f"http://127.0.0.1:{port}/seller-digest/", timeout=10)
        assert anonymous.status_code == 401, "the admin pages must refuse anonymous requests"
        client.wait_for_dag(WEEKLY_DAG_ID)
        run_id = client.trigger(WEEKLY_DAG_ID, launcher.run_conf(WEEK, delivery="outbox"))
        outcome = client.wait_for_run(WEEKLY_DAG_ID, run_id, timeout=720)
        retried = client.retried(WEEKLY_DAG_ID, run_id)
    finally:
        stopped = launcher.down(settings, timeout=20)
    assert set(stopped) >= {"api-server", "scheduler", "dag-processor", "triggerer", "celery-worker"}
    assert outcome.state == "success", f"run ended {outcome.state}: {outcome.tasks}; logs in {tmp_path / 'airflow' / 'logs'}"

    summary = launcher.summarise(settings, WEEK, outcome.state, outcome.seconds, tmp_path / "airflow" / "logs")
    sellers = summary.steps["cards"]["sellers"]
    assert sellers >= SELLERS * 0.9  # a few sellers may be opted out or inactive in the sample
    emails = sorted(Path(settings.delivery.outbox_folder).rglob("*.eml"))
    # a deliver task retried after a transient error counts what its earlier try sent as already_sent
    deliver = summary.steps["deliver"]
    sent = deliver.get("sent", 0) + deliver.get("already_sent", 0)
    assert sent > 0 and len(emails) == sent, f"deliver counts {deliver}; tasks retried: {retried}"
    assert report_sellers(settings)["states"]["sent"] == sent
    for path in emails[:20]:
        msg = email.message_from_bytes(path.read_bytes())
        assert msg["To"] and msg["Cc"] is None and msg["Bcc"] is None
    assert ledger_rows(services) == sent


def report_sellers(settings: Settings) -> dict[str, int]:
    """Every seller's state counted by the report task (runs/<week>/report.json "sellers")."""
    import json

    from digest.pipeline.steps import run_folder

    return json.loads(run_folder(settings, WEEK).report.read_text(encoding="utf-8"))["sellers"]


def ledger_rows(pg: str) -> int:
    """Rows of the week's ledger in PostgreSQL that reached the state sent."""
    import time

    from digest.delivery.ledger import Ledger

    ledger = Ledger(f"postgresql+psycopg://{pg}", time.time)
    try:
        return ledger.counts(str(WEEK))["sent"]
    finally:
        ledger.close()
