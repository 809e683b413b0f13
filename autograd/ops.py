"""The rule table: every op's forward and local derivatives, side by side, and nowhere else.

A row is an :class:`Op`.  ``forward`` maps floats to a float with IEEE semantics (no
exception for overflow, division by zero or domain errors, never a ``complex``).  ``local``
receives the op's inputs and its output and returns one local derivative per input.  It is
written with plain arithmetic and the dispatching functions of this module (``div``, ``log``,
``step``, ...), so the *same* function yields floats when handed floats (the eager fast path,
computed during the forward), Values when handed Values (``create_graph``), dual numbers in
forward mode, and source text when traced for code generation.

A row also carries what the other consumers need: its array twin for the batched backend
(only where the float forward cannot run on arrays as written), the domain tests draw its
inputs from, its constant parameters (the exponent of ``x ** c``), the Python operator it
implements and whether users call it by name.  Everything else is generated from the rows
when they are registered: Value's and Dual's operators and methods, ``autograd``'s functions
and ``__all__``, the command line's functions, the batched backend's array ops and the test
strategies.  Adding an op is adding a row: ``register(Op(...))`` here, or
:func:`autograd.defop` from outside.
"""

from __future__ import annotations

import math
import numbers
import sys
from functools import lru_cache, partial, reduce
from keyword import iskeyword
from operator import add as _add
from operator import mul as _mul
from typing import Any, Callable, Union

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


Interval = tuple[float, float]
InputDomain = Union[Interval, str, None]
"""Where tests draw one input of an op: None (any real), an interval (lo, hi), or "nonzero"."""


