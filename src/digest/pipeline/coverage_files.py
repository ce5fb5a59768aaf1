"""The CRM data page's files: coverage.json (every figure) and the CSV downloads (docs/data-contract.md, "CRM data page").

CSV cells: numbers plain (no thousands separator, hours with 2 decimals, blank when the group-size
rule hides them); every text cell quoted, and one starting with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return is prefixed with a single quote, as OWASP recommends against spreadsheet formula injection.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from digest.runfolder import write_atomic

if TYPE_CHECKING:  # the value objects only; importing them would load duckdb and pyarrow where DAG files parse
    from digest.metrics.coverage import AccountFigures, Collaboration, Hours
    from digest.sources.coverage import Share, UploadCoverage
    from digest.sources.processing import Processing

PAGE_ACCOUNTS = 500  # accounts the page shows (by hours); the downloads have all of them
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ACCOUNTS_HEADER = ("AccountId", "AccountName", "TotalCollaboratorCount", "TotalCollaborationHours",
                   "DefaultCollaborationHours", "DefaultCollaboratorCount")
DOMAINS_HEADER = ("AccountId", "AccountName", "Domain", "TotalCollaboratorCount", "TotalCollaborationHours",
                  "DefaultCollaborationHours", "DefaultCollaboratorCount")
EMAILS_HEADER = ("AccountId", "AccountName", "Domain", "EmailAddress")
CSV_FILES = {"accounts": "accounts.csv", "accounts_by_domain": "accounts_by_domain.csv",
             "accounts_collaborator_emails": "accounts_collaborator_emails.csv",
             "contacts_not_associated": "contacts_not_associated.csv",
             "seller_assignments_not_associated": "seller_assignments_not_associated.csv"}


def csv_text(value: Any) -> str:
    """A text cell: quoted, inner quotes doubled, a leading formula character neutralised with a single quote."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS):
        text = "'" + text
    return '"' + text.replace('"', '""') + '"'


def csv_hours(hours: float | None) -> str:
    """Hours with 2 decimals, blank when hidden."""
    return "" if hours is None else f"{hours:.2f}"


def _line(cells: Iterable[str]) -> str:
    return ",".join(cells) + "\r\n"


def _account_cells(f: AccountFigures, with_domain: bool) -> list[str]:
    cells = [csv_text(f.account_id), csv_text(f.account_name)] + ([csv_text(f.domain)] if with_domain else [])
    return cells + [str(f.collaborators), csv_hours(f.total.hours), csv_hours(f.default.hours), str(f.default_collaborators)]


def csv_documents(upload: UploadCoverage, collab: Collaboration) -> dict[str, str]:
    """The text of every CSV download, by file name."""
    names = {f.account_id: f.account_name for f in collab.accounts}
    docs = {
        CSV_FILES["accounts"]: [_line(ACCOUNTS_HEADER)] + [_line(_account_cells(f, False)) for f in collab.accounts],
        CSV_FILES["accounts_by_domain"]: [_line(DOMAINS_HEADER)] + [_line(_account_cells(f, True)) for f in collab.domains],
        CSV_FILES["accounts_collaborator_emails"]: [_line(EMAILS_HEADER)] + [
            _line([csv_text(c.account_id), csv_text(names.get(c.account_id, "")), csv_text(c.domain), csv_text(c.email)])
            for c in collab.collaborators],
    }
    for unjoined in upload.unjoined:
        name = CSV_FILES[f"{unjoined.data}_not_associated"]
        docs[name] = [_line(["Row"] + [csv_text(h) for h in unjoined.header])] + [
            _line([str(row)] + [csv_text(v) for v in values]) for row, values in unjoined.rows]
    return {name: "".join(lines) for name, lines in docs.items()}


def _share(s: Share) -> dict[str, Any]:
    return {"n": s.n, "of": s.of, "pct": None if s.pct is None else round(s.pct, 2)}


def _hours(h: Hours, minimum: int) -> dict[str, Any]:
    hours = None if h.hours is None else round(h.hours, 2)
    why = None if h.hours is not None else (f"fewer than {minimum} employees (privacy.min_group_size) have time with it"
                                            if h.employees else "no time with it in the window")
    return {"hours": hours, "hidden": why}


