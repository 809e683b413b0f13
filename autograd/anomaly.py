"""detect_anomaly(): stop at the first op whose forward or backward makes a NaN out of numbers without one."""

from __future__ import annotations

import contextlib
import functools
import math
import os
import sys
import weakref
from typing import Any, Callable

from . import mode as _mode
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
    frame: Any = sys._getframe(2)
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


def checked_step(local_grads_of: Callable[[Value], tuple]) -> Callable[[Value], None]:
    """The backward loop's step with a check on every contribution and every sum.

    The engine calls it once per node (it is the engine's loop, not a copy of it).  A
    micrograd-style node runs its own closure, and its parents' grads are checked after.
    """

    def step(node: Value) -> None:
        g = node.grad
        parents = node.parents
        # The inputs of one backward step: the upstream gradient and the node's own data.
        # Gradients or data that are already NaN only propagate an earlier anomaly.
        step_inputs = (_float(g), node.data, *[p.data for p in parents])
        if node._rule.forward is None:
            _checked_closure(node, parents, step_inputs)
            return
        try:
            local_grads = local_grads_of(node)
        except FloatingPointError as error:
            raise FloatingPointError(
                f"{error} (while building the backward of op {node.op!r} created at {creation_site(node)})"
            ) from None
        for parent, local in zip(parents, local_grads):
            try:
                contribution = g * local
            except FloatingPointError:  # a Value product flagged by the forward check: report this step
                raise _backward_error(node, g, local, math.nan) from None
            if _anomalous(_float(contribution), step_inputs):
                raise _backward_error(node, g, local, contribution)
            previous = parent.grad
            try:
                total = previous + contribution
            except FloatingPointError:  # inf + -inf between Values: report it as an accumulation
                raise _accumulation_error(parent, previous, contribution, math.nan) from None
            if _anomalous(_float(total), (_float(previous), _float(contribution))):
                raise _accumulation_error(parent, previous, contribution, total)
            parent.grad = total

    return step


def _checked_closure(node: Value, parents: tuple[Value, ...], step_inputs: tuple) -> None:
    before = [_float(p.grad) for p in parents]
    node._backward()
    for parent, previous in zip(parents, before):
        after = _float(parent.grad)
        if _anomalous(after, (*step_inputs, previous)):
            args = ", ".join(repr(p.data) for p in parents)
            raise FloatingPointError(
                f"detect_anomaly: the _backward closure of op {node.op!r} made the gradient of an input "
                f"{after!r} (it was {previous!r}; upstream gradient {step_inputs[0]!r}) from inputs ({args}) "
                f"with output {node.data!r}; the node was created at {creation_site(node)}"
            )


class detect_anomaly(contextlib.ContextDecorator):
    """Context manager and decorator: raise FloatingPointError at the first op that makes a NaN.

    While active, every op checks its output (forward) and every backward step checks its
    contribution; the first NaN produced from non-NaN inputs raises, naming the op, its input
    values and the file:line where the node was created.  ``check_inf=True`` also flags
    ±inf produced from finite inputs.  Inactive, it costs nothing: the node makers are only
    swapped while the block runs.  The switch is process-wide (as PyTorch's), not per thread.
    """

    def __init__(self, *, check_inf: bool = False) -> None:
        if not isinstance(check_inf, bool):
            raise TypeError(f"detect_anomaly(): check_inf must be a bool, got {check_inf.__class__.__name__}")
        self.check_inf = check_inf
        self._saved: list[tuple[tuple[Any, Any], bool]] = []

    def _recreate_cm(self) -> detect_anomaly:
        return detect_anomaly(check_inf=self.check_inf)  # a fresh instance per decorated call

    def __enter__(self) -> detect_anomaly:
        previous_check_inf = _Settings.check_inf
        _Settings.check_inf = self.check_inf
        self._saved.append((_mode.set_anomaly(_wrap, checked_step), previous_check_inf))
        return self

    def __exit__(self, *exc: object) -> None:
        (wrapper, step), _Settings.check_inf = self._saved.pop()
        _mode.set_anomaly(wrapper, step)
