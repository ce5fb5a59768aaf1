"""Whether the pipeline steps the DAG runs exist yet (loader, render, audit gate, delivery).

The end-to-end Airflow tests need all of them; until they land in this shared tree those tests
skip with the name of what is missing, and run (and can fail) from the moment they exist.
"""

from __future__ import annotations

import importlib.util

import pytest

STEPS = ("snapshot_inputs", "compute_cards", "plan_batches", "render_batch", "audit_gate", "deliver_batch")


def require_pipeline_steps() -> None:
    from digest import pipeline

    missing = [f"digest.pipeline.{name}" for name in STEPS if not hasattr(pipeline, name)]
    if importlib.util.find_spec("digest.sources.files") is None:
        missing.append("digest.sources.files (the loader)")
    if missing:
        pytest.skip("not in the tree yet: " + ", ".join(missing))
