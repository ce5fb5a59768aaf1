"""The package layers of ARCHITECTURE.md hold: import-linter's contracts (pyproject.toml) pass, and catch a break."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

LINT = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    return subprocess.run([str(LINT), "--config", str(root / "pyproject.toml"), "--no-cache"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_layer_contracts_pass(repo_root):
    result = _lint(repo_root)
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_import_against_the_layers_breaks_the_contract(repo_root, tmp_path):
    shutil.copytree(repo_root / "src" / "digest", tmp_path / "src" / "digest", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(repo_root / "pyproject.toml", tmp_path / "pyproject.toml")
    scope = tmp_path / "src" / "digest" / "audit" / "scope.py"
    scope.write_text(scope.read_text(encoding="utf-8") + "\nfrom digest.metrics import engine  # noqa: E402\n", encoding="utf-8")
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert "digest.audit.scope -> digest.metrics.engine" in result.stdout
