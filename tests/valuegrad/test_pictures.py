"""valuegrad.pictures: the recorder behind docs/figures.json (runs, epoch times, timings)."""

from __future__ import annotations

import pytest

from autograd import __version__
from nn import MLP, SGD, make_moons
from valuegrad import pictures


@pytest.mark.slow  # a subprocess
def test_recorded_run_keeps_the_command_its_output_status_and_times():
    run = pictures.recorded_run(["--version"])
    assert run["argv"] == ["valuegrad", "--version"]
    assert run["status"] == 0 and any(__version__ in line for line in run["output"])
    assert run["cpu_seconds"] >= 0.0 and run["wall_seconds"] > 0.0


@pytest.mark.slow  # a subprocess
def test_recorded_run_of_a_usage_error_keeps_its_status():
    assert pictures.recorded_run(["demo", "nosuchdemo"])["status"] == 2


def test_epoch_seconds_gives_one_time_per_epoch():
    X, y = make_moons(20, noise=0.1, seed=0)
    model = MLP(2, [3, 1], seed=0)
    seconds = pictures._epoch_seconds(model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.1),
                                      epochs=3, batch_size=8, progress=False)
    assert len(seconds) == 3 and all(s >= 0.0 for s in seconds)


def test_best_seconds_is_the_fastest_call():
    calls = []
    best = pictures._best_seconds(lambda: calls.append(1), repeats=4)
    assert len(calls) == 4 and 0.0 <= best < 1.0

