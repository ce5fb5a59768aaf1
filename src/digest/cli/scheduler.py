"""`digest airflow up|down|status|dags-test`: the embedded Airflow, and one DAG run with `airflow dags test`."""

from __future__ import annotations

import sys
from typing import Any

import click

from digest.cli.app import EXIT_SERVICE, console, err_console, handle_errors, main, settings_of, weekly_run_options
from digest.config import Settings


@main.group("airflow")
def airflow_group() -> None:
    """Run Airflow on this machine (embedded mode: SQLite, LocalExecutor, 127.0.0.1 only)."""


@airflow_group.command("up")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="API/UI port (default: the airflow.api_port setting).")
@click.pass_context
@handle_errors
def airflow_up_cmd(ctx: click.Context, port: int | None) -> None:
    """Start the Airflow UI, scheduler and dag-processor in the background (stop with `digest airflow down`)."""
    from digest.airflow import launcher

    settings = settings_of(ctx)
    home = launcher.up(settings, port=port)
    console.print(f"Airflow is up: http://127.0.0.1:{port or settings.airflow.api_port}/  (user admin, password in {home.passwords})")
    console.print(f"admin pages: http://127.0.0.1:{port or settings.airflow.api_port}/seller-digest/   logs: {home.logs}")


@airflow_group.command("down")
@click.pass_context
@handle_errors
def airflow_down_cmd(ctx: click.Context) -> None:
    """Stop every Airflow process `digest airflow up` started (and their children)."""
    from digest.airflow import launcher

    stopped = launcher.down(settings_of(ctx))
    console.print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


@airflow_group.command("status")
@click.pass_context
@handle_errors
def airflow_status_cmd(ctx: click.Context) -> None:
    """Show which embedded Airflow processes run, and their logs."""
    from digest.airflow import launcher

    for s in launcher.status(settings_of(ctx)):
        console.print(f"  {s.name:<14} {'running' if s.running else 'stopped':<8} pid {s.pid or '-':<8} log {s.log}")


@airflow_group.command("dags-test")
@weekly_run_options
@click.pass_context
@handle_errors
def airflow_dags_test_cmd(ctx: click.Context, week: str | None, sellers: tuple[str, ...], delivery: str | None, dry_run: bool) -> None:
    """Run the weekly DAG once, for real, with `airflow dags test` on the embedded SQLite database."""
    import datetime as dt

    from digest.airflow import launcher
    from digest.weeks import IsoWeek

    settings = settings_of(ctx)
    chosen = launcher.check_week(week) or IsoWeek.last_week(dt.date.today())
    run_dag_once(settings, chosen, sellers=sellers, delivery=delivery, dry_run=dry_run)


def run_dag_once(settings: Settings, week: Any, *, hint: str = "", **params: Any) -> None:
    """Run the weekly DAG with `airflow dags test`, print each step's counts; exit 3 when the run failed."""
    from digest.airflow import launcher

    summary = launcher.run_weekly_embedded(settings, week, **params)
    for step, counts in summary.steps.items():
        console.print(f"  {step:<10} " + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in counts.items()))
    console.print(f"weekly DAG {summary.state} for {summary.week} in {summary.seconds:.1f} s; report {summary.report}; log {summary.log}")
    if summary.state != "success":
        err_console.print(f"[bold red]error:[/] the DAG run failed ({summary.failures} failure(s) in {summary.report}): "
                          f"read {summary.log}{hint}.")
        sys.exit(EXIT_SERVICE)
