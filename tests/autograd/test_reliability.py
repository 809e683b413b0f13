"""Regression tests for the engine defects of issue 13: exact accumulation, thread-local grad mode,
precise derivatives, IEEE zeros in fused ops, no cycles under create_graph, pickling and copying."""

from __future__ import annotations

import copy
import gc
import math
import pickle
import struct
import threading
import weakref
from fractions import Fraction

import pytest

import autograd
from autograd import Value, no_grad


def bits(x: float) -> bytes:
    return struct.pack("<d", x)


# -- 13.4: a second backward() adds exactly the first call's gradient ----------------------------

def test_second_backward_doubles_leaf_grads_despite_cancellation():
    x0, x1 = Value(0.0), Value(1e-20)
    out = autograd.sum([x0 - ((x1 + x1) + x0), x0 * x1])
    out.backward()
    first = (x0.grad, x1.grad)
    assert first == (1e-20, -2.0)
    out.backward()
    assert (x0.grad, x1.grad) == (2e-20, -4.0)


def test_backward_adds_this_calls_total_to_existing_grads_once():
    """Contributions are summed in their own buffer, then added: old + (c1 + c2), not (old + c1) + c2."""
    x = Value(1.0)
    x.grad = 1.0
    out = x * 1e-17 + x * 1e-17  # two contributions of 1e-17 each
    out.backward()
    assert x.grad == 1.0 + 2e-17  # (1.0 + 1e-17) + 1e-17 would stay 1.0


# -- 13.5: grad mode is per thread ---------------------------------------------------------------

