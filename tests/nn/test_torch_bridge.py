"""Tests for nn.to_torch / nn.from_torch: exact round trips, equal outputs and gradients (float64), clear errors."""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import nn
from autograd import Value
from nn import MLP
from nn.module import ACTIVATIONS

TOL = 1e-12


def _close(a, b):
    return math.isclose(a, b, rel_tol=TOL, abs_tol=TOL) or (math.isnan(a) and math.isnan(b))


def test_missing_torch_is_an_import_error_with_the_pinned_install_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail, torch installed or not
    for call in (lambda: nn.to_torch(MLP(2, [1], seed=0)), lambda: nn.from_torch(object())):
        with pytest.raises(ImportError, match=re.escape("pip install 'valuegrad[torch]'")) as info:
            call()
        assert "torch==2.13.0" in str(info.value)
        assert re.match(r"nn\.(to|from)_torch\(\) needs PyTorch", str(info.value))


# -- MLPs of random shapes --------------------------------------------------------------------------

@st.composite
def mlps_and_inputs(draw):
    nin = draw(st.integers(1, 5))
    nouts = draw(st.lists(st.integers(1, 5), min_size=1, max_size=4))
    model = MLP(nin, nouts, draw(st.sampled_from(ACTIVATIONS)),
                out_activation=draw(st.sampled_from(ACTIVATIONS)), seed=draw(st.integers(0, 2**32)))
    # biases start at 0: give them values too, so every parameter is exercised
    for p in model.parameters():
        if p.label.endswith(".b"):
            p.data = draw(st.floats(-1.0, 1.0))
    finite = st.floats(-3.0, 3.0, allow_nan=False)
    rows = draw(st.lists(st.lists(finite, min_size=nin, max_size=nin), min_size=1, max_size=4))
    return model, rows


def _our_outputs(model, rows):
    outs = [model(row) for row in rows]
    return [[o] if isinstance(o, Value) else o for o in outs]


@given(mlps_and_inputs())
def test_to_torch_outputs_and_every_gradient_equal_valuegrads(torch, case):
    model, rows = case
    net = nn.to_torch(model)
    ours = _our_outputs(model, rows)
    theirs = net(torch.tensor(rows, dtype=torch.float64))
    assert theirs.dtype == torch.float64 and tuple(theirs.shape) == (len(rows), model.nouts[-1])
    for our_row, their_row in zip(ours, theirs.tolist()):
        assert all(_close(o.data, t) for o, t in zip(our_row, their_row)), (our_row, their_row)
    # the same loss: sum of squared outputs plus a weighted sum, so no gradient is trivially equal
    loss = Value(0.0)
    for our_row in ours:
        for k, o in enumerate(our_row):
            loss = loss + o * o + (k + 1) * o
    model.zero_grad()
    loss.backward()
    weights = torch.arange(1, model.nouts[-1] + 1, dtype=torch.float64)
    (theirs * theirs + theirs * weights).sum().backward()
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    assert len(linears) == len(model.layers)
    for layer, linear in zip(model.layers, linears):
        for j, neuron in enumerate(layer.neurons):
            for k, w in enumerate(neuron.w):
                assert _close(w.grad, linear.weight.grad[j, k].item()), (w.label, w.grad, linear.weight.grad[j, k])
            assert _close(neuron.b.grad, linear.bias.grad[j].item()), (neuron.b.label, neuron.b.grad)


@given(mlps_and_inputs())
def test_round_trip_valuegrad_torch_valuegrad_is_exact(torch, case):
    model, rows = case
    back = nn.from_torch(nn.to_torch(model))
    expected = model.architecture()
    if len(model.nouts) == 1:  # one layer: the hidden activation is unused, torch has no trace of it
        expected["activation"] = "relu"
    assert back.architecture() == expected
    assert [p.data.hex() for p in back.parameters()] == [p.data.hex() for p in model.parameters()]
    assert [[o.data for o in row] for row in _our_outputs(back, rows)] == [
        [o.data for o in row] for row in _our_outputs(model, rows)]
    again = nn.to_torch(back)
    for a, b in zip(nn.to_torch(model).state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)


def test_round_trip_torch_valuegrad_torch_is_exact(torch):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 8), torch.nn.Tanh(),
                              torch.nn.Linear(8, 2), torch.nn.Sigmoid()).double()
    model = nn.from_torch(net)
    assert model.architecture() == {"nin": 3, "nouts": [8, 8, 2], "activation": "tanh", "out_activation": "sigmoid"}
    back = nn.to_torch(model)
    assert [type(m).__name__ for m in back] == [type(m).__name__ for m in net]
    for (ka, a), (kb, b) in zip(net.state_dict().items(), back.state_dict().items()):
        assert ka == kb and torch.equal(a, b)
    x = torch.randn(5, 3, dtype=torch.float64)
    assert torch.allclose(back(x), net(x), rtol=0, atol=0)


