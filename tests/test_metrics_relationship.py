"""The relationship card (CONTRACT.md §8) on hand-built companies: every definition and every "Precisely" point.

The world is metrics_fixtures.base_world: ana sells to A1 Fabrikam (contacts frank and fiona, website
fabrikam.com), colleagues tom and sam; the week is 2026-W47 (Mon 16 to Mon 23 November, UTC for ana),
so the 9-week window starts on Monday 21 September and the one a week earlier on 14 September.
Unless a test is about short data, an internal mail on 1 September makes the data long enough.
"""

from __future__ import annotations

import pytest
from metrics_fixtures import ANA, base_world, cards_for

from digest.metrics.relationship import grade

FRANK, FIONA, TOM, SAM = "frank@fabrikam.com", "fiona@fabrikam.com", "tom@contoso.com", "sam@contoso.com"
H = 3600


def world(long_data: bool = True, conversations: bool = True):
    w = base_world()
    if long_data:  # the first day of data, before the window (an internal mail: no account)
        w.mail("2026-09-01 09:00", TOM, to=[SAM], conversation="internal" if conversations else None)
    return w


def relationship(w, **values):
    cards = cards_for(w, relationship=values) if values else cards_for(w)
    return cards.relationship


def account(w, account_id: str = "A1", **values):
    return next(a for a in relationship(w, **values).accounts if a.account_id == account_id)


def test_a_thread_with_replies_both_ways():
    w = world()
    w.mail("2026-11-02 09:00", FRANK, to=[ANA], conversation="c1")
    w.mail("2026-11-02 13:00", ANA, to=[FRANK], conversation="c1")  # you: 4 h
    w.mail("2026-11-03 13:00", FRANK, to=[ANA], cc=[TOM], conversation="c1")  # them: 24 h
    w.mail("2026-11-04 13:00", ANA, to=[FRANK, FIONA], conversation="c1")  # you: 24 h
    a = account(w)
    assert (a.emails_sent, a.emails_received) == (2, 2)
    assert (a.ratio_by_us, a.ratio_by_them) == (1.0, 1.0)
    assert (a.initiated_by_you, a.initiated_by_them) == (0, 1)  # frank started the conversation
    assert a.response_hours_you == pytest.approx(14.0)  # median of 4 and 24: the mean of the middle two
    assert a.response_hours_them == pytest.approx(24.0)
    assert a.last_interaction == "2026-11-04T13:00:00+00:00"
    assert a.most_contacted == ("frank", "fiona")


def test_a_reply_after_a_later_customer_mail_does_not_count():
    w = world()
    w.mail("2026-11-02 09:00", FRANK, to=[ANA], conversation="c1")  # blocked by frank's next mail
    w.mail("2026-11-02 10:00", FRANK, to=[ANA], conversation="c1")
    w.mail("2026-11-02 12:00", ANA, to=[FRANK], conversation="c1")  # 2 h after the later one only
    a = account(w)
    assert a.response_hours_you == pytest.approx(2.0)
    assert a.response_hours_them is None  # nothing came back after ana's mail


def test_an_internal_forward_is_neither_a_reply_nor_a_blocker_and_late_replies_do_not_count():
    w = world()
    w.mail("2026-11-02 09:00", FRANK, to=[ANA], conversation="c1")
    w.mail("2026-11-02 10:00", ANA, to=[SAM], conversation="c1")  # internal forward
    w.mail("2026-11-02 14:00", ANA, to=[FRANK], conversation="c1")  # the reply: 5 h
    w.mail("2026-10-01 09:00", ANA, to=[FIONA], conversation="c2")
    w.mail("2026-10-16 09:00", FIONA, to=[ANA], conversation="c2")  # 15 days later: not a reply
    w.mail("2026-11-22 20:00", FIONA, to=[ANA], conversation="c3")
    w.mail("2026-11-23 08:00", ANA, to=[FIONA], conversation="c3")  # after the window's end
    a = account(w)
    assert a.response_hours_you == pytest.approx(5.0)
    assert a.response_hours_them is None
    assert (a.emails_sent, a.emails_received) == (2, 3)  # the forward is not a mail to the account; 23 Nov is outside


