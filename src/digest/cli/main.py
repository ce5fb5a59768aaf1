"""`digest …`: the command line. Each command parses options, calls the library, prints a summary.

Exit codes: 0 success, 2 bad input (a file, folder, option or setting to fix), 3 an external
service failed, 1 an internal failure (a bug: please report it with the traceback).
"""

from __future__ import annotations

import functools
import sys
import traceback
from typing import Any, Callable

import click
from rich.console import Console

from digest.config import Settings, example_toml, iter_settings, load_settings
from digest.errors import DigestError

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_SERVICE = 0, 1, 2, 3

console = Console(stderr=False, highlight=False, soft_wrap=True)  # long lines stay whole in logs
err_console = Console(stderr=True, highlight=False)


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn library errors into a clear message and the right exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DigestError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", markup=True, soft_wrap=True)
            sys.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, KeyboardInterrupt):
            raise
        except Exception:  # noqa: BLE001 - last resort: an internal failure, reported as such
            err_console.print(traceback.format_exc(), markup=False)
            err_console.print("[bold red]internal error[/]: this is a bug in seller-digest; please report it with the traceback above.")
            sys.exit(EXIT_INTERNAL)

    return wrapper


def settings_of(ctx: click.Context) -> Settings:
    """The validated settings of this invocation (loaded once, at start-up)."""
    return ctx.find_object(Settings) or ctx.obj


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Settings file (default: $DIGEST_CONFIG, else ./digest.toml, else built-in defaults).")
@click.version_option(package_name="seller-digest", prog_name="digest")
@click.pass_context
@handle_errors
def main(ctx: click.Context, config_path: str | None) -> None:
    """seller-digest: weekly Seller insights emails from Office 365 metadata and CRM data."""
    ctx.obj = load_settings(config_path)


@main.command("config")
@click.option("--example", is_flag=True, help="Print the documented example file (every setting with its default) instead.")
@click.pass_context
@handle_errors
def config_cmd(ctx: click.Context, example: bool) -> None:
    """Show every setting in force and where it came from (secrets are masked)."""
    if example:
        click.echo(example_toml(), nl=False)
        return
    settings = settings_of(ctx)
    console.print(f"settings from: {settings.source}")
    for section, name, f in iter_settings():
        value = getattr(getattr(settings, section), name)
        shown = "***" if f.metadata.get("secret") and value else value
        console.print(f"  {section}.{name} = {shown!r}")


EXIT_AUDIT_PROBLEMS = 4  # `digest audit` found a broken chain, a changed email or a blocked recipient


@main.command("audit")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--html", "html_path", type=click.Path(dir_okay=False), default=None,
              help="Where to write the HTML report (default: RUN_DIR/audit_report.html).")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None,
              help="Where to write the CSV report (default: RUN_DIR/audit_report.csv).")
