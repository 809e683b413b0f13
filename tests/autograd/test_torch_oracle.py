"""PyTorch float64 as an oracle: random DAGs give the same values and gradients in both engines."""

from __future__ import annotations

import math

import pytest
from hypothesis import given

from autograd import Value
from tests.strategies import backward_on_leaves, expressions_with_inputs, torch_functions

# torch comes from the session fixture `torch` (tests/conftest.py): imported when the first test here
# runs, not at collection, and every test skips with a reason where it is not installed.


def _close(ours: float, theirs: float, scale: float) -> bool:
    # ~1e-10 relative; `scale` absorbs rounding where a gradient is a cancellation of larger terms
    return math.isclose(ours, theirs, rel_tol=1e-10, abs_tol=1e-12 * scale)


def _torch_value_and_grads(torch, expr, xs):
    leaves = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    out = expr.build(*leaves, functions=torch_functions())
    out.backward()
    return out.item(), [0.0 if leaf.grad is None else leaf.grad.item() for leaf in leaves]


def _ours(expr, xs):
    out, leaves = backward_on_leaves(expr, xs)
    return out.data, [leaf.grad for leaf in leaves]


def _check(torch, expr, xs):
    value, grads = _ours(expr, xs)
    t_value, t_grads = _torch_value_and_grads(torch, expr, xs)
    scale = 1.0 + max(abs(v) for v in expr.evaluate(*xs))
    assert _close(value, t_value, scale), (value, t_value)
    for i, (g, t) in enumerate(zip(grads, t_grads)):
        assert _close(g, t, scale * (1.0 + max(map(abs, t_grads)))), (i, g, t)


@given(expressions_with_inputs())
def test_torch_oracle_random_dags(torch, case):
    _check(torch, *case)


@given(expressions_with_inputs(min_nodes=20, max_nodes=50))
def test_torch_oracle_deep_shared_dags(torch, case):
    _check(torch, *case)


@pytest.mark.parametrize(
    ("f", "x"),
    [
        (lambda v: v.relu(), 0.0),
        (lambda v: abs(v), 0.0),
        (lambda v: v.tanh(), 800.0),
        (lambda v: v.sigmoid(), -800.0),
        (lambda v: v.exp(), 1000.0),
        (lambda v: v.log(), 0.0),
        (lambda v: v.sqrt(), 0.0),
        (lambda v: v**0.5, 0.0),
        (lambda v: v**-1, 0.0),
        (lambda v: v ** (1 / 3), -8.0),
        (lambda v: 1.0 / v, -0.0),
        (lambda v: v**0, 0.0),
    ],
)
def test_torch_oracle_ieee_edges_agree(torch, f, x):
    v = Value(x)
    out = f(v)
    out.backward()
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    t_out = f(t)
    t_out.backward()
    for ours, theirs in ((out.data, t_out.item()), (v.grad, t.grad.item())):
        assert (math.isnan(ours) and math.isnan(theirs)) or ours == theirs, (ours, theirs)
