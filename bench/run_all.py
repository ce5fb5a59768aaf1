"""Run every benchmark under bench/ in turn (`make bench`); each prints its own numbers.

    .venv/bin/python bench/run_all.py [name ...]     e.g. run_all.py cards render

Benchmarks are not tests: they measure, on this machine, what docs/*.md and the README report.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(names: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if names:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in names]
        if not scripts:
            print(f"no benchmark named {', '.join(names)}; known: "
                  + ", ".join(s.stem.removeprefix('bench_') for s in sorted(HERE.glob('bench_*.py'))))
            return 2
    failed = []
    for script in scripts:
        print(f"\n=== {script.name} ===", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, str(script)])
        print(f"=== {script.name}: exit {code}, {time.monotonic() - started:.0f} s ===", flush=True)
        if code:
            failed.append(script.name)
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
