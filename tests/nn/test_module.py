"""Tests for nn.module: Module, Neuron, Layer, MLP (names, init, validation, gradients, micrograd compatibility)."""

from __future__ import annotations

import math
import random

import pytest

import autograd
from autograd import Value, gradcheck, numerical_grad
from nn import MLP, Layer, Module, Neuron, mse_loss

try:
    import numpy as np
except ImportError:  # pragma: no cover - numpy is optional
    np = None

# -- names and structure ----------------------------------------------------------------------

def test_mlp_named_parameters_use_dotted_zero_based_names():
    model = MLP(2, [3, 1], seed=0)
    names = [name for name, _ in model.named_parameters()]
    assert names[:3] == ["layer0.neuron0.w0", "layer0.neuron0.w1", "layer0.neuron0.b"]
    assert names[-3:] == ["layer1.neuron0.w1", "layer1.neuron0.w2", "layer1.neuron0.b"]
    assert len(names) == 3 * 3 + 4 == len(set(names))
    assert [p for _, p in model.named_parameters()] == model.parameters()
    assert all(p.label == name for name, p in model.named_parameters())


def test_layer_and_neuron_named_parameters():
    layer = Layer(2, 2, rng=random.Random(0))
    assert [n for n, _ in layer.named_parameters()] == [
        "neuron0.w0", "neuron0.w1", "neuron0.b", "neuron1.w0", "neuron1.w1", "neuron1.b"
    ]
    neuron = Neuron(3, rng=random.Random(0))
    assert [n for n, _ in neuron.named_parameters()] == ["w0", "w1", "w2", "b"]
    assert neuron.parameters() == neuron.w + [neuron.b]


def test_mlp_parameter_count_and_repr():
    model = MLP(2, [16, 16, 1], seed=0)
    assert len(model.parameters()) == (2 * 16 + 16) + (16 * 16 + 16) + (16 + 1) == 337
    text = repr(model)
    assert "MLP(2, [16, 16, 1]" in text and "relu" in text and "linear" in text and "337 parameters" in text
    assert repr(Layer(2, 3, "tanh")) == "Layer(2, 3, activation='tanh')"
    assert repr(Neuron(4, "sigmoid")) == "Neuron(4, activation='sigmoid')"


def test_mlp_activations_per_layer():
    model = MLP(2, [4, 4, 3], "tanh", out_activation="sigmoid", seed=1)
    assert [layer.activation for layer in model.layers] == ["tanh", "tanh", "sigmoid"]
    out = model([0.3, -0.2])
    assert isinstance(out, list) and len(out) == 3
    assert [v.op for v in out] == ["sigmoid"] * 3
    assert all(0.0 < v.data < 1.0 for v in out)


def test_mlp_returns_single_value_for_width_one_and_layer_always_a_list():
    model = MLP(3, [4, 1], seed=0)
    assert isinstance(model([1.0, 2.0, 3.0]), Value)
    out = Layer(3, 1, rng=random.Random(0))([1.0, 2.0, 3.0])
    assert isinstance(out, list) and len(out) == 1


def test_neuron_forward_is_one_fused_dot_node():
    neuron = Neuron(3, "tanh", rng=random.Random(5))
    neuron.b.data = 0.25
    x = [0.5, -1.0, 2.0]
    out = neuron(x)
    assert out.op == "tanh"
    (pre,) = out.parents
    assert pre.op == "dot" and len(pre.parents) == 7
    expected = math.tanh(sum(w.data * xi for w, xi in zip(neuron.w, x)) + 0.25)
    assert out.data == pytest.approx(expected, abs=1e-15)


# -- initialisation -----------------------------------------------------------------------------

def test_mlp_init_is_reproducible_with_seed_and_biases_start_at_zero():
    a, b, c = MLP(2, [8, 1], seed=42), MLP(2, [8, 1], seed=42), MLP(2, [8, 1], seed=43)
    assert a.state_dict() == b.state_dict()
    assert a.state_dict() != c.state_dict()
    assert all(p.data == 0.0 for name, p in a.named_parameters() if name.endswith(".b"))


def test_mlp_init_bounds_are_he_for_relu_and_lecun_otherwise():
    model = MLP(50, [40, 1], seed=0)
    hidden = [w.data for n in model.layers[0].neurons for w in n.w]
    out = [w.data for w in model.layers[1].neurons[0].w]
    assert max(map(abs, hidden)) <= math.sqrt(6 / 50)
    assert max(map(abs, hidden)) > 0.9 * math.sqrt(6 / 50)  # 2000 draws reach close to the edge
    assert max(map(abs, out)) <= math.sqrt(3 / 40)
    # uniform(-a, a) has variance a^2 / 3: 2/nin for He
    variance = sum(w * w for w in hidden) / len(hidden)
    assert variance == pytest.approx(2 / 50, rel=0.1)


