"""Delivery through the real Graph client against the fake Graph and authority (HTTPS on 127.0.0.1)."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from delivery_env import (CLIENT, FROM, SECRET, SENDERS, TENANT, WEEK, authority, eml_for, graph, recipients,  # noqa: F401
                          settings_for, tls_keys, write_run)

from digest.cli import main
from digest.delivery.graph import graph_mailer
from digest.delivery.ledger import Ledger, ledger_url
from digest.delivery.mailer import Attempt
from digest.delivery.send import send_run

START = dt.datetime(2026, 11, 22, 20, 0, tzinfo=dt.timezone.utc)
REPO = Path(__file__).resolve().parents[1]


def _send(settings, **kw):
    return send_run(settings, WEEK, via="graph", start=START, clock=time.time, **kw)


def _ledger(settings) -> Ledger:
    return Ledger(ledger_url("", Path(settings.runs.folder) / WEEK), time.time)


def test_each_digest_is_a_draft_made_from_its_eml_then_sent(tmp_path, tls_keys, authority, graph):
    settings = settings_for(tmp_path, tls_keys, authority, graph)
    people = recipients(5)
    run = write_run(settings, people)
    summary = _send(settings)
    assert summary.counts == {"sent": 5}
    assert graph.sent_count() == {p: 1 for p in people}
    assert not graph.invalid_bodies
    files = {f.stem: f.read_bytes() for f in run.emails.glob("*/*.eml")}
    for item in graph.sent:
        msg = item["message"]
        assert msg["to"] == [item["to"]] and not msg["cc"] and not msg["bcc"]  # the seller is the only recipient
        assert item["mime"] == files[item["to"]]  # what left is the audited file, byte for byte
        assert re.fullmatch(r"<[0-9a-f]{32}@seller-digest>", msg["internetMessageId"]) and msg["from"] == FROM
    rows = _ledger(settings).rows(WEEK)
    assert {r.state for r in rows} == {"sent"} and all(r.draft_id and r.message_id == "" for r in rows)
    assert authority.token_requests == 1  # one token for the whole run
    # A second run finds everything sent in the ledger and makes no request to Graph.
    before = len(graph.requests)
    assert _send(settings).counts == {} and len(graph.requests) == before


def test_300_recipients_with_random_faults_are_each_sent_exactly_once_or_failed(tmp_path, tls_keys, authority, graph):
    graph.per_window, graph.window = 30, 0.5
    graph.random_rate, graph.random_kinds = 0.12, ("429", "503", "504_after", "reset_before", "reset_after", "slow")
    settings = settings_for(tmp_path, tls_keys, authority, graph, senders=SENDERS, max_attempts=10)
    people = recipients(300)
    write_run(settings, people)
    summary = _send(settings)
    rows = {r.recipient: r for r in _ledger(settings).rows(WEEK)}
    held = graph.sent_count()
    assert set(rows) == set(people)
    assert all(n == 1 for n in held.values()), {p: n for p, n in held.items() if n != 1}  # never twice
    for who, row in rows.items():
        assert row.state in ("sent", "failed"), row
        if row.state == "sent":
            assert held.get(who) == 1, who  # never lost
        else:
            assert row.reason and held.get(who, 0) == 0, row
    assert sum(summary.counts.values()) == 300
    kinds = {status for _, _, status in graph.requests}
    assert {429, 503, 504} <= kinds  # the faults really happened
    assert max(b.max_in_flight_seen for b in graph.mailboxes.values()) <= 4


def test_pacing_stays_inside_the_mailbox_limits(tmp_path, tls_keys, authority, graph):
    graph.per_window, graph.window = 10, 0.5
    settings = settings_for(tmp_path, tls_keys, authority, graph)
    write_run(settings, recipients(35))
    t0 = time.monotonic()
    assert _send(settings).counts == {"sent": 35}
    assert time.monotonic() - t0 >= 1.5  # 35 messages at 10 per 0.5 s need three more windows
    assert not [r for r in graph.requests if r[2] == 429]  # the client paced itself: Graph never had to throttle
    assert graph.mailboxes[SENDERS[0]].max_in_flight_seen <= 4


def test_retry_after_is_honoured_and_ambiguous_answers_are_looked_up(tmp_path, tls_keys, authority, graph):
    settings = settings_for(tmp_path, tls_keys, authority, graph)
    waits: list[float] = []
    mailer = graph_mailer(settings, [SENDERS[0]], sleep=waits.append)
    graph.inject("429", op="create", retry_after="1.5")
    graph.inject("504_after", op="send")  # the message left, but the answer says Gateway Timeout
    drafted: list[str] = []
    outcome = mailer.deliver(*eml_for("ana@contoso.com"), Attempt(SENDERS[0]), drafted.append)
    assert outcome.state == "sent" and outcome.reason == "already sent (found by its Message-ID)"
    assert waits[0] == 1.5 and len(drafted) == 1
    assert graph.sent_count() == {"ana@contoso.com": 1}
    ops = [op for op, _, _ in graph.requests]
    assert ops == ["create", "create", "send", "list"]


def test_a_crash_after_the_draft_sends_that_draft_and_creates_no_other(tmp_path, tls_keys, authority, graph):
    settings = settings_for(tmp_path, tls_keys, authority, graph)
    mailer = graph_mailer(settings, [SENDERS[0]], sleep=lambda s: None)
    email, raw = eml_for("ben@contoso.com")

    class Crash(Exception):
        pass

    def crash(draft_id: str) -> None:
        raise Crash(draft_id)

    with pytest.raises(Crash):
        mailer.deliver(email, raw, Attempt(SENDERS[0]), crash)  # the draft exists, the ledger never heard of it
    outcome = mailer.deliver(email, raw, Attempt(SENDERS[0], retry=True), lambda d: None)
    assert outcome.state == "sent"
    assert [op for op, _, _ in graph.requests] == ["create", "list", "send"]
    again = mailer.deliver(email, raw, Attempt(SENDERS[0], draft_id=outcome.draft_id, retry=True), lambda d: None)
    assert again.state == "sent" and graph.sent_count() == {"ben@contoso.com": 1}


def test_unknown_sender_and_forbidden_mailbox_fail_with_clear_reasons(tmp_path, tls_keys, authority, graph):
    graph.forbidden.add(SENDERS[1])
    settings = settings_for(tmp_path, tls_keys, authority, graph, senders=("nobody@contoso.com", SENDERS[1], SENDERS[2]))
    write_run(settings, recipients(9))
    summary = _send(settings)
    assert summary.counts == {"failed": 6, "sent": 3}
    reasons = " | ".join(summary.reasons)
    assert "sender mailbox nobody@contoso.com does not exist: fix delivery.sender_mailboxes (404 ErrorInvalidUser" in reasons
    assert f"the app may not send as {SENDERS[1]}: grant the Mail.Send application permission" in reasons
    assert "403 ErrorAccessDenied" in reasons
    rows = _ledger(settings).rows(WEEK)
    assert {r.error_code for r in rows if r.state == "failed"} == {"sender:ErrorInvalidUser", "sender:ErrorAccessDenied"}  # re-planned next run
    assert len(graph.sent) == 3


def test_a_message_over_4_mb_as_base64_is_refused_before_sending(tmp_path, tls_keys, authority, graph):
    settings = settings_for(tmp_path, tls_keys, authority, graph)
    mailer = graph_mailer(settings, [SENDERS[0]], sleep=lambda s: None)
    big, raw = eml_for("cara@contoso.com", html_extra="<p>" + "x" * (3 * 1024 * 1024 + 200_000) + "</p>")
    assert len(raw) < 4 * 1024 * 1024 < len(raw) * 4 / 3  # under 4 MB as a file, over it as base64
    outcome = mailer.deliver(big, raw, Attempt(SENDERS[0]), lambda d: None)
    assert outcome.state == "failed" and outcome.error_code == "RequestTooLarge" and "4 MB" in outcome.reason
    assert "as base64" in outcome.reason
    assert graph.requests == []
    fits, raw = eml_for("dan@contoso.com", html_extra="<p>" + "x" * (2 * 1024 * 1024 + 700_000) + "</p>")
    assert 3.5 * 1024 * 1024 < len(raw) * 4 / 3 < 4 * 1024 * 1024
    assert mailer.deliver(fits, raw, Attempt(SENDERS[0]), lambda d: None).state == "sent"
    assert graph.sent[0]["mime"] == raw


def test_blocked_recipients_are_skipped_with_the_gates_reason(tmp_path, tls_keys, authority, graph):
    settings = settings_for(tmp_path, tls_keys, authority, graph)
    people = recipients(3)
    write_run(settings, people, blocked={people[1]: ["identifiers"]})
    summary = _send(settings)
    assert summary.counts == {"sent": 2, "skipped": 1}
    assert summary.reasons == {"skipped: privacy gate: identifiers": 1}
    assert people[1] not in graph.sent_count()


def test_cli_send_never_logs_the_secret_or_a_token(tmp_path, tls_keys, authority, graph, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    monkeypatch.chdir(tmp_path)
    settings = settings_for(tmp_path, tls_keys, authority, graph)
    run = write_run(settings, recipients(4))
    env = _env(tmp_path, tls_keys, authority, graph)
    result = CliRunner().invoke(main, ["send", "--run", str(run.root), "--via", "graph"], env=env)
    assert result.exit_code == 0, result.output
    assert "sent" in result.output and "4" in result.output
    tokens = list(authority.issued)
    assert tokens and graph.auth_headers
    for text in (caplog.text, result.output):
        assert SECRET not in text
        assert not any(t in text for t in tokens)
    # a wrong secret ends the run before any row is claimed, naming tenant, client and AAD code (everything is
    # sent already, so a real send would ask for no token: a dry run checks the credentials)
    result = CliRunner().invoke(main, ["send", "--run", str(run.root), "--via", "graph", "--dry-run"],
                                env={**env, "DIGEST_GRAPH__CLIENT_SECRET": "wrong-secret-123"})
    assert result.exit_code == 3
    assert TENANT in result.output and CLIENT in result.output and "AADSTS7000215" in result.output
    assert "wrong-secret-123" not in result.output + caplog.text


def test_outbox_delivery_writes_each_email_once(tmp_path):
    settings = settings_for(tmp_path)
    write_run(settings, recipients(3))
    summary = send_run(settings, WEEK, via="outbox", start=START, clock=time.time)
    assert summary.counts == {"sent": 3}
    files = sorted((tmp_path / "outbox" / WEEK).glob("*.eml"))
    assert [f.stem for f in files] == recipients(3)
    rendered = {f.name: f.read_bytes() for f in (tmp_path / "runs" / WEEK / "emails").glob("*/*.eml")}
    assert {f.name: f.read_bytes() for f in files} == rendered  # the audited files, unchanged
    stamps = [f.stat().st_mtime_ns for f in files]
    assert send_run(settings, WEEK, via="outbox", start=START, clock=time.time).counts == {}
    assert [f.stat().st_mtime_ns for f in files] == stamps


def test_dry_run_sends_nothing(tmp_path, tls_keys, authority, graph):
    settings = settings_for(tmp_path, tls_keys, authority, graph)
    people = recipients(3)
    write_run(settings, people, blocked={people[0]: ["opt_out"]})
    summary = _send(settings, dry_run=True)
    assert summary.counts == {"would send": 2, "would skip": 1, "already sent": 0}
    assert graph.requests == [] and authority.token_requests == 1  # the credentials are checked, nothing is sent
    assert {r.state for r in _ledger(settings).rows(WEEK)} == {"planned"}


def _env(tmp_path, keys, authority, graph, **extra) -> dict[str, str]:
    env = {"DIGEST_CONFIG": None, "DIGEST_GRAPH__TENANT_ID": TENANT, "DIGEST_GRAPH__CLIENT_ID": CLIENT,
           "DIGEST_GRAPH__CLIENT_SECRET": SECRET, "DIGEST_GRAPH__AUTHORITY_URL": authority.url,
           "DIGEST_GRAPH__GRAPH_URL": graph.url, "DIGEST_GRAPH__CA_BUNDLE": str(keys.cert_path),
           "DIGEST_DELIVERY__SENDER_MAILBOXES": SENDERS[0], "DIGEST_DELIVERY__MESSAGES_PER_MINUTE": str(graph.per_window),
           "DIGEST_DELIVERY__RATE_WINDOW_SECONDS": str(graph.window), "DIGEST_DELIVERY__BACKOFF_SECONDS": "0.05"}
    env.update(extra)
    return env


def test_killed_sender_restarts_and_sends_the_rest_without_duplicates(tmp_path, tls_keys, authority, graph):
    graph.latency = 0.04  # slow answers: the run lasts long enough to be killed in the middle
    settings = settings_for(tmp_path, tls_keys, authority, graph)
    people = recipients(60)
    run = write_run(settings, people)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update({k: v for k, v in _env(tmp_path, tls_keys, authority, graph, DIGEST_DELIVERY__CLAIM_LEASE_SECONDS="1").items() if v})
    env["PYTHONPATH"] = str(REPO / "src")  # this checkout's code, whatever the venv has installed
    cmd = [sys.executable, "-m", "digest", "send", "--run", str(run.root), "--via", "graph"]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while len(graph.sent) < 15 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    first = len(graph.sent)
    assert 15 <= first < 60, "the kill did not land in the middle of the run"
    time.sleep(1.2)  # the killed worker's claims expire (delivery.claim_lease_seconds = 1)
    graph.latency = 0.0
    again = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert graph.sent_count() == {p: 1 for p in people}
    assert {r.state for r in _ledger(settings).rows(WEEK)} == {"sent"}


def test_the_fake_validates_bodies_against_the_schema_and_answers_like_graph(tls_keys, authority, graph):
    import requests

    token = authority.issue()
    s = requests.Session()
    s.verify = str(tls_keys.cert_path)
    s.trust_env = False
    headers = {"Authorization": f"Bearer {token}"}
    box = f"{graph.url}/users/{SENDERS[0]}"
    bad = s.post(f"{box}/messages", json={"subject": 1, "toRecipient": []}, headers=headers)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "RequestBodyRead" and "innerError" in bad.json()["error"]
    mail = {"message": {"subject": "s", "body": {"contentType": "Text", "content": "x"},
                        "toRecipients": [{"emailAddress": {"address": "ana@contoso.com"}}]}, "saveToSentItems": False}
    assert s.post(f"{box}/sendMail", json=mail, headers=headers).status_code == 202
    assert graph.sent_count() == {"ana@contoso.com": 1}
    assert s.post(f"{box}/sendMail", json=mail, headers={"Authorization": "Bearer forged"}).status_code == 401
    unknown = s.get(f"{graph.url}/users/x@contoso.com/messages", params={"$filter": "isDraft eq true"}, headers=headers)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "ErrorInvalidUser"
    assert s.get(f"{box}/messages", params={"$filter": "isDraft eq true"}, headers=headers).status_code == 400
