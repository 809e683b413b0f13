"""The demos: the backprop example's numbers, and the demos/*.py scripts run as a newcomer runs them."""

from __future__ import annotations

import importlib.util
import math
import os
import runpy
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from valuegrad.demos import backprop

ROOT = Path(__file__).resolve().parents[2]
HAS_DOT = shutil.which("dot") is not None
needs_matplotlib = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None, reason="matplotlib is not installed"
)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height of a PNG file; fails unless the file starts like a PNG."""
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_MAGIC, f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def run_script(name: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "demos" / name), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=env,
    )


# -- the worked example: chain rule by hand == engine == finite differences --------------------


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def forward_by_hand() -> tuple[float, float, float]:
    """The demo's network written out with math.exp: the activations (a1, a2, a3)."""
    w = backprop.WEIGHTS
    x1, x2 = backprop.INPUT
    a1 = sigmoid(w["w1"] * x1 + w["w2"] * x2 + w["b1"])
    a2 = sigmoid(w["w3"] * x1 + w["w4"] * x2 + w["b2"])
    a3 = sigmoid(w["w5"] * a1 + w["w6"] * a2 + w["b3"])
    return a1, a2, a3


def test_backprop_forward_matches_plain_arithmetic():
    """The demo's forward pass equals the network written out with math.exp."""
    a1, _, a3 = forward_by_hand()
    f = backprop.forward(backprop.WEIGHTS)
    assert f["a1"] == pytest.approx(a1, abs=1e-15)
    assert f["a3"] == pytest.approx(a3, abs=1e-15)
    assert f["C"] == pytest.approx((a3 - backprop.TARGET) ** 2, abs=1e-15)


def test_backprop_hand_gradients_equal_engine():
    example = backprop.worked_example()
    assert set(example["engine"]) == set(backprop.WEIGHTS)
    for name in backprop.ORDER:
        assert abs(example["hand"][name] - example["engine"][name]) <= 1e-12, name


def test_backprop_finite_differences_agree():
    example = backprop.worked_example()
    for name in backprop.ORDER:
        assert example["numeric"][name] == pytest.approx(example["engine"][name], rel=1e-6, abs=1e-9), name


def test_backprop_first_layer_gradient_written_out():
    """dC/dw1 = 2(a3 - y) * a3(1 - a3) * w5 * a1(1 - a1) * x1, computed here independently."""
    w = backprop.WEIGHTS
    x1 = backprop.INPUT[0]
    a1, _, a3 = forward_by_hand()
    expected = 2 * (a3 - backprop.TARGET) * a3 * (1 - a3) * w["w5"] * a1 * (1 - a1) * x1
    assert backprop.worked_example()["engine"]["w1"] == pytest.approx(expected, rel=1e-12)


def test_backprop_sgd_step_lowers_cost_and_uses_lr():
    example = backprop.worked_example(lr=0.5)
    assert example["new_cost"] < example["forward"]["C"]
    for name, value in backprop.WEIGHTS.items():
        assert example["new_weights"][name] == value - 0.5 * example["engine"][name]


def test_backprop_report_shows_every_parameter_and_chain():
    text = backprop.report(backprop.worked_example())
    for name in backprop.WEIGHTS:
        assert f"dC/d{name} = " in text
    assert "2(a3 - y) * a3(1 - a3) * w5 * a1(1 - a1) * x1" in text
    assert "cost before" in text and "after" in text


def test_backprop_graph_draws_the_inputs_as_the_first_row():
    """Named as parameters, the weights get a row of their own below x1 and x2 (before, x edges ran along boxes)."""
    import re

    from autograd import to_dot

    params, nodes = backprop.engine_graph()
    source = to_dot(nodes["C"], rankdir="TB", module=backprop.Parameters(params)).source
    first_row = re.search(r"\{rank=min; ([^}]*)\}", source)
    assert first_row is not None
    labels = [re.search(rf"\t{name.strip()} \[label=\"\{{ ?([^ |]+)", source)[1] for name in first_row[1].split(";")]
    assert labels == ["x1", "x2"]  # not y, the target: only the loss uses it


# -- the scripts in demos/, run as a newcomer would --------------------------------------------


