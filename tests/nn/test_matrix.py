"""nn.backprop_matrices: the matrix equations of backpropagation against the scalar graph and fit's batch-mean loss."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

import nn
from nn import MLP, backprop_matrices
from nn import matrix as matrix_module
from nn.train import LOSS_TABLE

np = pytest.importorskip("numpy", reason="backprop_matrices needs numpy (the `fast` extra)")

HIDDEN = ("sigmoid", "tanh", "relu", "linear")
OUTPUT = {"mse": ("sigmoid", "tanh", "relu", "linear"), "bce_with_logits": ("linear",), "cross_entropy": ("linear",)}


def batch(loss: str, size: int, nin: int, nout: int, seed: int) -> tuple:
    """Random features and targets of the kind ``loss`` reads."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(size, nin))
    if loss == "cross_entropy":
        return X, rng.integers(0, nout, size=size)
    if loss == "bce_with_logits":
        return X, rng.uniform(0.0, 1.0, size=(size, nout))
    return X, rng.normal(size=(size, nout))


def engine_batch_grads(model: MLP, X, Y, loss: str) -> dict:
    """fit's own step: the model's forward per sample, the named loss over the batch, one backward."""
    preds = [model(row) for row in X.tolist()]
    targets = [int(t) for t in Y] if loss == "cross_entropy" else [r[0] if len(r) == 1 else r for r in Y.tolist()]
    model.zero_grad()
    LOSS_TABLE[loss].function(preds, targets).backward()
    grads = {id(p): p.grad for p in model.parameters()}
    model.zero_grad()
    return grads


