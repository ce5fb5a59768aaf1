"""The delivery plan: deadlines in each seller's zone, the pacing model, warnings, `digest send --plan`."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner
from delivery_env import WEEK, recipients, settings_for, write_run

from digest.cli import main
from digest.delivery.plan import deadline_at, make_plan, order_by_deadline, send_offsets
from digest.delivery.throttle import Limits
from digest.errors import ConfigError

UTC = dt.timezone.utc


def test_deadline_is_in_the_week_after_in_the_sellers_zone():
    tokyo = deadline_at("2026-W47", "Mon 09:00", "Asia/Tokyo")
    assert tokyo.astimezone(UTC) == dt.datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # Monday after W47, 09:00 JST
    paris = deadline_at("2026-W47", "monday 09:30", "Europe/Paris")
    assert paris.astimezone(UTC) == dt.datetime(2026, 11, 23, 8, 30, tzinfo=UTC)
    assert deadline_at("2026-W47", "Tue 07:00", "UTC") == dt.datetime(2026, 11, 24, 7, 0, tzinfo=UTC).astimezone(UTC)
    with pytest.raises(ConfigError, match="delivery.deadline"):
        deadline_at("2026-W47", "9am Monday", "UTC")


def test_earliest_deadline_goes_first():
    zones = {"la@x.com": "America/Los_Angeles", "tokyo@x.com": "Asia/Tokyo", "paris@x.com": "Europe/Paris"}
    order = [r for r, _ in order_by_deadline(list(zones), WEEK, "Mon 09:00", zones, "UTC")]
    assert order == ["tokyo@x.com", "paris@x.com", "la@x.com"]


def test_offsets_follow_the_window_and_day_limits():
    limits = Limits(per_window=30, window_seconds=60, recipients_per_day=100, day_seconds=86400, max_in_flight=4)
    offsets = send_offsets(130, limits, request_seconds=0.0)
    assert offsets[0] == 0 and offsets[29] == 0 and offsets[30] == 60 and offsets[99] == 180
    assert offsets[100] == 86400 and offsets[129] == 86400
    # each window ramps up at 4 parallel slots of two 0.2 s requests, then repeats one window (+ answer time) later
    ramp = send_offsets(31, Limits(per_window=30, window_seconds=60, max_in_flight=4), request_seconds=0.2)
    assert ramp[29] == pytest.approx(29 * 0.1 + 0.4) and ramp[30] == pytest.approx(60.2 + 0.4)
    # a slow service, not the window, can be the bottleneck: 4 in flight, two 2-second requests per message
    slow = send_offsets(10, Limits(per_window=1000, window_seconds=60, max_in_flight=4), request_seconds=2.0)
    assert slow[9] == pytest.approx(9 * 1.0 + 4.0)


def test_plan_counts_late_emails_and_warns():
    start = dt.datetime(2026, 11, 22, 23, 0, tzinfo=UTC)  # Sunday 23:00 UTC = Monday 08:00 in Tokyo
    deadline = deadline_at(WEEK, "Mon 09:00", "Asia/Tokyo")  # one hour later
    queue = [(f"s{i}@x.com", deadline) for i in range(300)]
    limits = Limits(per_window=30, window_seconds=60)
    one = make_plan(WEEK, {"a@x.com": queue}, limits, 0.0, start, "Mon 09:00")
    assert one.finish - start == dt.timedelta(minutes=9) and one.late == 0 and not one.warnings()
    many = [(f"s{i}@x.com", deadline) for i in range(6000)]
    late = make_plan(WEEK, {"a@x.com": many[:3000], "b@x.com": many[3000:]}, limits, 0.0, start, "Mon 09:00")
    assert late.mailboxes == 2 and late.emails == 6000
    # per mailbox, message k goes at (k // 30) minutes: from k = 61 * 30 on it is past the hour
    assert late.late == 2 * (3000 - 61 * 30)
    assert "after their deadline" in late.warnings()[0] and "sender_mailboxes" in late.warnings()[0]


def test_send_plan_prints_the_plan_and_records_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = settings_for(tmp_path, senders=("a@contoso.com", "b@contoso.com"), messages_per_minute=30)
    run = write_run(settings, recipients(90), blocked={"seller0000@contoso.com": ["identifiers"]})
    result = CliRunner().invoke(main, ["send", "--run", str(run.root), "--via", "graph", "--plan"],
                                env={"DIGEST_DELIVERY__SENDER_MAILBOXES": "a@contoso.com,b@contoso.com", "DIGEST_CONFIG": None})
    assert result.exit_code == 0, result.output
    assert "89 email(s) to send from 2 mailbox(es)" in result.output and "1 blocked" in result.output
    plan = json.loads((run.root / "report.json").read_text())["delivery_plan"]
    assert plan["emails"] == 89 and plan["per_mailbox"] == {"a@contoso.com": 44, "b@contoso.com": 45}  # seller0000 (blocked) was planned on a
    # 45 from one mailbox: the 45th is the 15th of the second window; 4 slots of two 0.25 s requests
    assert plan["duration_seconds"] == pytest.approx(60 + 0.25 + 14 * 0.125 + 0.5, abs=0.01)


def test_seller_zones_are_read_once_per_version_of_the_cards_file(tmp_path, monkeypatch):
    """Every deliver batch orders the whole run by deadline: the zones of one cards.jsonl are parsed once,
    and a replaced file (another inode, size or time) is read again."""
    from digest import cards as cards_module
    from digest.delivery.plan import seller_zones
    from digest.runfolder import write_atomic

    path = tmp_path / "cards.jsonl"
    line = '{"seller": "Ana@x.com", "week": "2026-W47", "time_zone": "%s"}\n'
    write_atomic(path, line % "Europe/Paris" + line.replace("Ana", "bo") % "")
    parsed = []
    real = cards_module._index_file
    monkeypatch.setattr(cards_module, "_index_file", lambda p: parsed.append(1) or real(p))
    assert seller_zones(path, "UTC") == {"ana@x.com": "Europe/Paris", "bo@x.com": "UTC"}
    assert seller_zones(path, "Asia/Tokyo") == {"ana@x.com": "Europe/Paris", "bo@x.com": "Asia/Tokyo"}
    assert len(parsed) == 1
    write_atomic(path, line % "America/Los_Angeles")
    assert seller_zones(path, "UTC") == {"ana@x.com": "America/Los_Angeles"} and len(parsed) == 2
    path.unlink()
    assert seller_zones(path, "UTC") == {}
