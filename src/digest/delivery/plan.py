"""The delivery plan: how many emails, from how many mailboxes, and when the last one goes out.

The model is the pacing :class:`digest.delivery.throttle.MailboxPace` enforces: per mailbox,
`per_window` messages as fast as `max_in_flight` parallel slots of two requests go, then the same
again one window later (plus one answer time, since a send counts from its answer), and a new day
window after `recipients_per_day`. Recipients are sent in deadline order
(the earliest local "Mon 09:00" first), spread round-robin over the mailboxes.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from digest.delivery.throttle import Limits
from digest.weeks import IsoWeek



@dataclass(frozen=True)
class DeliveryPlan:
    """What `digest send --plan` prints; `late` counts emails expected after their local deadline."""

    week: str
    emails: int
    mailboxes: int
    per_mailbox: dict[str, int]
    start: dt.datetime
    finish: dt.datetime
    deadline: str
    late: int
    first_deadline: dt.datetime | None
    already_sent: int = 0
    blocked: int = 0
    via: str = "graph"
    started_late: int = 0  # emails whose deadline had passed before delivery started

    @property
    def duration(self) -> dt.timedelta:
        return self.finish - self.start

    def warnings(self) -> list[str]:
        """Human warnings: emails after their deadline, and the fix that would help (silent for the outbox)."""
        if not self.late or self.via != "graph":
            return []
        out = []
        if self.started_late:
            out.append(f"{self.started_late} of {self.emails} email(s) are late because delivery started after their deadline "
                       f"({self.deadline} in the seller's zone): start the weekly run earlier (airflow.schedule).")
        paced = self.late - self.started_late
        if paced > 0:
            out.append(f"{paced} of {self.emails} email(s) are expected after their deadline ({self.deadline} in the seller's zone) "
                       f"because {self.mailboxes} sender mailbox(es) cannot send them in time; the last goes out at "
                       f"{self.finish:%a %Y-%m-%d %H:%M %Z}. Add about {self.mailboxes_needed() - self.mailboxes} mailbox(es) "
                       "to delivery.sender_mailboxes.")
        return out

    def mailboxes_needed(self) -> int:
        """Mailboxes that would send everything before the first deadline (at least one more than now when late)."""
        if self.first_deadline is None or self.first_deadline <= self.start:
            return self.mailboxes
        available = (self.first_deadline - self.start).total_seconds()
        needed = math.ceil(self.mailboxes * self.duration.total_seconds() / max(available, 1.0))
        return max(needed, self.mailboxes + 1)

    def to_dict(self) -> dict:
        return {"week": self.week, "emails": self.emails, "mailboxes": self.mailboxes, "per_mailbox": self.per_mailbox,
                "start": self.start.isoformat(), "finish": self.finish.isoformat(), "duration_seconds": self.duration.total_seconds(),
                "deadline": self.deadline, "late": self.late, "already_sent": self.already_sent, "blocked": self.blocked,
                "first_deadline": self.first_deadline.isoformat() if self.first_deadline else None, "via": self.via,
                "started_late": self.started_late}


def deadline_at(week: IsoWeek | str, rule: str, time_zone: str) -> dt.datetime:
    """The deadline of a seller in `time_zone` for the digest of `week` (rule like 'Mon 09:00', in the week after)."""
    return IsoWeek.parse(str(week)).local_moment(rule, _zone_name(time_zone), "delivery.deadline")


def _zone_name(name: str) -> str:
    try:
        ZoneInfo(name)
        return name
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"


def seller_zones(cards_path: Path, default: str) -> dict[str, str]:
    """Seller address (lower-case) → time zone, from cards.jsonl; empty when the file is missing.

    Every deliver batch orders the whole run by deadline: the zones come from the cards file's line index
    (digest.cards.zones_of), made once per version of the file, not once per batch."""
    from digest.cards import zones_of

    if not cards_path.is_file():
        return {}
    return {seller.lower(): zone or default for seller, zone in zones_of(cards_path).items()}


def send_offsets(count: int, limits: Limits, request_seconds: float) -> list[float]:
    """Seconds after the start at which the k-th message of one mailbox is expected to be sent.

    Within a window the messages go as fast as max_in_flight parallel slots of two requests allow;
    a window's k-th message frees its place one window (plus the answer time) after it was sent,
    so every window repeats the first one's ramp, shifted. A slow service can be the bottleneck instead.
    """
    per_slot = 2 * request_seconds / max(1, limits.max_in_flight)  # create + send, max_in_flight at once
    out = []
    for k in range(count):
        day, in_day = divmod(k, limits.recipients_per_day)
        windows, in_window = divmod(in_day, limits.per_window)
        paced = day * limits.day_seconds + windows * (limits.window_seconds + request_seconds) + in_window * per_slot
        out.append(max(paced, k * per_slot) + 2 * request_seconds)
    return out


def order_by_deadline(recipients: Sequence[str], week: IsoWeek | str, rule: str, zones: dict[str, str], default: str) -> list[tuple[str, dt.datetime]]:
    """Recipients with their deadline, earliest deadline first (ties by address, for a stable order)."""
    cache: dict[str, dt.datetime] = {}
    out = []
    for r in recipients:
        zone = zones.get(r.lower(), default)
        if zone not in cache:
            cache[zone] = deadline_at(week, rule, zone)
        out.append((r, cache[zone]))
    out.sort(key=lambda x: (x[1].astimezone(dt.timezone.utc), x[0]))
    return out


def make_plan(week: str, queues: dict[str, list[tuple[str, dt.datetime]]], limits: Limits, request_seconds: float,
              start: dt.datetime, rule: str, already_sent: int = 0, blocked: int = 0, *, via: str = "graph") -> DeliveryPlan:
    """Predict the finish of sending each mailbox's queue (recipient, deadline) from `start` (aware); the outbox is not paced."""
    finish, late, started_late, first = start, 0, 0, None
    for queue in queues.values():
        offsets = send_offsets(len(queue), limits, request_seconds) if via == "graph" else [0.0] * len(queue)
        for (_, deadline), offset in zip(queue, offsets):
            when = start + dt.timedelta(seconds=offset)
            finish = max(finish, when)
            late += when > deadline
            started_late += start > deadline
            first = deadline if first is None or deadline < first else first
    return DeliveryPlan(week, sum(len(q) for q in queues.values()), len([q for q in queues.values() if q]),
                        {m: len(q) for m, q in queues.items()}, start, finish, rule, late, first, already_sent, blocked,
                        via, started_late)


def record_plan(run_root: Path, plan: DeliveryPlan, cohort: str | None = None) -> None:
    """Keep the plan in runs/<week>/report.json under "delivery_plan" (the admin page shows it), and a cohort's under "cohort_plans"."""
    from digest.runfolder import RunFolder, write_atomic

    path = run_root / "report.json"
    with RunFolder(run_root).locked(".report.lock"):  # the lock every writer of report.json takes
        doc = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {"week": plan.week, "steps": {}}
        doc["delivery_plan"] = {**plan.to_dict(), "warnings": plan.warnings()}
        if cohort:
            doc.setdefault("cohort_plans", {})[cohort] = doc["delivery_plan"]
        write_atomic(path, json.dumps(doc, indent=2, sort_keys=True) + "\n")