class Op:
    """One row of the rule table: everything about one op, in one place.

    - ``name``: as users and pictures write it (``+``, ``tanh``, ``**2``); ``arity``: the number
      of inputs, -1 for n-ary ops (sum, dot, logsumexp).
    - ``forward(*xs) -> float`` and ``local(*xs, out) -> tuple``: the op and its local derivatives.
    - ``array(np, *arrays) -> array``: the forward on numpy arrays, for the batched backend,
      where the float forward cannot run on arrays as written (it calls ``math.*`` or branches).
    - ``domain``: one :data:`InputDomain` per input (or one for all inputs of an n-ary op)
      where tests draw smooth, well-conditioned inputs; ``kinks``: inputs where the derivative
      jumps (relu and abs at 0), which finite-difference checks stay away from.
    - ``params``: constant parameters of the row (``x ** c`` keeps ``(c,)``).
    - ``operator``: the Python operator the row implements (``"add"`` gives ``__add__`` and
      ``__radd__``); ``right_constant(c)``: the row to use instead when the right operand is a
      plain number (``x ** 2`` uses the ``**2`` row).
    - ``public``: users call it by name (``autograd.tanh``, ``Value.tanh``, ``valuegrad graph``);
      ``method``: a public row also becomes a method of Value and Dual (not sum, dot, logsumexp).
    - ``function``: the dispatching function, made from the row: floats in, a float out;
      Values (or duals, or traced symbols) in, the same out.
    """

    __slots__ = (
        "name", "arity", "forward", "local", "array", "domain", "kinks", "params",
        "operator", "right_constant", "public", "method", "function",
    )

    def __init__(
        self,
        name: str,
        arity: int,
        forward: Callable[..., float],
        local: Callable[..., tuple[Any, ...]],
        *,
        array: Callable[..., Any] | None = None,
        domain: tuple[InputDomain, ...] | None = None,
        kinks: tuple[float, ...] = (),
        params: tuple[float, ...] = (),
        operator: str | None = None,
        right_constant: Callable[[float], Op] | None = None,
        public: bool = False,
        method: bool | None = None,
    ) -> None:
        self.name = name
        self.arity = arity
        self.forward = forward
        self.local = local
        self.array = array
        self.domain = domain
        self.kinks = kinks
        self.params = params
        self.operator = operator
        self.right_constant = right_constant
        self.public = public
        self.method = public if method is None else method
        self.function: Callable[..., Any] = _dispatcher(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (row_for, (self.name, self.params))  # rows pickle by name: their functions may be lambdas

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


def _fsin(x: float) -> float:
    return math.sin(x) if x - x == 0.0 else nan  # x - x is nan for ±inf and nan


def _fcos(x: float) -> float:
    return math.cos(x) if x - x == 0.0 else nan


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
        same: float = x
        return same
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


def _dispatcher(rule: Op) -> Callable[..., Any]:
    """The function users call for ``rule``: floats in, a float out; any other number type
    that knows the rule table (Value, Dual, traced symbols) applies the row itself."""
    forward = rule.forward
    name = rule.name
    if rule.arity == 1:
        def dispatch(x: Any) -> Any:
            if x.__class__ is float:
                return forward(x)
            return apply(rule, x)
    elif rule.arity == 2:
        def dispatch(x: Any, y: Any) -> Any:  # type: ignore[misc]
            if x.__class__ is float and y.__class__ is float:
                return forward(x, y)
            return apply(rule, x, y)
    else:
        def dispatch(*args: Any) -> Any:  # type: ignore[misc]
            if rule.arity >= 0 and len(args) != rule.arity:
                raise TypeError(f"{name}() takes {rule.arity} arguments, got {len(args)}")
            return apply(rule, *args)

    dispatch.__name__ = dispatch.__qualname__ = name
    dispatch.__doc__ = f"{name}(...) on floats or Values (or any number type valuegrad knows): a row of the rule table."
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
# Array twins (batched backend): the forward on numpy arrays with the float forward's IEEE
# semantics, for rows whose float forward calls math.* or branches.  ``np`` is numpy.

def _apow(np: Any, x: Any, y: Any) -> Any:
    # For a scalar exponent numpy takes shortcuts (x ** 0.5 as sqrt: sqrt(-inf) is nan and
    # sqrt(-0.0) is -0.0 where math.pow gives inf and 0.0); an exponent array takes C's pow.
    if np.ndim(y) == 0:
        y = np.full(np.shape(x), y, dtype=np.float64)
    return np.power(x, y)


def _asigmoid(np: Any, x: Any) -> Any:
    e = np.exp(-np.abs(x))  # = exp(-x) for x >= 0 and exp(x) for x < 0, as _fsigmoid's branches
    return np.where(x >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))


def _asoftplus(np: Any, x: Any) -> Any:
    e = np.exp(-np.abs(x))
    return np.where(x > 0.0, x + np.log1p(e), np.log1p(e))


def _alogsumexp(np: Any, *xs: Any) -> Any:
    stacked = np.stack(np.broadcast_arrays(*xs))
    m = stacked.max(axis=0)  # nan if any is nan
    finite = np.isfinite(m)
    shift = np.where(finite, m, 0.0)
    return np.where(finite, m + np.log(np.exp(stacked - shift).sum(axis=0)), m)


def _asech2(np: Any, x: Any) -> Any:
    t = np.exp(-2.0 * np.abs(x))  # as _fsech2: 4t / (1 + t)**2, exact where 1 - tanh**2 cancels
    return 4.0 * t / ((1.0 + t) * (1.0 + t))


def _apow_dx(np: Any, x: Any, y: Any) -> Any:
    return np.where(y == 0.0, 0.0, y * _apow(np, x, y - 1.0))


def _apow_dy(np: Any, x: Any, y: Any) -> Any:
    defined = np.where((x == 0.0) & (y > 0.0), 0.0, math.nan)
    return np.where(x > 0.0, _apow(np, x, y) * np.log(x), defined)


# ---------------------------------------------------------------------------------------
# The table.  Forward and local derivatives of each op, side by side, with what the other
# consumers need.  ``register`` files a row and tells every listener (Value, Dual, ...).

