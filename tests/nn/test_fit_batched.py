"""fit(backend="batched") runs one sample's graph over each batch with numpy and must train like eager fit."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("numpy", reason="backend='batched' needs numpy (the 'fast' extra)")

import nn  # noqa: E402
from nn import MLP, SGD, Adam, evaluate, fit, make_moons, make_spiral  # noqa: E402

TOL = 1e-9  # the bar; batched sums in another order than eager, so not bit for bit


def assert_close_lists(got, want, what):
    assert len(got) == len(want), what
    for i, (g, w) in enumerate(zip(got, want)):
        if w is None or g is None:
            assert g == w, f"{what}[{i}]"
        elif math.isnan(w):
            assert math.isnan(g), f"{what}[{i}]"
        else:
            assert math.isclose(g, w, rel_tol=TOL, abs_tol=TOL), f"{what}[{i}]: batched {g!r}, eager {w!r}"


def train(backend, loss, make_optimizer, X, y, *, nouts=(8, 1), out_activation="linear", task=None, epochs=3,
          batch_size=16, validation_data=None, activation="relu"):
    model = MLP(len(X[0]), list(nouts), activation=activation, out_activation=out_activation, seed=7)
    history = fit(model, X, y, loss=loss, task=task, optimizer=make_optimizer(model.parameters()), epochs=epochs,
                  batch_size=batch_size, seed=3, progress=False, backend=backend, validation_data=validation_data)
    return model, history


def assert_same_training(eager, batched):
    (eager_model, eager_history), (batched_model, batched_history) = eager, batched
    assert_close_lists(batched_history.loss, eager_history.loss, "loss")
    assert batched_history.accuracy == eager_history.accuracy
    assert_close_lists(batched_history.val_loss, eager_history.val_loss, "val_loss")
    assert batched_history.val_accuracy == eager_history.val_accuracy
    assert_close_lists([p.data for p in batched_model.parameters()], [p.data for p in eager_model.parameters()],
                       "parameters")


OPTIMIZERS = [lambda ps: SGD(ps, lr=0.1, momentum=0.9), lambda ps: Adam(ps, lr=0.05)]


@pytest.mark.parametrize("loss, out_activation", [("mse", "linear"), ("hinge", "linear"),
                                                  ("bce_with_logits", "linear"), ("bce", "sigmoid")])
@pytest.mark.parametrize("make_optimizer", OPTIMIZERS, ids=["sgd", "adam"])
def test_fit_batched_matches_eager_for_binary_and_regression_losses(loss, out_activation, make_optimizer):
    """50 samples in batches of 16: three full batches and a ragged last one; bce traces one graph per target."""
    X, y = make_moons(50, noise=0.2, seed=1)
    eager = train("eager", loss, make_optimizer, X, y, out_activation=out_activation)
    batched = train("batched", loss, make_optimizer, X, y, out_activation=out_activation)
    assert_same_training(eager, batched)
    assert batched[1].loss[-1] < batched[1].loss[0]  # it trains


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_fit_batched_cross_entropy_with_validation_matches_eager(activation):
    X, y = make_spiral(70, classes=3, seed=1)
    adam = lambda ps: Adam(ps, lr=0.05)  # noqa: E731
    runs = [train(backend, "cross_entropy", adam, X[:50], y[:50], nouts=(8, 3), activation=activation,
                  validation_data=(X[50:], y[50:]), batch_size=12) for backend in ("eager", "batched")]
    assert_same_training(*runs)


def test_fit_batched_multi_output_regression_matches_eager():
    X = [[i / 10.0, (i % 7) / 7.0] for i in range(30)]
    y = [[a + b, a * b] for a, b in X]
    sgd = lambda ps: SGD(ps, lr=0.05)  # noqa: E731
    runs = [train(b, "mse", sgd, X, y, nouts=(6, 2), batch_size=8) for b in ("eager", "batched")]
    assert_same_training(*runs)
    assert runs[1][1].accuracy == [None] * 3


def test_fit_batched_callable_losses_match_eager():
    """A callable classification loss gets one graph per class label; a regression one gets target leaves."""
    X, y = make_spiral(45, classes=3, seed=2)
    adam = lambda ps: Adam(ps, lr=0.05)  # noqa: E731
    runs = [train(b, nn.cross_entropy, adam, X, y, nouts=(8, 3), task="classification") for b in ("eager", "batched")]
    assert_same_training(*runs)
    Xr = [[i / 20.0] for i in range(20)]
    yr = [math.sin(3 * x[0]) for x in Xr]
    runs = [train(b, nn.mse_loss, adam, Xr, yr, nouts=(5, 1)) for b in ("eager", "batched")]
    assert_same_training(*runs)


def test_fit_batched_refuses_a_callable_loss_that_is_not_a_per_sample_mean():
    def summed(preds, targets):
        return nn.mse_loss(preds, targets) * float(len(preds))

    X, y = make_moons(10, noise=0.1, seed=0)
    with pytest.raises(ValueError, match=r"backend='batched' needs a loss that is the mean of per-sample losses"):
        fit(MLP(2, [4, 1], seed=0), X, y, loss=summed, epochs=1, batch_size=5, progress=False, backend="batched")


def test_fit_backend_spellings():
    X, y = make_moons(20, noise=0.1, seed=0)
    histories = []
    for kwargs in (dict(compiled=True), dict(backend="compiled")):
        model = MLP(2, [4, 1], seed=0)
        histories.append(fit(model, X, y, loss="hinge", epochs=2, progress=False, **kwargs).loss)
    assert histories[0] == histories[1]
    with pytest.raises(ValueError, match=r"fit\(\): backend must be one of 'eager', 'compiled', 'batched', got 'gpu'"):
        fit(MLP(2, [4, 1], seed=0), X, y, epochs=1, progress=False, backend="gpu")
    with pytest.raises(ValueError, match=r"compiled=True contradicts backend='batched'"):
        fit(MLP(2, [4, 1], seed=0), X, y, epochs=1, progress=False, backend="batched", compiled=True)


@pytest.mark.parametrize("backend", ["eager", "compiled", "batched"])
@pytest.mark.parametrize("label", [3, 5])
def test_fit_cross_entropy_label_beyond_the_outputs_is_an_error(backend, label):
    X = [[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]]
    y = [0, label, 1]
    with pytest.raises(ValueError, match=rf"fit\(\): label {label} \(y\[1\]\) is out of range for a model with 3 "):
        fit(MLP(2, [4, 3], seed=0), X, y, loss="cross_entropy", epochs=1, progress=False, backend=backend)


def test_fit_cross_entropy_negative_label_and_evaluate_label_range():
    X = [[0.0, 1.0], [1.0, 0.0]]
    model = MLP(2, [4, 3], seed=0)
    with pytest.raises(ValueError, match=r"needs class indices 0..k-1, got y\[1\] = -1"):
        fit(model, X, [0, -1], loss="cross_entropy", epochs=1, progress=False, backend="batched")
    with pytest.raises(ValueError, match=r"evaluate\(\): label 7 \(y\[0\]\) is out of range for a model with 3"):
        evaluate(model, X, [7, 0], loss="cross_entropy")
    with pytest.raises(ValueError, match=r"validation_data: label 4 \(y\[1\]\) is out of range"):
        fit(model, X, [0, 1], loss="cross_entropy", epochs=1, progress=False, validation_data=(X, [0, 4]))


def test_history_history_is_the_keras_dict_of_the_same_lists():
    X, y = make_moons(20, noise=0.1, seed=0)
    history = fit(MLP(2, [4, 1], seed=0), X, y, loss="hinge", epochs=2, progress=False, validation_data=(X, y),
                  backend="batched")
    assert history.history == {"loss": history.loss, "accuracy": history.accuracy, "val_loss": history.val_loss,
                               "val_accuracy": history.val_accuracy}
    assert history.history["loss"] is history.loss and len(history.history["val_accuracy"]) == 2
