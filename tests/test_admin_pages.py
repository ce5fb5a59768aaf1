"""The admin run page without Airflow: steps in the order the run takes them, counts for people (5.1 MB, 1,234, 12.3 s)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from digest.airflow.pages import format_bytes, format_value, order_steps, page_steps, read_run, render_page
from digest.config import Settings
from digest.weeks import IsoWeek

WEEK = IsoWeek.parse("2026-W47")


def _report(tmp_path) -> Settings:
    """A report.json as the weekly run writes it (sorted keys, so the steps come alphabetically)."""
    settings = Settings().replace("runs", folder=str(tmp_path / "runs"))
    steps = {
        "snapshot": {"counts": {"mail": 1234567, "people": 50}, "seconds": 2.345},
        "cards": {"counts": {"sellers": 49}, "seconds": 7.0},
        "batches": {"counts": {"batches": 1, "sellers": 49}, "seconds": 0.01},
        "render": {"counts": {"rendered": 49, "skipped": 0, "bytes": 5123456, "audit_records": 49}, "seconds": 61.25},
        "audit_gate": {"counts": {"passed": 49, "blocked": 0}, "seconds": 0.4},
        "deliver": {"counts": {"sent": 49, "already_sent": 0}, "seconds": 1.0},
    }
    report = {"week": str(WEEK), "steps": {name: {"step": name, "week": str(WEEK), **s} for name, s in steps.items()},
              "delivery_plan": {"emails": 12000, "duration_seconds": 1234.56, "late": False, "warnings": []},
              "reasons": {"skipped: no email: no collaboration": 1200},
              "cohorts": [{"due_at": "2026-11-29T17:00:00Z", "zones": ["Pacific/Kiritimati"], "sellers": 3, "started_at": "x",
                           "states": {"sent": 2, "skipped": 1}, "late": 0},
                          {"due_at": "2026-11-30T15:00:00Z", "zones": ["America/Los_Angeles"], "sellers": 4000, "started_at": None,
                           "states": {"not_yet_due": 4000}, "late": 0}],
              "sellers": {"in_scope": 13249, "states": {"sent": 12000, "skipped": 1200, "blocked": 40, "failed": 9, "not_yet_due": 0}}}
    run = tmp_path / "runs" / str(WEEK)
    run.mkdir(parents=True)
    (run / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True), encoding="utf-8")
    return settings


def test_steps_come_in_the_order_the_run_takes_them():
    names = ["audit_gate", "batches", "cards", "deliver", "render", "report", "snapshot"]  # as report.json sorts them
    assert order_steps(names + ["plan_delivery"]) == ["snapshot", "cards", "batches", "render", "audit_gate", "plan_delivery",
                                                      "deliver", "report"]
    assert order_steps(["zeta", "deliver", "alpha", "snapshot"]) == ["snapshot", "deliver", "alpha", "zeta"]


def test_byte_counts_read_as_kb_and_mb():
    assert [format_bytes(n) for n in (0, 999, 1000, 5123, 999_949, 999_950, 5_123_456, 2_500_000_000)] == [
        "0 B", "999 B", "1.0 KB", "5.1 KB", "999.9 KB", "1.0 MB", "5.1 MB", "2.5 GB"]


def test_counts_get_thousands_separators_and_seconds_one_decimal():
    assert format_value("bytes", 5_123_456) == "5.1 MB"
    assert format_value("mail", 1_234_567) == "1,234,567"
    assert format_value("sent", 49) == "49"
    assert format_value("duration_seconds", 1234.56) == "1,234.6 s"
    assert format_value("late", False) == "no" and format_value("first_deadline", None) == "–"


def test_page_steps_shape_each_step_for_the_template():
    steps = page_steps({"render": {"counts": {"skipped": 2, "bytes": 5_123_456}, "seconds": 61.25},
                        "cards": {"counts": {"sellers": 12000}}})
    assert steps == [{"name": "cards", "counts": [("sellers", "12,000")], "seconds": ""},
                     {"name": "render", "counts": [("bytes", "5.1 MB"), ("skipped", "2")], "seconds": "61.2 s"}]


def test_the_run_page_shows_steps_in_run_order_with_human_numbers(tmp_path):
    page = render_page("admin_run.html.j2", run=read_run(_report(tmp_path), WEEK))
    headings = re.findall(r"<h2>(\w+)", page)
    assert headings[:6] == ["snapshot", "cards", "batches", "render", "audit_gate", "deliver"]
    for shown in ("<td>5.1 MB</td>", "<td>1,234,567</td>", "61.2 s", "2.3 s", "<th>already sent</th>",
                  "<td>12,000</td>", "<td>1,234.6 s</td>", "<td>1,200</td>"):
        assert shown in page, shown
    assert "5123456" not in page and "1234567" not in page


def test_the_run_page_counts_every_seller_in_scope(tmp_path):
    page = render_page("admin_run.html.j2", run=read_run(_report(tmp_path), WEEK))
    assert "13,249 seller(s) in scope" in page
    for state, count in (("sent", "12,000"), ("skipped", "1,200"), ("blocked", "40"), ("failed", "9"), ("not yet due", "0")):
        assert f"<tr><th>{state}</th><td>{count}</td></tr>" in page, state


def test_the_page_module_does_not_import_airflow():
    """Importing airflow configures it for the process: these pages (and their tests) must not."""
    code = "import sys, digest.airflow.pages; sys.exit('airflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], env=os.environ, timeout=60).returncode == 0


def test_the_run_page_lists_cohorts_in_due_order(tmp_path):
    page = render_page("admin_run.html.j2", run=read_run(_report(tmp_path), WEEK))
    assert page.index("2026-11-29T17:00:00Z") < page.index("2026-11-30T15:00:00Z")
    assert "<td>Pacific/Kiritimati</td><td>done</td><td>3</td><td>2</td><td>1</td><td>0</td><td>0</td>" in page
    assert "<td>America/Los_Angeles</td><td>waiting</td><td>4,000</td>" in page
