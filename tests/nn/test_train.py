"""Tests for nn.train: fit() on real tasks, batch averaging, History, callbacks, progress, validation."""

from __future__ import annotations

import io
import math
import sys

import pytest

from autograd import Value
from nn import (
    MLP,
    SGD,
    Adam,
    EarlyStopping,
    History,
    MinMaxScaler,
    cross_entropy,
    evaluate,
    fit,
    make_moons,
    make_spiral,
    make_xor,
    mse_loss,
)

try:
    import numpy as np
except ImportError:  # pragma: no cover - numpy is optional
    np = None

try:
    import tqdm
except ImportError:  # pragma: no cover - tqdm is optional
    tqdm = None


def _moons(seed, feature_range=(-1, 1), n=200):
    X, y = make_moons(n, noise=0.1, seed=seed)
    return MinMaxScaler(feature_range=feature_range).fit_transform(X), y


# -- the acceptance tasks --------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fit_moons_reaches_97_percent_within_40_epochs(seed):
    """MLP(2, [16, 16, 1]), moons(200, noise=0.1) scaled to [-1, 1], Adam, BCE with logits, batch 32."""
    X, y = _moons(seed)
    model = MLP(2, [16, 16, 1], seed=seed)
    reached = []

    def full_training_accuracy(epoch, history, model):
        _, accuracy = evaluate(model, X, y, loss="bce_with_logits")
        if accuracy >= 0.97:
            reached.append(epoch + 1)
            return True
        return None

    history = fit(model, X, y, loss="bce_with_logits", optimizer=Adam(model.parameters(), lr=0.05),
                  epochs=40, batch_size=32, seed=seed, progress=False, callbacks=[full_training_accuracy])
    assert reached and reached[0] <= 40
    assert history.stopped_epoch == reached[0] - 1
    assert history.loss[-1] < history.loss[0]


@pytest.mark.slow
def test_fit_regression_sin_mse_below_threshold():
    X = [[i / 49] for i in range(50)]
    y = [math.sin(2 * math.pi * x[0]) for x in X]
    model = MLP(1, [16, 16, 1], "tanh", seed=0)
    history = fit(model, X, y, loss="mse", optimizer=Adam(model.parameters(), lr=0.01), epochs=100,
                  batch_size=10, seed=0, progress=False)
    loss, accuracy = evaluate(model, X, y)
    assert loss < 0.01  # the target's variance is 0.5
    assert accuracy is None and history.accuracy == [None] * 100
    assert history.loss[-1] < 0.05 * history.loss[0]


def test_fit_cross_entropy_on_spiral_learns_and_reports_validation():
    X, y = make_spiral(90, classes=3, noise=0.1, seed=0)
    model = MLP(2, [16, 3], seed=0)
    history = fit(model, X, y, loss="cross_entropy", epochs=15, batch_size=16, progress=False,
                  optimizer=Adam(model.parameters(), lr=0.05), validation_data=(X[:30], y[:30]))
    assert len(history.val_loss) == len(history.val_accuracy) == 15
    assert history.val_loss[-1] < history.val_loss[0]
    assert (history.val_loss[-1], history.val_accuracy[-1]) == evaluate(model, X[:30], y[:30], loss="cross_entropy")
    assert history.accuracy[-1] > 1 / 3 + 0.15


def test_fit_hinge_maps_zero_one_labels_and_learns_xor():
    X, y = make_xor(80, seed=0)
    model = MLP(2, [12, 12, 1], seed=0)
    history = fit(model, X, y, loss="hinge", epochs=30, batch_size=16, progress=False,
                  optimizer=Adam(model.parameters(), lr=0.05))
    assert history.accuracy[-1] >= 0.85
    signed = [2 * t - 1 for t in y]
    assert evaluate(model, X, y, loss="hinge") == evaluate(model, X, signed, loss="hinge")


def test_fit_bce_on_sigmoid_output_uses_probability_threshold():
    X, y = _moons(0, n=60)
    model = MLP(2, [8, 1], out_activation="sigmoid", seed=0)
    fit(model, X, y, loss="bce", epochs=10, progress=False, optimizer=Adam(model.parameters(), lr=0.05))
    _, accuracy = evaluate(model, X, y, loss="bce")
    expected = sum((model(x).data > 0.5) == (t == 1) for x, t in zip(X, y)) / len(y)
    assert accuracy == expected and accuracy > 0.75