def test_to_torch_layout_dtype_and_rng_untouched(torch):
    model = MLP(2, [4, 4, 1], seed=3)
    state = torch.random.get_rng_state()
    net = nn.to_torch(model)
    assert torch.equal(torch.random.get_rng_state(), state)  # skip_init: no random draw
    assert [type(m).__name__ for m in net] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert net[0].weight.dtype == torch.float64
    assert net[2].weight.tolist() == model.state_dict()["layers.1.weight"]
    single = nn.to_torch(model, dtype=torch.float32)
    assert single[0].weight.dtype == torch.float32
    assert single[0].weight.tolist() == [[float(torch.tensor(w, dtype=torch.float32)) for w in row]
                                         for row in model.state_dict()["layers.0.weight"]]
    with pytest.raises(TypeError, match=r"nn.to_torch\(\): dtype must be a floating torch.dtype.*torch.int64"):
        nn.to_torch(model, dtype=torch.int64)
    with pytest.raises(TypeError, match=r"nn.to_torch\(\): model must be an nn.MLP, got Sequential"):
        nn.to_torch(net)


def test_from_torch_converts_float32_exactly_and_missing_bias_as_zero(torch):
    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Linear(2, 3, bias=False), torch.nn.Identity(), torch.nn.ReLU(inplace=True),
                              torch.nn.Linear(3, 1))
    model = nn.from_torch(net)
    assert model.architecture() == {"nin": 2, "nouts": [3, 1], "activation": "relu", "out_activation": "linear"}
    assert model.state_dict()["layers.0.weight"] == net[0].weight.double().tolist()
    assert model.state_dict()["layers.0.bias"] == [0.0, 0.0, 0.0]
    x = [0.25, -1.5]
    assert model(x).data == pytest.approx(net(torch.tensor([x])).item(), rel=1e-6)  # torch ran in float32


def test_load_state_dict_takes_torch_tensors_and_a_torch_saved_file(torch, tmp_path):
    model = MLP(3, [5, 2], "sigmoid", seed=4)
    target = MLP(3, [5, 2], "sigmoid", seed=5)
    target.load_state_dict(nn.to_torch(model).state_dict())  # keys 0.weight, 2.weight, ...
    assert target.state_dict() == model.state_dict()
    path = Path(tmp_path) / "model.pt"
    torch.save(nn.to_torch(model).state_dict(), path)
    again = MLP(3, [5, 2], "sigmoid", seed=6)
    again.load_state_dict(torch.load(path, weights_only=True))
    assert again.state_dict() == model.state_dict()
    tensors = {k: torch.tensor(v, dtype=torch.float64) for k, v in model.state_dict().items()}
    third = MLP(3, [5, 2], "sigmoid", seed=7)
    third.load_state_dict(tensors)  # our own key names with tensors as values
    assert third.state_dict() == model.state_dict()


UNSUPPORTED = [
    (lambda torch: torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.LeakyReLU(), torch.nn.Linear(3, 1)),
     r"layer 1 LeakyReLU\(negative_slope=0.01\) is not supported; an MLP converts from Linear layers with ReLU, "
     r"Tanh, Sigmoid or Identity between them"),
    (lambda torch: torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Dropout(0.1),
                                 torch.nn.Conv1d(1, 1, 1)),
     r"layer 2 Dropout\(p=0.1, inplace=False\) is not supported"),
    (lambda torch: torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(2, 1)),
     r"layer 0 ReLU\(\) comes before the first Linear layer"),
    (lambda torch: torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Tanh(), torch.nn.Linear(3, 1)),
     r"layer 2 Tanh\(\) follows another activation"),
    (lambda torch: torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(4, 1)),
     r"layer 1 Linear\(in_features=4, out_features=1, bias=True\) takes 4 inputs but the Linear before it gives 3"),
    (lambda torch: torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 3), torch.nn.Tanh(),
                                 torch.nn.Linear(3, 1)),
     r"the hidden layers use different activations \(after Linear 0: relu, after Linear 1: tanh\)"),
    (lambda torch: torch.nn.Sequential(), r"the Sequential has no Linear layer"),
]


@pytest.mark.parametrize("index", range(len(UNSUPPORTED)))
def test_from_torch_names_the_first_unsupported_layer(torch, index):
    build, message = UNSUPPORTED[index]
    with pytest.raises(ValueError, match=r"nn.from_torch\(\): " + message):
        nn.from_torch(build(torch))


