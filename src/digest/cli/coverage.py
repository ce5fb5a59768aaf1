"""`digest coverage`: the CRM data page's figures (coverage.json) and downloads (CSVs) for a week."""

from __future__ import annotations

import click

from digest.cli.app import console, handle_errors, main, settings_of


@main.command("coverage")
@click.option("--data", "data_dir", type=click.Path(file_okay=False), default=None,
              help="Data folder (default: the data.folder setting).")
@click.option("--week", default=None, help="ISO week, like 2026-W47 (default: last week): the CRM in force on its Sunday.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Folder for coverage.json and the CSV downloads.")
@click.pass_context
@handle_errors
def coverage_cmd(ctx: click.Context, data_dir: str | None, week: str | None, out_dir: str) -> None:
    """Join coverage, external collaborators matched, account collaboration and attributes of the CRM data (docs/data-contract.md)."""
    import datetime as dt
    from pathlib import Path

    from digest.pipeline.coverage import write_coverage
    from digest.weeks import IsoWeek

    settings = settings_of(ctx)
    reported = IsoWeek.parse(week) if week else IsoWeek.last_week(dt.date.today())
    folder = Path(data_dir) if data_dir else None
    doc = write_coverage(settings, reported, Path(out_dir), data_folder=folder)
    join, ext = doc["join"], doc["external_collaborators"]

    def pct(share: dict) -> str:
        return "–" if share["pct"] is None else f"{share['pct']:.1f} %"

    console.print(f"CRM data for {reported} (in force on {doc['as_of']}): {doc['counts']['accounts']:,} accounts, "
                  f"{doc['counts']['contacts']:,} contacts, {doc['counts']['seller_assignments']:,} seller assignments",
                  soft_wrap=True, markup=False)
    console.print(f"join coverage: contacts {pct(join['contacts'])}, seller assignments {pct(join['seller_assignments'])}, "
                  f"accounts with a contact {pct(join['accounts_with_contacts'])}, with an assignment "
                  f"{pct(join['accounts_with_assignments'])}", soft_wrap=True, markup=False)
    matched = "–" if ext["matched_pct"] is None else f"{ext['matched_pct']:.1f} %"
    console.print(f"external collaborators: {ext['all']:,}, matched {matched} (default {ext['default']:,}, "
                  f"extrapolation {ext['extrapolation']:,}, not associated {ext['not_associated']:,})", soft_wrap=True, markup=False)
    for notice in doc["notices"]:
        detail = "; ".join(notice.get("gaps", [])) or f"{notice['path']}: {notice['status']}"
        console.print(f"notice: {notice['title']}: {detail}", soft_wrap=True, markup=False)
    console.print(f"written to {out_dir}: coverage.json, {', '.join(doc['files'].values())}", soft_wrap=True, markup=False)
