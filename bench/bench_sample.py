"""Benchmark the sample generator: wall time, sellers/s, rows/s, output size and peak RSS per size.

    .venv/bin/python bench/bench_sample.py [--sizes 1000,20000] [--weeks 4] [--chunk-sellers 1000]

Each size runs in its own subprocess (so each peak RSS is that run's own) and writes into a
temporary folder that is deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

END_WEEK = "2026-W47"


def run_one(sellers: int, weeks: int, chunk: int, out: Path) -> dict:
    """Generate one sample in this process and measure it."""
    from digest.sample import generate_sample
    from digest.weeks import IsoWeek

    started = time.perf_counter()
    summary = generate_sample(out, sellers, weeks, seed=1, end_week=IsoWeek.parse(END_WEEK), chunk_sellers=chunk)
    wall = time.perf_counter() - started
    return {
        "sellers": sellers, "weeks": weeks, "wall_s": wall, "rows": summary.total_rows, "bytes": summary.total_bytes,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # Linux reports KiB
        "mails": summary.rows("mails"), "mail_recipients": summary.rows("mail_recipients"),
        "meetings": summary.rows("meetings"), "meeting_attendees": summary.rows("meeting_attendees"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,20000", help="comma-separated seller counts")
    parser.add_argument("--weeks", type=int, default=4)
    parser.add_argument("--chunk-sellers", type=int, default=1000)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: run one size, print JSON
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.weeks, args.chunk_sellers, Path(args.out))))
        return

    results = []
    for sellers in (int(s) for s in args.sizes.split(",")):
        tmp = Path(tempfile.mkdtemp(prefix="bench-sample-"))
        try:
            cmd = [sys.executable, __file__, "--one", str(sellers), "--weeks", str(args.weeks),
                   "--chunk-sellers", str(args.chunk_sellers), "--out", str(tmp / "data")]
            done = subprocess.run(cmd, check=True, capture_output=True, text=True)
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        r = results[-1]
        print(f"done: {sellers:,} sellers in {r['wall_s']:.1f} s", file=sys.stderr)

    print(f"digest sample benchmark: {args.weeks} weeks ending {END_WEEK}, chunk {args.chunk_sellers} sellers, Python {sys.version.split()[0]}")
    lines = [
        ("sellers", lambda r: f"{r['sellers']:,}"),
        ("wall time (s)", lambda r: f"{r['wall_s']:.1f}"),
        ("sellers/s", lambda r: f"{r['sellers'] / r['wall_s']:,.0f}"),
        ("rows", lambda r: f"{r['rows']:,}"),
        ("rows/s", lambda r: f"{r['rows'] / r['wall_s']:,.0f}"),
        ("mails / recipients", lambda r: f"{r['mails']:,} / {r['mail_recipients']:,}"),
        ("meetings / attendees", lambda r: f"{r['meetings']:,} / {r['meeting_attendees']:,}"),
        ("output size (MB)", lambda r: f"{r['bytes'] / 1e6:,.1f}"),
        ("peak RSS (MB)", lambda r: f"{r['peak_rss_mb']:,.0f}"),
    ]
    width = max(len(name) for name, _ in lines)
    for name, cell in lines:
        print(f"{name:<{width}}  " + "  ".join(f"{cell(r):>24}" for r in results))


if __name__ == "__main__":
    main()
