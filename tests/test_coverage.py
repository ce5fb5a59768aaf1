"""The CRM data page's numbers on the hand-built fixture (tests/coverage_data.py), the CSVs and `digest coverage`."""

from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner

from coverage_data import WEEK, build
from digest.config import Settings
from digest.pipeline import coverage, latest_coverage, write_coverage
from digest.pipeline.coverage_files import ACCOUNTS_HEADER, DOMAINS_HEADER, EMAILS_HEADER, csv_text
from digest.weeks import IsoWeek


def _settings(tmp_path, **privacy) -> Settings:
    s = Settings().replace("data", folder=str(tmp_path / "data"), store=str(tmp_path / "store"))
    s = s.replace("runs", folder=str(tmp_path / "runs")).replace("airflow", upload_inbox=str(tmp_path / "inbox"))
    return s.replace("privacy", **privacy) if privacy else s


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    base = tmp_path_factory.mktemp("coverage")
    build(base / "data")
    doc = write_coverage(_settings(base), IsoWeek.parse(WEEK), base / "out")
    return base / "out", doc


def _csv(path):
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def test_counts_and_join_coverage(out):
    _, doc = out
    assert doc["counts"] == {"accounts": 3, "contacts": 4, "seller_assignments": 4, "employees": 5}  # C5 starts in 2027
    join = doc["join"]
    assert join["contacts"] == {"n": 3, "of": 4, "pct": 75.0}
    assert join["seller_assignments"] == {"n": 3, "of": 4, "pct": 75.0}
    assert join["accounts_with_contacts"] == {"n": 2, "of": 3, "pct": 66.67}
    assert join["accounts_with_assignments"] == {"n": 2, "of": 3, "pct": 66.67}
    assert join["sellers_missing_from_org"] == {"n": 1, "of": 3, "first": ["zed@contoso.com"]}
    assert [n["kind"] for n in doc["notices"]] == ["not_associated"]  # files put by hand count as processed
    assert doc["window"] == {"start": "2026-10-26T00:00:00+00:00", "end": "2026-11-23T00:00:00+00:00", "time_zone": "UTC"}


def test_external_collaborators_default_extrapolation_not_associated(out):
    _, doc = out
    # frank, nora by contact; sam (website), quinn (share), rita (0 minutes) by extrapolation; the stranger
    # unmatched; pat@gmail.com (a personal-domain contact) is never a collaborator.
    assert doc["external_collaborators"] == {"all": 6, "default": 2, "extrapolation": 3, "not_associated": 1,
                                             "matched_pct": 83.33}


def test_hours_per_account_and_the_group_size_rule(out):
    folder, doc = out
    rows = _csv(folder / "accounts.csv")
    assert rows[0] == list(ACCOUNTS_HEADER)
    assert rows[1:] == [["A1", "Fabrikam", "2", "5.61", "5.58", "1"],  # 336.67 and 335 min from 5 employees
                        ["A2", "Northwind", "3", "", "", "1"],  # 1 and 2 employees: below privacy.min_group_size
                        ["A3", "'+Evil Co", "0", "", "", "0"]]  # every account in force, escaped
    a2 = next(a for a in doc["accounts"]["top"] if a["account_id"] == "A2")
    assert a2["total"] == {"hours": None, "hidden": "fewer than 5 employees (privacy.min_group_size) have time with it"}


def test_by_domain_and_collaborator_emails(out):
    folder, _ = out
    assert _csv(folder / "accounts_by_domain.csv") == [list(DOMAINS_HEADER), ["A1", "Fabrikam", "FABRIKAM.COM", "2", "5.61", "5.58", "1"],
                                                       ["A2", "Northwind", "NORTHWIND.COM", "3", "", "", "1"]]
    emails = _csv(folder / "accounts_collaborator_emails.csv")
    assert emails[0] == list(EMAILS_HEADER)
    assert [r[3] for r in emails[1:]] == ["frank@fabrikam.com", "sam@fabrikam.com", "nora@northwind.com",
                                          "quinn@northwind.com", "rita@northwind.com"]


def test_rows_not_associated_with_row_numbers_and_values_as_written(out):
    folder, _ = out
    contacts = _csv(folder / "contacts_not_associated.csv")
    assert contacts[0] == ["Row", "ContactsAccountId", "ContactId", "ContactName", "ContactEmail", "ContactsStartDate"]
    assert contacts[1:] == [["4", "A9", "C3", "'=HYPERLINK(\"http://x\")", "x@adatum.com", "2026-01-01"]]
    assert _csv(folder / "seller_assignments_not_associated.csv")[1:] == [["4", "A9", "2026-01-01", "ana@contoso.com"]]


