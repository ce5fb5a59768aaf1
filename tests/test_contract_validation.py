"""Every loading rule of CONTRACT.md §1: one failing file per rule, asserting file, row, column and value."""

from __future__ import annotations

import datetime as dt
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datafolder import ANA, BOB, MIA, rows, write_csv, write_data_folder
from digest.errors import FilesRejected, InputError, Problem, ValidationError
from digest.sources import files
from digest.sources.contract import FILES_BY_KEY
from digest.sources.files import CACHE_DIR, encoded, load_data


def rejected(tmp_path, path: str, records: list[dict], header: list[str] | None = None) -> ValidationError:
    """Write the valid folder with one file replaced by `records`, load it, return the rejection."""
    folder = write_data_folder(tmp_path / "data")
    write_csv(folder / path, records, header)
    with pytest.raises(ValidationError) as caught:
        load_data(folder, cache=False)
    return caught.value


def only(error: ValidationError) -> Problem:
    assert len(error.problems) == 1, error.problems
    return error.problems[0]


def test_a_valid_folder_loads_into_typed_tables(tmp_path):
    data = load_data(write_data_folder(tmp_path / "data"), cache=False)
    assert {k: t.num_rows for k, t in data.tables().items()} == {
        "people": 3, "accounts": 2, "contacts": 2, "assignments": 2, "mails": 1, "mail_recipients": 1, "meetings": 1,
        "meeting_attendees": 2, "calls": 1, "call_participants": 2, "chat_messages": 1, "chat_members": 2, "optouts": 0}
    people = {r["PersonId"]: r for r in data.people.to_pylist()}
    assert people[MIA]["ManagerId"] is None  # blank for the top of the org: allowed
    assert people[BOB]["EffectiveDate"] == dt.date(2026, 1, 1)  # written 01/01/2026
    assert data.contacts.column("ContactEmail").to_pylist() == ["frank@fabrikam.com", "nora@northwind.com"]  # lower-cased
    meeting = data.meetings.to_pylist()[0]
    assert meeting["StartTime"] == dt.datetime(2026, 11, 18, 13, tzinfo=dt.timezone.utc)  # +01:00 → UTC
    assert data.calls.column("MeetingId").to_pylist() == [None]
    assert data.accounts.schema.field("AccountAnnualRevenue").type == pa.float64()
    assert data.accounts.column("AccountWebsite").to_pylist() == [None, None]  # optional column absent: nulls


def test_missing_required_column_is_named_with_a_suggestion(tmp_path):
    records = [{("AccountID" if k == "AccountId" else k): v for k, v in r.items()} for r in rows()["crm/accounts.csv"]]
    error = rejected(tmp_path, "crm/accounts.csv", records)
    first = error.problems[0]
    assert (first.file, first.row, first.column) == ("crm/accounts.csv", 1, "AccountId")
    assert "found 'AccountID'" in first.expected and "case-sensitive" in first.expected
    assert "AccountId" in str(error) and "rename it or use a column mapping" in str(error)


def test_missing_column_without_a_near_name_points_to_mappings(tmp_path):
    records = [{k: v for k, v in r.items() if k != "ContactsStartDate"} for r in rows()["crm/contacts.csv"]]
    problem = rejected(tmp_path, "crm/contacts.csv", records).problems[0]
    assert problem.column == "ContactsStartDate" and "column mapping" in problem.expected


@pytest.mark.parametrize("value", ["31/12/2026", "2026-02-30", "02/30/2026", "2026/01/01", "2026-1-5", "yesterday", "20260101"])
def test_unparsable_date_is_rejected_with_row_column_and_value(tmp_path, value):
    records = rows()["crm/accounts.csv"]
    records[1]["AccountsStartDate"] = value
    problem = only(rejected(tmp_path, "crm/accounts.csv", records))
    assert (problem.file, problem.row, problem.column, problem.value) == ("crm/accounts.csv", 3, "AccountsStartDate", value)
    assert "MM/DD/YYYY or YYYY-MM-DD" in problem.expected