@handle_errors
def audit_cmd(run_dir: str, html_path: str | None, csv_path: str | None) -> None:
    """Privacy audit of a run folder: rules per recipient, chain integrity, exclusions (counts only).

    Exits 4 when anything needs a reviewer's attention, 0 when every check passed.
    """
    from pathlib import Path

    from rich.table import Table

    from digest.audit_report import report, write_csv, write_html

    result = report(run_dir)
    html = write_html(result, html_path or Path(run_dir) / "audit_report.html")
    csv_file = write_csv(result, csv_path or Path(run_dir) / "audit_report.csv")
    console.print(f"privacy audit of {result.week}: {result.records} record(s); chain "
                  + ("[green]intact[/]" if result.chain_ok else "[red]BROKEN[/]")
                  + ("" if result.gate_run else "; [yellow]the privacy gate has not run[/]"))
    for problem in result.chain_problems:
        console.print(f"  [red]-[/] {problem}", soft_wrap=True)
    table = Table("check", "count")
    for name, value in result.counts.items():
        table.add_row(name.replace("_", " "), str(value))
    for rule, failing in result.rule_failures.items():
        table.add_row(f"failing rule: {rule}", str(failing))
    for reason in ("excluded_domain", "excluded_address"):
        table.add_row(f"dropped ({reason.replace('_', ' ')})", str(sum((result.exclusions.get(reason) or {}).values())))
    table.add_row("opted-out sellers", str(result.exclusions.get("opted_out_sellers", 0)))
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
    """Delete raw uploads and rendered emails past their retention (privacy.*_days settings)."""
    import datetime as dt

    from digest.retention import purge

    counts = purge(settings_of(ctx), today.date() if today else dt.date.today())
    console.print("purged: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.to_dict().items()))


@main.command("sample")
@click.option("--sellers", type=click.IntRange(1), default=50, show_default=True, help="Number of sellers (the company grows around them).")
@click.option("--weeks", type=click.IntRange(1, 104), default=4, show_default=True, help="Weeks of collaboration data.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed: the same options give byte-identical files.")
@click.option("--end-week", default=None, help="Last generated ISO week, like 2026-W47 (default: last week).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Folder to write (default: the data.folder setting).")
@click.option("--chunk-sellers", type=click.IntRange(1), default=1000, show_default=True,
              help="Sellers generated and written at a time (bounds memory; does not change the data).")
@click.option("--force", is_flag=True, help="Write into a non-empty folder, replacing the sample files there.")
@click.pass_context
@handle_errors
def sample_cmd(ctx: click.Context, sellers: int, weeks: int, seed: int, end_week: str | None, out_dir: str | None,
               chunk_sellers: int, force: bool) -> None:
    """Generate a realistic synthetic company as a data folder (org, CRM, mail, meetings, calls, chats)."""
    import datetime as dt

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from digest.sources.sample import generate_sample
    from digest.weeks import IsoWeek

    last = IsoWeek.parse(end_week) if end_week else IsoWeek.last_week(dt.date.today())
    folder = out_dir or settings_of(ctx).data.folder
    columns = (TextColumn("sellers"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task("sample", total=sellers)
        summary = generate_sample(folder, sellers, weeks, seed, last, chunk_sellers=chunk_sellers, overwrite=force,
                                  progress=lambda done: bar.update(task, completed=done))
    console.print(f"sample company written to {summary.out_dir}: {summary.sellers:,} sellers, {summary.people:,} people, "
                  f"{summary.first_day} to {summary.last_day} ({summary.weeks} weeks ending {summary.end_week}), "
                  f"internal domain {summary.internal_domain}, seed {summary.seed}")
    table = Table("file", "rows", "size")
    for path, rows, size in summary.files:
        table.add_row(path, f"{rows:,}", f"{size / 1e6:,.1f} MB")
    table.add_row("total", f"{summary.total_rows:,}", f"{summary.total_bytes / 1e6:,.1f} MB")
    console.print(table)


@main.command("render")
@click.option("--cards", "cards_path", type=click.Path(dir_okay=False), required=True,
              help="Cards file (JSON Lines, one seller a line, as `digest cards` writes it).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Folder for the .eml files, their HTML previews and index.html.")
@click.option("--data-as-of", default=None, help="Date shown as 'Data as of' in every footer (default: today).")
@click.pass_context
@handle_errors
def render_cmd(ctx: click.Context, cards_path: str, out_dir: str, data_as_of: str | None) -> None:
    """Render the email of every seller in a cards file into .eml files plus previews and an index page."""
    import datetime as dt
    import json
    from pathlib import Path

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from digest.cards import read_cards
    from digest.delivery.outbox import write_outbox
    from digest.errors import InputError
    from digest.render import render_all

    settings = settings_of(ctx)
    path = Path(cards_path)
    if not path.is_file():
        raise InputError(f"cards file {path} does not exist. Write it with `digest cards` or pass the right --cards path.")
    lines = path.read_text(encoding="utf-8").splitlines()
    try:
        cards = list(read_cards(lines))
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputError(f"{path} is not a cards file ({type(exc).__name__}: {exc}). "
                         f"Each line must be one seller's cards as described in CONTRACT.md §6.") from None
    as_of = data_as_of or dt.date.today().isoformat()
    columns = (TextColumn("rendering"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task("render", total=len(cards))
        summary = write_outbox(render_all(cards, settings.render, as_of), out_dir, sender=settings.render.sender_address,
                               title=f"{settings.render.product_name}: outbox preview", data_as_of=as_of,
                               progress=lambda done: bar.update(task, completed=done))
    average = summary.total_bytes / summary.rendered / 1024 if summary.rendered else 0
    console.print(f"rendered {summary.rendered} email(s) into {out_dir} (average {average:.0f} KB); "
                  f"skipped {len(summary.skipped)}", soft_wrap=True)
    for recipient, reason in summary.skipped:
        console.print(f"  skipped {recipient}: {reason}", soft_wrap=True)
    console.print(f"open {summary.index.resolve().as_uri()} to preview them", soft_wrap=True)


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


def weekly_run_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options of one weekly run (the DAG's params): --week, --seller, --delivery, --dry-run."""
    for option in reversed((
        click.option("--week", default=None, help="ISO week to report, like 2026-W47 (default: last week)."),
        click.option("--seller", "sellers", multiple=True, help="Only this seller (repeat for several; default: every seller)."),
        click.option("--delivery", type=click.Choice(["outbox", "graph", "none"]), default=None,
                     help="How emails leave (default: the delivery.via setting); none = render and audit only."),
        click.option("--dry-run", is_flag=True, help="Plan and record deliveries without sending anything."),
    )):
        fn = option(fn)
    return fn


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


@main.command("cards")
@click.option("--data", "data_dir", type=click.Path(file_okay=False), default=None,
              help="Data folder (default: the data.folder setting).")
@click.option("--week", default=None, help="ISO week to report, like 2026-W47 (default: last week).")
@click.option("--sellers", default=None, help="Only these sellers, comma-separated emails (default: every seller of the week).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, allow_dash=True), default="-", show_default=True,
              help="JSON Lines file to write, one object per seller ('-' = standard output).")
@click.pass_context
@handle_errors
def cards_cmd(ctx: click.Context, data_dir: str | None, week: str | None, sellers: str | None, out_path: str) -> None:
    """Compute every seller's cards for a week (docs/metrics.md) as JSON Lines."""
    import datetime as dt
    import io
    from pathlib import Path

    from digest.cards import write_cards
    from digest.metrics import compute_cards
    from digest.pipeline import write_atomic
    from digest.sources.files import load_data
    from digest.weeks import IsoWeek

    settings = settings_of(ctx)
    reported = IsoWeek.parse(week) if week else IsoWeek.last_week(dt.date.today())
    wanted = [s.strip().lower() for s in sellers.split(",") if s.strip()] if sellers else None
    dataset = load_data(Path(data_dir or settings.data.folder), settings)
    cards = compute_cards(dataset, reported, settings, wanted)
    buf = io.StringIO()
    n = write_cards(cards, buf)
    if out_path == "-":
        click.echo(buf.getvalue(), nl=False)
    else:
        write_atomic(Path(out_path), buf.getvalue())
    missing = sorted(set(wanted or ()) - {c.seller for c in cards})
    err_console.print(f"cards of {n:,} seller(s) for {reported} written to {'standard output' if out_path == '-' else out_path}")
    if missing:
        err_console.print(f"[yellow]not sellers in {reported}[/] (no assignment in force, not in org data, or opted out): "
                          + ", ".join(missing), soft_wrap=True)


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
            console.print(f"[yellow]warning:[/] {warning}", soft_wrap=True)

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
    if summary.counts.get("failed"):
        sys.exit(EXIT_SERVICE)

# Commands defined in their own modules register themselves on `main` when imported.
from digest import cli_data, cli_pull, cli_run  # noqa: E402,F401

if __name__ == "__main__":  # pragma: no cover
    main()
