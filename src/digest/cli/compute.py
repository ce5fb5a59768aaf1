"""`digest cards` (compute a week's cards as JSON Lines) and `digest render` (cards into .eml files and previews)."""

from __future__ import annotations

import click
from rich.markup import escape

from digest.cli.app import console, err_console, handle_errors, main, settings_of


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
    from digest.metrics.engine import compute_cards
    from digest.runfolder import write_atomic
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
                          + escape(", ".join(missing)), soft_wrap=True)


@main.command("render")
@click.option("--cards", "cards_path", type=click.Path(dir_okay=False), required=True,
              help="Cards file (JSON Lines, one seller a line, as `digest cards` writes it).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Folder for the .eml files, their HTML previews and index.html.")
@click.option("--data-as-of", default=None, help="Date shown as 'Data as of' in every footer (default: today).")
@click.option("--preview/--no-preview", default=None,
              help="Also write readable HTML previews and an index page (default: only for the demo's generated sample).")
@click.pass_context
@handle_errors
def render_cmd(ctx: click.Context, cards_path: str, out_dir: str, data_as_of: str | None, preview: bool | None) -> None:
    """Render the email of every seller in a cards file into .eml files (with --preview, HTML previews and an index page)."""
    import datetime as dt
    import json
    from pathlib import Path

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from digest.cards import read_cards
    from digest.delivery.outbox import write_outbox
    from digest.errors import InputError
    from digest.email.render import render_all
    from digest.sealed import is_sample
    from digest.sources.optouts import unsubscribe_headers

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
        emails = render_all(cards, settings.render, as_of, relationship_weeks=settings.relationship.window_weeks)
        summary = write_outbox(emails, out_dir, sender=settings.render.sender_address,
                               title=f"{settings.render.product_name}: outbox preview", data_as_of=as_of,
                               progress=lambda done: bar.update(task, completed=done),
                               headers=lambda who: unsubscribe_headers(settings, who),
                               previews=is_sample(settings) if preview is None else preview)
    average = summary.total_bytes / summary.rendered / 1024 if summary.rendered else 0
    console.print(f"rendered {summary.rendered} email(s) into {out_dir} (average {average:.0f} KB); "
                  f"skipped {len(summary.skipped)}", soft_wrap=True)
    for recipient, reason in summary.skipped:
        console.print(f"  skipped {recipient}: {reason}", soft_wrap=True, markup=False)
    if summary.index is not None:
        err_console.print("[yellow]the previews are readable by anyone who can read this folder[/]: delete them once checked.")
        console.print(f"open {summary.index.resolve().as_uri()} to preview them", soft_wrap=True)