@pytest.mark.slow  # a subprocess per test
@pytest.mark.skipif(not HAS_DOT, reason="graphviz's dot binary is not installed")
def test_backprop_script_writes_graph(tmp_path):
    result = run_script("backprop_by_hand.py", "--gif", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "dC/dw1" in result.stdout
    picture = tmp_path / "backprop_graph.png"
    assert f"wrote {picture}" in result.stdout
    width, height = png_size(picture)
    assert width > 300 and height > 100
    image = pytest.importorskip("PIL.Image", reason="Pillow (the demo extra) is not installed")
    animation = tmp_path / "backprop.gif"
    assert f"wrote {animation}" in result.stdout
    with image.open(animation) as gif:
        # the demo's graph has 17 ops: 17 steps plus the start and end frames
        assert gif.n_frames == 19 and gif.size[0] > 300


@pytest.mark.slow  # a subprocess per test
def test_backprop_script_without_dot_skips_graph_with_hint(tmp_path):
    env = dict(os.environ, PATH=str(tmp_path / "empty"))  # no `dot` on this PATH
    result = run_script("backprop_by_hand.py", "--gif", "--out", str(tmp_path), env=env)
    assert result.returncode == 0, result.stderr
    assert "dot" in result.stderr and "apt-get install graphviz" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "backprop_graph.png").exists() and not (tmp_path / "backprop.gif").exists()
    assert "engine (backward)" in result.stdout  # the table is still printed


@pytest.mark.slow  # a subprocess per test
@needs_matplotlib
def test_moons_script_writes_pictures(tmp_path):
    result = run_script("moons.py", "--epochs", "2", "--samples", "60", "--no-progress", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    expected = ["moons_boundary.png", "moons_curves.png"] + (["moons_neuron.png"] if HAS_DOT else [])
    for name in expected:
        assert f"wrote {tmp_path / name}" in result.stdout
        width, height = png_size(tmp_path / name)
        assert width > 300 and height > 200
    assert "training accuracy" in result.stdout


@pytest.mark.slow  # a subprocess per test
@needs_matplotlib
@pytest.mark.parametrize(
    "script, epochs, samples, picture",
    [("regression.py", "3", "12", "regression_fit.png"), ("spiral.py", "2", "30", "spiral_regions.png")],
)
def test_script_writes_picture(tmp_path, script, epochs, samples, picture):
    result = run_script(script, "--epochs", epochs, "--samples", samples, "--no-progress", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert f"wrote {tmp_path / picture}" in result.stdout
    png_size(tmp_path / picture)


def run_script_in_process(name: str, args: list[str], monkeypatch, capsys) -> tuple[int, str, str]:
    """A demos/*.py script run as `__main__` in this process: its argument handling without a new interpreter."""
    monkeypatch.setattr(sys, "argv", [str(ROOT / "demos" / name), *args])
    monkeypatch.setattr(sys, "path", list(sys.path))  # the script may put the checkout first: undone after
    try:
        runpy.run_path(str(ROOT / "demos" / name), run_name="__main__")
        status = 0
    except SystemExit as exited:
        status = exited.code if isinstance(exited.code, int) else 1
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize("script", ["moons.py", "backprop_by_hand.py", "regression.py", "spiral.py"])
def test_script_help_names_default_output_directory(script, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "500")  # argparse wraps long paths at hyphens, e.g. inside "wt-docs"
    status, out, _ = run_script_in_process(script, ["--help"], monkeypatch, capsys)
    assert status == 0
    assert str(ROOT / "demos" / "out") in " ".join(out.split())


@pytest.mark.parametrize(
    ("script", "args", "message"),
    [
        ("moons.py", ["--epochs", "0"], "--epochs"),
        ("moons.py", ["--optimizer", "rmsprop"], "--optimizer"),
        ("regression.py", ["--batch-size", "x"], "--batch-size"),
        ("spiral.py", ["--lr", "-0.1"], "--lr"),
        ("backprop_by_hand.py", ["--bogus"], "unrecognized arguments"),
    ],
)
def test_script_bad_arguments_exit_2_without_traceback(script, args, message, monkeypatch, capsys):
    status, _, err = run_script_in_process(script, args, monkeypatch, capsys)
    assert status == 2
    assert message in err and "error:" in err
    assert "Traceback" not in err
