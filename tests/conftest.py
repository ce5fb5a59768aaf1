"""Shared test fixtures. Tests never touch the network beyond 127.0.0.1."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import project_guard

REPO = Path(__file__).resolve().parents[1]
# The shared design folder lives next to the project; DIGEST_SHARED_DIR points elsewhere (a clone in /tmp).
SHARED = Path(os.environ.get("DIGEST_SHARED_DIR") or REPO.parent / "shared")


@pytest.fixture
def repo_root() -> Path:
    return REPO


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} (the shared design folder next to the project) is not there")
    return SHARED


@pytest.fixture(scope="session", autouse=True)
def project_folders_untouched():
    """Fail the run if any test created, changed or deleted anything under the project's var/ or runs/."""
    before = project_guard.snapshot(REPO)
    yield
    found = project_guard.changes(before, project_guard.snapshot(REPO))
    if found:
        pytest.fail(project_guard.failure_message(REPO, found), pytrace=False)
