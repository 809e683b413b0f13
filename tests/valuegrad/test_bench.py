"""Smoke test of `valuegrad bench`: it runs, the engines agree, and the JSON is complete."""

from __future__ import annotations

import json
import math

import pytest

from valuegrad.__main__ import main


@pytest.mark.slow  # runs the benchmark through the command line
def test_bench_quick_run_writes_consistent_json(tmp_path, capsys):
    """(a) and (d) in quick mode: every engine computes the same first loss; JSON has the samples."""
    out = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--sections", "ad", "--repeats", "1", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "(a) one training step" in printed and "goals:" in printed
    results = json.loads(out.read_text())
    step = results["mlp_step"]
    for engine in ("valuegrad eager", "valuegrad compiled", "plain floats"):
        assert len(step[engine]["samples"]) == 1 and step[engine]["median"] > 0.0
    losses = step["_info"]["first_loss"]
    reference = losses["plain floats"]
    for engine, loss in losses.items():
        assert math.isclose(loss, reference, rel_tol=1e-9), engine
    assert results["deepest_chain"]["valuegrad eager"]["deepest"] >= 100_000
    assert results["machine"]["python"].startswith("CPython")
