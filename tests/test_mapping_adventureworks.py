"""Column mappings: the mapping file's own checks, and the AdventureWorks export loaded without editing it.

AdventureWorks is read from ../shared/reference-data/adventureworks (never copied into the repo).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from conftest import REPO, SHARED
from datafolder import write_csv
from digest.config import Settings
from digest.errors import InputError, ValidationError
from digest.metrics import compute_cards, list_sellers
from digest.sources.files import load_data
from digest.sources.mapping import load_mapping
from digest.sample import generate_sample
from digest.sources.store import accept_upload, read_snapshot
from digest.sources.upload import check_upload
from digest.weeks import IsoWeek

AW = SHARED / "reference-data" / "adventureworks"
MAPPING = REPO / "examples" / "mappings" / "adventureworks.toml"
WEEK = IsoWeek.parse("2026-W47")


@pytest.fixture
def aw() -> Path:
    if not (AW / "crm_accounts.csv").is_file():
        pytest.skip(f"the AdventureWorks reference data is not at {AW} (it lives next to the project, in ../shared; or set DIGEST_SHARED_DIR)")
    return AW


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings().replace("data", folder=str(tmp_path / "data"), store=str(tmp_path / "store"))


def mapping_file(tmp_path, text: str) -> Path:
    path = tmp_path / "mapping.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --- the mapping file itself ----------------------------------------------------------------------

@pytest.mark.parametrize("text,words", [
    ('[acounts]\n"Account ID" = "AccountId"\n', ["unknown file [acounts]", "did you mean 'accounts'?", "seller_assignments"]),
    ('[accounts]\n"Account ID" = "AccountID"\n', ["[accounts] 'Account ID' = 'AccountID'", "not a column of crm/accounts.csv",
                                                  "did you mean 'AccountId'?"]),
    ('[accounts]\n"Account ID" = "AccountId"\nNumber = "AccountId"\n', ["both 'Account ID' and 'Number' map to AccountId",
                                                                        "remove one of the two lines"]),
    ('[accounts]\nId = 3\n', ["[accounts] 'Id': the value must be a contract column name"]),
    ('[accounts.options]\nfiles = "x.csv"\n', ["unknown option 'files'", "did you mean 'file'?"]),
    ('[accounts.options]\ndate_format = "%Y-%m"\n', ["date_format = '%Y-%m' does not read back a whole date"]),
    ('[accounts.options]\nkeep = ["Region"]\n', ["only org data (people) keeps extra columns"]),
    ('[accounts.options]\nfile = "../secrets.csv"\n', ["file = '../secrets.csv'", "relative"]),
    ('[people]\nTitle = "JobTitle"\n', ["not a column of org/people.csv", "keep"]),
    ('[accounts\n', ["not valid TOML"]),
    ('', ["maps no file"]),
])
def test_mistakes_in_a_mapping_name_the_file_the_key_and_the_fix(tmp_path, text, words):
    path = mapping_file(tmp_path, text)
    with pytest.raises(InputError) as caught:
        load_mapping(path)
    message = str(caught.value)
    assert str(path) in message
    for word in words:
        assert word in message


def test_a_missing_mapping_file_is_named(tmp_path):
    with pytest.raises(InputError, match="mapping file .*nope.toml does not exist"):
        load_mapping(tmp_path / "nope.toml")


def test_a_mapping_naming_a_header_the_file_lacks_is_an_error(tmp_path, settings):
    write_csv(tmp_path / "up" / "crm" / "accounts.csv", [{"Id": "A1", "Name": "Fabrikam", "Since": "2026-01-01"}])
    path = mapping_file(tmp_path, '[accounts]\nID = "AccountId"\nName = "AccountName"\nSince = "AccountsStartDate"\n')
    with pytest.raises(InputError, match=r"names the header 'ID', which this file does not have \(did you mean 'Id'\?\)"):
        accept_upload(tmp_path / "up", settings, mapping=path)


def test_a_small_export_with_its_own_headers_loads(tmp_path, settings):
    records = [{"Account ID": "A1", "Name": "Fabrikam", "Created": "16.11.2026", "Status": "active"},
               {"Account ID": "A1", "Name": "Fabrikam (old)", "Created": "01.01.2020", "Status": "history"},
               {"Account ID": "A2", "Name": "Northwind", "Created": "31.12.2025", "Status": "active"}]
    write_csv(tmp_path / "export.csv", records)
    path = mapping_file(tmp_path, '[accounts]\n"Account ID" = "AccountId"\nName = "AccountName"\nCreated = "AccountsStartDate"\n'
                                  '[accounts.options]\nfile = "export.csv"\ndate_format = "%d.%m.%Y"\n'
                                  'drop_rows = { Status = "history" }\n')
    snap = read_snapshot(accept_upload(tmp_path / "export.csv", settings, mapping=path))
    assert snap.files[0].path == "crm/accounts.csv" and snap.files[0].mapping["date_format"] == "%d.%m.%Y"
    accounts = (Path(settings.data.folder) / "crm/accounts.csv").read_text().splitlines()
    assert accounts[1:] == ['"A1","Fabrikam","2026-11-16",,,,,,,,', '"A2","Northwind","2025-12-31",,,,,,,,']


def test_problems_name_rows_of_the_export_even_after_rows_are_dropped(tmp_path):
    records = [{"Id": "A1", "Name": "x", "Since": "2026-01-01", "Kind": "keep"},
               {"Id": "A2", "Name": "y", "Since": "never", "Kind": "drop"},
               {"Id": "A3", "Name": "", "Since": "2026-01-01", "Kind": "keep"}]
    write_csv(tmp_path / "up" / "stores.csv", records)
    path = mapping_file(tmp_path, '[accounts]\nId = "AccountId"\nName = "AccountName"\nSince = "AccountsStartDate"\n'
                                  '[accounts.options]\nfile = "stores.csv"\ndrop_rows = { Kind = ["drop"] }\n')
    result = check_upload(tmp_path / "up", Settings(), path)
    error = result.files[0].error
    assert [(p.file, p.row, p.column) for p in error.problems] == [("stores.csv (as crm/accounts.csv)", 4, "AccountName")]


# --- AdventureWorks -------------------------------------------------------------------------------

def test_adventureworks_without_headers_mapped_is_rejected_with_hints(aw, tmp_path, settings):
    names_only = mapping_file(tmp_path, '[accounts.options]\nfile = "crm_accounts.csv"\n'
                                        '[contacts.options]\nfile = "crm_contacts.csv"\n')
    with pytest.raises(ValidationError) as caught:
        accept_upload(aw, settings, mapping=names_only)
    problems = {(p.file, p.column): p.expected for p in caught.value.problems}
    assert "column mapping" in problems[("crm_accounts.csv (as crm/accounts.csv)", "AccountId")]
    assert ("crm_contacts.csv (as crm/contacts.csv)", "ContactEmail") in problems
    assert not Path(settings.data.folder).exists() and not list(Path(settings.data.store).glob("2*"))


def test_adventureworks_validates_with_the_shipped_mapping(aw, settings):
    result = check_upload(aw, settings, MAPPING)
    assert result.ok, [str(f.error) for f in result.files if f.error]
    assert {f.path: (f.source, f.rows) for f in result.files} == {
        "org/people.csv": ("org_employees.csv", 296), "crm/accounts.csv": ("crm_accounts.csv", 701),
        "crm/contacts.csv": ("crm_contacts.csv", 753), "crm/seller_assignments.csv": ("crm_accounts.csv", 701)}
    assert set(result.ignored) == {"README.md", "crm_sellers.csv", "sales_territories.csv"}
    assert any("753 of 753 contact emails are on an internal domain (adventure-works.com)" in n for n in result.notices)


def test_adventureworks_quirks_are_handled_by_the_mapping(aw, tmp_path, settings):
    snap = read_snapshot(accept_upload(aw, settings, mapping=MAPPING, now=dt.datetime(2026, 11, 23, tzinfo=dt.timezone.utc)))
    assert snap.mapping_file == str(MAPPING) and {f.source for f in snap.files} == {"org_employees.csv", "crm_accounts.csv",
                                                                                    "crm_contacts.csv"}
    live = Path(settings.data.folder)
    people = [r for r in _csv(live / "org/people.csv")]
    rob = [r for r in people if r["PersonId"] == "rob0@adventure-works.com"]
    assert [r["EffectiveDate"] for r in rob] == ["2007-07-05", "2009-12-28"]  # history rows kept, dated by StartDate
    ceo = next(r for r in people if r["LevelDesignation"] == "Chief Executive Officer")
    assert ceo["ManagerId"] == "" and ceo["FunctionType"] == ceo["Organization"] == "Executive"
    assert set(people[0]) >= {"SalesPersonFlag", "SalesTerritoryKey"}
    assert not {"EmployeeNationalIDAlternateKey", "LoginID", "FirstName"} & set(people[0])  # not kept: not needed
    accounts = _csv(live / "crm/accounts.csv")
    assert {r["AccountsStartDate"] for r in accounts} == {"2014-09-12"}  # SQL Server datetime with 9 fraction digits
    contact = _csv(live / "crm/contacts.csv")[0]
    assert contact["ContactName"] == contact["ContactEmail"] == "gustavo0@adventure-works.com"
    assert len(_csv(live / "crm/seller_assignments.csv")) == 701


def test_adventureworks_history_can_be_dropped_instead(aw, tmp_path):
    text = MAPPING.read_text(encoding="utf-8").replace('# drop_rows = { Status = [""] }', 'drop_rows = { Status = [""] }')
    result = check_upload(aw, Settings(), mapping_file(tmp_path, text))
    assert {f.path: f.rows for f in result.files}["org/people.csv"] == 290


def test_adventureworks_with_sample_collaboration_makes_cards(aw, tmp_path, settings):
    """The mapped org and CRM plus a generated sample's collaboration files form a data folder the cards run on."""
    generate_sample(tmp_path / "sample", 2, 1, 7, WEEK)
    accept_upload(aw, settings, mapping=MAPPING, now=dt.datetime(2026, 11, 23, 9, tzinfo=dt.timezone.utc))
    collaboration = tmp_path / "collab"
    collaboration.mkdir()
    (tmp_path / "sample" / "collaboration").rename(collaboration / "collaboration")
    accept_upload(collaboration, settings, now=dt.datetime(2026, 11, 23, 10, tzinfo=dt.timezone.utc))
    dataset = load_data(settings.data.folder, settings)
    sellers = list_sellers(dataset, WEEK, settings)
    assert len(sellers) == 13 and "linda3@adventure-works.com" in sellers  # the 13 store owners
    cards = {c.seller: c for c in compute_cards(dataset, WEEK, settings, sellers[:3])}
    assert len(cards) == 3
    assigned = cards[sellers[0]].time_with_customers.accounts
    assert assigned and all(a.hours == 0 for a in assigned)  # no AdventureWorks activity in the sample's mail


def _csv(path: Path) -> list[dict[str, str]]:
    import csv

    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))
