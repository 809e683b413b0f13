"""Hypothesis strategies for the test suite: autograd.testing's expression DAGs plus test-only extras."""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

from hypothesis import strategies as st

from autograd import Value
from autograd import testing as _testing
from autograd.testing import *  # noqa: F403 - the suite imports every strategy from here, one path

__all__ = [
    *_testing.__all__,
    "backward_on_leaves",
    "grads_after_backward_twice",
    "ieee_floats",
    "micrograd_closure_node",
    "torch_functions",
]


def ieee_floats() -> st.SearchStrategy[float]:
    """Any float at all, NaN and ±inf included, with the special values drawn often."""
    specials = st.sampled_from([0.0, -0.0, 1.0, -1.0, math.inf, -math.inf, math.nan, 710.0, -710.0, 5e-324])
    return st.one_of(specials, st.floats(allow_nan=True, allow_infinity=True))


def torch_functions() -> dict[str, Callable[..., Any]]:
    """The function table that makes :meth:`Expression.build` run on float64 torch tensors."""
    import torch

    def tensor_sum(values):
        return torch.stack(list(values)).sum()

    def tensor_dot(ws, xs, bias=None):
        total = (torch.stack(list(ws)) * torch.stack(list(xs))).sum()
        return total if bias is None else total + bias

    def tensor_logsumexp(values):
        return torch.logsumexp(torch.stack(list(values)), 0)

    def softplus(x):  # log(1 + e^x) exactly (torch's F.softplus turns linear above x = 20)
        return torch.logaddexp(x, torch.zeros_like(x))

    # torch's function of the same name for every public row (exp, sin, ...), these where it differs.
    own = {"sum": tensor_sum, "dot": tensor_dot, "softplus": softplus, "logsumexp": tensor_logsumexp}
    from autograd import ops

    builtin = [name for name in _testing.default_functions() if name in ops.BUILTIN_ROWS]
    return {name: own.get(name) or getattr(torch, name) for name in builtin}


def micrograd_closure_node(x: Value, op: str) -> Value:
    """A node built micrograd's way: constructor plus a ``_backward`` closure (no rule-table row), equal to ``x``."""
    node = Value(x.data, (x,), op)

    def _backward() -> None:
        x.grad += node.grad

    node._backward = _backward  # type: ignore[method-assign]
    return node


def backward_on_leaves(expr: Callable[..., Any], xs: Sequence[float]) -> tuple[Value, list[Value]]:
    """``expr`` built on fresh leaves at ``xs``, then ``backward()``: (the output, the leaves)."""
    leaves = [Value(x) for x in xs]
    out = expr(*leaves)
    out.backward()
    return out, leaves


def grads_after_backward_twice() -> tuple[float, float, float]:
    """x = 3, z = x*x, y = 2z, then ``y.backward()`` twice: (x.grad, z.grad, y.grad), backward's contract."""
    x = Value(3.0)
    z = x * x
    y = z * 2.0
    y.backward()
    y.backward()
    return x.grad, z.grad, y.grad
