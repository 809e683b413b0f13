"""Forward mode: dual numbers driven by the rule table, jvp, and jacobian (forward or reverse)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

from . import ops
from .engine import gradients, set_grad_mode
from .ops import Op, is_real, to_float
from .value import Value, _leaf, is_constant

# Method factories: Dual's operators and named methods are made from the rows (see _install at
# the end), each applying its row.

def _operator(rule: Op) -> Callable[..., Dual]:
    with_constant = rule.right_constant
    if with_constant is None:
        def method(self: Dual, other: Any) -> Dual:
            return _binary(rule, self, other)

        return method

    def method_with_constant(self: Dual, other: Any, modulo: None = None) -> Dual:
        if modulo is not None:
            raise TypeError(f"{rule.name} of a Dual does not take a modulo argument")
        if other.__class__ is Dual:
            return Dual._apply_rule(rule, self, other)
        if not is_real(other):
            return NotImplemented
        # The same row Value uses for a constant right operand (x**2 -> "**2").
        return Dual._apply_rule(with_constant(to_float(other, f"{rule.name} operand")), self)

    return method_with_constant


def _reflected(rule: Op) -> Callable[[Dual, Any], Dual]:
    def method(self: Dual, other: Any) -> Dual:
        return _binary(rule, other, self)

    return method


def _named_method(rule: Op) -> Callable[..., Dual]:
    def method(self: Dual, *others: Any) -> Dual:
        return Dual._apply_rule(rule, self, *others)

    return method


if TYPE_CHECKING:  # what type checkers see of the generated operators and methods
    from ._operators import DualOperators as _Generated
else:
    _Generated = object


class Dual(_Generated):
    """A number carrying a primal value and a tangent (its derivative along one direction).

    Every operation applies a row of the rule table: ``primal = rule.forward(primals)`` and
    ``tangent = sum(local_i * tangent_i)`` with ``local = rule.local(primals..., primal_out)``,
    so forward mode uses exactly the derivatives reverse mode uses.  Plain numbers mixed in
    are constants (tangent 0) and contribute no term, as in reverse mode where a constant's
    gradient is never read.
    """

    __slots__ = ("primal", "tangent")
    __array_ufunc__ = None  # numpy scalars defer to our reflected operators

    def __init__(self, primal: Any, tangent: Any = 0.0) -> None:
        self.primal = to_float(primal, "Dual() primal")
        self.tangent = to_float(tangent, "Dual() tangent")

    @property
    def data(self) -> float:
        """The primal value (named like ``Value.data`` so code written for Values can read it)."""
        return self.primal

    def __repr__(self) -> str:
        return f"Dual(primal={self.primal}, tangent={self.tangent})"

    @classmethod
    def _apply_rule(cls, rule: Op, *args: Any) -> Dual:
        """Apply one row of the rule table to duals (plain real numbers are constants)."""
        result = _new(Dual)
        if len(args) == 1:  # the common shapes get straight-line code; same arithmetic
            (x,) = args
            out = rule.forward(x.primal)
            (local,) = rule.local(x.primal, out)
            result.primal = out
            result.tangent = local * x.tangent
            return result
        if len(args) == 2:
            x, y = args
            if x.__class__ is Dual:
                if y.__class__ is Dual:
                    out = rule.forward(x.primal, y.primal)
                    local_x, local_y = rule.local(x.primal, y.primal, out)
                    result.primal = out
                    result.tangent = local_x * x.tangent + local_y * y.tangent
                    return result
                if y.__class__ is float:  # a constant: no term for it
                    out = rule.forward(x.primal, y)
                    result.primal = out
                    result.tangent = rule.local(x.primal, y, out)[0] * x.tangent
                    return result
            elif x.__class__ is float and y.__class__ is Dual:
                out = rule.forward(x, y.primal)
                result.primal = out
                result.tangent = rule.local(x, y.primal, out)[1] * y.tangent
                return result
        primals = [a.primal if a.__class__ is Dual else _constant(a, rule) for a in args]
        out = rule.forward(*primals)
        local_grads = rule.local(*primals, out)
        tangent = 0.0
        for a, local in zip(args, local_grads):
            if a.__class__ is Dual:  # constants have tangent 0 and contribute no term
                tangent = tangent + local * a.tangent
        result.primal = out
        result.tangent = tangent
        return result

    def __pos__(self) -> Dual:
        return self

    # Operators and named methods (tanh(), exp(), ...) are made from the rows: see _install.


_new = object.__new__


def _constant(x: Any, rule: Op) -> float:
    if x.__class__ is float:
        return x
    if isinstance(x, Value) and x._rule is None:
        return x.data  # a constant leaf (e.g. autograd.sum([1.0, 2.0])): no tangent
    return to_float(x, f"{rule.name}() argument")


_NUMBER_CLASSES = frozenset((Dual, float, int))


def _is_constant_leaf(x: Any) -> bool:
    return isinstance(x, Value) and x._rule is None


def _binary(rule: Op, x: Any, y: Any) -> Any:
    # Anything that is neither a Dual nor a real number nor a constant leaf Value (an
    # interior Value, a string, ...): let Python try the other operand, then raise its usual
    # TypeError naming both types.
    for operand in (x, y):
        if operand.__class__ not in _NUMBER_CLASSES and not is_real(operand) and not _is_constant_leaf(operand):
            return NotImplemented
    return Dual._apply_rule(rule, x, y)


def _as_floats(values: Any, what: str) -> list[float]:
    if is_real(values):
        return [to_float(values, what)]
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{what} must be a sequence of real numbers, got {values.__class__.__name__}: {values!r:.60}")
    return [
        (v.data if isinstance(v, Value) else to_float(v, f"{what}[{i}]")) for i, v in enumerate(values)
    ]


def _function_name(f: Callable[..., Any]) -> str:
    return getattr(f, "__name__", "f")


def _outputs(out: Any, f: Callable[..., Any]) -> tuple[list[Any], bool]:
    """f's result as a list of scalars and whether it was a sequence (so results keep its shape)."""
    if isinstance(out, (Dual, Value)) or is_real(out):
        return [out], False
    if isinstance(out, (str, bytes)) or not hasattr(out, "__iter__"):
        raise TypeError(
            f"{_function_name(f)} must return a number, a Value/Dual or a sequence of them, "
            f"got {out.__class__.__name__}: {out!r:.60}"
        )
    return list(out), True


def jvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """Forward mode: ``(f(*primals), directional derivative of f at primals along tangents)``.

    One pass, no graph.  ``f`` receives one :class:`Dual` per primal (they support the
    operators, the Value methods ``.tanh()``, ``.exp()``, ... and the free functions
    ``autograd.exp``, ``autograd.sum``, ``autograd.dot``, ...) and returns a number or a
    sequence of numbers; the results are floats, or lists of floats for a sequence.  A single
    number is accepted for ``primals`` / ``tangents`` when ``f`` takes one argument.
    """
    xs = _as_floats(primals, "jvp() primals")
    ts = _as_floats(tangents, "jvp() tangents")
    if len(xs) != len(ts):
        raise ValueError(f"jvp(): {len(xs)} primals but {len(ts)} tangents; they must match")
    out, is_sequence = _outputs(f(*[Dual(x, t) for x, t in zip(xs, ts)]), f)
    values, derivatives = [], []
    for i, y in enumerate(out):
        if y.__class__ is Dual:
            values.append(y.primal)
            derivatives.append(y.tangent)
        elif isinstance(y, Value) and is_constant(y):  # built from numbers alone (autograd.sum([1.0])): derivative 0
            values.append(y.data)
            derivatives.append(0.0)
        elif isinstance(y, Value):
            raise TypeError(
                f"{_function_name(f)} returned a Value (output {i}) inside jvp(); build the result from "
                "the Dual arguments it receives, not from Values"
            )
        else:  # a constant: derivative 0
            values.append(to_float(y, f"output {i} of {_function_name(f)}"))
            derivatives.append(0.0)
    if is_sequence:
        return values, derivatives
    return values[0], derivatives[0]


def jacobian(f: Callable[..., Any], inputs: Sequence[Any], *, mode: str = "forward") -> list[list[float]]:
    """The m x n Jacobian of ``f: R^n -> R^m`` at ``inputs`` as a list of m rows of n floats.

    ``f`` receives n arguments and returns a number (m = 1) or a sequence of m numbers.
    ``mode="forward"`` runs n jvps (one column each): best when n < m.  ``mode="reverse"``
    builds the graph once and runs m backward passes (one row each): best when m < n.
    """
    xs = _as_floats(inputs, "jacobian() inputs")
    n = len(xs)
    if mode == "forward":
        columns = []
        for j in range(n):
            _, column = jvp(f, xs, [1.0 if i == j else 0.0 for i in range(n)])
            columns.append(column if isinstance(column, list) else [column])
        m = len(columns[0]) if columns else len(_outputs(f(*xs), f)[0])
        return [[columns[j][i] for j in range(n)] for i in range(m)]
    if mode == "reverse":
        leaves = [_leaf(x) for x in xs]
        with set_grad_mode(True):  # a function transform: record even inside no_grad()
            out, _ = _outputs(f(*leaves), f)
        rows = []
        for y in out:
            if isinstance(y, Value):
                grads = gradients(y, 1.0)
                rows.append([float(grads.get(leaf, 0.0)) for leaf in leaves])
            else:
                to_float(y, f"output of {_function_name(f)}")
                rows.append([0.0] * n)
        return rows
    raise ValueError(f"jacobian(): mode must be 'forward' or 'reverse', got {mode!r}")


def _install(rule: Op) -> None:
    """Dual's operator and method for ``rule``."""
    ops.install_methods(Dual, rule, {"operator": _operator, "reflected": _reflected, "named": _named_method})


ops.on_register(_install)
ops._name_checks.append(lambda name: hasattr(Dual, name))
