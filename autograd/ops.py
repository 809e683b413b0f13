"""The rule table: every op's forward and local derivatives, side by side, and nowhere else.

A row is an :class:`Op`.  ``forward`` maps floats to a float with IEEE semantics (no
exception for overflow, division by zero or domain errors, never a ``complex``).  ``local``
receives the op's inputs and its output and returns one local derivative per input.  It is
written with plain arithmetic and the dispatching functions of this module (``div``, ``log``,
``step``, ...), so the *same* function yields floats when handed floats (the eager fast path,
computed during the forward), Values when handed Values (``create_graph``), dual numbers in
forward mode, and source text when traced for code generation.

Adding an op is adding a row (and, if users call it directly, a dispatching function).
"""

from __future__ import annotations

import math
import numbers
import sys
from functools import lru_cache, partial, reduce
from operator import add as _add
from operator import mul as _mul
from typing import Any, Callable

inf = math.inf
nan = math.nan
# Fused rows add left to right, exactly like a chain of `+` (and like compile_graph's
# generated code).  Python 3.12 made sum() of floats compensated, so there it is replaced.
# The start is -0.0, the identity of IEEE addition (-0.0 + x == x for every x, -0.0
# included), so a sum of [-0.0] is -0.0 as the chain gives, where a start of 0.0 gives +0.0.
if sys.version_info < (3, 12):
    _builtin_sum: Callable[[Any], float] = partial(sum, start=-0.0)  # a C call: no Python frame per node
else:
    def _builtin_sum(items: Any) -> float:
        return reduce(_add, items, -0.0)


class Op:
    """One row of the rule table: a named forward function and its local derivatives."""

    __slots__ = ("name", "arity", "forward", "local")

    def __reduce__(self) -> tuple[Any, ...]:
        return (row_named, (self.name,))  # rows pickle by name: their functions may be lambdas

    def __init__(self, name: str, arity: int, forward: Callable[..., float], local: Callable[..., tuple]):
        self.name = name
        self.arity = arity  # number of inputs; -1 for n-ary ops (sum, dot, logsumexp)
        self.forward = forward
        self.local = local

    def __repr__(self) -> str:
        return f"Op({self.name!r}, arity={self.arity})"


# ---------------------------------------------------------------------------------------
# IEEE-safe float primitives.  Python raises where IEEE 754 returns inf or nan; these don't.

def _fdiv(x: float, y: float) -> float:
    try:
        return x / y
    except ZeroDivisionError:
        if x == 0.0 or x != x:
            return nan
        return math.copysign(inf, x) * math.copysign(1.0, y)


def _is_odd_integer(y: float) -> bool:
    return math.isfinite(y) and y.is_integer() and int(y) % 2 == 1


def _fpow(x: float, y: float) -> float:
    try:
        return math.pow(x, y)
    except OverflowError:
        return -inf if x < 0.0 and _is_odd_integer(y) else inf
    except ValueError:
        if x == 0.0:  # pole: 0 ** negative
            return math.copysign(inf, x) if _is_odd_integer(y) else inf
        return nan  # negative base, non-integer exponent: no real result


def _fexp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return inf


def _flog(x: float) -> float:
    if x > 0.0:
        return math.log(x)
    if x == 0.0:
        return -inf
    return nan  # negative or nan


def _fsqrt(x: float) -> float:
    return math.sqrt(x) if x >= 0.0 else nan


def _fsigmoid(x: float) -> float:
    # Two branches so exp never overflows: stable for any |x|.
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    if x < 0.0:
        e = math.exp(x)
        return e / (1.0 + e)
    return nan


def _fsoftplus(x: float) -> float:
    """log(1 + e^x) as max(x, 0) + log1p(e^-|x|): exp never overflows, so it is finite for
    finite x (softplus(1000) = 1000.0, softplus(-1000) = 0.0); inf -> inf, -inf -> 0, nan -> nan."""
    if x > 0.0:
        return x + math.log1p(math.exp(-x))
    if x <= 0.0:
        return math.log1p(math.exp(x))
    return x  # nan


