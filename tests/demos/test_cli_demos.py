"""`valuegrad demo ...`: outputs written, argument errors, missing matplotlib or dot.

In-process, except the commands the README shows (`python -m valuegrad demo`, its moons,
regression and spiral commands): those run once per test run as written (conftest's
shell_command), and tests/test_docs.py reads the same runs (each is seconds of training and drawing)."""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from valuegrad.__main__ import main

HAS_DOT = shutil.which("dot") is not None
needs_matplotlib = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None, reason="matplotlib is not installed"
)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
pytestmark = pytest.mark.slow  # every test here runs a demo through the command line


def assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_MAGIC, f"{path} is not a PNG"


SMALL_MOONS = ["demo", "moons", "--epochs", "2", "--samples", "40", "--no-progress"]


@dataclass(frozen=True)
class DemoRun:
    """What one `valuegrad demo ...` run returned and printed, and the directory it wrote its pictures to."""

    status: int
    out: str
    err: str
    directory: Path


# The README's moons command: SGD, a seed and an output directory of its own.
README_MOONS = "python -m valuegrad demo moons --epochs 50 --optimizer sgd --seed 3 --out /tmp/pics"
README_DEMO = "python -m valuegrad demo"  # what `make demo` runs


@pytest.fixture(scope="module")
def moons_run(shell_command) -> DemoRun:
    """The README's `valuegrad demo moons` command, run once (shared with tests/test_docs.py); several tests read it."""
    run = shell_command(README_MOONS)
    return DemoRun(run.returncode, run.stdout, run.stderr, run.directory / "pics")


@needs_matplotlib
def test_cli_demo_moons_writes_pictures_and_prints_paths(moons_run):
    assert moons_run.status == 0, moons_run.err
    names = ["moons_boundary.png", "moons_curves.png"] + (["moons_neuron.png"] if HAS_DOT else [])
    for name in names:
        assert_png(moons_run.directory / name)
        assert f"wrote {moons_run.directory / name}" in moons_run.out
    assert "training accuracy" in moons_run.out and "held-out accuracy" in moons_run.out


@needs_matplotlib
def test_cli_demo_moons_sgd_optimizer_and_seed(moons_run):
    assert moons_run.status == 0, moons_run.err
    assert "sgd, 50 epochs" in moons_run.out
    assert_png(moons_run.directory / "moons_boundary.png")


def test_cli_demo_backprop_prints_table(tmp_path, capsys):
    assert main(["demo", "backprop", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "engine (backward)" in out and "finite diff" in out
    if HAS_DOT:
        assert_png(tmp_path / "backprop_graph.png")
        assert f"wrote {tmp_path / 'backprop_graph.png'}" in out
    assert not (tmp_path / "backprop.gif").exists()  # the slow GIF only with --gif (make demo stays fast)


@needs_matplotlib
@pytest.mark.parametrize(("command", "picture"), [
    ("python -m valuegrad demo regression", "regression_fit.png"),  # the README's commands (test_docs runs them)
    ("python -m valuegrad demo spiral", "spiral_regions.png"),
])
def test_cli_demo_regression_and_spiral_write_pictures(command, picture, shell_command):
    run = shell_command(command)  # run once per test run, shared with tests/test_docs.py
    assert run.returncode == 0, run.stderr
    assert_png(run.directory / "demos" / "out" / picture)
    assert f"wrote {Path('demos') / 'out' / picture}" in run.stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["demo", "moons", "--epochs", "0"], "argument --epochs: expected an integer from 1 to 10000, got 0"),
        (["demo", "moons", "--epochs", "ten"], "argument --epochs: expected an integer from 1 to 10000, got 'ten'"),
        (["demo", "moons", "--batch-size", "-4"], "argument --batch-size"),
        (["demo", "moons", "--optimizer", "rmsprop"], "argument --optimizer: invalid choice: 'rmsprop'"),
        (["demo", "moons", "--seed", "1.5"], "argument --seed"),
        (["demo", "backprop", "--lr", "nan"], "argument --lr: expected a finite number in (0, 10], got nan"),
        (["demo", "moons", "--samples", "4"], "argument --samples: expected an integer from 8 to 10000, got 4"),
        (["demo", "spiral", "--samples", "2"], "argument --samples: expected an integer from 3 to 10000, got 2"),
        (["demo", "regression", "--lr", "0"], "argument --lr"),
        (["demo", "spiral", "--samples", "many"], "argument --samples"),
        (["demo", "nosuchdemo"], "invalid choice: 'nosuchdemo'"),
    ],
)
def test_cli_demo_bad_arguments_are_argparse_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1  # one line: the error and where to read the usage


def test_cli_demo_out_is_a_file_is_a_clear_error(tmp_path, capsys):
    not_a_directory = tmp_path / "file.txt"
    not_a_directory.write_text("x")
    assert main(["demo", "backprop", "--out", str(not_a_directory)]) == 1
    err = capsys.readouterr().err
    assert "valuegrad demo backprop: error:" in err and "not a directory" in err


def test_cli_demo_without_matplotlib_says_how_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` raise ImportError
    assert main([*SMALL_MOONS, "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "matplotlib" in err and "pip install" in err
    assert list(tmp_path.iterdir()) == []


@needs_matplotlib
def test_cli_demo_without_dot_skips_graph_only(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name, *args, **kwargs: None)
    assert main([*SMALL_MOONS, "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "skipped the graph picture" in captured.err and "install graphviz" in captured.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["moons_boundary.png", "moons_curves.png"]


@needs_matplotlib
def test_cli_demo_without_name_runs_moons_and_backprop(shell_command):
    """`valuegrad demo` (what `make demo` runs) writes at least three pictures under demos/out."""
    run = shell_command(README_DEMO)  # run once, shared with tests/test_docs.py
    assert run.returncode == 0, run.stderr
    out = run.stdout
    pictures = sorted((run.directory / "demos" / "out").glob("*.png"))
    assert len(pictures) >= (4 if HAS_DOT else 2)
    for picture in pictures:
        assert_png(picture)
        assert f"wrote {Path('demos') / 'out' / picture.name}" in out
    assert "dC/dw1" in out
    training, test = (
        float(x) for x in re.search(r"training accuracy ([\d.]+)%, held-out accuracy ([\d.]+)%", out).groups()
    )
    assert training >= 97.0 and test >= 95.0  # the defaults must draw a good boundary
