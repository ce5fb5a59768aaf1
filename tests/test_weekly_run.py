"""The weekly job without a scheduler (digest run / digest demo --no-airflow) on a generated sample org."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import main
from digest.config import Settings
from digest.delivery.outbox import file_stem, read_eml
from digest.sample import generate_sample
from digest.pipeline import STEP_ORDER
from digest.pipeline.weekly import SAMPLE_MARK, ensure_sample, run_week
from digest.runfolder import RunFolder
from digest.weeks import IsoWeek

W = IsoWeek.parse("2026-W47")


def _settings(root: Path) -> Settings:
    s = Settings().replace("data", folder=str(root / "data"), store=str(root / "store"))
    s = s.replace("runs", folder=str(root / "runs")).replace("delivery", outbox_folder=str(root / "outbox"))
    return s.replace("airflow", batch_size=5).replace("privacy", audit_salt="test-salt-" + "1" * 40)


@pytest.fixture(scope="module")
def sample_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("weekly")
    generate_sample(root / "data", sellers=12, weeks=4, seed=7, end_week=W)
    return root


def test_a_full_run_sends_one_email_per_seller_and_reports_it(sample_root):
    settings = _settings(sample_root)
    result = run_week(settings, W, delivery="outbox")
    sellers = [json.loads(line)["seller"] for line in (sample_root / "runs" / str(W) / "cards.jsonl").read_text().splitlines()]
    cohorts = json.loads((sample_root / "runs" / str(W) / "cohorts.json").read_text())
    assert result.counts("cohorts") == {"cohorts": len(cohorts), "in_scope": 12} and len(cohorts) > 1  # sellers in several zones
    assert result.counts("cards")["sellers"] == len(sellers) == 11  # 12 sellers minus the opted-out one
    assert result.counts("cards")["batches"] >= len(cohorts)  # batches never mix cohorts
    rendered = result.counts("render")["rendered"]
    assert rendered + result.counts("render")["skipped"] == len(sellers)
    assert result.counts("audit_gate")["passed"] == rendered and result.counts("audit_gate")["blocked"] == 0
    assert result.counts("deliver")["sent"] == rendered
    outbox = sorted((sample_root / "outbox" / str(W)).glob("*.eml"))
    assert len(outbox) == rendered
    for path in outbox:  # each email goes to its own seller only
        email = read_eml(path)
        assert file_stem(email.recipient) == path.stem and email.recipient in sellers
    report = json.loads(Path(result.report).read_text())
    assert set(report["steps"]) == {"snapshot", "coverage", "cohorts", "cards", "render", "audit_gate", "deliver"}
    assert (sample_root / "runs" / str(W) / "coverage" / "coverage.json").is_file()  # the CRM data page of the week
    names = [s.step for s in result.steps]
    assert names == [name for name in STEP_ORDER if name in names]  # the admin page's order
    assert "reasons" in report
    records = {r["subject"]: r for r in map(json.loads, (sample_root / "runs" / str(W) / "audit.jsonl").read_text().splitlines())}
    for path in outbox:  # the outbox holds the audited bytes, unchanged (the run folder's sealed copy is gone once sent)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == records[read_eml(path).recipient]["eml_sha256"]
    assert not [p for p in RunFolder.for_week(settings.runs.folder, str(W)).emails.rglob("*") if ".eml" in p.name]
    assert sum(report["cohort_plans"][c["key"]]["emails"] for c in cohorts) == rendered
    assert all(not plan["warnings"] for plan in report["cohort_plans"].values())
    assert [c["due_at"] for c in report["cohorts"]] == sorted(c["key"] for c in cohorts)
    states = report["sellers"]["states"]
    assert sum(states.values()) == report["sellers"]["in_scope"] and states["sent"] == rendered


def test_a_second_run_sends_nothing_twice(sample_root):
    settings = _settings(sample_root)
    first = {p.name: p.read_bytes() for p in (sample_root / "outbox" / str(W)).glob("*.eml")}
    stray = sample_root / "runs" / str(W) / ".work" / "0009.rendering" / "intruder@contoso.com.eml"
    stray.parent.mkdir(parents=True)  # what a render killed half-way would leave behind
    stray.write_bytes(next(iter(first.values())))
    again = run_week(settings, W, delivery="outbox")
    gate = json.loads((sample_root / "runs" / str(W) / "audit_gate.json").read_text())
    assert "intruder@contoso.com" not in gate["results"]
    assert again.counts("deliver").get("sent", 0) == 0
    assert again.counts("deliver")["already_sent"] == len(first)
    assert {p.name: p.read_bytes() for p in (sample_root / "outbox" / str(W)).glob("*.eml")} == first
    audit_lines = (sample_root / "runs" / str(W) / "audit.jsonl").read_text().splitlines()
    assert len(audit_lines) == len(first)  # a cohort whose emails were gated is not rendered again


def test_delivery_none_renders_and_audits_but_holds_every_email(tmp_path):
    generate_sample(tmp_path / "data", sellers=4, weeks=4, seed=3, end_week=W)
    result = run_week(_settings(tmp_path), W, delivery="none")
    assert result.counts("deliver")["held"] == result.counts("cards")["sellers"]
    assert not (tmp_path / "outbox").exists()


def test_ensure_sample_generates_once_and_never_touches_real_data(tmp_path):
    settings = _settings(tmp_path)
    folder, made = ensure_sample(settings, W, sellers=3)
    assert made and (folder / "org" / "people.csv").is_file() and (folder / SAMPLE_MARK).is_file()
    assert ensure_sample(settings, W, sellers=3) == (folder, False)  # same sample: kept
    assert ensure_sample(settings, IsoWeek.parse("2026-W48"), sellers=3)[1]  # a newer week: regenerated
    (folder / SAMPLE_MARK).unlink()  # now it looks like an admin's own data
    before = (folder / "org" / "people.csv").read_bytes()
    assert ensure_sample(settings, W, sellers=5) == (folder, False)
    assert (folder / "org" / "people.csv").read_bytes() == before


def test_digest_run_names_a_missing_data_folder(tmp_path):
    config = tmp_path / "digest.toml"
    config.write_text(f'[data]\nfolder = "{tmp_path / "nowhere"}"\n[runs]\nfolder = "{tmp_path / "runs"}"\n')
    result = CliRunner().invoke(main, ["--config", str(config), "run", "--week", "2026-W47"])
    assert result.exit_code == 2
    assert "nowhere does not exist" in result.output and "digest sample" in result.output


def test_digest_demo_without_airflow_runs_on_a_fresh_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["demo", "--no-airflow", "--sellers", "3", "--week", "2026-W47"])
    assert result.exit_code == 0, result.output
    assert "generated a sample org" in result.output and "index.html" in result.output
    assert list((tmp_path / "var" / "outbox" / "2026-W47").glob("*.eml"))