def _flogsumexp(*xs: float) -> float:
    """log(sum_i e^{x_i}) with the max subtracted first, so no exp overflows.

    IEEE cases: any nan -> nan; any +inf -> inf (the sum is inf); all -inf, or no inputs
    at all -> -inf (log 0).  Finite otherwise: logsumexp(1000, -1000) = 1000.0.
    """
    m = -inf
    for x in xs:
        if x != x:
            return nan
        if x > m:
            m = x
    if m == inf or m == -inf:  # inf - inf would make nan below; the sum is inf or 0 there
        return m
    return m + math.log(math.fsum([math.exp(x - m) for x in xs]))


def _fsech2(x: float) -> float:
    """sech(x)**2 = 1 - tanh(x)**2, computed from x: exact where 1 - tanh**2 cancels.

    With t = e^(-2|x|): sech**2 = 4t / (1 + t)**2.  At x = 20 that is 1.7e-17 (1 - tanh**2
    gives 0.0 from |x| ~ 19 on and is 1.7e-4 off at 15); it underflows to 0 near |x| = 373.
    """
    t = math.exp(-2.0 * math.fabs(x))
    return 4.0 * t / ((1.0 + t) * (1.0 + t))


def _frelu(x: float) -> float:
    return x if x > 0.0 or x != x else 0.0


def _fstep(x: float) -> float:
    """Heaviside step with step(0) = 0: relu's derivative.  NaN stays NaN."""
    if x > 0.0:
        return 1.0
    return 0.0 if x <= 0.0 else nan


def _fsign(x: float) -> float:
    """sign(x) with sign(0) = 0: abs's derivative.  NaN stays NaN."""
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return -1.0
    return 0.0 if x == 0.0 else nan


def _fpow_dx(x: float, y: float) -> float:
    """d(x**y)/dx = y * x**(y-1), and 0 for y == 0 (x**0 == 1 for every x, even where x**-1 is a pole)."""
    if y == 0.0:
        return 0.0
    return y * _fpow(x, y - 1.0)


def _fpow_dy(x: float, y: float) -> float:
    """d(x**y)/dy on the reals: x**y * log(x) for x > 0, 0 for x == 0 < y, nan where undefined."""
    if x > 0.0:
        return _fpow(x, y) * math.log(x)
    if x == 0.0 and y > 0.0:
        return 0.0
    return nan


# ---------------------------------------------------------------------------------------
# Dispatch: a function of this module applied to floats computes floats; applied to any
# number type with an ``_apply_rule`` classmethod (Value, forward mode's Dual, the code
# generator's symbols) it asks that type to apply the row.

def is_real(x: Any) -> bool:
    """True for the numbers :func:`to_float` accepts: int, float, Fraction, numpy real scalars (no bools)."""
    cls = x.__class__
    if cls is float or cls is int:
        return True
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and "bool" not in cls.__name__


def to_float(x: Any, where: str) -> float:
    """Convert a real number to float; TypeError naming ``where`` and the type otherwise."""
    cls = x.__class__
    if cls is float:
        return x
    if cls is int:
        try:
            return float(x)
        except OverflowError:  # an int beyond float range; copysign(inf, x) would overflow too
            return inf if x > 0 else -inf
    if is_real(x):
        try:
            return float(x)
        except OverflowError:  # a Fraction (or other real) beyond float range: IEEE rounds it to ±inf
            return inf if x > 0 else -inf
    raise TypeError(
        f"{where} must be a real number (int, float, Fraction or numpy real scalar), "
        f"got {cls.__name__}: {x!r:.60}"
    )


def require_row(rule: Op, mode: str) -> None:
    """Raise NotImplementedError unless ``rule`` is a real row of the table.

    Nodes built micrograd-style (``Value(data, _children, _op)`` with a ``_backward``
    closure) carry a placeholder row with ``forward is None``: eager backward runs their
    closure, but ``mode`` (create_graph, jvp, compile_graph, compile_batched) needs the
    derivative as a rule, which ``autograd.defop`` registers.
    """
    if rule.forward is None:
        raise NotImplementedError(
            f"{mode}: op {rule.name!r} was built micrograd-style with a _backward closure, which "
            f"{mode} cannot use; register it as a row with autograd.defop({rule.name!r}, forward, local)"
        )


def apply(rule: Op, *args: Any) -> Any:
    """Apply ``rule`` to floats, or let the first argument type that knows how apply it."""
    for a in args:
        applier = getattr(a.__class__, "_apply_rule", None)
        if applier is not None:
            return applier(rule, *args)
    return rule.forward(*[to_float(a, f"{rule.name}() argument") for a in args])