def test_both_date_formats_are_accepted(tmp_path):
    r = rows()
    r["crm/accounts.csv"][0]["AccountsStartDate"] = "12/31/2025"
    r["crm/accounts.csv"][1]["AccountsStartDate"] = "2/1/2024"
    r["crm/contacts.csv"][0]["ContactsStartDate"] = "2028-02-29"
    data = load_data(write_data_folder(tmp_path / "data", r), cache=False)
    assert data.accounts.column("AccountsStartDate").to_pylist() == [dt.date(2025, 12, 31), dt.date(2024, 2, 1)]
    assert data.contacts.column("ContactsStartDate").to_pylist()[0] == dt.date(2028, 2, 29)


@pytest.mark.parametrize("value", ["2026-11-17T09:00:00", "2026-11-17 09:00", "2026-11-17", "17/11/2026 09:00Z"])
def test_time_without_offset_is_rejected(tmp_path, value):
    records = rows()["collaboration/mails.csv"]
    records[0]["SentTime"] = value
    problem = only(rejected(tmp_path, "collaboration/mails.csv", records))
    assert (problem.file, problem.row, problem.column, problem.value) == ("collaboration/mails.csv", 2, "SentTime", value)
    assert "offset or Z" in problem.expected


def test_times_with_an_offset_or_z_are_read_as_utc(tmp_path):
    r = rows()
    r["collaboration/mails.csv"][0]["SentTime"] = "2026-11-17T09:00:00.5-05:00"
    data = load_data(write_data_folder(tmp_path / "data", r), cache=False)
    assert data.mails.column("SentTime").to_pylist() == [dt.datetime(2026, 11, 17, 14, 0, 0, 500000, tzinfo=dt.timezone.utc)]


@pytest.mark.parametrize("value", ["frank.fabrikam.com", "frank@fabrikam", "frank @fabrikam.com", "a@b.com;c@d.com", "<frank@fabrikam.com>"])
def test_malformed_email_is_rejected(tmp_path, value):
    records = rows()["crm/contacts.csv"]
    records[0]["ContactEmail"] = value
    problem = only(rejected(tmp_path, "crm/contacts.csv", records))
    assert (problem.row, problem.column, problem.value) == (2, "ContactEmail", value)
    assert "email address" in problem.expected


@pytest.mark.parametrize("path,key,date", [("crm/accounts.csv", "AccountId", "AccountsStartDate"),
                                           ("crm/contacts.csv", "ContactId", "ContactsStartDate")])
def test_the_same_id_twice_with_the_same_start_date_is_rejected(tmp_path, path, key, date):
    records = rows()[path]
    records.append(dict(records[0]))
    problem = only(rejected(tmp_path, path, records))
    assert (problem.row, problem.column) == (4, f"{key} + {date}")
    assert problem.value == f"{records[0][key]} / 2026-01-01" and "row 2" in problem.expected


def test_the_same_id_with_another_start_date_is_history_and_accepted(tmp_path):
    r = rows()
    r["crm/accounts.csv"].append({**r["crm/accounts.csv"][0], "AccountsStartDate": "2026-06-01", "AccountName": "Fabrikam Inc."})
    data = load_data(write_data_folder(tmp_path / "data", r), cache=False)
    assert data.accounts.num_rows == 3


def test_a_blank_required_value_is_rejected(tmp_path):
    records = rows()["crm/accounts.csv"]
    records[1]["AccountName"] = "   "
    problem = only(rejected(tmp_path, "crm/accounts.csv", records))
    assert (problem.row, problem.column, problem.value) == (3, "AccountName", "")
    assert "required" in problem.expected


def test_manager_blank_is_allowed_but_person_blank_is_not(tmp_path):
    records = rows()["org/people.csv"]
    records[1]["ManagerId"] = ""
    records[2]["PersonId"] = ""
    problem = only(rejected(tmp_path, "org/people.csv", records))
    assert (problem.row, problem.column) == (4, "PersonId")


