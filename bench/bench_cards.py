"""Benchmark: compute every seller's cards over 28 days for 1,000 and 20,000 generated sellers.

Each size runs in its own subprocess (clean peak RSS): generate the sample company once (kept in
--work for later runs), load it with digest.sources.files.load_data, then time compute_cards for
all sellers. Prints one side-by-side table. Target on a 2-core machine: 20,000 sellers in <= 60 s
and <= 4 GB.

    .venv/bin/python bench/bench_cards.py [--sizes 1000,20000] [--work var/bench]
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
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def run_one(sellers: int, work: Path) -> dict:
    """In the child process: make (or reuse) the sample, load it, compute all cards; return the numbers."""
    from digest.config import Settings
    from digest.metrics import compute_cards
    from digest.sources.files import load_data
    from digest.sources.sample import generate_sample
    from digest.weeks import IsoWeek

    week = IsoWeek.parse(WEEK)
    folder = work / f"sample_{sellers}"
    t0 = time.perf_counter()
    if not (folder / ".complete").is_file():
        generate_sample(folder, sellers, 4, 1, week, overwrite=True)
        (folder / ".complete").write_text("ok\n")
    t1 = time.perf_counter()
    settings = Settings()
    dataset = load_data(folder, settings)
    t2 = time.perf_counter()
    rss_loaded = _rss_mb()
    cards = compute_cards(dataset, week, settings)
    t3 = time.perf_counter()
    return {"sellers": sellers, "cards": len(cards), "generate_s": t1 - t0, "load_s": t2 - t1, "cards_s": t3 - t2,
            "rows": sum(t.num_rows for t in dataset.tables().values()), "rss_loaded_mb": rss_loaded, "peak_rss_mb": _rss_mb(),
            "per_1k_sellers_s": (t3 - t2) / sellers * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,20000", help="comma-separated seller counts")
    parser.add_argument("--work", default="var/bench", help="where samples are generated and kept")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = Path(args.work)
    if args.child:
        print(json.dumps(run_one(args.child, work)))
        return
    work.mkdir(parents=True, exist_ok=True)
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        proc = subprocess.run([sys.executable, __file__, "--work", str(work), "--child", str(size)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"{size} sellers failed:\n{proc.stderr}")
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    rows = [("sellers", "sellers", "{:,}"), ("cards written", "cards", "{:,}"), ("input rows", "rows", "{:,}"),
            ("generate (s, 0 = reused)", "generate_s", "{:.1f}"), ("load_data (s)", "load_s", "{:.1f}"),
            ("compute_cards (s)", "cards_s", "{:.1f}"), ("compute s per 1k sellers", "per_1k_sellers_s", "{:.2f}"),
            ("RSS after load (MB)", "rss_loaded_mb", "{:,.0f}"), ("peak RSS (MB)", "peak_rss_mb", "{:,.0f}")]
    print(f"compute_cards over 28 days ({WEEK}), one subprocess per size")
    print(f"{'':28}" + "".join(f"{r['sellers']:>14,}" for r in results))
    for label, key, fmt in rows:
        print(f"{label:28}" + "".join(f"{fmt.format(r[key]):>14}" for r in results))


if __name__ == "__main__":
    main()
