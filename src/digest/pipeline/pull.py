"""The pull step: which mailboxes to pull (the sellers in force, via metrics) and the Graph pull into the data folder.

It lives in the pipeline because it joins two stages: ``digest.sources.pull`` fetches, and the
seller list of CONTRACT.md §2 is the metrics engine's.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from digest.config import Settings
from digest.errors import InputError
from digest.weeks import IsoWeek

if TYPE_CHECKING:  # requests and pyarrow stay out of DAG parsing
    from digest.sources.pull.source import PullResult


def sellers_in_force(folder: Path, settings: Settings, week: IsoWeek) -> list[str]:
    """The sellers of the week from the data folder's org and CRM files (CONTRACT.md §2), sorted."""
    from digest.sources.contract import FILES, Dataset, empty_table
    from digest.metrics.session import list_seller_emails
    from digest.sources.files import load_file

    tables = {}
    for spec in FILES:
        loaded = None if spec.path.startswith("collaboration/") else load_file(folder, spec)
        if loaded is None and spec.key in ("people", "assignments"):
            raise InputError(f"{folder / spec.path} is missing: the pull takes its mailboxes from the sellers in org and CRM data. "
                             "Add the file, or name the mailboxes (pull.mailboxes or `digest pull --mailbox`).")
        tables[spec.key] = empty_table(spec) if loaded is None else loaded[0]
    return list_seller_emails(Dataset(**tables), week, settings)


def pull_into(settings: Settings, week: IsoWeek, folder: str | Path | None = None, mailboxes: Sequence[str] = (),
              progress=None, sleep: Callable[[float], None] = time.sleep) -> PullResult:
    """Pull `week` into `folder` (default data.folder) for `mailboxes`, else pull.mailboxes, else the sellers in force."""
    target = Path(folder or settings.data.folder)
    chosen = list(mailboxes) or list(settings.pull.mailboxes) or sellers_in_force(target, settings, week)
    if not chosen:
        raise InputError(f"no mailbox to pull for {week}: no seller in force in {target} (assignments, org data, opt-outs). "
                         "Name mailboxes with --mailbox or pull.mailboxes.")
    from digest.sources.pull.source import graph_source

    return graph_source(settings, sleep).pull_week(week, chosen, target, progress)
