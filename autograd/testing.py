"""Property-testing tools: hypothesis strategies for random expression DAGs and a gradient assertion."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import reduce
from operator import add, mul
from typing import Any, Callable, Mapping, Sequence

try:
    from hypothesis import strategies as st
except ImportError as error:  # hypothesis is a dev extra: only people who test need it
    raise ImportError(
        "autograd.testing needs hypothesis: pip install hypothesis (or pip install 'valuegrad[dev]')"
    ) from error

from . import ops as _ops
from .check import CheckReport as CheckReport
from .check import check_value_class as check_value_class
from .gradcheck import close_enough, numerical_grad
from .value import Value
from .value import dot as _value_dot
from .value import logsumexp as _value_logsumexp
from .value import sum as _value_sum

__all__ = [
    "ALL_OPS",
    "CheckReport",
    "Expression",
    "Step",
    "assert_gradients_match",
    "check_value_class",
    "default_functions",
    "expressions",
    "expressions_with_inputs",
]

UNARY_OPS = ("neg", "relu", "tanh", "sigmoid", "exp", "log", "sqrt", "abs", "softplus")
BINARY_OPS = ("+", "-", "*", "/", "**")
CONSTANT_OPS = ("x+c", "c+x", "x-c", "c-x", "x*c", "c*x", "x/c", "c/x", "x**c", "c**x")
NARY_OPS = ("sum", "dot", "logsumexp")
ALL_OPS: tuple[str, ...] = BINARY_OPS + CONSTANT_OPS + UNARY_OPS + NARY_OPS
"""Every step kind :func:`expressions` can generate (one per user-visible op and operand order)."""

# Constants per step kind, chosen so the safe-domain bookkeeping below stays simple.
_CONSTANTS = {
    "x+c": (1.0, -0.5, 2.5),
    "c+x": (1.0, -0.5, 2.5),
    "x-c": (1.0, -1.5, 0.25),
    "c-x": (1.0, -1.5, 0.25),
    "x*c": (2.0, -0.5, 3.0),
    "c*x": (2.0, -0.5, 3.0),
    "x/c": (2.0, -4.0, 0.5),
    "c/x": (1.0, -2.0, 0.5),
    "x**c": (2.0, 3.0, 0.0, 1.0, -1.0, 0.5, -0.5, 1.5),
    "c**x": (2.0, 0.5, 3.0),
}
_INTEGER_EXPONENTS = (2.0, 3.0, 0.0, 1.0)


@dataclass(frozen=True)
class Step:
    """One instruction: ``op`` applied to earlier nodes ``args`` (indices) and constant ``const``.

    For ``dot``, ``args`` is w1..wk, x1..xk and, when ``bias`` is True, a final bias node.
    """

    op: str
    args: tuple[int, ...]
    const: float | None = None
    bias: bool = False


def default_functions() -> dict[str, Callable[..., Any]]:
    """The functions :meth:`Expression.build` uses unless told otherwise.

    Unary functions are autograd's dispatching free functions (floats, Values and any number
    type with ``_apply_rule``).  ``sum`` and ``dot`` make one fused node for Values and fall
    back to plain ``+``/``*`` for other types (floats, forward-mode duals, tensors);
    ``logsumexp`` makes one node for Values and applies its row to other types.
    """
    return {
        "exp": _ops.exp,
        "log": _ops.log,
        "sqrt": _ops.sqrt,
        "tanh": _ops.tanh,
        "sigmoid": _ops.sigmoid,
        "relu": _ops.relu,
        "abs": _ops.abs,
        "softplus": _ops.softplus,
        "sum": _fused_sum,
        "dot": _fused_dot,
        "logsumexp": _fused_logsumexp,
    }


def _fused_sum(values: Sequence[Any]) -> Any:
    if all(isinstance(v, Value) for v in values):
        return _value_sum(values)
    return reduce(add, values)


def _fused_dot(ws: Sequence[Any], xs: Sequence[Any], bias: Any = None) -> Any:
    items = list(ws) + list(xs) + ([] if bias is None else [bias])
    if all(isinstance(v, Value) for v in items):
        return _value_dot(ws, xs, bias)
    total = reduce(add, map(mul, ws, xs))
    return total if bias is None else total + bias


def _fused_logsumexp(values: Sequence[Any]) -> Any:
    if all(isinstance(v, Value) for v in values):
        return _value_logsumexp(values)
    return _ops.apply(_ops.LOGSUMEXP, *values)  # floats -> float, duals -> dual


class Expression:
    """A random expression DAG as a plain program: inputs ``x0..x{n-1}`` then :class:`Step` s.

    Node ``i < n_inputs`` is input ``i``; node ``n_inputs + j`` is the result of ``steps[j]``;
    the last node is the output.  ``build(*values)`` (also ``expr(*values)``) runs the
    program on Values, floats or any other number type, so the same graph can be evaluated
    by reverse mode, finite differences, forward mode, a compiler or torch.
    """

    def __init__(self, n_inputs: int, steps: Sequence[Step], *, bound: float = 2.0) -> None:
        self.n_inputs = n_inputs
        self.steps = tuple(steps)
        self.bound = bound

    @property
    def ops(self) -> frozenset[str]:
        """The step kinds this expression uses."""
        return frozenset(step.op for step in self.steps)

    @property
    def inputs(self) -> st.SearchStrategy[tuple[float, ...]]:
        """A strategy for input points where central differences are meaningful.

        Floats in ``[-bound, bound]``, rejecting points whose finite-difference stencil would
        cross a kink of ``relu`` or ``abs`` (the only non-smooth ops).
        """
        point = st.floats(-self.bound, self.bound, allow_nan=False, allow_infinity=False)
        return st.tuples(*[point] * self.n_inputs).filter(lambda xs: self.is_smooth_at(*xs))

    def build(self, *values: Any, functions: Mapping[str, Callable[..., Any]] | None = None) -> Any:
        """Run the program on ``values`` (one per input) and return the output node."""
        return self._run(values, functions)[-1]

    __call__ = build

    def evaluate(self, *xs: float) -> list[float]:
        """Every node's value (inputs first) computed with plain floats."""
        return self._run([float(x) for x in xs], None)

    def is_smooth_at(self, *xs: float, delta: float = 1e-4) -> bool:
        """True when moving any one input by ±delta keeps every relu/abs argument on its side of 0."""
        kinks = [(self.n_inputs + j, step.args[0]) for j, step in enumerate(self.steps) if step.op in ("relu", "abs")]
        if not kinks:
            return True
        center = self.evaluate(*xs)
        sides = [_side(center[arg]) for _, arg in kinks]
        for i in range(self.n_inputs):
            for shift in (delta, -delta):
                moved = list(xs)
                moved[i] = xs[i] + shift
                values = self.evaluate(*moved)
                if any(_side(values[arg]) != side for (_, arg), side in zip(kinks, sides)):
                    return False
        return True

    def _run(self, values: Sequence[Any], functions: Mapping[str, Callable[..., Any]] | None) -> list[Any]:
        if len(values) != self.n_inputs:
            raise TypeError(f"Expression.build() takes {self.n_inputs} values, got {len(values)}")
        fns = default_functions() if functions is None else functions
        nodes = list(values)
        for step in self.steps:
            args = [nodes[i] for i in step.args]
            nodes.append(_apply_step(step, args, fns))
        return nodes

    def __repr__(self) -> str:
        names = [f"x{i}" for i in range(self.n_inputs)] + [f"v{j}" for j in range(len(self.steps))]
        lines = [f"Expression(n_inputs={self.n_inputs}, {len(self.steps)} steps):"]
        for j, step in enumerate(self.steps):
            lines.append(f"    v{j} = {_format_step(step, [names[i] for i in step.args])}")
        lines.append(f"    return {names[-1]}")
        return "\n".join(lines)


