"""`digest sample`: generate a synthetic company as a data folder."""

from __future__ import annotations

import click

from digest.config import RelationshipSettings
from digest.cli.app import console, err_console, handle_errors, main, settings_of


@main.command("sample")
@click.option("--sellers", type=click.IntRange(1), default=50, show_default=True, help="Number of sellers (the company grows around them).")
@click.option("--weeks", type=click.IntRange(1, 104), default=RelationshipSettings().window_weeks, show_default=True,
              help="Weeks of collaboration data (9 = the relationship card's window; the other cards need 4).")
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

    from digest.sample.generator import generate_sample
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
