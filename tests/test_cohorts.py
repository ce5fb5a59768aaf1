"""Each seller's own week and own Monday morning: cohorts by due time, runs at fixed moments (`--at`)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import main
from digest.config import Settings, load_settings
from digest.delivery.outbox import read_eml
from digest.errors import ConfigError
from digest.pipeline import parse_instant, read_cohorts
from digest.pipeline.weekly import run_week
from digest.sample import generate_sample
from digest.weeks import IsoWeek, parse_duration

W = IsoWeek.parse("2026-W48")  # Monday 23 to Sunday 29 November 2026; its emails go out on Monday 30 November
LAG = parse_duration("2h")
ZONES = ["Europe/Paris", "America/Los_Angeles", "Pacific/Pago_Pago", "Pacific/Kiritimati", "Asia/Kathmandu", ""]
DEFAULT_ZONE = "Asia/Tokyo"  # for the seller whose TimeZone is blank


def _utc(text: str) -> dt.datetime:
    return parse_instant(text)


@pytest.mark.parametrize("zone, due", [
    ("Europe/Paris", "2026-11-30T06:00:00Z"),  # Monday 07:00 in Paris; the week ended at 23:00Z + 2 h lag
    ("America/Los_Angeles", "2026-11-30T15:00:00Z"),
    ("Pacific/Pago_Pago", "2026-11-30T18:00:00Z"),  # UTC-11
    ("Pacific/Kiritimati", "2026-11-29T17:00:00Z"),  # UTC+14: Monday 07:00 there is Sunday 17:00 UTC
    ("Asia/Kathmandu", "2026-11-30T01:15:00Z"),  # UTC+5:45
    ("Asia/Kolkata", "2026-11-30T01:30:00Z"),  # UTC+5:30
    ("Pacific/Chatham", "2026-11-29T17:15:00Z"),  # UTC+13:45 in summer
])
def test_due_at_is_the_later_of_the_week_end_plus_lag_and_the_local_send_time(zone, due):
    assert W.due_at(zone, LAG, "Mon 07:00") == _utc(due)


def test_a_long_arrival_lag_wins_over_the_local_send_time():
    assert W.due_at("Europe/Paris", parse_duration("9h"), "Mon 07:00") == _utc("2026-11-30T08:00:00Z")  # 23:00Z + 9 h


def test_daylight_saving_weeks_have_their_real_length_and_due_times():
    spring = IsoWeek.parse("2026-W10")  # the US moves its clocks forward on Sunday 8 March 2026
    start, end = spring.bounds("America/Los_Angeles")
    assert end.astimezone(dt.timezone.utc) - start.astimezone(dt.timezone.utc) == dt.timedelta(hours=167)
    assert spring.due_at("America/Los_Angeles", LAG, "Mon 07:00") == _utc("2026-03-09T14:00:00Z")  # 07:00 PDT
    fall = IsoWeek.parse("2026-W43")  # the EU moves its clocks back on Sunday 25 October 2026
    start, end = fall.bounds("Europe/Paris")
    assert end.astimezone(dt.timezone.utc) - start.astimezone(dt.timezone.utc) == dt.timedelta(hours=169)
    assert fall.due_at("Europe/Paris", LAG, "Mon 07:00") == _utc("2026-10-26T06:00:00Z")  # 07:00 CET


def test_the_week_a_run_reports_is_the_last_that_ended_somewhere():
    assert IsoWeek.reported_at(_utc("2026-11-29T18:00:00Z")) == W  # Kiritimati's Monday has begun
    assert IsoWeek.reported_at(_utc("2026-11-30T06:00:00Z")) == W
    assert IsoWeek.reported_at(_utc("2026-12-02T12:00:00Z")) == W


@pytest.mark.parametrize("name, value", [("DIGEST_DELIVERY__LOCAL_SEND_TIME", "Monday"),
                                         ("DIGEST_DATA__ARRIVAL_LAG", "two hours")])
def test_bad_schedule_settings_name_the_setting(name, value):
    with pytest.raises(ConfigError) as err:
        load_settings(None, environ={name: value})
    assert name in str(err.value) and "like" in str(err.value) and err.value.exit_code == 2


def _settings(root: Path) -> Settings:
    s = Settings().replace("data", folder=str(root / "data"), store=str(root / "store"), default_time_zone=DEFAULT_ZONE)
    s = s.replace("runs", folder=str(root / "runs")).replace("delivery", outbox_folder=str(root / "outbox"))
    return s.replace("airflow", batch_size=3).replace("privacy", audit_salt="test-salt-" + "3" * 40)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A sample org whose sellers live in six zones (one with a blank TimeZone), and one opted-out seller."""
    root = tmp_path_factory.mktemp("cohorts")
    generate_sample(root / "data", sellers=12, weeks=5, seed=11, end_week=W)
    with (root / "data" / "crm" / "seller_assignments.csv").open(encoding="utf-8") as f:
        sellers = sorted({r["SellerEmail"] for r in csv.DictReader(f)})
    zone_of = {s: ZONES[i % len(ZONES)] for i, s in enumerate(sellers)}
    people = root / "data" / "org" / "people.csv"
    with people.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        if row["PersonId"] in zone_of:
            row["TimeZone"] = zone_of[row["PersonId"]]
    with people.open("w", encoding="utf-8", newline="") as f:
        out = csv.DictWriter(f, fieldnames=list(rows[0]))
        out.writeheader()
        out.writerows(rows)
    with (root / "data" / "optouts.csv").open(encoding="utf-8") as f:
        opted_out = {r["PersonId"] for r in csv.DictReader(f)}
    return root, zone_of, opted_out


