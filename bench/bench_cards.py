"""Benchmark: compute every seller's cards (28 days, and the 9-week relationship card) for 1,000 and 20,000 generated sellers.

Each size runs in its own child process: generate the sample company once (kept in --work for
later runs), load it with digest.sources.files.load_data (timed on its own), then time
digest.metrics.compute_cards for all sellers. Prints one side-by-side table. Target on a 2-core
machine: 20,000 sellers in <= 60 s and <= 4 GB (the memory compute_cards adds to the loaded data).

Memory, measured by Linux itself (no sampling):
- RSS after load: the child's VmRSS once load_data returned (the dataset's Arrow tables);
- compute peak RSS: the child's VmHWM during compute_cards (the high-water mark is reset to the
  current RSS right after loading, via /proc/self/clear_refs), and "added by compute" = that
  peak minus RSS after load;
- load peak RSS: the child's VmHWM when load_data returned (the first load validates every file);
- process peak RSS: the larger of that and the child's ru_maxrss from wait4 (which only sees the
  time after the reset).

    .venv/bin/python bench/bench_cards.py [--sizes 1000,20000] [--weeks 9] [--work var/bench] [--cold]

--weeks: weeks of generated data (default 9, the relationship window; 4 = only what the 28-day
cards read, the data the benchmark used before the relationship card).

--cold (or --cold-load) removes the loader's cache (<sample>/.digest-cache) first, so load_data validates
every file again (what the first run on new data costs).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WEEK = "2026-W47"
TARGET_SECONDS, TARGET_GB = 60, 4.0


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS (Linux >= 4.0)
        return True
    except OSError:
        return False


def run_one(sellers: int, work: Path, cold: bool, weeks: int = 9) -> dict:
    """In the child process: make (or reuse) the sample, load it, compute all cards; return the numbers."""
    from digest.config import Settings
    from digest.metrics import compute_cards
    from digest.sources.files import CACHE_DIR, load_data
    from digest.sample import generate_sample
    from digest.weeks import IsoWeek

    week = IsoWeek.parse(WEEK)
    folder = work / (f"sample_{sellers}" if weeks == 4 else f"sample_{sellers}_w{weeks}")
    t0 = time.perf_counter()
    if not (folder / ".complete").is_file():
        generate_sample(folder, sellers, weeks, 1, week, overwrite=True)
        (folder / ".complete").write_text("ok\n")
    cache = folder / CACHE_DIR
    if cold:
        shutil.rmtree(cache, ignore_errors=True)
    cached_before = set(cache.glob("*")) if cache.is_dir() else set()
    t1 = time.perf_counter()
    settings = Settings()
    dataset = load_data(folder, settings)
    t2 = time.perf_counter()
    validated = bool(set(cache.glob("*")) - cached_before) if cache.is_dir() else True
    rss_loaded = _status_mb("VmRSS")
    load_peak = _status_mb("VmHWM")  # read before the reset below, which also lowers what wait4 reports
    reset = _reset_peak()
    cards = compute_cards(dataset, week, settings)
    t3 = time.perf_counter()
    peak = _status_mb("VmHWM") if reset else float("nan")
    return {"sellers": sellers, "weeks": weeks, "cards": len(cards), "rows": sum(t.num_rows for t in dataset.tables().values()),
            "generate_s": t1 - t0, "load_s": t2 - t1, "load_kind": "validated" if validated else "cached",
            "cards_s": t3 - t2, "rss_loaded_mb": rss_loaded, "compute_peak_mb": peak, "added_mb": peak - rss_loaded,
            "load_peak_mb": load_peak}


def run_child(size: int, work: Path, cold: bool, weeks: int = 9) -> dict:
    """Run one size in a child process; its ru_maxrss comes from wait4 (this child only)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        cmd = [sys.executable, __file__, "--work", str(work), "--child", str(size), "--weeks", str(weeks)] + ["--cold-load"] * cold
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            sys.exit(f"{size} sellers failed (exit {proc.returncode}):\n{err.read()}")
        result = json.loads(out.read().strip().splitlines()[-1])
    # Linux: kilobytes. The child reset its high-water mark after loading, so wait4 sees only the peak
    # from then on: the load's own peak, read before the reset, is the other candidate.
    result["process_peak_mb"] = max(usage.ru_maxrss / 1024, result["load_peak_mb"])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,20000", help="comma-separated seller counts")
    parser.add_argument("--work", default="var/bench", help="where samples are generated and kept")
    parser.add_argument("--cold", "--cold-load", dest="cold_load", action="store_true",
                        help="remove the loader's cache first (validate every file: a new week's first run)")
    parser.add_argument("--weeks", type=int, default=9, help="weeks of generated data (9 = the relationship window)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = Path(args.work)
    if args.child:
        print(json.dumps(run_one(args.child, work, args.cold_load, args.weeks)))
        return
    work.mkdir(parents=True, exist_ok=True)
    results = [run_child(int(s), work, args.cold_load, args.weeks) for s in args.sizes.split(",")]
    gb = "{:.2f}"
    rows = [("sellers", "sellers", "{:,}"), ("cards written", "cards", "{:,}"), ("input rows", "rows", "{:,}"),
            ("generate (s, 0 = reused)", "generate_s", "{:.1f}"), ("load_data (s)", "load_s", "{:.1f}"),
            ("  load was", "load_kind", "{}"), ("compute_cards (s)", "cards_s", "{:.1f}"),
            ("load peak RSS (GB)", "load_peak_mb", gb), ("RSS after load (GB)", "rss_loaded_mb", gb), ("compute peak RSS (GB)", "compute_peak_mb", gb),
            ("  added by compute (GB)", "added_mb", gb), ("process peak RSS (GB)", "process_peak_mb", gb)]
    print(f"compute_cards ({WEEK}, {args.weeks} weeks of data), one child process per size, {os.cpu_count()} CPUs")
    print(f"{'':28}" + "".join(f"{r['sellers']:>14,}" for r in results))
    for label, key, fmt in rows:
        values = [r[key] / 1024 if key.endswith("_mb") else r[key] for r in results]
        print(f"{label:28}" + "".join(f"{fmt.format(v):>14}" for v in values))
    largest = max(results, key=lambda r: r["sellers"])
    ok = largest["cards_s"] <= TARGET_SECONDS and largest["added_mb"] / 1024 <= TARGET_GB
    print(f"target for {largest['sellers']:,} sellers: <= {TARGET_SECONDS} s and <= {TARGET_GB:g} GB added by compute: "
          f"{'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