def test_attributes_and_top_values(out):
    _, doc = out
    attrs = {(a["data"], a["column"]): a for a in doc["attributes"]}
    website = attrs[("accounts", "AccountWebsite")]
    assert (website["non_blank"], website["rows"], website["coverage_pct"], website["unique"]) == (1, 3, 33.33, 1)
    assert attrs[("contacts", "ContactsAccountId")]["top"] == [["A1", 2], ["A2", 1], ["A9", 1]]  # count, then value
    assert ("org_data", "FunctionType") in attrs and ("seller_assignments", "SellerEmail") in attrs


@pytest.mark.parametrize("value, cell", [("=1+1", "\"'=1+1\""), ("+x", "\"'+x\""), ("-2", "\"'-2\""), ("@SUM(A1)", "\"'@SUM(A1)\""),
                                         ("\tx", "\"'\tx\""), ("\rx", "\"'\rx\""), ('a "b"', '"a ""b"""'), ("plain", '"plain"'),
                                         (None, '""')])
def test_formula_injection_escaping(value, cell):
    assert csv_text(value) == cell


def test_validation_failed_notice_links_the_report(tmp_path):
    build(tmp_path / "data")
    reports = tmp_path / "inbox" / ".reports"
    reports.mkdir(parents=True)
    (reports / "20991231T000000-crm.json").write_text(json.dumps({
        "upload": "crm", "received": "2099-12-31T00:00:00+00:00", "accepted": False, "total_problems": 1, "message": "",
        "problems": [{"file": "crm/accounts.csv", "row": 2, "column": "AccountsStartDate", "value": "x", "expected": "a date"}]}))
    result = coverage(_settings(tmp_path), IsoWeek.parse(WEEK))
    assert result.counts["notices"] == 2
    doc = json.loads((latest_coverage(_settings(tmp_path)) / "coverage.json").read_text())
    failed = [n for n in doc["notices"] if n["kind"] == "not_processed"]
    assert failed == [{"kind": "not_processed", "title": "Data has not been processed", "data": "accounts",
                       "path": "crm/accounts.csv", "status": "validation failed", "at": "2099-12-31T00:00:00Z",
                       "report": "20991231T000000-crm"}]


def test_cli_prints_the_headline_and_exits_0_with_notices(tmp_path):
    from digest.cli import main

    build(tmp_path / "data")
    env = {"DIGEST_DATA__STORE": str(tmp_path / "store"), "DIGEST_AIRFLOW__UPLOAD_INBOX": str(tmp_path / "inbox")}
    result = CliRunner().invoke(main, ["coverage", "--data", str(tmp_path / "data"), "--week", WEEK, "--out", str(tmp_path / "o")],
                                env=env)
    assert result.exit_code == 0, result.output
    assert "contacts 75.0 %" in result.output and "matched 83.3 %" in result.output and "Data is not associated" in result.output
    assert (tmp_path / "o" / "coverage.json").is_file() and (tmp_path / "o" / "accounts.csv").is_file()


def test_the_weeks_page_is_computed_once_per_set_of_inputs(tmp_path, monkeypatch):
    """`digest run` from cron every hour recomputed the CRM data page each time (81 s at 20,000 sellers): the
    figures are kept with a hash of what they were computed from and read back while nothing changed."""
    from digest import pipeline
    from digest.metrics import coverage as metrics_coverage
    from digest.sample import generate_sample

    week = IsoWeek.parse("2026-W47")
    generate_sample(tmp_path / "data", sellers=6, weeks=1, seed=5, end_week=week)
    settings = Settings().replace("data", folder=str(tmp_path / "data"), store=str(tmp_path / "store")).replace(
        "runs", folder=str(tmp_path / "runs"))
    computed = []
    real = metrics_coverage.compute_collaboration
    monkeypatch.setattr(metrics_coverage, "compute_collaboration", lambda *a, **k: computed.append(1) or real(*a, **k))
    pipeline.snapshot_inputs(settings, week)
    dataset = pipeline.load_snapshot(settings, week)
    first = pipeline.coverage(settings, week, dataset)
    page = tmp_path / "runs" / str(week) / "coverage"
    written = {p.name: p.read_bytes() for p in page.iterdir()}
    again = pipeline.coverage(settings, week, dataset)
    assert computed == [1] and again.counts == first.counts
    assert {p.name: p.read_bytes() for p in page.iterdir()} == written
    changed = settings.replace("metrics", extrapolation_share=0.5)  # another setting: other figures may follow
    pipeline.coverage(changed, week, dataset)
    assert computed == [1, 1]
    (page / "coverage.json").unlink()  # a file of the page gone: computed again
    pipeline.coverage(changed, week, dataset)
    assert computed == [1, 1, 1] and json.loads((page / "coverage.json").read_text())["week"] == str(week)