def _side(x: float) -> int:
    return 1 if x > 0.0 else -1 if x < 0.0 else 0


def _apply_step(step: Step, args: list[Any], fns: Mapping[str, Callable[..., Any]]) -> Any:
    op, c = step.op, step.const
    if op == "+":
        return args[0] + args[1]
    if op == "-":
        return args[0] - args[1]
    if op == "*":
        return args[0] * args[1]
    if op == "/":
        return args[0] / args[1]
    if op == "**":
        return args[0] ** args[1]
    if op == "neg":
        return -args[0]
    if op in CONSTANT_OPS:
        x = args[0]
        return {
            "x+c": lambda: x + c,
            "c+x": lambda: c + x,
            "x-c": lambda: x - c,
            "c-x": lambda: c - x,
            "x*c": lambda: x * c,
            "c*x": lambda: c * x,
            "x/c": lambda: x / c,
            "c/x": lambda: c / x,
            "x**c": lambda: x**c,
            "c**x": lambda: c**x,
        }[op]()
    if op == "sum":
        return fns["sum"](args)
    if op == "logsumexp":
        return fns["logsumexp"](args)
    if op == "dot":
        k = len(args) // 2
        return fns["dot"](args[:k], args[k : 2 * k], args[-1] if step.bias else None)
    return fns[op](args[0])


