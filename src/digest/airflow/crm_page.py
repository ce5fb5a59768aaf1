"""The "CRM data" admin page, shaped for people from the latest coverage.json (no Airflow here).

Charts are inline SVG drawn by the template from the bar lengths computed here (no script, no CDN);
sorting, the attribute picker and the search box are a small inline script over the page's own data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from digest.config import Settings
from digest.pipeline import latest_coverage
from digest.pipeline.coverage_files import CSV_FILES

CHART_ACCOUNTS = 15  # accounts in each account chart (the table and the downloads have the rest)
BAR_PX = 420


def download_names() -> set[str]:
    """The only file names the page serves (never a path from a request)."""
    return set(CSV_FILES.values())


def coverage_folder(settings: Settings) -> Path | None:
    """The folder of the coverage the page shows, None before the first computation."""
    return latest_coverage(settings)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f} %"


def _hours(h: dict[str, Any]) -> str:
    return "" if h["hours"] is None else f"{h['hours']:,.2f}"


def _bars(rows: list[dict[str, Any]], first: str, second: str) -> list[dict[str, Any]]:
    """Two bars per account (e.g. default vs default + extrapolation) scaled to the largest value."""
    top = max([r[second] for r in rows] + [0]) or 1
    return [{"label": r["label"], "a": r[first], "b": r[second], "a_px": round(BAR_PX * r[first] / top, 1),
             "b_px": round(BAR_PX * r[second] / top, 1), "a_text": r[f"{first}_text"], "b_text": r[f"{second}_text"]}
            for r in rows]


def read_crm_page(settings: Settings) -> dict[str, Any]:
    """Everything the CRM data page shows; {'ready': False} before any coverage was computed."""
    folder = coverage_folder(settings)
    if folder is None:
        return {"ready": False}
    doc = json.loads((folder / "coverage.json").read_text(encoding="utf-8"))
    ext = doc["external_collaborators"]
    total = ext["all"] or 1
    split = [{"name": name, "n": f"{ext[key]:,}", "px": round(BAR_PX * ext[key] / total, 1), "colour": colour}
             for name, key, colour in (("matched by default", "default", "#0b6e79"),
                                       ("matched by extrapolation", "extrapolation", "#5fb3bd"),
                                       ("not associated", "not_associated", "#cbd2d9"))]
    x = 0.0
    for s in split:
        s["x"], x = x, x + s["px"]
    top = doc["accounts"]["top"]
    collab = [{"label": a["account_name"], "d": a["default_collaborators"], "t": a["collaborators"],
               "d_text": f"{a['default_collaborators']:,}", "t_text": f"{a['collaborators']:,}"}
              for a in sorted(top, key=lambda a: (-a["collaborators"], a["account_id"]))[:CHART_ACCOUNTS] if a["collaborators"]]
    timed = [{"label": a["account_name"], "d": a["default"]["hours"] or 0.0, "t": a["total"]["hours"],
              "d_text": _hours(a["default"]) or "hidden", "t_text": _hours(a["total"])}
             for a in top if a["total"]["hours"]][:CHART_ACCOUNTS]
    join = doc["join"]
    return {
        "ready": True, "week": doc["week"], "as_of": doc["as_of"], "window": doc["window"],
        "min_group_size": doc["min_group_size"],
        "counts": [(label, f"{doc['counts'][key]:,}") for label, key in (
            ("accounts", "accounts"), ("contacts", "contacts"), ("seller assignments", "seller_assignments"),
            ("employees (org data)", "employees"))],
        "processing": doc["processing"],
        "join": [(label, f"{join[key]['n']:,} of {join[key]['of']:,}", _pct(join[key]["pct"]),
                  join[key]["of"] and join[key]["n"] < join[key]["of"]) for label, key in (
            ("contacts on an account in force", "contacts"), ("seller assignments on an account in force", "seller_assignments"),
            ("accounts with at least one contact", "accounts_with_contacts"),
            ("accounts with at least one seller assignment", "accounts_with_assignments"))],
        "sellers_missing": join["sellers_missing_from_org"],
        "notices": doc["notices"],
        "external": {"all": f"{ext['all']:,}", "matched_pct": _pct(ext["matched_pct"]), "split": split,
                     "matched_px": round(BAR_PX * (ext["matched_pct"] or 0) / 100, 1)},
        "collab_chart": _bars(collab, "d", "t"),
        "time_chart": _bars(timed, "d", "t"),
        "accounts_shown": doc["accounts"]["shown"], "accounts_count": f"{doc['accounts']['count']:,}",
        "by_domain": [{**a, "total_text": _hours(a["total"]), "default_text": _hours(a["default"])}
                      for a in doc["accounts"]["by_domain"]],
        "attributes": [{**a, "coverage_text": _pct(a["coverage_pct"])} for a in doc["attributes"]],
        "top_values": {f"{a['data']}.{a['column']}": a["top"] for a in doc["attributes"]},
        "files": doc["files"],
    }
