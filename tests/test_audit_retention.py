"""Retention: raw uploads and rendered emails go after their days; audit records and the newest snapshot stay."""

from __future__ import annotations

import datetime as dt
import os

from click.testing import CliRunner

from digest.cli import main
from digest.config import Settings
from digest.audit.retention import purge

TODAY = dt.date(2026, 12, 31)


def _touch(path, day: dt.date, text: str = "x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    stamp = dt.datetime.combine(day, dt.time(12)).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def _settings(tmp_path, **privacy):
    s = Settings().replace("data", store=str(tmp_path / "store")).replace("runs", folder=str(tmp_path / "runs"))
    s = s.replace("delivery", outbox_folder=str(tmp_path / "outbox"))
    return s.replace("privacy", **privacy) if privacy else s


def _layout(tmp_path):
    old = TODAY - dt.timedelta(days=100)
    _touch(tmp_path / "store" / "2026-08-01-aaa" / "crm" / "accounts.csv", old)
    _touch(tmp_path / "store" / "2026-08-08-bbb" / "crm" / "accounts.csv", old + dt.timedelta(days=7))
    _touch(tmp_path / "store" / "2026-12-30-ccc" / "crm" / "accounts.csv", TODAY - dt.timedelta(days=1))
    _touch(tmp_path / "store" / "audit_salt", old, "s" * 64)
    for week in ("2026-W40", "2026-W52"):
        run = tmp_path / "runs" / week
        _touch(run / "emails" / "0000" / "ana@contoso.com.eml", TODAY)
        _touch(run / "cards.jsonl", TODAY)
        _touch(run / "audit.jsonl", TODAY)
        _touch(run / "report.json", TODAY)
    _touch(tmp_path / "runs" / "notes" / "keep.txt", old)
    _touch(tmp_path / "outbox" / "old.eml", old)
    _touch(tmp_path / "outbox" / "new.eml", TODAY)


def test_purge_deletes_only_what_is_past_retention(tmp_path):
    _layout(tmp_path)
    counts = purge(_settings(tmp_path), TODAY)
    assert counts.to_dict() == {"snapshots": 2, "run_email_files": 1, "run_cards": 1, "outbox_files": 1}
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == ["2026-12-30-ccc", "audit_salt"]
    old_run, new_run = tmp_path / "runs" / "2026-W40", tmp_path / "runs" / "2026-W52"
    assert not (old_run / "emails").exists() and not (old_run / "cards.jsonl").exists()
    assert (old_run / "audit.jsonl").is_file() and (old_run / "report.json").is_file()  # the audit trail stays
    assert (new_run / "emails").is_dir() and (tmp_path / "runs" / "notes" / "keep.txt").is_file()
    assert [p.name for p in (tmp_path / "outbox").iterdir()] == ["new.eml"]
    assert purge(_settings(tmp_path), TODAY).to_dict() == {"snapshots": 0, "run_email_files": 0, "run_cards": 0, "outbox_files": 0}


def test_the_newest_snapshot_is_kept_however_old(tmp_path):
    _touch(tmp_path / "store" / "only" / "org" / "people.csv", TODAY - dt.timedelta(days=400))
    assert purge(_settings(tmp_path), TODAY).snapshots == 0
    assert (tmp_path / "store" / "only").is_dir()


def test_zero_days_keeps_everything(tmp_path):
    _layout(tmp_path)
    counts = purge(_settings(tmp_path, raw_data_days=0, rendered_email_days=0), TODAY)
    assert counts.to_dict() == {"snapshots": 0, "run_email_files": 0, "run_cards": 0, "outbox_files": 0}


def test_purge_command(tmp_path, monkeypatch):
    _layout(tmp_path)
    env = {"DIGEST_DATA__STORE": str(tmp_path / "store"), "DIGEST_RUNS__FOLDER": str(tmp_path / "runs"),
           "DIGEST_DELIVERY__OUTBOX_FOLDER": str(tmp_path / "outbox")}
    monkeypatch.chdir(tmp_path)  # no stray ./digest.toml
    monkeypatch.delenv("DIGEST_CONFIG", raising=False)
    result = CliRunner().invoke(main, ["purge", "--today", TODAY.isoformat()], env=env)
    assert result.exit_code == 0, result.output
    assert "snapshots 2" in result.output and "outbox files 1" in result.output
