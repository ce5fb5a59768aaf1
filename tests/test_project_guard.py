"""The guard of the project's var/ and runs/: a test that touches them fails the run; folders already there are fine."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import project_guard

HERE = Path(__file__).resolve().parent


def _write(path: Path, text: str = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_changes_names_created_modified_and_deleted_paths(tmp_path):
    _write(tmp_path / "runs" / "2026-W01" / "report.json", "{}")
    kept = _write(tmp_path / "var" / "outbox" / "2026-W01" / "a.eml")
    gone = _write(tmp_path / "var" / "outbox" / "2026-W01" / "b.eml")
    _write(tmp_path / "elsewhere" / "free.txt")
    before = project_guard.snapshot(tmp_path)
    assert project_guard.changes(before, project_guard.snapshot(tmp_path)) == []
    kept.write_text("longer", encoding="utf-8")
    gone.unlink()
    _write(tmp_path / "elsewhere" / "new.txt")  # not guarded
    found = project_guard.changes(before, project_guard.snapshot(tmp_path))
    assert found == ["modified var/outbox/2026-W01", "modified var/outbox/2026-W01/a.eml", "deleted var/outbox/2026-W01/b.eml"]


def test_a_guarded_folder_that_appears_or_goes_is_a_change(tmp_path):
    before = project_guard.snapshot(tmp_path)
    assert before == {}
    _write(tmp_path / "runs" / "x.json")
    assert project_guard.changes(before, project_guard.snapshot(tmp_path)) == ["created runs", "created runs/x.json"]
    shutil.rmtree(tmp_path / "runs")
    _write(tmp_path / "var" / "data" / "org" / "people.csv")
    before = project_guard.snapshot(tmp_path)
    shutil.rmtree(tmp_path / "var")
    assert project_guard.changes(before, project_guard.snapshot(tmp_path)) == [
        "deleted var", "deleted var/data", "deleted var/data/org", "deleted var/data/org/people.csv"]


def test_a_changed_mtime_alone_is_a_change(tmp_path):
    f = _write(tmp_path / "runs" / "2026-W01" / "cards.jsonl")
    before = project_guard.snapshot(tmp_path)
    os.utime(f, ns=(1_000_000_000, 1_000_000_000))
    assert project_guard.changes(before, project_guard.snapshot(tmp_path)) == ["modified runs/2026-W01/cards.jsonl"]


def _project_copy(tmp_path: Path, test_source: str) -> Path:
    """A tiny project: the real conftest and guard, one generated test file, folders that existed before the run."""
    root = tmp_path / "project"
    (root / "tests").mkdir(parents=True)
    (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")  # this root, not the real project's settings
    for name in ("conftest.py", "project_guard.py"):
        shutil.copy(HERE / name, root / "tests" / name)
    (root / "tests" / "test_generated.py").write_text(test_source, encoding="utf-8")
    _write(root / "runs" / "2026-W01" / "report.json", "{}")  # a demo that ran before the tests
    _write(root / "var" / "outbox" / "2026-W01" / "ana@contoso.com.eml")
    return root


def _pytest(root: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DIGEST_"))}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # only pytest itself: faster, and no plugin touches the folders
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=60)


def test_a_test_that_writes_into_runs_or_purges_the_outbox_fails_the_run(tmp_path):
    root = _project_copy(tmp_path, '''
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def test_writes_a_run_folder():
    (ROOT / "runs" / "2026-W02").mkdir()
    (ROOT / "runs" / "2026-W02" / "report.json").write_text("{}")

def test_purges_the_outbox():
    (ROOT / "var" / "outbox" / "2026-W01" / "ana@contoso.com.eml").unlink()
''')
    done = _pytest(root)
    assert done.returncode != 0, done.stdout
    assert "2 passed, 1 error" in done.stdout, done.stdout
    for line in ("created runs/2026-W02/report.json", "deleted var/outbox/2026-W01/ana@contoso.com.eml", "must use tmp_path"):
        assert line in done.stdout, done.stdout


def test_folders_that_exist_before_the_run_are_tolerated(tmp_path):
    root = _project_copy(tmp_path, '''
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def test_reads_the_project_and_writes_tmp_path(tmp_path):
    assert (ROOT / "runs" / "2026-W01" / "report.json").read_text() == "{}"
    (tmp_path / "runs").mkdir()
''')
    done = _pytest(root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
