"""The privacy reviewer's report of one run folder: `digest audit RUN_DIR`.

Reads only what the run wrote (audit.jsonl, audit_gate.json, the .eml files) and shows counts,
rule verdicts and integrity: never an email's content, never a hashed identifier in clear.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from digest.audit.records import GATE_FILE, RULES, effective_records, read_records, record_hash, verify_chain
from digest.config import PROJECT_ROOT, Settings
from digest.errors import InputError
from digest.runfolder import RunFolder
from digest.sealed import is_sealed, opener

CHECKS = ("record", "email")  # integrity columns added to the gate's rules


@dataclass(frozen=True)
class RecipientAudit:
    """One recipient's line of the report: a verdict per rule and whether files are unchanged."""

    recipient: str
    batch: str
    rules: tuple[tuple[str, str], ...]  # (rule, "pass" | "fail" | "not checked")
    record: str  # "intact" | "edited" | "none"
    email: str  # "intact" | "changed" | "missing" | "sealed" (not opened: no key given) | "deleted after delivery"
    verdict: str  # "send" | "blocked" | "not gated"

    @property
    def ok(self) -> bool:
        return self.verdict == "send" and self.record == "intact" and self.email in ("intact", "deleted after delivery")


@dataclass(frozen=True)
class AuditReport:
    """Everything `digest audit` shows for one run folder (counts and verdicts only)."""

    run_dir: str
    week: str
    records: int
    chain_ok: bool
    chain_problems: tuple[str, ...]
    gate_run: bool
    gate_mode: str
    recipients: tuple[RecipientAudit, ...]
    exclusions: dict[str, Any] = field(default_factory=dict)
    previews: int = 0  # readable HTML previews the records say were written next to a message

    @property
    def counts(self) -> dict[str, int]:
        rs = self.recipients
        return {"recipients": len(rs), "send": sum(r.verdict == "send" for r in rs),
                "blocked": sum(r.verdict == "blocked" for r in rs), "not_gated": sum(r.verdict == "not gated" for r in rs),
                "records_edited": sum(r.record == "edited" for r in rs), "records_missing": sum(r.record == "none" for r in rs),
                "emails_changed": sum(r.email == "changed" for r in rs), "emails_missing": sum(r.email == "missing" for r in rs),
                "emails_deleted_after_delivery": sum(r.email == "deleted after delivery" for r in rs),
                "previews": self.previews}

    @property
    def rule_failures(self) -> dict[str, int]:
        return {rule: sum(dict(r.rules).get(rule) == "fail" for r in self.recipients) for rule in RULES}

    @property
    def ok(self) -> bool:
        return self.chain_ok and self.gate_run and all(r.ok for r in self.recipients)


def report(run_dir: str | Path, settings: Settings | None = None) -> AuditReport:
    """Check a run folder's audit trail: chain integrity, each email against its record, the gate's verdicts.

    With `settings`, sealed messages are opened (in memory) to check their plaintext hash.
    """
    root = Path(run_dir)
    if not (root / "audit.jsonl").is_file() and not (root / "emails").is_dir():
        raise InputError(f"{root} has no audit.jsonl and no emails/: pass a run folder like runs/2026-W47 "
                         "whose emails were rendered (digest run renders and records them).")
    records = read_records(root / "audit.jsonl")
    problems = verify_chain(records)
    gate_path = root / GATE_FILE
    gate = json.loads(gate_path.read_text(encoding="utf-8")) if gate_path.is_file() else {}
    if gate and records and gate.get("chain_head") not in {r.get("hash") for r in records}:
        problems.append("the record the gate last checked is no longer in audit.jsonl (records were removed or rewritten)")
    latest = effective_records(records)
    found = [*(root / "emails").glob("*/*.eml"), *(root / "emails").glob("*/*.eml.sealed")] if (root / "emails").is_dir() else []
    on_disk = {p.relative_to(root).as_posix(): p for p in sorted(found)}
    deleted = RunFolder(root).deleted_after_delivery()
    read = opener(settings, gate.get("week") or root.name) if settings is not None else None
    manifest = {path.relative_to(root).as_posix(): seller for seller, path in RunFolder(root).rendered().items()}
    rows = []
    for rel in sorted(set(latest) | set(on_disk)):
        rec = latest.get(rel)
        who = (rec or {}).get("subject") or manifest.get(rel) or f"(unknown: {rel})"
        results = gate.get("results", {}).get(who, {})
        rules = tuple((rule, results.get(rule, "not checked")) for rule in RULES)
        record_state = "none" if rec is None else ("intact" if rec.get("hash") == record_hash(rec) else "edited")
        path = on_disk.get(rel)
        if path is None:
            email_state = "deleted after delivery" if rel in deleted else "missing"
        elif is_sealed(path) and read is None:
            email_state = "sealed"
        else:
            email_state = "intact" if rec and rec.get("eml_sha256") == _plain_sha256(read, path) else "changed"
        verdict = "blocked" if who in gate.get("blocked", {}) else ("send" if who in gate.get("passed", []) else "not gated")
        rows.append(RecipientAudit(who, rel.split("/")[1], rules, record_state, email_state, verdict))
    return AuditReport(str(root), gate.get("week") or root.name, len(records), not problems, tuple(problems), bool(gate),
                       gate.get("mode", ""), tuple(rows), gate.get("exclusions", {}),
                       sum(bool(r.get("preview")) for r in latest.values()))


def _plain_sha256(read, path: Path) -> str | None:
    try:
        return hashlib.sha256(read(path) if read else path.read_bytes()).hexdigest()
    except (InputError, OSError):
        return None  # a sealed message that does not open was changed


def write_csv(result: AuditReport, path: str | Path) -> Path:
    """One row per recipient: verdict, each rule, record and email integrity."""
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["recipient", "batch", "verdict", *(f"rule_{r}" for r in RULES), "record", "email"])
        for r in result.recipients:
            out.writerow([r.recipient, r.batch, r.verdict, *(v for _, v in r.rules), r.record, r.email])
    return path


def write_html(result: AuditReport, path: str | Path) -> Path:
    """The reviewer's HTML page (templates/audit_report.html.j2)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(PROJECT_ROOT / "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    html = env.get_template("audit_report.html.j2").render(report=result, rules=RULES)
    path = Path(path)
    path.write_text(html, encoding="utf-8")
    return path
