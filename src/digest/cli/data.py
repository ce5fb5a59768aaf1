"""`digest validate` and `digest upload`: check data against the contract; accept uploads into the store."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from digest.cli.app import EXIT_BAD_INPUT, console, err_console, handle_errors, main, settings_of
from digest.errors import InputError

MAPPING_HELP = "Column mapping (TOML) for an export with its own file names and headers (docs/data-contract.md)."


@main.command("validate")
@click.argument("path", required=False, type=click.Path())
@click.option("--data", "data_dir", type=click.Path(), default=None,
              help="Data folder or upload (a folder, or one CSV named like a contract file) to check; "
                   "default: the data.folder setting. The same as giving PATH.")
@click.option("--mapping", type=click.Path(dir_okay=False), default=None, help=MAPPING_HELP)
@click.pass_context
@handle_errors
def validate_cmd(ctx: click.Context, path: str | None, data_dir: str | None, mapping: str | None) -> None:
    """Check a data folder or an upload against the data contract; nothing is changed.

    Prints each file's rows and verdict (OK or rejected) and every problem: file, row, column,
    value and what was expected. Exits 2 when any file is rejected.
    """
    from digest.sources.upload import check_upload

    if path and data_dir and Path(path) != Path(data_dir):
        raise InputError(f"give the folder to check once: PATH ({path}) or --data ({data_dir}), not both.")
    settings = settings_of(ctx)
    target = Path(path or data_dir or settings.data.folder)
    if not target.exists():
        raise InputError(f"{target} does not exist: pass a data folder, an upload folder or one CSV file "
                         f"(or create a sample with `digest sample --out {target}`).")
    is_data_folder = target.resolve() == Path(settings.data.folder).resolve()
    with console.status(f"validating {target}…"):
        result = check_upload(target, settings, Path(mapping) if mapping else None, cache=is_data_folder and not mapping)
    if not result.files:
        raise InputError(f"{target} holds no file of the data contract"
                         + (f" (found: {', '.join(result.ignored[:10])})" if result.ignored else "")
                         + ": lay it out like the data folder (docs/data-contract.md) or pass the --mapping that names "
                           "the export's files.")
    table = Table("file", "from", "rows", "verdict", "problems", title=f"{target}" + (f" with mapping {mapping}" if mapping else ""))
    for check in result.files:
        verdict = "[green]OK[/]" if check.error is None else "[red]rejected[/]"
        rows = f"{check.rows:,}" if check.rows is not None else "-"
        problems = str(check.error.total) if check.error else "0"
        table.add_row(check.path, escape(check.source) if check.source != check.path else "", rows, verdict, problems)
    console.print(table)
    for check in result.files:
        if check.error is not None:
            console.print(f"[red]{escape(check.source)}[/]: {check.error.total} problem(s)"
                          + (f", first {len(check.error.problems)} shown" if check.error.total > len(check.error.problems) else ""))
            for problem in check.error.problems:
                console.print(f"  - {problem}", markup=False, soft_wrap=True)
    for notice in result.notices:
        console.print(f"[yellow]notice:[/] {escape(notice)}", soft_wrap=True)
    if result.ignored:
        shown = ", ".join(result.ignored[:8]) + (f" and {len(result.ignored) - 8} more" if len(result.ignored) > 8 else "")
        console.print(f"not contract files (ignored): {escape(shown)}", soft_wrap=True)
    accepted = sum(1 for c in result.files if c.error is None)
    rejected = len(result.files) - accepted
    lacking = ", ".join(result.missing[:3]) + (f" and {len(result.missing) - 3} more" if len(result.missing) > 3 else "")
    shape = "a complete data folder" if not result.missing else \
        f"an upload of {len(result.files)} file(s) (a complete data folder would also need {lacking})"
    console.print(f"{accepted} file(s) accepted, {rejected} rejected: {shape}.", soft_wrap=True)
    if rejected:
        err_console.print("[bold red]rejected:[/] fix the files listed above (docs/data-contract.md); "
                          "`digest upload` accepts an upload only when every file passes.")
        sys.exit(EXIT_BAD_INPUT)


@main.command("upload")
@click.argument("path", type=click.Path())
@click.option("--mode", type=click.Choice(["replace", "append"]), default="replace", show_default=True,
              help="replace: each file replaces the current one; append: its rows are added to the current file.")
@click.option("--mapping", type=click.Path(dir_okay=False), default=None, help=MAPPING_HELP)
@click.pass_context
@handle_errors
def upload_cmd(ctx: click.Context, path: str, mode: str, mapping: str | None) -> None:
    """Accept an upload (a folder laid out like the data folder, or one CSV) and publish it into the data folder.

    Every file is validated first; if any is rejected nothing changes (exit 2) and every problem is
    listed. Accepted uploads are kept as snapshots in the data.store folder.
    """
    from digest.sources.store import accept_upload, list_snapshots, read_snapshot

    settings = settings_of(ctx)
    before = {s.name for s in list_snapshots(settings)}
    with console.status(f"validating {path}…"):
        folder = accept_upload(Path(path), settings, mode=mode, mapping=Path(mapping) if mapping else None,
                               now=dt.datetime.now(dt.timezone.utc))
    snap = read_snapshot(folder)
    if snap.name in before:
        console.print(f"already in force: the same content was accepted on {snap.uploaded:%Y-%m-%d %H:%M:%S} UTC as "
                      f"snapshot {snap.name}; nothing changed.")
        return
    table = Table("file", "from", "rows", "sha256", title=f"snapshot {snap.name} ({snap.mode})")
    for f in snap.files:
        table.add_row(f.path, escape(f.source) if f.source != f.path else "", f"{f.rows:,}", f.sha256[:12])
    console.print(table)
    console.print(f"accepted and published into {settings.data.folder}; snapshot kept in {folder} "
                  f"({len(list_snapshots(settings))} snapshot(s) in {settings.data.store}).", soft_wrap=True)
