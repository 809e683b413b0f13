"""fit(compiled=True) replays one compiled graph per batch size and must match eager fit exactly."""

from __future__ import annotations

import struct

import pytest

from nn import MLP, SGD, Adam, fit, make_moons


def bits(x: float) -> bytes:
    return b"nan" if x != x else struct.pack("<d", x)


def _train(compiled: bool, loss: str, make_optimizer, X, y, *, nouts=(8, 1), batch_size=16, epochs=3):
    model = MLP(len(X[0]), list(nouts), seed=7)
    history = fit(
        model, X, y, loss=loss, optimizer=make_optimizer(model.parameters()), epochs=epochs,
        batch_size=batch_size, seed=3, progress=False, compiled=compiled,
    )
    return model, history


@pytest.mark.parametrize("loss", ["mse", "hinge"])
@pytest.mark.parametrize("make_optimizer", [lambda ps: SGD(ps, lr=0.1, momentum=0.9), lambda ps: Adam(ps, lr=0.05)])
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


@pytest.mark.parametrize("loss", ["bce", "bce_with_logits", "cross_entropy", lambda preds, targets: preds[0] * 0.0])
def test_fit_compiled_rejects_losses_whose_graph_depends_on_data(loss):
    X, y = make_moons(10, noise=0.1, seed=0)
    model = MLP(2, [4, 1], seed=0)
    with pytest.raises(ValueError, match=r"fit\(\): compiled=True needs a loss whose graph does not depend on"):
        fit(model, X, y, loss=loss, epochs=1, progress=False, compiled=True)