def test_no_grad_interleaved_across_threads_restores_recording():
    a_entered, b_entered, a_exited = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def thread_a():
        with no_grad():
            a_entered.set()
            b_entered.wait(5)
            seen["a_inside"] = autograd.is_grad_enabled()
        a_exited.set()

    def thread_b():
        a_entered.wait(5)
        with no_grad():
            b_entered.set()
            a_exited.wait(5)
            seen["b_inside"] = autograd.is_grad_enabled()
            seen["b_records"] = bool((Value(1.0) * 2.0).parents)

    threads = [threading.Thread(target=thread_a), threading.Thread(target=thread_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == {"a_inside": False, "b_inside": False, "b_records": False}
    assert autograd.is_grad_enabled()
    assert (Value(1.0) * 2.0).parents != ()


def test_no_grad_in_one_thread_does_not_stop_another_from_recording():
    inside, done = threading.Event(), threading.Event()

    def evaluator():
        with no_grad():
            inside.set()
            done.wait(5)

    t = threading.Thread(target=evaluator)
    t.start()
    inside.wait(5)
    try:
        x = Value(3.0)
        y = x * x
        assert y.parents == (x, x)
        y.backward()
        assert x.grad == 6.0
    finally:
        done.set()
        t.join(10)


def test_set_grad_mode_nests_and_rejects_non_bools():
    with no_grad():
        with autograd.set_grad_mode(True):
            assert (Value(1.0) + 1.0).parents
        assert not (Value(1.0) + 1.0).parents
    with pytest.raises(TypeError, match="enabled must be a bool"):
        autograd.set_grad_mode(1)  # type: ignore[arg-type]


# -- 13.7 / 13.8: fused ops --------------------------------------------------------------------------

@pytest.mark.parametrize("build", [
    lambda v: autograd.sum([v]),
    lambda v: autograd.dot([v], [Value(1.0)]),
    lambda v: autograd.dot([Value(-0.0)], [Value(1.0)], bias=v),
], ids=["sum", "dot", "dot_bias"])
def test_fused_ops_keep_negative_zero_like_a_chain(build):
    out = build(Value(-0.0))
    assert bits(out.data) == bits(-0.0)
    assert (1.0 / out).data == -math.inf


# -- 13.9: derivatives computed from the input -----------------------------------------------------

@pytest.mark.parametrize("x", [15.0, 19.0, 20.0, -20.0, 30.0, 300.0])
def test_tanh_derivative_is_relatively_exact_in_the_tails(x):
    v = Value(x)
    v.tanh().backward()
    exact = 4.0 * math.exp(-2.0 * abs(x)) / (1.0 + math.exp(-2.0 * abs(x))) ** 2
    assert v.grad == pytest.approx(exact, rel=1e-14, abs=0.0)
    assert v.grad > 0.0


@pytest.mark.parametrize("x", [37.0, 40.0, 100.0, 700.0, -40.0])
def test_sigmoid_derivative_is_relatively_exact_in_the_tails(x):
    v = Value(x)
    v.sigmoid().backward()
    exact = math.exp(-abs(x)) / (1.0 + math.exp(-abs(x))) ** 2
    assert v.grad == pytest.approx(exact, rel=1e-14, abs=0.0)
    assert v.grad > 0.0


def test_sech2_second_derivative_matches_finite_differences():
    for x in (-2.0, -0.3, 0.0, 0.7, 3.0):
        second = autograd.grad(autograd.grad(lambda v: v.tanh(), create_graph=True))(x)
        numeric = autograd.numerical_grad(lambda v: autograd.ops.sech2(v), [x])[0]
        assert second == pytest.approx(numeric, rel=1e-7, abs=1e-9)


# -- 13.10: create_graph leaves no cycle through interior nodes --------------------------------------

def test_create_graph_interior_grads_do_not_keep_their_nodes_alive():
    gc.collect()
    gc.disable()
    try:
        x = Value(0.5)
        hidden = (x * x).tanh()
        out = hidden * hidden + hidden.exp()
        out.backward(create_graph=True)
        assert isinstance(hidden.grad, Value)
        assert hidden.grad.data == pytest.approx(2 * hidden.data + math.exp(hidden.data), rel=1e-15)
        watch = weakref.ref(hidden)
        x.grad = 0.0  # a leaf's grad refers to its own graph, as in PyTorch: cleared like zero_grad()
        del hidden, out
        assert watch() is None  # freed by reference counting alone
    finally:
        gc.enable()


def test_create_graph_gradients_still_differentiate_exactly():
    x = Value(0.3)
    y = (x * x * x).exp()
    y.backward(create_graph=True)
    g = x.grad
    assert g.data == pytest.approx(3 * 0.09 * math.exp(0.027), rel=1e-15)
    x.grad = 0.0
    g.backward()
    assert x.grad == pytest.approx((6 * 0.3 + 9 * 0.3**4) * math.exp(0.027), rel=1e-14)


# -- 13.11: odd inputs ----------------------------------------------------------------------------------

def test_value_of_a_huge_fraction_is_inf_not_overflow_error():
    assert Value(Fraction(10**400, 3)).data == math.inf
    assert Value(Fraction(-(10**400), 3)).data == -math.inf


def test_value_label_must_be_a_string():
    with pytest.raises(TypeError, match="label must be a str, got int: 123"):
        Value(1.0, label=123)  # type: ignore[arg-type]


def test_pickle_round_trips_a_graph_with_shared_nodes():
    x = Value(2.0, label="x")
    x.m = 0.25
    y = x * x + x.tanh()
    y.backward()
    loaded_x, loaded_y = pickle.loads(pickle.dumps((x, y)))
    assert loaded_y.parents[0].parents == (loaded_x, loaded_x)
    assert (loaded_x.label, loaded_x.m, loaded_x.grad, loaded_y.data, loaded_y.op) == ("x", 0.25, x.grad, y.data, "+")
    loaded_x.grad = 0.0
    loaded_y.backward()
    assert loaded_x.grad == x.grad


def test_deepcopy_and_pickle_of_a_deep_chain_do_not_recurse():
    x = Value(1.0)
    y = x
    for _ in range(10_000):
        y = y * 1.0 + 0.0
    copied = copy.deepcopy(y)
    assert copied.data == y.data and copied is not y
    copied.backward()
    assert copied.grad == 1.0
    assert pickle.loads(pickle.dumps(y)).data == y.data