RULES: dict[str, Op] = {}
"""Every row by name (:func:`defop` adds to it); ``x ** c`` rows come from :func:`pow_const`."""
FUNCTIONS: dict[str, Callable[..., Any]] = {}
"""The functions users call by name (``autograd.exp``, ``Value.exp``, ``valuegrad graph "exp(x)"``):
one per public row, made from it (:mod:`autograd.value` gives the built-in n-ary rows the versions
that take a sequence and make one node: ``sum(values)``, ``dot(ws, xs, bias)``)."""
_listeners: list[Callable[[Op], None]] = []


def register(rule: Op) -> Op:
    """File ``rule`` in the table and generate what derives from it (methods, functions, exports)."""
    if rule.name in RULES:
        raise ValueError(f"register(): a row named {rule.name!r} exists already")
    RULES[rule.name] = rule
    if rule.public:
        FUNCTIONS[rule.name] = rule.function
    for listener in _listeners:
        listener(rule)
    return rule


def install_methods(cls: type, rule: Op, factories: dict[str, Callable[[Op], Callable[..., Any]]]) -> None:
    """Give a number type (Value, Dual) the methods ``rule`` calls for: its operator (``__add__``
    and ``__radd__``, or ``__neg__``) and, for a public row, its named method (``tanh``).

    ``factories`` maps "operator", "reflected" and "named" to the type's method factories.
    """
    methods: list[tuple[str, Callable[..., Any]]] = []
    if rule.operator is not None:
        if rule.arity == 1:
            methods.append((f"__{rule.operator}__", factories["named"](rule)))
        else:
            methods.append((f"__{rule.operator}__", factories["operator"](rule)))
            methods.append((f"__r{rule.operator}__", factories["reflected"](rule)))
    if rule.method:
        methods.append((rule.name, factories["named"](rule)))
    for name, method in methods:
        method.__name__ = name
        method.__qualname__ = f"{cls.__name__}.{name}"  # pickle finds bound methods (nn's activations) by it
        method.__doc__ = f"Apply the row {rule.name!r} of the rule table (autograd.ops)."
        setattr(cls, name, method)


def on_register(listener: Callable[[Op], None]) -> None:
    """Call ``listener(row)`` for every row registered so far and for every later one."""
    _listeners.append(listener)
    for rule in list(RULES.values()):
        listener(rule)


_POSITIVE: InputDomain = (0.25, inf)  # log, sqrt, bases of **: kept this far from 0 in tests

@lru_cache(maxsize=256)
def pow_const(c: float) -> Op:
    """The row for ``x ** c`` with a constant exponent (named ``**2``, ``**0.5``, ...; ``params`` is ``(c,)``).

    Not filed in :data:`RULES`: there is one per exponent, made on first use.
    """
    name = "**" + (str(int(c)) if math.isfinite(c) and c.is_integer() else repr(c))
    integer = math.isfinite(c) and c.is_integer()
    # x ** 2 takes any x; x ** -1 any but 0 (a pole); x ** 0.5 a positive one (else nan)
    domain: tuple[InputDomain, ...] = (None,) if integer and c >= 0.0 else ("nonzero",) if integer else (_POSITIVE,)
    array = partial(_apow_const, c)
    if c == 0.0:  # x**0 == 1 everywhere, so the derivative is 0 everywhere (also at x = 0)
        return Op(name, 1, partial(_fpow_const, c), lambda x, out: (0.0,), array=array, params=(c,), domain=domain)
    return Op(name, 1, partial(_fpow_const, c), lambda x, out: (c * power(x, c - 1.0),), array=array,
              params=(c,), domain=domain)


def _fpow_const(c: float, x: float) -> float:
    return _fpow(x, c)


def _apow_const(c: float, np: Any, x: Any) -> Any:
    return _apow(np, x, c)