def test_fit_callable_loss_with_task_classification_reports_accuracy():
    X, y = _moons(1, n=40)
    model = MLP(2, [8, 1], seed=1)

    def squared_hinge(preds, targets):
        terms = [(1 - (2 * t - 1) * p).relu() ** 2 for p, t in zip(preds, targets)]
        return sum(terms) * (1.0 / len(terms))

    history = fit(model, X, y, loss=squared_hinge, task="classification", epochs=3, progress=False)
    assert all(a is not None for a in history.accuracy)
    history = fit(model, X, y, loss=squared_hinge, epochs=1, progress=False)
    assert history.accuracy == [None]
    signed = [2 * t - 1 for t in y]  # -1/+1 labels: the positive label is class 1
    assert evaluate(model, X, signed, loss=squared_hinge, task="classification")[1] == evaluate(
        model, X, y, loss="bce_with_logits")[1]


def test_fit_callable_loss_multiclass_uses_argmax():
    X, y = make_spiral(30, classes=3, seed=1)
    model = MLP(2, [8, 3], seed=1)
    history = fit(model, X, y, loss=cross_entropy, task="classification", epochs=2, batch_size=30,
                  validation_data=(X, y), progress=False)
    assert history.val_accuracy[-1] == evaluate(model, X, y, loss="cross_entropy")[1]
    assert history.val_loss[-1] == evaluate(model, X, y, loss="cross_entropy")[0]


# -- semantics --------------------------------------------------------------------------------------

def test_fit_step_is_mean_of_per_sample_gradients():
    """One epoch, one batch of all 4 samples, plain SGD: the update is -lr * (average per-sample gradient)."""
    X = [[0.5, -1.0], [1.0, 0.25], [-0.3, 0.8], [0.0, 1.0]]
    y = [1.0, -0.5, 0.25, 2.0]
    model = MLP(2, [3, 1], "tanh", seed=4)
    start = [p.data for p in model.parameters()]
    reference = MLP(2, [3, 1], "tanh", seed=4)
    per_sample = []
    for x, t in zip(X, y):
        reference.zero_grad()
        mse_loss(reference(x), t).backward()
        per_sample.append([p.grad for p in reference.parameters()])
    mean_grad = [sum(col) / 4 for col in zip(*per_sample)]
    fit(model, X, y, optimizer=SGD(model.parameters(), lr=0.1), epochs=1, batch_size=4, shuffle=False,
        progress=False)
    expected = [w - 0.1 * g for w, g in zip(start, mean_grad)]
    assert [p.data for p in model.parameters()] == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert all(p.grad == 0.0 for p in model.parameters())  # grads are cleared after each step


def test_fit_mini_batches_in_order_without_shuffle():
    X = [[0.1], [0.4], [0.7], [1.0], [1.3]]
    y = [0.0, 1.0, 0.0, 1.0, 0.5]
    model, manual = MLP(1, [2, 1], seed=0), MLP(1, [2, 1], seed=0)
    history = fit(model, X, y, optimizer=SGD(model.parameters(), lr=0.2), epochs=1, batch_size=2, shuffle=False,
                  progress=False)
    losses = []
    for batch in ([0, 1], [2, 3], [4]):  # the last batch is smaller
        loss = mse_loss([manual(X[i]) for i in batch], [y[i] for i in batch])
        loss.backward()
        for p in manual.parameters():
            p.data -= 0.2 * p.grad
            p.grad = 0.0
        losses.append((loss.data, len(batch)))
    assert model.state_dict() == manual.state_dict()
    assert history.loss == [pytest.approx(sum(v * n for v, n in losses) / 5, rel=1e-15)]


def test_fit_shuffle_is_reproducible_with_seed():
    X, y = _moons(0, n=40)

    def train(seed):
        model = MLP(2, [4, 1], seed=0)
        fit(model, X, y, loss="bce_with_logits", epochs=2, batch_size=8, seed=seed, progress=False)
        return model.state_dict()

    assert train(3) == train(3)
    assert train(3) != train(4)


