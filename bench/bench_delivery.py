"""Sustained Graph delivery throughput against the fake, and the plan's prediction against reality.

The fake Graph enforces Exchange Online's limit shrunk in time (30 messages per 2 s per mailbox
instead of per 60 s) and 4 requests in flight; the client gets the same window by setting. With 3
sender mailboxes the ceiling is 45 messages/s. Prints: sustained throughput (per mailbox, 30 messages over the
mean time from message k to message k+30) as a share of that ceiling,
duplicates, 429s, the plan's predicted duration vs the measured one, wall time, peak memory.

    .venv/bin/python bench/bench_delivery.py [recipients=900] [window_seconds=2]
Targets: >= 95 % of the limit, 0 duplicates, prediction within 5 %.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from types import SimpleNamespace  # noqa: E402

from delivery_env import CLIENT, FROM, SECRET, SENDERS, TENANT, WEEK, recipients, settings_for, write_run  # noqa: E402
from fakes.authority import start_authority  # noqa: E402
from fakes.graph_server import start_graph  # noqa: E402
from fakes.tls import make_certificate  # noqa: E402

from digest.delivery.send import send_run  # noqa: E402

PER_WINDOW = 30
CALIBRATION_WEEK = "2026-W01"


def calibrate(settings, conn, window: float) -> float:
    """delivery.request_seconds as this sender sees it under load: one full window (30 per mailbox) sent at once.

    The plan's within-window ramp is 30 messages at max_in_flight slots of two requests, so
    request_seconds = ramp time per message x max_in_flight / 2 (what an admin would read off a past run).
    """
    count = PER_WINDOW * len(SENDERS)
    write_run(settings, recipients(count), week=CALIBRATION_WEEK)
    send_run(settings, CALIBRATION_WEEK, via="graph", start=dt.datetime.now(dt.timezone.utc), clock=time.time)
    conn.send("stats")
    sent, _ = conn.recv()
    ramps = []
    for mailbox in SENDERS:
        times = sorted(at for _, at, box in sent if box == mailbox)
        ramps.append((times[-1] - times[0]) / (len(times) - 1))
    time.sleep(window)  # let the calibration sends leave the fake's window
    conn.send("reset")
    conn.recv()
    return sum(ramps) / len(ramps) * settings.delivery.max_in_flight / 2


def sustained_rate(sent: list, window_count: int = PER_WINDOW) -> float:
    """Messages per second in steady state: per mailbox, one window's worth over the mean time from message k to k+30."""
    total = 0.0
    for mailbox in SENDERS:
        times = sorted(at for _, at, box in sent if box == mailbox)
        gaps = [times[i + window_count] - times[i] for i in range(len(times) - window_count)]
        total += window_count / (sum(gaps) / len(gaps))
    return total


def serve_fakes(conn, keys, window: float) -> None:
    """Child process: the fake authority and Graph (their CPU must not compete with the client's GIL)."""
    authority = start_authority(keys, TENANT)
    authority.register(CLIENT, secret=SECRET)
    graph = start_graph(keys, authority, SENDERS, per_window=PER_WINDOW, window=window)
    graph.grant_send_as(FROM, *SENDERS)
    conn.send((authority.url, graph.url))
    while True:
        command = conn.recv()
        if command == "stats":  # CLOCK_MONOTONIC is system-wide on Linux: these times compare with the parent's
            conn.send(([(m["to"], m["at"], m["mailbox"]) for m in graph.sent], [status for _, _, status in graph.requests]))
        elif command == "reset":
            graph.sent.clear()
            graph.requests.clear()
            conn.send("ok")
        else:
            graph.server.stop()
            authority.server.stop()
            conn.send("stopped")
            return


def main(count: int = 900, window: float = 2.0) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-delivery-"))
    keys = make_certificate(tmp / "tls")
    conn, child_conn = multiprocessing.Pipe()
    child = multiprocessing.get_context("fork").Process(target=serve_fakes, args=(child_conn, keys, window), daemon=True)
    child.start()
    try:
        authority_url, graph_url = conn.recv()
        authority = SimpleNamespace(url=authority_url)
        graph = SimpleNamespace(url=graph_url, per_window=PER_WINDOW, window=window)
        settings = settings_for(tmp, keys, authority, graph, senders=SENDERS)
        request_seconds = calibrate(settings, conn, window)
        settings = settings.replace("delivery", request_seconds=round(request_seconds, 4))
        write_run(settings, recipients(count))
        t0 = time.monotonic()
        summary = send_run(settings, WEEK, via="graph", start=dt.datetime.now(dt.timezone.utc), clock=time.time)
        wall = time.monotonic() - t0
        conn.send("stats")
        sent, statuses = conn.recv()
        times = sorted(at for _, at, _ in sent)
        held: dict[str, int] = {}
        for to, _, _ in sent:
            held[to] = held.get(to, 0) + 1
        duplicates = sum(n - 1 for n in held.values() if n > 1)
        ceiling = len(SENDERS) * PER_WINDOW / window
        sustained = sustained_rate(sent)
        measured = times[-1] - t0
        predicted = summary.plan.duration.total_seconds()
        throttled = sum(1 for status in statuses if status == 429)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        print(f"recipients {count}, mailboxes {len(SENDERS)}, limit {PER_WINDOW} per {window:g} s per mailbox "
              f"(ceiling {ceiling:.1f} msg/s), request_seconds calibrated under load: {request_seconds * 1000:.1f} ms")
        print(f"ledger: {summary.counts}; messages held by the fake: {len(times)}; duplicates: {duplicates}; 429 answers: {throttled}")
        print(f"sustained throughput: {sustained:.2f} msg/s = {100 * sustained / ceiling:.1f} % of the limit "
              f"(overall from the start of the run: {len(times) / measured:.2f} msg/s)")
        print(f"plan predicted finish: {predicted:.2f} s; measured last send: {measured:.2f} s; "
              f"error {100 * (measured - predicted) / measured:+.1f} %")
        print(f"wall time {wall:.2f} s; sender CPU {usage.ru_utime + usage.ru_stime:.1f} s; peak RSS {usage.ru_maxrss / 1024:.0f} MB")
        ok = duplicates == 0 and sustained >= 0.95 * ceiling and abs(measured - predicted) <= 0.05 * measured
        print("targets (>= 95 % of limit, 0 duplicates, plan within 5 %):", "MET" if ok else "NOT MET")
    finally:
        conn.send("stop")
        conn.recv()
        child.join(timeout=10)


if __name__ == "__main__":
    main(*(int(sys.argv[1]),) if len(sys.argv) > 1 else (), *(float(sys.argv[2]),) if len(sys.argv) > 2 else ())