@pytest.mark.parametrize("written,iana", [("Pacific Standard Time", "America/Los_Angeles"), ("W. Europe Standard Time", "Europe/Berlin"),
                                          ("tokyo standard time", "Asia/Tokyo"), ("europe/paris", "Europe/Paris"), ("UTC", "UTC")])
def test_windows_and_iana_time_zone_names_are_stored_as_iana(tmp_path, written, iana):
    r = rows()
    r["org/people.csv"][0]["TimeZone"] = written
    data = load_data(write_data_folder(tmp_path / "data", r), cache=False)
    assert data.people.column("TimeZone").to_pylist()[0] == iana


def test_an_unknown_time_zone_is_rejected(tmp_path):
    records = rows()["org/people.csv"]
    records[0]["TimeZone"] = "Mars/Olympus_Mons"
    problem = only(rejected(tmp_path, "org/people.csv", records))
    assert (problem.row, problem.column, problem.value) == (2, "TimeZone", "Mars/Olympus_Mons")


def test_enums_are_case_insensitive_and_stored_canonically(tmp_path):
    r = rows()
    r["collaboration/meeting_attendees.csv"][1]["Response"] = "TentativelyAccepted"
    r["collaboration/mail_recipients.csv"][0]["Kind"] = "CC"
    data = load_data(write_data_folder(tmp_path / "data", r), cache=False)
    assert data.meeting_attendees.column("Response").to_pylist() == ["organizer", "tentativelyAccepted"]
    assert data.mail_recipients.column("Kind").to_pylist() == ["cc"]


@pytest.mark.parametrize("path,column,value", [("collaboration/mail_recipients.csv", "Kind", "bc"),
                                               ("collaboration/meeting_attendees.csv", "Response", "maybe"),
                                               ("collaboration/mails.csv", "Sensitivity", "secret"),
                                               ("collaboration/meetings.csv", "IsCancelled", "perhaps"),
                                               ("crm/accounts.csv", "AccountAnnualRevenue", "5,000,000")])
def test_a_bad_enum_bool_or_number_is_rejected(tmp_path, path, column, value):
    records = rows()[path]
    records[0][column] = value
    problem = only(rejected(tmp_path, path, records))
    assert (problem.row, problem.column, problem.value) == (2, column, value)


def test_several_problems_are_reported_together_first_20_shown_all_counted(tmp_path):
    records = [{"ContactsAccountId": "A1", "ContactId": f"C{i}", "ContactName": f"P{i}", "ContactEmail": f"p{i}-at-fabrikam.com",
                "ContactsStartDate": "2026-01-01"} for i in range(25)]
    records[3]["ContactsStartDate"] = "soon"
    records[0]["ContactName"] = ""
    error = rejected(tmp_path, "crm/contacts.csv", records)
    assert error.total == 27 and len(error.problems) == 20
    assert [(p.row, p.column) for p in error.problems[:4]] == [(2, "ContactName"), (2, "ContactEmail"), (3, "ContactEmail"),
                                                                (4, "ContactEmail")]
    assert "27 problem(s)" in str(error) and "… and 7 more (first 20 shown)" in str(error)


def test_every_rejected_file_is_listed_with_its_own_problems(tmp_path):
    folder = write_data_folder(tmp_path / "data")
    r = rows()
    r["crm/accounts.csv"][0]["AccountsStartDate"] = "tomorrow"
    r["org/people.csv"][1]["PersonId"] = "ana"
    write_data_folder(folder, r, only=["crm/accounts.csv", "org/people.csv"])
    with pytest.raises(FilesRejected) as caught:
        load_data(folder, cache=False)
    found = {(p.file, p.row, p.column, p.value) for p in caught.value.problems}
    assert found == {("org/people.csv", 3, "PersonId", "ana"), ("crm/accounts.csv", 2, "AccountsStartDate", "tomorrow")}
    assert caught.value.total == 2 and "2 files were rejected" in str(caught.value)


