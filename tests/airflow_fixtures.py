"""One AIRFLOW_HOME for the in-process Airflow tests (DagBag, dag.test(), the plugin app).

Airflow reads its configuration once, at import; so the home is made (and its SQLite database
migrated by `airflow db migrate`, as the launcher does) before anything imports airflow, and every
test using it sets the same environment. Settings point at a tmp folder (data, runs, outbox...).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from digest.config import Settings


@dataclass(frozen=True)
class AirflowTestHome:
    root: Path
    settings: Settings
    env: dict[str, str]


def make_settings(base: Path) -> Settings:
    s = Settings()
    s = s.replace("data", folder=str(base / "data"), store=str(base / "store"))
    s = s.replace("runs", folder=str(base / "runs"))
    s = s.replace("delivery", outbox_folder=str(base / "outbox"))
    # retries after 1 s: a transient failure in a test run must not wait out the minutes of production backoff
    return s.replace("airflow", home=str(base / "airflow"), upload_inbox=str(base / "inbox"), batch_size=3, retries=1,
                     retry_delay_seconds=1, max_retry_delay_seconds=2)


_HOME: list[AirflowTestHome] = []  # one per session: each test module that imports the fixture shares it


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory) -> AirflowTestHome:
    if not _HOME:
        _HOME.append(_make_home(tmp_path_factory))
    return _HOME[0]


def _make_home(tmp_path_factory) -> AirflowTestHome:
    import importlib.util
    import sys

    if importlib.util.find_spec("airflow") is None:
        pytest.skip("Apache Airflow is not installed (make install)")
    # importing airflow before its home is set would configure it from ~/airflow for the session
    assert "airflow.configuration" not in sys.modules, "airflow was imported before the airflow_home fixture"
    from digest.airflow import launcher
    from digest.airflow.home import child_env

    base = tmp_path_factory.mktemp("af")
    settings = make_settings(base)
    ah = launcher.prepare(settings, port=_free_port())
    env = {k: v for k, v in child_env(settings, ah).items() if k.startswith(("AIRFLOW", "DIGEST"))}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        import airflow  # noqa: F401 - configured now, from this home, for the whole session
        import airflow.settings

        if airflow.settings.Session is None:  # pragma: no cover - depends on what imported airflow first
            airflow.settings.initialize()
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    return AirflowTestHome(ah.root, settings, env)


@pytest.fixture
def airflow_env(airflow_home, monkeypatch) -> AirflowTestHome:
    """The environment of the session's Airflow home, for the duration of one test."""
    for k, v in airflow_home.env.items():
        monkeypatch.setenv(k, v)
    return airflow_home


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