ADD = register(Op("+", 2, lambda x, y: x + y, lambda x, y, out: (1.0, 1.0), operator="add"))
SUB = register(Op("-", 2, lambda x, y: x - y, lambda x, y, out: (1.0, -1.0), operator="sub"))
MUL = register(Op("*", 2, lambda x, y: x * y, lambda x, y, out: (y, x), operator="mul"))
DIV = register(Op(
    "/", 2, _fdiv, lambda x, y, out: (div(1.0, y), -div(out, y)),
    array=lambda np, x, y: np.divide(x, y), domain=(None, "nonzero"), operator="truediv",
))
NEG = register(Op("neg", 1, lambda x: -x, lambda x, out: (-1.0,), operator="neg"))
POW = register(Op(
    "**", 2, _fpow, lambda x, y, out: (pow_dx(x, y), pow_dy(x, y)),
    array=_apow, domain=(_POSITIVE, (-3.0, 3.0)), operator="pow", right_constant=pow_const,
))
EXP = register(Op("exp", 1, _fexp, lambda x, out: (out,), array=lambda np, x: np.exp(x), domain=((-3.0, 3.0),),
                  public=True))
LOG = register(Op("log", 1, _flog, lambda x, out: (div(1.0, x),), array=lambda np, x: np.log(x), domain=(_POSITIVE,),
                  public=True))
SQRT = register(Op("sqrt", 1, _fsqrt, lambda x, out: (div(0.5, out),), array=lambda np, x: np.sqrt(x),
                   domain=(_POSITIVE,), public=True))
# Derivatives written from the input where the output form cancels: tanh' = sech**2 (not
# 1 - tanh**2, which is 0.0 for |x| > 19), sigmoid' = s(x) s(-x) (not s(1 - s), 0.0 for x > 37).
TANH = register(Op("tanh", 1, math.tanh, lambda x, out: (sech2(x),), array=lambda np, x: np.tanh(x), public=True))
SIGMOID = register(Op("sigmoid", 1, _fsigmoid, lambda x, out: (out * sigmoid(-x),), array=_asigmoid, public=True))
RELU = register(Op("relu", 1, _frelu, lambda x, out: (step(x),), kinks=(0.0,), public=True,
                   array=lambda np, x: np.maximum(x, 0.0)))  # nan stays nan; relu(-0.0) is +0.0
ABS = register(Op("abs", 1, math.fabs, lambda x, out: (sign(x),), array=lambda np, x: np.fabs(x), kinks=(0.0,),
                  operator="abs", public=True))
# softplus' = sigmoid exactly (also at 0), so BCE with logits, softplus(z) - z*y, has the
# gradient sigmoid(z) - y without a branch on the data.
SOFTPLUS = register(Op("softplus", 1, _fsoftplus, lambda x, out: (sigmoid(x),), array=_asoftplus, public=True))
# sin(±inf) is nan (math.sin raises there); each row's derivative is the other's dispatching function.
SIN = register(Op("sin", 1, _fsin, lambda x, out: (cos(x),), array=lambda np, x: np.sin(x), public=True))
COS = register(Op("cos", 1, _fcos, lambda x, out: (-sin(x),), array=lambda np, x: np.cos(x), public=True))
# Helpers that appear inside other rows' derivatives (relu, abs, **).  Being rows themselves,
# they make second derivatives through those ops exact.  step and sign are piecewise
# constant: derivative 0.  pow_dx(x, y) and pow_dy(x, y) = d(x**y)/dx and /dy on the reals.
STEP = register(Op("step", 1, _fstep, lambda x, out: (0.0,), kinks=(0.0,),
                   array=lambda np, x: np.heaviside(x, 0.0)))  # 1 above 0, 0 at +-0 and below, nan for nan
