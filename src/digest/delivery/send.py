"""Delivering a run: the ledger decides what is left, the gate decides who may receive, mailers send.

For each rendered email under runs/<week>/emails/<batch>/ the ledger gets a planned row (the
sender mailbox is chosen then and kept). Each mailbox has its own workers (at most
delivery.max_in_flight); a worker claims a row, checks the privacy gate and the opt-outs again,
reads the .eml and hands it to the mailer, and records every state change. A crash leaves the
ledger (and for Graph the tagged draft) telling the next run what is done.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from digest.audit.records import current_optouts, send_block_reason
from digest.config import Settings
from digest.delivery.ledger import Ledger, Row, ledger_url
from digest.delivery.mailer import Attempt, Mailer, Outcome
from digest.delivery.plan import DeliveryPlan, make_plan, order_by_deadline, seller_zones
from digest.delivery.throttle import Limits
from digest.errors import ConfigError, DigestError, InputError
from digest.runfolder import RunFolder
from digest.sealed import opener

SENDER_REFUSED = "sender:"  # error_code prefix of a row whose sender mailbox was refused for good (re-planned next run)


@dataclass(frozen=True)
class DeliverySummary:
    """How a delivery run ended: rows per state, and why rows were skipped or failed."""

    week: str
    via: str
    dry_run: bool
    counts: dict[str, int]
    reasons: dict[str, int]  # "failed: <reason>" / "skipped: <reason>" -> how many
    busy: int = 0  # rows another worker held (their lease had not expired)
    plan: DeliveryPlan | None = None

    def to_dict(self) -> dict:
        return {"week": self.week, "via": self.via, "dry_run": self.dry_run, "counts": dict(self.counts),
                "reasons": dict(self.reasons), "busy": self.busy, "plan": self.plan.to_dict() if self.plan else None}


@dataclass
class _Run:
    settings: Settings
    week: str
    run: RunFolder
    ledger: Ledger
    worker: str
    optouts: frozenset[str]
    progress: Callable[[str, str], None] | None
    stop: threading.Event = field(default_factory=threading.Event)
    errors: list[BaseException] = field(default_factory=list)
    dead: dict[str, Outcome] = field(default_factory=dict)  # mailbox -> the refusal that made it unusable
    busy: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    read: Callable[[object], bytes] = field(default=lambda path: path.read_bytes())  # opens sealed messages


def rendered_emails(run: RunFolder, only: Sequence[str] | None = None) -> dict[str, str]:
    """Recipient → .eml path relative to the run folder, for every rendered email (from the batch manifests)."""
    wanted = {r.lower() for r in only} if only else None
    root = str(run.root) + os.sep  # rendered() joins its paths onto run.root: cutting it off is relative_to, without its cost

    def relative(path: Path) -> str:
        text = str(path)
        return (text[len(root):] if text.startswith(root) else str(path.relative_to(run.root))).replace(os.sep, "/")

    return {who: relative(path) for who, path in sorted(run.rendered().items()) if wanted is None or who in wanted}


def senders_for(settings: Settings, via: str, mailboxes: Sequence[str] | None) -> list[str]:
    """The sender mailboxes in use: the pool for Graph, the rendered From address for the outbox."""
    if via == "outbox":
        return [settings.render.sender_address.lower()]
    pool = [m.strip().lower() for m in (mailboxes or settings.delivery.sender_mailboxes) if m.strip()]
    if not pool:
        raise ConfigError("delivery.sender_mailboxes is empty: list the mailbox(es) Graph sends from, "
                          "e.g. sender_mailboxes = [\"seller-insights@contoso.com\"] (docs/delivery.md).")
    return list(dict.fromkeys(pool))


def open_ledger(settings: Settings, run: RunFolder, clock: Callable[[], float]) -> Ledger:
    """The ledger of this run (delivery.ledger_url, else SQLite in the run folder)."""
    if not settings.delivery.ledger_url:
        run.ensure()
    return Ledger(ledger_url(settings.delivery.ledger_url, run.root), clock)


def prepare(settings: Settings, week: str, via: str, ledger: Ledger, start: dt.datetime, *,
            recipients: Sequence[str] | None = None, mailboxes: Sequence[str] | None = None) -> tuple[DeliveryPlan, dict[str, list[Row]]]:
    """Record planned rows and return the plan with each mailbox's queue (rows still to deliver, deadline order).

    Senders go round-robin over the whole pool in deadline order, across every batch of the run, so
    every mailbox works from the first minute. A row that cannot have been sent (no draft) whose
    sender was refused for good, left the pool, or that was planned for another way of delivery is
    planned again onto a current mailbox; a row that may have been sent keeps its mailbox, where
    the lookup by its key decides.
    """
    run = RunFolder.for_week(settings.runs.folder, week)
    everyone = rendered_emails(run)
    wanted = {x.lower() for x in recipients} if recipients else None
    emails = {r: p for r, p in everyone.items() if wanted is None or r in wanted}
    if not emails:
        raise InputError(f"no rendered emails under {run.emails}/<batch>/*.eml"
                         + (f" for {', '.join(sorted(recipients))}" if recipients else "") + f": render {week} first (digest run).")
    pool = senders_for(settings, via, mailboxes)
    default_zone = settings.data.default_time_zone
    # The sender of a row depends on its place in the whole run, not on which batch plans it first.
    ordered_all = order_by_deadline(list(everyone), week, settings.delivery.deadline, seller_zones(run.cards, default_zone), default_zone)
    place = {r: i for i, (r, _) in enumerate(ordered_all)}
    ordered = [(r, d) for r, d in ordered_all if r in emails]
    ledger.plan(week, [(r, pool[place[r] % len(pool)], emails[r]) for r, _ in ordered], via)
    rows = {row.recipient: row for row in ledger.rows(week, None if wanted is None else emails)}
    for r, _ in ordered:
        row = rows[r]
        if replannable(row, via, pool):
            rows[r] = ledger.replan(week, r, pool[place[r] % len(pool)], via, emails[r]) or row
    optouts = current_optouts(settings)
    queues: dict[str, list[Row]] = {m: [] for m in pool}
    plan_queues: dict[str, list] = {m: [] for m in pool}
    sent = blocked = 0
    for r, deadline in ordered:
        row = rows[r]
        if row.state == "sent":
            sent += 1
            continue
        queues.setdefault(row.sender, []).append(row)
        if send_block_reason(settings, week, r, optouts):
            blocked += 1
        else:
            plan_queues.setdefault(row.sender, []).append((r, deadline))
    limits = Limits.from_settings(settings.delivery)
    plan = make_plan(week, plan_queues, limits, settings.delivery.request_seconds, start, settings.delivery.deadline, sent, blocked,
                     via=via)
    return plan, queues


def replannable(row: Row, via: str, pool: Sequence[str]) -> bool:
    """May this row move to another mailbox? Only if it cannot have been sent and its sender is not usable for it now."""
    if row.state not in ("planned", "failed", "skipped") or row.draft_id or row.claimed_by:
        return False
    refused = row.state == "failed" and row.error_code.startswith(SENDER_REFUSED)
    return refused or row.via != via or row.sender not in pool


def deliver(settings: Settings, week: str, mailer: Mailer, ledger: Ledger, queues: dict[str, list[Row]], *,
            workers_per_mailbox: int, progress: Callable[[str, str], None] | None = None) -> DeliverySummary:
    """Deliver every queued row (one thread pool per mailbox); returns the summary of the rows in scope."""
    worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    state = _Run(settings, week, RunFolder.for_week(settings.runs.folder, week), ledger, worker, current_optouts(settings), progress,
                 read=opener(settings, week))
    pools = [ThreadPoolExecutor(max_workers=workers_per_mailbox, thread_name_prefix=f"send-{m}") for m in queues]
    try:
        futures = [pool.submit(_one, state, mailer, row) for pool, q in zip(pools, queues.values()) for row in q]
        for f in futures:
            f.result()
    finally:
        for pool in pools:
            pool.shutdown(wait=True, cancel_futures=True)
    if state.errors:
        raise state.errors[0]
    return summarize(week, mailer.via, ledger, [r.recipient for q in queues.values() for r in q], busy=state.busy)


def summarize(week: str, via: str, ledger: Ledger, recipients: Sequence[str], *, busy: int = 0, dry_run: bool = False,
              plan: DeliveryPlan | None = None) -> DeliverySummary:
    """Counts and reasons of `recipients` as the ledger holds them now."""
    counts: dict[str, int] = {}
    reasons: dict[str, int] = {}
    for row in ledger.rows(week, recipients):
        counts[row.state] = counts.get(row.state, 0) + 1
        if row.state in ("failed", "skipped") and row.reason:
            key = f"{row.state}: {row.reason}"
            reasons[key] = reasons.get(key, 0) + 1
    return DeliverySummary(week, via, dry_run, counts, reasons, busy, plan)


def _one(state: _Run, mailer: Mailer, planned: Row) -> None:
    if state.stop.is_set():
        return
    lease = state.settings.delivery.claim_lease_seconds
    row = state.ledger.claim(state.week, planned.recipient, state.worker, lease)
    if row is None:
        current = state.ledger.get(state.week, planned.recipient)
        with state.lock:
            state.busy += current is not None and current.state != "sent"
        _tell(state, planned.recipient, current.state if current else "busy")
        return
    try:
        _deliver_claimed(state, mailer, row, lease)
    except BaseException as exc:  # noqa: BLE001 - stop the run, give the claim back, report the first error
        state.ledger.release(state.week, row.recipient, state.worker)
        state.stop.set()
        with state.lock:
            state.errors.append(exc)


def _deliver_claimed(state: _Run, mailer: Mailer, row: Row, lease: float) -> None:
    week, who, worker, ledger = state.week, row.recipient, state.worker, state.ledger
    reason = send_block_reason(state.settings, week, who, state.optouts)
    if reason:
        ledger.update(week, who, worker, "skipped", reason=reason)
        return _tell(state, who, "skipped")
    dead = state.dead.get(row.sender)
    if dead is not None:
        ledger.update(week, who, worker, "failed", reason=f"not tried: {dead.reason}", error_code=SENDER_REFUSED + dead.error_code)
        return _tell(state, who, "failed")
    from digest.delivery.outbox import parse_envelope

    path = state.run.root / row.source
    try:
        raw = state.read(path)  # the audited (plaintext) bytes: what the mailer delivers, unchanged
        email = parse_envelope(raw, path)  # who and which week: the bytes go on unchanged
    except (DigestError, OSError) as exc:
        ledger.update(week, who, worker, "failed", reason=f"cannot read {row.source}: {exc}", error_code="BadEml")
        return _tell(state, who, "failed")
    if email.recipient.lower() != who or email.week != week:
        ledger.update(week, who, worker, "failed", error_code="Mismatch",
                      reason=f"{row.source} is addressed to {email.recipient} for {email.week}, not {who} for {week}: render again")
        return _tell(state, who, "failed")

    def drafted(draft_id: str) -> None:
        ledger.update(week, who, worker, "drafted", lease=lease, draft_id=draft_id)

    attempt = Attempt(row.sender, row.draft_id, retry=row.attempts > 1 or row.state == "drafted")
    outcome = mailer.deliver(email, raw, attempt, drafted)
    code = outcome.error_code
    if outcome.mailbox_unusable:
        with state.lock:
            state.dead.setdefault(row.sender, outcome)
        code = SENDER_REFUSED + code
    extra = {k: v for k, v in (("draft_id", outcome.draft_id), ("message_id", outcome.message_id)) if v}
    ledger.update(week, who, worker, outcome.state, reason=outcome.reason, error_code=code, **extra)
    _tell(state, who, outcome.state)


def _tell(state: _Run, who: str, what: str) -> None:
    if state.progress:
        state.progress(who, what)


def dry_run_summary(settings: Settings, week: str, via: str, ledger: Ledger, queues: dict[str, list[Row]], plan: DeliveryPlan) -> DeliverySummary:
    """What a real run would do now, without claiming or sending anything."""
    optouts = current_optouts(settings)
    counts: dict[str, int] = {"would send": 0}
    reasons: dict[str, int] = {}
    for q in queues.values():
        for row in q:
            reason = send_block_reason(settings, week, row.recipient, optouts)
            if reason:
                counts["would skip"] = counts.get("would skip", 0) + 1
                reasons[f"would skip: {reason}"] = reasons.get(f"would skip: {reason}", 0) + 1
            else:
                counts["would send"] += 1
    counts["already sent"] = plan.already_sent
    return DeliverySummary(week, via, True, counts, reasons, 0, plan)


def make_mailer(settings: Settings, via: str, pool: Sequence[str], ledger: Ledger | None = None) -> Mailer:
    """The mailer for `via`; for Graph, a token is fetched first so bad credentials stop the run before any row is touched.

    With a ledger, Graph's per-mailbox pacing is shared through its database by every process sending from the pool.
    """
    if via == "outbox":
        from digest.delivery.mailer import OutboxMailer

        return OutboxMailer(settings.delivery.outbox_folder, settings.render.sender_address)
    from digest.delivery.graph import graph_mailer

    paces = None
    if ledger is not None:
        from digest.delivery.pacing import LedgerPace

        limits = Limits.from_settings(settings.delivery)
        in_flight = settings.graph.connect_timeout_seconds + settings.graph.read_timeout_seconds  # no request lasts longer
        paces = {m.lower(): LedgerPace(ledger.engine, m, limits, in_flight_seconds=in_flight) for m in pool}
    return graph_mailer(settings, list(pool), paces=paces)


def check_credentials(settings: Settings) -> None:
    """Ask the authority for a Graph token now: a wrong secret, tenant or certificate stops here (never printed)."""
    from digest.graph.auth import TokenProvider, make_session

    TokenProvider(settings.graph, make_session(settings.graph)).token()


def send_run(settings: Settings, week: str, *, via: str, start: dt.datetime, clock: Callable[[], float], dry_run: bool = False,
             plan_only: bool = False, recipients: Sequence[str] | None = None, mailboxes: Sequence[str] | None = None,
             progress: Callable[[str, str], None] | None = None,
             on_plan: Callable[[DeliveryPlan], None] | None = None) -> DeliverySummary:
    """Plan, then (unless plan_only or dry_run) deliver the rendered emails of `week`; `start`/`clock` come from the caller."""
    if via not in ("outbox", "graph"):
        raise InputError(f"--via {via!r}: choose outbox or graph.")
    run = RunFolder.for_week(settings.runs.folder, week)
    ledger = open_ledger(settings, run, clock)
    try:
        plan, queues = prepare(settings, week, via, ledger, start, recipients=recipients, mailboxes=mailboxes)
        if on_plan:
            on_plan(plan)
        if plan_only:
            return DeliverySummary(week, via, True, {"to send": plan.emails, "blocked": plan.blocked, "already sent": plan.already_sent}, {}, 0, plan)
        if dry_run:
            if via == "graph":
                check_credentials(settings)  # "would send" must mean it could
            return dry_run_summary(settings, week, via, ledger, queues, plan)
        if not any(queues.values()):  # nothing left to send: no mailer, no token
            return summarize(week, via, ledger, [], plan=plan)
        mailer = make_mailer(settings, via, [m for m, q in queues.items() if q], ledger)
        # Twice the request slots: while some workers wait for an answer, others prepare the next draft.
        per_box = 2 * settings.delivery.max_in_flight if via == "graph" else 1
        summary = deliver(settings, week, mailer, ledger, queues, workers_per_mailbox=per_box, progress=progress)
        return DeliverySummary(summary.week, summary.via, False, summary.counts, summary.reasons, summary.busy, plan)
    finally:
        ledger.close()