def test_neuron_without_rng_uses_global_random_like_micrograd():
    random.seed(7)
    a = Neuron(5)
    random.seed(7)
    b = Neuron(5)
    assert [w.data for w in a.w] == [w.data for w in b.w]


# -- state dict ------------------------------------------------------------------------------

def test_state_dict_round_trip_and_strict_load():
    a, b = MLP(2, [3, 1], seed=0), MLP(2, [3, 1], seed=1)
    b.load_state_dict(a.state_dict())
    assert b.state_dict() == a.state_dict()
    x = [0.1, 0.7]
    assert b(x).data == a(x).data


def test_state_dict_uses_pytorch_names_and_shapes():
    model = MLP(3, [4, 2], "tanh", seed=0)
    state = model.state_dict()
    assert list(state) == ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"]
    assert [len(state["layers.0.weight"]), len(state["layers.0.weight"][0])] == [4, 3]  # (out, in)
    assert [len(state["layers.1.weight"]), len(state["layers.1.weight"][0])] == [2, 4]
    assert state["layers.1.bias"] == [0.0, 0.0]
    # weight[j][k] is neuron j's weight on input k
    assert state["layers.1.weight"][1][3] == model.layers[1].neurons[1].w[3].data
    assert state["layers.0.weight"][2] == [w.data for w in model.layers[0].neurons[2].w]
    assert Layer(2, 3, rng=random.Random(0)).state_dict().keys() == {"weight", "bias"}


def test_load_state_dict_accepts_tuples_numpy_arrays_and_the_old_per_parameter_layout():
    a, b = MLP(2, [3, 1], seed=0), MLP(2, [3, 1], seed=1)
    b.load_state_dict({k: tuple(map(tuple, v)) if k.endswith("weight") else tuple(v)
                       for k, v in a.state_dict().items()})
    assert b.state_dict() == a.state_dict()
    numpy = pytest.importorskip("numpy", reason="the numpy part of this test needs numpy")
    c = MLP(2, [3, 1], seed=2)
    c.load_state_dict({k: numpy.array(v, dtype=numpy.float32) for k, v in a.state_dict().items()})
    assert c.layers[0].neurons[1].w[0].data == float(numpy.float32(a.layers[0].neurons[1].w[0].data))
    d = MLP(2, [3, 1], seed=3)
    d.load_state_dict({name: p.data for name, p in a.named_parameters()})  # the layout of version 1
    assert d.state_dict() == a.state_dict()


def test_load_state_dict_rejects_missing_extra_and_non_numbers():
    model = MLP(2, [2, 1], seed=0)
    state = model.state_dict()
    before = model.state_dict()
    missing = dict(state)
    del missing["layers.1.bias"]
    with pytest.raises(ValueError, match=r"missing keys \['layers.1.bias'\]"):
        model.load_state_dict(missing)
    with pytest.raises(ValueError, match="unexpected keys.*'bogus'"):
        model.load_state_dict({**state, "bogus": 1.0})
    with pytest.raises(ValueError, match=r"value for layers.0.weight\[1\]\[0\] must be a real number, got str"):
        model.load_state_dict({**state, "layers.0.weight": [[0.0, 0.0], ["0.5", 0.0]]})
    with pytest.raises(ValueError, match=r"layers.1.bias\[0\].*got bool"):
        model.load_state_dict({**state, "layers.1.bias": [True]})
    with pytest.raises(ValueError, match=r"'layers.0.weight' must be a nested list of shape \(2, 2\), got 3 rows"):
        model.load_state_dict({**state, "layers.0.weight": [[0.0, 0.0]] * 3})
    with pytest.raises(ValueError, match=r"layers.0.weight\[0\] must be a list of 2 numbers .*got length 1"):
        model.load_state_dict({**state, "layers.1.bias": [0.0], "layers.0.weight": [[0.0], [0.0, 0.0]]})
    with pytest.raises(ValueError, match=r"'layers.1.bias' must be a list of 1 numbers, got float"):
        model.load_state_dict({**state, "layers.1.bias": 0.5})
    with pytest.raises(TypeError, match="state must be a dict of name -> value, got list"):
        model.load_state_dict([])
    # the old per-parameter layout keeps its own strict checks
    flat = {name: p.data for name, p in model.named_parameters()}
    del flat["layer1.neuron0.b"]
    with pytest.raises(ValueError, match=r"missing keys \['layer1.neuron0.b'\]"):
        model.load_state_dict(flat)
    with pytest.raises(ValueError, match="'layer0.neuron1.w0' must be a real number, got str"):
        model.load_state_dict({**flat, "layer1.neuron0.b": 0.0, "layer0.neuron1.w0": "0.5"})
    assert model.state_dict() == before  # nothing was half-loaded