def test_rows_with_the_same_id_collapse_and_participants_are_united(tmp_path):
    r = rows()
    m1 = r["collaboration/mails.csv"][0]
    r["collaboration/mails.csv"].append(dict(m1))  # the same message, seen from the recipient's mailbox
    r["collaboration/mail_recipients.csv"] += [{"MailId": m1["MailId"], "Email": "Frank@Fabrikam.com", "Kind": "to"},
                                               {"MailId": m1["MailId"], "Email": BOB, "Kind": "cc"}]
    r["collaboration/meetings.csv"].append(dict(r["collaboration/meetings.csv"][0]))
    r["collaboration/meeting_attendees.csv"].append({"MeetingId": "T1", "Email": ANA, "Response": "accepted"})
    data = load_data(write_data_folder(tmp_path / "data", r), cache=False)
    assert data.mails.num_rows == 1 and data.meetings.num_rows == 1
    assert sorted(data.mail_recipients.column("Email").to_pylist()) == [BOB, "frank@fabrikam.com"]
    assert sorted(data.meeting_attendees.column("Email").to_pylist()) == [ANA, BOB, "nora@northwind.com"]


def test_an_attendee_seen_from_several_mailboxes_keeps_the_real_answer(tmp_path):
    r = rows()
    meeting = r["collaboration/meetings.csv"][0]["MeetingId"]
    # Another attendee's copy of the event lists bob with no answer; bob's own copy says declined.
    r["collaboration/meeting_attendees.csv"] = [a for a in r["collaboration/meeting_attendees.csv"] if a["Email"] != BOB]
    r["collaboration/meeting_attendees.csv"] += [{"MeetingId": meeting, "Email": BOB, "Response": "none"},
                                                 {"MeetingId": meeting, "Email": BOB, "Response": "declined"},
                                                 {"MeetingId": meeting, "Email": BOB, "Response": "notResponded"}]
    data = load_data(write_data_folder(tmp_path / "data", r), cache=False)
    answers = {(row["MeetingId"], row["Email"]): row["Response"] for row in data.meeting_attendees.to_pylist()}
    assert answers[(meeting, BOB)] == "declined"
    assert data.meeting_attendees.num_rows == len(answers)


def test_csv_and_parquet_collaboration_files_are_both_read(tmp_path):
    csv_data = load_data(write_data_folder(tmp_path / "csv"), cache=False)
    folder = write_data_folder(tmp_path / "mixed")
    (folder / "collaboration/mails.csv").unlink()
    pq.write_table(csv_data.mails, folder / "collaboration/mails.parquet")  # typed: times with a zone
    text = pa.table({k: pa.array([v], pa.string()) for k, v in rows()["collaboration/meetings.csv"][0].items()})
    (folder / "collaboration/meetings.csv").unlink()
    pq.write_table(text, folder / "collaboration/meetings.parquet")  # text columns, as a CSV would give
    data = load_data(folder, cache=False)
    assert data.mails.equals(csv_data.mails) and data.meetings.equals(csv_data.meetings)
    assert data.origin["mails"]["path"] == "collaboration/mails.parquet"


def test_parquet_times_without_a_zone_are_rejected(tmp_path):
    folder = write_data_folder(tmp_path / "data")
    (folder / "collaboration/chat_messages.csv").unlink()
    naive = pa.table({"MessageId": ["X1"], "ChatId": ["H1"], "SentTime": pa.array([dt.datetime(2026, 11, 20, 8)]), "Sender": [ANA]})
    pq.write_table(naive, folder / "collaboration/chat_messages.parquet")
    with pytest.raises(ValidationError) as caught:
        load_data(folder, cache=False)
    problem = only(caught.value)
    assert (problem.file, problem.row, problem.column) == ("collaboration/chat_messages.parquet", 1, "SentTime")


def test_a_file_as_both_csv_and_parquet_is_an_error(tmp_path):
    folder = write_data_folder(tmp_path / "data")
    pq.write_table(load_data(folder, cache=False).calls, folder / "collaboration/calls.parquet")
    with pytest.raises(InputError, match=r"collaboration/calls exists as both \.csv and \.parquet: keep one"):
        load_data(folder, cache=False)