def test_fit_epochs_zero_and_batch_larger_than_dataset():
    X, y = [[1.0], [2.0]], [1.0, 2.0]
    model = MLP(1, [1], seed=0)
    before = model.state_dict()
    history = fit(model, X, y, epochs=0, progress=False)
    assert history == History() and model.state_dict() == before
    assert len(fit(model, X, y, epochs=2, batch_size=100, progress=False).loss) == 2


@pytest.mark.skipif(np is None, reason="numpy is not installed")
def test_fit_accepts_numpy_arrays():
    X, y = _moons(2, n=40)
    model_a, model_b = MLP(2, [4, 1], seed=0), MLP(2, [4, 1], seed=0)
    ha = fit(model_a, X, y, loss="bce_with_logits", epochs=2, progress=False)
    hb = fit(model_b, np.array(X), np.array(y), loss="bce_with_logits", epochs=2, progress=False)
    assert ha == hb and model_a.state_dict() == model_b.state_dict()


# -- callbacks --------------------------------------------------------------------------------------

def test_callbacks_receive_epoch_history_model_and_can_stop():
    X, y = [[0.0], [1.0]], [0.0, 1.0]
    model = MLP(1, [2, 1], seed=0)
    calls = []

    def spy(epoch, history, m):
        calls.append((epoch, len(history.loss), m is model))
        return epoch == 2

    history = fit(model, X, y, epochs=10, callbacks=[spy], progress=False)
    assert calls == [(0, 1, True), (1, 2, True), (2, 3, True)]
    assert history.epochs == 3 and history.stopped_epoch == 2


def test_early_stopping_patience_and_restore_best():
    model = MLP(1, [1], seed=0)
    stopper = EarlyStopping(patience=2, monitor="loss", restore_best=True)
    history = History()
    decisions = []
    for epoch, loss in enumerate([1.0, 0.5, 0.6, 0.7, 0.4]):
        model.layers[0].neurons[0].b.data = float(epoch)  # mark the weights with the epoch
        history.loss.append(loss)
        decisions.append(stopper(epoch, history, model))
        if decisions[-1]:
            break
    assert decisions == [False, False, False, True]
    assert stopper.best == 0.5 and stopper.best_epoch == 1
    assert model.layers[0].neurons[0].b.data == 1.0  # weights of the best epoch


def test_early_stopping_on_accuracy_and_min_delta():
    stopper = EarlyStopping(patience=1, monitor="accuracy", min_delta=0.05)
    history = History()
    results = []
    for epoch, acc in enumerate([0.5, 0.6, 0.62]):
        history.accuracy.append(acc)
        results.append(stopper(epoch, history, None))
    assert results == [False, False, True]  # +0.02 is not an improvement with min_delta 0.05


def test_early_stopping_in_fit_and_errors():
    X, y = _moons(0, n=40)
    model = MLP(2, [4, 1], seed=0)
    flipped = [1 - t for t in y]  # learning y makes the loss on flipped labels grow from the first epoch
    history = fit(model, X, y, loss="bce_with_logits", epochs=50, progress=False,
                  validation_data=(X, flipped), callbacks=[EarlyStopping(patience=0)])
    assert history.val_loss[1] >= history.val_loss[0]
    assert history.stopped_epoch == 1 and history.epochs == 2
    with pytest.raises(ValueError, match="needs validation_data in fit"):
        fit(model, X, y, epochs=1, progress=False, callbacks=[EarlyStopping()])
    with pytest.raises(ValueError, match="needs a classification loss"):
        fit(model, X, y, epochs=1, progress=False, callbacks=[EarlyStopping(monitor="accuracy")])
    with pytest.raises(ValueError, match="monitor must be one of"):
        EarlyStopping(monitor="val_acc")


# -- progress ---------------------------------------------------------------------------------------

