"""Property-testing tools: hypothesis strategies for random expression DAGs and a gradient assertion."""

from __future__ import annotations

import itertools
import math
import operator
import random
from dataclasses import dataclass
from functools import partial, reduce
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
from .gradcheck import ATOL, EPS, RTOL, check_grads
from .value import Value
from .value import dot as _value_dot
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
    "step_kinds",
]

# Step kinds, all made from the rows of the rule table: one per operator row (``+``, ``**``),
# "x+c" / "c+x" per binary operator row with a number on one side, one per public row of fixed
# arity (``tanh``, ``neg`` for unary minus) and one per public n-ary row (``sum``, ``dot``).

def _operator_rows() -> list[_ops.Op]:
    return [rule for rule in _ops.RULES.values() if rule.operator is not None and rule.arity == 2]


def _unary_rows() -> list[_ops.Op]:
    return [r for r in _ops.RULES.values() if r.arity == 1 and (r.public or r.operator is not None)]


def step_kinds(*, builtin_only: bool = True) -> tuple[str, ...]:
    """Every step kind :func:`expressions` can generate, from the rows (built-in rows, or all of them)."""
    def keep(rule: _ops.Op) -> bool:
        return not builtin_only or rule.name in _ops.BUILTIN_ROWS

    binary = [rule.name for rule in _operator_rows() if keep(rule)]
    constant = [kind for name in binary for kind in (f"x{name}c", f"c{name}x")]
    unary = [rule.name for rule in _unary_rows() if keep(rule)]
    nary = [r.name for r in _ops.RULES.values() if r.arity == -1 and r.public and keep(r)]
    return tuple(binary + constant + unary + nary)


ALL_OPS: tuple[str, ...] = step_kinds()
"""Every step kind :func:`expressions` generates by default: one per user-visible op of the
built-in rows and operand order (rows registered later with ``defop`` are added by naming them)."""