def test_a_non_utf8_file_names_the_line_and_the_fix(tmp_path):
    folder = write_data_folder(tmp_path / "data")
    text = (folder / "crm/accounts.csv").read_text(encoding="utf-8").replace("Northwind", "Caf\u00e9 Nord")
    (folder / "crm/accounts.csv").write_bytes(text.encode("latin-1"))
    with pytest.raises(ValidationError) as caught:
        load_data(folder, cache=False)
    problem = only(caught.value)
    assert (problem.file, problem.line) == ("crm/accounts.csv", 3)
    assert "Caf\\xe9 Nord" in problem.value and "UTF-8" in problem.expected and "CSV UTF-8" in problem.expected
    offset = text.encode("latin-1").index(b"\xe9")
    assert f"byte 0xE9 at byte offset {offset}" in problem.expected and "Windows-1252 / Latin-1" in problem.expected
    assert "crm/accounts.csv, line 3: value" in str(caught.value) and "Excel: File > Save As > CSV UTF-8" in str(caught.value)


ACCOUNTS = "AccountId,AccountName,AccountsStartDate,AccountAnnualRevenue\n"


def rejected_bytes(tmp_path, path: str, data: bytes) -> ValidationError:
    """Write the valid folder with one file replaced by raw bytes, load it, return the rejection."""
    folder = write_data_folder(tmp_path / "data")
    (folder / path).write_bytes(data)
    with pytest.raises(ValidationError) as caught:
        load_data(folder, cache=False)
    return caught.value


def test_ragged_rows_name_their_line_as_an_editor_shows_it(tmp_path):
    text = (ACCOUNTS
            + 'A0,"Multi\nline name",2026-01-01,1\n'  # lines 2-3: one record
            + "A1,Northwind, Inc,2026-01-01,5\n"      # line 4: a value too many
            + "A2,Fabrikam,2026-01-01,5\n"
            + "\n"                                    # line 6: blank, skipped like pyarrow does
            + "A3,Contoso\n")                         # line 7: values missing
    error = rejected_bytes(tmp_path, "crm/accounts.csv", text.encode())
    assert [(p.file, p.line, p.value) for p in error.problems] == [
        ("crm/accounts.csv", 4, "A1,Northwind, Inc,2026-01-01,5"), ("crm/accounts.csv", 7, "A3,Contoso")]
    assert "4 values like the header, found 5" in error.problems[0].expected and "double quotes" in error.problems[0].expected
    assert "4 values like the header, found 2" in error.problems[1].expected
    assert "crm/accounts.csv, line 4: value 'A1,Northwind, Inc,2026-01-01,5': expected 4 values" in str(error)
    assert "CSV parse error" not in str(error)


def test_ragged_rows_of_a_collaboration_file_are_counted_first_20_shown(tmp_path):
    header = "MailId,SentTime,Sender,Sensitivity\n"
    good = "<m1@contoso.com>,2026-11-17T09:00:00Z,ana@contoso.com,normal\n"
    text = header + good + "".join(f"<m{i}@contoso.com>,2026-11-17T09:00:00Z,ana@contoso.com,normal,extra\n" for i in range(25))
    error = rejected_bytes(tmp_path, "collaboration/mails.csv", text.encode())
    assert error.total == 25 and len(error.problems) == 20
    assert [p.line for p in error.problems] == list(range(3, 23))
    assert "… and 5 more (first 20 shown)" in str(error)


def test_an_unterminated_quote_names_the_line_where_it_opens(tmp_path):
    text = ACCOUNTS + "A1,Fabrikam,2026-01-01,5\n" + 'A2,"Northwind,2026-01-01,\n' + "A3,Contoso,2026-01-01,7\n"
    problem = only(rejected_bytes(tmp_path, "crm/accounts.csv", text.encode()))
    assert (problem.file, problem.line, problem.value) == ("crm/accounts.csv", 3, 'A2,"Northwind,2026-01-01,')
    assert "closing double quote" in problem.expected and "never closes" in problem.expected


