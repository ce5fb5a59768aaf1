"""Alerts to admins (admin.alert_addresses): counts and a link only, through the delivery path."""

from __future__ import annotations

import datetime as dt
import email
import types
from pathlib import Path

import pytest
from airflow_fixtures import airflow_env, airflow_home  # noqa: F401 - fixtures
from delivery_env import SENDERS, authority, graph, settings_for, tls_keys  # noqa: F401 - fixtures

from digest.config import Settings
from digest.delivery.alerts import send_alert
from digest.pipeline.weekly import run_week
from digest.sample import generate_sample
from digest.weeks import IsoWeek

W = IsoWeek.parse("2026-W47")
NOW = dt.datetime(2026, 11, 30, 9, 30, tzinfo=dt.timezone.utc)


def _alerts(outbox: Path) -> list:
    from email import policy

    return [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted((outbox / "alerts").rglob("*.eml"))]


def test_no_admin_no_alert(tmp_path):
    settings = Settings().replace("delivery", outbox_folder=str(tmp_path / "outbox"))
    assert send_alert(settings, str(W), "gate_blocked", "the privacy gate blocked 2 email(s)", ["x"], NOW) == 0
    assert not (tmp_path / "outbox").exists()


def test_a_late_cohort_alerts_the_admins_with_counts_and_a_link_only(tmp_path):
    generate_sample(tmp_path / "data", sellers=4, weeks=4, seed=5, end_week=W)
    settings = Settings().replace("data", folder=str(tmp_path / "data"), store=str(tmp_path / "store"))
    settings = settings.replace("runs", folder=str(tmp_path / "runs")).replace("delivery", outbox_folder=str(tmp_path / "outbox"))
    settings = settings.replace("admin", alert_addresses=("ops@contoso.com", "it@contoso.com"))
    run_week(settings, W, delivery="outbox")  # week 47 is long past: every cohort misses its Monday 09:00 deadline
    alerts = _alerts(tmp_path / "outbox")
    assert alerts and {a["To"] for a in alerts} == {"ops@contoso.com", "it@contoso.com"}
    sellers = {line.split(",")[2].strip('"') for line in (tmp_path / "data" / "crm" / "seller_assignments.csv").read_text().splitlines()[1:]}
    for alert in alerts:
        body = alert.get_body(("plain",)).get_content()
        assert "miss the deadline" in alert["Subject"] and f"/seller-digest/runs/{W}" in body
        assert not any(s in body or s in alert["Subject"] for s in sellers), "an alert never names a seller"
    assert len(alerts) == len({a["Message-ID"] for a in alerts})  # one per cohort and admin: re-runs rewrite the same


def test_graph_alerts_leave_from_the_pool_with_one_to(tmp_path, tls_keys, authority, graph):
    settings = settings_for(tmp_path, tls_keys, authority, graph, via="graph").replace("admin", alert_addresses=("ops@contoso.com",))
    assert send_alert(settings, str(W), "gate_blocked", "the privacy gate blocked 1 email(s)", ["emails blocked: 1"], NOW) == 1
    [sent] = graph.sent
    assert sent["to"] == "ops@contoso.com" and sent["mailbox"] == SENDERS[0]
    assert send_alert(settings, str(W), "gate_blocked", "the privacy gate blocked 1 email(s)", ["emails blocked: 1"], NOW) == 1
    assert len(graph.sent) == 1  # the same alert again: found by its Message-ID, not sent twice


@pytest.mark.airflow
def test_the_airflow_notifier_alerts_when_a_task_fails_for_good(airflow_env, tmp_path, monkeypatch):  # noqa: F811
    from digest.airflow.notify import AlertNotifier  # after airflow_env: Airflow is configured from the test home

    config = tmp_path / "digest.toml"
    config.write_text(f'[delivery]\noutbox_folder = "{tmp_path / "outbox"}"\n[admin]\nalert_addresses = ["ops@contoso.com"]\n')
    monkeypatch.setenv("DIGEST_CONFIG", str(config))
    ti = types.SimpleNamespace(task_id="cohort.render", map_index=2, try_number=4)
    AlertNotifier().notify({"ti": ti, "params": {"week": str(W)}, "exception": ValueError("row 3 of ana@contoso.com")})
    [alert] = _alerts(tmp_path / "outbox")
    body = alert.get_body(("plain",)).get_content()
    assert "cohort.render failed for good" in alert["Subject"] and "try: 4" in body and "ValueError" in body
    assert "ana@contoso.com" not in body  # the error text may name a seller: never in an alert