# Constants for "x+c" / "c+x" steps: those inside the row's domain for their position are used.
_CONSTANT_POOL = (2.0, -0.5, 3.0, 0.5, 1.0, -1.5, 0.0, -1.0, 1.5, 2.5, 0.25)


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
    back to plain ``+``/``*`` for other types (floats, forward-mode duals, tensors); other
    n-ary rows (``logsumexp``) make one node for Values and apply their row to other types.
    """
    functions: dict[str, Callable[..., Any]] = {}
    for name, function in _ops.FUNCTIONS.items():
        rule = _ops.RULES[name]
        if rule.arity != -1:
            functions[name] = function
        elif rule is _ops.SUM:
            functions[name] = _fused_sum
        elif rule is _ops.DOT:
            functions[name] = _fused_dot
        else:
            functions[name] = partial(_fused_nary, rule)
    return functions


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


def _fused_nary(rule: _ops.Op, values: Sequence[Any]) -> Any:
    if all(isinstance(v, Value) for v in values):
        return _ops.FUNCTIONS[rule.name](values)
    return _ops.apply(rule, *values)  # floats -> float, duals -> dual


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
        """True when moving any one input by ±delta keeps every argument of a row with kinks
        (relu, abs: ``Op.kinks``) on the same side of each kink."""
        kinks = [(step.args[0], kink) for step in self.steps for kink in _row_of(step.op).kinks]
        if not kinks:
            return True
        center = self.evaluate(*xs)
        sides = [_side(center[arg] - kink) for arg, kink in kinks]
        for i in range(self.n_inputs):
            for shift in (delta, -delta):
                moved = list(xs)
                moved[i] = xs[i] + shift
                values = self.evaluate(*moved)
                if any(_side(values[arg] - kink) != side for (arg, kink), side in zip(kinks, sides)):
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


def _split_constant_kind(op: str) -> tuple[str, bool] | None:
    """("+", True) for "x+c", ("+", False) for "c+x"; None for other kinds."""
    if len(op) >= 3 and op[0] in "xc" and op[-1] in "xc" and op[0] != op[-1]:
        return op[1:-1], op[0] == "x"
    return None


def _row_of(op: str) -> _ops.Op:
    """The row a step kind applies ("x+c" -> the + row; "x**c" -> the + row's ** sibling)."""
    split = _split_constant_kind(op)
    rule = _ops.RULES.get(split[0] if split else op)
    if rule is None:
        raise ValueError(f"expressions(): unknown op {op!r}; choose from {step_kinds(builtin_only=False)}")
    return rule


def _apply_step(step: Step, args: list[Any], fns: Mapping[str, Callable[..., Any]]) -> Any:
    op, c = step.op, step.const
    split = _split_constant_kind(op)
    if split is not None:
        apply = getattr(operator, _row_of(op).operator or "")
        return apply(args[0], c) if split[1] else apply(c, args[0])
    rule = _ops.RULES[op]
    if rule.operator is not None and op not in fns:  # + - * / ** and unary minus: the operators
        return getattr(operator, rule.operator)(*args)
    if rule is _ops.DOT:
        k = len(args) // 2
        return fns["dot"](args[:k], args[k : 2 * k], args[-1] if step.bias else None)
    if rule.arity == -1:
        return fns[op](args)
    return fns[op](*args)


def _format_step(step: Step, names: list[str]) -> str:
    op, c = step.op, step.const
    split = _split_constant_kind(op)
    if split is not None:  # "x+c" reads left operand, symbol, right operand
        return f"{names[0]} {split[0]} {c!r}" if split[1] else f"{c!r} {split[0]} {names[0]}"
    rule = _ops.RULES[op]
    if rule.operator is not None and rule.arity == 2:
        return f"{names[0]} {op} {names[1]}"
    if rule is _ops.NEG:
        return f"-{names[0]}"
    if rule is _ops.DOT:
        k = len(names) // 2
        bias = f", bias={names[-1]}" if step.bias else ""
        return f"dot([{', '.join(names[:k])}], [{', '.join(names[k : 2 * k])}]{bias})"
    if rule.arity == -1:
        return f"{op}([{', '.join(names)}])"
    return f"{op}({', '.join(names)})"


# ---------------------------------------------------------------------------------------
# Generation.  Every node carries an interval [lo, hi] that holds its values for inputs in
# [-bound, bound] and a bound on its steepness (sum over inputs of |d node / d input|), both
# read off the row itself: its forward and its local derivatives evaluated over the operands'
# intervals (at the corners, and on a grid inside for ops of one or two inputs; the n-ary rows
# are monotone or multilinear in each input, so their extremes sit at the corners).  An operand
# outside the row's domain (``Op.domain``) is first moved inside it, and a step that would leave
# the value or steepness bounds is redone on fresh inputs: central differences then stay accurate.

_MAX_VALUE = 50.0
_MAX_STEEPNESS = 100.0
_SQUASH = ("tanh", "sigmoid")
_GRID = 17  # points per input interval for unary rows (5 per input for binary rows)
_MAX_CORNERS = 256

Interval = tuple[float, float]


def _points(iv: Interval, count: int) -> list[float]:
    lo, hi = iv
    points = [lo + (hi - lo) * k / (count - 1) for k in range(count)] if count > 1 else [lo, hi]
    return points + ([0.0] if lo < 0.0 < hi else [])


def _corners(ivs: list[Interval]) -> list[tuple[float, ...]]:
    """Every corner of the box, or (beyond 8 inputs) a fixed spread of them and the two extremes."""
    if len(ivs) <= 8:
        return list(itertools.product(*ivs))
    rng = random.Random(len(ivs))  # deterministic: the same expression always gets the same bounds
    spread = [tuple(iv[rng.getrandbits(1)] for iv in ivs) for _ in range(_MAX_CORNERS)]
    return spread + [tuple(iv[0] for iv in ivs), tuple(iv[1] for iv in ivs)]


def _samples(ivs: list[Interval]) -> list[tuple[float, ...]]:
    if len(ivs) == 1:
        return [(x,) for x in _points(ivs[0], _GRID)]
    if len(ivs) == 2:
        return [(x, y) for x in _points(ivs[0], 5) for y in _points(ivs[1], 5)]
    return _corners(ivs)


def _bounds(rule: _ops.Op, args: list[Any], ivs: list[Interval], steep: list[float]) -> tuple[Interval, float]:
    """(interval, steepness) of ``rule`` applied to operands ``args`` (constants are floats)."""
    varying = [i for i, a in enumerate(args) if a is None]
    lo, hi, slope = math.inf, -math.inf, 0.0
    for point in _samples([ivs[i] for i in varying]):
        xs = [float(a) if a is not None else 0.0 for a in args]
        for i, x in zip(varying, point):
            xs[i] = x
        out = rule.forward(*xs)
        local = rule.local(*xs, out)
        lo, hi = min(lo, out), max(hi, out)
        slope = max(slope, math.fsum(abs(local[i]) * steep[i] for i in varying))
    if not (math.isfinite(lo) and math.isfinite(hi) and math.isfinite(slope)):
        return (-math.inf, math.inf), math.inf
    return (lo, hi), slope


def _within(iv: Interval, limit: float) -> bool:
    return -limit <= iv[0] and iv[1] <= limit


def _domain_of(rule: _ops.Op, position: int) -> _ops.InputDomain:
    if rule.domain is None:
        return None
    return rule.domain[position] if position < len(rule.domain) else rule.domain[-1]


def _inside(iv: Interval, need: _ops.InputDomain) -> bool:
    if need is None:
        return True
    if isinstance(need, str):  # "nonzero"
        return iv[0] >= _NONZERO or iv[1] <= -_NONZERO
    lo, hi = need
    return lo <= iv[0] and iv[1] <= hi


_NONZERO = 0.25  # denominators stay at least this far from 0


class _Builder:
    """Accumulates steps, node intervals and steepness while a hypothesis ``draw`` makes choices."""

    def __init__(self, draw: Callable[[st.SearchStrategy[Any]], Any], n_inputs: int, bound: float) -> None:
        self.draw = draw
        self.n_inputs = n_inputs
        self.bound = bound
        self.steps: list[Step] = []
        self.intervals: list[Interval] = [(-bound, bound)] * n_inputs
        self.steepness: list[float] = [1.0] * n_inputs

    def _bounds_of(self, op: str, args: tuple[int, ...], const: float | None) -> tuple[Interval, float]:
        split = _split_constant_kind(op)
        if split is not None:  # a number on one side: the row with that operand fixed
            i = args[0]
            rule = _ops.pow_const(float(const or 0.0)) if split == ("**", True) else _row_of(op)
            operands: list[Any] = [None] if rule.arity == 1 else ([None, const] if split[1] else [const, None])
            ivs = [self.intervals[i]] * len(operands)
            return _bounds(rule, operands, ivs, [self.steepness[i]] * len(operands))
        rule = _ops.RULES[op]
        if len(args) == 2 and args[0] == args[1] and rule is _ops.MUL:  # x * x is a square, never negative
            lo, hi = self.intervals[args[0]]
            iv, steep = _bounds(_ops.pow_const(2.0), [None], [(lo, hi)], [self.steepness[args[0]]])
            return iv, steep
        return _bounds(rule, [None] * len(args), [self.intervals[i] for i in args], [self.steepness[i] for i in args])

    def emit(self, op: str, args: tuple[int, ...], const: float | None = None, bias: bool = False) -> int:
        iv, steep = self._bounds_of(op, args, const)
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
        """Node ``i`` if it is >= 0.25, else a positive transform of it (shared later too)."""
        if self.intervals[i][0] >= _NONZERO:
            return i
        how = self.draw(st.sampled_from(("square+1", "sigmoid+0.5", "exp")))
        if how == "square+1":
            j = self.squashed(i, limit=2.0)
            return self.emit("x+c", (self.emit("*", (j, j)),), 1.0)
        if how == "sigmoid+0.5":
            return self.emit("x+c", (self.emit("sigmoid", (i,)),), 0.5)
        return self.emit("exp", (self.squashed(i),))

    def prepared(self, need: _ops.InputDomain, i: int) -> int:
        """Node ``i``, or a transform of it inside the domain ``need``."""
        iv = self.intervals[i]
        if _inside(iv, need):
            return i
        if need is None or isinstance(need, str):  # "nonzero"
            return self.positive(i)
        lo, hi = need
        if lo >= 0.0:  # log, sqrt, bases of **: positive transforms land in [0.25, ...)
            return self.positive(i)
        return self.squashed(i, limit=min(-lo, hi))

    def _kind(self, op: str) -> tuple[int, float | None, bool, list[_ops.InputDomain]]:
        """(arity, constant, bias, domain per operand) of a step of kind ``op``, drawn."""
        split = _split_constant_kind(op)
        rule = _row_of(op)
        if split is not None:
            position = 0 if split[1] else 1  # the operand's position in the row; the number takes the other
            fits = [c for c in _CONSTANT_POOL if _inside((c, c), _domain_of(rule, 1 - position))]
            const = self.draw(st.sampled_from(fits))
            if split == ("**", True):
                return 1, const, False, [_domain_of(_ops.pow_const(const), 0)]
            return 1, const, False, [_domain_of(rule, position)]
        if rule.arity != -1:
            return rule.arity, None, False, [_domain_of(rule, k) for k in range(rule.arity)]
        if rule is _ops.DOT:
            bias = self.draw(st.booleans())
            arity = 2 * self.draw(st.integers(1, 5)) + bias
            return arity, None, bias, [_domain_of(rule, 0)] * arity
        arity = self.draw(st.integers(1, 8 if rule is _ops.SUM else 6))
        return arity, None, False, [_domain_of(rule, 0)] * arity

    def add(self, op: str) -> None:
        """Append a step of kind ``op`` (plus whatever helper steps make it safe)."""
        arity, const, bias, needs = self._kind(op)
        mark = len(self.steps)
        args = tuple(self.prepared(needs[k], self.pick()) for k in range(arity))
        iv, steep = self._bounds_of(op, args, const)
        if not (_within(iv, _MAX_VALUE) and steep <= _MAX_STEEPNESS):
            # Too large or too steep: undo the helper steps and apply the op to inputs instead.
            del self.steps[mark:]
            del self.intervals[self.n_inputs + mark :]
            del self.steepness[self.n_inputs + mark :]
            inputs = st.integers(0, self.n_inputs - 1)
            args = tuple(self.prepared(needs[k], self.draw(inputs)) for k in range(arity))
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
    known = step_kinds(builtin_only=False)
    unknown = [op for op in ops if op not in known]
    if unknown:
        raise ValueError(f"expressions(): unknown ops {unknown}; choose from {known}")
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
    eps: float = EPS,
    atol: float = ATOL,
    rtol: float = RTOL,
) -> list[float]:
    """``autograd.check_grads(f, inputs, modes="reverse", order=1)``: the same check, code and defaults.

    ``f`` receives one leaf Value per input and returns a Value.  Raises AssertionError listing
    every input with the analytic and numeric gradients; returns the analytic gradients.
    """
    return check_grads(f, inputs, modes="reverse", order=1, eps=eps, atol=atol, rtol=rtol)