def _format_step(step: Step, names: list[str]) -> str:
    op, c = step.op, step.const
    if op in BINARY_OPS:
        return f"{names[0]} {op} {names[1]}"
    if op == "neg":
        return f"-{names[0]}"
    if op in CONSTANT_OPS:  # "x+c" reads left operand, symbol, right operand
        operand = {"x": names[0], "c": repr(c)}
        return f"{operand[op[0]]} {op[1:-1]} {operand[op[-1]]}"
    if op in ("sum", "logsumexp"):
        return f"{op}([{', '.join(names)}])"
    if op == "dot":
        k = len(names) // 2
        bias = f", bias={names[-1]}" if step.bias else ""
        return f"dot([{', '.join(names[:k])}], [{', '.join(names[k : 2 * k])}]{bias})"
    return f"{op}({names[0]})"


# ---------------------------------------------------------------------------------------
# Generation.  Every node carries a guaranteed interval [lo, hi] for inputs in [-bound, bound]
# (interval arithmetic) and a bound on its steepness (sum over inputs of |d node / d input|).
# Ops with restricted domains get safe arguments, and a step that would leave the value or
# steepness bounds is redone on fresh inputs: central differences then stay accurate.

_MAX_VALUE = 50.0
_MAX_STEEPNESS = 100.0
_POSITIVE = 0.25  # log, sqrt, fractional powers and denominators stay at least this far from 0
_SQUASH = ("tanh", "sigmoid")

Interval = tuple[float, float]


def _product(p: Interval, q: Interval) -> Interval:
    corners = [p[0] * q[0], p[0] * q[1], p[1] * q[0], p[1] * q[1]]
    return (min(corners), max(corners))


def _square(p: Interval) -> Interval:
    lo = 0.0 if p[0] <= 0.0 <= p[1] else min(p[0] * p[0], p[1] * p[1])
    return (lo, max(p[0] * p[0], p[1] * p[1]))


def _magnitude(p: Interval) -> float:
    return max(-p[0], p[1])


def _mignitude(p: Interval) -> float:
    """The smallest |x| on the interval."""
    return 0.0 if p[0] <= 0.0 <= p[1] else min(abs(p[0]), abs(p[1]))


def _powers(p: Interval, q: Interval) -> Interval:
    # x**y is monotone in each argument for positive x; the integer exponents used on other
    # bases are handled by the caller, so the extremes sit at the corners.
    values = [x**y for x in p for y in q]
    return (min(values), max(values))


# Why this is not read from the rule table: a row gives a derivative at a point, and these
# bounds need an enclosure of the value and the largest |derivative| over a whole interval
# (tanh' peaks inside the interval at 0, exp' at the right end, 1/x at the end nearest 0).
# That is interval arithmetic on each op's shape, knowledge a pointwise rule does not carry.
# The bounds only keep generated graphs in a safe domain; tests/autograd/test_registry.py
# fails if the table gains a named op these step kinds do not cover.

def _bounds(
    op: str, ivs: list[Interval], steep: list[float], const: float | None, same: bool, bias: bool
) -> tuple[Interval, float]:
    """(interval, steepness) of ``op`` applied to nodes with intervals ``ivs`` and steepness ``steep``."""
    if op in _NARY_BOUNDS:
        return _nary_bounds(op, ivs, steep, same, bias)
    return _unary_bounds(op, ivs[0], steep[0], const)


_NARY_BOUNDS = frozenset(("+", "-", "*", "/", "**", "sum", "logsumexp", "dot"))


