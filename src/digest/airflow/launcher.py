"""The embedded Airflow: start, stop and inspect api-server + scheduler + dag-processor, run the weekly DAG.

Airflow runs as child processes of Airflow's own CLI with AIRFLOW_HOME = settings.airflow.home
(SQLite + LocalExecutor, 127.0.0.1 only). Each child leads its own process group, recorded in
<home>/pids/, so `down` stops it and everything it started, and nothing else.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from digest.airflow.home import LOCALHOST, AirflowHome, airflow_command, child_env, home_of, write_home
from digest.airflow.tasks import WEEKLY_DAG_ID
from digest.config import Settings
from digest.errors import InputError, ServiceError
from digest.weeks import IsoWeek

SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer")  # the triggerer runs the cohorts' deferred waits
# Schedulers and workers also serve task logs on every interface; logs are local files here, so
# that server is not started (nothing may listen beyond 127.0.0.1).
SERVICE_ARGS = {"scheduler": ("--skip-serve-logs",), "celery worker": ("--skip-serve-logs",), "triggerer": ("--skip-serve-logs",)}


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    pid: int | None
    running: bool
    log: str


@dataclass(frozen=True)
class EmbeddedSummary:
    """What one embedded run of the weekly DAG did (from runs/<week>/report.json)."""

    week: str
    state: str
    seconds: float
    report: str
    steps: dict[str, dict[str, int]]
    failures: int
    log: str


def prepare(settings: Settings, home: str | os.PathLike | None = None, *, port: int | None = None,
            overrides: Mapping[str, Mapping[str, Any]] | None = None) -> AirflowHome:
    """Write AIRFLOW_HOME, create or upgrade Airflow's database, and size the delivery pool."""
    ah = write_home(settings, home, port=port, overrides=overrides)
    _airflow(settings, ah, ["db", "migrate"], "db-migrate", timeout=600)
    a = settings.airflow
    _airflow(settings, ah, ["pools", "set", a.pool, str(a.pool_slots), "seller-digest deliveries (sender mailboxes)"],
             "pools", timeout=120)
    return ah


def up(settings: Settings, home: str | os.PathLike | None = None, *, port: int | None = None,
       services: Sequence[str] = SERVICES, overrides: Mapping[str, Mapping[str, Any]] | None = None,
       timeout: float = 180) -> AirflowHome:
    """Start the services in the background (already running ones are left alone); wait for the API."""
    ah = prepare(settings, home, port=port, overrides=overrides)
    for name in services:
        if not _alive(_read_pid(ah, name)):
            start_service(settings, ah, name)
    if "api-server" in services:
        wait_for_api(ah, port or settings.airflow.api_port, timeout)
    return ah


