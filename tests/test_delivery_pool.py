"""Delivery uses the whole sender pool in a weekly run, shares each mailbox's pacing across concurrent tasks,
re-plans rows a fixed setting can repair, and keeps the ledger honest about how a row is delivered."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

import pytest
from delivery_env import SENDERS, WEEK, authority, graph, recipients, settings_for, tls_keys, write_run  # noqa: F401 - fixtures

from digest import pipeline
from digest.delivery.ledger import Ledger, ledger_url
from digest.delivery.plan import make_plan
from digest.delivery.send import send_run
from digest.delivery.throttle import Limits
from digest.errors import ServiceError
from digest.runfolder import RunFolder
from digest.weeks import IsoWeek

W = IsoWeek.parse(WEEK)
START = dt.datetime(2026, 11, 23, 6, 0, tzinfo=dt.timezone.utc)


def _batches(settings, people: list[str], size: int) -> list[str]:
    """batches.json as plan_batches writes it (write_run renders the emails, not the batches)."""
    run = RunFolder.for_week(settings.runs.folder, WEEK)
    doc = {f"{i // size:04d}": people[i:i + size] for i in range(0, len(people), size)}
    (run.root / "batches.json").write_text(json.dumps(doc), encoding="utf-8")
    return sorted(doc)


def _ledger(settings) -> Ledger:
    return Ledger(ledger_url(settings.delivery.ledger_url, RunFolder.for_week(settings.runs.folder, WEEK).root), time.time)


def _deliver_concurrently(settings, batches: list[str]) -> dict:
    """Run the batches' deliver steps at the same time, as Airflow's mapped deliver tasks do."""
    results, errors = {}, []

    def task(batch: str) -> None:
        try:
            results[batch] = pipeline.deliver_batch(settings, W, batch, "graph")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=task, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    return results


def test_a_200_seller_run_sends_from_all_three_mailboxes(tmp_path, tls_keys, authority, graph):
    settings = settings_for(tmp_path, tls_keys, authority, graph, senders=SENDERS)
    people = recipients(200)
    write_run(settings, people, batch_size=100)
    batches = _batches(settings, people, 100)
    planned = pipeline.plan_delivery(settings, W, "graph")
    assert planned.counts["to_send"] == 200 and planned.counts["mailboxes"] == 3
    results = _deliver_concurrently(settings, batches)  # each batch's task uses every mailbox of the pool
    assert sum(r.counts.get("sent", 0) for r in results.values()) == 200
    per_mailbox = {m: sum(1 for s in graph.sent if s["mailbox"] == m) for m in SENDERS}
    assert per_mailbox == {SENDERS[0]: 67, SENDERS[1]: 67, SENDERS[2]: 66}, per_mailbox
    assert graph.sent_count() == dict.fromkeys(people, 1)
    report = json.loads(RunFolder.for_week(settings.runs.folder, WEEK).report.read_text(encoding="utf-8"))
    assert report["delivery_plan"]["emails"] == 200 and report["delivery_plan"]["per_mailbox"] == per_mailbox


def test_tasks_sending_from_the_same_mailbox_share_its_pacing(tmp_path, tls_keys, authority, graph):
    graph.per_window = 4  # per second: two tasks pacing themselves apart would send 8 a second from it
    settings = settings_for(tmp_path, tls_keys, authority, graph, senders=SENDERS[:1])
    people = recipients(16)
    write_run(settings, people, batch_size=8)
    batches = _batches(settings, people, 8)
    pipeline.plan_delivery(settings, W, "graph")
    results = _deliver_concurrently(settings, batches)
    assert sum(r.counts.get("sent", 0) for r in results.values()) == 16
    throttled = [r for r in graph.requests if r[2] == 429]
    assert throttled == [], f"{len(throttled)} sends went over the mailbox's limit: the two tasks did not share its pacing"
    assert graph.mailboxes[SENDERS[0]].max_in_flight_seen <= graph.max_in_flight


def test_rows_failed_by_a_wrong_sender_are_sent_after_the_setting_is_fixed(tmp_path, tls_keys, authority, graph):
    typo = "digets2@contoso.com"  # not a mailbox
    settings = settings_for(tmp_path, tls_keys, authority, graph, senders=(SENDERS[0], typo))
    people = recipients(6)
    write_run(settings, people)
    first = send_run(settings, WEEK, via="graph", start=START, clock=time.time)
    assert first.counts == {"sent": 3, "failed": 3}
    assert any("does not exist: fix delivery.sender_mailboxes" in r for r in first.reasons)
    fixed = settings.replace("delivery", sender_mailboxes=(SENDERS[0],))
    second = send_run(fixed, WEEK, via="graph", start=START, clock=time.time)
    assert second.counts == {"sent": 3} and second.plan.already_sent == 3  # the repaired rows; the others are not touched
    assert graph.sent_count() == dict.fromkeys(people, 1)
    assert {r.sender for r in _ledger(settings).rows(WEEK)} == {SENDERS[0]}


def test_a_row_that_may_have_been_sent_keeps_its_mailbox(tmp_path, tls_keys, authority, graph):
    settings = settings_for(tmp_path, tls_keys, authority, graph, senders=SENDERS[:2])
    people = recipients(2)
    write_run(settings, people)
    ledger = _ledger(settings)
    send_run(settings, WEEK, via="graph", start=START, clock=time.time, plan_only=True)
    row = ledger.get(WEEK, people[1])
    assert row.sender == SENDERS[1]
    claimed = ledger.claim(WEEK, people[1], "w1", 60)
    ledger.update(WEEK, people[1], "w1", "drafted", draft_id="AAMk-draft")  # a draft exists: the key lookup decides
    assert claimed is not None
    moved = settings.replace("delivery", sender_mailboxes=(SENDERS[0],))
    send_run(moved, WEEK, via="graph", start=START, clock=time.time, plan_only=True)
    assert ledger.get(WEEK, people[1]).sender == SENDERS[1]
    assert ledger.get(WEEK, people[0]).sender == SENDERS[0]


def test_an_outbox_send_after_a_graph_dry_run_records_the_outbox(tmp_path, tls_keys, authority, graph):
    settings = settings_for(tmp_path, tls_keys, authority, graph)
    write_run(settings, recipients(3))
    send_run(settings, WEEK, via="graph", start=START, clock=time.time, dry_run=True)
    assert {r.via for r in _ledger(settings).rows(WEEK)} == {"graph"}
    summary = send_run(settings, WEEK, via="outbox", start=START, clock=time.time)
    assert summary.counts == {"sent": 3}
    rows = _ledger(settings).rows(WEEK)
    assert {r.via for r in rows} == {"outbox"} and {r.sender for r in rows} == {settings.render.sender_address}


def test_a_graph_dry_run_checks_the_credentials(tmp_path, tls_keys, authority, graph):
    settings = settings_for(tmp_path, tls_keys, authority, graph)
    write_run(settings, recipients(2))
    wrong = settings.replace("graph", client_secret="wrong-secret-123")
    with pytest.raises(ServiceError) as err:
        send_run(wrong, WEEK, via="graph", start=START, clock=time.time, dry_run=True)
    assert "wrong-secret-123" not in str(err.value)
    assert graph.requests == []


def test_a_send_with_nothing_left_asks_for_no_token(tmp_path, tls_keys, authority, graph):
    settings = settings_for(tmp_path, tls_keys, authority, graph)
    write_run(settings, recipients(2))
    assert send_run(settings, WEEK, via="graph", start=START, clock=time.time).counts == {"sent": 2}
    tokens = authority.token_requests
    again = send_run(settings, WEEK, via="graph", start=START, clock=time.time)
    assert again.plan.already_sent == 2 and authority.token_requests == tokens


LIMITS = Limits(per_window=30, window_seconds=60.0)


def _queue(n: int, deadline: dt.datetime) -> list[tuple[str, dt.datetime]]:
    return [(f"s{i}@contoso.com", deadline) for i in range(n)]


def test_plan_advice_tells_a_late_start_from_too_few_mailboxes():
    deadline = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.timezone.utc)
    late_start = make_plan(WEEK, {"a@x.com": _queue(10, deadline)}, LIMITS, 0.1, deadline + dt.timedelta(hours=1), "Mon 09:00")
    [advice] = late_start.warnings()
    assert "started after their deadline" in advice and "airflow.schedule" in advice and "mailbox" not in advice
    crowded = make_plan(WEEK, {"a@x.com": _queue(600, deadline)}, LIMITS, 0.1, deadline - dt.timedelta(minutes=10), "Mon 09:00")
    [advice] = crowded.warnings()
    assert "Add about" in advice and "delivery.sender_mailboxes" in advice and crowded.mailboxes_needed() >= 2
    outbox = make_plan(WEEK, {"o@x.com": _queue(600, deadline)}, LIMITS, 0.1, deadline + dt.timedelta(hours=1), "Mon 09:00",
                       via="outbox")
    assert outbox.warnings() == [] and outbox.finish == outbox.start


def test_reservations_of_a_killed_worker_stop_holding_the_mailbox_after_the_request_timeouts(tmp_path):
    from digest.delivery.pacing import LedgerPace

    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}", time.time)
    limits = Limits(per_window=30, window_seconds=60.0, max_in_flight=2)
    dead = LedgerPace(ledger.engine, SENDERS[0], limits, in_flight_seconds=0.3)
    for _ in range(2):  # two sends in flight, then the worker is killed: done() never comes
        dead._mine.rid = None
        assert dead._try_reserve(1) == 0.0
    waits: list[float] = []
    alive = LedgerPace(ledger.engine, SENDERS[0], limits, sleep=lambda s: (waits.append(s), time.sleep(s)), in_flight_seconds=0.3)
    began = time.monotonic()
    alive.acquire()  # held while the dead worker's requests could still be in flight, then free
    assert 0.2 <= time.monotonic() - began < 5 and waits
    alive.done()
    ledger.close()
