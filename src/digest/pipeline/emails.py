"""The email steps of a weekly run: render a batch, gate the run, deliver a batch.

Re-exported by :mod:`digest.pipeline` (the DAG and the CLI call them from there). Like every step
they read the run folder, write their own output atomically and return a small StepResult.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from digest.config import Settings
from digest.pipeline.steps import StepResult, batch_sellers, iter_batch_cards, load_snapshot, run_folder
from digest.runfolder import write_atomic, write_manifest
from digest.weeks import IsoWeek

if TYPE_CHECKING:  # pyarrow stays out of DAG parsing
    import pyarrow as pa

    from digest.sources.contract import Dataset

SKIPPED_FILE = "skipped.json"
WORK_DIR = ".work"  # in the run folder: batches being rendered, never read by the gate or delivery


def data_as_of(week: IsoWeek) -> str:
    """The 'data as of' date of every footer: the last day of the reported week (the same on any re-run)."""
    return week.sunday.isoformat()


def render_batch(settings: Settings, week: IsoWeek, batch: str, dataset: Dataset | None = None,
                 interactions: "pa.Table | None" = None) -> StepResult:
    """Render one batch of sellers into runs/<week>/emails/<batch>/ and write their audit records.

    On real data every message is sealed (digest.sealed) and no preview is written; the demo's
    sample keeps readable .eml files, previews and an index page.

    The batch is rendered into a temporary folder outside emails/ (where the gate and delivery
    never look) that then replaces the old one, so a re-run leaves exactly the files of its sellers
    (never a half-written batch, never a stale email). `dataset`: the run's snapshot, when the
    caller has it loaded already (a run in one process); else it is loaded here.
    """
    from digest.audit import records as audit
    from digest.delivery.outbox import write_outbox
    from digest.pipeline.render_workers import Messages, render_cards
    from digest.sealed import is_sample, sealing_key
    from digest.sources.optouts import unsubscribe_headers

    run = run_folder(settings, week)
    key = sealing_key(settings, str(week))  # real data: sealed at rest, no previews (docs/privacy.md)
    target = run.emails / batch
    work = run.root / WORK_DIR / f"{batch}.rendering"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    cards = list(iter_batch_cards(settings, week, batch))
    previews = is_sample(settings)
    sender = settings.render.sender_address
    messages = Messages(sender, {c.seller: unsubscribe_headers(settings, c.seller) for c in cards}, keep_email=previews)
    dataset = dataset if dataset is not None else load_snapshot(settings, week)
    rendered = render_cards(cards, settings.render, data_as_of(week), relationship_weeks=settings.relationship.window_weeks,
                            messages=messages)  # rendered and built on every core
    summary = write_outbox(
        _read_ahead(rendered, audit.reader_ahead(settings, week, dataset)),  # the audit reads each one meanwhile
        work, sender=sender, title=f"{settings.render.product_name} · {week} · batch {batch}",
        data_as_of=data_as_of(week), key=key, previews=previews)
    skipped = [{"recipient": who, "reason": why} for who, why in summary.skipped]
    write_atomic(work / SKIPPED_FILE, json.dumps(skipped, indent=1) + "\n")
    write_manifest(work, summary.files)
    old = run.root / WORK_DIR / f"{batch}.old"
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    work.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    records = record_audit(settings, week, batch, dataset, interactions)
    counts = {"rendered": summary.rendered, "skipped": len(skipped), "bytes": summary.total_bytes, "audit_records": records}
    return StepResult("render", str(week), counts, (str(target),))


def _read_ahead(results: Iterable, read: Callable[[bytes], None]) -> Iterator:
    """`results` unchanged, each built message read by the audit (`read`) as it passes."""
    from digest.delivery.outbox import BuiltEmail

    for result in results:
        if isinstance(result, BuiltEmail):
            read(result.raw)
        yield result


def used_interactions(settings: Settings, week: IsoWeek, sellers: list[str], dataset: Dataset) -> "pa.Table":
    """(seller, kind, interaction_id) of every interaction the sellers' cards were built from (metrics matches them once)."""
    from digest.metrics import seller_interactions

    return seller_interactions(dataset, week, settings, sellers).select(["seller", "kind", "interaction_id"])


