"""Waits between attempts at a Graph call: Retry-After when Graph sends one, else exponential backoff with full jitter."""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass

from digest.config import DeliverySettings


@dataclass(frozen=True)
class Backoff:
    """Waits between attempts: Retry-After when the service sends one, else exponential with full jitter."""

    first: float = 1.0
    cap: float = 60.0
    max_attempts: int = 6

    @classmethod
    def from_settings(cls, d: DeliverySettings) -> "Backoff":
        return cls(d.backoff_seconds, d.max_backoff_seconds, d.max_attempts)

    def wait(self, attempt: int, retry_after: str | None, rng: random.Random | None = None) -> float:
        """Seconds to wait before attempt number `attempt + 1` (attempt counts from 1)."""
        hinted = parse_retry_after(retry_after)
        if hinted is not None:
            return min(hinted, self.cap)
        return (rng or random).uniform(0, self.ceiling(attempt))

    def ceiling(self, attempt: int) -> float:
        """The longest wait after attempt number `attempt` (no jitter): first × 2^(attempt-1), capped."""
        return min(self.cap, self.first * (2 ** (attempt - 1)))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds: delta-seconds (Graph; fractions accepted) or an HTTP date; None if absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