def _nary_bounds(op: str, ivs: list[Interval], steep: list[float], same: bool, bias: bool) -> tuple[Interval, float]:
    if op in ("+", "-"):
        a, b = ivs
        iv = (a[0] + b[0], a[1] + b[1]) if op == "+" else (a[0] - b[1], a[1] - b[0])
        return iv, steep[0] + steep[1]
    if op == "*":
        if same:  # x * x is a square, never negative
            return _square(ivs[0]), 2.0 * _magnitude(ivs[0]) * steep[0]
        return _product(ivs[0], ivs[1]), _magnitude(ivs[0]) * steep[1] + _magnitude(ivs[1]) * steep[0]
    if op == "/":
        a, b = ivs
        m = _mignitude(b)
        return _product(a, (1.0 / b[1], 1.0 / b[0])), steep[0] / m + _magnitude(a) * steep[1] / (m * m)
    if op == "**":
        x, y = ivs
        out = _powers(x, y)
        dx = _magnitude(y) * _magnitude(_powers(x, (y[0] - 1.0, y[1] - 1.0)))
        dy = _magnitude(out) * max(abs(math.log(x[0])), abs(math.log(x[1])))
        return out, dx * steep[0] + dy * steep[1]
    if op == "sum":
        return (math.fsum(iv[0] for iv in ivs), math.fsum(iv[1] for iv in ivs)), math.fsum(steep)
    if op == "logsumexp":  # increasing in every argument; the weights (softmax) sum to 1
        iv = (_ops._flogsumexp(*[iv[0] for iv in ivs]), _ops._flogsumexp(*[iv[1] for iv in ivs]))
        return iv, max(steep)
    if op == "dot":
        k = len(ivs) // 2
        parts = [_product(w, x) for w, x in zip(ivs[:k], ivs[k : 2 * k])]
        slope = sum(_magnitude(w) * sx + _magnitude(x) * sw for w, x, sw, sx in zip(ivs[:k], ivs[k:], steep, steep[k:]))
        if bias:
            parts.append(ivs[-1])
            slope += steep[-1]
        return (math.fsum(p[0] for p in parts), math.fsum(p[1] for p in parts)), slope
    raise ValueError(f"unknown step kind {op!r}")


def _unary_bounds(op: str, iv: Interval, s: float, const: float | None) -> tuple[Interval, float]:
    a, b = iv
    c = 0.0 if const is None else const
    if op == "neg":
        return (-b, -a), s
    if op in ("x+c", "c+x"):
        return (a + c, b + c), s
    if op == "x-c":
        return (a - c, b - c), s
    if op == "c-x":
        return (c - b, c - a), s
    if op in ("x*c", "c*x"):
        return _product((a, b), (c, c)), abs(c) * s
    if op == "x/c":
        return _product((a, b), (1.0 / c, 1.0 / c)), s / abs(c)
    if op == "c/x":
        m = _mignitude((a, b))
        return _product((c, c), (1.0 / b, 1.0 / a)), abs(c) * s / (m * m)
    if op == "x**c":
        if c == 0.0:
            return (1.0, 1.0), 0.0
        if c == 2.0:
            iv = _square((a, b))
        else:
            iv = _powers((a, b), (c, c))
        slope = abs(c) * (_magnitude((a, b)) ** (c - 1.0) if c >= 1.0 else a ** (c - 1.0))
        return iv, slope * s
    if op == "c**x":
        iv = _powers((c, c), (a, b))
        return iv, abs(math.log(c)) * iv[1] * s
    if op == "tanh":
        return (math.tanh(a), math.tanh(b)), s
    if op == "sigmoid":
        return (_ops.sigmoid(a), _ops.sigmoid(b)), 0.25 * s
    if op == "exp":
        return (math.exp(a), math.exp(b)), math.exp(b) * s
    if op == "log":
        return (math.log(a), math.log(b)), s / a
    if op == "sqrt":
        return (math.sqrt(a), math.sqrt(b)), s / (2.0 * math.sqrt(a))
    if op == "relu":
        return (max(a, 0.0), max(b, 0.0)), s
    if op == "softplus":  # increasing, slope sigmoid(x) < 1
        return (_ops.softplus(a), _ops.softplus(b)), s
    if op == "abs":
        return (_mignitude((a, b)), _magnitude((a, b))), s
    raise ValueError(f"unknown step kind {op!r}")


def _within(iv: Interval, limit: float) -> bool:
    return -limit <= iv[0] and iv[1] <= limit


def _needs(op: str, position: int, const: float | None) -> str:
    """What domain an operand needs: "positive", "nonzero", a magnitude limit, or ""."""
    if op in ("log", "sqrt") or (op == "**" and position == 0):
        return "positive"
    if op == "x**c" and const not in _INTEGER_EXPONENTS:
        return "positive"
    if op == "c/x" or (op == "/" and position == 1):
        return "nonzero"
    if op == "exp":
        return "within 3"
    if op == "c**x" or (op == "**" and position == 1):
        return "within 2"
    return ""


