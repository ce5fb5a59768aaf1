"""`digest …`: the command group (app) and one module per command family, each registering itself on `main`.

May import every stage of the library; Airflow only through digest.airflow, loaded inside the commands that need it.
"""

from digest.cli.app import main
from digest.cli import compute, config, coverage, data, deliver, privacy, pull, run, sample, scheduler  # noqa: E402,F401 - register commands

__all__ = ["main"]