@pytest.mark.parametrize("size", [1, 16, 32])
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("loss", list(OUTPUT))
def test_backprop_matrices_equal_the_engine_grads_of_the_batch_mean_loss(loss, hidden, size):
    """Every activation and loss, B = 1/16/32: the built-in check passes, and dW, db are what
    backward() of fit's batch loss puts into the parameters' .grad."""
    nout = 3 if loss != "bce_with_logits" else 1
    out = OUTPUT[loss][size % len(OUTPUT[loss])]
    model = MLP(4, [5, 3, nout], hidden, out_activation=out, seed=size)
    X, Y = batch(loss, size, 4, nout, seed=size + len(hidden))
    layers = backprop_matrices(model, X, Y if nout > 1 or loss == "cross_entropy" else Y[:, 0], loss=loss)
    grads = engine_batch_grads(model, X, Y, loss)
    for layer, module in zip(layers, model.layers):
        expected_dW = np.array([[grads[id(w)] for w in neuron.w] for neuron in module.neurons])
        expected_db = np.array([grads[id(neuron.b)] for neuron in module.neurons])
        np.testing.assert_allclose(layer.dW, expected_dW, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(layer.db, expected_db, rtol=1e-12, atol=1e-15)


@given(
    widths=st.lists(st.integers(1, 5), min_size=0, max_size=3),
    hidden=st.sampled_from(HIDDEN),
    loss=st.sampled_from(list(OUTPUT)),
    size=st.sampled_from([1, 16, 32]),
    seed=st.integers(0, 2**16),
)
def test_backprop_matrices_check_passes_on_random_mlps(widths, hidden, loss, size, seed):
    """Random depth and widths: the matrix equations agree with the scalar graph, and the
    forward numbers are the model's own outputs."""
    nout = 1 if loss == "bce_with_logits" else 2 + seed % 3
    out = OUTPUT[loss][seed % len(OUTPUT[loss])]
    model = MLP(3, [*widths, nout], hidden, out_activation=out, seed=seed)
    X, Y = batch(loss, size, 3, nout, seed)
    layers = backprop_matrices(model, X, Y, loss=loss)
    outputs = [model(row) for row in X.tolist()]
    outputs = [[row.data] if nout == 1 else [v.data for v in row] for row in outputs]
    np.testing.assert_allclose(layers[-1].a, outputs, rtol=1e-13, atol=1e-15)


def test_backprop_matrices_field_shapes_and_layout():
    """a_in (B,n), W (m,n) with row j the weights into neuron j, b (m,), z/a/delta (B,m), dW (m,n), db (m,)."""
    model = MLP(2, [3, 2], "sigmoid", out_activation="sigmoid", seed=0)
    X, Y = batch("mse", 5, 2, 2, seed=0)
    first, second = backprop_matrices(model, X, Y)
    shapes = {name: getattr(first, name).shape for name in ("a_in", "W", "b", "z", "a", "delta", "dW", "db")}
    assert shapes == {"a_in": (5, 2), "W": (3, 2), "b": (3,), "z": (5, 3), "a": (5, 3), "delta": (5, 3),
                      "dW": (3, 2), "db": (3,)}
    assert second.W.shape == (2, 3) and second.a_in is first.a  # a^(l-1) is the layer below's a
    assert second.W[1, 2] == model.layers[1].neurons[1].w[2].data  # w_(j,k): to neuron 1 from neuron 2
    np.testing.assert_array_equal(first.a_in, X)
    assert (first.activation, second.activation) == ("sigmoid", "sigmoid")


def test_backprop_matrices_equations_by_hand():
    """One sample, one sigmoid neuron, MSE: delta = 2(a - y) s(z)(1 - s(z)), dW = delta x."""
    model = MLP(2, [1], out_activation="sigmoid", seed=0)
    model.load_state_dict({"layers.0.weight": [[0.5, -0.25]], "layers.0.bias": [0.125]})
    (layer,) = backprop_matrices(model, [[2.0, 4.0]], [0.75])
    z = 0.5 * 2.0 - 0.25 * 4.0 + 0.125
    a = 1.0 / (1.0 + np.exp(-z))
    delta = 2.0 * (a - 0.75) * a * (1.0 - a)
    assert layer.z[0, 0] == z
    assert layer.delta[0, 0] == pytest.approx(delta, rel=1e-14)
    np.testing.assert_allclose(layer.dW, [[delta * 2.0, delta * 4.0]], rtol=1e-14)


def test_backprop_matrices_mini_batch_is_the_mean_of_single_samples():
    """dW of a batch = mean of the single-sample dW (fit's batch mean); delta rows are per sample."""
    model = MLP(3, [4, 2], "tanh", seed=7)
    X, Y = batch("mse", 16, 3, 2, seed=7)
    whole = backprop_matrices(model, X, Y)
    singles = [backprop_matrices(model, X[i : i + 1], Y[i : i + 1]) for i in range(16)]
    for index, layer in enumerate(whole):
        np.testing.assert_allclose(layer.dW, np.mean([s[index].dW for s in singles], axis=0), rtol=1e-12)
        np.testing.assert_allclose(layer.delta, np.vstack([s[index].delta for s in singles]), rtol=1e-12)


def test_backprop_matrices_cross_entropy_output_delta_is_softmax_minus_one_hot():
    model = MLP(2, [4, 3], "relu", seed=3)
    X, labels = batch("cross_entropy", 8, 2, 3, seed=3)
    output = backprop_matrices(model, X, labels, loss="cross_entropy")[-1]
    softmax = np.exp(output.z) / np.exp(output.z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(output.delta, softmax - np.eye(3)[labels], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_backprop_matrices_detects_a_wrong_recurrence(activation):
    """sigma' of a instead of z in the recurrence: the built-in check names the layer and field."""
    model = MLP(2, [3, 2], activation, out_activation=activation, seed=1)
    X, Y = batch("mse", 4, 2, 2, seed=1)
    wrong = lambda act, z, a: matrix_module.sigma_prime(act, a)  # noqa: E731
    with pytest.raises(ValueError, match=r"layer 1 delta: the matrix equations and the scalar graph disagree"):
        matrix_module._backprop_matrices(model, X, Y, loss="mse", sigma_prime_of=wrong)


def test_backprop_matrices_detects_a_recurrence_without_sigma_prime():
    """Dropping the (.) sigma'(z^l) of the hidden layers is caught in layer 0 (the output layer stays right)."""
    model = MLP(2, [3, 2], "sigmoid", seed=2)
    X, Y = batch("mse", 4, 2, 2, seed=2)
    hidden_ones = lambda act, z, a: np.ones_like(z) if act == "sigmoid" else matrix_module.sigma_prime(act, z)  # noqa: E731
    with pytest.raises(ValueError, match=r"layer 0 delta"):
        matrix_module._backprop_matrices(model, X, Y, loss="mse", sigma_prime_of=hidden_ones)


def test_backprop_matrices_leaves_the_model_grads_alone():
    model = MLP(2, [3, 1], seed=4)
    for i, p in enumerate(model.parameters()):
        p.grad = float(i)
    backprop_matrices(model, *batch("mse", 4, 2, 1, seed=4))
    assert [p.grad for p in model.parameters()] == [float(i) for i in range(len(model.parameters()))]


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        (([[1.0, 2.0]], [0.0]), {"loss": "hinge"}, ValueError, "loss must be one of 'mse'"),
        (([1.0, 2.0], [0.0]), {}, ValueError, r"X must have shape \(B, 2\)"),
        (([[1.0, 2.0]], [[0.0, 1.0]]), {}, ValueError, r"needs Y of shape \(1, 1\)"),
        (([[1.0, 2.0]], [2.0]), {"loss": "bce_with_logits"}, ValueError, r"targets in \[0, 1\]"),
        (([[1.0, 2.0]], [0]), {"loss": "cross_entropy"}, ValueError, r"one output per class"),
        (([[float("nan"), 2.0]], [0.0]), {}, ValueError, r"X holds a non-finite value at \(0, 0\): nan"),
        (([[1.0, 2.0]], [float("inf")]), {}, ValueError, r"Y holds a non-finite value at \(0,\): inf"),
        (([["a", 2.0]], [0.0]), {}, TypeError, "X must be an array of real numbers, got list"),
    ],
)
def test_backprop_matrices_rejects_bad_arguments(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        backprop_matrices(MLP(2, [1], seed=0), *args, **kwargs)


def test_backprop_matrices_cross_entropy_rejects_a_label_out_of_range():
    with pytest.raises(ValueError, match=r"3 class indices in 0..1"):
        backprop_matrices(MLP(2, [2], seed=0), [[0.0, 1.0]] * 3, [0, 1, 2], loss="cross_entropy")


def test_backprop_matrices_rejects_a_model_without_layers():
    with pytest.raises(TypeError, match="model must be an nn.MLP"):
        backprop_matrices(nn.Neuron(2), [[0.0, 1.0]], [0.0])


# -- the inverse view: the matrix products compile_batched emits for an MLP's layers ------------------


def layer_products(source: str, section: str) -> list[list[str]]:
    """The matrix-product lines of each layer group (``# group k: m x dot (matrix product``) in one
    function of a BatchedGraph's generated source, in the order the function runs them."""
    with_inputs = source.split("def _backward_params(")[0]  # the backward that also gives d loss / d inputs
    body = with_inputs.split("def _backward(")[0 if section == "forward" else 1]
    groups = body.split("    # group ")[1:]
    return [[line.strip() for line in group.splitlines() if "_matmul(" in line]
            for group in groups if "(matrix product" in group.splitlines()[0]]


@pytest.mark.parametrize(("activation", "widths"), [("sigmoid", [3, 2]), ("tanh", [5, 4, 2]), ("relu", [6, 6, 6, 1])])
def test_compile_batched_emits_one_product_forward_and_two_backward_per_layer(activation, widths):
    """Forward Z = W X + b is one product per layer; backward is G_X = W^T G (delta passed down)
    and G_W = G X^T (the batch sum of delta a^T): two, and nothing else multiplies matrices."""
    from autograd import Value, compile_batched

    model = MLP(3, widths, activation, seed=0)
    inputs = [Value(0.0) for _ in range(3)]
    targets = [Value(0.0) for _ in range(widths[-1])]
    out = model(inputs)
    graph = compile_batched(nn.mse_loss(out, targets), inputs + targets)
    forward, backward = layer_products(graph.source, "forward"), layer_products(graph.source, "backward")
    assert [len(products) for products in forward] == [1] * len(widths)
    assert [len(products) for products in backward] == [2] * len(widths)
    for products in backward:
        assert re.search(r"_matmul\(_WT\d+, g, out=GV\[.+\]\)$", products[0])  # W^T delta: the recurrence
        # delta a^T: the weight gradient (with a row of ones under a: the biases' too, in place)
        assert re.search(r"_matmul\(g, V\[.+\]\.T(, out=_GA\d+)?\)$", products[1])
    assert graph.source.split("def _backward_params(")[0].count("_matmul(") == 3 * len(widths)


def test_backprop_matrices_relu_at_zero_has_slope_zero_in_both_views():
    """Zero inputs and biases put every hidden z at exactly 0: relu'(0) = 0 in numpy as in the engine's row."""
    model = MLP(2, [3, 1], "relu", seed=5)
    hidden, output = backprop_matrices(model, np.zeros((4, 2)), np.ones(4))
    assert np.all(hidden.z == 0.0) and np.all(hidden.delta == 0.0) and np.all(hidden.dW == 0.0)
    assert np.all(output.delta == 2.0 * (output.a - 1.0))
