"""`digest send`: deliver a rendered run through the outbox or Microsoft Graph (plan, dry run)."""

from __future__ import annotations

import sys

import click
from rich.markup import escape

from digest.cli.app import EXIT_SERVICE, console, err_console, handle_errors, main, print_outcomes, settings_of


@main.command("send")
@click.option("--run", "run_dir", type=click.Path(file_okay=False), required=True,
              help="Run folder of the week to deliver, like runs/2026-W47 (its emails/<batch>/*.eml).")
@click.option("--via", type=click.Choice(["outbox", "graph"]), default=None,
              help="outbox (write .eml files into delivery.outbox_folder) or graph (Microsoft Graph); default: delivery.via.")
@click.option("--dry-run", is_flag=True, help="Record the plan in the ledger and show who would be sent or skipped; send nothing.")
@click.option("--plan", "plan_only", is_flag=True, help="Only print the delivery plan (emails, mailboxes, expected finish, deadline).")
@click.option("--recipient", "recipients", multiple=True, help="Only this recipient (repeat for several).")
@click.pass_context
@handle_errors
def send_cmd(ctx: click.Context, run_dir: str, via: str | None, dry_run: bool, plan_only: bool, recipients: tuple[str, ...]) -> None:
    """Deliver a run's rendered emails (outbox or Graph), at most once each, with the ledger and the privacy gate.

    Exits 3 when any email failed (the reasons are listed; a re-run retries them).
    """
    import datetime as dt
    import time
    from pathlib import Path

    from rich.progress import Progress
    from rich.table import Table

    from digest.delivery.plan import record_plan
    from digest.delivery.send import send_run
    from digest.weeks import IsoWeek

    folder = Path(run_dir)
    week = str(IsoWeek.parse(folder.name))
    settings = settings_of(ctx).replace("runs", folder=str(folder.parent))
    chosen = via or settings.delivery.via

    def show_plan(plan) -> None:
        record_plan(folder, plan)
        console.print(f"delivery plan for {week} via {chosen}: {plan.emails:,} email(s) to send from {plan.mailboxes} mailbox(es)"
                      f" ({plan.already_sent:,} already sent, {plan.blocked:,} blocked by the privacy gate or opt-outs);"
                      f" last one expected at {plan.finish.astimezone():%a %Y-%m-%d %H:%M %Z} (in {plan.duration})")
        for warning in plan.warnings():
            console.print(f"[yellow]warning:[/] {escape(warning)}", soft_wrap=True)

    with Progress(console=err_console, transient=True, disable=plan_only or dry_run) as bar:
        task = bar.add_task("sending", total=None)

        def on_plan(plan) -> None:
            show_plan(plan)
            bar.update(task, total=plan.emails + plan.blocked)

        summary = send_run(settings, week, via=chosen, start=dt.datetime.now(dt.timezone.utc), clock=time.time, dry_run=dry_run,
                           plan_only=plan_only, recipients=recipients or None, progress=lambda who, what: bar.advance(task),
                           on_plan=on_plan)
    if plan_only:
        return
    table = Table("state", "count", title=f"{week} via {chosen}" + (" (dry run: nothing sent)" if dry_run else ""))
    for state, n in sorted(summary.counts.items()):
        table.add_row(state, f"{n:,}")
    console.print(table)
    for reason, n in sorted(summary.reasons.items(), key=lambda x: -x[1]):
        console.print(f"  {n:,} x {reason}", soft_wrap=True, markup=False)
    if summary.busy:
        console.print(f"[yellow]{summary.busy} recipient(s) are held by another worker[/]: re-run after delivery.claim_lease_seconds.")
    from digest.pipeline.outcomes import SCOPE_FILE, write_outcomes

    if not dry_run and (folder / SCOPE_FILE).is_file():  # a run folder of a weekly run: every seller's state, counted
        write_outcomes(settings, week)
        print_outcomes(settings, week)
    if summary.counts.get("failed"):
        sys.exit(EXIT_SERVICE)