def start_service(settings: Settings, ah: AirflowHome, name: str, args: Sequence[str] = ()) -> int:
    """Start one `airflow <name>` in its own process group, logging to <home>/logs/<name>.log."""
    log = (ah.logs / f"{_slug(name)}.log").open("ab")
    cmd = [airflow_command(), *name.split(), *SERVICE_ARGS.get(name, ()), *args]
    proc = subprocess.Popen(cmd, env=child_env(settings, ah), cwd=os.getcwd(), stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    log.close()
    (ah.pids / f"{_slug(name)}.pid").write_text(f"{proc.pid}\n", encoding="utf-8")
    return proc.pid


def down(settings: Settings, home: str | os.PathLike | None = None, *, timeout: float = 30) -> list[str]:
    """Stop every service started from this home (SIGTERM to its process group, SIGKILL after `timeout`)."""
    ah = home_of(settings, home)
    stopped = []
    for pid_file in sorted(ah.pids.glob("*.pid")) if ah.pids.is_dir() else []:
        pid = _read_pid_file(pid_file)
        if pid and _alive(pid):
            stop_group(pid, timeout)
            stopped.append(pid_file.stem)
        pid_file.unlink(missing_ok=True)
    return stopped


def stop_group(pid: int, timeout: float = 30) -> None:
    """SIGTERM the process group led by `pid`, then SIGKILL what is left after `timeout` seconds."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _group_alive(pid):
                return
            time.sleep(0.2)


def status(settings: Settings, home: str | os.PathLike | None = None) -> list[ServiceStatus]:
    """Each service: its pid, whether it runs, its log file."""
    ah = home_of(settings, home)
    out = []
    for name in SERVICES:
        pid = _read_pid(ah, name)
        out.append(ServiceStatus(name, pid, _alive(pid), str(ah.logs / f"{name}.log")))
    return out


def wait_for_api(ah: AirflowHome, port: int, timeout: float = 180) -> None:
    """Wait until the api-server answers its health check, or fail naming the log to read."""
    import requests

    url = f"http://{LOCALHOST}:{port}/api/v2/monitor/health"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        if not _alive(_read_pid(ah, "api-server")):
            break
        time.sleep(1)
    raise ServiceError(f"the Airflow api-server did not answer on {url} within {timeout:.0f} s: "
                       f"read {ah.logs / 'api-server.log'}, fix the cause (a port in use? set airflow.api_port) and retry.")


def run_weekly_embedded(settings: Settings, week: IsoWeek | str, *, sellers: Sequence[str] = (), delivery: str | None = None,
                        dry_run: bool = False, home: str | os.PathLike | None = None, timeout: float = 3600) -> EmbeddedSummary:
    """Run the weekly DAG once for `week` with `airflow dags test` (SQLite, in one process) and summarise it."""
    week = IsoWeek.parse(week) if isinstance(week, str) else week
    ah = prepare(settings, home)
    conf = run_conf(week, sellers, delivery, dry_run)
    started = time.monotonic()
    log = ah.logs / f"dags-test-{week}.log"
    code = _airflow(settings, ah, ["dags", "test", WEEKLY_DAG_ID, "--conf", json.dumps(conf)], log.stem,
                    timeout=timeout, check=False)
    return summarise(settings, week, "success" if code == 0 else "failed", time.monotonic() - started, log)


def run_conf(week: IsoWeek | str, sellers: Sequence[str] = (), delivery: str | None = None, dry_run: bool = False) -> dict:
    """The `conf` of a manual run of the weekly DAG (its params)."""
    return {"week": str(week), "sellers": list(sellers), "delivery": delivery, "dry_run": dry_run}


def summarise(settings: Settings, week: IsoWeek, state: str, seconds: float, log: Path) -> EmbeddedSummary:
    """Read runs/<week>/report.json into a summary (steps and their counts, failures)."""
    from digest.pipeline.steps import run_folder

    report = run_folder(settings, week).report
    doc = json.loads(report.read_text(encoding="utf-8")) if report.is_file() else {"steps": {}}
    steps = {name: dict(step.get("counts", {})) for name, step in doc.get("steps", {}).items()}
    return EmbeddedSummary(str(week), state, round(seconds, 2), str(report), steps, len(doc.get("failures", [])), str(log))


def _airflow(settings: Settings, ah: AirflowHome, args: list[str], log_name: str, *, timeout: float, check: bool = True) -> int:
    log_path = ah.logs / f"{log_name}.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen([airflow_command(), *args], env=child_env(settings, ah), cwd=os.getcwd(), stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_group(proc.pid, 10)
            proc.wait()
            raise ServiceError(f"`airflow {' '.join(args[:2])}` did not finish within {timeout:.0f} s: read {log_path}.") from None
    if check and code != 0:
        raise ServiceError(f"`airflow {' '.join(args[:2])}` failed (exit {code}): read {log_path} for the cause.")
    return code


def _slug(name: str) -> str:
    return name.replace(" ", "-")


def _read_pid(ah: AirflowHome, name: str) -> int | None:
    return _read_pid_file(ah.pids / f"{_slug(name)}.pid")


def _read_pid_file(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a group of zombies only waits for its parent to reap it: it runs nothing
    return any(not _is_zombie(int(p.name)) for p in Path("/proc").iterdir() if p.name.isdigit() and _pgid(int(p.name)) == pgid)


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except (ProcessLookupError, PermissionError):
        return None


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return False


def check_week(week: str | None) -> IsoWeek | None:
    """Parse an optional --week option (a clear error names the option)."""
    try:
        return IsoWeek.parse(week) if week else None
    except InputError as exc:
        raise InputError(f"--week: {exc}") from None
