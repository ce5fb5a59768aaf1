"""The worked example of docs/metrics.md, computed for real: the docs and the code must agree."""

from __future__ import annotations

from metrics_fixtures import ANA, base_world, cards_for

FRANK, FIONA, NORA, SAM, TOM, MIA = ("frank@fabrikam.com", "fiona@fabrikam.com", "nora@northwind.com", "sam@contoso.com",
                                     "tom@contoso.com", "mia@contoso.com")


def test_worked_example_of_the_docs():
    w = base_world(tz="Europe/Paris")  # Paris is UTC+1 in November
    w.mail("2026-11-16 08:00", ANA, to=[FRANK], bcc=[SAM])
    w.mail("2026-11-16 08:30", TOM, to=[ANA], bcc=[NORA])
    w.meeting("2026-11-17 09:00", "2026-11-17 10:00", ANA, [FRANK, FIONA, NORA, MIA])
    w.meeting("2026-11-17 09:30", "2026-11-17 10:30", SAM, [ANA])
    w.chat([ANA, TOM], [("2026-11-18 09:00", ANA)] * 4)
    d = cards_for(w).to_dict()
    assert d["window"] == {"start": "2026-11-16T00:00:00+01:00", "end": "2026-11-23T00:00:00+01:00"}
    assert d["summary"] == {"collaboration_hours": 1.66, "external_hours": 0.83, "internal_hours": 0.83,
                            "external_pct": 50.25, "external_pct_change": None,
                            "by_channel": {"mail": 0.12, "meeting": 1.5, "call": 0.0, "chat": 0.03}}
    assert [(a["account_id"], a["hours"], a["share_pct"], a["potential_share_pct"]) for a in d["time_with_customers"]["accounts"]] == [
        ("A1", 0.58, 70.0, 75.0), ("A2", 0.25, 30.0, 25.0)]
    assert d["internal_networks"]["groups"] == [{"group": "Solution Specialist", "hours": 0.83},
                                                {"group": "Sales Manager", "hours": 0.75}, {"group": "Seller", "hours": 0.07}]
    assert [(a["account_id"], a["manager_hours"], a["leadership_hours"], a["own_hours"]) for a in d["leadership"]["accounts"]] == [
        ("A1", 0.5, 0.0, 0.0), ("A2", 0.25, 0.0, 0.0)]
    assert [(a["account_id"], a["engaged_people"], a["engaged_people_default"], a["known_contacts"])
            for a in d["depth_of_engagement"]["accounts"]] == [("A1", 2, 2, 2), ("A2", 1, 1, 1)]
