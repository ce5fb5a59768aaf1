"""`digest audit RUN_DIR`: what a privacy reviewer sees, and that tampering shows up in it."""

from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner

from audit_data import ANA, BOB, WEEK
from digest import audit
from digest.audit.report import report, write_csv, write_html
from digest.cli import main
from test_audit_gate import USED, W, render, run_gate  # noqa: F401 - shared fixtures below
from test_audit_gate import run_root, settings  # noqa: F401


@pytest.fixture
def gated(settings, run_root):  # noqa: F811
    render(run_root)
    run_gate(settings.replace("privacy", excluded_addresses=("nobody@elsewhere.example",)))
    return run_root


def test_a_clean_run_reports_every_rule_passed(gated):
    result = report(gated)
    assert result.ok and result.chain_ok and result.gate_run and result.records == 2
    assert [r.recipient for r in result.recipients] == [ANA, BOB]
    assert all(status == "pass" for r in result.recipients for _, status in r.rules)
    assert result.counts["send"] == 2 and sum(result.rule_failures.values()) == 0


def test_tampered_record_and_email_both_show(gated):
    lines = (gated / "audit.jsonl").read_text().splitlines()
    rec = json.loads(lines[1])
    rec["accounts"] = []
    lines[1] = json.dumps(rec, sort_keys=True)
    (gated / "audit.jsonl").write_text("\n".join(lines) + "\n")
    eml = gated / "emails" / "0000" / f"{ANA}.eml"
    eml.write_bytes(eml.read_bytes() + b"\n")
    result = report(gated)
    assert not result.ok and not result.chain_ok
    by = {r.recipient: r for r in result.recipients}
    assert by[ANA].email == "changed" and by[ANA].record == "intact"
    assert by[BOB].record == "edited" and by[BOB].email == "intact"
    assert any("edited" in p for p in result.chain_problems)


def test_removing_the_last_record_is_detected_through_the_gate_head(gated):
    lines = (gated / "audit.jsonl").read_text().splitlines()
    (gated / "audit.jsonl").write_text(lines[0] + "\n")
    result = report(gated)
    assert not result.chain_ok and any("no longer" in p for p in result.chain_problems)
    assert {r.recipient: r.record for r in result.recipients}[BOB] == "none"


def test_html_and_csv_show_counts_not_content(gated, tmp_path):
    result = report(gated)
    html = write_html(result, tmp_path / "r.html").read_text()
    assert "Privacy audit of 2026-W47" in html and ANA in html and "excluded address" in html
    assert "Fabrikam" not in html and "Frank" not in html  # no content of any email
    rows = list(csv.DictReader(write_csv(result, tmp_path / "r.csv").open()))
    assert [r["recipient"] for r in rows] == [ANA, BOB] and rows[0]["verdict"] == "send" and rows[0]["email"] == "intact"


def test_cli_exit_codes_and_files(gated, settings):  # noqa: F811
    runner = CliRunner()
    ok = runner.invoke(main, ["audit", str(gated)])
    assert ok.exit_code == 0, ok.output
    assert "chain intact" in ok.output and (gated / "audit_report.html").is_file() and (gated / "audit_report.csv").is_file()
    eml = gated / "emails" / "0000" / f"{BOB}.eml"
    eml.write_bytes(eml.read_bytes().replace(b"Northwind", b"Southwind"))
    bad = runner.invoke(main, ["audit", str(gated), "--csv", str(gated / "x.csv")])
    assert bad.exit_code == 4 and "emails changed" in bad.output and (gated / "x.csv").is_file()


def test_cli_names_a_folder_that_is_not_a_run(tmp_path):
    result = CliRunner().invoke(main, ["audit", str(tmp_path)])
    assert result.exit_code == 2 and "audit.jsonl" in result.output


def test_a_run_not_gated_yet_is_flagged(settings, run_root):  # noqa: F811
    render(run_root)
    from audit_data import make_dataset

    audit.record_emails(settings, W, "0000", make_dataset(), USED)
    result = report(run_root)
    assert not result.gate_run and not result.ok and result.counts["not_gated"] == 2


def test_the_chains_tail_is_what_reading_every_record_gives(tmp_path):
    from digest.audit.records import GENESIS, chain_tail, effective_records, read_records

    path = tmp_path / "audit.jsonl"
    assert chain_tail(path, {"a"}) == (0, GENESIS, {})
    recs = [{"email": "emails/0000/a.eml", "hash": "h1", "accounts": ['x"email": "emails/0000/b.eml']},
            {"email": "emails/0000/b.eml", "hash": "h2"}, {"email": "emails/0001/a.eml", "hash": "h3"},
            {"email": "emails/0000/a.eml", "hash": "h4", "supersedes": "h1"}, {"hash": "h5"}]
    lines = [json.dumps(r, sort_keys=True, ensure_ascii=False) for r in recs]
    path.write_text("\n".join(lines[:2] + ["", "{not json"] + lines[2:]) + "\n\n", encoding="utf-8")
    wanted = {"emails/0000/a.eml", "emails/0000/b.eml", "emails/0002/c.eml"}
    records = read_records(path)
    latest = {k: v for k, v in effective_records(records).items() if k in wanted}
    assert chain_tail(path, wanted) == (len(records), records[-1]["hash"], latest) == (6, "h5", latest)
    assert latest["emails/0000/a.eml"]["hash"] == "h4"
    path.write_text(path.read_text(encoding="utf-8") + "{broken\n", encoding="utf-8")
    assert chain_tail(path, wanted)[:2] == (7, "")  # an unreadable last record has no hash to follow