class _Builder:
    """Accumulates steps, node intervals and steepness while a hypothesis ``draw`` makes choices."""

    def __init__(self, draw: Callable[[st.SearchStrategy[Any]], Any], n_inputs: int, bound: float) -> None:
        self.draw = draw
        self.n_inputs = n_inputs
        self.bound = bound
        self.steps: list[Step] = []
        self.intervals: list[Interval] = [(-bound, bound)] * n_inputs
        self.steepness: list[float] = [1.0] * n_inputs

    def _bounds_of(self, op: str, args: tuple[int, ...], const: float | None, bias: bool):
        same = len(args) == 2 and args[0] == args[1]
        ivs = [self.intervals[i] for i in args]
        return _bounds(op, ivs, [self.steepness[i] for i in args], const, same, bias)

    def emit(self, op: str, args: tuple[int, ...], const: float | None = None, bias: bool = False) -> int:
        iv, steep = self._bounds_of(op, args, const, bias)
        self.intervals.append(iv)
        self.steepness.append(steep)
        self.steps.append(Step(op, args, const, bias))
        return len(self.intervals) - 1

    def pick(self) -> int:
        """An earlier node: the newest one half the time (deep chains), else any (sharing)."""
        newest = len(self.intervals) - 1
        if self.draw(st.booleans()):
            return self.draw(st.integers(0, newest))
        return newest

    def squashed(self, i: int, limit: float = 1.0) -> int:
        """Node ``i`` itself if within ±limit, else tanh or sigmoid of it."""
        if _within(self.intervals[i], limit):
            return i
        return self.emit(self.draw(st.sampled_from(_SQUASH)), (i,))

    def positive(self, i: int) -> int:
        """Node ``i`` if it is >= _POSITIVE, else a positive transform of it (shared later too)."""
        if self.intervals[i][0] >= _POSITIVE:
            return i
        how = self.draw(st.sampled_from(("square+1", "sigmoid+0.5", "exp")))
        if how == "square+1":
            j = self.squashed(i, limit=2.0)
            return self.emit("x+c", (self.emit("*", (j, j)),), 1.0)
        if how == "sigmoid+0.5":
            return self.emit("x+c", (self.emit("sigmoid", (i,)),), 0.5)
        return self.emit("exp", (self.squashed(i),))

    def prepared(self, op: str, position: int, i: int, const: float | None) -> int:
        """Node ``i``, or a transform of it inside the domain ``op`` needs at ``position``."""
        need = _needs(op, position, const)
        if need == "positive":
            return self.positive(i)
        if need == "nonzero":
            lo, hi = self.intervals[i]
            return i if lo >= _POSITIVE or hi <= -_POSITIVE else self.positive(i)
        if need.startswith("within"):
            return self.squashed(i, limit=float(need.split()[1]))
        return i

    def add(self, op: str) -> None:
        """Append a step of kind ``op`` (plus whatever helper steps make it safe)."""
        draw = self.draw
        const: float | None = None
        bias = False
        if op in UNARY_OPS:
            arity = 1
        elif op in BINARY_OPS:
            arity = 2
        elif op in CONSTANT_OPS:
            arity = 1
            const = draw(st.sampled_from(_CONSTANTS[op]))
        elif op == "sum":
            arity = draw(st.integers(1, 8))
        elif op == "logsumexp":
            arity = draw(st.integers(1, 6))
        elif op == "dot":
            bias = draw(st.booleans())
            arity = 2 * draw(st.integers(1, 5)) + bias
        else:
            raise ValueError(f"expressions(): unknown op {op!r}; choose from {ALL_OPS}")
        mark = len(self.steps)
        args = tuple(self.prepared(op, k, self.pick(), const) for k in range(arity))
        iv, steep = self._bounds_of(op, args, const, bias)
        if not (_within(iv, _MAX_VALUE) and steep <= _MAX_STEEPNESS):
            # Too large or too steep: undo the helper steps and apply the op to inputs instead.
            del self.steps[mark:]
            del self.intervals[self.n_inputs + mark :]
            del self.steepness[self.n_inputs + mark :]
            inputs = st.integers(0, self.n_inputs - 1)
            args = tuple(self.prepared(op, k, draw(inputs), const) for k in range(arity))
        self.emit(op, args, const, bias)

    def finish(self) -> Expression:
        """The expression whose output sums every node nothing else uses (so all nodes count)."""
        used = {i for step in self.steps for i in step.args}
        sinks = [i for i in range(self.n_inputs, len(self.intervals)) if i not in used]
        if len(sinks) > 1:
            self.emit("sum", tuple(sinks))
        return Expression(self.n_inputs, self.steps, bound=self.bound)


