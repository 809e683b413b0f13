"""Regression tests for the engine items of the third reliability round (issue 22) and the create_graph cycle (21)."""

from __future__ import annotations

import copy
import gc
import math
import pickle
import subprocess
import sys

import pytest

import autograd
import nn
from autograd import Value, defop, detect_anomaly, jacobian, jvp


def test_create_graph_leaves_no_cycle_through_constants():
    """y = tanh(y * 1.01) + x, 200 times, backward(create_graph=True): only x.grad keeps a cycle."""
    gc.collect()
    gc.disable()
    try:
        x = Value(0.3)
        y = x
        for _ in range(200):
            y = (y * 1.01).tanh() + x
        y.backward(create_graph=True)
        assert isinstance(x.grad, Value)
        del y
        x.grad = 0.0
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_create_graph_gives_constants_a_plain_float_gradient():
    x = Value(2.0)
    y = x * 3.0
    y.backward(create_graph=True)
    constant = y.parents[1]
    assert autograd.value.is_constant(constant) and not autograd.value.is_constant(x)
    assert constant.grad == 2.0 and type(constant.grad) is float
    assert isinstance(x.grad, Value) and x.grad.data == 3.0


def test_failed_backward_leaves_every_leaf_as_it_was():
    w = Value(1.0)
    (w * 3).backward()
    with detect_anomaly():
        with pytest.raises(FloatingPointError):
            ((w * Value(0.0)).log() * w).backward()
    assert w.grad == 3.0


def test_failed_closure_backward_leaves_leaves_as_they_were():
    x = Value(2.0)
    (x * 5).backward()
    node = Value(x.data * 2, (x,), "double")

    def _backward():
        x.grad += 2 * node.grad
        raise RuntimeError("boom")

    node._backward = _backward
    with pytest.raises(RuntimeError, match="boom"):
        (node * 1.0).backward()
    assert x.grad == 5.0


def test_copying_or_pickling_closure_nodes_is_refused_with_a_message():
    x = Value(1.0)
    node = Value(x.data, (x,), "mine")
    node._backward = lambda: None
    for attempt in (copy.deepcopy, pickle.dumps):
        with pytest.raises(TypeError, match="op 'mine'.*autograd.defop"):
            attempt(node * 2.0)


def test_unpickling_a_graph_of_an_unregistered_op_names_the_op():
    script = (
        "import pickle, sys, autograd\n"
        "f = autograd.defop('vg_twice_pickled', lambda x: 2 * x, lambda x, out: (2.0,))\n"
        "sys.stdout.buffer.write(pickle.dumps(f(autograd.Value(1.5)) * 1.0))\n"
    )
    blob = subprocess.run([sys.executable, "-c", script], capture_output=True, check=True).stdout
    with pytest.raises(ValueError, match="'vg_twice_pickled', which is not registered in this process"):
        pickle.loads(blob)


def test_an_mlp_pickles_and_its_copy_trains():
    model = nn.MLP(2, [3, 1], seed=0)
    copy_ = pickle.loads(pickle.dumps(model))
    assert [p.data for p in copy_.parameters()] == [p.data for p in model.parameters()]
    out = copy_([0.5, -1.0])
    out.backward()
    assert all(p.grad == p.grad for p in copy_.parameters())


def test_defop_checks_what_local_returns():
    bad = {"complex": lambda x, out: (1j,), "none": lambda x, out: (None,), "text": lambda x, out: ("1",)}
    for name, local in bad.items():
        f = defop(f"vg_bad_local_{name}", lambda x: x, local)
        with pytest.raises(TypeError, match=f"defop 'vg_bad_local_{name}': local result"):
            f(Value(1.0)).backward()
    np = pytest.importorskip("numpy", reason="the ndarray case needs numpy")
    g = defop("vg_bad_local_array", lambda x: x, lambda x, out: (np.array([1.0, 2.0]),))
    with pytest.raises(TypeError, match="vg_bad_local_array"):
        g(Value(1.0))
    h = defop("vg_numpy_scalar_local", lambda x: x, lambda x, out: (np.float64(2.0),))
    v = Value(1.0)
    h(v).backward()
    assert v.grad == 2.0 and type(v.grad) is float


def test_defop_refuses_python_keywords():
    with pytest.raises(ValueError, match="not a keyword"):
        defop("lambda", lambda x: x, lambda x, out: (1.0,))


def test_defop_arithmetic_errors_name_the_op():
    f = defop("vg_overflowing", lambda x: (1 + abs(x)) ** 2.0, lambda x, out: (1.0,))
    with pytest.raises(OverflowError, match="defop 'vg_overflowing': forward raised"):
        f(Value(1e200))


def test_defop_local_with_math_fails_under_create_graph_naming_the_op_and_the_fix():
    f = defop("vg_math_local", lambda x: math.sin(x), lambda x, out: (math.cos(x),))
    x = Value(0.5)
    f(x).backward()
    assert x.grad == math.cos(0.5)
    with pytest.raises(TypeError, match="defop 'vg_math_local'.*autograd.cos.*not math"):
        f(Value(0.5)).backward(create_graph=True)


@pytest.mark.parametrize(
    ("f", "expected"),
    [
        (lambda x: autograd.logsumexp([autograd.sum([-2.0]), x]), math.exp(1.0) / (math.exp(1.0) + math.exp(-2.0))),
        (lambda x: autograd.sum([1.0]), 0.0),
        (lambda x: autograd.dot([autograd.sum([2.0])], [x]), 2.0),
        (lambda x: autograd.sum([autograd.dot([1.0], [2.0]), x]), 1.0),
    ],
)
def test_jvp_and_jacobian_take_constant_fused_ops(f, expected):
    assert jvp(f, [1.0], [1.0])[1] == pytest.approx(expected, rel=1e-15)
    assert jacobian(f, [1.0]) == [[pytest.approx(expected, rel=1e-15)]]
    assert jacobian(f, [1.0], mode="reverse") == [[pytest.approx(expected, rel=1e-15)]]
