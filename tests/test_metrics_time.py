"""The seller's time in each kind of interaction (CONTRACT.md §3) and the summary card (§5).

Every expected number is worked out by hand in the test from the minutes of the contract.
"""

from __future__ import annotations

import pytest
from metrics_fixtures import ANA, base_world, cards_for, hours

FRANK, NORA, SAM, TOM, MIA = "frank@fabrikam.com", "nora@northwind.com", "sam@contoso.com", "tom@contoso.com", "mia@contoso.com"
approx = pytest.approx


def test_mail_5_minutes_sent_2_5_received_any_kind_and_once_when_both():
    w = base_world()
    w.mail("2026-11-17 09:00", ANA, to=[TOM])                     # sent: 5
    w.mail("2026-11-17 10:00", TOM, to=[ANA])                     # to: 2.5
    w.mail("2026-11-17 11:00", TOM, cc=[ANA])                     # cc: 2.5
    w.mail("2026-11-17 12:00", TOM, bcc=[ANA])                    # bcc: 2.5
    w.mail("2026-11-17 13:00", ANA, to=[ANA, TOM])                # sender and recipient: 5 once
    w.mail("2026-11-17 14:00", ANA, to=[ANA])                     # nobody else: not counted
    c = cards_for(w)
    assert c.summary.mail_hours == approx(hours(5 + 2.5 * 3 + 5))
    assert c.summary.collaboration_hours == approx(hours(17.5))
    # The minutes are settings.
    c = cards_for(w, metrics={"mail_sent_minutes": 4, "mail_received_minutes": 1})
    assert c.summary.mail_hours == approx(hours(4 + 1 * 3 + 4))


def test_private_and_confidential_mail_is_not_counted():
    w = base_world()
    for sensitivity in ("private", "confidential", "personal", "normal", None):
        w.mail("2026-11-17 09:00", ANA, to=[FRANK], sensitivity=sensitivity)
    assert cards_for(w).summary.mail_hours == approx(hours(3 * 5))


def test_bcc_recipients_are_others_only_for_the_sender():
    w = base_world()
    w.mail("2026-11-17 09:00", ANA, to=[TOM], bcc=[FRANK])         # ana sees frank: external, 5 min
    w.mail("2026-11-17 10:00", TOM, to=[ANA], bcc=[NORA])         # ana cannot see nora: internal, 2.5
    w.mail("2026-11-17 11:00", FRANK, to=[NORA], bcc=[ANA])       # ana bcc'd: others frank + nora, 2.5
    w.mail("2026-11-17 12:00", TOM, to=[ANA], bcc=[SAM])          # sam invisible to ana: only tom's group
    c = cards_for(w)
    assert c.summary.external_hours == approx(hours(5 + 2.5))
    assert c.summary.internal_hours == approx(hours(2.5 + 2.5))
    accounts = {a.account_id: a.hours for a in c.time_with_customers.accounts}
    assert accounts["A1"] == approx(hours(5 + 1.25))  # all of the first mail; half of the third (frank of frank+nora)
    assert accounts["A2"] == approx(hours(1.25))
    groups = {g.group: g.hours for g in c.internal_networks.groups}
    assert groups == {"Seller": approx(hours(5 + 2.5 + 2.5))}  # tom in mails 1, 2 and 4; sam never visible


def test_meeting_exclusions():
    w = base_world()
    w.meeting("2026-11-16 09:00", "2026-11-16 10:00", ANA, [TOM])                       # counted: 60
    w.meeting("2026-11-16 11:00", "2026-11-16 12:00", ANA, [TOM], cancelled=True)
    w.meeting("2026-11-16 13:00", "2026-11-16 14:00", ANA, [TOM], sensitivity="private")
    w.meeting("2026-11-16 15:00", "2026-11-16 16:00", ANA, [TOM], sensitivity="confidential")
    w.meeting("2026-11-17 08:00", "2026-11-17 16:00", ANA, [TOM])                       # 8 h: excluded
    w.meeting("2026-11-18 08:00", "2026-11-18 15:59", ANA, [TOM])                       # 7 h 59: counted
    w.meeting("2026-11-19 09:00", "2026-11-19 10:00", ANA)                              # alone
    w.meeting("2026-11-19 11:00", "2026-11-19 12:00", ANA, declined=[TOM])              # alone once tom declined
    crowd = [f"p{i}@contoso.com" for i in range(249)]
    w.meeting("2026-11-20 09:00", "2026-11-20 10:00", ANA, crowd)                       # 250 people: excluded
    w.meeting("2026-11-20 11:00", "2026-11-20 12:00", ANA, crowd[:248])                 # 249 people: counted
    w.meeting("2026-11-20 13:00", "2026-11-20 14:00", TOM, [SAM], declined=[ANA])        # ana declined: not hers
    assert cards_for(w).summary.meeting_hours == approx(hours(60 + 479 + 60))