SECH2 = register(Op("sech2", 1, _fsech2, lambda x, out: (-2.0 * tanh(x) * out,), array=_asech2))
SIGN = register(Op("sign", 1, _fsign, lambda x, out: (0.0,), kinks=(0.0,)))
POW_DX = register(Op(
    "pow_dx", 2, _fpow_dx, lambda x, y, out: (y * pow_dx(x, y - 1.0), power(x, y - 1.0) + y * pow_dy(x, y - 1.0)),
    array=_apow_dx, domain=(_POSITIVE, (-2.0, 2.0)),
))
POW_DY = register(Op("pow_dy", 2, _fpow_dy, lambda x, y, out: (div(out * y + power(x, y), x), out * log(x)),
                     array=_apow_dy, domain=(_POSITIVE, (-2.0, 2.0))))
# n-ary (fused) ops: one node, many parents.
SUM = register(Op("sum", -1, lambda *xs: _builtin_sum(xs), lambda *args: (1.0,) * (len(args) - 1),
                  public=True, method=False))


def _dot_forward(*args: float) -> float:
    """w . x (+ b): args are w1..wn, x1..xn and optionally a bias."""
    n = len(args) // 2
    total = _builtin_sum(map(_mul, args[:n], args[n : 2 * n]))
    return total + args[-1] if len(args) % 2 else total


def _dot_local(*args: Any) -> tuple[Any, ...]:
    n = (len(args) - 1) // 2  # args = w1..wn, x1..xn[, bias], out
    ws, xs = args[:n], args[n : 2 * n]
    return xs + ws + (1.0,) if len(args) % 2 == 0 else xs + ws


DOT = register(Op("dot", -1, _dot_forward, _dot_local, public=True, method=False))


def _logsumexp_local(*args: Any) -> tuple[Any, ...]:
    # The softmax, exp(x_i - out): no max and no branch, so the same row works on Values, duals
    # and the compile tracer.  Where out is ±inf it is nan for the inf inputs (PyTorch agrees).
    out = args[-1]  # args = x1..xn, out
    return tuple([exp(x - out) for x in args[:-1]])


LOGSUMEXP = register(Op("logsumexp", -1, _flogsumexp, _logsumexp_local, array=_alogsumexp, public=True, method=False))


# Short names for the rows' dispatching functions: floats in, floats out; Values (or duals,
# symbols) in, the same out.  The derivatives above call them; the rest keep the module's
# long-standing ``ops.sqrt``-style spellings.  The list of what users can call is FUNCTIONS,
# made from the rows, not these names.
exp: Callable[..., Any] = EXP.function
log: Callable[..., Any] = LOG.function
tanh: Callable[..., Any] = TANH.function
sigmoid: Callable[..., Any] = SIGMOID.function
step: Callable[..., Any] = STEP.function
sign: Callable[..., Any] = SIGN.function
sech2: Callable[..., Any] = SECH2.function
pow_dx: Callable[..., Any] = POW_DX.function
pow_dy: Callable[..., Any] = POW_DY.function
sqrt: Callable[..., Any] = SQRT.function
relu: Callable[..., Any] = RELU.function
softplus: Callable[..., Any] = SOFTPLUS.function
sin: Callable[..., Any] = SIN.function
cos: Callable[..., Any] = COS.function
abs: Callable[..., Any] = ABS.function  # noqa: A001 - shadows the builtin on purpose; kept out of __all__

BUILTIN_ROWS = frozenset(RULES)
"""The names of the rows valuegrad ships (as opposed to rows registered with :func:`defop`)."""


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


def row_for(name: str, params: tuple[float, ...] = ()) -> Op:
    """The row called ``name`` (with ``params``): a table row, a ``**c`` row, or a closure placeholder."""
    rule = RULES.get(name)
    if rule is not None:
        return rule
    if name.startswith("**") and len(params) == 1:
        return pow_const(params[0])
    return closure_row(name)


