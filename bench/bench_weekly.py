"""Benchmark: the whole weekly run (`digest run --delivery outbox`) on N generated sellers.

Generates the sample company once (kept under --work, with its loader cache, so later runs start
from a cached snapshot as a weekly run on an already-checked upload does), then runs
`digest run --week 2026-W47 --delivery outbox --at <after every cohort is due>` in a child
process on a fresh run folder, store and outbox. Prints the total wall time, each step's seconds
from runs/<week>/report.json (summed over the cohorts), emails per second end to end and the
child's peak RSS (ru_maxrss from wait4: the run process and the render workers it starts).

Target (issue #15) on a 2-core machine: 20,000 sellers in <= 15 minutes and <= 4 GB peak RSS.

    .venv/bin/python bench/bench_weekly.py [--sellers 2000] [--weeks 5] [--work var/bench] [--sample] [--keep]

The data folder is treated as real data (emails sealed at rest, no previews), as in production;
--sample marks it as the demo's sample instead (readable .eml files and HTML previews).
--keep leaves the run folder and outbox under --work for a look afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

WEEK = "2026-W47"
AT = "2026-11-25T00:00:00Z"  # Wednesday after the week: every time zone's cohort is due
TARGET_SECONDS, TARGET_GB, TARGET_SELLERS = 15 * 60, 4.0, 20_000
SRC = Path(__file__).resolve().parents[1] / "src"
STEPS = ("snapshot", "coverage", "cohorts", "cards", "render", "audit_gate", "deliver")


def ensure_sample(folder: Path, sellers: int, weeks: int, mark_sample: bool) -> float:
    """Generate the sample once (in this process) and warm the loader cache (in a child); returns seconds spent."""
    began = time.perf_counter()
    if not (folder / ".complete").is_file():
        from digest.sample import generate_sample
        from digest.weeks import IsoWeek

        generate_sample(folder, sellers, weeks, 1, IsoWeek.parse(WEEK), overwrite=True)
        (folder / ".complete").write_text("ok\n")
    mark = folder / ".digest-sample.json"  # digest.sealed.SAMPLE_MARK
    if mark_sample:
        mark.write_text(json.dumps({"bench": True}) + "\n")
    else:
        mark.unlink(missing_ok=True)
    if not (folder / ".digest-cache").is_dir():  # validate once, so the timed run starts from a cached snapshot
        code = "import sys; from digest.config import Settings; from digest.sources.files import load_data; load_data(sys.argv[1], Settings())"
        subprocess.run([sys.executable, "-c", code, str(folder)], check=True, env=_env({}))
    return time.perf_counter() - began


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])])
    return {**env, **extra}


def run_child(folder: Path, root: Path) -> dict:
    """`digest run` in a child process on a fresh run folder; wall time, exit status and ru_maxrss from wait4."""
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    # a fixed audit salt and link secret: two runs' audit.jsonl compare byte for byte (same emails, same records)
    env = _env({"DIGEST_DATA__FOLDER": str(folder.resolve()), "DIGEST_DATA__STORE": str(root / "store"),
                "DIGEST_RUNS__FOLDER": str(root / "runs"), "DIGEST_DELIVERY__OUTBOX_FOLDER": str(root / "outbox"),
                "DIGEST_PRIVACY__AUDIT_SALT": "bench-salt-" + "0" * 40, "DIGEST_ADMIN__UNSUBSCRIBE_SECRET": "bench-secret-" + "0" * 40})  # cwd has no digest.toml: defaults
    cmd = [sys.executable, "-m", "digest", "run", "--week", WEEK, "--delivery", "outbox", "--at", AT]
    with (root / "run.log").open("w") as log:
        began = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=root, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - began
    code = os.waitstatus_to_exitcode(status)
    report_path = root / "runs" / WEEK / "report.json"
    if code not in (0, 3) or not report_path.is_file():
        sys.exit(f"digest run failed (exit {code}); its output is in {root / 'run.log'}:\n" + (root / "run.log").read_text()[-3000:])
    report = json.loads(report_path.read_text())
    eml = [p for p in (root / "outbox" / WEEK).glob("*.eml")]
    # ru_maxrss of wait4 is the largest of the child and its own waited-for children (render workers), not their sum
    return {"wall_s": wall, "exit": code, "peak_mb": usage.ru_maxrss / 1024, "report": report,
            "outbox": len(eml), "outbox_mb": sum(p.stat().st_size for p in eml) / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sellers", type=int, default=2000, help="sellers in the generated company")
    parser.add_argument("--weeks", type=int, default=5, help="weeks of data in the sample")
    parser.add_argument("--work", default="var/bench", help="where samples are generated and kept")
    parser.add_argument("--sample", action="store_true", help="mark the folder as the demo's sample (readable .eml and previews)")
    parser.add_argument("--keep", action="store_true", help="keep the run folder and outbox under --work")
    parser.add_argument("--src", help="run digest from this source tree instead (e.g. an older checkout's src/, to compare)")
    args = parser.parse_args()
    global SRC
    SRC = Path(args.src).resolve() if args.src else SRC
    sys.path.insert(0, str(SRC))
    work = Path(args.work).resolve()
    folder = work / f"weekly_{args.sellers}x{args.weeks}"
    prepared = ensure_sample(folder, args.sellers, args.weeks, args.sample)
    root = work / f"weekly_run_{args.sellers}_{os.getpid()}"
    r = run_child(folder, root)
    steps = r["report"]["steps"]
    render = steps.get("render", {}).get("counts", {})
    sent = steps.get("deliver", {}).get("counts", {}).get("sent", 0)
    print(f"weekly run of {WEEK}, {args.sellers:,} sellers x {args.weeks} weeks, outbox delivery, "
          f"{'sample (previews)' if args.sample else 'real data (sealed)'}, {os.cpu_count()} CPUs "
          f"(sample ready in {prepared:.0f} s, not timed)")
    print(f"{'step':28}{'seconds':>10}")
    for name in STEPS:
        if name in steps:
            print(f"{name:28}{steps[name].get('seconds', 0):>10.1f}")
    print(f"{'total wall (child process)':28}{r['wall_s']:>10.1f}   ({r['wall_s'] / 60:.1f} min, exit {r['exit']})")
    print(f"{'emails rendered / sent':28}{render.get('rendered', 0):>10,} / {sent:,}  ({r['outbox_mb']:.0f} MB in the outbox)")
    print(f"{'emails/s end to end':28}{(sent / r['wall_s'] if r['wall_s'] else 0):>10.2f}")
    print(f"{'peak RSS (GB)':28}{r['peak_mb'] / 1024:>10.2f}")
    scale = TARGET_SELLERS / args.sellers
    print(f"target for {TARGET_SELLERS:,} sellers: <= {TARGET_SECONDS // 60} min and <= {TARGET_GB:g} GB; "
          f"linear from this run: {r['wall_s'] * scale / 60:.0f} min (per-email steps scale with sellers; memory does not)")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