def test_conversation_starts_are_looked_up_in_all_the_data():
    w = world()
    w.mail("2026-09-05 09:00", ANA, to=[SAM], conversation="old")  # before the window, internal: still earlier
    w.mail("2026-11-02 09:00", FRANK, to=[ANA], conversation="old")  # so not a start
    w.mail("2026-11-03 09:00", ANA, to=[FRANK], conversation="same")  # two mails at the same instant: both start
    w.mail("2026-11-03 09:00", FIONA, to=[ANA], conversation="same")
    w.mail("2026-11-04 09:00", ANA, to=[FRANK], conversation="")  # blank: starts nothing
    w.mail("2026-11-05 09:00", TOM, to=[FRANK], conversation="colleague")  # not ana's mail: not hers to count
    w.mail("2026-11-06 09:00", ANA, to=[FRANK], conversation="colleague")
    a = account(w)
    assert (a.initiated_by_you, a.initiated_by_them) == (2, 1)
    assert (a.emails_sent, a.emails_received) == (3, 2)


def test_meetings_organised_by_the_seller_the_account_or_a_colleague():
    w = world()
    w.meeting("2026-11-02 10:00", "2026-11-02 11:00", ANA, [FRANK])
    w.meeting("2026-11-03 10:00", "2026-11-03 11:00", FRANK, [ANA])
    w.meeting("2026-11-04 10:00", "2026-11-04 11:00", TOM, [ANA, FIONA])  # a colleague's: counts for neither
    w.meeting("2026-11-05 10:00", "2026-11-05 11:00", FRANK, [TOM], declined=[ANA])  # ana declined: not hers
    a = account(w)
    assert (a.initiated_by_you, a.initiated_by_them) == (1, 1)
    assert [x.meetings for x in a.weekly if x.week in ("2026-W45", "2026-W46")] == [3, 0]
    assert a.last_interaction == "2026-11-04T10:00:00+00:00"


def test_the_next_interaction_is_the_first_future_meeting_not_cancelled_nor_declined():
    w = world()
    w.meeting("2026-11-19 10:00", "2026-11-19 11:00", ANA, [FRANK])
    w.meeting("2026-11-24 10:00", "2026-11-24 11:00", ANA, [FRANK], cancelled=True)
    w.meeting("2026-11-25 10:00", "2026-11-25 11:00", FRANK, [TOM], declined=[ANA])
    w.meeting("2026-11-27 10:00", "2026-11-27 11:00", FIONA, [ANA])
    w.meeting("2026-12-01 10:00", "2026-12-01 11:00", FRANK, [ANA])
    a = account(w)
    assert a.next_interaction == "2026-11-27T10:00:00+00:00"
    assert a.last_interaction == "2026-11-19T10:00:00+00:00"  # future meetings are not in the window
    assert (a.initiated_by_you, a.initiated_by_them) == (1, 0)
    w2 = world()
    w2.meeting("2026-12-08 10:00", "2026-12-08 11:00", FRANK, [ANA])  # 15 days after the window's end
    assert account(w2).next_interaction is None
    assert account(w2, lookahead_days=16).next_interaction == "2026-12-08T10:00:00+00:00"


def test_bcc_as_the_seller_sees_it():
    w = world()
    w.mail("2026-11-02 09:00", FRANK, to=[TOM], bcc=[ANA])  # a bcc'd seller received it
    w.mail("2026-11-03 09:00", ANA, to=[TOM], bcc=[FIONA])  # the sender sees her bcc recipients
    w.mail("2026-11-04 09:00", TOM, to=[ANA], bcc=[FRANK])  # ana cannot see frank: not with the account for her
    a = account(w)
    assert (a.emails_sent, a.emails_received) == (1, 1)
    assert a.last_interaction == "2026-11-03T09:00:00+00:00"
    assert a.most_contacted == ("fiona", "frank")


