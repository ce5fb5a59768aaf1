"""Trigger the weekly DAG on a running Airflow through its REST API and wait for the run to end.

Used where a real scheduler runs the DAG (the bench, the distributed test, scripts): log in as the
embedded admin, wait for the dag-processor to register the DAG, unpause it, trigger, poll.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any, Mapping

import requests

from digest.airflow.home import ADMIN_USER, LOCALHOST, AirflowHome
from digest.errors import ServiceError

FINISHED = {"success", "failed"}


@dataclass(frozen=True)
class RunOutcome:
    dag_id: str
    run_id: str
    state: str
    seconds: float  # from trigger to the end of the run
    tasks: dict[str, int]  # task instance states and how many


class AirflowClient:
    """A small client of Airflow's /api/v2 for one api-server on 127.0.0.1, logged in as the embedded admin."""

    def __init__(self, home: AirflowHome, port: int, timeout: float = 30):
        self.base = f"http://{LOCALHOST}:{port}"
        self.timeout = timeout
        answer = requests.post(f"{self.base}/auth/token", json={"username": ADMIN_USER, "password": home.admin_password()},
                               timeout=timeout)
        if answer.status_code != 201:
            raise ServiceError(f"Airflow at {self.base} refused the admin login ({answer.status_code}): "
                               f"is {home.passwords} the passwords file of that api-server?")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.session.request(method, f"{self.base}/api/v2{path}", timeout=self.timeout, **kwargs)
        if answer.status_code >= 400:
            raise ServiceError(f"Airflow API {method} {path} answered {answer.status_code}: {answer.text[:500]}")
        return answer.json() if answer.content else None

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> None:
        """Wait until the dag-processor has parsed `dag_id` (and it has no import error)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = self.session.get(f"{self.base}/api/v2/dags/{dag_id}", timeout=self.timeout)
            if answer.status_code == 200:
                return
            time.sleep(1)
        errors = self.call("GET", "/importErrors").get("import_errors", [])
        raise ServiceError(f"DAG {dag_id} was not registered within {timeout:.0f} s; import errors: "
                           f"{[e.get('stack_trace', '')[-300:] for e in errors] or 'none'}. Read the dag-processor log.")

    def trigger(self, dag_id: str, conf: Mapping[str, Any]) -> str:
        """Unpause `dag_id` and start a manual run with `conf`; returns the run id."""
        self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
        run_id = f"manual__digest__{uuid.uuid4().hex[:12]}"
        self.call("POST", f"/dags/{dag_id}/dagRuns", json={"dag_run_id": run_id, "logical_date": None, "conf": dict(conf)})
        return run_id

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 1800, poll: float = 1.0) -> RunOutcome:
        """Poll the run until it succeeds or fails (a ServiceError after `timeout`)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            state = self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"]
            if state in FINISHED:
                return RunOutcome(dag_id, run_id, state, round(time.monotonic() - started, 2), self.task_states(dag_id, run_id))
            time.sleep(poll)
        raise ServiceError(f"run {run_id} of {dag_id} did not finish within {timeout:.0f} s: "
                           f"task states {self.task_states(dag_id, run_id)}; read the scheduler and worker logs.")

    def _task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000}).get("task_instances", [])

    def retried(self, dag_id: str, run_id: str) -> dict[str, int]:
        """Task instances that needed more than one try, as "task_id[map_index]" -> tries (for reports and tests)."""
        out = {}
        for ti in self._task_instances(dag_id, run_id):
            if int(ti.get("try_number") or 1) > 1:
                index = ti.get("map_index", -1)
                out[f"{ti['task_id']}[{index}]" if index not in (-1, None) else ti["task_id"]] = int(ti["try_number"])
        return out

    def task_states(self, dag_id: str, run_id: str) -> dict[str, int]:
        states: dict[str, int] = {}
        for ti in self._task_instances(dag_id, run_id):
            states[str(ti["state"])] = states.get(str(ti["state"]), 0) + 1
        return states