def test_load_state_dict_of_a_torch_sequential_layout_maps_linear_layers_in_order():
    """``<k>.weight`` keys (a torch.nn.Sequential's state_dict) fill the layers by increasing k."""
    a, b = MLP(2, [3, 3, 1], seed=0), MLP(2, [3, 3, 1], seed=1)
    ours = a.state_dict()

    def sequential(layers, skip=()):
        return {f"{2 * i}.{kind}": ours[f"layers.{i}.{kind}"] for i in range(layers) for kind in ("weight", "bias")
                if (i, kind) not in skip}

    b.load_state_dict(sequential(3))
    assert b.state_dict() == ours
    with pytest.raises(ValueError, match=r"holds 2 Linear layers \(at positions \[0, 2\]\) but this MLP has 3"):
        b.load_state_dict(sequential(2))
    with pytest.raises(ValueError, match=r"missing keys \['2.bias'\]"):
        b.load_state_dict(sequential(3, skip=[(1, "bias")]))


def test_layer_load_state_dict_both_layouts():
    a, b = Layer(3, 2, rng=random.Random(0)), Layer(3, 2, rng=random.Random(1))
    b.load_state_dict(a.state_dict())
    assert b.state_dict() == a.state_dict()
    c = Layer(3, 2, rng=random.Random(2))
    c.load_state_dict({name: p.data for name, p in a.named_parameters()})
    assert c.state_dict() == a.state_dict()
    with pytest.raises(ValueError, match=r"missing keys \['bias'\]"):
        c.load_state_dict({"weight": a.state_dict()["weight"]})


def test_zero_grad_resets_every_parameter():
    model = MLP(2, [3, 1], seed=0)
    model([1.0, -1.0]).backward()
    assert any(p.grad != 0.0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())


def test_module_subclass_with_only_parameters_gets_everything_else():
    class Affine(Module):
        def __init__(self):
            self.a, self.b = Value(2.0), Value(1.0)

        def parameters(self):
            return [self.a, self.b]

        def forward(self, x):
            return self.a * x + self.b

    m = Affine()
    assert m(3.0).data == 7.0
    assert m.state_dict() == {"0": 2.0, "1": 1.0}
    m.load_state_dict({"0": 5.0, "1": -1.0})
    assert m(1.0).data == 4.0
    assert "2 parameters" in repr(m)
    assert Module().parameters() == []


# -- inputs and validation ------------------------------------------------------------------------

def test_mlp_accepts_lists_tuples_values_ints_and_numpy_rows():
    model = MLP(2, [4, 1], seed=3)
    expected = model([0.5, -2.0]).data
    assert model((0.5, -2.0)).data == expected
    assert model([Value(0.5), Value(-2.0)]).data == expected
    assert MLP(2, [4, 1], seed=3)([1, 2]).data == model([1.0, 2.0]).data
    if np is not None:
        assert model(np.array([0.5, -2.0])).data == expected


def test_mlp_gradient_flows_into_value_inputs():
    model = MLP(2, [4, 1], "tanh", seed=3)
    x = [Value(0.5), Value(-2.0)]
    model(x).backward()
    numeric = numerical_grad(lambda a, b: model([a, b]), [0.5, -2.0])
    assert [v.grad for v in x] == pytest.approx(numeric, rel=1e-6, abs=1e-9)


