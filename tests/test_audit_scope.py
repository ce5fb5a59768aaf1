"""The gate's own view: each seller's scope from the data, and the identifiers an email shows."""

from __future__ import annotations

import datetime as dt

from audit_data import ANA, BOB, CANARY_EMAIL, ROWS, WEEK, make_dataset, write_email
from digest.audit.derive import derive_scopes
from digest.audit.scope import find_identifiers, out_of_scope, read_email
from digest.config import Settings
from digest.weeks import IsoWeek

W = IsoWeek.parse(WEEK)


def test_scope_is_what_the_seller_took_part_in():
    _, scopes = derive_scopes(make_dataset(), Settings(), W, [ANA, BOB, "nobody@contoso.com"])
    ana = scopes[ANA]
    assert ana.interactions == {"mail:M1", "mail:M3"}  # not T1: she declined it
    assert ana.people == {ANA, "frank@fabrikam.com", "sam@contoso.com"}
    assert ana.accounts == {"A1"} and ana.names == {"fabrikam", "frank fabri"}
    assert "Solution Specialist" in ana.groups and "Zyxwv Lab" not in ana.groups
    assert scopes[BOB].accounts == {"A2", "ZX-9"} and CANARY_EMAIL in scopes[BOB].people
    assert scopes["nobody@contoso.com"].interactions == frozenset() and scopes["nobody@contoso.com"].people == {"nobody@contoso.com"}


def test_assignments_starting_after_the_week_are_not_in_scope():
    late = dt.date(2027, 1, 1)
    rows = ROWS["assignments"] + [{"SellerAssignmentAccountId": "ZX-9", "SellerAssignmentStartDate": late, "SellerEmail": ANA}]
    _, scopes = derive_scopes(make_dataset(assignments=rows), Settings(), W, [ANA])
    assert "ZX-9" not in scopes[ANA].accounts


def test_names_match_across_case_and_punctuation_and_the_longest_wins(tmp_path):
    accounts = ROWS["accounts"] + [{"AccountId": "A7", "AccountName": "Fabrikam Pharma", "AccountsStartDate": dt.date(2026, 1, 1)},
                                   {"AccountId": "123", "AccountName": "Tiny", "AccountsStartDate": dt.date(2026, 1, 1)}]
    universe, scopes = derive_scopes(make_dataset(accounts=accounts), Settings(), W, [ANA])
    path = write_email(tmp_path / "a.eml", ANA, "FABRIKAM: 3 meetings; 123 minutes",
                       "Fabrikam, and fabrikam-pharma, and zyxwv   CANARY holdings", alt="")
    content = read_email(path)
    _, names = find_identifiers(content, universe)
    assert names == {"fabrikam", "fabrikam pharma", "zyxwv canary holdings"}  # "123" is too short an id to search
    leaked_addresses, leaked_names = out_of_scope(content, universe, scopes[ANA])
    assert leaked_names == {"fabrikam pharma", "zyxwv canary holdings"} and not leaked_addresses


def test_addresses_are_found_in_links_and_headers_but_a_domain_is_not_a_name(tmp_path):
    universe, scopes = derive_scopes(make_dataset(), Settings(), W, [ANA])
    path = write_email(tmp_path / "a.eml", ANA, "write to frank@fabrikam.com",
                       "<a href='mailto:Nora@Northwind.com'>mail</a>", cc=CANARY_EMAIL)
    content = read_email(path)
    addresses, names = find_identifiers(content, universe)
    assert addresses == {ANA, "frank@fabrikam.com", "nora@northwind.com", CANARY_EMAIL}
    assert "northwind" not in names  # only inside an address
    leaked, _ = out_of_scope(content, universe, scopes[ANA])
    assert leaked == {"nora@northwind.com", CANARY_EMAIL} and content.cc == (CANARY_EMAIL,)


def test_the_reader_sees_text_alt_links_and_decoded_names_but_not_styles_or_comments():
    from email.headerregistry import Address
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["To"] = Address(display_name="Zoë Brandt, Sales", addr_spec=ANA)
    msg["Subject"] = "Größe für Zoë"
    msg.set_content("plain words")
    msg.add_alternative("<html><head><style>.x{color:red}</style><title>Title</title></head><body>"
                        "<!-- hidden comment --><p>Seen&nbsp;text<img src='cid:1' alt='Chart of Fabrikam'></p>"
                        "<script>var secret = 1;</script>after<a href='https://x.example/e' data-who='Nora'>link</a>"
                        "</body></html>", subtype="html")
    msg.get_payload()[1]["Content-Description"] = "Diagramm für Zoë"
    content = read_email("m.eml", msg.as_bytes())
    assert content.to == (ANA,)
    for seen in ("größe für zoë".casefold(), "zoë brandt, sales", "title", "seen text", "chart of fabrikam", "after",
                 "https://x.example/e", "nora", "link", "plain words", "diagramm für zoë"):
        assert seen in content.visible, seen
    for unseen in ("color:red", "hidden comment", "secret"):
        assert unseen not in content.visible, unseen


