"""Reverse mode: iterative topological order, backward, grad / value_and_grad, no_grad."""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Sequence

from . import value as _value
from .ops import to_float
from .value import Value, _leaf


def topological_order(root: Value, *, include_leaves: bool = False) -> list[Value]:
    """Nodes reachable from ``root``, every node after all of its parents.

    Iterative depth-first search: no recursion, so a chain of 10**6 ops is fine.
    Leaves are listed only with ``include_leaves=True`` (backward has nothing to propagate
    to them); then they come first, in the order they are first met.
    """
    if include_leaves:
        interior = topological_order(root)
        leaves: dict[Value, None] = {}
        for node in interior:
            for parent in node.parents:
                if parent._rule is None:
                    leaves[parent] = None
        if root._rule is None:
            leaves[root] = None
        return list(leaves) + interior
    order: list[Value] = []
    if root._rule is None:
        return order
    # A node is marked when it is expanded, not when it is pushed: a node pushed early (as
    # the parent of one consumer) and reached again deeper (through another) must be
    # finished before that deeper consumer, so it is expanded there and its early entry skipped.
    # The stack holds bare nodes; _POST above a node means "its parents are done: emit it"
    # (no (node, flag) tuple per push: measurably faster on 10**5-node graphs).
    seen: set[Value] = set()
    add = seen.add
    stack: list[Any] = [root]
    push = stack.append
    pop = stack.pop
    append = order.append
    while stack:
        node = pop()
        if node is _POST:
            append(pop())
            continue
        if node in seen:
            continue
        add(node)
        push(node)
        push(_POST)
        a = node._a
        b = node._b
        if b is not None:
            if b._rule is not None and b not in seen:
                push(b)
            if a._rule is not None and a not in seen:
                push(a)
        elif a.__class__ is tuple:
            for p in a:
                if p._rule is not None and p not in seen:
                    push(p)
        elif a._rule is not None and a not in seen:
            push(a)
    return order


_POST = object()


def _backward_order(root: Value) -> list[Value]:
    """``topological_order(root)`` (the same list) for backward, which may scribble on ``.grad``.

    Instead of a set, an expanded node's ``.grad`` is set to this call's fresh NaN object and
    checked by identity: backward resets every interior grad right after, and the same
    walk costs ~25% less on large graphs.  A fresh object per call means a walk interrupted
    half-way (KeyboardInterrupt) can never mislead a later one.
    """
    order: list[Value] = []
    mark = float("nan")
    stack: list[Any] = [root]
    push = stack.append
    pop = stack.pop
    append = order.append
    while stack:
        node = pop()
        if node is _POST:
            append(pop())
            continue
        if node.grad is mark:
            continue
        node.grad = mark
        push(node)
        push(_POST)
        a = node._a
        b = node._b
        if b is not None:
            if b._rule is not None and b.grad is not mark:
                push(b)
            if a._rule is not None and a.grad is not mark:
                push(a)
        elif a.__class__ is tuple:
            for p in a:
                if p._rule is not None and p.grad is not mark:
                    push(p)
        elif a._rule is not None and a.grad is not mark:
            push(a)
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
    if _value._Mode.anomaly_wrapper is not None:  # detect_anomaly() is on: the checking loop
        from .anomaly import checked_backward

        return checked_backward(root, seed)
    if root._rule is None:  # a leaf: nothing to propagate
        root.grad += seed
        return
    order = _backward_order(root)
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
    if _value._Mode.anomaly_wrapper is not None:  # detect_anomaly() is on: the checking loop
        from .anomaly import checked_gradients

        return checked_gradients(root, seed, create_graph=create_graph)
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
    if isinstance(argnums, (tuple, list)):
        indices = tuple(argnums)
    elif isinstance(argnums, int) and not isinstance(argnums, bool):
        indices = (argnums,)
    else:
        raise TypeError(f"argnums must be an int or a tuple of ints, got {argnums.__class__.__name__}: {argnums!r}")
    for i in indices:
        if not isinstance(i, int) or isinstance(i, bool):
            raise TypeError(f"argnums entries must be ints, got {i.__class__.__name__}: {i!r}")
        if not -nargs <= i < nargs:
            raise ValueError(f"argnums entry {i!r} is out of range for a function called with {nargs} arguments")
    return tuple(i % nargs for i in indices)  # argnums=(0, -1) and (0, 0) name positions, once each


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
            arg = call_args[i]
            if arg is args[i] and not (create_graph and isinstance(arg, Value)):  # not yet a fresh leaf
                data = arg.data if isinstance(arg, Value) else to_float(arg, f"grad() argument {i}")
                arg = call_args[i] = _leaf(data)
            inputs.append(arg)
        # A function transform: an enclosing no_grad() (e.g. numerical_grad of grad(f)) must
        # not turn f's graph into constants and its gradient into 0.
        grad_was_enabled = _value._Mode.grad_enabled
        if not grad_was_enabled:
            _value._Mode.grad_enabled = True
            _value._refresh_makers()
        try:
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
        finally:
            if not grad_was_enabled:
                _value._Mode.grad_enabled = False
                _value._refresh_makers()
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
