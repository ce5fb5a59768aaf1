"""The delivery ledger: one row per (week, recipient) and every state change of its delivery.

States: planned → drafted → sent, or failed / skipped, with the reason. A worker claims a row
atomically (one UPDATE whose WHERE clause only matches unclaimed rows or expired leases; the
rowcount says who won) before it does anything for that recipient, so concurrent workers (threads,
processes, Airflow tasks on several machines sharing PostgreSQL) never work on the same digest.
SQLite in the run folder by default; any SQLAlchemy URL by setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError

from digest.config import hide_password
from digest.errors import ConfigError, ServiceError

STATES = ("planned", "drafted", "sent", "failed", "skipped")
DONE = ("sent",)  # a sent digest is never touched again
IN_CHUNK = 500  # recipients per IN (...) query: well under every database's limit on bound parameters

metadata = sa.MetaData()
deliveries = sa.Table(
    "deliveries", metadata,
    sa.Column("week", sa.String(10), primary_key=True),
    sa.Column("recipient", sa.String(320), primary_key=True),
    sa.Column("state", sa.String(10), nullable=False),
    sa.Column("reason", sa.Text, nullable=False, default=""),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("via", sa.String(10), nullable=False, default=""),
    sa.Column("sender", sa.String(320), nullable=False, default=""),
    sa.Column("source", sa.Text, nullable=False, default=""),  # the .eml path, relative to the run folder
    sa.Column("draft_id", sa.Text, nullable=False, default=""),
    sa.Column("message_id", sa.Text, nullable=False, default=""),
    sa.Column("error_code", sa.String(100), nullable=False, default=""),
    sa.Column("claimed_by", sa.String(200), nullable=False, default=""),
    sa.Column("lease_until", sa.Float, nullable=False, default=0.0),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("sent_at", sa.Float, nullable=True),
)

# Shared pacing (digest.delivery.pacing): every process sending from a mailbox reserves its sends here.
pace_locks = sa.Table(
    "pace_locks", metadata,
    sa.Column("mailbox", sa.String(320), primary_key=True),
    sa.Column("touched", sa.Float, nullable=False, default=0.0),
)
pace_sends = sa.Table(
    "pace_sends", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("mailbox", sa.String(320), nullable=False),
    sa.Column("at", sa.Float, nullable=False),  # reserved at, then the moment its answer came back
    sa.Column("recipients", sa.Integer, nullable=False),
    sa.Column("pending", sa.Boolean, nullable=False),
    sa.Index("pace_sends_mailbox_at", "mailbox", "at"),
)


@dataclass(frozen=True)
class Row:
    """One recipient's delivery as the ledger holds it."""

    week: str
    recipient: str
    state: str
    reason: str
    attempts: int
    via: str
    sender: str
    source: str
    draft_id: str
    message_id: str
    error_code: str
    claimed_by: str
    lease_until: float
    created_at: float
    updated_at: float
    sent_at: float | None


def ledger_url(configured: str, run_root: Path) -> str:
    """The SQLAlchemy URL in force: the setting, else SQLite at runs/<week>/deliveries.sqlite."""
    return configured or f"sqlite:///{(run_root / 'deliveries.sqlite').resolve()}"


