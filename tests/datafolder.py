"""A tiny valid CSV data folder (CONTRACT.md §1), and helpers to write variations of its files.

Two sellers (ana, bob) under mia, two accounts with a contact each, one mail, one meeting, one
call and one chat. Tests copy ``ROWS``, change a file, and write it with :func:`write_data_folder`.
"""

from __future__ import annotations

import copy
import csv
from pathlib import Path
from typing import Iterable

D = "2026-01-01"
ANA, BOB, MIA = "ana@contoso.com", "bob@contoso.com", "mia@contoso.com"

ROWS: dict[str, list[dict[str, str]]] = {
    "org/people.csv": [
        {"PersonId": MIA, "EffectiveDate": D, "ManagerId": "", "Organization": "Sales", "LevelDesignation": "Manager",
         "FunctionType": "Sales Manager", "TimeZone": "Europe/Paris"},
        {"PersonId": ANA, "EffectiveDate": D, "ManagerId": MIA, "Organization": "Sales", "LevelDesignation": "IC",
         "FunctionType": "Seller", "TimeZone": "Pacific Standard Time"},
        {"PersonId": BOB, "EffectiveDate": "01/01/2026", "ManagerId": MIA, "Organization": "Sales", "LevelDesignation": "IC",
         "FunctionType": "Seller", "TimeZone": ""},
    ],
    "crm/accounts.csv": [
        {"AccountId": "A1", "AccountName": "Fabrikam", "AccountsStartDate": D, "AccountAnnualRevenue": "5000000"},
        {"AccountId": "A2", "AccountName": "Northwind", "AccountsStartDate": D, "AccountAnnualRevenue": ""},
    ],
    "crm/contacts.csv": [
        {"ContactsAccountId": "A1", "ContactId": "C1", "ContactName": "Frank Fabri", "ContactEmail": "frank@fabrikam.com",
         "ContactsStartDate": D},
        {"ContactsAccountId": "A2", "ContactId": "C2", "ContactName": "Nora Wind", "ContactEmail": "Nora@Northwind.com",
         "ContactsStartDate": D},
    ],
    "crm/seller_assignments.csv": [
        {"SellerAssignmentAccountId": "A1", "SellerAssignmentStartDate": D, "SellerEmail": ANA},
        {"SellerAssignmentAccountId": "A2", "SellerAssignmentStartDate": D, "SellerEmail": BOB},
    ],
    "collaboration/mails.csv": [
        {"MailId": "<m1@contoso.com>", "SentTime": "2026-11-17T09:00:00Z", "Sender": ANA, "Sensitivity": "normal"},
    ],
    "collaboration/mail_recipients.csv": [
        {"MailId": "<m1@contoso.com>", "Email": "frank@fabrikam.com", "Kind": "to"},
    ],
    "collaboration/meetings.csv": [
        {"MeetingId": "T1", "StartTime": "2026-11-18T14:00:00+01:00", "EndTime": "2026-11-18T15:00:00+01:00",
         "Organizer": BOB, "IsCancelled": "false", "Sensitivity": "normal"},
    ],
    "collaboration/meeting_attendees.csv": [
        {"MeetingId": "T1", "Email": BOB, "Response": "organizer"},
        {"MeetingId": "T1", "Email": "nora@northwind.com", "Response": "accepted"},
    ],
    "collaboration/calls.csv": [
        {"CallId": "K1", "StartTime": "2026-11-19T10:00:00Z", "EndTime": "2026-11-19T10:30:00Z", "MeetingId": ""},
    ],
    "collaboration/call_participants.csv": [
        {"CallId": "K1", "Email": ANA, "JoinTime": "2026-11-19T10:00:00Z", "LeaveTime": "2026-11-19T10:30:00Z"},
        {"CallId": "K1", "Email": "frank@fabrikam.com", "JoinTime": "2026-11-19T10:00:00Z", "LeaveTime": "2026-11-19T10:25:00Z"},
    ],
    "collaboration/chat_messages.csv": [
        {"MessageId": "X1", "ChatId": "H1", "SentTime": "2026-11-20T08:00:00Z", "Sender": ANA},
    ],
    "collaboration/chat_members.csv": [
        {"ChatId": "H1", "Email": ANA}, {"ChatId": "H1", "Email": BOB},
    ],
    "optouts.csv": [],
}
HEADERS = {path: list(rows[0]) if rows else ["PersonId"] for path, rows in ROWS.items()}


def rows() -> dict[str, list[dict[str, str]]]:
    """A fresh copy of the valid rows, to change in a test."""
    return copy.deepcopy(ROWS)


def write_csv(path: Path, records: Iterable[dict[str, str]], header: list[str] | None = None) -> Path:
    """Write records as a UTF-8 CSV file (header: the given one, else the first record's keys)."""
    records = list(records)
    header = header or (list(records[0]) if records else [])
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(records)
    return path


def write_data_folder(folder: Path, files: dict[str, list[dict[str, str]]] | None = None,
                      only: Iterable[str] | None = None) -> Path:
    """Write a data folder (the valid rows, or `files`); `only` limits it to some paths (an upload)."""
    files = files or ROWS
    for path, records in files.items():
        if only is not None and path not in set(only):
            continue
        write_csv(folder / path, records, HEADERS.get(path) if not records else None)
    return folder