def test_wrong_input_length_names_layer_expected_and_got():
    model = MLP(3, [4, 1], seed=0)
    message = r"MLP layer0 \(Layer\(3, 4, activation='relu'\)\): expected 3 input features, got 2"
    with pytest.raises(ValueError, match=message):
        model([1.0, 2.0])
    with pytest.raises(ValueError, match=r"Neuron\(2, activation='relu'\): expected 2 input features, got 3"):
        Neuron(2)([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"Layer\(2, 5, activation='relu'\): expected 2 input features, got 1"):
        Layer(2, 5)([1.0])


def test_non_numeric_features_raise_type_error():
    model = MLP(2, [2, 1], seed=0)
    with pytest.raises(TypeError, match="input feature 1 must be a real number or a Value, got str"):
        model([1.0, "2"])
    with pytest.raises(TypeError, match="input must be a sequence of 2 numbers or Values, got float"):
        model(1.0)
    with pytest.raises(TypeError, match="input feature 0 .* got NoneType"):
        Neuron(2)([None, 1.0])


def test_constructor_validation():
    with pytest.raises(ValueError, match=r"MLP\(\): nin must be >= 1, got 0"):
        MLP(0, [1])
    with pytest.raises(TypeError, match=r"Neuron\(\): nin must be an int, got str"):
        Neuron("2")
    with pytest.raises(ValueError, match=r"Layer\(\): nout must be >= 1, got -1"):
        Layer(2, -1)
    with pytest.raises(ValueError, match="nouts must be a non-empty list"):
        MLP(2, [])
    with pytest.raises(TypeError, match=r"nouts\[1\] must be an int, got float"):
        MLP(2, [3, 1.5])
    with pytest.raises(ValueError, match="activation must be one of 'relu', 'tanh', 'sigmoid', 'linear', got 'gelu'"):
        Neuron(2, "gelu")
    with pytest.raises(ValueError, match="out_activation"):
        MLP(2, [1], out_activation="softmax")
    with pytest.raises(TypeError, match="nonlin must be True or False"):
        Layer(2, 2, nonlin="yes")


def test_micrograd_nonlin_alias():
    assert Neuron(3, nonlin=False).activation == "linear"
    assert Neuron(3, nonlin=True).activation == "relu"
    assert Neuron(3, False).activation == "linear"  # micrograd's positional flag
    assert Layer(3, 2, nonlin=False).activation == "linear"
    assert Neuron(3, "tanh").nonlin and not Neuron(3, "linear").nonlin


# -- gradients ------------------------------------------------------------------------------------

def _use_parameters(model: MLP, values) -> None:
    """Make the model compute with the given Values as its parameters (test helper)."""
    it = iter(values)
    for layer in model.layers:
        for neuron in layer.neurons:
            neuron.w = [next(it) for _ in neuron.w]
            neuron.b = next(it)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
def test_mlp_parameter_gradients_match_gradcheck(activation):
    model = MLP(3, [4, 3, 1], activation, seed=11)
    for i, p in enumerate(model.parameters()):  # nonzero biases so every path is exercised
        if model.named_parameters()[i][0].endswith(".b"):
            p.data = 0.1 * (i % 5) - 0.2
    start = [p.data for p in model.parameters()]
    X = [[0.2, -0.5, 0.9], [-1.0, 0.3, 0.4], [0.7, 0.8, -0.6]]
    y = [0.5, -0.25, 1.0]

    def loss(*params):
        _use_parameters(model, params)
        return mse_loss([model(x) for x in X], y)

    assert gradcheck(loss, start, eps=1e-6, atol=1e-7, rtol=1e-5)

    # The training path: .backward() into the parameters' .grad, compared to central differences.
    params = [Value(v) for v in start]
    _use_parameters(model, params)
    mse_loss([model(x) for x in X], y).backward()
    analytic = [p.grad for p in params]
    numeric = numerical_grad(loss, start)
    assert analytic == pytest.approx(numeric, rel=1e-5, abs=1e-8)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def test_mlp_2_2_1_sigmoid_gradients_equal_textbook_chain_rule():
    """dC/dw = dC/da * da/dz * dz/dw with dC/da = 2(a - y), by hand with plain floats, for every weight and bias."""
    model = MLP(2, [2, 1], "sigmoid", out_activation="sigmoid", seed=2024)
    hidden, output = model.layers[0].neurons, model.layers[1].neurons[0]
    hidden[0].b.data, hidden[1].b.data, output.b.data = 0.1, -0.3, 0.2
    x, y = [0.35, -0.9], 0.8

    loss = mse_loss(model(x), y)
    loss.backward()

    # forward by hand
    w = [[n.w[0].data, n.w[1].data] for n in hidden]
    b = [n.b.data for n in hidden]
    v = [output.w[0].data, output.w[1].data]
    c = output.b.data
    z = [w[j][0] * x[0] + w[j][1] * x[1] + b[j] for j in range(2)]
    h = [_sigmoid(zj) for zj in z]
    z_out = v[0] * h[0] + v[1] * h[1] + c
    a = _sigmoid(z_out)
    assert loss.data == pytest.approx((a - y) ** 2, abs=1e-15)

    # backward by hand
    dC_da = 2.0 * (a - y)
    da_dz = a * (1.0 - a)
    delta_out = dC_da * da_dz  # dC/dz_out
    expected = {
        "layer1.neuron0.w0": delta_out * h[0],
        "layer1.neuron0.w1": delta_out * h[1],
        "layer1.neuron0.b": delta_out * 1.0,
    }
    for j in range(2):
        delta_j = delta_out * v[j] * h[j] * (1.0 - h[j])  # dC/dz_j = dC/dz_out * dz_out/dh_j * dh_j/dz_j
        expected[f"layer0.neuron{j}.w0"] = delta_j * x[0]
        expected[f"layer0.neuron{j}.w1"] = delta_j * x[1]
        expected[f"layer0.neuron{j}.b"] = delta_j
    got = {name: p.grad for name, p in model.named_parameters()}
    assert set(got) == set(expected)
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-12, rel=1e-12), name
        assert value != 0.0


def test_mlp_under_no_grad_records_nothing():
    model = MLP(2, [3, 1], seed=0)
    with autograd.no_grad():
        out = model([1.0, 2.0])
    assert out.parents == ()
    assert out.data == model([1.0, 2.0]).data
