"""Benchmark: the CRM data page (`digest coverage`) on a generated sample company, 2,000 and 20,000 sellers.

Each size runs in its own child process: generate the sample once (kept in --work), load it with
load_data (timed on its own), then time digest.pipeline.write_coverage (upload coverage, external
collaborators and hours per account for every employee over 28 days, the CSVs). Memory: the
child's VmRSS after loading and its peak (ru_maxrss) over the whole run.

    .venv/bin/python bench/bench_coverage.py [--sizes 2000,20000] [--work /tmp/bench-coverage]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

WEEK = "2026-W47"


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def child(sellers: int, work: Path) -> dict:
    """In the child: make (or reuse) the sample, load it, compute and write the coverage; return the numbers."""
    from digest.config import Settings
    from digest.pipeline.coverage import write_coverage
    from digest.sample import generate_sample
    from digest.sources.files import load_data
    from digest.weeks import IsoWeek

    week = IsoWeek.parse(WEEK)
    folder = work / f"sample_{sellers}"
    t0 = time.perf_counter()
    if not (folder / "org" / "people.csv").is_file():
        generate_sample(folder, sellers, 4, 1, week, overwrite=True)
    t1 = time.perf_counter()
    settings = Settings().replace("data", folder=str(folder), store=str(work / "store")).replace(
        "airflow", upload_inbox=str(work / "inbox"))
    dataset = load_data(folder, settings)
    t2 = time.perf_counter()
    rss_loaded = _rss_mb()
    doc = write_coverage(settings, week, work / f"out_{sellers}", dataset, folder)
    t3 = time.perf_counter()
    ext = doc["external_collaborators"]
    return {"sellers": sellers, "employees": doc["counts"]["employees"], "accounts": doc["counts"]["accounts"],
            "collaborators": ext["all"], "matched_pct": ext["matched_pct"], "generate_s": round(t1 - t0, 1),
            "load_s": round(t2 - t1, 1), "coverage_s": round(t3 - t2, 1), "rss_loaded_mb": round(rss_loaded),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000,20000")
    parser.add_argument("--work", default="/tmp/bench-coverage")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if args.child is not None:
        print(json.dumps(child(args.child, work)))
        return
    for size in (int(s) for s in args.sizes.split(",")):
        out = subprocess.run([sys.executable, __file__, "--work", str(work), "--child", str(size)], capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{size:,} sellers: failed\n{out.stderr[-3000:]}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{r['sellers']:,} sellers ({r['employees']:,} employees, {r['accounts']:,} accounts, {r['collaborators']:,} "
              f"external collaborators, {r['matched_pct']} % matched): coverage {r['coverage_s']} s "
              f"(load {r['load_s']} s, generate {r['generate_s']} s), RSS after load {r['rss_loaded_mb']:,} MB, "
              f"peak RSS {r['peak_rss_mb']:,} MB", flush=True)


if __name__ == "__main__":
    main()
