"""Programs written for micrograd run on valuegrad with only their imports changed.

(The demo notebook's program run verbatim is in tests/nn/test_module.py; here: the API
surface lecture code touches, and several training steps side by side with micrograd.)
"""

from __future__ import annotations

import math
import random

import pytest

import autograd
import nn


def _moons(n: int = 60) -> tuple[list[list[float]], list[int]]:
    X, y = nn.make_moons(n, noise=0.1, seed=3)
    return X, [2 * label - 1 for label in y]  # micrograd's demo uses labels -1 / +1


def _micrograd_demo_step(Value, model, X, y, k):
    """The training step of micrograd's demo notebook, verbatim apart from the data."""
    inputs = [list(map(Value, xrow)) for xrow in X]
    scores = list(map(model, inputs))
    losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    alpha = 1e-4
    reg_loss = alpha * sum((p * p for p in model.parameters()))
    total_loss = data_loss + reg_loss
    accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(y, scores)]
    model.zero_grad()
    total_loss.backward()
    learning_rate = 1.0 - 0.9 * k / 100
    for p in model.parameters():
        p.data -= learning_rate * p.grad
    return total_loss.data, sum(accuracy) / len(accuracy)


def test_micrograd_api_surface():
    """Attributes and call shapes that micrograd code and its lecture notebooks use."""
    from autograd import Value
    from nn import MLP, Layer, Neuron

    a = Value(2.0, label="a")
    b = Value(-3.0, label="b")
    c = a * b
    assert c._op == "*" and c._prev == {a, b}
    assert repr(Value(1.5)) == "Value(data=1.5, grad=0.0)"
    assert len(Neuron(3).parameters()) == 4
    assert len(Neuron(3, nonlin=False).parameters()) == 4
    assert len(Layer(3, 2).parameters()) == 8
    model = MLP(3, [4, 4, 1])
    assert len(model.parameters()) == 4 * 4 + 4 * 5 + 5
    out = model([1.0, -2.0, 0.5])
    assert isinstance(out, Value)
    assert isinstance(MLP(3, [4, 2])([1.0, 2.0, 3.0]), list)


def test_same_weights_give_micrograds_numbers():
    """With micrograd's weights copied in, losses and gradients equal micrograd's."""
    engine = pytest.importorskip("micrograd.engine", reason="micrograd==0.1.0 (dev extra) is not installed")
    micro_nn = pytest.importorskip("micrograd.nn", reason="micrograd==0.1.0 (dev extra) is not installed")

    random.seed(7)
    theirs = micro_nn.MLP(2, [8, 8, 1])
    ours = nn.MLP(2, [8, 8, 1])
    assert len(ours.parameters()) == len(theirs.parameters())
    for mine, other in zip(ours.parameters(), theirs.parameters()):
        mine.data = float(other.data)
    X, y = _moons(40)
    for k in range(5):
        loss_ours, acc_ours = _micrograd_demo_step(autograd.Value, ours, X, y, k)
        loss_theirs, acc_theirs = _micrograd_demo_step(engine.Value, theirs, X, y, k)
        # Only the order of additions inside a neuron differs (one fused dot node vs a chain).
        assert math.isclose(loss_ours, loss_theirs, rel_tol=1e-9)
        assert acc_ours == acc_theirs
        for mine, other in zip(ours.parameters(), theirs.parameters()):
            assert math.isclose(mine.data, other.data, rel_tol=1e-9, abs_tol=1e-12)


def test_manual_backward_steps_of_the_lecture():
    """The lecture backpropagates a neuron by hand: o.grad = 1.0, then node._backward() in reverse order."""
    from autograd import Value

    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    x1w1 = x1 * w1
    x2w2 = x2 * w2
    x1w1x2w2 = x1w1 + x2w2
    n = x1w1x2w2 + b
    o = n.tanh()
    o.grad = 1.0
    for node in (o, n, b, x1w1x2w2, x2w2, x1w1):
        node._backward()
    assert math.isclose(n.grad, 1 - o.data**2, rel_tol=1e-12)
    by_hand = [v.grad for v in (x1, w1, x2, w2, b)]
    for v in (x1, w1, x2, w2, b):
        v.grad = 0.0
    o.backward()
    assert by_hand == [v.grad for v in (x1, w1, x2, w2, b)]
    assert math.isclose(w1.grad, 1.0, rel_tol=1e-9) and math.isclose(x1.grad, -1.5, rel_tol=1e-9)