def expressions(
    n_inputs: int | st.SearchStrategy[int] | None = None,
    *,
    min_nodes: int = 1,
    max_nodes: int = 12,
    ops: Sequence[str] = ALL_OPS,
    bound: float = 2.0,
) -> st.SearchStrategy[Expression]:
    """Random expression DAGs over ``n_inputs`` inputs (default: 1 to 4) in ``[-bound, bound]``.

    About ``min_nodes..max_nodes`` steps drawn from ``ops`` (default: every op of the rule
    table, including Value**Value, x**c, 2**x, softplus, sum, dot and logsumexp), with shared sub-expressions,
    fan-in and chains.  Restricted domains are made safe by construction (log and sqrt of
    positive transforms such as x*x+1, exp(tanh(x)) or sigmoid(x)+0.5; denominators bounded
    away from 0) and every node stays within ±50 with |gradient| <= 100, so central differences are
    meaningful.
    Helper steps added for safety may make an expression slightly longer than ``max_nodes``.

    Example::

        @given(expressions_with_inputs(n_inputs=2))
        def test_my_mode(case):
            expr, xs = case
            assert_gradients_match(expr, xs)
    """
    unknown = [op for op in ops if op not in ALL_OPS]
    if unknown:
        raise ValueError(f"expressions(): unknown ops {unknown}; choose from {ALL_OPS}")
    if not 1 <= min_nodes <= max_nodes:
        raise ValueError(f"expressions(): need 1 <= min_nodes <= max_nodes, got {min_nodes} and {max_nodes}")
    if n_inputs is None:
        n_strategy = st.integers(1, 4)
    elif isinstance(n_inputs, st.SearchStrategy):
        n_strategy = n_inputs
    else:
        n_strategy = st.just(n_inputs)
    op_strategy = st.sampled_from(tuple(ops))

    @st.composite
    def build(draw: Callable[[st.SearchStrategy[Any]], Any]) -> Expression:
        n = draw(n_strategy)
        if n < 1:
            raise ValueError(f"expressions(): n_inputs must be at least 1, got {n}")
        builder = _Builder(draw, n, bound)
        target = draw(st.integers(min_nodes, max_nodes))
        while len(builder.steps) < target:
            builder.add(draw(op_strategy))
        return builder.finish()

    return build()


def expressions_with_inputs(**kwargs: Any) -> st.SearchStrategy[tuple[Expression, tuple[float, ...]]]:
    """Pairs ``(expr, xs)``: an expression from :func:`expressions` (same arguments) and a valid point."""
    return expressions(**kwargs).flatmap(lambda expr: st.tuples(st.just(expr), expr.inputs))


# ---------------------------------------------------------------------------------------

def assert_gradients_match(
    f: Callable[..., Any],
    inputs: Sequence[float],
    *,
    eps: float = 1e-6,
    atol: float = 1e-6,
    rtol: float = 1e-5,
) -> list[float]:
    """Assert that ``Value.backward`` gradients of ``f`` at ``inputs`` equal central differences.

    ``f`` receives one leaf Value per input and returns a Value.  Passes when
    |analytic - numeric| <= atol + rtol * |numeric| for every input (gradcheck's rule: NaN
    matches NaN, an infinity the same infinity); otherwise raises AssertionError listing
    every input with both values.  Returns the analytic gradients.
    """
    xs = [float(x) for x in inputs]
    leaves = [Value(x) for x in xs]
    out = f(*leaves)
    if isinstance(out, Value):
        out.backward()
    analytic = [leaf.grad for leaf in leaves]
    numeric = numerical_grad(f, xs, eps=eps)
    bad = [i for i, (a, n) in enumerate(zip(analytic, numeric)) if not close_enough(a, n, atol=atol, rtol=rtol)]
    if bad:
        rows = "\n".join(
            f"  {'!!' if i in bad else '  '} input {i}: x = {x!r}, analytic = {a!r}, numeric = {n!r}, "
            f"difference = {abs(a - n)!r}"
            for i, (x, a, n) in enumerate(zip(xs, analytic, numeric))
        )
        value = out.data if isinstance(out, Value) else out
        raise AssertionError(
            f"reverse-mode gradients differ from central differences (eps={eps}, atol={atol}, rtol={rtol}) "
            f"for inputs {bad} of {getattr(f, '__name__', None) or f!r} (value {value!r}):\n{rows}"
        )
    return analytic
