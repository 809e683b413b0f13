"""Numerical gradients by central differences and a gradient checker built on them."""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

from .engine import no_grad, value_and_grad
from .ops import to_float
from .value import Value, _leaf


class GradcheckError(RuntimeError):
    """Analytic and numerical gradients disagree."""


def _input_floats(inputs: Sequence[Any]) -> list[float]:
    return [x.data if isinstance(x, Value) else to_float(x, f"inputs[{i}]") for i, x in enumerate(inputs)]


def _scalar(out: Any, f: Callable[..., Any]) -> float:
    if isinstance(out, Value):
        return out.data
    return to_float(out, f"return value of {getattr(f, '__name__', 'f')}")


def numerical_grad(f: Callable[..., Any], inputs: Sequence[Any], *, eps: float = 1e-6) -> list[float]:
    """Central differences (f(x + eps) - f(x - eps)) / (2 eps) for each input in turn.

    ``f`` receives one Value per input and returns a Value or a number.
    """
    xs = _input_floats(inputs)
    if not eps > 0.0:
        raise ValueError(f"numerical_grad(): eps must be positive, got {eps!r}")
    result = []
    with no_grad():
        for i in range(len(xs)):
            shifted = [_leaf(x) for x in xs]
            shifted[i] = _leaf(xs[i] + eps)
            plus = _scalar(f(*shifted), f)
            shifted[i] = _leaf(xs[i] - eps)
            minus = _scalar(f(*shifted), f)
            result.append((plus - minus) / (2.0 * eps))
    return result


def close_enough(analytic: float, numeric: float, *, atol: float, rtol: float) -> bool:
    """The one tolerance rule of gradient checks: |analytic - numeric| <= atol + rtol * |numeric|.

    NaN matches only NaN and an infinity only the same infinity.
    """
    if math.isnan(analytic) or math.isnan(numeric):
        return math.isnan(analytic) and math.isnan(numeric)
    if math.isinf(analytic) or math.isinf(numeric):
        return analytic == numeric
    return abs(analytic - numeric) <= atol + rtol * abs(numeric)


def gradcheck(
    f: Callable[..., Any],
    inputs: Sequence[Any],
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Compare reverse-mode gradients of ``f`` at ``inputs`` with central differences.

    Passes when |analytic - numeric| <= atol + rtol * |numeric| for every input (NaN matches
    only NaN, an infinity only the same infinity).  On a mismatch raises
    :class:`GradcheckError` naming the input index and both values, or returns False when
    ``raise_exception`` is False.
    """
    xs = _input_floats(inputs)
    if not xs:
        raise ValueError("gradcheck(): inputs is empty; there is nothing to check")
    _, analytic = value_and_grad(f, tuple(range(len(xs))))(*xs)
    numeric = numerical_grad(f, xs, eps=eps)
    for i, (a, n) in enumerate(zip(analytic, numeric)):
        if not close_enough(a, n, atol=atol, rtol=rtol):
            if not raise_exception:
                return False
            raise GradcheckError(
                f"gradcheck failed for input {i} (x = {xs[i]!r}): analytic gradient {a!r}, "
                f"numerical gradient {n!r}, difference {abs(a - n)!r} > atol + rtol*|numerical| "
                f"= {atol + rtol * abs(n)!r} (eps={eps}, atol={atol}, rtol={rtol})"
            )
    return True
