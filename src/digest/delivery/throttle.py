"""Sending limits and retry waits: Exchange Online's per-mailbox pacing, backoff with jitter.

Exchange Online lets one mailbox send 30 messages per rolling minute and reach 10,000 recipients
per rolling day. :class:`MailboxPace` keeps a sender inside both windows (window lengths are
settings so tests and benchmarks can shrink them). A send counts from the moment its answer came
back, which is never earlier than when the service counted it: pacing from our side can only be
more careful than the service, never less.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

from digest.config import DeliverySettings


@dataclass(frozen=True)
class Limits:
    """The pacing limits of one sender mailbox."""

    per_window: int = 30
    window_seconds: float = 60.0
    recipients_per_day: int = 10000
    day_seconds: float = 86400.0
    max_in_flight: int = 4

    @classmethod
    def from_settings(cls, d: DeliverySettings) -> "Limits":
        return cls(d.messages_per_minute, d.rate_window_seconds, d.recipients_per_day, d.day_window_seconds, d.max_in_flight)


class MailboxPace:
    """Blocks a sender until one more message fits in its rate and daily windows."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic):
        self.limits = limits
        self._clock = clock
        self._sends: deque[float] = deque()  # answer times of sends in the rate window
        self._day: deque[tuple[float, int]] = deque()  # (answer time, recipients) in the day window
        self._pending = 0  # sends started but not answered: they count as happening now
        self._cond = threading.Condition()

    def _wait_needed(self, now: float, recipients: int) -> float:
        lim = self.limits
        while self._sends and self._sends[0] <= now - lim.window_seconds:
            self._sends.popleft()
        while self._day and self._day[0][0] <= now - lim.day_seconds:
            self._day.popleft()
        wait = 0.0
        if len(self._sends) + self._pending >= lim.per_window:
            wait = self._sends[0] + lim.window_seconds - now if self._sends else lim.window_seconds / lim.per_window
        used = sum(n for _, n in self._day) + self._pending
        if used + recipients > lim.recipients_per_day:
            wait = max(wait, self._day[0][0] + lim.day_seconds - now if self._day else lim.day_seconds)
        return wait

    def acquire(self, recipients: int = 1) -> None:
        """Wait until a message to `recipients` people may be sent, and reserve its slot."""
        with self._cond:
            while True:
                wait = self._wait_needed(self._clock(), recipients)
                if wait <= 0:
                    self._pending += 1
                    return
                # Release the lock while waiting; a finished send may shorten the wait.
                self._cond.wait(timeout=min(wait, 1.0))

    def done(self, recipients: int = 1, counted: bool = True) -> None:
        """A reserved send finished: count it (if the service may have counted it) and free the slot."""
        with self._cond:
            self._pending -= 1
            if counted:
                now = self._clock()
                self._sends.append(now)
                self._day.append((now, recipients))
            self._cond.notify_all()
