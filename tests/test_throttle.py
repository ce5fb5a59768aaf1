"""Pacing inside Exchange's windows, backoff with jitter, Retry-After parsing."""

from __future__ import annotations

import random
import threading
import time

import pytest

from digest.delivery.throttle import Limits, MailboxPace
from digest.graph.retry import Backoff, parse_retry_after


def test_pace_allows_a_window_then_waits_for_the_oldest_send_to_leave_it():
    pace = MailboxPace(Limits(per_window=5, window_seconds=0.3))
    t0 = time.monotonic()
    for _ in range(5):
        pace.acquire()
        pace.done()
    assert time.monotonic() - t0 < 0.1
    pace.acquire()  # the sixth waits until the first send is one window old
    assert time.monotonic() - t0 >= 0.3
    pace.done()


def test_pending_sends_count_and_uncounted_ones_free_their_slot():
    pace = MailboxPace(Limits(per_window=2, window_seconds=60))
    pace.acquire()
    pace.acquire()
    got = threading.Event()
    waiter = threading.Thread(target=lambda: (pace.acquire(), got.set()))
    waiter.start()
    assert not got.wait(0.2)  # two sends in flight fill the window
    pace.done(counted=False)  # a 429: the service did not count it
    assert got.wait(2)
    waiter.join()


def test_daily_recipients_cap():
    pace = MailboxPace(Limits(per_window=100, window_seconds=0.01, recipients_per_day=3, day_seconds=0.4))
    t0 = time.monotonic()
    for _ in range(3):
        pace.acquire()
        pace.done()
    pace.acquire()
    assert time.monotonic() - t0 >= 0.4


def test_backoff_prefers_retry_after_and_otherwise_grows_with_jitter():
    b = Backoff(first=1.0, cap=10.0, max_attempts=6)
    assert b.wait(1, "2") == 2.0 and b.wait(1, "0.25") == 0.25 and b.wait(1, "3600") == 10.0
    rng = random.Random(1)
    waits = [b.wait(n, None, rng) for n in range(1, 7) for _ in range(50)]
    assert all(0 <= w <= 10.0 for w in waits)
    assert max(b.wait(1, None, rng) for _ in range(50)) <= 1.0 < max(b.wait(4, None, rng) for _ in range(50))


def test_retry_after_formats():
    assert parse_retry_after("5") == 5.0 and parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(10.0)