def test_three_overlapping_meetings_share_each_moment():
    w = base_world()
    w.meeting("2026-11-17 09:00", "2026-11-17 10:00", ANA, [FRANK])   # A
    w.meeting("2026-11-17 09:30", "2026-11-17 10:30", NORA, [ANA])    # B
    w.meeting("2026-11-17 09:45", "2026-11-17 11:00", SAM, [ANA])     # C
    # 9:00-9:30 A alone; 9:30-9:45 A,B halves; 9:45-10:00 thirds; 10:00-10:30 B,C halves; 10:30-11:00 C alone.
    a, b, c_ = 30 + 7.5 + 5, 7.5 + 5 + 15, 5 + 15 + 30
    c = cards_for(w)
    assert c.summary.meeting_hours == approx(2.0)  # the union, 9:00 to 11:00
    accounts = {x.account_id: x.hours for x in c.time_with_customers.accounts}
    assert accounts == {"A1": approx(hours(a)), "A2": approx(hours(b))}
    assert [(g.group, g.hours) for g in c.internal_networks.groups] == [("Solution Specialist", approx(hours(c_)))]


def test_a_meeting_across_midnight_sunday_keeps_its_time_in_the_week_it_starts():
    w = base_world()
    w.meeting("2026-11-22 23:00", "2026-11-23 01:00", ANA, [TOM])
    w.meeting("2026-11-15 23:00", "2026-11-16 01:00", ANA, [SAM])  # starts in the prior week
    c = cards_for(w)
    assert c.summary.meeting_hours == approx(2.0)
    assert [g.group for g in c.internal_networks.groups] == ["Seller"]


def test_unscheduled_calls_count_the_sellers_own_time_scheduled_calls_are_the_meeting():
    w = base_world()
    w.call("2026-11-17 09:00", "2026-11-17 09:30", [ANA, TOM])                                   # 30
    w.call("2026-11-17 10:00", "2026-11-17 11:00", [(ANA, "2026-11-17 10:00", "2026-11-17 10:10"),
                                                     (ANA, "2026-11-17 10:40", "2026-11-17 10:45"), TOM])  # 10 + 5
    meeting = w.meeting("2026-11-17 14:00", "2026-11-17 15:00", ANA, [TOM])                      # 60 as a meeting
    w.call("2026-11-17 14:00", "2026-11-17 15:00", [ANA, TOM], meeting_id=meeting)               # not again
    w.call("2026-11-17 16:00", "2026-11-17 17:00", [ANA])                                        # nobody else
    c = cards_for(w)
    assert c.summary.call_hours == approx(hours(30 + 15))
    assert c.summary.meeting_hours == approx(1.0)


def test_chat_half_a_minute_per_message_sent_received_counts_nothing():
    w = base_world()
    w.chat([ANA, TOM], [("2026-11-17 09:00", ANA), ("2026-11-17 09:01", ANA), ("2026-11-17 09:02", TOM),
                        ("2026-11-18 09:00", ANA), ("2026-11-10 09:00", ANA)])  # the last is in the prior week
    w.chat([ANA, SAM], [("2026-11-17 10:00", SAM)] * 4)
    w.chat([ANA], [("2026-11-17 11:00", ANA)])  # alone in the chat: not counted
    c = cards_for(w)
    assert c.summary.chat_hours == approx(hours(3 * 0.5))
    assert [(g.group, g.hours) for g in c.internal_networks.groups] == [("Seller", approx(hours(1.5)))]
    assert cards_for(w, metrics={"chat_message_minutes": 2}).summary.chat_hours == approx(hours(6))


def test_week_boundaries_are_the_sellers_own_midnights():
    w = base_world(tz="Europe/Paris")
    w.meeting("2026-11-15 23:30", "2026-11-16 00:30", ANA, [TOM])  # Monday 00:30 in Paris: this week
    w.meeting("2026-11-22 23:30", "2026-11-23 00:30", ANA, [SAM])  # Monday 00:30 in Paris: next week
    c = cards_for(w)
    assert c.time_zone == "Europe/Paris"
    assert (c.window.start, c.window.end) == ("2026-11-16T00:00:00+01:00", "2026-11-23T00:00:00+01:00")
    assert c.summary.meeting_hours == approx(1.0)
    assert [g.group for g in c.internal_networks.groups] == ["Seller"]
    # The same meetings for a seller in UTC: the first is last week's, the second this week's.
    u = base_world()
    u.meeting("2026-11-15 23:30", "2026-11-16 00:30", ANA, [TOM])
    u.meeting("2026-11-22 23:30", "2026-11-23 00:30", ANA, [SAM])
    assert [g.group for g in cards_for(u).internal_networks.groups] == ["Solution Specialist"]