class Ledger:
    """Reads and changes delivery rows; `clock` gives epoch seconds (injected by the caller)."""

    def __init__(self, url: str, clock: Callable[[], float]):
        self.clock = clock
        self.url = url
        sqlite = url.startswith("sqlite")
        kwargs = {"connect_args": {"timeout": 60}} if sqlite else {"pool_pre_ping": True}
        try:
            self.engine = sa.create_engine(url, **kwargs)
            if sqlite:
                sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            metadata.create_all(self.engine)
        except (sa.exc.ArgumentError, ValueError) as exc:  # not a URL, or a bad port (settings check it at start-up)
            raise ConfigError(f"delivery.ledger_url: {hide_password(url)!r} is not a database URL ({type(exc).__name__}). "
                              "Set it to a SQLAlchemy URL like postgresql+psycopg2://user:password@host:5432/db, "
                              "or leave it empty for SQLite in the run folder.") from None
        except (OperationalError, sa.exc.NoSuchModuleError) as exc:
            shown = hide_password(url)
            raise ServiceError(f"delivery ledger {shown} cannot be opened ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}). "
                               "Check delivery.ledger_url and that the database is running.") from None

    def close(self) -> None:
        self.engine.dispose()

    def plan(self, week: str, items: Iterable[tuple[str, str, str]], via: str) -> int:
        """Insert a planned row per (recipient, sender, source) not in the ledger yet; returns how many were new."""
        now = self.clock()
        new = 0
        with self.engine.begin() as conn:
            known = {r for (r,) in conn.execute(sa.select(deliveries.c.recipient).where(deliveries.c.week == week))}
            rows = [{"week": week, "recipient": r.lower(), "state": "planned", "reason": "", "attempts": 0, "via": via,
                     "sender": s, "source": src, "draft_id": "", "message_id": "", "error_code": "", "claimed_by": "",
                     "lease_until": 0.0, "created_at": now, "updated_at": now, "sent_at": None}
                    for r, s, src in items if r.lower() not in known]
            if rows:
                try:
                    conn.execute(deliveries.insert(), rows)
                    new = len(rows)
                except IntegrityError:  # another worker planned the same week at the same moment
                    conn.rollback()
        if rows and not new:
            return self._plan_one_by_one(rows)
        return new

    def _plan_one_by_one(self, rows: list[dict]) -> int:
        new = 0
        for row in rows:
            try:
                with self.engine.begin() as conn:
                    conn.execute(deliveries.insert(), [row])
                new += 1
            except IntegrityError:
                pass
        return new

    def claim(self, week: str, recipient: str, worker: str, lease: float) -> Row | None:
        """Atomically take a row that is not sent and not leased by another worker; None if someone else has it."""
        now = self.clock()
        c = deliveries.c
        stmt = (sa.update(deliveries)
                .where(c.week == week, c.recipient == recipient.lower(), c.state.not_in(DONE),
                       sa.or_(c.claimed_by == "", c.claimed_by == worker, c.lease_until < now))
                .values(claimed_by=worker, lease_until=now + lease, attempts=c.attempts + 1, updated_at=now))
        with self.engine.begin() as conn:
            if conn.execute(stmt).rowcount != 1:
                return None
        return self.get(week, recipient)

    def update(self, week: str, recipient: str, worker: str, state: str, lease: float = 0.0, **values: object) -> None:
        """Record a state change by the worker holding the claim; lease > 0 keeps the claim, 0 releases it."""
        assert state in STATES, state
        now = self.clock()
        c = deliveries.c
        extra = {"sent_at": now} if state == "sent" else {}
        done = {"claimed_by": "", "lease_until": 0.0} if not lease else {"lease_until": now + lease}
        stmt = (sa.update(deliveries).where(c.week == week, c.recipient == recipient.lower(), c.claimed_by == worker)
                .values(state=state, updated_at=now, **extra, **done, **values))
        with self.engine.begin() as conn:
            if conn.execute(stmt).rowcount != 1:
                raise ServiceError(f"ledger row {week}/{recipient} was taken over by another worker while {worker} held it "
                                   "(its lease expired): raise delivery.claim_lease_seconds.")

    def replan(self, week: str, recipient: str, sender: str, via: str, source: str) -> Row | None:
        """Move an unclaimed row that cannot have been sent (no draft) to `sender` and `via`, planned again; None if it changed meanwhile."""
        c = deliveries.c
        stmt = (sa.update(deliveries)
                .where(c.week == week, c.recipient == recipient.lower(), c.state.in_(("planned", "failed", "skipped")),
                       c.draft_id == "", sa.or_(c.claimed_by == "", c.lease_until < self.clock()))
                .values(sender=sender, via=via, source=source, state="planned", reason="", error_code="", claimed_by="",
                        lease_until=0.0, updated_at=self.clock()))
        with self.engine.begin() as conn:
            if conn.execute(stmt).rowcount != 1:
                return None
        return self.get(week, recipient)

    def release(self, week: str, recipient: str, worker: str) -> None:
        """Give a claim back without changing the state (e.g. the run is stopping)."""
        c = deliveries.c
        with self.engine.begin() as conn:
            conn.execute(sa.update(deliveries).where(c.week == week, c.recipient == recipient.lower(), c.claimed_by == worker)
                         .values(claimed_by="", lease_until=0.0, updated_at=self.clock()))

    def get(self, week: str, recipient: str) -> Row | None:
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(deliveries).where(deliveries.c.week == week, deliveries.c.recipient == recipient.lower())).first()
        return Row(**r._mapping) if r else None

    def rows(self, week: str, recipients: Iterable[str] | None = None) -> list[Row]:
        """Every row of the week (only these recipients' with `recipients`: a batch reads its own rows, not the run's), by recipient."""
        c = deliveries.c
        if recipients is None:
            with self.engine.connect() as conn:
                return [Row(**r._mapping) for r in conn.execute(sa.select(deliveries).where(c.week == week).order_by(c.recipient))]
        wanted = sorted({r.lower() for r in recipients})
        out: list[Row] = []
        with self.engine.connect() as conn:
            for i in range(0, len(wanted), IN_CHUNK):
                stmt = sa.select(deliveries).where(c.week == week, c.recipient.in_(wanted[i:i + IN_CHUNK]))
                out += [Row(**r._mapping) for r in conn.execute(stmt)]
        return sorted(out, key=lambda row: row.recipient)

    def sent_sources(self, week: str, until: float) -> list[str]:
        """The message files (relative to the run folder) of the week's rows sent at or before `until`."""
        c = deliveries.c
        stmt = sa.select(c.source).where(c.week == week, c.state == "sent", sa.func.coalesce(c.sent_at, 0) <= until,
                                         c.source != "").order_by(c.recipient)
        with self.engine.connect() as conn:
            return [source for (source,) in conn.execute(stmt)]

    def counts(self, week: str) -> dict[str, int]:
        """Rows per state for the week (every state present, zero when none)."""
        out = dict.fromkeys(STATES, 0)
        with self.engine.connect() as conn:
            q = sa.select(deliveries.c.state, sa.func.count()).where(deliveries.c.week == week).group_by(deliveries.c.state)
            for state, n in conn.execute(q):
                out[state] = n
        return out


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL lets readers go on while a worker writes; the busy timeout makes concurrent writers queue, not fail.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=60000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()
