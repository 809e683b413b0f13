"""detect_anomaly(): stop at the first op whose forward or backward makes a NaN out of numbers without one."""

from __future__ import annotations

import contextlib
import functools
import math
import os
import sys
import weakref
from typing import Any

from . import value as _value
from .value import Value

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))

# Where each node was created, recorded only while detect_anomaly() is active.  Weak keys:
# the table never keeps a graph alive.
_creation_sites: weakref.WeakKeyDictionary[Value, str] = weakref.WeakKeyDictionary()


class _Settings:
    check_inf = False


@functools.lru_cache(maxsize=512)
def _inside_package(filename: str) -> bool:
    return os.path.dirname(os.path.abspath(filename)) == _PACKAGE_DIR


def _caller_site() -> str:
    """file:line of the innermost frame outside the autograd package (the user's line)."""
    frame = sys._getframe(2)
    while frame is not None and _inside_package(frame.f_code.co_filename):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def creation_site(node: Value) -> str:
    """file:line where ``node`` was created, if that happened inside detect_anomaly()."""
    return _creation_sites.get(node, "<unknown: created outside detect_anomaly()>")


def _anomalous(out: float, inputs: tuple) -> bool:
    """NaN made from inputs without NaN; with check_inf also ±inf made from finite inputs."""
    if out != out:
        return not any(x != x for x in inputs)
    if _Settings.check_inf and (out == math.inf or out == -math.inf):
        return all(math.isfinite(x) for x in inputs)
    return False


def _check_forward(rule: Any, inputs: tuple, node: Value) -> Value:
    out = node.data
    if _anomalous(out, inputs):
        args = ", ".join(repr(x) for x in inputs)
        raise FloatingPointError(
            f"detect_anomaly: the forward of op {rule.name!r} produced {out!r} from inputs ({args}) "
            f"at {_caller_site()}"
        )
    _creation_sites[node] = _caller_site()
    return node


def _wrap(makers: tuple) -> tuple:
    """Checking versions of a triple of node makers (recording or constant)."""
    make1, make2, maken = makers

    def checked1(rule, a):
        return _check_forward(rule, (a.data,), make1(rule, a))

    def checked2(rule, a, b):
        return _check_forward(rule, (a.data, b.data), make2(rule, a, b))

    def checkedn(rule, parents):
        return _check_forward(rule, tuple(p.data for p in parents), maken(rule, parents))

    return checked1, checked2, checkedn


def _backward_error(node: Value, upstream: Any, local: Any, contribution: Any) -> FloatingPointError:
    args = ", ".join(repr(p.data) for p in node.parents)
    return FloatingPointError(
        f"detect_anomaly: the backward of op {node.op!r} produced {_float(contribution)!r} "
        f"(upstream gradient {_float(upstream)!r} x local derivative {_float(local)!r}) "
        f"from inputs ({args}) with output {node.data!r}; the node was created at {creation_site(node)}"
    )


def _accumulation_error(parent: Value, previous: Any, contribution: Any, total: Any) -> FloatingPointError:
    what = "leaf" if parent._rule is None else f"output of op {parent.op!r} created at {creation_site(parent)}"
    return FloatingPointError(
        f"detect_anomaly: adding up the gradient of a {what} (data {parent.data!r}) produced "
        f"{_float(total)!r} = {_float(previous)!r} + {_float(contribution)!r}"
    )


def _float(x: Any) -> float:
    return x.data if isinstance(x, Value) else x


def checked_gradients(root: Value, seed: Any, *, create_graph: bool = False) -> dict[Value, Any]:
    """engine.gradients with a check on every step of the backward (used while detect_anomaly is on)."""
    from .engine import topological_order

    grads: dict[Value, Any] = {root: seed}
    for node in reversed(topological_order(root)):
        g = grads[node]
        parents = node.parents
        # The inputs of one backward step: the upstream gradient and the node's own data.
        # Gradients or data that are already NaN only propagate an earlier anomaly.
        step_inputs = (_float(g), node.data, *[p.data for p in parents])
        if create_graph:
            try:
                local_grads = node._rule.local(*parents, node)
            except FloatingPointError as error:
                raise FloatingPointError(
                    f"{error} (while building the backward of op {node.op!r} created at {creation_site(node)})"
                ) from None
        else:
            local_grads = node.local_grads
        for parent, local in zip(parents, local_grads):
            try:
                contribution = g * local
            except FloatingPointError:  # a Value product flagged by the forward check: report this step
                raise _backward_error(node, g, local, math.nan) from None
            if _anomalous(_float(contribution), step_inputs):
                raise _backward_error(node, g, local, contribution)
            previous = grads.get(parent)
            if previous is None:
                grads[parent] = contribution
                continue
            try:
                total = previous + contribution
            except FloatingPointError:  # inf + -inf between Values: report it as an accumulation
                raise _accumulation_error(parent, previous, contribution, math.nan) from None
            if _anomalous(_float(total), (_float(previous), _float(contribution))):
                raise _accumulation_error(parent, previous, contribution, total)
            grads[parent] = total
    return grads


def checked_backward(root: Value, seed: float) -> None:
    """engine.backward's float path with a check on every step (used while detect_anomaly is on)."""
    for node, g in checked_gradients(root, seed).items():
        if node._rule is None:
            node.grad += g  # leaves accumulate across calls
        else:
            node.grad = g  # interior nodes hold exactly this call's gradient


class detect_anomaly(contextlib.ContextDecorator):
    """Context manager and decorator: raise FloatingPointError at the first op that makes a NaN.

    While active, every op checks its output (forward) and every backward step checks its
    contribution; the first NaN produced from non-NaN inputs raises, naming the op, its input
    values and the file:line where the node was created.  ``check_inf=True`` also flags
    ±inf produced from finite inputs.  Inactive, it costs nothing: the node makers are only
    swapped while the block runs.  The switch is process-wide, not per thread.
    """

    def __init__(self, *, check_inf: bool = False) -> None:
        if not isinstance(check_inf, bool):
            raise TypeError(f"detect_anomaly(): check_inf must be a bool, got {check_inf.__class__.__name__}")
        self.check_inf = check_inf
        self._saved: list[tuple[Any, bool]] = []

    def _recreate_cm(self) -> detect_anomaly:
        return detect_anomaly(check_inf=self.check_inf)  # a fresh instance per decorated call

    def __enter__(self) -> detect_anomaly:
        self._saved.append((_value._Mode.anomaly_wrapper, _Settings.check_inf))
        _Settings.check_inf = self.check_inf
        _value._Mode.anomaly_wrapper = _wrap
        _value._refresh_makers()
        return self

    def __exit__(self, *exc: object) -> None:
        _value._Mode.anomaly_wrapper, _Settings.check_inf = self._saved.pop()
        _value._refresh_makers()
