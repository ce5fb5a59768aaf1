"""The snapshot store: all or nothing, append vs replace, idempotent re-uploads, atomic publish."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from datafolder import ANA, BOB, rows, write_csv, write_data_folder
from digest.cli import main
from digest.config import Settings
from digest.errors import FilesRejected, InputError, ValidationError
from digest.audit.retention import purge
from digest.sources.files import CACHE_DIR, load_data
from digest.sources.store import accept_upload, current_snapshot, list_snapshots, read_snapshot

T0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.timezone.utc)


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


@pytest.fixture
def settings(tmp_path) -> Settings:
    """Every folder a step may read, write or purge is under tmp_path (purge also empties runs/ and the outbox)."""
    s = Settings().replace("data", folder=str(tmp_path / "data"), store=str(tmp_path / "store"))
    s = s.replace("runs", folder=str(tmp_path / "runs")).replace("delivery", outbox_folder=str(tmp_path / "outbox"))
    return s.replace("airflow", home=str(tmp_path / "airflow"), upload_inbox=str(tmp_path / "upload_inbox"))


@pytest.fixture
def live(tmp_path, settings):
    """A data folder in force: the tiny valid folder accepted as the first snapshot."""
    accept_upload(write_data_folder(tmp_path / "first"), settings, now=T0)
    return tmp_path / "data"


def state(settings: Settings) -> dict[str, str]:
    """Every file of the data folder and the store with its hash: what 'nothing changed' compares.

    The loader's cache of validated tables (.digest-cache) is not data: reading may fill it.
    """
    out = {}
    for root in (settings.data.folder, settings.data.store):
        for path in sorted(p for p in Path(root).rglob("*") if p.is_file() and CACHE_DIR not in p.parts):
            out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def upload_of(tmp_path, name: str, files: dict[str, list[dict]]):
    """An upload folder holding only `files`."""
    return write_data_folder(tmp_path / name, files, only=list(files))


def test_an_accepted_upload_is_kept_as_a_snapshot_and_published(tmp_path, settings, live):
    snap = current_snapshot(settings)
    assert snap is not None and snap.name.startswith("20261123T100000Z-") and len(snap.name) == 29
    assert snap.name.endswith(snap.content_sha256[:12]) and snap.mode == "replace" and snap.source == "first"
    assert {f.path: f.rows for f in snap.files}["crm/accounts.csv"] == 2 and len(snap.files) == 13
    manifest = json.loads((snap.path / "manifest.json").read_text())
    assert manifest["uploaded"] == "2026-11-23T10:00:00Z" and manifest["mapping_file"] is None
    for f in snap.files:  # the data folder holds exactly the snapshot's files
        assert (live / f.path).read_bytes() == (snap.path / f.path).read_bytes()
        assert hashlib.sha256((live / f.path).read_bytes()).hexdigest() == f.sha256
    original = load_data(tmp_path / "first", cache=False)
    published = load_data(live, cache=False)
    for key, table in original.tables().items():
        assert published.tables()[key].equals(table), key


def test_a_rejected_upload_changes_nothing_and_lists_every_problem(tmp_path, settings, live):
    before = state(settings)
    r = rows()
    r["crm/accounts.csv"][1]["AccountsStartDate"] = "31/12/2026"
    r["crm/contacts.csv"][0]["ContactEmail"] = "nora(at)northwind.com"
    r["crm/seller_assignments.csv"].append({"SellerAssignmentAccountId": "A3", "SellerAssignmentStartDate": "2026-01-01",
                                            "SellerEmail": ANA})  # this file is fine, but the upload is one piece
    entry = upload_of(tmp_path, "bad", {k: r[k] for k in ("crm/accounts.csv", "crm/contacts.csv", "crm/seller_assignments.csv")})
    with pytest.raises(FilesRejected) as caught:
        accept_upload(entry, settings, now=at(5))
    problems = {(p.file, p.row, p.column, p.value) for p in caught.value.problems}
    assert problems == {("crm/accounts.csv", 3, "AccountsStartDate", "31/12/2026"),
                        ("crm/contacts.csv", 2, "ContactEmail", "nora(at)northwind.com")}
    assert "previous good snapshot stays in force" in str(caught.value)
    assert state(settings) == before  # no snapshot, no staging folder, data folder untouched
    assert len(list_snapshots(settings)) == 1


def test_a_rejected_single_file_upload_raises_the_files_own_error(tmp_path, settings, live):
    before = state(settings)
    path = write_csv(tmp_path / "accounts.csv", [{"AccountId": "A9", "AccountName": "", "AccountsStartDate": "2026-01-01"}])
    with pytest.raises(ValidationError) as caught:
        accept_upload(path, settings, now=at(5))
    assert [(p.file, p.row, p.column) for p in caught.value.problems] == [("accounts.csv", 2, "AccountName")]
    assert state(settings) == before


def test_replace_mode_replaces_the_file(tmp_path, settings, live):
    new = [{"AccountId": "A3", "AccountName": "Litware", "AccountsStartDate": "2026-02-01"}]
    snap = accept_upload(upload_of(tmp_path, "up", {"crm/accounts.csv": new}), settings, now=at(5))
    assert load_data(live, cache=False).accounts.column("AccountId").to_pylist() == ["A3"]
    assert [f.path for f in read_snapshot(snap).files] == ["crm/accounts.csv"]  # a partial upload: one file
    assert load_data(live, cache=False).contacts.num_rows == 2  # the other files stay as they were


def test_append_mode_adds_rows_and_validates_the_merged_file(tmp_path, settings, live):
    new = [{"AccountId": "A3", "AccountName": "Litware", "AccountsStartDate": "2026-02-01"},
           {"AccountId": "A1", "AccountName": "Fabrikam Inc.", "AccountsStartDate": "03/01/2026"}]  # a new version of A1
    snap = read_snapshot(accept_upload(upload_of(tmp_path, "up", {"crm/accounts.csv": new}), settings, mode="append", now=at(5)))
    accounts = load_data(live, cache=False).accounts
    assert accounts.column("AccountId").to_pylist() == ["A1", "A2", "A3", "A1"]
    assert snap.mode == "append" and snap.files[0].rows == 4


def test_append_rejects_a_key_already_there_with_other_values(tmp_path, settings, live):
    before = state(settings)
    new = [{"AccountId": "A3", "AccountName": "Litware", "AccountsStartDate": "2026-02-01"},
           {"AccountId": "A2", "AccountName": "Northwind Traders", "AccountsStartDate": "2026-01-01"}]
    with pytest.raises(ValidationError) as caught:
        accept_upload(upload_of(tmp_path, "up", {"crm/accounts.csv": new}), settings, mode="append", now=at(5))
    problem = caught.value.problems[0]
    assert (problem.file, problem.row, problem.column, problem.value) == ("crm/accounts.csv", 3, "AccountId + AccountsStartDate",
                                                                          "A2 / 2026-01-01")
    assert "current crm/accounts.csv" in problem.expected and "row 3" in problem.expected and "replace mode" in problem.expected
    assert state(settings) == before


def test_appending_the_same_rows_again_adds_nothing(tmp_path, settings, live):
    r = rows()
    entry = upload_of(tmp_path, "up", {k: r[k] for k in ("crm/seller_assignments.csv", "crm/accounts.csv", "collaboration/mails.csv")})
    snap = accept_upload(entry, settings, mode="append", now=at(5))
    data = load_data(live, cache=False)
    assert (data.assignments.num_rows, data.accounts.num_rows, data.mails.num_rows) == (2, 2, 1)
    assert accept_upload(entry, settings, mode="append", now=at(10)) == snap  # and again: nothing new at all
    assert len(list_snapshots(settings)) == 2


def test_appended_mails_seen_from_another_mailbox_collapse(tmp_path, settings, live):
    r = rows()
    mails = [dict(r["collaboration/mails.csv"][0]), {"MailId": "<m2@contoso.com>", "SentTime": "2026-11-18T09:00:00Z", "Sender": BOB}]
    recipients = [{"MailId": "<m1@contoso.com>", "Email": BOB, "Kind": "cc"}]
    accept_upload(upload_of(tmp_path, "up", {"collaboration/mails.csv": mails, "collaboration/mail_recipients.csv": recipients}),
                  settings, mode="append", now=at(5))
    data = load_data(live, cache=False)
    assert data.mails.column("MailId").to_pylist() == ["<m1@contoso.com>", "<m2@contoso.com>"]
    assert sorted(data.mail_recipients.column("Email").to_pylist()) == [BOB, "frank@fabrikam.com"]


def test_the_same_content_twice_gives_back_the_snapshot_in_force(tmp_path, settings, live):
    first = current_snapshot(settings)
    before = state(settings)
    assert accept_upload(tmp_path / "first", settings, now=at(30)) == first.path
    assert state(settings) == before


def test_content_accepted_before_but_replaced_since_is_published_again(tmp_path, settings, live):
    a = [{"AccountId": "A1", "AccountName": "Fabrikam", "AccountsStartDate": "2026-01-01"}]
    b = [{"AccountId": "B1", "AccountName": "Contoso", "AccountsStartDate": "2026-01-01"}]
    snap_a = accept_upload(upload_of(tmp_path, "a", {"crm/accounts.csv": a}), settings, now=at(1))
    accept_upload(upload_of(tmp_path, "b", {"crm/accounts.csv": b}), settings, now=at(2))
    again = accept_upload(tmp_path / "a", settings, now=at(3))
    assert again != snap_a and again.name[-12:] == snap_a.name[-12:]  # same content hash, a new time
    assert current_snapshot(settings).path == again
    assert load_data(live, cache=False).accounts.column("AccountId").to_pylist() == ["A1"]


def test_a_single_csv_named_like_a_contract_file_is_an_upload(tmp_path, settings, live):
    path = write_csv(tmp_path / "inbox" / "seller_assignments.csv",
                     [{"SellerAssignmentAccountId": "A2", "SellerAssignmentStartDate": "2026-03-01", "SellerEmail": ANA}])
    snap = read_snapshot(accept_upload(path, settings, mode="append", now=at(5)))
    assert snap.source == "seller_assignments.csv" and snap.files[0].path == "crm/seller_assignments.csv"
    assert load_data(live, cache=False).assignments.num_rows == 3


def test_an_upload_with_no_contract_file_is_refused(tmp_path, settings, live):
    write_csv(tmp_path / "odd" / "stores.csv", [{"a": "1"}])
    with pytest.raises(InputError, match=r"holds no file of the data contract \(found: stores.csv\)"):
        accept_upload(tmp_path / "odd", settings)
    with pytest.raises(InputError, match="the file name does not say which contract file it is"):
        accept_upload(tmp_path / "odd" / "stores.csv", settings)
    with pytest.raises(InputError, match="upload mode 'merge' is not known"):
        accept_upload(tmp_path / "first", settings, mode="merge")


def test_a_parquet_data_folder_keeps_parquet(tmp_path, settings):
    import pyarrow.parquet as pq

    first = write_data_folder(tmp_path / "first")
    pq.write_table(load_data(first, cache=False).mails, first / "collaboration/mails.parquet")
    (first / "collaboration/mails.csv").unlink()
    accept_upload(first, settings, now=T0)
    mails = [{"MailId": "<m9@contoso.com>", "SentTime": "2026-11-19T09:00:00Z", "Sender": BOB}]
    accept_upload(upload_of(tmp_path, "up", {"collaboration/mails.csv": mails}), settings, mode="append", now=at(5))
    live = tmp_path / "data"
    assert not (live / "collaboration/mails.csv").exists()
    assert load_data(live, cache=False).mails.num_rows == 2


def test_readers_see_the_old_file_or_the_new_one_never_half(tmp_path, settings):
    big = [{"AccountId": f"A{i}", "AccountName": f"Account number {i}", "AccountsStartDate": "2026-01-01"} for i in range(60_000)]
    versions = [upload_of(tmp_path, "v0", {"crm/accounts.csv": big[:50_000]}), upload_of(tmp_path, "v1", {"crm/accounts.csv": big})]
    accept_upload(versions[0], settings, now=T0)
    target = tmp_path / "data" / "crm/accounts.csv"
    seen: set[str] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.add(hashlib.sha256(target.read_bytes()).hexdigest())

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(1, 7):
            accept_upload(versions[i % 2], settings, now=at(i))
    finally:
        stop.set()
        reader.join()
    published = {f.sha256 for s in list_snapshots(settings) for f in s.files}
    assert seen <= published and len(published) == 2
    assert not [p.name for p in target.parent.iterdir() if p.name != "accounts.csv"]  # no temporary file left


def test_a_publish_that_fails_midway_changes_nothing(tmp_path, settings, live):
    (live / "crm").rename(tmp_path / "crm-aside")
    (live / "crm").write_text("not a folder")  # the second file of the upload cannot be written
    before = state(settings)
    r = rows()
    r["org/people.csv"][0]["Organization"] = "Sales EMEA"
    entry = upload_of(tmp_path, "up", {k: r[k] for k in ("org/people.csv", "crm/accounts.csv")})
    with pytest.raises(OSError):
        accept_upload(entry, settings, now=at(5))
    assert state(settings) == before  # people.csv was not replaced either; no snapshot; no temporary file


def test_uploads_at_the_same_time_are_taken_one_after_the_other(tmp_path, settings, live):
    (Path(settings.data.store) / ".staging-999-dead").mkdir()  # left by a process that died mid-upload
    entries = [upload_of(tmp_path, f"up{i}", {"crm/accounts.csv": [{"AccountId": f"N{i}", "AccountName": f"New {i}",
                                                                     "AccountsStartDate": "2026-02-01"}]}) for i in range(4)]
    threads = [threading.Thread(target=accept_upload, args=(e, settings), kwargs={"mode": "append", "now": at(i + 1)})
               for i, e in enumerate(entries)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = load_data(live, cache=False).accounts.column("AccountId").to_pylist()
    assert sorted(ids) == ["A1", "A2", "N0", "N1", "N2", "N3"]  # no append lost to another
    assert len(list_snapshots(settings)) == 5
    assert not list(Path(settings.data.store).glob(".staging-*"))


def test_retention_keeps_the_snapshot_in_force(tmp_path, settings, live):
    new = [{"AccountId": "A3", "AccountName": "Litware", "AccountsStartDate": "2026-02-01"}]
    newest = accept_upload(upload_of(tmp_path, "up", {"crm/accounts.csv": new}), settings, now=at(5))
    counts = purge(settings.replace("privacy", raw_data_days=1), dt.date.today() + dt.timedelta(days=30))
    assert counts.snapshots == 1 and [s.path for s in list_snapshots(settings)] == [newest]


def test_the_upload_inbox_task_accepts_and_rejects_through_the_store(tmp_path, settings, live):
    from digest.airflow.uploads import process_upload

    s = settings.replace("airflow", upload_inbox=str(tmp_path / "upload_inbox"))
    r = rows()
    good = upload_of(tmp_path / "inbox", "good", {"crm/accounts.csv": r["crm/accounts.csv"][:1]})
    r["crm/contacts.csv"][1]["ContactsStartDate"] = "13/13/2026"
    bad = upload_of(tmp_path / "inbox", "bad", {"crm/contacts.csv": r["crm/contacts.csv"]})
    ok = process_upload(s, good, at(5))
    no = process_upload(s, bad, at(6))
    assert ok["accepted"] and not no["accepted"] and no["problems"] == 1
    report = json.loads(open(no["report"]).read())
    assert report["problems"][0] == {"file": "crm/contacts.csv", "row": 3, "column": "ContactsStartDate", "value": "13/13/2026",
                                     "expected": "a date as MM/DD/YYYY or YYYY-MM-DD", "line": None}
    assert load_data(live, cache=False).accounts.num_rows == 1 and load_data(live, cache=False).contacts.num_rows == 2


# --- the commands ---------------------------------------------------------------------------------

def run(settings: Settings, *args: str):
    env = {"DIGEST_DATA__FOLDER": settings.data.folder, "DIGEST_DATA__STORE": settings.data.store, "DIGEST_CONFIG": ""}
    return CliRunner().invoke(main, list(args), env={k: v for k, v in env.items() if v}, catch_exceptions=False)


def test_digest_validate_prints_each_file_and_exits_2_when_rejected(tmp_path, settings, live):
    ok = run(settings, "validate")
    assert ok.exit_code == 0, ok.output
    assert "crm/accounts.csv" in ok.output and "OK" in ok.output and "13 file(s) accepted, 0 rejected: a complete data folder" in ok.output
    r = rows()
    r["org/people.csv"][2]["EffectiveDate"] = "2026-13-01"
    entry = upload_of(tmp_path, "up", {"org/people.csv": r["org/people.csv"], "crm/accounts.csv": r["crm/accounts.csv"]})
    bad = run(settings, "validate", "--data", str(entry))
    assert bad.exit_code == 2
    assert "rejected" in bad.output and "org/people.csv, row 4, column EffectiveDate: value '2026-13-01'" in bad.output
    assert "1 file(s) accepted, 1 rejected" in bad.output


def test_digest_upload_publishes_and_reports_a_repeat(tmp_path, settings, live):
    new = [{"AccountId": "A3", "AccountName": "Litware", "AccountsStartDate": "2026-02-01"}]
    entry = upload_of(tmp_path, "up", {"crm/accounts.csv": new})
    first = run(settings, "upload", str(entry), "--mode", "append")
    assert first.exit_code == 0, first.output
    assert "snapshot" in first.output and "(append)" in first.output and "accepted and published" in first.output
    repeat = run(settings, "upload", str(entry), "--mode", "append")
    assert repeat.exit_code == 0 and "already in force" in repeat.output
    new[0]["AccountsStartDate"] = "soon"
    write_csv(entry / "crm/accounts.csv", new)
    rejected = run(settings, "upload", str(entry))
    assert rejected.exit_code == 2 and "crm/accounts.csv, row 2, column AccountsStartDate: value 'soon'" in rejected.output
