"""`digest pull`: pull a week's collaboration metadata from Microsoft Graph into a data folder."""

from __future__ import annotations

import datetime as dt
import sys

import click

from digest.cli.app import EXIT_SERVICE, console, err_console, handle_errors, main, settings_of


@main.command("pull")
@click.option("--week", default=None, help="ISO week to pull, like 2026-W47 (default: last week); pull.weeks weeks end with it.")
@click.option("--mailbox", "mailboxes", multiple=True,
              help="Only this mailbox (repeat for several; default: pull.mailboxes, else the sellers of the week).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Data folder whose collaboration/ files are replaced (default: the data.folder setting).")
@click.pass_context
@handle_errors
def pull_cmd(ctx: click.Context, week: str | None, mailboxes: tuple[str, ...], out_dir: str | None) -> None:
    """Pull collaboration metadata (never subjects, bodies or message text) from Microsoft Graph into a data folder (docs/pull.md)."""
    from pathlib import Path

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from digest.pipeline.pull import pull_into, sellers_in_force
    from digest.weeks import IsoWeek

    settings = settings_of(ctx)
    chosen = IsoWeek.parse(week) if week else IsoWeek.last_week(dt.date.today())
    folder = Path(out_dir or settings.data.folder)
    boxes = [m.strip().lower() for m in mailboxes if m.strip()] or list(settings.pull.mailboxes) or sellers_in_force(folder, settings, chosen)
    console.print(f"pulling {chosen} ({settings.pull.weeks} week(s)) for {len(boxes):,} mailbox(es) from {settings.graph.graph_url} into {folder}")
    refused: list[str] = []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, transient=True) as bar:
        task = bar.add_task("mailboxes", total=len(boxes))

        def tick(mailbox: str, counts, error: str | None) -> None:
            bar.advance(task)
            if error:
                refused.append(error)

        result = pull_into(settings, chosen, folder, boxes, progress=tick)
    console.print(f"pulled {len(result.mailboxes):,} mailbox(es) in {result.seconds:.1f} s "
                  f"({result.requests:,} requests, {result.throttled:,} throttled and retried)")
    for key, n in result.counts.items():
        console.print(f"  {key:<18} {n:>10,} rows")
    console.print(f"  files            {result.folder / 'collaboration'}  (pull.json: counts per mailbox, errors)")
    if result.errors:
        err_console.print(f"[yellow]{len(result.errors)} mailbox/kind pull(s) refused[/] (the others were pulled):")
        for e in result.errors[:15]:
            err_console.print(f"  {e['mailbox']} ({e['kind']}): {e['fix']} [{e['status']} {e['code']}]", soft_wrap=True, markup=False)
        if len(result.errors) > 15:
            err_console.print(f"  … and {len(result.errors) - 15} more in pull.json")
        if not set(result.mailboxes) - {e["mailbox"] for e in result.errors}:
            sys.exit(EXIT_SERVICE)  # no mailbox came back whole
