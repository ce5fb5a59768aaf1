"""`digest audit` (the reviewer's report of a run) and `digest purge` (retention)."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.markup import escape

from digest.cli.app import EXIT_AUDIT_PROBLEMS, console, handle_errors, main, settings_of


@main.command("audit")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--html", "html_path", type=click.Path(dir_okay=False), default=None,
              help="Where to write the HTML report (default: RUN_DIR/audit_report.html).")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None,
              help="Where to write the CSV report (default: RUN_DIR/audit_report.csv).")
@click.pass_context
@handle_errors
def audit_cmd(ctx: click.Context, run_dir: str, html_path: str | None, csv_path: str | None) -> None:
    """Privacy audit of a run folder: rules per recipient, chain integrity, exclusions (counts only).

    Exits 4 when anything needs a reviewer's attention, 0 when every check passed.
    """
    from pathlib import Path

    from rich.table import Table

    from digest.audit.report import report, write_csv, write_html

    result = report(run_dir, settings_of(ctx))  # the settings open sealed messages to check their hash
    html = write_html(result, html_path or Path(run_dir) / "audit_report.html")
    csv_file = write_csv(result, csv_path or Path(run_dir) / "audit_report.csv")
    console.print(f"privacy audit of {result.week}: {result.records} record(s); chain "
                  + ("[green]intact[/]" if result.chain_ok else "[red]BROKEN[/]")
                  + ("" if result.gate_run else "; [yellow]the privacy gate has not run[/]"))
    for problem in result.chain_problems:
        console.print(f"  [red]-[/] {escape(str(problem))}", soft_wrap=True)
    table = Table("check", "count")
    for name, value in result.counts.items():
        table.add_row(name.replace("_", " "), str(value))
    for rule, failing in result.rule_failures.items():
        table.add_row(f"failing rule: {rule}", str(failing))
    for reason in ("excluded_domain", "excluded_address"):
        table.add_row(f"dropped ({reason.replace('_', ' ')})", str(sum((result.exclusions.get(reason) or {}).values())))
    table.add_row("opted-out sellers", str(result.exclusions.get("opted_out_sellers", 0)))
    table.add_row("  of them with the email's unsubscribe link", str(result.exclusions.get("opted_out_by_link", 0)))
    console.print(table)
    console.print(f"reports: {html} and {csv_file}")
    if not result.ok:
        sys.exit(EXIT_AUDIT_PROBLEMS)


@main.command("purge")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Apply retention as of this day (default: today on this machine).")
@click.pass_context
@handle_errors
def purge_cmd(ctx: click.Context, today: Any) -> None:
    """Delete raw uploads, rendered emails past their retention and delivered emails (privacy.*_days settings)."""
    import datetime as dt

    from digest.pipeline.report import purge_all

    counts = purge_all(settings_of(ctx), today.date() if today else dt.date.today())
    console.print("purged: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items()))
