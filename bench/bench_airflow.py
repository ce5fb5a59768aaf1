"""CLI path vs Airflow (LocalExecutor, SQLite) on the same sample company, in one run.

    .venv/bin/python bench/bench_airflow.py [--sellers 1000] [--weeks 4] [--keep DIR]

Prints wall time and peak memory of: (1) the CLI path (every pipeline step in order, one process);
(2) the Airflow path: api-server + scheduler + dag-processor started by `digest airflow up`,
the weekly DAG triggered through the REST API and run by the LocalExecutor (start-up and the run
itself are timed apart); (3) `airflow dags test` (the embedded default of `make demo`).
Target: the Airflow run takes at most 2x the CLI's wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from digest.airflow import launcher
from digest.airflow.client import AirflowClient
from digest.airflow.home import write_settings_snapshot
from digest.airflow.tasks import WEEKLY_DAG_ID
from digest.config import Settings
from digest.pipeline.outcomes import count_states, seller_outcomes
from digest.weeks import IsoWeek

WEEK = IsoWeek(2026, 45)

# The CLI path: the same pipeline functions the DAG tasks call, in order, in one fresh process.
_CLI_PATH = """
import sys
from digest import pipeline
from digest.config import load_settings
from digest.weeks import IsoWeek
s, w = load_settings(sys.argv[1]), IsoWeek.parse(sys.argv[2])
pipeline.snapshot_inputs(s, w)
pipeline.compute_cards(s, w)
pipeline.plan_batches(s, w, s.airflow.batch_size)
for b in pipeline.batch_ids(s, w):
    pipeline.render_batch(s, w, b)
pipeline.audit_gate(s, w)
for b in pipeline.batch_ids(s, w):
    pipeline.deliver_batch(s, w, b, s.delivery.via, False)
"""


def settings_for(base: Path, data: Path, name: str) -> Settings:
    s = Settings()
    s = s.replace("data", folder=str(data), store=str(base / name / "store"))
    s = s.replace("runs", folder=str(base / name / "runs"))
    s = s.replace("delivery", outbox_folder=str(base / name / "outbox"))
    return s.replace("airflow", home=str(base / name / "airflow"), upload_inbox=str(base / name / "inbox"))


def seller_states(s: Settings) -> dict[str, int]:
    """How the run's sellers ended (outcomes: sent, skipped, blocked, failed, not yet due), as counts.

    Counted from the run folder, not summed from the deliver steps' counts: a retried deliver task
    reports its batch as already sent, and a sum of "sent" would leave it out.
    """
    return count_states(seller_outcomes(s, WEEK))


def child_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def bench_cli(base: Path, data: Path) -> dict:
    s = settings_for(base, data, "cli")
    cfg = base / "cli" / "digest.toml"
    write_settings_snapshot(s, cfg)
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _CLI_PATH, str(cfg), str(WEEK)], capture_output=True, text=True,
                         env={k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")})
    seconds = time.perf_counter() - started
    if out.returncode:
        raise SystemExit(f"CLI path failed:\n{out.stderr[-3000:]}")
    states = seller_states(s)
    return {"seconds": seconds, "sent": states.get("sent", 0), "states": states, "peak_mb_children": child_peak_mb()}


def bench_scheduler(base: Path, data: Path) -> dict:
    s = settings_for(base, data, "scheduler")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    t0 = time.perf_counter()
    try:
        home = launcher.up(s, port=port)
        client = AirflowClient(home, port)
        client.wait_for_dag(WEEKLY_DAG_ID)
        ready = time.perf_counter() - t0
        run_id = client.trigger(WEEKLY_DAG_ID, launcher.run_conf(WEEK))
        outcome = client.wait_for_run(WEEKLY_DAG_ID, run_id, timeout=3600, poll=0.5)
    finally:
        launcher.down(s)
    states = seller_states(s)
    return {"startup_seconds": ready, "run_seconds": outcome.seconds, "total_seconds": time.perf_counter() - t0,
            "state": outcome.state, "tasks": outcome.tasks, "sent": states.get("sent", 0), "states": states}


def bench_dags_test(base: Path, data: Path) -> dict:
    s = settings_for(base, data, "dagstest")
    started = time.perf_counter()
    summary = launcher.run_weekly_embedded(s, WEEK)
    states = seller_states(s)
    return {"seconds": time.perf_counter() - started, "state": summary.state,
            "sent": states.get("sent", 0), "states": states, "peak_mb_children": child_peak_mb()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sellers", type=int, default=1000)
    parser.add_argument("--weeks", type=int, default=4)
    parser.add_argument("--keep", type=Path, default=None, help="Work in this folder and keep it (default: a temp folder).")
    args = parser.parse_args()
    from digest.sample import generate_sample

    with tempfile.TemporaryDirectory(prefix="bench-airflow-") as tmp:
        base = (args.keep or Path(tmp)).resolve()
        data = base / "data"
        t = time.perf_counter()
        if not (data / "org").is_dir():
            generate_sample(data, args.sellers, args.weeks, 1, WEEK)
        print(f"sample: {args.sellers} sellers, {args.weeks} weeks ending {WEEK} in {time.perf_counter() - t:.1f} s")
        cli = bench_cli(base, data)
        print(f"CLI path:            {cli['seconds']:7.1f} s   {cli['states']}   peak RSS (children) {cli['peak_mb_children']:.0f} MB")
        af = bench_scheduler(base, data)
        print(f"Airflow LocalExecutor: start-up {af['startup_seconds']:.1f} s, run {af['run_seconds']:.1f} s "
              f"(total {af['total_seconds']:.1f} s)   {af['state']}   {af['states']}   tasks {af['tasks']}")
        dt_ = bench_dags_test(base, data)
        print(f"airflow dags test:   {dt_['seconds']:7.1f} s   {dt_['state']}   {dt_['states']}")
        ratio = af["run_seconds"] / cli["seconds"]
        print(f"ratio Airflow run / CLI = {ratio:.2f}  (target <= 2.00: {'met' if ratio <= 2 else 'NOT met'}); "
              f"with start-up {af['total_seconds'] / cli['seconds']:.2f}")
        print(json.dumps({"sellers": args.sellers, "cli": cli, "airflow": af, "dags_test": dt_, "ratio_run": ratio}, default=str))


if __name__ == "__main__":
    main()
