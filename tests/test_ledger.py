"""The delivery ledger: planning is idempotent, a claim is atomic, leases expire, states are recorded."""

from __future__ import annotations

import threading
import uuid

import pytest
import sqlalchemy as sa

from digest.delivery.ledger import Ledger, ledger_url
from digest.errors import ServiceError

PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


class Clock:
    def __init__(self, t: float = 1000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def _pg_or_skip() -> str:
    try:
        engine = sa.create_engine(PG_URL, connect_args={"connect_timeout": 2})
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means: no server to test against
        pytest.skip(f"local PostgreSQL at {PG_URL} is not reachable ({type(exc).__name__}); the SQLite variant ran")
    return PG_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return ledger_url("", tmp_path)
    return _pg_or_skip()


@pytest.fixture
def week() -> str:
    # A unique week label per test keeps PostgreSQL runs independent (the table is shared).
    return "T" + uuid.uuid4().hex[:9]


def test_default_url_is_sqlite_in_the_run_folder(tmp_path):
    assert ledger_url("", tmp_path) == f"sqlite:///{(tmp_path / 'deliveries.sqlite').resolve()}"
    assert ledger_url("postgresql://x/y", tmp_path) == "postgresql://x/y"


def test_plan_is_idempotent_and_keeps_the_first_sender(url, week):
    ledger = Ledger(url, Clock())
    assert ledger.plan(week, [("A@x.com", "s1@x.com", "emails/0000/a@x.com.eml"), ("b@x.com", "s2@x.com", "b.eml")], "graph") == 2
    assert ledger.plan(week, [("a@x.com", "s9@x.com", "a.eml"), ("c@x.com", "s1@x.com", "c.eml")], "graph") == 1
    rows = {r.recipient: r for r in ledger.rows(week)}
    assert set(rows) == {"a@x.com", "b@x.com", "c@x.com"}
    assert rows["a@x.com"].sender == "s1@x.com" and rows["a@x.com"].state == "planned"
    assert ledger.counts(week) == {"planned": 3, "drafted": 0, "sent": 0, "failed": 0, "skipped": 0}
    ledger.close()


def test_only_one_of_many_concurrent_workers_wins_a_claim(url, week):
    Ledger(url, Clock()).plan(week, [("a@x.com", "s@x.com", "a.eml")], "graph")
    winners, barrier = [], threading.Barrier(12)

    def worker(i: int) -> None:
        ledger = Ledger(url, Clock())  # its own engine: like another process
        barrier.wait()
        if ledger.claim(week, "a@x.com", f"w{i}", lease=60) is not None:
            winners.append(i)
        ledger.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    row = Ledger(url, Clock()).get(week, "a@x.com")
    assert row.claimed_by == f"w{winners[0]}" and row.attempts == 1


def test_a_lease_expires_so_a_crashed_workers_row_is_taken_over(url, week):
    clock = Clock()
    ledger = Ledger(url, clock)
    ledger.plan(week, [("a@x.com", "s@x.com", "a.eml")], "graph")
    assert ledger.claim(week, "a@x.com", "dead", lease=30) is not None
    assert ledger.claim(week, "a@x.com", "other", lease=30) is None
    clock.t += 31
    row = ledger.claim(week, "a@x.com", "other", lease=30)
    assert row is not None and row.attempts == 2
    with pytest.raises(ServiceError, match="taken over by another worker"):
        ledger.update(week, "a@x.com", "dead", "sent")


def test_state_changes_are_recorded_and_sent_rows_are_never_claimed_again(url, week):
    clock = Clock()
    ledger = Ledger(url, clock)
    ledger.plan(week, [("a@x.com", "s@x.com", "a.eml"), ("b@x.com", "s@x.com", "b.eml")], "graph")
    ledger.claim(week, "a@x.com", "w", lease=30)
    ledger.update(week, "a@x.com", "w", "drafted", lease=30, draft_id="AAMk1")
    assert ledger.get(week, "a@x.com").claimed_by == "w"
    clock.t += 5
    ledger.update(week, "a@x.com", "w", "sent", message_id="AAMk2")
    ledger.claim(week, "b@x.com", "w", lease=30)
    ledger.update(week, "b@x.com", "w", "failed", reason="403 ErrorAccessDenied", error_code="ErrorAccessDenied")
    a, b = ledger.get(week, "a@x.com"), ledger.get(week, "b@x.com")
    assert (a.state, a.draft_id, a.message_id, a.sent_at, a.claimed_by) == ("sent", "AAMk1", "AAMk2", 1005.0, "")
    assert (b.state, b.error_code, b.reason) == ("failed", "ErrorAccessDenied", "403 ErrorAccessDenied")
    assert ledger.claim(week, "a@x.com", "w2", lease=30) is None
    assert ledger.claim(week, "b@x.com", "w2", lease=30) is not None  # a failed row is retried by the next run


def test_a_batch_reads_only_its_own_rows_and_cleanup_only_the_sent_files(url, week):
    """A deliver batch asks the ledger for its recipients' rows (in chunks of IN_CHUNK), not the run's, and
    the cleanup for the files of rows sent long enough ago: every row read cost O(run) per batch before."""
    from digest.delivery.ledger import IN_CHUNK

    clock = Clock()
    ledger = Ledger(url, clock)
    everyone = [f"p{i:04d}@x.com" for i in range(IN_CHUNK * 2 + 7)]
    ledger.plan(week, [(r, "s@x.com", f"emails/0000/{r}.eml") for r in everyone], "outbox")
    batch = everyone[3:IN_CHUNK + 40] + ["NOBODY@x.com"]
    got = ledger.rows(week, [r.upper() for r in batch])
    assert [r.recipient for r in got] == sorted(everyone[3:IN_CHUNK + 40])
    assert ledger.rows(week, []) == [] and len(ledger.rows(week)) == len(everyone)
    for i, r in enumerate(everyone[:3]):
        ledger.claim(week, r, "w", lease=30)
        ledger.update(week, r, "w", "sent")
        clock.t += 10
    assert ledger.sent_sources(week, 1000.0) == [f"emails/0000/{everyone[0]}.eml"]
    assert ledger.sent_sources(week, 1020.0) == [f"emails/0000/{r}.eml" for r in everyone[:3]]
    assert ledger.sent_sources(week, 999.0) == []
    ledger.close()


def test_an_unreachable_database_is_a_clear_service_error():
    with pytest.raises(ServiceError, match="delivery.ledger_url") as err:
        Ledger("postgresql+psycopg2://postgres:hunter2@127.0.0.1:1/none", Clock())
    assert "hunter2" not in str(err.value)


@pytest.mark.parametrize("url", ["postgresql:postgres:hunter2@127.0.0.1/none", "postgresql://postgres:hunter2@127.0.0.1:port/none"])
def test_a_ledger_url_that_is_not_a_url_is_a_setting_error_without_the_password(url):
    from digest.errors import ConfigError

    with pytest.raises(ConfigError, match="delivery.ledger_url") as err:
        Ledger(url, Clock())
    assert "hunter2" not in str(err.value) and "postgres:***@127.0.0.1" in str(err.value)
