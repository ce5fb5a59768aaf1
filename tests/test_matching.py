"""Matching external people to accounts (CONTRACT.md §4): default, extrapolation, and why not."""

from __future__ import annotations

import datetime as dt

from metrics_fixtures import World, settings

from digest.metrics.matching import match_emails

AS_OF = dt.date(2026, 11, 22)
ME = "me@contoso.com"


def _world() -> World:
    w = World()
    w.person(ME)
    return w


def _match(w: World, emails, **metrics) -> dict[str, dict]:
    table = match_emails(w.dataset(), emails, settings(**metrics), AS_OF)
    assert table.column_names == ["email", "account_id", "method", "reason"]
    return {r["email"]: r for r in table.to_pylist()}


def test_default_match_is_the_contacts_account():
    w = _world()
    w.account("A1", website="fabrikam.com")
    w.contact("A1", "frank@fabrikam.com", "C7")
    got = _match(w, ["Frank@Fabrikam.com"])["frank@fabrikam.com"]
    assert (got["account_id"], got["method"]) == ("A1", "default")
    assert "C7" in got["reason"] and "A1" in got["reason"]


def test_contact_on_two_accounts_latest_start_then_smallest_account_id():
    w = _world()
    for a in ("A1", "A2", "A3"):
        w.account(a)
    w.contact("A2", "x@old.com", "C1", since=dt.date(2026, 1, 1))
    w.contact("A1", "x@old.com", "C2", since=dt.date(2026, 3, 1))  # latest start date wins
    w.contact("A3", "y@same.com", "C3", since=dt.date(2026, 3, 1))
    w.contact("A2", "y@same.com", "C4", since=dt.date(2026, 3, 1))  # same date: smallest AccountId
    got = _match(w, ["x@old.com", "y@same.com"])
    assert got["x@old.com"]["account_id"] == "A1"
    assert got["y@same.com"]["account_id"] == "A2"


def test_contacts_and_accounts_must_be_in_force_on_the_date():
    w = _world()
    w.account("A1")
    w.account("A9", since=dt.date(2026, 12, 1))  # starts after the snapshot date
    w.contact("A1", "late@x.com", "C1", since=dt.date(2026, 11, 23))  # the day after
    w.contact("A9", "orphan@y.com", "C2")  # its account is not in force yet
    w.contact("A1", "moved@z.com", "C3", since=dt.date(2026, 1, 1))
    w.contact("A9", "moved@z.com", "C3", since=dt.date(2026, 6, 1))  # row in force points to A9: no fallback to A1
    got = _match(w, ["late@x.com", "orphan@y.com", "moved@z.com"])
    assert [got[e]["account_id"] for e in ("late@x.com", "orphan@y.com", "moved@z.com")] == [None, None, None]


def test_extrapolation_by_website_host():
    w = _world()
    w.account("A1", website="HTTPS://www.Fabrikam.com/en-us/home?x=1")
    w.account("A2", website="http://northwind.com:8080")
    got = _match(w, ["new@fabrikam.com", "bo@northwind.com", "z@sub.fabrikam.com"])
    assert (got["new@fabrikam.com"]["account_id"], got["new@fabrikam.com"]["method"]) == ("A1", "extrapolation")
    assert "website" in got["new@fabrikam.com"]["reason"]
    assert got["bo@northwind.com"]["account_id"] == "A2"
    assert got["z@sub.fabrikam.com"]["account_id"] is None  # the host must equal the domain


def test_extrapolation_by_contact_share_at_least_0_8():
    w = _world()
    w.account("A1")
    w.account("A2")
    for i in range(4):
        w.contact("A1", f"p{i}@big.com")
    w.contact("A2", "q@big.com")  # A1 has 4 of 5 = 0.8: enough
    for i in range(3):
        w.contact("A1", f"p{i}@mixed.com")
    w.contact("A2", "q1@mixed.com")
    w.contact("A2", "q2@mixed.com")  # A1 has 3 of 5 = 0.6: not enough
    got = _match(w, ["new@big.com", "new@mixed.com"])
    assert (got["new@big.com"]["account_id"], got["new@big.com"]["method"]) == ("A1", "extrapolation")
    assert "4 of 5" in got["new@big.com"]["reason"]
    assert got["new@mixed.com"]["account_id"] is None and got["new@mixed.com"]["method"] is None
    assert "0.60 < 0.80" in got["new@mixed.com"]["reason"]
    # The share is a setting: at 0.6, 3 of 5 is enough.
    assert _match(w, ["new@mixed.com"], extrapolation_share=0.6)["new@mixed.com"]["account_id"] == "A1"


def test_a_contact_email_counts_once_for_the_account_rule_1_gives_it():
    w = _world()
    w.account("A1")
    w.account("A2")
    w.contact("A1", "p@d.com", "C1", since=dt.date(2026, 1, 1))
    w.contact("A2", "p@d.com", "C2", since=dt.date(2026, 2, 1))  # rule 1 gives p@d.com to A2
    w.contact("A2", "r@d.com", "C3")
    assert _match(w, ["new@d.com"])["new@d.com"]["account_id"] == "A2"  # 2 of 2 on A2


def test_ties_are_left_unmatched():
    w = _world()
    w.account("A1", website="shared.com")
    w.account("A2", website="https://www.shared.com")
    w.contact("A1", "a@shared.com")
    w.contact("A2", "b@shared.com")
    got = _match(w, ["new@shared.com"], extrapolation_share=0.5)["new@shared.com"]
    assert got["account_id"] is None
    assert "several accounts" in got["reason"] and "tie" in got["reason"]
    # The contacts are still matched by default.
    assert _match(w, ["a@shared.com"])["a@shared.com"]["account_id"] == "A1"


def test_personal_domains_are_never_extrapolated_but_contacts_still_match():
    w = _world()
    w.account("A1", website="gmail.com")
    w.contact("A1", "boss.fabrikam@gmail.com")
    got = _match(w, ["boss.fabrikam@gmail.com", "someone@gmail.com"])
    assert got["boss.fabrikam@gmail.com"]["method"] == "default"
    assert got["someone@gmail.com"]["account_id"] is None and "personal" in got["someone@gmail.com"]["reason"]


def test_internal_people_are_not_matched():
    w = _world()
    w.account("A1", website="contoso.com")
    got = _match(w, [ME])[ME]
    assert got["account_id"] is None and "internal" in got["reason"]


def test_none_matches_every_external_participant():
    w = _world()
    w.account("A1", website="fabrikam.com")
    w.mail("2026-11-17 09:00", ME, to=["a@fabrikam.com"], cc=["b@elsewhere.org"])
    w.meeting("2026-11-17 10:00", "2026-11-17 11:00", ME, ["c@fabrikam.com"])
    got = _match(w, None)
    assert sorted(got) == ["a@fabrikam.com", "b@elsewhere.org", "c@fabrikam.com"]
    assert got["b@elsewhere.org"]["account_id"] is None and "no known contact" in got["b@elsewhere.org"]["reason"]
