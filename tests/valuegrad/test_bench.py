"""Smoke test of `valuegrad bench`: it runs, the engines agree, and the JSON is complete."""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import io
import json
import math
from dataclasses import dataclass

import pytest

from valuegrad.__main__ import main

HAS_NUMPY = importlib.util.find_spec("numpy") is not None


@pytest.fixture(scope="module", autouse=True)
def frozen_heap():
    """The benchmark calls gc.collect() before every timed repetition, and in the test process
    each call walks every object the suite has made so far (~400,000 by the time these run):
    `quick_bench` took 31 s after tests/autograd and tests/nn, 18 s with them frozen.  Frozen
    objects (gc.freeze) are skipped by the collector; the benchmark's own are collected as
    usual, and unfreeze() hands the rest back to the collector after this module."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


@dataclass(frozen=True)
class QuickBench:
    """What one `valuegrad bench --quick` run printed and the JSON it wrote."""

    printed: str
    results: dict


@pytest.fixture(scope="module")
def quick_bench(tmp_path_factory) -> QuickBench:
    """`valuegrad bench --quick --repeats 1` of sections a to g (f only with numpy), run ONCE for
    the tests below: each section costs seconds, and running them together is the same code."""
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    sections = "abcde" + ("f" if HAS_NUMPY else "") + "g"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = main(["bench", "--quick", "--sections", sections, "--repeats", "1", "--json", str(out)])
    assert status == 0, printed.getvalue()[-2000:]
    return QuickBench(printed.getvalue(), json.loads(out.read_text()))


@pytest.mark.slow  # runs the benchmark through the command line
def test_bench_quick_run_writes_consistent_json(quick_bench):
    """(a) and (d) in quick mode: every engine computes the same first loss; JSON has the samples."""
    printed, results = quick_bench.printed, quick_bench.results
    assert "(a) one training step" in printed and "goals:" in printed
    step = results["mlp_step"]
    for engine in ("valuegrad eager", "valuegrad compiled", "plain floats"):
        assert len(step[engine]["samples"]) == 1 and step[engine]["median"] > 0.0
    losses = step["_info"]["first_loss"]
    reference = losses["plain floats"]
    for engine, loss in losses.items():
        assert math.isclose(loss, reference, rel_tol=1e-9), engine
    assert results["deepest_chain"]["valuegrad eager"]["deepest"] >= 100_000
    assert results["machine"]["python"].startswith("CPython")


@pytest.mark.slow  # runs the benchmark through the command line
def test_bench_quick_sections_b_c_e_g_run_and_report(quick_bench):
    """The sections the other tests do not run, at the size `bench --quick` (in docs/performance.md) uses."""
    printed, results = quick_bench.printed, quick_bench.results
    assert "(b) random graph" in printed and "goals:" in printed
    assert results["quick"] is True
    for section in ("ns_per_node", "bytes_per_node", "fit_epoch"):
        assert section in results, section
    assert results["ns_per_node"]["build"]["valuegrad eager"]["median"] > 0.0


@pytest.mark.slow
@pytest.mark.skipif(not HAS_NUMPY, reason="the batched engine needs numpy")
def test_bench_batched_step_engines_agree_and_goals_are_reported(quick_bench):
    """(f): batched, torch (when pinned), floats and the others start from the same weights: same first loss."""
    printed, results = quick_bench.printed, quick_bench.results
    assert "(f) the step of (a), batched" in printed
    assert "batched step >= 10x faster than the plain-float floor" in printed
    losses = results["batched_step"]["_info"]["first_loss"]
    assert "valuegrad batched" in losses
    for engine, loss in losses.items():
        assert math.isclose(loss, losses["plain floats"], rel_tol=1e-9), engine
    if "torch float64" not in losses:
        assert any("torch" in note for note in results["notes"])
    info = results["batched_step"]["_info"]
    blocks = info["steps_per_block"]
    assert set(blocks) == set(losses) | {"plain floats after 50 steps"} and all(k >= 1 for k in blocks.values())
    assert results["batched_step"]["plain floats after 50 steps"]["median"] > 0.0
    assert 0 < info["trained_active_samples"] < info["active_samples"] <= info["samples"] == 100
    assert "back-propagate at the initial weights" in printed
    assert blocks["valuegrad batched"] > blocks["valuegrad eager"]  # a sub-millisecond step is timed in runs


@pytest.mark.slow  # builds every engine, torch and micrograd included: seconds
def test_bench_steps_reset_to_the_initial_weights():
    """(f) times blocks of steps that each start from the initial weights: after steps and a
    reset every engine computes its first loss again (and training had moved it)."""
    from valuegrad import bench

    X, Y = bench.moons_pm1(30)
    weights = bench.init_weights()
    engines = [bench.ValuegradStep(weights, X, Y), bench.FloatStep(weights, X, Y)]
    if HAS_NUMPY:
        engines.append(bench.BatchedStep(weights, X, Y))
    if importlib.util.find_spec("micrograd") is not None:
        engines.append(bench.MicrogradStep(weights, X, Y))
    if importlib.util.find_spec("torch") is not None:
        engines.append(bench.TorchStep(weights, X, Y))
    for engine in engines:
        first = engine()
        later = [engine() for _ in range(3)][-1]
        engine.reset()
        assert later < first
        assert math.isclose(engine(), first, rel_tol=1e-12), type(engine).__name__


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("sklearn") is None, reason="(g) reads scikit-learn's digits")
def test_bench_digits_epoch_says_how_eager_was_scaled(quick_bench):
    printed, results = quick_bench.printed, quick_bench.results
    assert "eager timed on 128 digits and scaled" in printed
    info = results["digits_epoch"]["_info"]
    assert info["eager_timed_on"] == 128 and info["samples"] == 1347
    assert math.isclose(info["eager_scale"], 1347 / 128)


def test_bench_rejects_unknown_sections(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--sections", "az"])
    assert exit_info.value.code == 2
    assert "argument --sections: expected letters from 'abcdefgh', got 'az'" in capsys.readouterr().err


@pytest.mark.slow  # compiles a 100k-parameter graph three times
@pytest.mark.skipif(not HAS_NUMPY, reason="the batched engine needs numpy")
def test_bench_mnist_section_runs_small_and_its_engines_agree(capsys):
    """(h) on tiny sizes: every engine starts from the same weights (same first loss), each
    timing is there, and the report prints the scaling table and the goals."""
    from valuegrad import bench

    notes: list[str] = []
    with bench._one_thread(notes):
        result = bench.bench_mnist_epoch(1, notes, n=256)
        result["scaling"] = bench.bench_scaling(1, notes, (4,), (8, 16))
    result["memory"] = bench.bench_fit_memory(128, ("float32",))
    first = result["_info"]["first_loss"]
    assert set(first) >= {"valuegrad batched", "numpy by hand"}
    for engine, loss in first.items():
        assert math.isclose(loss, first["numpy by hand"], rel_tol=1e-9), engine
    assert not [note for note in notes if "disagree" in note], notes
    for engine in ("valuegrad batched", "numpy by hand"):
        assert len(result[engine]["samples"]) == 1 and result[engine]["median"] > 0.0
    assert [(row["width"], row["batch"]) for row in result["scaling"]["rows"]] == [(4, 8), (4, 16)]
    memory = result["memory"]["float32"]
    assert memory["array_bytes"] == 128 * 784 * 4 and memory["peak_added_bytes"] > 0
    goals: list = []
    bench._report_mnist_epoch(result, goals)
    printed = capsys.readouterr().out
    assert "(h) one epoch of MLP(784, [128, 10]) on 256 generated MNIST-shaped samples" in printed
    assert "scaling: (f)'s step on MLP(2, [w, w, 1])" in printed
    assert any(text.startswith("(h) fit on a 60000 x 784 float32 array") and ok is None for text, ok in goals)
