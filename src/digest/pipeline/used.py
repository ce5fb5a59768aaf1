"""The interactions each cohort's cards were built from, kept in the run folder for its render step.

The audit records of a batch name the (salted) interactions its cards used; metrics knows them
while it computes the cards, and matching them again for the render step cost as much as the cards
(22 s per cohort of 2,200 sellers at 20,000). So the cards step writes them once per cohort to
``runs/<week>/.work/interactions/<cohort>.arrow`` (Arrow IPC; sealed with the week's key on real
data, like the messages: they hold addresses and interaction ids) and the render step, in the same
process or another Airflow task, reads them back. A missing or unreadable file is matched again.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from digest.config import Settings
from digest.errors import InputError
from digest.pipeline.steps import run_folder
from digest.weeks import IsoWeek

if TYPE_CHECKING:  # pyarrow stays out of DAG parsing
    import pyarrow as pa

FOLDER = ".work/interactions"


def _path(settings: Settings, week: IsoWeek, cohort_id: str):
    return run_folder(settings, week).root / FOLDER / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', cohort_id)}.arrow"


def write_used(settings: Settings, week: IsoWeek, cohort_id: str, table: "pa.Table") -> None:
    """Keep a cohort's (seller, kind, interaction_id) rows for its render step (atomically; sealed on real data)."""
    import pyarrow as pa

    from digest.sealed import sealing_key, write_message

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    path = _path(settings, week, cohort_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    for old in (path, path.with_name(path.name + ".sealed")):  # the other form, from a run on other data, goes
        old.unlink(missing_ok=True)
    write_message(path, sink.getvalue().to_pybytes(), sealing_key(settings, str(week)))


def read_used(settings: Settings, week: IsoWeek, cohort_id: str) -> "pa.Table | None":
    """A cohort's rows as its cards step wrote them, or None when there are none to read (then match them again)."""
    import pyarrow as pa

    from digest.sealed import opener

    path = _path(settings, week, cohort_id)
    sealed = path.with_name(path.name + ".sealed")
    source = sealed if sealed.is_file() else path
    if not source.is_file():
        return None
    try:
        return pa.ipc.open_stream(opener(settings, str(week))(source)).read_all()
    except (InputError, OSError, pa.ArrowInvalid):
        return None
