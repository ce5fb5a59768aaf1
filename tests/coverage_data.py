"""A small hand-built data folder for the CRM data page: every definition of issue 12 has a case.

Employees mia, ana, bob, eve, ian (5 = privacy.min_group_size). Accounts A1 Fabrikam (website
fabrikam.com), A2 Northwind (no website), A3 "+Evil Co" (nothing: a formula-looking name).

- frank@fabrikam.com: contact of A1 (default); mail m1 (ana 5 min), call K1 (ana 30 min), meeting T2 (the
  5 employees, 60 min each, frank the only external): A1 default = 335 min from 5 employees = 5.58 h.
- sam@fabrikam.com: no contact, A1's website (extrapolation); mail m2 from ana (5 min) to sam, pat and a
  stranger: sam's share 5/3 min. A1 total = 336.67 min = 5.61 h.
- pat@gmail.com: contact of A1 on a personal domain: never a collaborator, no hours (takes its 5/3 share of m2).
- stranger@unknown.org: matches nothing (not associated).
- nora@northwind.com: contact of A2 (default), meeting T1 with bob only: A2 below the group size (hidden).
- quinn@northwind.com: no contact, northwind.com's only contact is A2's (share, extrapolation); chat H1
  where ana writes (0.5 min). rita@northwind.com: chat H2 where only she writes: bob at 0 min, still a collaborator.
- contact C3 on unknown account A9 (row 4, a formula-looking name); C5 on A9 starts in 2027 (not in force);
  assignments: ana on unknown A9 (row 4), zed (not in org data) on A2.
"""

from __future__ import annotations

from pathlib import Path

from datafolder import rows, write_data_folder

WEEK = "2026-W47"
D = "2026-01-01"
EMP = ["mia@contoso.com", "ana@contoso.com", "bob@contoso.com", "eve@contoso.com", "ian@contoso.com"]
ANA, BOB = EMP[1], EMP[2]


def _person(email: str, manager: str) -> dict[str, str]:
    return {"PersonId": email, "EffectiveDate": D, "ManagerId": manager, "Organization": "Sales", "LevelDesignation": "IC",
            "FunctionType": "Seller", "TimeZone": "Europe/Paris"}


def _contact(account: str, cid: str, name: str, email: str, start: str = D) -> dict[str, str]:
    return {"ContactsAccountId": account, "ContactId": cid, "ContactName": name, "ContactEmail": email, "ContactsStartDate": start}


def build(folder: Path) -> Path:
    """Write the folder described in the module doc."""
    r = rows()
    r["org/people.csv"] = [_person(EMP[0], "")] + [_person(e, EMP[0]) for e in EMP[1:]]
    r["crm/accounts.csv"] = [
        {"AccountId": "A1", "AccountName": "Fabrikam", "AccountsStartDate": D, "AccountWebsite": "https://www.fabrikam.com/"},
        {"AccountId": "A2", "AccountName": "Northwind", "AccountsStartDate": D, "AccountWebsite": ""},
        {"AccountId": "A3", "AccountName": "+Evil Co", "AccountsStartDate": D, "AccountWebsite": ""}]
    r["crm/contacts.csv"] = [
        _contact("A1", "C1", "Frank Fabri", "frank@fabrikam.com"), _contact("A2", "C2", "Nora Wind", "nora@northwind.com"),
        _contact("A9", "C3", "=HYPERLINK(\"http://x\")", "x@adatum.com"), _contact("A1", "C4", "Pat Private", "pat@gmail.com"),
        _contact("A9", "C5", "Later Contact", "later@adatum.com", "2027-01-01")]
    r["crm/seller_assignments.csv"] = [
        {"SellerAssignmentAccountId": a, "SellerAssignmentStartDate": D, "SellerEmail": s}
        for a, s in (("A1", ANA), ("A2", BOB), ("A9", ANA), ("A2", "zed@contoso.com"))]
    r["collaboration/mails.csv"].append({"MailId": "<m2@contoso.com>", "SentTime": "2026-11-18T09:00:00Z", "Sender": ANA,
                                         "Sensitivity": "normal"})
    r["collaboration/mail_recipients.csv"] += [{"MailId": "<m2@contoso.com>", "Email": e, "Kind": "to"}
                                               for e in ("sam@fabrikam.com", "pat@gmail.com", "stranger@unknown.org")]
    r["collaboration/meetings.csv"].append({"MeetingId": "T2", "StartTime": "2026-11-17T10:00:00Z", "EndTime": "2026-11-17T11:00:00Z",
                                            "Organizer": ANA, "IsCancelled": "false", "Sensitivity": "normal"})
    r["collaboration/meeting_attendees.csv"] += [{"MeetingId": "T2", "Email": e, "Response": "organizer" if e == ANA else "accepted"}
                                                 for e in EMP + ["frank@fabrikam.com"]]
    r["collaboration/chat_members.csv"] += [{"ChatId": "H1", "Email": "quinn@northwind.com"},
                                            {"ChatId": "H2", "Email": BOB}, {"ChatId": "H2", "Email": "rita@northwind.com"}]
    r["collaboration/chat_messages.csv"].append({"MessageId": "X2", "ChatId": "H2", "SentTime": "2026-11-20T09:00:00Z",
                                                 "Sender": "rita@northwind.com"})
    return write_data_folder(folder, r)
