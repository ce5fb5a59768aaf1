"""Rendering a batch on several cores gives the very same messages, in the same order, as on one."""

from __future__ import annotations

import pytest

from digest.config import RenderSettings
from digest.delivery.outbox import build_message
from digest.pipeline.render_workers import MIN_PARALLEL, Messages, close_pool, render_cards
from render_cards import full_cards


def test_workers_render_the_same_bytes_in_the_same_order():
    cards = [full_cards(f"seller{i:03d}@contoso.com", second=f"Account {i}") for i in range(MIN_PARALLEL + 3)]
    settings = RenderSettings()
    try:
        one = [build_message(e, "insights@contoso.com").as_bytes() for e in render_cards(cards, settings, "2026-11-22", workers=1)]
        two = [build_message(e, "insights@contoso.com").as_bytes() for e in render_cards(cards, settings, "2026-11-22", workers=2)]
    finally:
        close_pool()
    assert len(one) == len(cards) and one == two


def test_workers_build_the_messages_with_each_sellers_headers_as_this_process_would():
    cards = [full_cards(f"seller{i:03d}@contoso.com", second=f"Account {i}") for i in range(MIN_PARALLEL + 3)]
    headers = {c.seller: {"List-Unsubscribe-Post": "List-Unsubscribe=One-Click", "X-Test": c.seller} for c in cards}
    settings = RenderSettings()
    try:
        mine = [build_message(e, "insights@contoso.com", headers[e.recipient]).as_bytes()
                for e in render_cards(cards, settings, "2026-11-22", workers=1)]
        for workers in (1, 2):
            built = list(render_cards(cards, settings, "2026-11-22", workers=workers,
                                      messages=Messages("insights@contoso.com", headers, keep_email=workers == 1)))
            assert [b.raw for b in built] == mine and [b.recipient for b in built] == [c.seller for c in cards]
            assert all((b.email is not None) == (workers == 1) for b in built)  # the email itself only when asked for
    finally:
        close_pool()


def test_a_daemonic_process_renders_in_itself(monkeypatch):
    """Celery's prefork workers are daemonic and may not start children: the batch renders in the task's process."""
    import multiprocessing

    from digest.pipeline import render_workers

    def no_pool(*args):
        pytest.fail("a daemonic process started render workers")

    cards = [full_cards(f"seller{i:03d}@contoso.com") for i in range(MIN_PARALLEL)]
    monkeypatch.setattr(render_workers, "_pool_for", no_pool)
    monkeypatch.setattr(multiprocessing.current_process(), "daemon", True)
    assert render_workers._daemonic()
    assert len(list(render_cards(cards, RenderSettings(), "2026-11-22", workers=2))) == len(cards)


def test_workers_start_only_where_the_run_enabled_them(monkeypatch):
    """An Airflow task process must not spawn workers (a spawned child cannot set up the airflow __main__):
    only the one-process weekly run (digest run) enables them."""
    from digest.pipeline import render_workers

    def no_pool(*args):
        pytest.fail("render workers started without enable()")

    cards = [full_cards(f"seller{i:03d}@contoso.com") for i in range(MIN_PARALLEL)]
    monkeypatch.setattr(render_workers, "_pool_for", no_pool)
    monkeypatch.setattr(render_workers, "_enabled", [False])
    assert len(list(render_cards(cards, RenderSettings(), "2026-11-22"))) == len(cards)
    with render_workers.allowed(), pytest.raises(pytest.fail.Exception):
        list(render_cards(cards, RenderSettings(), "2026-11-22"))
    assert render_workers._enabled == [False]  # allowed only inside the block
