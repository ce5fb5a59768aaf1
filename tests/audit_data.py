"""A tiny org for the privacy-audit tests, built straight from Arrow (no loader needed).

ana and bob are sellers. Everything named "Zyxwv"/"Quentin" (the canaries) appears only in
interactions bob took part in: it must never reach ana's email.
"""

from __future__ import annotations

import datetime as dt
import json
from email.message import EmailMessage
from pathlib import Path

import pyarrow as pa

from digest.runfolder import add_to_manifest
from digest.sources.contract import FILES, Dataset

WEEK = "2026-W47"
T = dt.datetime(2026, 11, 17, 9, 0, tzinfo=dt.timezone.utc)
D = dt.date(2026, 1, 1)

ANA, BOB = "ana@contoso.com", "bob@contoso.com"
CANARY_ACCOUNT, CANARY_PERSON, CANARY_EMAIL = "Zyxwv Canary Holdings", "Quentin Canaryperson", "quentin@canaryzyx.example"

ROWS = {
    "people": [
        {"PersonId": p, "EffectiveDate": D, "ManagerId": m, "Organization": "Sales", "LevelDesignation": "IC", "FunctionType": f}
        for p, m, f in [(ANA, "mia@contoso.com", "Seller"), (BOB, "mia@contoso.com", "Seller"), ("mia@contoso.com", None, "Manager"),
                        ("sam@contoso.com", "mia@contoso.com", "Solution Specialist"), ("eve@contoso.com", "mia@contoso.com", "Zyxwv Lab")]
    ],
    "accounts": [
        {"AccountId": "A1", "AccountName": "Fabrikam", "AccountsStartDate": D, "AccountWebsite": "https://www.fabrikam.com/"},
        {"AccountId": "A2", "AccountName": "Northwind", "AccountsStartDate": D, "AccountWebsite": "northwind.com"},
        {"AccountId": "ZX-9", "AccountName": CANARY_ACCOUNT, "AccountsStartDate": D, "AccountWebsite": "canaryzyx.example"},
    ],
    "contacts": [
        {"ContactsAccountId": "A1", "ContactId": "C1", "ContactName": "Frank Fabri", "ContactEmail": "frank@fabrikam.com", "ContactsStartDate": D},
        {"ContactsAccountId": "A2", "ContactId": "C2", "ContactName": "Nora Wind", "ContactEmail": "nora@northwind.com", "ContactsStartDate": D},
        {"ContactsAccountId": "ZX-9", "ContactId": "C9", "ContactName": CANARY_PERSON, "ContactEmail": CANARY_EMAIL, "ContactsStartDate": D},
    ],
    "assignments": [
        {"SellerAssignmentAccountId": "A1", "SellerAssignmentStartDate": D, "SellerEmail": ANA},
        {"SellerAssignmentAccountId": "A2", "SellerAssignmentStartDate": D, "SellerEmail": BOB},
    ],
    "mails": [
        {"MailId": "M1", "SentTime": T, "Sender": ANA},
        {"MailId": "M2", "SentTime": T, "Sender": BOB},
        {"MailId": "M3", "SentTime": T, "Sender": "sam@contoso.com"},
    ],
    "mail_recipients": [
        {"MailId": "M1", "Email": "frank@fabrikam.com", "Kind": "to"},
        {"MailId": "M2", "Email": "nora@northwind.com", "Kind": "to"},
        {"MailId": "M2", "Email": CANARY_EMAIL, "Kind": "cc"},
        {"MailId": "M3", "Email": ANA, "Kind": "to"},
    ],
    "meetings": [{"MeetingId": "T1", "StartTime": T, "EndTime": T + dt.timedelta(hours=1), "Organizer": BOB}],
    "meeting_attendees": [
        {"MeetingId": "T1", "Email": CANARY_EMAIL, "Response": "accepted"},
        {"MeetingId": "T1", "Email": "eve@contoso.com", "Response": "accepted"},
        {"MeetingId": "T1", "Email": ANA, "Response": "declined"},
    ],
}


def make_dataset(**overrides: list[dict]) -> Dataset:
    """The tiny org as a Dataset; `overrides` replace whole tables by file key."""
    rows = {**ROWS, **overrides}
    tables = {}
    for spec in FILES:
        data = rows.get(spec.key, [])
        extra = () if spec.key != "people" else ()
        schema = spec.arrow_schema(extra)
        tables[spec.key] = pa.Table.from_pylist([{c: r.get(c) for c in schema.names} for r in data], schema=schema)
    return Dataset(**tables)


def relationship(accounts: list[tuple[str, str, list[str]]]) -> dict:
    """A contract-shaped relationship section (CONTRACT.md §8): (account id, name, most contacted) per account."""
    return {"window": {"start": "2026-09-21T00:00:00+00:00", "end": "2026-11-23T00:00:00+00:00"}, "accounts": [
        {"account_id": a, "account_name": n, "emails_sent": 1, "emails_received": 0, "ratio_by_us": None, "ratio_by_them": 0.0,
         "initiated_by_you": 1, "initiated_by_them": 0, "response_hours_you": None, "response_hours_them": None,
         "last_interaction": "2026-11-17T09:00:00+00:00", "next_interaction": None,
         "weekly": [{"week": "2026-W47", "sent": 1, "received": 0, "meetings": 0, "calls": 0}],
         "most_contacted": people, "health": 40, "health_grade": "fair", "health_change": None} for a, n, people in accounts]}


def card(seller: str, accounts: list[tuple[str, str]], groups: list[str], rel: dict | None = None) -> dict:
    """A contract-shaped card (CONTRACT.md §6) listing `accounts` and `groups`, and `rel` as its relationship section."""
    return {
        "seller": seller, "week": WEEK, "time_zone": "UTC",
        "window": {"start": "2026-11-16T00:00:00+00:00", "end": "2026-11-23T00:00:00+00:00"},
        "summary": {"collaboration_hours": 1.0, "external_hours": 0.5, "internal_hours": 0.5, "external_pct": 50.0,
                    "external_pct_change": None, "by_channel": {"mail": 1.0, "meeting": 0.0, "call": 0.0, "chat": 0.0}},
        "time_with_customers": {"accounts": [{"account_id": a, "account_name": n, "hours": 0.1, "share_pct": 100.0, "potential": None,
                                              "potential_share_pct": None, "change_pct": None} for a, n in accounts],
                                "other_external_hours": 0.0},
        "depth_of_engagement": {"accounts": []},
        "internal_networks": {"attribute": "FunctionType", "groups": [{"group": g, "hours": 0.1} for g in groups]},
        "leadership": {"accounts": []},
        **({"relationship": rel} if rel is not None else {}),
    }


def write_cards(run_root: Path, cards: list[dict]) -> None:
    run_root.mkdir(parents=True, exist_ok=True)
    (run_root / "cards.jsonl").write_text("".join(json.dumps(c) + "\n" for c in sorted(cards, key=lambda c: c["seller"])))


def write_email(path: Path, to: str, text: str, html_body: str, cc: str | None = None, alt: str = "") -> Path:
    """A stand-in for the renderer's .eml (multipart/alternative with an image alt)."""
    msg = EmailMessage()
    msg["From"] = "insights@contoso.com"
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = "Your seller insights"
    msg.set_content(text)
    msg.add_alternative(f"<html><body><p>{html_body}</p><img src='cid:c1' alt='{alt}'></body></html>", subtype="html")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(msg))
    add_to_manifest(path.parent, path.stem, path.name)  # these stand-ins are named after the seller they are for
    return path
