"""Build small Datasets for the metrics tests straight from Python (no loader, no files).

A :class:`World` collects rows with readable helpers (people, accounts, mails, meetings, ...) and
``dataset()`` returns a :class:`digest.sources.contract.Dataset` shaped like the loaders' output: the
contract's Arrow schema, optional columns present as nulls, emails lower-case, times UTC.
Times are written ``"2026-11-17 09:00"`` (UTC) or as aware datetimes.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from typing import Any, Iterable

import pyarrow as pa

from digest.config import Settings
from digest.sources.contract import FILES, Dataset, with_absent

WEEK_TEXT = "2026-W47"  # Monday 2026-11-16 to Sunday 2026-11-22
D0 = dt.date(2026, 1, 1)
UTC = dt.timezone.utc


def ts(value: str | dt.datetime) -> dt.datetime:
    """'2026-11-17 09:00' (UTC) or an aware datetime -> aware UTC datetime."""
    if isinstance(value, dt.datetime):
        return value.astimezone(UTC)
    return dt.datetime.fromisoformat(value).replace(tzinfo=UTC)


def table(key: str, rows: Iterable[dict[str, Any]], columns: Iterable[str] = ()) -> pa.Table:
    """Rows -> an Arrow table with exactly the contract's columns (plus extra people columns as text).

    An optional column that no row gives and that is not in `columns` is marked absent, as the loader
    marks a column the file lacks (CONTRACT.md §8: no ConversationId column).
    """
    spec = next(f for f in FILES if f.key == key)
    rows = list(rows)
    known = {c.name for c in spec.columns}
    extra = tuple(sorted({k for r in rows for k in r} - known)) if spec.keep_extra_columns else ()
    schema = spec.arrow_schema(extra)
    out = pa.table({f.name: pa.array([r.get(f.name) for r in rows], f.type) for f in schema}, schema=schema)
    given = set(columns) | {k for r in rows for k in r}
    return with_absent(out, tuple(c.name for c in spec.columns if not c.required and c.name not in given))


@dataclass
class World:
    """A little company; every helper returns the id it created."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {f.key: [] for f in FILES})
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    columns: dict[str, set[str]] = field(default_factory=dict)  # optional columns the "files" have (beyond the rows')

    def _id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}"

    def person(self, email: str, manager: str | None = None, function: str | None = None, tz: str | None = None,
               since: dt.date = D0, **extra: Any) -> str:
        self.rows["people"].append({"PersonId": email, "EffectiveDate": since, "ManagerId": manager, "Organization": "Sales",
                                    "LevelDesignation": "IC", "FunctionType": function, "TimeZone": tz, **extra})
        return email

    def account(self, account_id: str, name: str | None = None, website: str | None = None, annual: float | None = None,
                revenue: float | None = None, since: dt.date = D0) -> str:
        self.rows["accounts"].append({"AccountId": account_id, "AccountName": name or account_id, "AccountsStartDate": since,
                                      "AccountWebsite": website, "AccountAnnualRevenue": annual, "AccountRevenue": revenue})
        return account_id

    def contact(self, account_id: str, email: str, contact_id: str | None = None, since: dt.date = D0) -> str:
        contact_id = contact_id or self._id("C")
        self.rows["contacts"].append({"ContactsAccountId": account_id, "ContactId": contact_id, "ContactName": email.split("@")[0],
                                      "ContactEmail": email, "ContactsStartDate": since})
        return contact_id

    def assign(self, seller: str, account_id: str, since: dt.date = D0) -> None:
        self.rows["assignments"].append({"SellerAssignmentAccountId": account_id, "SellerAssignmentStartDate": since,
                                         "SellerEmail": seller})

    def optout(self, email: str) -> None:
        self.rows["optouts"].append({"PersonId": email})

    def mail(self, sent: str | dt.datetime, sender: str, to: Iterable[str] = (), cc: Iterable[str] = (),
             bcc: Iterable[str] = (), sensitivity: str | None = None, mail_id: str | None = None,
             conversation: str | None = None) -> str:
        """`conversation`: its ConversationId ("" = blank); when no mail of the world has one, the column is absent."""
        mail_id = mail_id or self._id("M")
        row = {"MailId": mail_id, "SentTime": ts(sent), "Sender": sender, "Sensitivity": sensitivity}
        if conversation is not None:
            row["ConversationId"] = conversation or None
            self.columns.setdefault("mails", set()).add("ConversationId")
        self.rows["mails"].append(row)
        for kind, emails in (("to", to), ("cc", cc), ("bcc", bcc)):
            self.rows["mail_recipients"] += [{"MailId": mail_id, "Email": e, "Kind": kind} for e in emails]
        return mail_id

    def meeting(self, start: str | dt.datetime, end: str | dt.datetime, organizer: str, attendees: Iterable[str] = (),
                declined: Iterable[str] = (), cancelled: bool | None = None, sensitivity: str | None = None,
                meeting_id: str | None = None) -> str:
        meeting_id = meeting_id or self._id("T")
        self.rows["meetings"].append({"MeetingId": meeting_id, "StartTime": ts(start), "EndTime": ts(end), "Organizer": organizer,
                                      "IsCancelled": cancelled, "Sensitivity": sensitivity})
        self.rows["meeting_attendees"].append({"MeetingId": meeting_id, "Email": organizer, "Response": "organizer"})
        self.rows["meeting_attendees"] += [{"MeetingId": meeting_id, "Email": e, "Response": "accepted"} for e in attendees]
        self.rows["meeting_attendees"] += [{"MeetingId": meeting_id, "Email": e, "Response": "declined"} for e in declined]
        return meeting_id

    def call(self, start: str | dt.datetime, end: str | dt.datetime, participants: Iterable[str | tuple[str, str, str]],
             meeting_id: str | None = None, call_id: str | None = None) -> str:
        """participants: emails (present from start to end) or (email, join, leave) triples."""
        call_id = call_id or self._id("K")
        self.rows["calls"].append({"CallId": call_id, "StartTime": ts(start), "EndTime": ts(end), "MeetingId": meeting_id})
        for p in participants:
            email, join, leave = (p, start, end) if isinstance(p, str) else p
            self.rows["call_participants"].append({"CallId": call_id, "Email": email, "JoinTime": ts(join), "LeaveTime": ts(leave)})
        return call_id

    def chat(self, members: Iterable[str], messages: Iterable[tuple[str | dt.datetime, str]] = (),
             chat_id: str | None = None) -> str:
        """A chat with its members and (time, sender) messages."""
        chat_id = chat_id or self._id("H")
        self.rows["chat_members"] += [{"ChatId": chat_id, "Email": e} for e in members]
        for when, sender in messages:
            self.rows["chat_messages"].append({"MessageId": self._id("X"), "ChatId": chat_id, "SentTime": ts(when), "Sender": sender})
        return chat_id

    def dataset(self) -> Dataset:
        return Dataset(**{f.key: table(f.key, self.rows[f.key], self.columns.get(f.key, ())) for f in FILES})


