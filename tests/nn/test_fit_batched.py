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


# -- issue 23: the parameters in one vector, arrays end to end ---------------------------------------

def _snapshots():
    seen = []

    def callback(epoch, history, model):
        seen.append([p.data for p in model.parameters()])

    return seen, callback


@pytest.mark.parametrize("make_optimizer", OPTIMIZERS + [lambda ps: SGD(ps, lr=0.05, weight_decay=0.01)],
                         ids=["sgd-momentum", "adam", "sgd-decay"])
def test_fit_batched_writes_values_back_before_each_callback_and_reads_edits(make_optimizer):
    """Each callback sees the trained Values (as eager's), an edit it makes is trained on, and
    the optimizer's state is handed back at the end (Adam counts every step)."""
    X, y = make_moons(40, noise=0.2, seed=2)
    runs = []
    for backend in ("eager", "batched"):
        model = MLP(2, [6, 1], seed=4)
        optimizer = make_optimizer(model.parameters())
        seen, snapshot = _snapshots()

        def edit(epoch, history, model):
            if epoch == 1:
                model.parameters()[0].data = 0.5  # as a user's callback might (EarlyStopping restores)

        fit(model, X, y, loss="hinge", optimizer=optimizer, epochs=4, batch_size=16, seed=1, progress=False,
            backend=backend, callbacks=[snapshot, edit])
        runs.append((seen, [p.data for p in model.parameters()], optimizer))
    (eager_seen, eager_final, eager_opt), (batched_seen, batched_final, batched_opt) = runs
    for epoch, (got, want) in enumerate(zip(batched_seen, eager_seen)):
        assert_close_lists(got, want, f"parameters seen by the callback after epoch {epoch}")
    assert batched_seen[2][0] != 0.5 and eager_seen[2][0] != 0.5  # trained on from the edited value
    assert_close_lists(batched_final, eager_final, "final parameters")
    if isinstance(eager_opt, Adam):
        assert batched_opt.t == eager_opt.t == 12
        assert_close_lists(batched_opt.m, eager_opt.m, "Adam m")
    else:
        assert_close_lists(batched_opt.velocity, eager_opt.velocity, "SGD velocity")


def test_fit_batched_reads_the_model_at_the_start_of_each_fit():
    X, y = make_moons(30, noise=0.2, seed=3)
    models = []
    for backend in ("eager", "batched"):
        model = MLP(2, [5, 1], seed=1)
        optimizer = SGD(model.parameters(), lr=0.1, momentum=0.5)
        fit(model, X, y, loss="hinge", optimizer=optimizer, epochs=1, progress=False, backend=backend)
        for p in model.parameters()[:3]:
            p.data *= -1.0  # edited between fits
        fit(model, X, y, loss="hinge", optimizer=optimizer, epochs=1, progress=False, backend=backend)
        models.append([p.data for p in model.parameters()])
    assert_close_lists(models[1], models[0], "parameters after two fits with an edit between")


def test_fit_batched_with_an_optimizer_without_array_twin_trains_on_the_values():
    class Halving(SGD):
        def step(self):
            super().step()
            self.lr *= 0.5

    X, y = make_moons(30, noise=0.2, seed=3)
    runs = [train(b, "mse", lambda ps: Halving(ps, lr=0.2), X, y) for b in ("eager", "batched")]
    assert_same_training(*runs)


def test_fit_takes_numpy_arrays_on_every_backend_and_batched_never_expands_them(monkeypatch):
    """X (N, F) float32 and y as class indices (N,) or targets (N, k): every backend trains as
    on lists; the batched backend never turns X into rows of Python floats."""
    np = pytest.importorskip("numpy")
    X, y = make_spiral(60, classes=3, seed=4)
    X32, y_int = np.array(X, dtype=np.float32), np.array(y, dtype=np.int64)
    X_seen = [[float(v) for v in row] for row in X32.tolist()]  # what float32 features are
    adam = lambda ps: Adam(ps, lr=0.05)  # noqa: E731
    reference = train("eager", "cross_entropy", adam, X_seen, y, nouts=(8, 3), batch_size=16)
    for backend in ("eager", "compiled"):
        assert_same_training(reference, train(backend, "cross_entropy", adam, X32, y_int, nouts=(8, 3), batch_size=16))
    import nn.train

    def no_rows(*args):
        raise AssertionError("the batched backend expanded X into Python rows")

    monkeypatch.setattr(nn.train, "as_rows", no_rows)
    assert_same_training(reference, train("batched", "cross_entropy", adam, X32, y_int, nouts=(8, 3), batch_size=16))
    Y = np.column_stack([X32[:, 0] + X32[:, 1], X32[:, 0] * X32[:, 1]]).astype(np.float64)
    sgd = lambda ps: SGD(ps, lr=0.05)  # noqa: E731
    monkeypatch.undo()
    want = train("eager", "mse", sgd, X_seen, Y.tolist(), nouts=(6, 2))
    monkeypatch.setattr(nn.train, "as_rows", no_rows)
    assert_same_training(want, train("batched", "mse", sgd, X32, Y, nouts=(6, 2)))


def test_fit_batched_without_numpy_names_the_fast_extra_before_training(hide_numpy):
    X, y = make_moons(10, noise=0.1, seed=0)
    model = MLP(2, [3, 1], seed=0)
    before = [p.data for p in model.parameters()]
    hide_numpy()
    with pytest.raises(ImportError, match=r"fit\(\): backend='batched' needs numpy: pip install 'valuegrad\[fast\]'"):
        fit(model, X, y, epochs=1, progress=False, backend="batched")
    assert [p.data for p in model.parameters()] == before