def test_mails_the_seller_was_cc_d_on_and_chats_count_for_frequency_and_people_but_not_as_sent_or_received():
    w = world()
    w.mail("2026-10-05 09:00", TOM, to=[FRANK], cc=[ANA])
    w.chat([ANA, FIONA], [("2026-10-14 09:00", FIONA), ("2026-10-14 09:05", ANA)])
    w.mail("2026-10-20 09:00", TOM, to=[FRANK])  # ana not in it: never counts for her
    a = account(w)
    assert (a.emails_sent, a.emails_received) == (0, 0)
    assert a.most_contacted == ("fiona", "frank")  # fiona: two chat messages
    assert a.last_interaction == "2026-10-14T09:05:00+00:00"
    # F = 2 weeks / 6, R = 1 - (39 days 14:55) / 30 -> 0, B = 0: round(100 x 0.4 x 2/6) = 13
    assert a.health == 13 and a.health_grade == "poor"


def test_no_conversation_column_gives_null_starts_and_response_times():
    w = world(conversations=False)
    w.mail("2026-11-02 09:00", FRANK, to=[ANA])
    w.mail("2026-11-02 13:00", ANA, to=[FRANK])
    w.meeting("2026-11-03 10:00", "2026-11-03 11:00", ANA, [FRANK])
    a = account(w)
    assert (a.initiated_by_you, a.initiated_by_them, a.response_hours_you, a.response_hours_them) == (None,) * 4
    assert (a.emails_sent, a.emails_received) == (1, 1)
    blank = world()
    blank.mail("2026-11-02 09:00", FRANK, to=[ANA], conversation="")  # the column is there, the value is blank
    blank.meeting("2026-11-03 10:00", "2026-11-03 11:00", ANA, [FRANK])
    b = account(blank)
    assert (b.initiated_by_you, b.initiated_by_them, b.response_hours_you) == (1, 0, None)


def test_an_account_without_interaction():
    a = account(world())
    assert (a.emails_sent, a.emails_received, a.ratio_by_us, a.ratio_by_them) == (0, 0, None, None)
    assert (a.initiated_by_you, a.initiated_by_them, a.last_interaction, a.next_interaction) == (0, 0, None, None)
    assert a.most_contacted == () and (a.health, a.health_grade, a.health_change) == (0, "poor", 0)
    assert [x.week for x in a.weekly] == [f"2026-W{n}" for n in range(39, 48)]
    assert all((x.sent, x.received, x.meetings, x.calls) == (0, 0, 0, 0) for x in a.weekly)


def test_ratios_calls_and_the_weekly_rows():
    w = world()
    for day in ("2026-11-16", "2026-11-17", "2026-11-18"):
        w.mail(f"{day} 09:00", ANA, to=[FRANK], conversation=day)
    w.mail("2026-11-18 10:00", FIONA, to=[ANA], conversation="x")
    w.call("2026-11-19 10:00", "2026-11-19 10:30", [ANA, FRANK])
    w.call("2026-11-19 11:00", "2026-11-19 11:30", [ANA, FRANK], meeting_id="T99")  # a meeting's call: not a call
    a = account(w)
    assert (a.ratio_by_us, a.ratio_by_them) == (3.0, pytest.approx(1 / 3))
    assert a.to_dict()["ratio_by_them"] == 0.33
    last = a.weekly[-1]
    assert (last.week, last.sent, last.received, last.meetings, last.calls) == ("2026-W47", 3, 1, 0, 1)


def test_health_rounds_half_up_and_the_grade_boundaries():
    w = world()
    w.meeting("2026-11-22 12:00", "2026-11-22 13:00", FRANK, [ANA])  # 12 h before the window's end
    # F = 1/4, R = 1 - 0.5/30, B = 0 (no mail): 100 x (0.4 x 0.25 + 0.3 x 59/60) = 10 + 29.5 = 39.5 -> 40
    a = account(w, expected_weeks=4)
    assert (a.health, a.health_grade, a.health_change) == (40, "fair", 40)
    assert [grade(h) for h in (0, 39, 40, 59, 60, 100)] == ["poor", "poor", "fair", "fair", "good", "good"]
    # The weights are settings: all on recency gives round(100 x 59/60) = 98.
    b = account(w, weight_frequency=0.0, weight_recency=1.0, weight_balance=0.0)
    assert b.health == 98


