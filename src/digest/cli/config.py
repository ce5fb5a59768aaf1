"""`digest config`: the settings in force, or the documented example file."""

from __future__ import annotations

import click

from digest.cli.app import console, handle_errors, main, settings_of
from digest.config import example_toml, iter_settings, shown_value


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
        console.print(f"  {section}.{name} = {shown_value(value, f)!r}", markup=False)