def test_large_interactions_are_shared_between_scopes_without_changing_them():
    from audit_data import ROWS

    # a town hall: every seller and contact in one meeting, so its members are shared, not copied, from 2 participants
    attendees = [{"MeetingId": "TOWN", "Email": e, "Response": "accepted"}
                 for e in sorted({ANA, BOB, "sam@contoso.com", "frank@fabrikam.com", CANARY_EMAIL})]
    meetings = ROWS["meetings"] + [{**ROWS["meetings"][0], "MeetingId": "TOWN", "Organizer": BOB}]
    data = make_dataset(meetings=meetings, meeting_attendees=ROWS["meeting_attendees"] + attendees)
    sellers = [ANA, BOB, "nobody@contoso.com"]
    _, copied = derive_scopes(data, Settings(), W, sellers, shared_from=10**9)
    _, shared = derive_scopes(data, Settings(), W, sellers, shared_from=2)
    assert "meeting:TOWN" in copied[ANA].interactions and CANARY_EMAIL in copied[ANA].people
    for who in sellers:
        a, b = copied[who], shared[who]
        assert (a.interactions, a.accounts) == (b.interactions, b.accounts)
        for field in ("people", "names", "groups", "contacts"):
            assert set(getattr(a, field)) == set(getattr(b, field)), (who, field)
            assert all(x in getattr(b, field) for x in getattr(a, field))
        assert "nobody" not in b.people


def test_the_emails_own_words_after_a_name_are_not_read_as_another_name(tmp_path):
    # "Oakamark: health 82 of 100" names the seller's Oakamark, not the account "Oakamark Health" she never
    # met (a 20,000-seller run blocked 1 % of its emails on this); the name itself is still found, in any case.
    accounts = ROWS["accounts"] + [{"AccountId": "A8", "AccountName": "Fabrikam Health", "AccountsStartDate": dt.date(2026, 1, 1)}]
    universe, scopes = derive_scopes(make_dataset(accounts=accounts), Settings(), W, [ANA])
    path = write_email(tmp_path / "a.eml", ANA, "Fabrikam: health 82 of 100 (good); fabrikam (health 70)",
                       "<b>Fabrikam</b>: health 82", alt="Fabrikam \u2014 health 60")
    _, names = find_identifiers(read_email(path), universe)
    assert names == {"fabrikam"} and out_of_scope(read_email(path), universe, scopes[ANA]) == (set(), set())
    leaked = tmp_path / "b.eml"
    for text, html in (("FABRIKAM   health", ""), ("fabrikam-health", ""), ("Fabrikam, Health", ""), ("", "<b>Fabrikam</b> Health"),
                       ("", "<td>Fabrikam</td><td>Health 82</td>")):  # two cells read on as one phrase
        write_email(leaked, ANA, text, html, alt="")
        assert out_of_scope(read_email(leaked), universe, scopes[ANA])[1] == {"fabrikam health"}, text or html
    # Where a name holds one of those marks ("Fabrikam: Health"), it stops breaking a phrase, for every name.
    written = accounts[:-1] + [{"AccountId": "A8", "AccountName": "Fabrikam: Health", "AccountsStartDate": dt.date(2026, 1, 1)}]
    universe, scopes = derive_scopes(make_dataset(accounts=written), Settings(), W, [ANA])
    write_email(leaked, ANA, "Fabrikam: health 82 of 100", "", alt="")
    assert out_of_scope(read_email(leaked), universe, scopes[ANA])[1] == {"fabrikam health"}


def test_the_index_keeps_each_addresss_distinct_non_blank_names_sorted():
    import duckdb
    import pyarrow as pa

    from digest.audit.scope import _pairs

    con = duckdb.connect()
    con.register("t", pa.table({"k": ["b@x.com", "a@x.com", "a@x.com", "a@x.com", None, "c@x.com", "a@x.com", "d@x.com"],
                                "v": ["Bo", "Zoe", "Ann", "Zoe", "Nobody", " \t", None, "\u00c9lo"]}))
    assert _pairs(con, "SELECT k, v FROM t") == {"a@x.com": ("Ann", "Zoe"), "b@x.com": ("Bo",), "d@x.com": ("\u00c9lo",)}
