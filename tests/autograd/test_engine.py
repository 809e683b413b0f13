"""Reverse mode: micrograd's examples, backward's contract, topological order, no_grad, detach, grad."""

from __future__ import annotations

import math

import pytest

import autograd
from autograd import Value, backward, grad, no_grad, numerical_grad, topological_order, value_and_grad
from tests.strategies import assert_gradients_match, grads_after_backward_twice

# -- micrograd's two classic examples ----------------------------------------------------------


def micrograd_sanity(x):
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    return h + q + q * x


def micrograd_more_ops(a, b):
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    return g


def test_engine_micrograd_sanity_check_exact():
    x = Value(-4.0)
    y = micrograd_sanity(x)
    y.backward()
    assert y.data == -20.0
    assert x.grad == 46.0


def test_engine_micrograd_sanity_check_matches_central_differences():
    assert assert_gradients_match(micrograd_sanity, [-4.0]) == [46.0]
    assert numerical_grad(micrograd_sanity, [-4.0]) == [pytest.approx(46.0, rel=1e-8)]


def test_engine_micrograd_more_ops_exact():
    a, b = Value(-4.0), Value(2.0)
    g = micrograd_more_ops(a, b)
    g.backward()
    assert g.data == pytest.approx(24.70408163265306, rel=1e-15)
    assert a.grad == pytest.approx(138.83381924198252, rel=1e-15)
    assert b.grad == pytest.approx(645.5772594752186, rel=1e-15)


def test_engine_micrograd_more_ops_matches_central_differences():
    grads = assert_gradients_match(micrograd_more_ops, [-4.0, 2.0], rtol=1e-7)
    numeric = numerical_grad(micrograd_more_ops, [-4.0, 2.0])
    assert numeric == [pytest.approx(138.83381924198252, rel=1e-7), pytest.approx(645.5772594752186, rel=1e-7)]
    assert grads == [pytest.approx(138.83381924198252, rel=1e-15), pytest.approx(645.5772594752186, rel=1e-15)]


# -- backward's contract --------------------------------------------------------------------


def test_engine_backward_leaves_accumulate_over_calls():
    x = Value(3.0)
    y = x * x
    y.backward()
    assert x.grad == 6.0
    y.backward()
    assert x.grad == 12.0  # leaves accumulate, as in PyTorch (mini-batches add up)


def test_engine_backward_interior_nodes_get_exactly_this_calls_gradient():
    x_grad, z_grad, y_grad = grads_after_backward_twice()
    assert z_grad == 2.0  # not 4.0: interior gradients are not accumulated across calls
    assert y_grad == 1.0
    assert x_grad == 24.0


def test_engine_backward_from_an_interior_node_of_another_graph():
    x = Value(3.0)
    z = x * x
    w = z * 3.0
    w.backward()
    assert (z.grad, x.grad) == (3.0, 18.0)
    z.backward()
    assert z.grad == 1.0  # reset: z is the root of this call
    assert x.grad == 18.0 + 6.0


def test_engine_backward_same_operand_twice():
    a = Value(5.0)
    (a + a).backward()
    assert a.grad == 2.0
    b = Value(5.0)
    (b * b).backward()
    assert b.grad == 10.0
    c = Value(5.0)
    (c - c).backward()
    assert c.grad == 0.0
    d = Value(5.0)
    (d / d).backward()
    assert d.grad == 0.0


def test_engine_backward_shared_subexpression_diamond():
    x = Value(2.0)
    s = x * 3.0  # used by both branches
    y = s.tanh() + s * s
    y.backward()
    t = math.tanh(6.0)
    assert x.grad == pytest.approx(3.0 * (1.0 - t * t) + 3.0 * 2.0 * 6.0, rel=1e-15)
    assert s.grad == pytest.approx((1.0 - t * t) + 12.0, rel=1e-15)