@pytest.mark.parametrize("codec, name", [("utf-16", "UTF-16 LE"), ("utf-16-be", "UTF-16 BE"), ("utf-16-le", "UTF-16 LE")])
def test_a_utf16_file_is_named_as_such_with_the_fix(tmp_path, codec, name):
    folder = write_data_folder(tmp_path / "data")
    text = (folder / "crm/accounts.csv").read_text(encoding="utf-8")
    problem = only(rejected_bytes(tmp_path / "again", "crm/accounts.csv", text.encode(codec)))
    assert (problem.file, problem.line) == ("crm/accounts.csv", 1)
    assert name in problem.expected and "UTF-8" in problem.expected
    assert "save it as CSV UTF-8 (Excel: File > Save As > CSV UTF-8)" in problem.expected


def test_a_binary_file_is_not_read_as_csv(tmp_path):
    import io
    import zipfile

    workbook = io.BytesIO()  # an Excel workbook is a zip archive
    with zipfile.ZipFile(workbook, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/worksheets/sheet1.xml", "<sheetData>" + "<row><c t='s'><v>1</v></c></row>" * 200 + "</sheetData>")
    data = workbook.getvalue()
    problem = only(rejected_bytes(tmp_path, "crm/accounts.csv", data))
    assert problem.line == 1 and "NUL bytes" in problem.expected and f"byte offset {data.index(0)}" in problem.expected


def test_a_utf8_file_with_a_byte_order_mark_is_read(tmp_path):
    folder = write_data_folder(tmp_path / "data")
    path = folder / "crm/accounts.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"Northwind", "Nörthwind".encode()))
    assert load_data(folder, cache=False).accounts.column("AccountName").to_pylist() == ["Fabrikam", "Nörthwind"]


def test_header_problems_empty_file_and_repeated_column(tmp_path):
    folder = write_data_folder(tmp_path / "data")
    (folder / "crm/accounts.csv").write_text("")
    (folder / "crm/contacts.csv").write_text("ContactsAccountId,ContactId,ContactId,ContactName,ContactEmail,ContactsStartDate\n")
    with pytest.raises(FilesRejected) as caught:
        load_data(folder, cache=False)
    assert [(p.file, p.row, p.column) for p in caught.value.problems] == [("crm/accounts.csv", 1, None), ("crm/contacts.csv", 1, "ContactId")]


def test_a_missing_required_file_is_named(tmp_path):
    folder = write_data_folder(tmp_path / "data")
    (folder / "collaboration/chat_members.csv").unlink()
    (folder / "optouts.csv").unlink()  # optional: fine
    with pytest.raises(InputError, match="lacks collaboration/chat_members"):
        load_data(folder, cache=False)


def test_the_cache_serves_unchanged_files_and_a_changed_file_is_validated_again(tmp_path):
    folder = write_data_folder(tmp_path / "data")
    first = load_data(folder)
    cached = {p.name: p.stat().st_mtime_ns for p in (folder / CACHE_DIR).iterdir()}
    assert len(cached) == 13
    again = load_data(folder)
    assert again.accounts.equals(first.accounts)
    assert {p.name: p.stat().st_mtime_ns for p in (folder / CACHE_DIR).iterdir()} == cached  # read, not rewritten
    r = rows()
    r["crm/accounts.csv"][0]["AccountsStartDate"] = "someday"
    write_data_folder(folder, r, only=["crm/accounts.csv"])
    with pytest.raises(ValidationError, match="someday"):
        load_data(folder)
    r["crm/accounts.csv"][0]["AccountsStartDate"] = "2026-03-01"
    write_data_folder(folder, r, only=["crm/accounts.csv"])
    assert load_data(folder).accounts.column("AccountsStartDate").to_pylist()[0] == dt.date(2026, 3, 1)
    assert len(list((folder / CACHE_DIR).glob("accounts-*"))) == 1  # one entry per file: the current content
    assert not any(name.endswith(".tmp" + str(os.getpid())) for name in os.listdir(folder / CACHE_DIR))


def test_the_cache_keeps_one_dictionary_per_repeated_column(tmp_path):
    """The metrics read each address column's dictionary once; one per chunk would be unified again (~15 s at 20k)."""
    folder = write_data_folder(tmp_path / "data")
    spec = FILES_BY_KEY["mail_recipients"]
    table = load_data(folder).mail_recipients
    chunked = pa.concat_tables([table] * 3)  # several chunks, one dictionary
    assert chunked.column("Email").num_chunks > 1
    files._store_cache(folder, spec, "0" * 64, chunked)
    back = files._cached(folder, spec, "0" * 64)
    assert back.equals(chunked)
    column = back.column("Email")
    assert column.num_chunks > 1 and encoded(column) is column  # one dictionary: nothing to unify


def test_a_file_read_in_many_batches_gives_the_same_table_and_rows(tmp_path, monkeypatch):
    """Large files are converted batch by batch: the result and the rows problems name must not depend on it."""
    import digest.sources.files as files

    r = rows()
    base = r["collaboration/mail_recipients.csv"][0]
    r["collaboration/mail_recipients.csv"] = [{**base, "MailId": f"M{i % 40}", "Email": f"p{i % 7}@fabrikam.com"} for i in range(300)]
    folder = write_data_folder(tmp_path / "data", r)
    whole = load_data(folder, cache=False)
    pq.write_table(pa.Table.from_pylist(r["collaboration/mail_recipients.csv"]), folder / "collaboration/mail_recipients.parquet")
    (folder / "collaboration/mail_recipients.csv").unlink()
    monkeypatch.setattr(files, "BATCH_ROWS", 17)
    monkeypatch.setattr(files, "BATCH_BYTES", 512)
    batched = load_data(folder, cache=False)
    assert batched.mail_recipients.combine_chunks().equals(whole.mail_recipients.combine_chunks())
    r["collaboration/mail_recipients.csv"][250]["Email"] = "not-an-address"
    r["collaboration/mail_recipients.csv"][20]["Kind"] = "sideways"
    (folder / "collaboration/mail_recipients.parquet").unlink()
    write_data_folder(folder, r, only=["collaboration/mail_recipients.csv"])
    with pytest.raises(ValidationError) as caught:
        load_data(folder, cache=False)
    assert [(p.row, p.column) for p in caught.value.problems] == [(22, "Kind"), (252, "Email")]


def test_duplicates_collapse_the_same_when_every_key_hash_collides(tmp_path, monkeypatch):
    """Rows are told apart by a 64-bit hash of their key first; rows sharing a hash are compared by their text."""
    import digest.sources.files as files

    r = rows()
    base = r["collaboration/mail_recipients.csv"][0]
    r["collaboration/mail_recipients.csv"] = [{**base, "MailId": f"M{i % 40}", "Email": f"p{i % 7}@fabrikam.com",
                                               "Kind": ("to", "cc")[i % 2]} for i in range(300)]
    folder = write_data_folder(tmp_path / "data", r)
    hashed = load_data(folder, cache=False).mail_recipients
    monkeypatch.setattr(files, "KEY_HASH", "42::UBIGINT")
    collided = load_data(folder, cache=False).mail_recipients
    assert hashed.num_rows == 280 and collided.equals(hashed)  # 40 ids x 7 addresses, the first row of each kept
    assert hashed.slice(0, 3).to_pylist() == [{**base, "MailId": f"M{i}", "Email": f"p{i}@fabrikam.com", "Kind": ("to", "cc")[i % 2]}
                                              for i in range(3)]


def test_the_ascii_fast_path_trims_and_lowers_as_the_unicode_kernels_do():
    """Plain ASCII text goes through the ascii_* kernels; any other text must give the same result through utf8_*."""
    import pyarrow.compute as pc

    from digest.sources.columns import _lower, as_text

    for code in range(0, 0x2100):
        c = chr(code)
        values = pa.chunked_array([pa.array([f"{c}Ab{c}", c, f" {c} ", " Q "]), pa.array(["plain", None, ""])])
        trimmed = pc.utf8_trim_whitespace(values)
        assert as_text(values).equals(pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)), hex(code)
        assert _lower(values).equals(pc.utf8_lower(values)), hex(code)


