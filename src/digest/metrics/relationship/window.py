"""The relationship window per time zone: ``relationship.window_weeks`` ISO weeks ending with the reported week."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Sequence
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc

from digest.config import RelationshipSettings
from digest.sources.contract import Dataset
from digest.weeks import IsoWeek


@dataclass(frozen=True)
class ZoneWindow:
    """The relationship window in one time zone: bounds (epoch seconds) and its ISO weeks."""

    start_iso: str  # window.start (moved to the first day of data when the data is shorter)
    end_iso: str
    weeks: tuple[tuple[int, str], ...]  # (week index 1..W, "2026-W47") of the weeks the window touches
    previous: bool  # the window one week earlier holds data (health_change is not null)


def zone_windows(week: IsoWeek, zones: Sequence[str], r: RelationshipSettings,
                 first_data: dt.datetime | None) -> tuple[pa.Table, dict[str, ZoneWindow]]:
    """Per time zone: the bounds table the SQL joins (rel_zones) and the window as the card writes it.

    Week j (0..W) is ``week.shift(j - W)``: the window is weeks 1..W, the one a week earlier 0..W-1.
    """
    n = r.window_weeks
    cols: dict[str, list] = {k: [] for k in ("tz", "start_iso", "r0", "rp0", "w0", "w1", "r1")}
    for j in range(n + 1):
        cols[f"b{j}"] = []
    out = {}
    for tz in zones:
        zone = ZoneInfo(tz)
        starts = [week.shift(j - n).bounds(tz)[0] for j in range(n + 1)]
        w0, w1 = week.bounds(tz)
        first = None if first_data is None else dt.datetime.combine(first_data.astimezone(zone).date(), dt.time(0), tzinfo=zone)
        r0 = min(max(starts[1], first), w1) if first else starts[1]
        rp0 = min(max(starts[0], first), w0) if first else starts[0]
        for key, value in (("tz", tz), ("start_iso", r0.isoformat()), ("r0", r0), ("rp0", rp0), ("w0", w0), ("w1", w1),
                           ("r1", w1 + dt.timedelta(days=r.lookahead_days))):
            cols[key].append(value if key in ("tz", "start_iso") else value.timestamp())
        for j, start in enumerate(starts):
            cols[f"b{j}"].append(start.timestamp())
        ends = starts[2:] + [w1]
        weeks = tuple((j, str(week.shift(j - n))) for j, end in zip(range(1, n + 1), ends) if end > r0)
        out[tz] = ZoneWindow(r0.isoformat(), w1.isoformat(), weeks, first is None or w0 > first)
    schema = pa.schema([("tz", pa.string()), ("start_iso", pa.string())]
                       + [(k, pa.float64()) for k in cols if k not in ("tz", "start_iso")])
    return pa.table(cols, schema=schema), out


def first_day_of_data(dataset: Dataset) -> dt.datetime | None:
    """The earliest start of any collaboration row (mail, meeting, call, chat message), UTC; None without any."""
    found = [pc.min(t.column(c)).as_py() for t, c in ((dataset.mails, "SentTime"), (dataset.meetings, "StartTime"),
                                                      (dataset.calls, "StartTime"), (dataset.chat_messages, "SentTime"))]
    found = [f for f in found if f is not None]
    return min(found) if found else None