def _outcomes(root: Path) -> dict[str, dict]:
    lines = (root / "runs" / str(W) / "outcomes.jsonl").read_text(encoding="utf-8").splitlines()
    return {o["seller"]: o for o in map(json.loads, lines)}


def _sent(root: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in (root / "outbox" / str(W)).glob("*.eml") if (root / "outbox" / str(W)).is_dir() else []:
        who = read_eml(p).recipient.lower()
        out[who] = out.get(who, 0) + 1
    return out


def test_runs_at_fixed_moments_send_each_seller_when_they_are_due_and_never_twice(world):
    root, zone_of, opted_out = world
    settings = _settings(root)
    run_week(settings, W, delivery="outbox", at=_utc("2026-11-30T06:00:00Z"))  # Monday 06:00 UTC of week W+1
    first = _outcomes(root)
    assert len(first) == 12 and all(o["due_at"] for o in first.values())  # every line carries its due time
    cohorts = read_cohorts(settings, W)
    assert [c.key for c in cohorts] == sorted(c.key for c in cohorts) and len(cohorts) == 6  # one per due instant
    cards = {json.loads(line)["seller"] for line in (root / "runs" / str(W) / "cards.jsonl").read_text().splitlines()}
    for seller, zone in zone_of.items():
        o = first[seller]
        if seller in opted_out:
            assert o["state"] == "skipped" and o["reason"] == "opted out"  # at once, whatever the due time
        elif zone in ("America/Los_Angeles", "Pacific/Pago_Pago"):
            assert o["state"] == "not_yet_due", o
            assert o["due_at"] == {"America/Los_Angeles": "2026-11-30T15:00:00Z", "Pacific/Pago_Pago": "2026-11-30T18:00:00Z"}[zone]
            assert seller not in cards  # nobody is computed before their week has ended
        else:
            assert o["state"] == "sent", o
    blank = next(s for s, z in zone_of.items() if z == "" and s not in opted_out)
    assert first[blank]["due_at"] == "2026-11-29T22:00:00Z"  # Monday 07:00 in data.default_time_zone (Tokyo)
    assert all(n == 1 for n in _sent(root).values())

    run_week(settings, W, delivery="outbox", at=_utc("2026-11-30T16:00:00Z"))
    second = _outcomes(root)
    for seller, zone in zone_of.items():
        if seller not in opted_out and zone == "America/Los_Angeles":
            assert second[seller]["state"] == "sent"
        if seller not in opted_out and zone == "Pacific/Pago_Pago":
            assert second[seller]["state"] == "not_yet_due"

    run_week(settings, W, delivery="outbox", at=_utc("2026-11-30T18:00:00Z"))  # due_at <= T: Pago Pago is due now
    third = _outcomes(root)
    assert {o["state"] for s, o in third.items() if s not in opted_out} == {"sent"}
    sent = _sent(root)
    assert set(sent) == set(zone_of) - opted_out and set(sent.values()) == {1}
    report = json.loads((root / "runs" / str(W) / "report.json").read_text())
    assert [c["due_at"] for c in report["cohorts"]] == [c.key for c in cohorts]
    assert sum(c["sellers"] for c in report["cohorts"]) == report["sellers"]["in_scope"] == 12


def test_digest_run_at_exits_0_with_sellers_not_yet_due(world, tmp_path):
    root, _, _ = world
    config = tmp_path / "digest.toml"
    config.write_text(f'[data]\nfolder = "{root / "data"}"\nstore = "{tmp_path / "store"}"\ndefault_time_zone = "{DEFAULT_ZONE}"\n'
                      f'[runs]\nfolder = "{tmp_path / "runs"}"\n[delivery]\noutbox_folder = "{tmp_path / "outbox"}"\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(config), "run", "--at", "2026-11-30T06:00:00Z", "--delivery", "outbox"])
    assert result.exit_code == 0, result.output
    assert "weekly run for 2026-W48" in result.output and "not yet due" in result.output
    bad = CliRunner().invoke(main, ["--config", str(config), "run", "--at", "Monday morning"])
    assert bad.exit_code == 2 and "2026-11-30T06:00:00Z" in bad.output


def test_a_cohort_stopped_before_its_gate_is_finished_by_the_next_run(world, tmp_path):
    root, _, _ = world
    import shutil

    settings = _settings(root).replace("runs", folder=str(tmp_path / "runs")).replace("delivery", outbox_folder=str(tmp_path / "outbox"))
    run_week(settings, W, delivery="none", at=_utc("2026-11-30T06:00:00Z"))
    run = tmp_path / "runs" / str(W)
    doc = json.loads((run / "cohorts.json").read_text())
    doc[0]["ready_at"] = None  # as if the process died after the cards step of the first cohort
    (run / "cohorts.json").write_text(json.dumps(doc))
    shutil.rmtree(run / "emails" / f"{read_cohorts(settings, W)[0].id}-0000")
    run_week(settings, W, delivery="outbox", at=_utc("2026-11-30T06:00:00Z"))
    outcomes = [json.loads(line) for line in (run / "outcomes.jsonl").read_text().splitlines()]
    assert {o["state"] for o in outcomes} <= {"sent", "skipped", "not_yet_due"}
    assert not [o for o in outcomes if o["state"] == "failed"]


def test_a_cohort_delivering_while_another_is_gated_leaves_every_state_true(world, tmp_path, monkeypatch):
    """Airflow runs cohorts side by side: one cohort's deliver task sends and deletes its sent files while
    another's gate runs. The gate opens only its own cohort's emails, and a sent email stays sent."""
    from digest import pipeline
    from digest.audit import records
    from digest.pipeline.outcomes import seller_outcomes

    root, _, _ = world
    settings = _settings(root).replace("runs", folder=str(tmp_path / "runs")).replace("delivery", outbox_folder=str(tmp_path / "outbox"))
    at = _utc("2026-11-30T06:00:00Z")
    pipeline.snapshot_inputs(settings, W)
    pipeline.plan_cohorts(settings, W)
    first, second = [c for c in pipeline.due_by(settings, W, at) if len(c.sellers) > 1][:2]
    for c in (first, second):
        pipeline.cohort_cards(settings, W, c.key, at)
        pipeline.cohort_render(settings, W, c.key)
    pipeline.cohort_gate(settings, W, first.key, at)
    run = tmp_path / "runs" / str(W)
    first_files = [p for s, p in pipeline.run_folder(settings, W).rendered().items() if s in first.sellers]
    assert first_files and all(p.name.endswith(".eml.sealed") for p in first_files)  # real data: sealed, deleted once sent

    real_opener, opened = records.opener, []

    def opener_delivering_meanwhile(settings_, week):
        read = real_opener(settings_, week)

        def reading(path):
            if not opened:  # the first cohort's deliver task runs (and cleans up) while this gate is under way
                pipeline.cohort_deliver(settings, W, first.key, "outbox")
            opened.append(Path(path))
            return read(path)
        return reading

    monkeypatch.setattr(records, "opener", opener_delivering_meanwhile)
    pipeline.cohort_gate(settings, W, second.key, at)
    monkeypatch.undo()
    assert opened and not set(opened) & set(first_files)  # the gate never opened the other cohort's emails
    assert not any(p.exists() for p in first_files)  # ... which were sent and deleted meanwhile
    pipeline.cohort_deliver(settings, W, second.key, "outbox")
    states = {o.seller: o.state for o in seller_outcomes(settings, W)}
    due = [s for c in (first, second) for s in c.sellers if s in _sent(tmp_path)]
    assert due and {states[s] for s in due} == {"sent"}
    assert set(_sent(tmp_path)) >= {s for c in (first, second) for s in c.sellers if states[s] != "skipped"}

    gate = json.loads((run / "audit_gate.json").read_text())
    gate["blocked"][first.sellers[0]] = ["integrity"]  # a later verdict never un-sends an email
    (run / "audit_gate.json").write_text(json.dumps(gate))
    again = {o.seller: o for o in seller_outcomes(settings, W)}
    if first.sellers[0] in _sent(tmp_path):
        assert again[first.sellers[0]].state == "sent" and again[first.sellers[0]].sent_at


def test_cleanup_of_sent_files_tolerates_a_file_another_task_deleted(world, tmp_path):
    from digest import pipeline
    from digest.delivery.cleanup import delete_sent

    root, _, _ = world
    settings = _settings(root).replace("runs", folder=str(tmp_path / "runs")).replace("delivery", outbox_folder=str(tmp_path / "outbox"))
    settings = settings.replace("privacy", keep_sent_days=1)  # the deliver step keeps them for now
    run_week(settings, W, delivery="outbox", at=_utc("2026-11-30T06:00:00Z"))
    rendered = pipeline.run_folder(settings, W).rendered()
    sent = [p for s, p in rendered.items() if s in _sent(tmp_path)]
    assert len(sent) >= 2 and all(p.exists() for p in sent)
    sent[0].unlink()  # as if another cohort's deliver task had cleaned it up first
    later = time.time() + 2 * 86400  # the run sent them just now (the real clock); kept one day
    assert delete_sent(settings, str(W), later) == len(sent) - 1
    assert not any(p.exists() for p in sent) and delete_sent(settings, str(W), later) == 0
    logged = (tmp_path / "runs" / str(W) / "sent_deleted.jsonl").read_text().splitlines()
    assert len(logged) == len(sent) - 1


def test_the_cards_step_keeps_each_cohorts_interactions_sealed_for_its_render_step(world, tmp_path):
    from digest.metrics import seller_interactions
    from digest.pipeline import load_snapshot
    from digest.pipeline.used import FOLDER, read_used

    root, _, _ = world
    settings = _settings(root).replace("runs", folder=str(tmp_path / "runs")).replace("data", store=str(tmp_path / "store"))
    run_week(settings, W, delivery="none", at=_utc("2026-11-30T06:00:00Z"))
    kept = sorted((tmp_path / "runs" / str(W) / FOLDER).iterdir())
    assert kept and all(p.name.endswith(".arrow.sealed") for p in kept)  # real data: addresses are not readable at rest
    dataset = load_snapshot(settings, W)
    cards = {json.loads(line)["seller"] for line in (tmp_path / "runs" / str(W) / "cards.jsonl").read_text().splitlines()}
    started = [c for c in read_cohorts(settings, W) if c.started_at]
    assert started
    for c in started:
        sellers = sorted(s for s in c.sellers if s in cards)
        used = read_used(settings, W, c.id)
        assert used is not None and used.num_rows > 0
        assert used.equals(seller_interactions(dataset, W, settings, sellers))  # what matching again would give


def test_cohorts_started_together_get_the_cards_and_batches_each_would_get_alone(world, tmp_path):
    """`digest run` computes every due cohort's cards in one metrics session (pipeline.cohorts_cards): the
    run folder ends as if each cohort's cards step had run on its own, and a cohort not yet due starts none."""
    from digest import pipeline
    from digest.errors import InputError
    from digest.pipeline.used import read_used

    root, _, _ = world
    at = _utc("2026-11-30T06:00:00Z")
    folders = {}
    for way in ("alone", "together"):
        settings = _settings(root).replace("runs", folder=str(tmp_path / way / "runs")).replace("data", store=str(tmp_path / way / "store"))
        pipeline.snapshot_inputs(settings, W)
        pipeline.plan_cohorts(settings, W)
        due = [c.key for c in pipeline.due_by(settings, W, at)]
        assert len(due) >= 3
        if way == "alone":
            for key in due:
                pipeline.cohort_cards(settings, W, key, at)
        else:
            later = next(c.key for c in read_cohorts(settings, W) if c.due_at > at)
            with pytest.raises(InputError, match="not due"):
                pipeline.cohorts_cards(settings, W, [*due, later], at)
            assert not any(c.started_at for c in read_cohorts(settings, W))
            result = pipeline.cohorts_cards(settings, W, due, at)
            assert result.counts["batches"] == len(json.loads((tmp_path / way / "runs" / str(W) / "batches.json").read_text()))
        assert {c.key for c in read_cohorts(settings, W) if c.started_at} == set(due)
        folders[way] = (settings, tmp_path / way / "runs" / str(W))
    (alone, a), (together, b) = folders["alone"], folders["together"]
    for name in ("cards.jsonl", "batches.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    for c in read_cohorts(alone, W):
        if c.started_at:
            one, both = read_used(alone, W, c.id), read_used(together, W, c.id)
            assert one is not None and both is not None and one.equals(both)


def test_a_run_groups_due_cohorts_into_metrics_sessions_of_at_most_session_sellers():
    from digest.pipeline import Cohort
    from digest.pipeline.weekly import _sessions

    cohorts = [Cohort(f"2026-11-30T0{i}:00:00Z", ("UTC",), tuple(f"s{i}-{k}@x.com" for k in range(n)))
               for i, n in enumerate((3, 4, 2, 9, 1))]
    sizes = lambda most: [[len(c.sellers) for c in g] for g in _sessions(cohorts, most)]  # noqa: E731
    assert sizes(100) == [[3, 4, 2, 9, 1]]  # everything due in one session
    assert sizes(9) == [[3, 4, 2], [9], [1]]  # in due order, never more than 9 sellers...
    assert sizes(5) == [[3], [4], [2], [9], [1]]  # ...except a cohort larger than that, which is never split
    assert [c for g in _sessions(cohorts, 5) for c in g] == cohorts
