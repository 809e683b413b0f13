"""The modes demo: reverse vs forward mode vs finite differences, its numbers and its picture."""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from autograd import grad, numerical_grad
from valuegrad.__main__ import main
from valuegrad.demos import modes
from valuegrad.demos._shared import DemoError

ROOT = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
needs_matplotlib = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None, reason="matplotlib is not installed"
)


@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_modes_exact_gradient_matches_reverse_mode_and_differences(n):
    """The hand-written gradient the demo measures errors against is itself right."""
    problem = modes.Problem(n, seed=3)
    exact = problem.exact_gradient()
    reverse = grad(problem.f, argnums=tuple(range(n)))(*problem.x)
    numeric = numerical_grad(problem.f, problem.x)
    assert list(reverse) == pytest.approx(exact, rel=1e-13, abs=1e-15)
    assert numeric == pytest.approx(exact, rel=1e-6, abs=1e-8)


def test_modes_float_and_value_versions_of_f_agree():
    problem = modes.Problem(9)
    assert problem.f(*problem.x).data == pytest.approx(problem.f_float(problem.x), rel=1e-14)


def test_modes_each_method_returns_the_gradient():
    problem = modes.Problem(6, seed=1)
    exact = problem.exact_gradient()
    assert modes.reverse_mode(problem) == pytest.approx(exact, rel=1e-13, abs=1e-15)
    assert modes.forward_mode(problem) == pytest.approx(exact, rel=1e-13, abs=1e-15)
    assert modes.finite_differences(problem) == pytest.approx(exact, rel=1e-6, abs=1e-8)


def test_modes_sizes_are_log_spaced_from_one_to_max():
    assert modes.sizes_up_to(512) == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
    assert modes.sizes_up_to(1) == [1]
    small = modes.sizes_up_to(5)
    assert small[0] == 1 and small[-1] == 5 and small == sorted(set(small))


def test_modes_measure_table_has_every_column_and_honest_errors():
    table = modes.measure(4, 1)
    assert table["n"] == modes.sizes_up_to(4)
    for column in ("forward pass", *modes.METHODS, *(f"{m} error" for m in modes.METHODS)):
        assert len(table[column]) == len(table["n"])
    assert all(t > 0.0 for m in modes.METHODS for t in table[m])
    assert max(table["reverse error"]) < 1e-14
    assert max(table["forward error"]) < 1e-14
    assert 0.0 < max(table["finite differences error"]) < 1e-6


@pytest.mark.slow
@needs_matplotlib
def test_modes_demo_writes_png_into_out(tmp_path, capsys):
    status = main(["demo", "modes", "--max-n", "6", "--repeats", "1", "--out", str(tmp_path / "pictures")])
    assert status == 0
    picture = tmp_path / "pictures" / "modes.png"
    assert picture.read_bytes()[:8] == PNG_MAGIC
    out = capsys.readouterr().out
    assert f"wrote {picture}" in out
    assert "reverse mode costs" in out
    assert [p.name for p in picture.parent.iterdir()] == ["modes.png"]  # no temp files left


@pytest.mark.slow
@needs_matplotlib
def test_modes_script_runs_from_a_checkout(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "demos" / "modes.py"), "--max-n", "3", "--repeats", "1", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "modes.png").read_bytes()[:8] == PNG_MAGIC
    assert str(tmp_path / "modes.png") in result.stdout


def test_modes_missing_matplotlib_fails_early_with_a_hint(tmp_path, monkeypatch, capsys):
    def no_matplotlib():
        raise DemoError("this demo draws with matplotlib, which is not installed; install it")

    measured = []
    monkeypatch.setattr(modes, "pyplot", no_matplotlib)
    monkeypatch.setattr(modes, "measure", lambda *a, **k: measured.append(a))
    args = argparse.Namespace(max_n=4, repeats=1, out=tmp_path)
    assert modes.run(args) == 1
    assert "valuegrad demo modes: error: this demo draws with matplotlib" in capsys.readouterr().err
    assert measured == []


@pytest.mark.parametrize("option", [["--max-n", "0"], ["--repeats", "-1"], ["--max-n", "ten"]])
def test_modes_rejects_bad_options(option, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["demo", "modes", *option])
    assert exited.value.code == 2
    assert "expected an integer from 1 to" in capsys.readouterr().err