def _account(f: AccountFigures, minimum: int) -> dict[str, Any]:
    out = {"account_id": f.account_id, "account_name": f.account_name, "collaborators": f.collaborators,
           "default_collaborators": f.default_collaborators, "total": _hours(f.total, minimum),
           "default": _hours(f.default, minimum)}
    if f.domain is not None:
        out["domain"] = f.domain
    return out


def notices(upload: UploadCoverage, processing: list[Processing]) -> list[dict[str, Any]]:
    """The page's notices: data not associated (with its CSVs), data not processed (per data type)."""
    out = []
    if not upload.associated:
        gaps = [f"{label}: {s.n:,} of {s.of:,}" for label, s in (
            ("contacts on an account in force", upload.contacts), ("seller assignments on an account in force", upload.assignments),
            ("accounts with a contact", upload.accounts_with_contacts),
            ("accounts with a seller assignment", upload.accounts_with_assignments)) if s.n < s.of]
        if upload.sellers_missing:
            gaps.append(f"sellers missing from org data: {len(upload.sellers_missing):,} of {upload.sellers:,}")
        out.append({"kind": "not_associated", "title": "Data is not associated", "gaps": gaps,
                    "files": [CSV_FILES[f"{u.data}_not_associated"] for u in upload.unjoined if u.rows],
                    "fix": "Upload the missing accounts, or correct the AccountId of the listed rows, then upload again."})
    for p in processing:
        if p.notice:
            out.append({"kind": "not_processed", "title": "Data has not been processed", "data": p.data, "path": p.path,
                        "status": p.status, "at": p.at, "report": p.report})
    return out


def coverage_document(week: str, upload: UploadCoverage, collab: Collaboration, processing: list[Processing]) -> dict[str, Any]:
    """Every figure of the CRM data page as one JSON-ready dict (coverage.json)."""
    m = collab.min_group_size
    top = [f.account_id for f in collab.accounts[:PAGE_ACCOUNTS]]
    wanted = set(top)
    matched = collab.default + collab.extrapolation
    return {
        "week": week, "as_of": upload.as_of, "min_group_size": m,
        "window": {"start": collab.window_start, "end": collab.window_end, "time_zone": "UTC"},
        "counts": {"accounts": upload.accounts, "contacts": upload.contacts.of, "seller_assignments": upload.assignments.of,
                   "employees": collab.employees},
        "processing": [p.__dict__ for p in processing],
        "join": {"contacts": _share(upload.contacts), "seller_assignments": _share(upload.assignments),
                 "accounts_with_contacts": _share(upload.accounts_with_contacts),
                 "accounts_with_assignments": _share(upload.accounts_with_assignments),
                 "sellers_missing_from_org": {"n": len(upload.sellers_missing), "of": upload.sellers,
                                              "first": list(upload.sellers_missing[:20])}},
        "notices": notices(upload, processing),
        "external_collaborators": {"all": collab.total, "default": collab.default, "extrapolation": collab.extrapolation,
                                   "not_associated": collab.not_associated,
                                   "matched_pct": round(100.0 * matched / collab.total, 2) if collab.total else None},
        "accounts": {"count": len(collab.accounts), "shown": len(top),
                     "top": [_account(f, m) for f in collab.accounts[:PAGE_ACCOUNTS]],
                     "by_domain": [_account(f, m) for f in collab.domains if f.account_id in wanted]},
        "attributes": [{"data": a.data, "column": a.column, "non_blank": a.non_blank.n, "rows": a.non_blank.of,
                        "coverage_pct": None if a.non_blank.pct is None else round(a.non_blank.pct, 2), "unique": a.unique,
                        "top": [list(v) for v in a.top]} for a in upload.attributes],
        "files": dict(CSV_FILES),
    }


def write_files(out: Path, doc: dict[str, Any], csvs: dict[str, str]) -> list[Path]:
    """Write coverage.json and the CSVs into `out` (each atomically); returns the paths written."""
    out = Path(out)
    written = []
    for name, text in csvs.items():
        write_atomic(out / name, text)
        written.append(out / name)
    write_atomic(out / "coverage.json", json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    return written + [out / "coverage.json"]
