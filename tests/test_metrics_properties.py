"""Invariants of the cards on random small companies (hypothesis, derandomized so CI is repeatable).

- account hours + other external hours = external hours (so account hours never exceed it);
- internal + external = collaboration = the sum of the channels;
- leadership + manager + own = customer meeting hours, per account;
- privacy scoping: removing interactions a seller took no part in never changes that seller's cards
  (the relationship card included; its window starts at the first day of any data, CONTRACT.md §8,
  so every world has one chat of the sellers on ANCHOR, before any window, that fixes that day);
- relationship: counts and health stay in their ranges, and every person named is one the seller met.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from metrics_fixtures import WEEK_TEXT, World, settings

from digest.metrics import compute_cards
from digest.weeks import IsoWeek

SELLERS = ["s0@contoso.com", "s1@contoso.com", "s2@contoso.com"]
COLLEAGUES = ["m0@contoso.com", "d0@contoso.com", "c0@contoso.com", "c1@contoso.com"]
EXTERNAL = ["e0@fabrikam.com", "e1@fabrikam.com", "e2@northwind.com", "e3@gmail.com", "e4@unknown.org"]
EVERYONE = SELLERS + COLLEAGUES + EXTERNAL
ZONES = [None, "Europe/Paris", "America/New_York", "Australia/Sydney"]
START = dt.datetime(2026, 10, 24, tzinfo=dt.timezone.utc)  # a little before the 28-day window of any zone
SLOTS = 32 * 24 * 4  # quarter hours up to a little after the week's end
WEEK = IsoWeek.parse(WEEK_TEXT)
ANCHOR = "2026-09-01 09:00"  # before the relationship window of any zone (9 weeks from 2026-09-21)

people = st.lists(st.sampled_from(EVERYONE), min_size=1, max_size=5, unique=True)
when = st.integers(0, SLOTS).map(lambda q: START + dt.timedelta(minutes=15 * q))
mails = st.tuples(when, st.sampled_from(EVERYONE), people, st.lists(st.sampled_from(EVERYONE), max_size=2),
                  st.sampled_from([None, "normal", "private"]), st.sampled_from([None, "", "t1", "t2"]))
meetings = st.tuples(when, st.integers(1, 40).map(lambda q: dt.timedelta(minutes=15 * q)), st.sampled_from(EVERYONE),
                     people, st.lists(st.sampled_from(EVERYONE), max_size=2), st.booleans())
calls = st.tuples(when, people, st.integers(1, 8), st.booleans())
chats = st.tuples(people, st.lists(st.tuples(when, st.sampled_from(EVERYONE)), max_size=6))
worlds = st.fixed_dictionaries({
    "zones": st.lists(st.sampled_from(ZONES), min_size=3, max_size=3),
    "mails": st.lists(mails, max_size=12), "meetings": st.lists(meetings, max_size=10),
    "calls": st.lists(calls, max_size=4), "chats": st.lists(chats, max_size=4),
})


def build(spec: dict) -> World:
    w = World()
    w.person("d0@contoso.com", None, "Leadership")
    w.person("m0@contoso.com", "d0@contoso.com", "Manager")
    w.person("c0@contoso.com", "m0@contoso.com", "Specialist")
    w.person("c1@contoso.com", "c0@contoso.com", None)
    for seller, tz in zip(SELLERS, spec["zones"]):
        w.person(seller, "m0@contoso.com", "Seller", tz=tz)
    w.person("s2@contoso.com", "s0@contoso.com", "Seller", tz=spec["zones"][2], since=dt.date(2026, 6, 1))  # effective-dated
    w.account("A1", "Fabrikam", "fabrikam.com", annual=5e6)
    w.account("A2", "Northwind", "https://www.northwind.com/")
    w.contact("A1", "e0@fabrikam.com")
    w.contact("A2", "e3@gmail.com")
    w.assign("s0@contoso.com", "A1")
    w.assign("s1@contoso.com", "A2")
    w.assign("s2@contoso.com", "A1")
    w.chat(SELLERS, [(ANCHOR, SELLERS[0])])
    for sent, sender, to, bcc, sensitivity, conversation in spec["mails"]:
        w.mail(sent, sender, to=to, bcc=bcc, sensitivity=sensitivity, conversation=conversation)
    for start, length, organizer, attendees, declined, cancelled in spec["meetings"]:
        w.meeting(start, start + length, organizer, [a for a in attendees if a not in declined], declined=declined,
                  cancelled=cancelled)
    for start, who, quarters, scheduled in spec["calls"]:
        end = start + dt.timedelta(minutes=15 * quarters)
        w.call(start, end, who, meeting_id="T-some-meeting" if scheduled else None)
    for members, messages in spec["chats"]:
        w.chat(members, messages)
    return w


def took_part(w: World, seller: str) -> dict[str, set[str]]:
    """The ids of the interactions the seller took part in (CONTRACT.md §3), per kind."""
    r = w.rows
    return {
        "mail": {m["MailId"] for m in r["mails"] if m["Sender"] == seller}
        | {x["MailId"] for x in r["mail_recipients"] if x["Email"] == seller},
        "meeting": {m["MeetingId"] for m in r["meetings"] if m["Organizer"] == seller}
        | {a["MeetingId"] for a in r["meeting_attendees"] if a["Email"] == seller and a["Response"] != "declined"},
        "call": {p["CallId"] for p in r["call_participants"] if p["Email"] == seller},
        "chat": {m["ChatId"] for m in r["chat_members"] if m["Email"] == seller}
        | {m["ChatId"] for m in r["chat_messages"] if m["Sender"] == seller},
    }


NAMES = {"e0", "e3"}  # the contacts' ContactName (metrics_fixtures: the address before the @)


def _participants(w: World, kind: str, ids: set[str]):
    """The emails in each interaction of `ids` (for the most-contacted check)."""
    r = w.rows
    tables = {"mail": (("mails", "MailId", "Sender"), ("mail_recipients", "MailId", "Email")),
              "meeting": (("meetings", "MeetingId", "Organizer"), ("meeting_attendees", "MeetingId", "Email")),
              "call": (("call_participants", "CallId", "Email"),),
              "chat": (("chat_members", "ChatId", "Email"), ("chat_messages", "ChatId", "Sender"))}[kind]
    for table, id_column, email in tables:
        yield {row[email] for row in r[table] if row[id_column] in ids}


def only_theirs(w: World, seller: str) -> World:
    keep = took_part(w, seller)
    columns = {"mails": ("mail", "MailId"), "mail_recipients": ("mail", "MailId"), "meetings": ("meeting", "MeetingId"),
               "meeting_attendees": ("meeting", "MeetingId"), "calls": ("call", "CallId"),
               "call_participants": ("call", "CallId"), "chat_messages": ("chat", "ChatId"), "chat_members": ("chat", "ChatId")}
    rows = dict(w.rows)
    for table, (kind, column) in columns.items():
        rows[table] = [row for row in w.rows[table] if row[column] in keep[kind]]
    return World(rows=rows, columns=w.columns)


def rounded(value):
    """Cards as plain data with floats to 9 decimals (the sum order may differ in the last bits)."""
    if dataclasses.is_dataclass(value):
        return rounded(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v) for v in value]
    return round(value, 9) if isinstance(value, float) else value


def close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9


@hsettings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(worlds)
def test_card_invariants_and_privacy_scoping(spec):
    world = build(spec)
    cards = compute_cards(world.dataset(), WEEK, settings())
    assert [c.seller for c in cards] == SELLERS
    for c in cards:
        s = c.summary
        assert close(s.internal_hours + s.external_hours, s.collaboration_hours)
        assert close(s.mail_hours + s.meeting_hours + s.call_hours + s.chat_hours, s.collaboration_hours)
        assert min(s.internal_hours, s.external_hours, s.meeting_hours) >= -1e-9
        account_hours = sum(a.hours for a in c.time_with_customers.accounts)
        assert account_hours <= s.external_hours + 1e-9
        assert close(account_hours + c.time_with_customers.other_external_hours, s.external_hours)
        assert s.meeting_hours <= 7 * 24 + 1e-9  # de-overlapped: never more than the week has
        for a in c.leadership.accounts:
            assert close(a.leadership_hours + a.manager_hours + a.own_hours, a.customer_meeting_hours)
        for a in c.depth_of_engagement.accounts:
            assert 0 <= a.engaged_people_default <= a.engaged_people
        met = took_part(world, c.seller)
        people = {p for kind in met for r in _participants(world, kind, met[kind]) for p in r}
        assert [a.account_id for a in c.relationship.accounts] == [a.account_id for a in c.time_with_customers.accounts]
        for a in c.relationship.accounts:
            assert 0 <= a.health <= 100 and a.health_grade in ("good", "fair", "poor")
            assert sum(w.sent for w in a.weekly) == a.emails_sent and sum(w.received for w in a.weekly) == a.emails_received
            assert all(p in people or p in NAMES for p in a.most_contacted)
            if a.initiated_by_you is not None:
                assert a.initiated_by_you <= a.emails_sent + sum(w.meetings for w in a.weekly)
    seller = SELLERS[0]
    alone = {c.seller: c for c in compute_cards(only_theirs(world, seller).dataset(), WEEK, settings(), [seller])}
    full = {c.seller: c for c in cards}
    assert rounded(alone[seller]) == rounded(full[seller])
    # a cohort's session (some sellers of the same data) gives each of them exactly the cards of the whole run
    assert compute_cards(world.dataset(), WEEK, settings(), [seller]) == [full[seller]]