def test_engine_backward_doubling_chain_orders_shared_nodes_correctly():
    """v0 = x + x, v_k = v_{k-1} + v_{k-1}, out = v4 + v0: a node reached early and deep."""
    x = Value(0.0)
    v0 = x + x
    v = v0
    for _ in range(4):
        v = v + v
    out = v + v0
    out.backward()
    assert x.grad == 32.0 + 2.0


def test_engine_backward_grad_argument_scales():
    x = Value(3.0)
    (x * x).backward(grad=2.5)
    assert x.grad == 15.0
    y = Value(3.0)
    backward(y * y, -1)
    assert y.grad == -6.0


def test_engine_backward_rejects_bad_grad_argument():
    with pytest.raises(TypeError, match="backward.*str"):
        (Value(1.0) * 2).backward(grad="1")


def test_engine_backward_on_a_leaf():
    x = Value(3.0)
    x.backward()
    assert x.grad == 1.0
    x.backward(grad=2.0)
    assert x.grad == 3.0


def test_engine_backward_through_constants_leaves_them_harmless():
    x = Value(2.0)
    y = 3.0 * x + 1.0
    y.backward()
    assert x.grad == 3.0
    constant, _ = y.parents[0].parents
    assert constant.data == 3.0 and constant.grad == 2.0  # constants are leaves too


def test_engine_backward_fan_in_of_10_5_with_fused_sum_is_exact():
    n = 10**5
    xs = [Value(1.0) for _ in range(n)]
    total = autograd.sum(xs)
    total.backward()
    assert total.data == float(n)
    assert all(x.grad == 1.0 for x in xs)
    shared = Value(0.5)
    many = autograd.sum([shared] * n)
    many.backward()
    assert many.data == n * 0.5
    assert shared.grad == float(n)


def test_engine_backward_fan_in_of_10_5_with_builtin_sum_is_exact():
    n = 10**5
    xs = [Value(0.25) for _ in range(n)]
    total = sum(xs)  # a chain of n additions
    total.backward()
    assert total.data == n * 0.25
    assert all(x.grad == 1.0 for x in xs)
    shared = Value(1.0)
    many = sum(shared for _ in range(n))
    many.backward()
    assert shared.grad == float(n)


def test_engine_backward_fused_dot_fan_in():
    n = 10**4
    ws = [Value(float(i)) for i in range(n)]
    xs = [Value(2.0) for _ in range(n)]
    y = autograd.dot(ws, xs, bias=Value(1.0))
    y.backward()
    assert y.data == 2.0 * (n * (n - 1) / 2) + 1.0
    assert all(w.grad == 2.0 for w in ws)
    assert all(x.grad == float(i) for i, x in enumerate(xs))


@pytest.mark.slow
def test_engine_backward_chain_of_10_6_ops_without_recursion_error():
    x = Value(0.5)
    y = x
    for _ in range(10**6):
        y = y + 1.0
    y.backward()
    assert y.data == 10**6 + 0.5
    assert x.grad == 1.0
    del y  # freeing a 10**6-deep chain must not overflow the C stack either


def test_engine_backward_deep_mixed_chain_matches_closed_form():
    x = Value(0.3)
    y = x
    for _ in range(2000):
        y = (y * 1.001).tanh()
    y.backward()
    # d/dx by forward accumulation with plain floats
    value, slope = 0.3, 1.0
    for _ in range(2000):
        value = math.tanh(value * 1.001)
        slope *= 1.001 * (1.0 - value * value)
    assert y.data == pytest.approx(value, rel=1e-14)
    assert x.grad == pytest.approx(slope, rel=1e-12)


# -- topological order ------------------------------------------------------------------------


def test_engine_topological_order_lists_each_interior_node_once_after_its_parents():
    x, y = Value(1.0), Value(2.0)
    a = x * y
    b = a + x
    c = a.tanh()
    d = autograd.sum([b, c, a])
    order = topological_order(d)
    assert set(order) == {a, b, c, d} and len(order) == 4
    position = {node: i for i, node in enumerate(order)}
    for node in order:
        for parent in node.parents:
            if parent.parents:
                assert position[parent] < position[node]
    assert order[-1] is d


