"""Render a batch on every core: worker processes draw the emails, in order, while this one writes them.

Drawing the charts, inlining the CSS and building the MIME message is most of a batch's time and is
pure (cards in, message bytes out), so it spreads over worker processes; the results come back in the cards' order, so the
files, the manifest and the audit records are the same as rendered in one process, byte for byte.
Workers are started fresh ("spawn": they share no DuckDB or Arrow threads and not the snapshot's
memory), each keeps one Renderer (templates, fonts, chart figures) for the whole run, and the pool
is kept for the next batch while the render settings stay the same.
"""

from __future__ import annotations

import atexit
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator, Mapping, Sequence

if TYPE_CHECKING:
    from digest.cards import SellerCards
    from digest.config import RenderSettings

MIN_PARALLEL = 24  # a smaller batch renders in this process: starting workers would cost more than it saves
CHUNK = 4  # cards sent to a worker at a time
START_TIMEOUT = 120  # seconds the workers have to answer once started; otherwise this process renders

# Workers are used only where the run asked for them (digest run, in one process: `with allowed()`). An
# Airflow task process must not start them: a spawned child re-imports the task's __main__ (the
# airflow command), which cannot set itself up there; the child dies and the pool restarts it forever.
# In Airflow the mapped tasks spread the batches over the executor's slots instead.
_enabled: list[bool] = [False]

_pool: list = []  # [((render settings, relationship weeks), pool, workers)] while one is running
_renderer: list = []  # in a worker: [Renderer]


@contextmanager
def allowed() -> Iterator[None]:
    """Let render_cards use worker processes while the block runs (the one-process weekly run); the pool stops after it."""
    before = _enabled[0]
    _enabled[0] = True
    try:
        yield
    finally:
        _enabled[0] = before
        if not before:
            close_pool()


def worker_count() -> int:
    """How many processes render: the cores this process may use (at most 4: the writer is the next bottleneck)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


@dataclass(frozen=True)
class Messages:
    """How the render step's messages are built (digest.delivery.outbox.build_message), in the worker that
    renders them: the From address, each seller's extra headers (by the cards' seller), and whether the
    email itself comes back too (for a preview)."""

    sender: str
    headers: Mapping[str, Mapping[str, str]]
    keep_email: bool = False


def render_cards(cards: Sequence["SellerCards"], settings: "RenderSettings", data_as_of: str,
                 workers: int | None = None, relationship_weeks: int | None = None, messages: Messages | None = None) -> Iterator:
    """Every seller's RenderedEmail or Skipped, in the order of `cards` (as digest.email.render.render_all);
    with `messages`, a BuiltEmail (digest.delivery.outbox) instead of each RenderedEmail."""
    from digest.email.numbers import WINDOW_WEEKS
    from digest.email.render import render_all

    relationship_weeks = relationship_weeks or WINDOW_WEEKS
    workers = (worker_count() if _enabled[0] else 1) if workers is None else workers
    jobs = [(card, data_as_of, _message_job(messages, card)) for card in cards]
    try:
        pool = None if workers <= 1 or len(cards) < MIN_PARALLEL or _daemonic() else _pool_for((settings, relationship_weeks), workers)
    except (OSError, RuntimeError, AssertionError) as exc:  # no processes here (a sandbox, an unguarded __main__): one core it is
        import logging

        logging.getLogger(__name__).warning("render workers not started (%s): rendering in this process", exc)
        pool = None
    if pool is not None:
        yield from pool.imap(_render_one, jobs, chunksize=CHUNK)
        return
    rendered = render_all(cards, settings, data_as_of, relationship_weeks=relationship_weeks)
    yield from (_message(result, job) for result, (_, _, job) in zip(rendered, jobs))


def _message_job(messages: Messages | None, card: "SellerCards") -> tuple | None:
    if messages is None:
        return None
    return messages.sender, dict(messages.headers.get(card.seller, {})), messages.keep_email


def _message(result, job: tuple | None):
    """A RenderedEmail as a BuiltEmail when a message job is given (a Skipped stays as it is)."""
    from digest.delivery.outbox import built
    from digest.email.message import RenderedEmail

    if job is None or not isinstance(result, RenderedEmail):
        return result
    sender, headers, keep_email = job
    return built(result, sender, headers, keep_email)


def _daemonic() -> bool:
    """A daemonic process (a multiprocessing or Celery prefork worker) may not start children: render here."""
    import multiprocessing

    return bool(multiprocessing.current_process().daemon)


def _pool_for(settings: tuple["RenderSettings", int], workers: int):
    """The running pool for (render settings, relationship window weeks), started anew when they change."""
    import multiprocessing

    if _pool and (_pool[0][0] != settings or _pool[0][2] != workers):
        close_pool()
    if not _pool:
        ctx = multiprocessing.get_context("spawn")
        pool = ctx.Pool(workers, initializer=_start, initargs=(settings,))
        try:  # a worker that cannot start is restarted by the pool forever: give them a deadline
            pool.apply_async(_ready).get(timeout=START_TIMEOUT)
        except Exception as exc:
            pool.terminate()
            raise RuntimeError(f"the render workers did not start within {START_TIMEOUT} s ({type(exc).__name__})") from None
        _pool.append((settings, pool, workers))
    return _pool[0][1]


def _ready() -> bool:
    return bool(_renderer)


def close_pool() -> None:
    """Stop the render workers (at exit, or when the settings change)."""
    while _pool:
        _, pool, _ = _pool.pop()
        pool.close()
        pool.join()


atexit.register(close_pool)


def _start(settings: tuple["RenderSettings", int]) -> None:
    from digest.email.render import Renderer

    render, weeks = settings
    _renderer.append(Renderer(render, relationship_weeks=weeks))


def _render_one(job: tuple["SellerCards", str, tuple | None]):
    card, data_as_of, message = job
    return _message(_renderer[0].render(card, data_as_of), message)