def test_conversation_id_is_an_optional_mails_column_and_its_absence_is_remembered(tmp_path):
    """CONTRACT.md §8: without the column, the relationship card's starts and response times are null."""
    from digest.sources.contract import has_column

    files = rows()
    files["collaboration/mails.csv"] = [dict(r, ConversationId=f"  AAQk-{i}  " if i else "") for i, r in enumerate(files["collaboration/mails.csv"])]
    files["collaboration/mails.csv"].append(dict(files["collaboration/mails.csv"][0], MailId="<other@contoso.com>", ConversationId="AAQk-9"))
    with_column = load_data(write_data_folder(tmp_path / "with", files), cache=True)
    assert has_column(with_column.mails, "ConversationId")
    assert sorted(with_column.mails.column("ConversationId").to_pylist(), key=str) == ["AAQk-9", None]  # trimmed; blank = null
    again = load_data(tmp_path / "with", cache=True)  # from the cache: the mark survives
    assert has_column(again.mails, "ConversationId")
    without = load_data(write_data_folder(tmp_path / "without"), cache=True)
    assert not has_column(without.mails, "ConversationId") and not has_column(load_data(tmp_path / "without").mails, "ConversationId")
    assert without.mails.column("ConversationId").null_count == without.mails.num_rows  # present as nulls for SQL