def test_engine_topological_order_of_a_leaf_is_empty():
    assert topological_order(Value(1.0)) == []


# -- no_grad and detach -------------------------------------------------------------------------


def _records(x: Value) -> bool:
    return (x * 2.0).parents != ()


def test_engine_no_grad_context_manager():
    x = Value(3.0)
    with no_grad():
        y = x * 2.0
        z = autograd.sum([x, y])
        w = autograd.dot([x], [y], bias=1.0)
        u = x.tanh()
    assert y.data == 6.0 and y.op == "" and y.parents == ()
    assert z.data == 9.0 and z.parents == ()
    assert w.data == 19.0 and w.parents == ()
    assert u.data == math.tanh(3.0) and u.parents == ()
    assert _records(x)


def test_engine_no_grad_nested_restores_outer_state():
    x = Value(1.0)
    with no_grad():
        with no_grad():
            assert not _records(x)
        assert not _records(x)
    assert _records(x)


def test_engine_no_grad_restores_on_exception():
    x = Value(1.0)
    with pytest.raises(ValueError, match="boom"):
        with no_grad():
            raise ValueError("boom")
    assert _records(x)


def test_engine_no_grad_as_decorator():
    @no_grad()
    def double(v):
        return v * 2.0

    @no_grad()
    def fail(v):
        raise KeyError(v)

    x = Value(2.0)
    y = double(x)
    assert y.data == 4.0 and y.parents == ()
    assert _records(x)
    with pytest.raises(KeyError):
        fail(x)
    assert _records(x)


def test_engine_no_grad_decorator_recursion_nests():
    @no_grad()
    def countdown(v, n):
        if n == 0:
            return v
        return countdown(v + 1.0, n - 1)

    x = Value(0.0)
    assert countdown(x, 5).data == 5.0
    assert _records(x)


def test_engine_no_grad_backward_of_a_result_touches_nothing_upstream():
    x = Value(3.0)
    with no_grad():
        y = x * x
    y.backward()
    assert y.grad == 1.0 and x.grad == 0.0


def test_engine_detach_cuts_the_graph():
    x = Value(2.0)
    y = x * x
    z = y.detach() * x + y
    z.backward()
    assert x.grad == 4.0 + 4.0  # d(c*x)/dx with c = 4, plus d(x*x)/dx


# -- grad / value_and_grad agree with backward ----------------------------------------------------


def test_engine_grad_and_value_and_grad_match_backward():
    def f(a, b):
        return micrograd_more_ops(a, b)

    g = grad(f, argnums=(0, 1))(-4.0, 2.0)
    value, grads = value_and_grad(f, argnums=(0, 1))(-4.0, 2.0)
    assert g == grads
    assert value == pytest.approx(24.70408163265306, rel=1e-15)
    a, b = Value(-4.0), Value(2.0)
    f(a, b).backward()
    assert grads == (a.grad, b.grad)


def test_engine_grad_does_not_touch_input_grads():
    x = Value(3.0)
    assert grad(lambda v: v * v)(x) == 6.0
    assert x.grad == 0.0


def test_engine_gradients_maps_every_node_without_touching_grad():
    x, y = Value(2.0), Value(-3.0)
    a = x * y
    out = a.tanh() + x
    grads = autograd.gradients(out, 1.0)
    t = math.tanh(-6.0)
    assert grads[out] == 1.0
    assert grads[a] == pytest.approx(1.0 - t * t, rel=1e-15)
    assert grads[x] == pytest.approx((1.0 - t * t) * -3.0 + 1.0, rel=1e-15)
    assert grads[y] == pytest.approx((1.0 - t * t) * 2.0, rel=1e-15)
    assert x.grad == y.grad == a.grad == out.grad == 0.0
