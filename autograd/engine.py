"""Reverse mode: iterative topological order, backward, grad / value_and_grad, no_grad."""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Sequence

from . import value as _value
from .ops import to_float
from .value import Value, _leaf


def topological_order(root: Value) -> list[Value]:
    """Interior nodes reachable from ``root``, every node after all of its parents.

    Iterative depth-first search: no recursion, so a chain of 10**6 ops is fine.
    Leaves are not listed (they have nothing to propagate to).
    """
    order: list[Value] = []
    if root._rule is None:
        return order
    seen = {root}
    stack = [(root, False)]
    push = stack.append
    pop = stack.pop
    while stack:
        node, expanded = pop()
        if expanded:
            order.append(node)
            continue
        push((node, True))
        a = node._a
        b = node._b
        if b is not None:
            if b._rule is not None and b not in seen:
                seen.add(b)
                push((b, False))
            parents = (a,)
        elif a.__class__ is tuple:
            parents = a
        else:
            parents = (a,)
        for p in parents:
            if p._rule is not None and p not in seen:
                seen.add(p)
                push((p, False))
    return order


def backward(root: Value, grad: Any = 1.0, *, create_graph: bool = False) -> None:
    """d(root)/d(node) for every node reachable from ``root`` (see ``Value.backward``)."""
    if create_graph:
        seed = grad if isinstance(grad, Value) else _leaf(to_float(grad, "backward() grad"))
        grads = gradients(root, seed, create_graph=True)
        for node, g in grads.items():
            if node._rule is None:
                node.grad = node.grad + g  # leaves accumulate
            else:
                node.grad = g
        return
    seed = to_float(grad, "backward() grad")
    order = topological_order(root)
    if not order:  # root is a leaf
        root.grad += seed
        return
    for node in order:
        node.grad = 0.0
    root.grad = seed
    for node in reversed(order):
        g = node.grad
        a = node._a
        b = node._b
        if b is not None:
            a.grad += g * node._da
            b.grad += g * node._db
        elif a.__class__ is tuple:
            for parent, local in zip(a, node._da):
                parent.grad += g * local
        else:
            a.grad += g * node._da


def gradients(root: Value, seed: Any, *, create_graph: bool = False) -> dict[Value, Any]:
    """Map every node reachable from ``root`` to d(root)/d(node), touching no ``.grad``.

    With ``create_graph`` the local derivatives are recomputed from the rule table on
    Values, so the returned gradients are Values with a graph of their own.
    """
    grads: dict[Value, Any] = {root: seed}
    for node in reversed(topological_order(root)):
        g = grads[node]
        parents = node.parents
        if create_graph:
            local_grads = node._rule.local(*parents, node)
        else:
            local_grads = node.local_grads
        for parent, local in zip(parents, local_grads):
            contribution = g * local
            previous = grads.get(parent)
            grads[parent] = contribution if previous is None else previous + contribution
    return grads


def _argnums_tuple(argnums: int | Sequence[int], nargs: int) -> tuple[int, ...]:
    indices = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for i in indices:
        if not isinstance(i, int) or isinstance(i, bool) or not -nargs <= i < nargs:
            raise ValueError(f"argnums entry {i!r} is out of range for a function called with {nargs} arguments")
    return indices


def value_and_grad(
    f: Callable[..., Any], argnums: int | Sequence[int] = 0, *, create_graph: bool = False
) -> Callable[..., tuple[Any, Any]]:
    """A function returning ``(f(*args), df/d(args[argnums]))``; a tuple of grads for tuple argnums.

    Floats in, floats out.  With ``create_graph=True`` Value arguments are used as they are
    and the results are Values, so calls nest: ``grad(grad(f, create_graph=True))``.
    Never reads or writes any ``.grad``.
    """

    def value_and_grad_f(*args: Any) -> tuple[Any, Any]:
        indices = _argnums_tuple(argnums, len(args))
        call_args = list(args)
        inputs = []
        for i in indices:
            arg = args[i]
            if not (create_graph and isinstance(arg, Value)):
                data = arg.data if isinstance(arg, Value) else to_float(arg, f"argument {i}")
                arg = _leaf(data)
            call_args[i] = arg
            inputs.append(arg)
        out = f(*call_args)
        if not isinstance(out, Value):
            out = _leaf(to_float(out, f"return value of {getattr(f, '__name__', 'f')}"))
        if create_graph:
            grads = gradients(out, _leaf(1.0), create_graph=True)
            zero: Any = _leaf(0.0)
            result = [grads.get(x, zero) for x in inputs]
            value: Any = out
        else:
            grads = gradients(out, 1.0)
            result = [float(grads.get(x, 0.0)) for x in inputs]
            value = out.data
        return value, (result[0] if isinstance(argnums, int) else tuple(result))

    value_and_grad_f.__name__ = f"value_and_grad({getattr(f, '__name__', 'f')})"
    return value_and_grad_f


def grad(
    f: Callable[..., Any], argnums: int | Sequence[int] = 0, *, create_graph: bool = False
) -> Callable[..., Any]:
    """A function returning df/d(args[argnums]) (see :func:`value_and_grad`)."""
    vg = value_and_grad(f, argnums, create_graph=create_graph)

    def grad_f(*args: Any) -> Any:
        return vg(*args)[1]

    grad_f.__name__ = f"grad({getattr(f, '__name__', 'f')})"
    return grad_f


class no_grad(contextlib.ContextDecorator):
    """Context manager and decorator: ops inside record no parents (results are leaves).

    The switch is process-wide, not per thread.
    """

    def _recreate_cm(self) -> no_grad:
        return no_grad()  # a fresh instance per decorated call, so recursion nests correctly

    def __enter__(self) -> no_grad:
        self._previous = _value._Mode.grad_enabled
        _value._Mode.grad_enabled = False
        _value._refresh_makers()
        return self

    def __exit__(self, *exc: object) -> None:
        _value._Mode.grad_enabled = self._previous
        _value._refresh_makers()
