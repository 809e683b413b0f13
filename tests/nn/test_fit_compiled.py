"""fit(compiled=True) replays one compiled graph per batch size and must match eager fit exactly."""

from __future__ import annotations

import struct

import pytest

import nn
from nn import MLP, SGD, Adam, fit, make_moons, make_spiral


def bits(x: float) -> bytes:
    return b"nan" if x != x else struct.pack("<d", x)


def _train(compiled: bool, loss: str, make_optimizer, X, y, *, nouts=(8, 1), batch_size=16, epochs=3):
    model = MLP(len(X[0]), list(nouts), seed=7)
    history = fit(
        model, X, y, loss=loss, optimizer=make_optimizer(model.parameters()), epochs=epochs,
        batch_size=batch_size, seed=3, progress=False, compiled=compiled,
    )
    return model, history


OPTIMIZERS = [lambda ps: SGD(ps, lr=0.1, momentum=0.9), lambda ps: Adam(ps, lr=0.05)]


@pytest.mark.parametrize("loss", ["mse", "hinge", "bce_with_logits"])
@pytest.mark.parametrize("make_optimizer", OPTIMIZERS, ids=["sgd", "adam"])
def test_fit_compiled_matches_eager_bit_for_bit(loss, make_optimizer):
    """50 samples in batches of 16: three full batches share one graph, the last (2) gets its own."""
    X, y = make_moons(50, noise=0.2, seed=1)
    eager_model, eager_history = _train(False, loss, make_optimizer, X, y)
    compiled_model, compiled_history = _train(True, loss, make_optimizer, X, y)
    assert [bits(v) for v in compiled_history.loss] == [bits(v) for v in eager_history.loss]
    assert compiled_history.accuracy == eager_history.accuracy
    assert [bits(p.data) for p in compiled_model.parameters()] == [bits(p.data) for p in eager_model.parameters()]
    assert compiled_history.loss[-1] < compiled_history.loss[0]  # it trains


def test_fit_compiled_multi_output_regression_matches_eager():
    X = [[i / 10.0, (i % 7) / 7.0] for i in range(30)]
    y = [[a + b, a * b] for a, b in X]
    sgd = lambda ps: SGD(ps, lr=0.05)  # noqa: E731
    eager_model, eager_history = _train(False, "mse", sgd, X, y, nouts=(6, 2), batch_size=8)
    compiled_model, compiled_history = _train(True, "mse", sgd, X, y, nouts=(6, 2), batch_size=8)
    assert [bits(v) for v in compiled_history.loss] == [bits(v) for v in eager_history.loss]
    assert compiled_history.accuracy == [None] * 3
    assert [bits(p.data) for p in compiled_model.parameters()] == [bits(p.data) for p in eager_model.parameters()]


@pytest.mark.parametrize("make_optimizer", OPTIMIZERS, ids=["sgd", "adam"])
def test_fit_compiled_cross_entropy_matches_eager_bit_for_bit(make_optimizer):
    """3-class spiral, 60 samples in batches of 16: one-hot target leaves swapped per batch."""
    X, y = make_spiral(60, classes=3, seed=1)
    eager_model, eager_history = _train(False, "cross_entropy", make_optimizer, X, y, nouts=(8, 3))
    compiled_model, compiled_history = _train(True, "cross_entropy", make_optimizer, X, y, nouts=(8, 3))
    assert [bits(v) for v in compiled_history.loss] == [bits(v) for v in eager_history.loss]
    assert compiled_history.accuracy == eager_history.accuracy
    assert [bits(p.data) for p in compiled_model.parameters()] == [bits(p.data) for p in eager_model.parameters()]
    assert compiled_history.loss[-1] < compiled_history.loss[0]


def test_fit_cross_entropy_one_hot_form_equals_class_index_form_bit_for_bit():
    """fit's "cross_entropy" builds the class-probability form with one-hot targets (so eager and
    compiled share a graph); it trains exactly like nn.cross_entropy with class indices."""
    X, y = make_spiral(45, classes=3, seed=2)
    runs = []
    for loss, task in (("cross_entropy", None), (nn.cross_entropy, "classification")):
        model = MLP(2, [8, 3], seed=7)
        history = fit(model, X, y, loss=loss, task=task, optimizer=Adam(model.parameters(), lr=0.05), epochs=3,
                      batch_size=16, seed=3, progress=False)
        runs.append(([bits(v) for v in history.loss], [bits(p.data) for p in model.parameters()], history.accuracy))
    assert runs[0] == runs[1]


def test_fit_compiled_cross_entropy_with_validation_and_a_ragged_last_batch():
    X, y = make_spiral(50, classes=3, seed=4)
    histories = []
    for compiled in (False, True):
        model = MLP(2, [6, 3], seed=1)
        histories.append(fit(model, X[:40], y[:40], loss="cross_entropy", epochs=2, batch_size=12, seed=0,
                             progress=False, validation_data=(X[40:], y[40:]), compiled=compiled))
    eager, compiled = histories
    assert [bits(v) for v in compiled.val_loss] == [bits(v) for v in eager.val_loss]
    assert compiled.val_accuracy == eager.val_accuracy


@pytest.mark.parametrize("loss", ["bce", lambda preds, targets: preds[0] * 0.0])
def test_fit_compiled_rejects_losses_whose_graph_depends_on_data(loss):
    X, y = make_moons(10, noise=0.1, seed=0)
    model = MLP(2, [4, 1], seed=0)
    with pytest.raises(ValueError, match=r"fit\(\): compiled=True needs a loss whose graph does not depend on"):
        fit(model, X, y, loss=loss, epochs=1, progress=False, compiled=True)


def test_fit_compiled_bce_error_says_why_and_what_to_use():
    X, y = make_moons(10, noise=0.1, seed=0)
    model = MLP(2, [4, 1], out_activation="sigmoid", seed=0)
    with pytest.raises(ValueError, match=r"'bce' picks its terms by each target's value.*'bce_with_logits' instead"):
        fit(model, X, y, loss="bce", epochs=1, progress=False, compiled=True)