def record_audit(settings: Settings, week: IsoWeek, batch: str, dataset: Dataset, interactions: "pa.Table | None" = None) -> int:
    """Write the audit records of a rendered batch, handing the audit what metrics used for each seller.

    The audit never imports metrics (its scope re-derivation must stay an independent check), so the
    interactions each card was computed from reach it from here. `interactions`: those of the whole
    cohort, matched once (matching is over the whole snapshot: per batch it was most of this step).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from digest.audit import records as audit

    sellers = audit.batch_subjects(settings, week, batch)
    used: dict[str, list[tuple[str, str]]] = {}
    if sellers:
        table = interactions if interactions is not None else used_interactions(settings, week, sellers, dataset)
        table = table.filter(pc.is_in(pc.utf8_lower(table["seller"]), value_set=pa.array(sellers, pa.string())))
        for seller, kind, key in zip(*(table.column(c).to_pylist() for c in ("seller", "kind", "interaction_id"))):
            used.setdefault(seller.lower(), []).append((kind, key))
    return audit.record_emails(settings, week, batch, dataset, used)


def skipped_of(settings: Settings, week: IsoWeek) -> list[dict[str, str]]:
    """Every seller a render step skipped, with why (no collaboration at all, …)."""
    out: list[dict[str, str]] = []
    emails = run_folder(settings, week).emails
    for path in sorted(emails.glob(f"*/{SKIPPED_FILE}")) if emails.is_dir() else []:
        out += json.loads(path.read_text(encoding="utf-8"))
    return out


def audit_gate(settings: Settings, week: IsoWeek, dataset: Dataset | None = None, sellers: list[str] | None = None) -> StepResult:
    """Re-derive each recipient's scope from the inputs and check their rendered email (CONTRACT.md §7).

    `sellers`: only theirs (a cohort's); the other sellers keep their last verdict (digest.audit.records.gate).
    """
    from digest.audit import records as audit

    from digest.pipeline.outcomes import write_outcomes

    result = audit.gate(settings, week, dataset if dataset is not None else load_snapshot(settings, week), sellers)
    write_outcomes(settings, week)
    counts = {"passed": len(result.passed), "blocked": len(result.blocked), "chain_ok": int(result.chain_ok)}
    return StepResult("audit_gate", str(week), counts, (result.path,))


def plan_delivery(settings: Settings, week: IsoWeek, via: str, dry_run: bool = False, *,
                  clock: Callable[[], float] = time.time, recipients: list[str] | None = None,
                  cohort: str | None = None) -> StepResult:
    """Plan the whole run's delivery once, before the batches go: every row gets its sender, the plan goes into report.json.

    Senders are spread over the whole pool in deadline order, so mapped deliver tasks share every
    mailbox from the start (their pacing is shared through the ledger database).
    """
    from digest.delivery.plan import record_plan
    from digest.delivery.send import send_run
    from digest.pipeline.outcomes import record_delivery_mode, write_outcomes

    record_delivery_mode(settings, week, via, dry_run)
    run = run_folder(settings, week)
    rendered = run.rendered()
    wanted = [r for r in rendered if recipients is None or r in set(recipients)]
    if via == "none" or not wanted:
        counts = write_outcomes(settings, week)
        return StepResult("plan_delivery", str(week), {"to_send": 0, **{f"sellers_{k}": v for k, v in counts.items()}})
    start = dt.datetime.fromtimestamp(clock(), dt.timezone.utc)
    summary = send_run(settings, str(week), via=via, start=start, clock=clock, plan_only=True,
                       recipients=None if recipients is None else wanted)
    plan = summary.plan
    record_plan(run.root, plan, cohort=cohort)
    counts = {"to_send": plan.emails, "already_sent": plan.already_sent, "blocked": plan.blocked, "mailboxes": plan.mailboxes,
              "late": plan.late}
    return StepResult("plan_delivery", str(week), counts, (str(run.report),))


def deliver_batch(settings: Settings, week: IsoWeek, batch: str, via: str, dry_run: bool = False, *,
                  clock: Callable[[], float] = time.time, outcomes: bool = True) -> StepResult:
    """Deliver the rendered emails of one batch (the ledger makes a re-run send nothing twice).

    Each row goes from the mailbox the plan gave it, over the whole pool; pacing per mailbox is
    shared with the other batches' tasks through the ledger database. `outcomes`: rewrite outcomes.jsonl
    afterwards (a caller delivering several batches in a row writes it once, after the last).
    """
    from digest.delivery.send import send_run
    from digest.pipeline.outcomes import write_outcomes

    start = dt.datetime.fromtimestamp(clock(), dt.timezone.utc)
    rendered = run_folder(settings, week).rendered(batch)
    recipients = [s for s in batch_sellers(settings, week, batch) if s in rendered]
    if not recipients:
        return StepResult("deliver", str(week), {}, (str(run_folder(settings, week).root),))
    summary = send_run(settings, str(week), via=via, start=start, clock=clock, dry_run=dry_run, recipients=recipients)
    counts = {k.replace(" ", "_"): int(v) for k, v in summary.counts.items()}
    if not dry_run:  # a delivered message does not stay readable in the run folder (privacy.keep_sent_days)
        from digest.delivery.cleanup import delete_sent

        counts["files_deleted"] = delete_sent(settings, str(week), clock(), clock=clock)
    if summary.plan is not None and summary.plan.already_sent:  # sent by an earlier try: counted, not sent again
        counts["already_sent"] = summary.plan.already_sent
    if outcomes:
        write_outcomes(settings, week)
    return StepResult("deliver", str(week), counts, (str(run_folder(settings, week).root),))