def _unary(rule: Op, fast: Callable[[float], float]) -> Callable[[Any], Any]:
    def dispatch(x):
        if x.__class__ is float:
            return fast(x)
        return apply(rule, x)

    dispatch.__name__ = dispatch.__qualname__ = rule.name
    dispatch.__doc__ = f"{rule.name}(x) for a float or a Value (or any number type valuegrad knows)."
    return dispatch


def div(x: Any, y: Any) -> Any:
    """x / y with IEEE semantics for floats (±inf or nan, never ZeroDivisionError)."""
    if x.__class__ is float and y.__class__ is float:
        return _fdiv(x, y)
    return x / y


def power(x: Any, y: Any) -> Any:
    """x ** y with IEEE semantics for floats (never a complex, never an exception)."""
    if x.__class__ is float and y.__class__ is float:
        return _fpow(x, y)
    return x ** y


# ---------------------------------------------------------------------------------------
# The table.  Forward and local derivatives of each op, side by side.

ADD = Op("+", 2, lambda x, y: x + y, lambda x, y, out: (1.0, 1.0))
SUB = Op("-", 2, lambda x, y: x - y, lambda x, y, out: (1.0, -1.0))
MUL = Op("*", 2, lambda x, y: x * y, lambda x, y, out: (y, x))
DIV = Op("/", 2, _fdiv, lambda x, y, out: (div(1.0, y), -div(out, y)))
NEG = Op("neg", 1, lambda x: -x, lambda x, out: (-1.0,))
POW = Op("**", 2, _fpow, lambda x, y, out: (pow_dx(x, y), pow_dy(x, y)))
EXP = Op("exp", 1, _fexp, lambda x, out: (out,))
LOG = Op("log", 1, _flog, lambda x, out: (div(1.0, x),))
SQRT = Op("sqrt", 1, _fsqrt, lambda x, out: (div(0.5, out),))
# Derivatives written from the input where the output form cancels: tanh' = sech**2 (not
# 1 - tanh**2, which is 0.0 for |x| > 19), sigmoid' = s(x) s(-x) (not s(1 - s), 0.0 for x > 37).
TANH = Op("tanh", 1, math.tanh, lambda x, out: (sech2(x),))
SIGMOID = Op("sigmoid", 1, _fsigmoid, lambda x, out: (out * sigmoid(-x),))
RELU = Op("relu", 1, _frelu, lambda x, out: (step(x),))
ABS = Op("abs", 1, math.fabs, lambda x, out: (sign(x),))
# softplus' = sigmoid exactly (also at 0), so BCE with logits, softplus(z) - z*y, has the
# gradient sigmoid(z) - y without a branch on the data.
SOFTPLUS = Op("softplus", 1, _fsoftplus, lambda x, out: (sigmoid(x),))
# Helpers that appear inside other rows' derivatives (relu, abs, **).  Being rows themselves,
# they make second derivatives through those ops exact.  step and sign are piecewise
# constant: derivative 0.  pow_dx(x, y) and pow_dy(x, y) = d(x**y)/dx and /dy on the reals.
STEP = Op("step", 1, _fstep, lambda x, out: (0.0,))
SECH2 = Op("sech2", 1, _fsech2, lambda x, out: (-2.0 * tanh(x) * out,))
SIGN = Op("sign", 1, _fsign, lambda x, out: (0.0,))
POW_DX = Op(
    "pow_dx", 2, _fpow_dx, lambda x, y, out: (y * pow_dx(x, y - 1.0), power(x, y - 1.0) + y * pow_dy(x, y - 1.0))
)
POW_DY = Op("pow_dy", 2, _fpow_dy, lambda x, y, out: (div(out * y + power(x, y), x), out * log(x)))
# n-ary (fused) ops: one node, many parents.
SUM = Op("sum", -1, lambda *xs: _builtin_sum(xs), lambda *args: (1.0,) * (len(args) - 1))


def _dot_forward(*args: float) -> float:
    """w . x (+ b): args are w1..wn, x1..xn and optionally a bias."""
    n = len(args) // 2
    total = _builtin_sum(map(_mul, args[:n], args[n : 2 * n]))
    return total + args[-1] if len(args) % 2 else total


