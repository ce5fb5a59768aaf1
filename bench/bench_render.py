"""Render throughput on one core: emails per second (4 charts each) and average .eml size.

Prints its numbers; target >= 10 emails/s per core and < 400 KB per email including images.
Usage: .venv/bin/python bench/bench_render.py [--emails 60]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from digest.cards import AccountTime, TimeWithCustomers  # noqa: E402
from digest.config import RenderSettings  # noqa: E402
from digest.delivery.outbox import write_eml  # noqa: E402
from digest.render import Renderer  # noqa: E402
from render_cards import full_cards  # noqa: E402


def sellers(n: int):
    """Different sellers (names and hours vary) so nothing is cached between emails."""
    for i in range(n):
        c = full_cards(f"seller{i:05d}@contoso.com", second=f"Account {i} & Co")
        accounts = tuple(dataclasses.replace(a, hours=a.hours + (i % 7) * 0.25) for a in c.time_with_customers.accounts)
        yield dataclasses.replace(c, time_with_customers=TimeWithCustomers(accounts + (
            AccountTime(f"X{i}", f"Extra {i}", 0.5 + i % 3, 5.0, 10_000_000 * (i % 5 + 1), 5.0, None),), 1.0 + i % 4))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--emails", type=int, default=60)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the target says
    renderer = Renderer(RenderSettings())
    warm = next(sellers(1))
    renderer.render(warm, "2026-11-23")  # first figure creation and font cache are start-up costs
    cards = list(sellers(args.emails))
    start = time.perf_counter()
    emails = [renderer.render(c, "2026-11-23") for c in cards]
    render_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        sizes = [write_eml(e, tmp).stat().st_size for e in emails]
        write_s = time.perf_counter() - start
    html = [len(e.html.encode()) for e in emails]
    images = [sum(len(i.data) for i in e.images) for e in emails]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"emails rendered      {len(emails)} (4 charts each: {sum(len(e.images) for e in emails)} images)")
    print(f"render throughput    {len(emails) / render_s:.1f} emails/s on one core ({1000 * render_s / len(emails):.0f} ms each)")
    print(f"with .eml writing    {len(emails) / (render_s + write_s):.1f} emails/s")
    print(f"average .eml size    {sum(sizes) / len(sizes) / 1024:.0f} KB (max {max(sizes) / 1024:.0f} KB; target < 400 KB)")
    print(f"average HTML size    {sum(html) / len(html) / 1024:.1f} KB (max {max(html) / 1024:.1f} KB; limit 95 KB)")
    print(f"average images       {sum(images) / len(images) / 1024:.0f} KB per email")
    print(f"peak memory (RSS)    {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