def settings(**metrics: Any) -> Settings:
    """Default settings, with some metrics.* settings changed."""
    s = Settings()
    return s.replace("metrics", **metrics) if metrics else s


def base_world(tz: str | None = None) -> World:
    """ana (seller, manager mia, director dan, VP vic), colleagues sam (Specialist) and tom (Seller),
    account A1 Fabrikam (fabrikam.com, contacts frank and fiona) assigned to ana, A2 Northwind (northwind.com)."""
    w = World()
    w.person("vic@contoso.com", None, "Leadership")
    w.person("dan@contoso.com", "vic@contoso.com", "Leadership")
    w.person("mia@contoso.com", "dan@contoso.com", "Sales Manager")
    w.person("ana@contoso.com", "mia@contoso.com", "Seller", tz=tz)
    w.person("tom@contoso.com", "mia@contoso.com", "Seller")
    w.person("sam@contoso.com", "dan@contoso.com", "Solution Specialist")
    w.account("A1", "Fabrikam", "https://www.fabrikam.com/", annual=3_000_000)
    w.account("A2", "Northwind", "northwind.com", revenue=1_000_000)
    w.contact("A1", "frank@fabrikam.com")
    w.contact("A1", "fiona@fabrikam.com")
    w.contact("A2", "nora@northwind.com")
    w.assign("ana@contoso.com", "A1")
    return w


ANA = "ana@contoso.com"


def cards_for(world: World, seller: str = ANA, week: str = WEEK_TEXT, metrics: dict | None = None, **sections: dict):
    """The SellerCards of one seller (None when they are not a seller that week)."""
    from digest.metrics import compute_cards
    from digest.weeks import IsoWeek

    s = settings(**(metrics or {}))
    for section, values in sections.items():
        s = s.replace(section, **values)
    cards = {c.seller: c for c in compute_cards(world.dataset(), IsoWeek.parse(week), s)}
    return cards.get(seller)


def hours(minutes: float) -> float:
    return minutes / 60.0
