"""The `digest` command group and what every command shares: settings, consoles, error handling, exit codes.

Each command family lives in its own module of digest.cli and registers itself on :func:`main`.

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
from rich.markup import escape

from digest.config import Settings, load_settings
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
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True, soft_wrap=True)  # [brackets] of the text stay
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


EXIT_AUDIT_PROBLEMS = 4  # `digest audit` found a broken chain, a changed email or a blocked recipient


def print_outcomes(settings: Settings, week: object) -> dict[str, int]:
    """Print every seller's state counted (they add up to the sellers in scope) and the reasons; returns the counts."""
    from digest.pipeline.outcomes import count_states, seller_outcomes, summarize

    outcomes = seller_outcomes(settings, week)
    summary = summarize(outcomes)
    counts = count_states(outcomes)
    console.print(f"  sellers in scope {summary['in_scope']:,}: " + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in counts.items()),
                  markup=False)
    for state, reasons in summary["reasons"].items():
        for reason, n in reasons.items():
            console.print(f"    {state}: {n:,} x {reason}", markup=False, soft_wrap=True)
    return counts
