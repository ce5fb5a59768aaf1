"""The weekly DAG, run for real with dag.test() on a small sample: files, emails, report, idempotency."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from airflow_fixtures import airflow_env, airflow_home  # noqa: F401 - fixtures

from digest.errors import InputError, ServiceError
from digest.weeks import IsoWeek

pytestmark = pytest.mark.airflow

REPO = Path(__file__).resolve().parents[1]
WEEK = IsoWeek(2026, 45)
SELLERS = 9  # in three time zones (New York, Chicago, Los Angeles): three cohorts, batches of 3


def weekly_dag(env):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / "seller_digest.py"))
    assert not bag.import_errors, bag.import_errors
    return bag.get_dag("seller_digest")


def run_dag(env, **conf):
    dag = weekly_dag(env)
    run = dag.test(run_conf={"week": str(WEEK), "sellers": [], "delivery": None, "dry_run": False, **conf})
    return str(run.state), {ti.task_id + ("" if ti.map_index < 0 else f"[{ti.map_index}]"): str(ti.state)
                            for ti in run.get_task_instances()}


def _deferred_until(env) -> list[str]:
    """The moments the cohorts' wait tasks deferred to (their DateTimeTrigger), from Airflow's database."""
    import datetime as dt
    import sqlite3

    db = sqlite3.connect(Path(env.settings.airflow.home) / "airflow.db")
    try:
        rows = db.execute("SELECT t.kwargs FROM task_instance ti JOIN trigger t ON t.id = ti.trigger_id "
                          "WHERE ti.task_id = 'cohort.wait_until_due' AND ti.dag_id = 'seller_digest'").fetchall()
    finally:
        db.close()
    moments = [json.loads(k)["moment"]["__data__"]["timestamp"] for (k,) in rows]
    return sorted(dt.datetime.fromtimestamp(m, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") for m in moments)


def report(env) -> dict:
    return json.loads((Path(env.settings.runs.folder) / str(WEEK) / "report.json").read_text(encoding="utf-8"))


@pytest.fixture
def fresh_run(airflow_env):  # noqa: F811
    """An empty run folder and outbox for each test (the data folder is kept between tests)."""
    for folder in (Path(airflow_env.settings.runs.folder), Path(airflow_env.settings.delivery.outbox_folder)):
        shutil.rmtree(folder, ignore_errors=True)
    return airflow_env


@pytest.fixture
def sample(fresh_run):
    from steps_ready import require_pipeline_steps

    require_pipeline_steps()
    from digest.sample import generate_sample

    data = Path(fresh_run.settings.data.folder)
    if not (data / "org").is_dir():
        generate_sample(data, SELLERS, 4, 3, WEEK)
    return fresh_run


def test_bad_input_fails_at_once_and_is_recorded(fresh_run, monkeypatch, tmp_path):
    """A missing data folder is not transient: no retry, and the failure lands in the run report."""
    cfg = Path(fresh_run.env["DIGEST_CONFIG"]).read_text(encoding="utf-8")
    missing = tmp_path / "no-such-data"
    patched = tmp_path / "digest.toml"
    patched.write_text(cfg.replace(f'folder = "{fresh_run.settings.data.folder}"', f'folder = "{missing}"', 1), encoding="utf-8")
    monkeypatch.setenv("DIGEST_CONFIG", str(patched))
    state, tasks = run_dag(fresh_run)
    assert state == "failed"
    assert tasks["resolve_week"] == "success" and tasks["snapshot_inputs"] == "failed"
    failures = report(fresh_run)["failures"]
    assert [(f["task"], f["try"], f["transient"]) for f in failures] == [("snapshot_inputs", 1, False)]
    assert "not retried" in failures[0]["error"]


def test_run_step_retries_only_transient_errors():
    from airflow.sdk.exceptions import AirflowFailException

    from digest.airflow.tasks import run_step

    def fails(exc):
        raise exc

    with pytest.raises(ServiceError):
        run_step(fails, ServiceError("Graph answered 503"))
    with pytest.raises(ConnectionError):
        run_step(fails, ConnectionError("reset by peer"))
    with pytest.raises(AirflowFailException, match="bad input or settings, not retried"):
        run_step(fails, InputError("accounts.csv row 3: bad date"))
    with pytest.raises(AirflowFailException, match="internal error"):
        run_step(fails, KeyError("bug"))


def test_weekly_dag_end_to_end(sample):
    state, tasks = run_dag(sample, delivery="outbox")
    assert state == "success", (tasks, report(sample).get("failures"))
    cohorts = json.loads((Path(sample.settings.runs.folder) / str(WEEK) / "cohorts.json").read_text(encoding="utf-8"))
    waits = [name for name in tasks if name.startswith("cohort.wait_until_due[")]
    assert len(waits) == len(cohorts) >= 3 and all(tasks[w] == "success" for w in waits)
    assert _deferred_until(sample) == sorted(c["key"] for c in cohorts)  # each cohort waited on its own trigger
    assert sum(1 for t in tasks if t.startswith("cohort.deliver[")) == len(cohorts)
    doc = report(sample)
    steps = doc["steps"]
    assert {"snapshot", "cohorts", "cards", "render", "audit_gate", "deliver"} <= set(steps)
    assert [c["due_at"] for c in doc["cohorts"]] == [c["key"] for c in cohorts]
    sellers = steps["cards"]["counts"]["sellers"]
    assert 0 < sellers <= SELLERS
    sent = steps["deliver"]["counts"].get("sent", 0)
    emails = sorted(Path(sample.settings.delivery.outbox_folder).rglob("*.eml"))
    assert sent > 0 and len(emails) == sent
    assert not doc.get("failures")

    # idempotent: the same run again rewrites the same files and sends nothing twice
    before = {p: p.read_bytes() for p in emails}
    state, _ = run_dag(sample, delivery="outbox")
    assert state == "success"
    again = report(sample)["steps"]["deliver"]["counts"]
    assert again.get("sent", 0) == 0
    assert {p: p.read_bytes() for p in Path(sample.settings.delivery.outbox_folder).rglob("*.eml")} == before


def test_sellers_param_and_no_delivery(sample):
    from digest.cards import read_cards

    cards_path = Path(sample.settings.runs.folder) / str(WEEK) / "cards.jsonl"
    run_dag(sample, delivery="none")
    with cards_path.open(encoding="utf-8") as f:
        everyone = [c.seller for c in read_cards(f)]
    shutil.rmtree(Path(sample.settings.runs.folder))
    state, _ = run_dag(sample, sellers=everyone[:2], delivery="none")
    assert state == "success"
    with cards_path.open(encoding="utf-8") as f:
        assert [c.seller for c in read_cards(f)] == sorted(everyone[:2])
    assert not list(Path(sample.settings.delivery.outbox_folder).rglob("*.eml"))


def test_embedded_launcher_runs_the_dag(sample):
    """run_weekly_embedded (what `make demo` calls): `airflow dags test` in a child process."""
    from digest.airflow.launcher import run_weekly_embedded

    summary = run_weekly_embedded(sample.settings, WEEK, delivery="outbox")
    assert summary.state == "success", Path(summary.log).read_text(errors="replace")[-3000:]
    assert summary.steps["deliver"].get("sent", 0) == len(list(Path(sample.settings.delivery.outbox_folder).rglob("*.eml"))) > 0