def test_health_balance_and_change_against_the_window_a_week_earlier():
    w = world()
    for week_start in ("2026-10-05", "2026-10-12", "2026-10-19", "2026-10-26", "2026-11-02", "2026-11-09"):
        w.mail(f"{week_start} 09:00", ANA, to=[FRANK], conversation=week_start)
    w.mail("2026-11-09 12:00", FRANK, to=[ANA], conversation="2026-11-09")
    w.mail("2026-11-20 12:00", ANA, to=[FRANK], conversation="late")
    a = account(w)
    # window: 7 weeks -> F = 1, R = 1 - 2.5/30, B = 1/7: 40 + 27.5 + 4.2857 = 71.79 -> 72
    assert (a.emails_sent, a.emails_received, a.health) == (7, 1, 72)
    # a week earlier (to 16 Nov): 6 weeks -> F = 1, R = 1 - (6 days 12 h)/30, B = 1/6: 40 + 23.5 + 5 = 68.5 -> 69
    assert a.health_change == 72 - 69


def test_most_contacted_ties_by_address_and_names_of_contacts():
    w = world()
    w.mail("2026-11-02 09:00", ANA, to=[FRANK, "zed@fabrikam.com"], conversation="a")
    w.mail("2026-11-03 09:00", ANA, to=[FRANK, "abe@fabrikam.com", FIONA], conversation="b")
    w.mail("2026-11-04 09:00", "nora@northwind.com", to=[ANA], conversation="c")  # another account
    a = account(w)
    assert a.most_contacted == ("frank", "abe@fabrikam.com", "fiona")  # abe and fiona tie with zed: by address


def test_the_accounts_are_those_of_the_time_with_customers_card_in_its_order():
    w = world()
    w.mail("2026-11-17 09:00", ANA, to=["nora@northwind.com"], conversation="n")
    w.meeting("2026-11-18 09:00", "2026-11-18 11:00", ANA, ["nora@northwind.com"])
    cards = cards_for(w)
    assert [a.account_id for a in cards.relationship.accounts] == [a.account_id for a in cards.time_with_customers.accounts] \
        == ["A2", "A1"]
    assert cards.relationship.accounts[0].account_name == "Northwind"


def test_short_data_moves_the_window_start():
    w = world(long_data=False)
    w.mail("2026-11-04 15:00", ANA, to=[FRANK], conversation="a")
    r = relationship(w)
    assert (r.window.start, r.window.end) == ("2026-11-04T00:00:00+00:00", "2026-11-23T00:00:00+00:00")
    a = r.accounts[0]
    assert [x.week for x in a.weekly] == ["2026-W45", "2026-W46", "2026-W47"]
    assert a.health_change is not None  # the window a week earlier ends on 16 Nov, after the first day
    late = world(long_data=False)
    late.mail("2026-11-17 15:00", ANA, to=[FRANK], conversation="a")
    r2 = relationship(late)
    assert r2.window.start == "2026-11-17T00:00:00+00:00"
    assert [x.week for x in r2.accounts[0].weekly] == ["2026-W47"] and r2.accounts[0].health_change is None


def test_short_data_in_the_seller_s_zone():
    w = base_world(tz="Europe/Paris")
    w.mail("2026-11-03 23:30", TOM, to=[SAM])  # 4 Nov 00:30 in Paris
    w.mail("2026-11-05 10:00", ANA, to=[FRANK])
    r = relationship(w)
    assert (r.window.start, r.window.end) == ("2026-11-04T00:00:00+01:00", "2026-11-23T00:00:00+01:00")
    assert r.accounts[0].last_interaction == "2026-11-05T11:00:00+01:00"


def test_the_json_keeps_the_contract_shape():
    w = world()
    w.mail("2026-11-02 09:00", FRANK, to=[ANA], conversation="c1")
    d = cards_for(w).to_dict()["relationship"]
    assert list(d) == ["window", "accounts"] and list(d["window"]) == ["start", "end"]
    assert list(d["accounts"][0]) == ["account_id", "account_name", "emails_sent", "emails_received", "ratio_by_us",
                                      "ratio_by_them", "initiated_by_you", "initiated_by_them", "response_hours_you",
                                      "response_hours_them", "last_interaction", "next_interaction", "weekly",
                                      "most_contacted", "health", "health_grade", "health_change"]
    assert list(d["accounts"][0]["weekly"][0]) == ["week", "sent", "received", "meetings", "calls"]