# -- issue 22 items 5 and 12 --------------------------------------------------------------------------

def test_fit_batched_refuses_a_loss_that_branches_on_the_data():
    """Issue 22 item 5: a loss picking (p-t)**2 or |p-t| by the target's value trained
    differently from eager without a word; now the first batch where it matters is refused."""
    from autograd import Value

    def picky(preds, targets):
        terms = []
        for p, t in zip(preds, targets):
            value = t.data if isinstance(t, Value) else t
            terms.append((p - t) ** 2 if value > 0.5 else abs(p - t))
        return sum(terms[1:], terms[0]) * (1.0 / len(terms))

    X = [[i / 10.0] for i in range(20)]
    y = [0.2 if i % 2 else 0.9 for i in range(20)]
    fit(MLP(1, [4, 1], seed=0), X, y, loss=picky, epochs=1, batch_size=5, progress=False)  # eager trains
    with pytest.raises(ValueError, match=r"loss 'picky' gives .* on a batch where the graph traced from one "
                                         r"sample gives .*branch on the data"):
        fit(MLP(1, [4, 1], seed=0), X, y, loss=picky, epochs=1, batch_size=5, progress=False, backend="batched")


def test_a_callable_loss_gets_the_same_target_types_on_every_backend():
    """Issue 22 item 5: number targets arrive as Values on eager and batched alike (eager passed
    floats), class indices as ints, multi-output targets as lists of Values."""
    seen: dict[str, set] = {}

    def recording(backend):
        def loss(preds, targets):
            seen.setdefault(backend, set()).update(
                tuple(type(v).__name__ for v in t) if isinstance(t, list) else type(t).__name__ for t in targets)
            pairs = [(p if isinstance(p, list) else [p], t if isinstance(t, list) else [t])
                     for p, t in zip(preds, targets)]
            terms = [(a - b) ** 2 for ps, ts in pairs for a, b in zip(ps, ts)]
            return sum(terms[1:], terms[0]) * (1.0 / len(preds))
        return loss

    X = [[i / 10.0, (i % 3) / 3.0] for i in range(12)]
    for y, nout, want in (([a - b for a, b in X], 1, {"Value"}),
                          ([[a, b] for a, b in X], 2, {("Value", "Value")})):
        seen.clear()
        for backend in ("eager", "batched"):
            fit(MLP(2, [3, nout], seed=0), X, y, loss=recording(backend), epochs=1, batch_size=4, progress=False,
                backend=backend)
        assert seen == {"eager": want, "batched": want}

    def indexing(backend):
        def loss(preds, targets):
            seen.setdefault(backend, set()).update(type(t).__name__ for t in targets)
            return nn.cross_entropy(preds, targets)
        return loss

    seen.clear()
    labels = [i % 3 for i in range(12)]
    for backend in ("eager", "batched"):
        fit(MLP(2, [3, 3], seed=0), X, labels, loss=indexing(backend), task="classification", epochs=1, batch_size=4,
            progress=False, backend=backend)
    assert seen == {"eager": {"int"}, "batched": {"int"}}


def test_fit_batched_says_when_a_loss_needs_float_targets():
    def as_float(preds, targets):
        return sum(((p - float(t)) ** 2 for p, t in zip(preds, targets[1:])), (preds[0] - float(targets[0])) ** 2)

    X, y = [[0.0], [1.0]], [0.5, 1.5]
    with pytest.raises(TypeError, match=r"passes each target to a callable loss as a Value, on every backend .* "
                                        r"loss 'as_float' "
                                        r"raised TypeError"):
        fit(MLP(1, [2, 1], seed=0), X, y, loss=as_float, epochs=1, progress=False, backend="batched")


def test_fit_batched_loss_reading_one_output_of_two():
    """Issue 22 item 12: the loss reads output 0 only; batched trains as eager (was an internal error)."""
    def first_output(preds, targets):
        return nn.mse_loss([p[0] for p in preds], targets)

    X = [[i / 10.0, (i % 3) / 3.0] for i in range(24)]
    y = [a - b for a, b in X]
    adam = lambda ps: Adam(ps, lr=0.05)  # noqa: E731
    runs = [train(b, first_output, adam, X, y, nouts=(5, 2), batch_size=8) for b in ("eager", "batched")]
    assert_same_training(*runs)


def test_callable_binary_cross_entropy_on_eager_still_keeps_only_the_weighted_term():
    """Targets reach a callable loss as Values, but as constants: nn's losses read them as the
    numbers they are, so loss=nn.binary_cross_entropy trains as loss="bce" does, also where a
    sigmoid output is exactly 0 (0 x log 0 would be nan with a target leaf)."""
    histories, weights = [], []
    for loss in ("bce", nn.binary_cross_entropy):
        model = MLP(1, [1], out_activation="sigmoid", seed=0)
        model.layers[0].neurons[0].w[0].data = -1000.0  # sigmoid(-1000 x) is exactly 0.0 for x >= 1
        # a callable's task defaults to regression: its targets stay numbers (classification would make them ints)
        history = fit(model, [[1.0], [2.0], [-0.5]], [0.0, 0.0, 1.0], loss=loss, epochs=3, batch_size=3,
                      progress=False, optimizer=SGD(model.parameters(), lr=0.1))
        histories.append(history.loss)
        weights.append([p.data for p in model.parameters()])
    assert all(math.isfinite(x) for x in histories[0])
    assert histories[0] == histories[1] and weights[0] == weights[1]
