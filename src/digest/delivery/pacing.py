"""Per-mailbox pacing shared by every process that sends from the mailbox, kept in the ledger database.

Mapped deliver tasks (and several `digest send` processes) use the same sender mailboxes at once, so
Exchange Online's limits (delivery.messages_per_minute per rolling window, recipients_per_day per
rolling day, max_in_flight sends at once) must be counted across processes, not per process. A
sender reserves each send in ``pace_sends`` inside a transaction that first locks the mailbox's row
in ``pace_locks`` (an UPDATE: a row lock on PostgreSQL, the write lock on SQLite), so two workers
never both take the last place of a window. A send counts from its reservation until its answer,
then from the answer's moment (as :class:`digest.delivery.throttle.MailboxPace` does in one process).
A reservation still pending after ``in_flight_seconds`` (the request timeouts: no request is in flight
longer) belongs to a worker that died; it no longer holds a request slot, and it counts in the windows
as a send answered at that moment: pacing can only be more careful than Exchange, never less, and a
restarted run is never held up by a killed one.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from digest.delivery.ledger import pace_locks, pace_sends
from digest.delivery.throttle import Limits

IN_FLIGHT_POLL_SECONDS = 0.25  # how often a sender asks again while other processes fill the mailbox's request slots
DEFAULT_IN_FLIGHT_SECONDS = 70.0  # graph.connect_timeout_seconds + graph.read_timeout_seconds by default


class LedgerPace:
    """Blocks a sender until one more message fits the mailbox's limits, counted over every process."""

    def __init__(self, engine: sa.engine.Engine, mailbox: str, limits: Limits, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep, in_flight_seconds: float = DEFAULT_IN_FLIGHT_SECONDS):
        self.engine, self.mailbox, self.limits = engine, mailbox.lower(), limits
        self.in_flight_seconds = in_flight_seconds
        self._clock, self._sleep = clock, sleep
        self._mine = threading.local()  # the calling thread's reservation id (one send at a time per thread)
        try:
            with engine.begin() as conn:
                conn.execute(pace_locks.insert().values(mailbox=self.mailbox, touched=clock()))
        except IntegrityError:
            pass  # another process created it first

    def acquire(self, recipients: int = 1) -> None:
        """Wait until a message to `recipients` people may be sent from the mailbox, and reserve its place."""
        while True:
            wait = self._try_reserve(recipients)
            if wait <= 0:
                return
            self._sleep(min(wait, 1.0))

    def done(self, recipients: int = 1, counted: bool = True) -> None:
        """The calling thread's send finished: count it from now (if the service may have counted it), else forget it."""
        rid = getattr(self._mine, "rid", None)
        if rid is None:
            return
        self._mine.rid = None
        with self.engine.begin() as conn:
            if counted:
                conn.execute(sa.update(pace_sends).where(pace_sends.c.id == rid).values(at=self._clock(), pending=False))
            else:
                conn.execute(sa.delete(pace_sends).where(pace_sends.c.id == rid))

    def _try_reserve(self, recipients: int) -> float:
        """Reserve a send if it fits (returns 0), else return how long to wait before asking again."""
        lim, c = self.limits, pace_sends.c
        with self.engine.begin() as conn:
            conn.execute(sa.update(pace_locks).where(pace_locks.c.mailbox == self.mailbox).values(touched=self._clock()))
            now = self._clock()  # read once the mailbox is locked: a wait for the lock must not age the reservation
            conn.execute(sa.delete(pace_sends).where(c.mailbox == self.mailbox, c.at <= now - lim.day_seconds))
            mine, h, window = c.mailbox == self.mailbox, self.in_flight_seconds, lim.window_seconds
            live = sa.and_(c.pending.is_(True), c.at > now - h)  # in flight: counts as happening now
            stale = sa.and_(c.pending.is_(True), c.at <= now - h)  # its worker died: taken as answered at at + h
            done_in_window = sa.and_(c.pending.is_(False), c.at > now - window)
            stale_in_window = sa.and_(stale, c.at + h > now - window)
            in_window = conn.execute(sa.select(sa.func.count()).where(mine, sa.or_(done_in_window, live, stale_in_window))).scalar_one()
            oldest = None
            if in_window >= lim.per_window:
                done_oldest = conn.execute(sa.select(sa.func.min(c.at)).where(mine, done_in_window)).scalar_one()
                stale_oldest = conn.execute(sa.select(sa.func.min(c.at + h)).where(mine, stale_in_window)).scalar_one()
                known = [v for v in (done_oldest, stale_oldest) if v is not None]
                oldest = min(known) if known else now  # only sends in flight: wait for one of them to be answered
            used, first_of_day = conn.execute(sa.select(sa.func.coalesce(sa.func.sum(c.recipients), 0), sa.func.min(c.at))
                                              .where(mine)).one()
            in_flight = conn.execute(sa.select(sa.func.count()).where(mine, live)).scalar_one()
            wait = 0.0
            if in_window >= lim.per_window:
                wait = max(oldest + lim.window_seconds - now, 0.05)
            if used + recipients > lim.recipients_per_day:
                wait = max(wait, first_of_day + lim.day_seconds - now)
            if in_flight >= lim.max_in_flight:  # held by other processes (this one's own requests wait on its semaphores)
                wait = max(wait, IN_FLIGHT_POLL_SECONDS)
            if wait > 0:
                return wait
            rid = uuid.uuid4().hex
            conn.execute(pace_sends.insert().values(id=rid, mailbox=self.mailbox, at=now, recipients=recipients, pending=True))
        self._mine.rid = rid
        return 0.0
