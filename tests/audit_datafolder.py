"""A small CSV data folder (CONTRACT.md §1) with canaries, for privacy tests that run the real steps.

Sellers ana, bob and cat. Every name containing "Zyxwv" or "Canary" (an account, a contact, an
internal group) appears only in interactions bob took part in. ana was invited to bob's canary
meeting but declined, so she did not take part in it (CONTRACT.md §3) and must see none of it.
"""

from __future__ import annotations

import csv
from pathlib import Path

WEEK = "2026-W47"
ANA, BOB, CAT = "ana@contoso.com", "bob@contoso.com", "cat@contoso.com"
SELLERS = (ANA, BOB, CAT)
CANARIES = ("Zyxwv", "Canary", "canaryzyx", "quentin", "ZX-9")  # searched case-insensitively
OTHER_SELLERS_ACCOUNTS = {ANA: "Northwind", CAT: "Northwind"}  # bob's account: a broken renderer injects it

D = "2026-01-01"


def _t(day: int, hour: int, minute: int = 0) -> str:
    return f"2026-11-{day:02d}T{hour:02d}:{minute:02d}:00Z"


FILES: dict[str, list[dict[str, str]]] = {
    "org/people.csv": [
        {"PersonId": p, "EffectiveDate": D, "ManagerId": m, "Organization": "Sales", "LevelDesignation": lvl,
         "FunctionType": f, "TimeZone": "Europe/Paris"}
        for p, m, lvl, f in [
            ("vp@contoso.com", "", "Executive", "Leadership"),
            ("mia@contoso.com", "vp@contoso.com", "Manager", "Sales Manager"),
            (ANA, "mia@contoso.com", "IC", "Seller"), (BOB, "mia@contoso.com", "IC", "Seller"),
            (CAT, "mia@contoso.com", "IC", "Seller"),
            ("sam@contoso.com", "mia@contoso.com", "IC", "Solution Specialist"),
            ("eve@contoso.com", "mia@contoso.com", "IC", "Zyxwv Canary Lab"),
        ]
    ],
    "crm/accounts.csv": [
        {"AccountId": "A1", "AccountName": "Fabrikam", "AccountsStartDate": D, "AccountAnnualRevenue": "5000000", "AccountWebsite": "https://www.fabrikam.com"},
        {"AccountId": "A2", "AccountName": "Northwind", "AccountsStartDate": D, "AccountAnnualRevenue": "3000000", "AccountWebsite": "northwind.com"},
        {"AccountId": "A3", "AccountName": "Litware", "AccountsStartDate": D, "AccountAnnualRevenue": "", "AccountWebsite": "litware.com"},
        {"AccountId": "ZX-9", "AccountName": "Zyxwv Canary Holdings", "AccountsStartDate": D, "AccountAnnualRevenue": "9000000",
         "AccountWebsite": "canaryzyx.example"},
    ],
    "crm/contacts.csv": [
        {"ContactsAccountId": a, "ContactId": i, "ContactName": n, "ContactEmail": e, "ContactsStartDate": D}
        for a, i, n, e in [("A1", "C1", "Frank Fabri", "frank@fabrikam.com"), ("A2", "C2", "Nora Wind", "nora@northwind.com"),
                           ("A3", "C3", "Lena Litt", "lena@litware.com"),
                           ("ZX-9", "C9", "Quentin Canaryperson", "quentin@canaryzyx.example")]
    ],
    "crm/seller_assignments.csv": [
        {"SellerAssignmentAccountId": a, "SellerAssignmentStartDate": D, "SellerEmail": s}
        for a, s in [("A1", ANA), ("A2", BOB), ("A3", CAT)]
    ],
    "collaboration/mails.csv": [
        {"MailId": "<m1@contoso.com>", "SentTime": _t(17, 9), "Sender": ANA, "Sensitivity": "normal"},
        {"MailId": "<m2@contoso.com>", "SentTime": _t(17, 10), "Sender": BOB, "Sensitivity": "normal"},
        {"MailId": "<m3@contoso.com>", "SentTime": _t(18, 9), "Sender": "sam@contoso.com", "Sensitivity": "normal"},
        {"MailId": "<m4@contoso.com>", "SentTime": _t(18, 11), "Sender": CAT, "Sensitivity": "normal"},
        {"MailId": "<m5@contoso.com>", "SentTime": _t(19, 11), "Sender": "quentin@canaryzyx.example", "Sensitivity": "normal"},
    ],
    "collaboration/mail_recipients.csv": [
        {"MailId": m, "Email": e, "Kind": k} for m, e, k in [
            ("<m1@contoso.com>", "frank@fabrikam.com", "to"),
            ("<m2@contoso.com>", "nora@northwind.com", "to"), ("<m2@contoso.com>", "quentin@canaryzyx.example", "cc"),
            ("<m3@contoso.com>", ANA, "to"), ("<m3@contoso.com>", CAT, "cc"),
            ("<m4@contoso.com>", "lena@litware.com", "to"),
            ("<m5@contoso.com>", BOB, "to"), ("<m5@contoso.com>", "eve@contoso.com", "cc"),
        ]
    ],
    "collaboration/meetings.csv": [
        {"MeetingId": "T1", "StartTime": _t(18, 14), "EndTime": _t(18, 15), "Organizer": BOB, "IsCancelled": "false", "Sensitivity": "normal"},
        {"MeetingId": "T2", "StartTime": _t(19, 9), "EndTime": _t(19, 10), "Organizer": ANA, "IsCancelled": "false", "Sensitivity": "normal"},
    ],
    "collaboration/meeting_attendees.csv": [
        {"MeetingId": m, "Email": e, "Response": r} for m, e, r in [
            ("T1", BOB, "organizer"), ("T1", "quentin@canaryzyx.example", "accepted"), ("T1", "eve@contoso.com", "accepted"),
            ("T1", "vp@contoso.com", "accepted"), ("T1", ANA, "declined"),
            ("T2", ANA, "organizer"), ("T2", "frank@fabrikam.com", "accepted"), ("T2", "sam@contoso.com", "accepted"),
        ]
    ],
    "collaboration/calls.csv": [{"CallId": "K1", "StartTime": _t(20, 15), "EndTime": _t(20, 16), "MeetingId": ""}],
    "collaboration/call_participants.csv": [
        {"CallId": "K1", "Email": e, "JoinTime": _t(20, 15), "LeaveTime": _t(20, 16)} for e in (BOB, "quentin@canaryzyx.example")
    ],
    "collaboration/chat_messages.csv": [
        {"MessageId": f"X{i}", "ChatId": "H1", "SentTime": _t(17, 12, i), "Sender": ANA if i % 2 else CAT} for i in range(1, 5)
    ],
    "collaboration/chat_members.csv": [{"ChatId": "H1", "Email": e} for e in (ANA, CAT)],
}


def write_data_folder(folder: Path) -> Path:
    """Write the CSV data folder and return it."""
    for rel, rows in FILES.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as f:
            out = csv.DictWriter(f, fieldnames=list(rows[0]))
            out.writeheader()
            out.writerows(rows)
    return folder
