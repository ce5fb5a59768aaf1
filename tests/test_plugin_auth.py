"""The admin pages inside Airflow's API server: refused without a login, useful with one, never a card."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from airflow_fixtures import airflow_env, airflow_home  # noqa: F401 - fixtures

pytestmark = pytest.mark.airflow

WEEK = "2026-W47"
SECRET_ACCOUNT = "Zanzibar Turbines Secret Account"  # only in the card: must never reach a page


@pytest.fixture
def client(airflow_env):  # noqa: F811
    from airflow.api_fastapi.app import create_app, purge_cached_app
    from fastapi.testclient import TestClient

    purge_cached_app()
    with TestClient(create_app(), base_url="http://127.0.0.1") as c:
        yield c
    purge_cached_app()


@pytest.fixture
def token(client, airflow_env) -> str:  # noqa: F811
    from digest.airflow.home import AirflowHome

    password = AirflowHome(airflow_env.root).admin_password()
    answer = client.post("/auth/token", json={"username": "admin", "password": password})
    assert answer.status_code == 201, answer.text
    return answer.json()["access_token"]


@pytest.fixture
def run_files(airflow_env):  # noqa: F811
    s = airflow_env.settings
    run = Path(s.runs.folder) / WEEK
    run.mkdir(parents=True, exist_ok=True)
    report = {"week": WEEK, "steps": {"cards": {"step": "cards", "counts": {"sellers": 12}, "seconds": 3.21},
                                      "deliver": {"step": "deliver", "counts": {"sent": 10, "skipped_opted_out": 1, "failed": 1}},
                                      "render": {"step": "render", "counts": {"rendered": 10, "bytes": 5123456}}},
              "failures": [{"task": "deliver", "map_index": 2, "try": 4, "transient": True,
                            "error": "Graph answered 503 for ana@contoso.com after 4 tries"}]}
    (run / "report.json").write_text(json.dumps(report), encoding="utf-8")
    (run / "cards.jsonl").write_text(json.dumps({"seller": "ana@contoso.com", "time_with_customers": {
        "accounts": [{"account_id": "A1", "account_name": SECRET_ACCOUNT, "hours": 4.5}]}}) + "\n", encoding="utf-8")
    reports = Path(s.airflow.upload_inbox) / ".reports"
    reports.mkdir(parents=True, exist_ok=True)
    upload = {"upload": "crm-2026-11-20", "received": "2026-11-20T10:00:00+00:00", "accepted": False, "snapshot": None,
              "total_problems": 1, "message": "crm/accounts.csv was rejected",
              "problems": [{"file": "crm/accounts.csv", "row": 7, "column": "AccountsStartDate", "value": "31/02/2026",
                            "expected": "a date MM/DD/YYYY or YYYY-MM-DD"}]}
    (reports / "20261120T100000-crm-2026-11-20.json").write_text(json.dumps(upload), encoding="utf-8")
    return run


@pytest.mark.parametrize("path", ["/seller-digest/", f"/seller-digest/runs/{WEEK}", "/seller-digest/uploads/x"])
def test_anonymous_requests_are_refused(client, path):
    answer = client.get(path)
    assert answer.status_code == 401
    assert SECRET_ACCOUNT not in answer.text


def test_a_forged_token_is_refused(client):
    answer = client.get("/seller-digest/", headers={"Authorization": "Bearer not-a-real-jwt"})
    assert answer.status_code in (401, 403)


def test_logged_in_admin_sees_runs_and_uploads(client, token, run_files):
    auth = {"Authorization": f"Bearer {token}"}
    index = client.get("/seller-digest/", headers=auth)
    assert index.status_code == 200
    assert WEEK in index.text and "rejected" in index.text
    run = client.get(f"/seller-digest/runs/{WEEK}", headers=auth)
    assert run.status_code == 200
    for shown in ("skipped opted out", "Graph answered 503 for ana@contoso.com after 4 tries", "12", "5.1 MB", "3.2 s"):
        assert shown in run.text
    assert run.text.index("<h2>cards") < run.text.index("<h2>render") < run.text.index("<h2>deliver")  # run order
    upload = client.get("/seller-digest/uploads/20261120T100000-crm-2026-11-20", headers=auth)
    assert upload.status_code == 200 and "AccountsStartDate" in upload.text and "31/02/2026" in upload.text
    for page in (index, run, upload):
        assert SECRET_ACCOUNT not in page.text, "an admin page shows a seller's card content"


def test_the_ui_login_cookie_also_works(client, token, run_files):
    client.cookies.set("_token", token)
    try:
        assert client.get("/seller-digest/").status_code == 200
    finally:
        client.cookies.clear()


def test_unknown_pages_are_not_found(client, token, run_files):
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/seller-digest/runs/not-a-week", headers=auth).status_code == 404
    assert client.get("/seller-digest/uploads/..%2F..%2Fairflow.cfg", headers=auth).status_code == 404


def test_the_plugin_is_registered_with_a_menu_entry(client, token):
    answer = client.get("/api/v2/plugins", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    plugin = next(p for p in answer.json()["plugins"] if p["name"] == "seller_digest")
    assert plugin["fastapi_apps"][0]["url_prefix"] == "/seller-digest"
    assert plugin["external_views"][0]["href"] == "/seller-digest/"


def test_embedded_airflow_up_status_down(tmp_path):
    """`digest airflow up`: the real api-server refuses anonymous admin requests, listens on 127.0.0.1 only; `down` stops all."""
    import psutil
    import requests
    from airflow_fixtures import _free_port, make_settings

    from digest.airflow import launcher
    from digest.airflow.client import AirflowClient

    settings = make_settings(tmp_path)
    port = _free_port()
    try:
        home = launcher.up(settings, port=port)
        running = {s.name: s.pid for s in launcher.status(settings) if s.running}
        assert set(running) == {"api-server", "scheduler", "dag-processor", "triggerer"}
        assert requests.get(f"http://127.0.0.1:{port}/seller-digest/", timeout=10).status_code == 401
        client = AirflowClient(home, port)
        assert client.session.get(f"http://127.0.0.1:{port}/seller-digest/", timeout=10).status_code == 200
        pids = {p.pid for pid in running.values() for p in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]}
        listening = [c.laddr.ip for c in psutil.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN and c.pid in pids]
        assert listening and set(listening) == {"127.0.0.1"}, f"Airflow listens on {listening}"
    finally:
        stopped = launcher.down(settings)
    assert set(stopped) == {"api-server", "scheduler", "dag-processor", "triggerer"}
    assert not any(s.running for s in launcher.status(settings))
    assert not [p for p in psutil.process_iter(["environ"]) if (p.info["environ"] or {}).get("AIRFLOW_HOME") == str(home.root)]


def test_the_unsubscribe_page_needs_no_login_but_a_good_token(client, airflow_env):  # noqa: F811
    from digest.sources.optouts import link_optouts, make_token

    assert client.get("/seller-digest/unsubscribe?t=forged").status_code == 400  # not 401: no login asked
    token = make_token(airflow_env.settings, "ana@contoso.com")
    page = client.get(f"/seller-digest/unsubscribe?t={token}")
    assert page.status_code == 200 and "Unsubscribe" in page.text
    assert "ana@contoso.com" not in link_optouts(airflow_env.settings)
    assert client.get("/seller-digest/").status_code == 401  # the admin pages still ask for a login