def test_blank_time_zone_uses_the_default_setting():
    w = base_world()
    w.meeting("2026-11-15 23:30", "2026-11-16 00:30", ANA, [TOM])
    c = cards_for(w, data={"default_time_zone": "Europe/Paris"})
    assert c.time_zone == "Europe/Paris" and c.summary.meeting_hours == approx(1.0)


def test_dst_week_has_169_hours_in_paris():
    # Paris leaves summer time on Sunday 2026-10-25: week 43 runs from 2026-10-18 22:00 UTC to 2026-10-25 23:00 UTC.
    w = base_world(tz="Europe/Paris")
    w.meeting("2026-10-18 22:15", "2026-10-18 22:45", ANA, [TOM])  # Monday 00:15 CEST: in week 43
    w.meeting("2026-10-18 21:45", "2026-10-18 22:00", ANA, [TOM])  # Sunday 23:45 CEST: week 42
    w.meeting("2026-10-25 22:30", "2026-10-25 22:45", ANA, [TOM])  # Sunday 23:30 CET: still week 43
    w.meeting("2026-10-25 23:00", "2026-10-25 23:30", ANA, [TOM])  # Monday 00:00 CET: week 44
    c = cards_for(w, week="2026-W43")
    assert (c.window.start, c.window.end) == ("2026-10-19T00:00:00+02:00", "2026-10-26T00:00:00+01:00")
    assert c.summary.meeting_hours == approx(hours(30 + 15))


def test_summary_external_share_and_change_against_the_prior_week():
    w = base_world()
    w.meeting("2026-11-17 09:00", "2026-11-17 10:00", ANA, [FRANK])  # this week: 1 h external
    w.meeting("2026-11-17 11:00", "2026-11-17 12:00", ANA, [TOM])    # 1 h internal
    w.meeting("2026-11-10 09:00", "2026-11-10 10:00", ANA, [FRANK])  # prior week: 1 h external
    w.meeting("2026-11-10 11:00", "2026-11-10 14:00", ANA, [TOM])    # 3 h internal
    s = cards_for(w).summary
    assert (s.collaboration_hours, s.external_hours, s.internal_hours) == (approx(2.0), approx(1.0), approx(1.0))
    assert s.external_pct == approx(50.0)
    assert s.external_pct_change == approx(50.0 - 25.0)


def test_null_rules_for_empty_weeks():
    w = base_world()
    c = cards_for(w)  # nothing at all
    s = c.summary
    assert (s.collaboration_hours, s.external_pct, s.external_pct_change) == (0.0, None, None)
    assert [(a.account_id, a.hours, a.share_pct, a.change_pct) for a in c.time_with_customers.accounts] == [("A1", 0.0, None, None)]
    assert c.to_dict()["summary"]["external_pct"] is None
    w.meeting("2026-11-17 09:00", "2026-11-17 10:00", ANA, [FRANK])  # this week only: no prior to compare with
    c = cards_for(w)
    assert c.summary.external_pct == approx(100.0) and c.summary.external_pct_change is None
    assert c.time_with_customers.accounts[0].change_pct is None


def test_opted_out_people_get_no_cards_but_count_for_others():
    w = base_world()
    w.person("bob@contoso.com", MIA, "Seller")
    w.assign("bob@contoso.com", "A2")
    w.optout(ANA)
    w.mail("2026-11-17 09:00", ANA, to=["bob@contoso.com"])
    assert cards_for(w) is None
    bob = cards_for(w, "bob@contoso.com")
    assert bob.summary.mail_hours == approx(hours(2.5))


def test_excluded_domains_and_addresses_drop_the_whole_interaction():
    w = base_world()
    w.mail("2026-11-17 09:00", ANA, to=[FRANK, "x@lawfirm.example"])
    w.meeting("2026-11-17 10:00", "2026-11-17 11:00", ANA, [TOM, "hr@contoso.com"])
    w.meeting("2026-11-17 12:00", "2026-11-17 13:00", ANA, [TOM])
    c = cards_for(w, privacy={"excluded_domains": ("lawfirm.example",), "excluded_addresses": ("hr@contoso.com",)})
    assert (c.summary.mail_hours, c.summary.meeting_hours) == (0.0, approx(1.0))
    assert c.time_with_customers.accounts[0].hours == 0.0  # frank's mail is gone too
