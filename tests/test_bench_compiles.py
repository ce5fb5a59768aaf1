"""The benchmarks are not run by the suite (they print numbers, see bench/), but they must stay valid Python."""

from __future__ import annotations

import py_compile

import pytest


def test_every_benchmark_compiles(repo_root, tmp_path):
    scripts = sorted((repo_root / "bench").glob("*.py"))
    assert scripts
    for script in scripts:
        try:
            py_compile.compile(str(script), cfile=str(tmp_path / (script.stem + ".pyc")), doraise=True)
        except py_compile.PyCompileError as exc:
            pytest.fail(f"{script.name} does not compile: {exc.msg}")
