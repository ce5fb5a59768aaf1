"""`digest run` and `digest demo`: the whole weekly job, in this process or through the embedded Airflow."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from digest.cli.app import EXIT_SERVICE, console, err_console, handle_errors, main, print_outcomes, settings_of, weekly_run_options
from digest.cli.scheduler import run_dag_once

WEEK_HELP = "ISO week to report, like 2026-W47 (default: last week)."


def _week(text: str | None):
    from digest.weeks import IsoWeek

    return IsoWeek.parse(text) if text else IsoWeek.last_week(dt.date.today())


def _where(settings, week, via: str | None = None) -> None:
    """Tell the admin where to look after a run."""
    from digest.pipeline.steps import run_folder

    run = run_folder(settings, week)
    indexes = sorted(run.emails.glob("[!.]*/index.html")) if run.emails.is_dir() else []
    console.print(f"  run folder     {run.root}  (report.json, cards.jsonl, audit.jsonl)")
    if indexes:
        console.print(f"  previews       {indexes[0]}" + (f"  (+{len(indexes) - 1} more batches)" if len(indexes) > 1 else ""))
    if (via or settings.delivery.via) == "outbox":
        console.print(f"  outbox         {Path(settings.delivery.outbox_folder) / str(week)}  (.eml files as delivered)")
    console.print(f"  privacy audit  digest audit {run.root}")


@main.command("run")
@weekly_run_options
@click.option("--at", default=None, help="Handle every seller due by this moment, like 2026-11-30T06:00:00Z (default: now).")
@click.pass_context
@handle_errors
def run_cmd(ctx: click.Context, week: str | None, sellers: tuple[str, ...], delivery: str | None, dry_run: bool,
            at: str | None) -> None:
    """Run the weekly job in this process for every seller due by --at (default now): snapshot → cohorts → cards → render → audit gate → deliver → report.

    Sellers not due yet are reported as not_yet_due; run it hourly (cron) and each seller gets the
    email as soon as their Monday morning comes; a re-run sends nothing twice. Exits 0 when every
    seller is sent, skipped or not yet due, 3 when any failed or was blocked by the privacy gate.
    """
    from digest.pipeline import parse_instant
    from digest.pipeline.weekly import run_week
    from digest.weeks import IsoWeek

    settings = settings_of(ctx)
    moment = parse_instant(at) if at else dt.datetime.now(dt.timezone.utc)
    chosen = IsoWeek.parse(week) if week else IsoWeek.reported_at(moment)
    console.print(f"weekly run for {chosen} on {settings.data.folder}, every seller due by {moment:%Y-%m-%dT%H:%M:%SZ}")
    result = run_week(settings, chosen, sellers=[s.lower() for s in sellers], delivery=delivery, dry_run=dry_run,
                      progress=lambda text: console.print(f"  {text}", markup=False), at=moment)
    console.print(f"done in {result.seconds:.1f} s; report {result.report}")
    counts = print_outcomes(settings, chosen)
    _where(settings, chosen, delivery)
    if counts["failed"] or counts["blocked"]:
        err_console.print("[bold red]some sellers failed or were blocked[/]: the reasons are above and in runs/<week>/outcomes.jsonl; "
                          "a re-run retries the failed ones and sends nothing twice.")
        sys.exit(EXIT_SERVICE)


@main.command("demo")
@click.option("--sellers", type=click.IntRange(1), default=50, show_default=True,
              help="Sellers of the sample org generated when data.folder is empty.")
@click.option("--week", default=None, help=WEEK_HELP)
@click.option("--no-airflow", is_flag=True, help="Run the steps in this process instead of the weekly DAG on the embedded Airflow.")
@click.pass_context
@handle_errors
def demo_cmd(ctx: click.Context, sellers: int, week: str | None, no_airflow: bool) -> None:
    """The main job on the embedded default: a sample org, the weekly DAG on Airflow (SQLite), emails in the outbox."""
    from digest.pipeline.weekly import ensure_sample, run_week
    from digest.sample.generator import DEFAULT_WEEKS

    settings = settings_of(ctx)
    chosen = _week(week)
    folder, generated = ensure_sample(settings, chosen, sellers)
    console.print(f"{'generated a sample org with' if generated else 'using the data in'} {folder}"
                  + (f" ({sellers} sellers, {DEFAULT_WEEKS} weeks ending {chosen})" if generated else ""))
    if no_airflow:
        result = run_week(settings, chosen, delivery="outbox", progress=lambda text: console.print(f"  {text}", markup=False))
        console.print(f"weekly run for {chosen} done in {result.seconds:.1f} s; report {result.report}")
        print_outcomes(settings, chosen)
    else:
        console.print(f"running the weekly DAG on the embedded Airflow (AIRFLOW_HOME {settings.airflow.home}); this takes a minute…")
        run_dag_once(settings, chosen, delivery="outbox", hint=", or try `digest demo --no-airflow` to see the failing step directly")
        print_outcomes(settings, chosen)
    _where(settings, chosen, "outbox")
    console.print("start the Airflow UI with `digest airflow up` (stop it with `digest airflow down`).")
