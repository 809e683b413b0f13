"""The op table of the docs, rendered from the rows: each op's forward and local derivatives as formulas."""

from __future__ import annotations

from typing import Any

from . import ops

_ADD, _MUL, _UNARY, _ATOM = 1, 2, 3, 4  # precedence, so parentheses appear only where needed


class Formula:
    """A number that records how it was computed, as text: ``x * y``, ``sech2(x)``.

    A row's ``local`` applied to formulas writes its derivatives out (its dispatching functions
    reach :meth:`_apply_rule`); a row that branches on its input cannot be written this way.
    """

    __slots__ = ("text", "prec")

    def __init__(self, text: str, prec: int = _ATOM) -> None:
        self.text = text
        self.prec = prec

    @staticmethod
    def of(x: Any) -> Formula:
        return x if isinstance(x, Formula) else Formula(format(float(x), "g"))

    def _binary(self, symbol: str, prec: int, left: Any, right: Any) -> Formula:
        a, b = Formula.of(left), Formula.of(right)
        lt = a.text if a.prec >= prec else f"({a.text})"
        rt = b.text if b.prec > prec else f"({b.text})"
        return Formula(f"{lt} {symbol} {rt}", prec)

    def __add__(self, other: Any) -> Formula:
        return self._binary("+", _ADD, self, other)

    def __radd__(self, other: Any) -> Formula:
        return self._binary("+", _ADD, other, self)

    def __sub__(self, other: Any) -> Formula:
        return self._binary("-", _ADD, self, other)

    def __rsub__(self, other: Any) -> Formula:
        return self._binary("-", _ADD, other, self)

    def __mul__(self, other: Any) -> Formula:
        return self._binary("*", _MUL, self, other)

    def __rmul__(self, other: Any) -> Formula:
        return self._binary("*", _MUL, other, self)

    def __truediv__(self, other: Any) -> Formula:
        return self._binary("/", _MUL, self, other)

    def __rtruediv__(self, other: Any) -> Formula:
        return self._binary("/", _MUL, other, self)

    def __pow__(self, other: Any) -> Formula:
        return self._binary("**", _UNARY, self, other)

    def __rpow__(self, other: Any) -> Formula:
        return self._binary("**", _UNARY, other, self)

    def __neg__(self) -> Formula:
        return Formula(f"-{self.text}" if self.prec >= _UNARY else f"-({self.text})", _UNARY)

    def __bool__(self) -> bool:
        raise TypeError("a row that branches on its inputs has no single formula")

    @classmethod
    def _apply_rule(cls, rule: ops.Op, *args: Any) -> Formula:
        return formula_of(rule, [Formula.of(a) for a in args])


def formula_of(rule: ops.Op, args: list[Formula]) -> Formula:
    """``rule`` applied to ``args`` as users write it: ``x + y``, ``-x``, ``x ** 2``, ``tanh(x)``."""
    if rule.operator is not None and rule.arity == 2:
        return args[0]._binary(rule.name, _UNARY if rule.name == "**" else _MUL if rule.name in "*/" else _ADD,
                               args[0], args[1])
    if rule is ops.NEG:
        return -args[0]
    if rule.params and rule.name.startswith("**"):
        return args[0] ** rule.params[0]
    return Formula(f"{rule.name}({', '.join(a.text for a in args)})")


_NAMES = ("x", "y")


def describe(rule: ops.Op) -> tuple[str, list[str]]:
    """(forward, [local derivative per input]) of a unary or binary row as formulas in x, y and out."""
    args = [Formula(name) for name in _NAMES[: rule.arity]]
    out = Formula("out")
    forward = formula_of(rule, args).text
    try:
        locals_ = [Formula.of(d).text for d in rule.local(*args, out)]
    except TypeError:
        locals_ = ["(branches on its input: see autograd/ops.py)"] * rule.arity
    return forward, locals_


def op_table() -> str:
    """Every row of fixed arity as a markdown table: name, arity, forward, local derivatives."""
    lines = ["| op | inputs | forward | local derivatives (d out / d input) |", "|---|---|---|---|"]
    for rule in ops.RULES.values():
        if rule.arity == -1:
            continue
        forward, locals_ = describe(rule)
        lines.append(f"| `{rule.name}` | {rule.arity} | `{forward}` | {', '.join(f'`{d}`' for d in locals_)} |")
    lines.append("| `sum`, `dot`, `logsumexp` | n | one node over many inputs | `1`; the other factor; the softmax |")
    return "\n".join(lines)