def _dot_local(*args: Any) -> tuple:
    n = (len(args) - 1) // 2  # args = w1..wn, x1..xn[, bias], out
    ws, xs = args[:n], args[n : 2 * n]
    return xs + ws + (1.0,) if len(args) % 2 == 0 else xs + ws


DOT = Op("dot", -1, _dot_forward, _dot_local)


def _logsumexp_local(*args: Any) -> tuple:
    # The softmax, exp(x_i - out): no max and no branch, so the same row works on Values, duals
    # and the compile tracer.  Where out is ±inf it is nan for the inf inputs (PyTorch agrees).
    out = args[-1]  # args = x1..xn, out
    return tuple([exp(x - out) for x in args[:-1]])


LOGSUMEXP = Op("logsumexp", -1, _flogsumexp, _logsumexp_local)


@lru_cache(maxsize=256)
def pow_const(c: float) -> Op:
    """The row for ``x ** c`` with a constant exponent (named ``**2``, ``**0.5``, ...)."""
    name = "**" + (str(int(c)) if math.isfinite(c) and c.is_integer() else repr(c))
    if c == 0.0:  # x**0 == 1 everywhere, so the derivative is 0 everywhere (also at x = 0)
        return Op(name, 1, lambda x: _fpow(x, c), lambda x, out: (0.0,))
    return Op(name, 1, lambda x: _fpow(x, c), lambda x, out: (c * power(x, c - 1.0),))


RULES: dict[str, Op] = {
    op.name: op
    for op in (ADD, SUB, MUL, DIV, NEG, POW, EXP, LOG, SQRT, TANH, SIGMOID, RELU, ABS, SOFTPLUS)
    + (STEP, SIGN, SECH2, POW_DX, POW_DY, SUM, DOT, LOGSUMEXP)
}
"""Every row by name (:func:`defop` adds to it); ``x ** c`` rows come from :func:`pow_const`."""

# Dispatching functions: floats in, floats out; Values (or duals, symbols) in, the same out.
exp: Callable[[Any], Any] = _unary(EXP, _fexp)
log: Callable[[Any], Any] = _unary(LOG, _flog)
sqrt: Callable[[Any], Any] = _unary(SQRT, _fsqrt)
tanh: Callable[[Any], Any] = _unary(TANH, math.tanh)
sigmoid: Callable[[Any], Any] = _unary(SIGMOID, _fsigmoid)
relu: Callable[[Any], Any] = _unary(RELU, _frelu)
softplus: Callable[[Any], Any] = _unary(SOFTPLUS, _fsoftplus)
abs: Callable[[Any], Any] = _unary(ABS, math.fabs)  # noqa: A001 - shadows the builtin on purpose; kept out of __all__
step: Callable[[Any], Any] = _unary(STEP, _fstep)
sign: Callable[[Any], Any] = _unary(SIGN, _fsign)
sech2: Callable[[Any], Any] = _unary(SECH2, _fsech2)

FUNCTIONS: dict[str, Callable[..., Any]] = {
    f.__name__: f for f in (exp, log, sqrt, tanh, sigmoid, relu, softplus, abs)
}
BUILTIN_ROWS = frozenset(RULES)
"""The names of the rows valuegrad ships (as opposed to rows registered with :func:`defop`)."""
"""The named functions users call (``autograd.exp``, ``Value.exp``, ``valuegrad graph "exp(x)"``), by
row name; :func:`autograd.defop` adds to it.  Operators and the helper rows (step, sign, pow_dx,
pow_dy) are not in it; the n-ary ``sum``, ``dot`` and ``logsumexp`` live in :mod:`autograd.value`."""


def pow_dx(x: Any, y: Any) -> Any:
    """d(x**y)/dx on the reals (see :data:`POW_DX`)."""
    if x.__class__ is float and y.__class__ is float:
        return _fpow_dx(x, y)
    return apply(POW_DX, x, y)


def pow_dy(x: Any, y: Any) -> Any:
    """d(x**y)/dy on the reals (see :data:`POW_DY`)."""
    if x.__class__ is float and y.__class__ is float:
        return _fpow_dy(x, y)
    return apply(POW_DY, x, y)


# ---------------------------------------------------------------------------------------
# Rows made at run time: micrograd-style closure nodes and user ops (defop).