def test_from_torch_refuses_a_module_that_is_not_a_sequential(torch):
    expected = r"nn.from_torch\(\): module must be exactly a torch.nn.Sequential .*got a Linear"
    with pytest.raises(TypeError, match=expected):
        nn.from_torch(torch.nn.Linear(2, 1))
    named = torch.nn.Sequential()
    named.add_module("encoder", torch.nn.Linear(2, 2))
    named.add_module("act", torch.nn.GELU())
    with pytest.raises(ValueError, match=r"layer 1 \('act'\) GELU\(approximate='none'\) is not supported"):
        nn.from_torch(named)


def test_from_torch_refuses_a_sequential_subclass_whose_forward_differs(torch):
    """Issue 22.10: a subclass's own forward (here ``+ 1``) was ignored: the MLP computed something else."""

    class PlusOne(torch.nn.Sequential):
        def forward(self, x):
            return super().forward(x) + 1

    net = PlusOne(torch.nn.Linear(2, 1))
    with pytest.raises(TypeError, match=r"nn.from_torch\(\): module must be exactly a torch.nn.Sequential .*"
                                        r"\(not a subclass, whose forward may differ\), got a subclass of "
                                        r"torch.nn.Sequential PlusOne"):
        nn.from_torch(net)


def _times_ten(module, inputs, output):
    return output * 10


def _double_input(module, inputs):
    return (inputs[0] * 2,)


@pytest.mark.parametrize("where", ["sequential", "layer"])
@pytest.mark.parametrize("kind", ["hook", "pre-hook"])
def test_from_torch_refuses_forward_hooks_then_converts_once_removed(torch, where, kind):
    """Issue 22.10: a x10 forward hook was ignored silently; refused (naming the module) while it is there."""
    net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1)).double()
    hooked = net if where == "sequential" else net[2]
    handle = (hooked.register_forward_hook(_times_ten) if kind == "hook"
              else hooked.register_forward_pre_hook(_double_input))
    name = r"the Sequential" if where == "sequential" else r"layer 2 Linear\(in_features=3"
    with pytest.raises(ValueError, match=rf"nn.from_torch\(\): {name}.* has forward hooks or pre-hooks"):
        nn.from_torch(net)
    handle.remove()
    model = nn.from_torch(net)
    x = [0.5, -0.25]
    assert model(x).data == pytest.approx(net(torch.tensor([x], dtype=torch.float64)).item(), rel=1e-12)


def test_from_torch_refuses_global_forward_hooks(torch):
    handle = torch.nn.modules.module.register_module_forward_hook(_times_ten)
    try:
        with pytest.raises(ValueError, match=r"nn.from_torch\(\): global forward hooks are registered"):
            nn.from_torch(torch.nn.Sequential(torch.nn.Linear(2, 1)))
    finally:
        handle.remove()


def test_from_torch_refuses_a_forward_assigned_on_a_layer(torch):
    net = torch.nn.Sequential(torch.nn.Linear(2, 1))
    net[0].forward = lambda x: x.sum(dim=1, keepdim=True)
    with pytest.raises(ValueError, match=r"layer 0 Linear\(.*\) has its own forward assigned on the instance"):
        nn.from_torch(net)


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors is a no-op:UserWarning")
@pytest.mark.parametrize("shape", [(3, 0), (0, 3)])
def test_from_torch_refuses_a_zero_width_linear(torch, shape):
    """Issue 22.10: Linear(3, 0) built a model that MLP() and load refuse and to_torch crashes on."""
    nin, nout = shape
    with pytest.raises(ValueError, match=rf"nn.from_torch\(\): layer 0 Linear\(in_features={nin}, "
                                         rf"out_features={nout}, bias=True\) has zero width"):
        nn.from_torch(torch.nn.Sequential(torch.nn.Linear(nin, nout)))
    with pytest.raises(ValueError, match=r"layer 2 .* has zero width"):
        nn.from_torch(torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 0)))


# -- the docs' section runs ------------------------------------------------------------------------------

def _docs_block(heading: str) -> str:
    text = (Path(__file__).resolve().parents[2] / "docs" / "nn.md").read_text()
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, f"expected one python block under '{heading}', found {len(blocks)}"
    return blocks[0]


@pytest.mark.slow
def test_docs_when_you_outgrow_scalars_runs(torch, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the example writes moons.pt
    namespace: dict = {}
    exec(compile(_docs_block("When you outgrow scalars"), "docs/nn.md", "exec"), namespace)
    printed = capsys.readouterr().out
    accuracy = float(re.search(r"accuracy (\S+)", printed).group(1))
    assert accuracy >= 0.97, printed
    assert (tmp_path / "moons.pt").exists()
    back, net = namespace["back"], namespace["net"]  # back = nn.from_torch(net) after training in torch
    for (name, tensor), (ours, values) in zip(net.state_dict().items(), back.state_dict().items()):
        assert tensor.tolist() == values, (name, ours)