def test_take_sorted_gives_what_take_gives_chunk_by_chunk():
    import numpy as np

    from digest.sources.files import take_sorted

    table = pa.concat_tables([pa.table({"k": [f"k{i}" for i in range(n, n + 5)], "o": list(range(n, n + 5))})
                              for n in (0, 5, 10, 15)]).combine_chunks().append_column("x", pa.chunked_array(
                                  [pa.array(range(0, 7)), pa.array(range(7, 20))]))  # columns cut at other rows
    for rows in ([], [0], [3, 4, 5, 6, 7, 19], list(range(20)), [6, 7, 8, 12]):
        rows = np.array(rows, dtype=np.int64)
        assert take_sorted(table, rows).equals(table.take(pa.array(rows, pa.int64())).cast(table.schema))
        assert take_sorted(table.column("x"), rows).equals(table.column("x").take(pa.array(rows, pa.int64())))


def test_duplicates_collapse_when_a_key_column_holds_more_than_2_gb_of_text():
    """Arrow's take joins a column's chunks into one string array first: past 2 GB of text that fails
    (the mail recipients of ~40,000 sellers' weeks did). Here three chunks view one 0.75 GB buffer."""
    import numpy as np
    import pyarrow.compute as pc

    from digest.sources.files import _first_per_key

    width, n = 1 << 20, 750
    data = pa.py_buffer(np.random.default_rng(7).integers(97, 123, width * n + 2, dtype=np.uint8).tobytes())
    chunks = [pa.StringArray.from_buffers(n - 1, pa.py_buffer(np.arange(shift, shift + width * n, width, dtype=np.int32).tobytes()),
                                          data) for shift in (0, 1, 2)]
    twice = chunks[0].slice(0, 2)  # two keys seen again: the only duplicates
    keys = pa.chunked_array([*chunks, twice])
    assert pc.sum(pc.binary_length(keys)).as_py() > 2 ** 31
    indexed = pa.table({"MailId": keys, "__order": pa.array(np.arange(len(keys)))})
    best = np.sort(_first_per_key(indexed, ["MailId"]))
    assert len(best) == len(keys) - 2 and best[-1] == 3 * (n - 1) - 1  # the second sightings dropped
