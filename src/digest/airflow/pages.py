"""What the admin pages show, shaped for people: steps in run order, byte counts in KB/MB, 1,234 not 1234.

No Airflow here (digest.airflow.admin adds the routes and the login), so the shaping and the page
templates are tested without an Airflow home. Templates only display what these functions give.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Mapping

from jinja2 import Environment, FileSystemLoader, select_autoescape

from digest.config import PROJECT_ROOT, Settings
from digest.pipeline import STATES, STEP_ORDER
from digest.weeks import IsoWeek

_templates = Environment(loader=FileSystemLoader(str(PROJECT_ROOT / "templates")), autoescape=select_autoescape(["j2", "html"]),
                         trim_blocks=True, lstrip_blocks=True)
BYTE_UNITS = ("KB", "MB", "GB", "TB")  # decimal: 1 KB = 1,000 bytes (as file managers and mail clients show sizes)


def render_page(template: str, **values: Any) -> str:
    """One admin page from templates/."""
    return _templates.get_template(template).render(**values)


def order_steps(names: Iterable[str]) -> list[str]:
    """Step names in the order a weekly run executes them; steps the run does not know go last, by name."""
    rank = {name: i for i, name in enumerate(STEP_ORDER)}
    return sorted(names, key=lambda name: (rank.get(name, len(rank)), name))


def format_bytes(count: int) -> str:
    """A byte count for people: '512 B', '5.1 KB', '5.1 MB' (one decimal, 1 KB = 1,000 bytes)."""
    if abs(count) < 1000:
        return f"{count:,} B"
    value = float(count)
    for unit in BYTE_UNITS:
        value /= 1000
        if abs(value) < 999.95 or unit == BYTE_UNITS[-1]:
            return f"{value:,.1f} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def format_seconds(seconds: float) -> str:
    """A duration for people: '12.3 s'."""
    return f"{seconds:,.1f} s"


def format_value(key: str, value: Any) -> str:
    """One count or plan value for people: bytes as KB/MB, seconds with one decimal, integers with thousands separators."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)) and (key == "bytes" or key.endswith("_bytes")):
        return format_bytes(int(value))
    if isinstance(value, (int, float)) and (key == "seconds" or key.endswith("_seconds")):
        return format_seconds(float(value))
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, (list, tuple)):
        return "; ".join(str(v) for v in value) or "–"
    return str(value)


def rows(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, text) rows of a table, by name: 'already_sent' is shown as 'already sent'."""
    return [(key.replace("_", " "), format_value(key, value)) for key, value in sorted(values.items())]


def page_steps(steps: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The steps of report.json in run order, each with its count rows and its time ('' when not recorded)."""
    out = []
    for name in order_steps(steps):
        step = steps[name]
        seconds = step.get("seconds")
        out.append({"name": name, "counts": rows(step.get("counts", {})),
                    "seconds": format_seconds(float(seconds)) if seconds is not None else ""})
    return out


def read_run(settings: Settings, week: IsoWeek) -> dict[str, Any]:
    """The report of one week, shaped for the page: steps with counts, failures with reasons."""
    path = Path(settings.runs.folder) / str(week) / "report.json"
    doc = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    steps = doc.get("steps", {})
    plan = doc.get("delivery_plan")
    return {
        "week": str(week),
        "has_report": path.is_file(),
        "steps": page_steps(steps),
        "failures": doc.get("failures", []),
        "plan": rows(plan) if plan else [],
        "reasons": [(reason, format_value(reason, count)) for reason, count in sorted(doc.get("reasons", {}).items())],
        "sellers": steps.get("cards", {}).get("counts", {}).get("sellers"),
        **seller_states(doc.get("sellers")),
        "cohorts": cohort_rows(doc.get("cohorts", [])),
    }


def cohort_rows(cohorts: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The run's cohorts for the page, in due order: due at, zones, state, sellers sent / skipped / failed / waiting, late."""
    rows = []
    for c in cohorts:
        states = c.get("states", {})
        waiting = int(states.get("not_yet_due", 0))
        state = "waiting" if not c.get("started_at") else ("failed" if states.get("failed") or states.get("blocked") else "done")
        rows.append({"due_at": str(c.get("due_at", "")), "zones": ", ".join(c.get("zones", [])) or "–", "state": state,
                     "sellers": format_value("sellers", int(c.get("sellers", 0))),
                     "sent": format_value("sent", int(states.get("sent", 0))),
                     "skipped": format_value("skipped", int(states.get("skipped", 0))),
                     "failed": format_value("failed", int(states.get("failed", 0)) + int(states.get("blocked", 0))),
                     "waiting": format_value("waiting", waiting), "late": format_value("late", int(c.get("late", 0)))})
    return rows


def seller_states(summary: Mapping[str, Any] | None) -> dict[str, Any]:
    """Every seller's state counted, in the order of STATES (they add up to the sellers in scope); empty before the report."""
    if not summary:
        return {"in_scope": None, "states": []}
    states = summary.get("states", {})
    return {"in_scope": format_value("in_scope", int(summary.get("in_scope", 0))),
            "states": [(state.replace("_", " "), format_value(state, int(states.get(state, 0)))) for state in STATES]}