def _checked_local(name: str, arity: int, local: Callable[..., Any]) -> Callable[..., tuple[Any, ...]]:
    def checked(*args: Any) -> tuple[Any, ...]:
        floats = all(a.__class__ is float for a in args)
        try:
            result = local(*args)
        except ArithmeticError as error:
            raise type(error)(f"defop {name!r}: local raised {error} at {args!r:.120}") from error
        except TypeError as error:
            if floats:
                raise
            kinds = sorted({type(a).__name__ for a in args if a.__class__ is not float})
            raise TypeError(
                f"defop {name!r}: local failed on {'/'.join(kinds)} arguments ({error}); it is called with Values "
                f"under backward(create_graph=True), duals in jvp and arrays in compile_batched, so write it with "
                f"arithmetic and autograd's functions (autograd.exp, autograd.cos, ...), not math.*"
            ) from error
        if not isinstance(result, tuple):
            result = tuple(result) if isinstance(result, list) else (result,)
        expected = arity if arity >= 0 else len(args) - 1
        if len(result) != expected:
            raise ValueError(
                f"defop {name!r}: local must return {expected} local derivative(s), one per input, "
                f"got {len(result)}: {result!r:.80}"
            )
        if floats:  # the eager fast path: every local derivative a float (the engine's rules)
            return tuple([r if r.__class__ is float else to_float(r, f"defop {name!r}: local result") for r in result])
        return result

    checked.__name__ = checked.__qualname__ = f"{name}_local"
    return checked


def _checked_forward(name: str, forward: Callable[..., Any]) -> Callable[..., float]:
    def checked(*xs: float) -> float:
        try:
            out = forward(*xs)
        except ArithmeticError as error:
            raise type(error)(f"defop {name!r}: forward raised {error} at {xs!r:.120}") from error
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
    if not isinstance(name, str) or not name.isidentifier() or name.startswith("_") or iskeyword(name):
        raise ValueError(f"defop(): name must be a public Python identifier (not a keyword), got {name!r:.60}")
    if name in RULES or name in FUNCTIONS or any(_taken(name)):
        raise ValueError(f"defop(): the name {name!r} is taken (an existing op or method); pick another")
    if isinstance(arity, bool) or not isinstance(arity, int) or not (arity >= 1 or arity == -1):
        raise ValueError(f"defop(): arity must be a positive int or -1 (any number), got {arity!r:.60}")
    if not callable(forward):
        raise TypeError(f"defop(): forward must be callable, got {type(forward).__name__}")
    if not callable(local):
        raise TypeError(f"defop(): local must be callable, got {type(local).__name__}")
    rule = Op(name, arity, _checked_forward(name, forward), _checked_local(name, arity, local), public=True)
    register(rule)
    return FUNCTIONS[name]


_name_checks: list[Callable[[str], bool]] = []


def _taken(name: str) -> list[bool]:
    return [check(name) for check in _name_checks]


def operator_stub() -> str:
    """The source of ``autograd/_operators.pyi``: what type checkers see of the operators and
    methods that Value and Dual get from the rows (tests check that the file is current)."""
    lines = [
        '"""Generated from the rule table by autograd.ops.operator_stub(); do not edit (tests check it)."""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import Any, Callable",
        "",
        "from .forward import Dual",
        "from .value import Value",
    ]
    for cls in ("Value", "Dual"):
        lines += [""] if cls == "Value" else ["", ""]
        lines += [f"class {cls}Operators:", f'    """The operators {cls} gets from the rows; its named',
                  '    methods (tanh, exp, ...) are attributes made from the public rows."""', ""]
        lines.append(f"    def __getattr__(self, name: str) -> Callable[..., {cls}]: ...")
        for rule in sorted(RULES.values(), key=lambda r: r.operator or ""):
            if rule.operator is None:
                continue
            if rule.arity == 1:
                lines.append(f"    def __{rule.operator}__(self) -> {cls}: ...")
                continue
            extra = ", modulo: None = None" if rule.right_constant is not None else ""
            lines.append(f"    def __{rule.operator}__(self, other: Any{extra}) -> {cls}: ...")
            lines.append(f"    def __r{rule.operator}__(self, other: Any) -> {cls}: ...")
    return "\n".join(lines) + "\n"