@lru_cache(maxsize=None)
def closure_row(name: str) -> Op:
    """The placeholder row of nodes built micrograd-style, ``Value(data, _children, _op)``.

    Their derivative is the ``_backward`` closure the user assigns, so the row has no
    forward and no local: eager backward runs the closure, and :func:`require_row` tells
    every other mode to ask for a real row from :func:`defop`.
    """
    return Op(name, -1, None, None)  # type: ignore[arg-type]


def row_named(name: str) -> Op:
    """The row called ``name``: a table row, a ``**c`` row, or a closure placeholder."""
    rule = RULES.get(name)
    if rule is not None:
        return rule
    if name.startswith("**"):
        try:
            return pow_const(float(name[2:]))
        except ValueError:
            pass
    return closure_row(name)


# Types whose instances get a method per row (``Value.softsign()``, ``Dual.softsign()``):
# each registers an installer here at import; defop calls them all.
_method_installers: list[Callable[[Op], None]] = []


def _checked_local(name: str, arity: int, local: Callable[..., Any]) -> Callable[..., tuple]:
    def checked(*args: Any) -> tuple:
        result = local(*args)
        if not isinstance(result, tuple):
            result = tuple(result) if isinstance(result, list) else (result,)
        expected = arity if arity >= 0 else len(args) - 1
        if len(result) != expected:
            raise ValueError(
                f"defop {name!r}: local must return {expected} local derivative(s), one per input, "
                f"got {len(result)}: {result!r:.80}"
            )
        return result

    checked.__name__ = checked.__qualname__ = f"{name}_local"
    return checked


def _checked_forward(name: str, forward: Callable[..., Any]) -> Callable[..., float]:
    def checked(*xs: float) -> float:
        out = forward(*xs)
        return out if out.__class__ is float else to_float(out, f"defop {name!r}: forward result")

    checked.__name__ = checked.__qualname__ = name
    return checked


def defop(
    name: str, forward: Callable[..., Any], local: Callable[..., Any], *, arity: int = 1
) -> Callable[..., Any]:
    """Register a row of the rule table and return its dispatching function.

    ``forward(*xs)`` maps floats to a float (follow IEEE: return inf or nan rather than
    raise).  ``local(*xs, out)`` returns one local derivative per input, written with
    arithmetic and the dispatching functions (``autograd.exp``, ``ops.div``, other defop
    functions, ...), so the same function serves every mode: floats in eager backward,
    Values for ``create_graph``, duals for ``jvp``, arrays for ``compile_batched`` and
    source text for ``compile_graph``.  ``arity`` is the number of inputs (-1: any number).

    Afterwards ``f = defop(...)`` works on floats, Values and duals, ``Value.<name>()``
    exists, and graph pictures label the node ``name``.
    """
    if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
        raise ValueError(f"defop(): name must be a public Python identifier, got {name!r:.60}")
    if name in RULES or name in FUNCTIONS or any(_taken(name)):
        raise ValueError(f"defop(): the name {name!r} is taken (an existing op or method); pick another")
    if isinstance(arity, bool) or not isinstance(arity, int) or not (arity >= 1 or arity == -1):
        raise ValueError(f"defop(): arity must be a positive int or -1 (any number), got {arity!r:.60}")
    if not callable(forward):
        raise TypeError(f"defop(): forward must be callable, got {type(forward).__name__}")
    if not callable(local):
        raise TypeError(f"defop(): local must be callable, got {type(local).__name__}")
    rule = Op(name, arity, _checked_forward(name, forward), _checked_local(name, arity, local))
    if arity == 1:
        function = _unary(rule, rule.forward)
    else:
        def function(*args: Any) -> Any:
            if arity >= 0 and len(args) != arity:
                raise TypeError(f"{name}() takes {arity} arguments, got {len(args)}")
            return apply(rule, *args)

        function.__name__ = function.__qualname__ = name
        function.__doc__ = f"{name}(...) for floats or Values (registered with defop)."
    RULES[name] = rule
    FUNCTIONS[name] = function
    for install in _method_installers:
        install(rule)
    return function


_name_checks: list[Callable[[str], bool]] = []


def _taken(name: str) -> list[bool]:
    return [check(name) for check in _name_checks]