class _FakeTTY(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.skipif(tqdm is None, reason="tqdm is not installed (pip install tqdm)")
def test_progress_bar_on_a_terminal(monkeypatch):
    fake = _FakeTTY()
    monkeypatch.setattr(sys, "stderr", fake)
    fit(MLP(1, [1], seed=0), [[0.0], [1.0]], [0.0, 1.0], epochs=3, progress=True)
    assert "fit" in fake.getvalue() and "epoch" in fake.getvalue()


def test_progress_off_when_not_a_terminal_or_disabled(monkeypatch):
    fake = io.StringIO()
    monkeypatch.setattr(sys, "stderr", fake)
    fit(MLP(1, [1], seed=0), [[0.0], [1.0]], [0.0, 1.0], epochs=2, progress=True)
    tty = _FakeTTY()
    monkeypatch.setattr(sys, "stderr", tty)
    fit(MLP(1, [1], seed=0), [[0.0], [1.0]], [0.0, 1.0], epochs=2, progress=False)
    assert fake.getvalue() == "" and tty.getvalue() == ""


def test_fit_works_without_tqdm(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # makes `import tqdm` raise ImportError
    tty = _FakeTTY()
    monkeypatch.setattr(sys, "stderr", tty)
    history = fit(MLP(1, [1], seed=0), [[0.0], [1.0]], [0.0, 1.0], epochs=2, progress=True)
    assert history.epochs == 2 and tty.getvalue() == ""


# -- validation --------------------------------------------------------------------------------------

def test_fit_input_validation():
    model = MLP(2, [3, 1], seed=0)
    X, y = [[0.0, 1.0], [1.0, 0.0]], [0, 1]
    cases = [
        (dict(X=[], y=[]), ValueError, r"fit\(\): X is empty"),
        (dict(y=[0, 1, 1]), ValueError, "X has 2 samples but y has 3"),
        (dict(batch_size=0), ValueError, "batch_size must be >= 1, got 0"),
        (dict(batch_size=2.5), TypeError, "batch_size must be an int, got float"),
        (dict(epochs=-1), ValueError, "epochs must be >= 0, got -1"),
        (dict(loss="mae"), ValueError, "unknown loss 'mae'; use one of 'mse', 'bce'"),
        (dict(loss=42), TypeError, "loss must be a name"),
        (dict(X=[[0.0, "a"], [1.0, 0.0]]), TypeError, r"X\[0\]\[1\] must be a real number, got str"),
        (dict(y=[0, "b"]), TypeError, r"y\[1\] must be a real number, got str"),
        (dict(X=[[0.0, 1.0, 2.0], [1.0, 0.0, 2.0]]), ValueError, "X has 3 features but the model takes 2"),
        (dict(X=[0.0, 1.0]), ValueError, "X must be 2-D"),
        (dict(loss="bce_with_logits", y=[0, 2]), ValueError, r"needs targets in \[0, 1\], got y\[1\] = 2.0"),
        (dict(loss="hinge", y=[0, 2]), ValueError, "labels -1/\\+1 \\(or 0/1\\)"),
        (dict(loss="cross_entropy", y=[0, 1.5]), ValueError, "needs class indices 0..k-1"),
        (dict(loss="cross_entropy"), ValueError, "needs a model with one output per class"),
        (dict(loss="mse", task="classification"), ValueError, "task= is only for a callable loss"),
        (dict(loss=mse_loss, task="ranking"), ValueError, "task must be 'classification', 'regression' or None"),
        (dict(validation_data=[[0.0, 1.0]]), ValueError, "validation_data must be a pair"),
        (dict(validation_data=([[0.0]], [1])), ValueError, "validation_data: X has 1 features but the model"),
        (dict(callbacks=[1]), TypeError, "every callback must be callable"),
    ]
    for overrides, error, message in cases:
        kwargs = dict(X=X, y=y, epochs=1, progress=False)
        kwargs.update(overrides)
        with pytest.raises(error, match=message):
            fit(model, kwargs.pop("X"), kwargs.pop("y"), **kwargs)
    with pytest.raises(ValueError, match="needs a model with a single output, got 3"):
        fit(MLP(2, [3], seed=0), X, y, loss="bce_with_logits", epochs=1, progress=False)


def test_fit_rejects_callable_loss_returning_a_float():
    with pytest.raises(TypeError, match="loss 'bad' must return a Value, got float"):
        def bad(preds, targets):
            return 1.0

        fit(MLP(1, [1], seed=0), [[0.0]], [0.0], loss=bad, epochs=1, progress=False)


def test_fit_with_value_targets_and_multi_output_regression():
    model = MLP(1, [4, 2], seed=0)
    X = [[0.0], [0.5], [1.0]]
    y = [[0.0, 1.0], [0.5, 0.5], [Value(1.0), 0.0]]
    history = fit(model, X, y, loss="mse", epochs=20, batch_size=3, progress=False)
    assert history.loss[-1] < history.loss[0]
