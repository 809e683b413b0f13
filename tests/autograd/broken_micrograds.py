"""micrograd's engine (0.1.0, MIT, Andrej Karpathy) with tanh/exp/log/sigmoid, and copies with one classic bug each.

``Micrograd`` is the engine as micrograd ships it, extended with the methods people add after the
lecture and written with ``type(self)`` so each subclass below builds nodes of its own class.
Each subclass overrides exactly one thing, with the mistake named in its docstring; ``BUGS`` maps
each to the op the check must name and the hint it must give.
"""

from __future__ import annotations

import math
from typing import Any


class Micrograd:
    """micrograd.engine.Value, plus tanh, exp, log and sigmoid, all correct."""

    def __init__(self, data: Any, _children: tuple = (), _op: str = "") -> None:
        self.data = data
        self.grad = 0
        self._backward: Any = lambda: None
        self._prev = set(_children)
        self._op = _op

    def _wrap(self, other: Any) -> Any:
        return other if isinstance(other, Micrograd) else type(self)(other)

    def _binary(self, other: Any, value: float, local_self: float, local_other: float, op: str) -> Any:
        out = type(self)(value, (self, other), op)

        def _backward() -> None:
            self.grad += local_self * out.grad
            other.grad += local_other * out.grad

        out._backward = _backward
        return out

    def __add__(self, other: Any) -> Any:
        other = self._wrap(other)
        return self._binary(other, self.data + other.data, 1, 1, "+")  # int 1: 1 * grad is grad, type and all

    def __mul__(self, other: Any) -> Any:
        other = self._wrap(other)
        return self._binary(other, self.data * other.data, other.data, self.data, "*")

    def __pow__(self, other: Any) -> Any:
        assert isinstance(other, (int, float)), "only supporting int/float powers for now"
        out = type(self)(self.data**other, (self,), f"**{other}")

        def _backward() -> None:
            self.grad += (other * self.data ** (other - 1)) * out.grad

        out._backward = _backward
        return out

    def _unary(self, value: float, local: float, op: str) -> Any:
        out = type(self)(value, (self,), op)

        def _backward() -> None:
            self.grad += local * out.grad

        out._backward = _backward
        return out

    def relu(self) -> Any:
        return self._unary(0 if self.data < 0 else self.data, float(self.data > 0), "ReLU")

    def tanh(self) -> Any:
        t = math.tanh(self.data)
        return self._unary(t, 1 - t * t, "tanh")

    def exp(self) -> Any:
        e = math.exp(self.data)
        return self._unary(e, e, "exp")

    def log(self) -> Any:
        return self._unary(math.log(self.data), 1 / self.data, "log")

    def sigmoid(self) -> Any:
        x = self.data
        s = 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))
        return self._unary(s, s * (1 - s), "sigmoid")

    def _topological_order(self) -> list:
        topo: list = []
        visited: set = set()

        def build_topo(v: Any) -> None:
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build_topo(child)
                topo.append(v)

        build_topo(self)
        return topo

    def backward(self) -> None:
        topo = self._topological_order()
        self.grad = 1
        for v in reversed(topo):
            v._backward()

    def __neg__(self) -> Any:
        return self * -1

    def __radd__(self, other: Any) -> Any:
        return self + other

    def __sub__(self, other: Any) -> Any:
        return self + (-other)

    def __rsub__(self, other: Any) -> Any:
        return other + (-self)

    def __rmul__(self, other: Any) -> Any:
        return self * other

    def __truediv__(self, other: Any) -> Any:
        return self * other**-1

    def __rtruediv__(self, other: Any) -> Any:
        return other * self**-1

    def __repr__(self) -> str:
        return f"Value(data={self.data}, grad={self.grad})"


class AssignInsteadOfAdd(Micrograd):
    """`self.grad = ...` in `__add__` and `__mul__` (their `_binary`): a node used twice keeps only one contribution."""

    def _binary(self, other: Any, value: float, local_self: float, local_other: float, op: str) -> Any:
        out = type(self)(value, (self, other), op)

        def _backward() -> None:
            self.grad = local_self * out.grad
            other.grad = local_other * out.grad

        out._backward = _backward
        return out


class SubSignFlipped(Micrograd):
    """`__sub__` written out with `other.grad += out.grad`: the sign of d(a - b)/db is lost."""

    def __sub__(self, other: Any) -> Any:
        other = self._wrap(other)
        return self._binary(other, self.data - other.data, 1, 1, "-")


class NegSignFlipped(Micrograd):
    """`__neg__` written out with `self.grad += out.grad`."""

    def __neg__(self) -> Any:
        return self._unary(-self.data, 1.0, "neg")


class MissingRadd(Micrograd):
    """No `__radd__`: `2 + a` and `sum(values)` fail although `a + 2` works."""

    def __radd__(self, other: Any) -> Any:
        return NotImplemented


class RsubSwapped(Micrograd):
    """`__rsub__` returns self - other: `c - a` computes a - c."""

    def __rsub__(self, other: Any) -> Any:
        return self - other


class RtruedivSwapped(Micrograd):
    """`__rtruediv__` copied from `__truediv__`: `c / a` computes a / c."""

    def __rtruediv__(self, other: Any) -> Any:
        return self * other**-1


class PowTimesXToTheN(Micrograd):
    """`n * x**n` instead of `n * x**(n-1)` in the derivative of `**`."""

    def __pow__(self, other: Any) -> Any:
        assert isinstance(other, (int, float)), "only supporting int/float powers for now"
        out = type(self)(self.data**other, (self,), f"**{other}")

        def _backward() -> None:
            self.grad += (other * self.data**other) * out.grad

        out._backward = _backward
        return out


class PowWithoutChainRule(Micrograd):
    """`**`'s `_backward` forgets `* out.grad`: right only when the power is the output."""

    def __pow__(self, other: Any) -> Any:
        assert isinstance(other, (int, float)), "only supporting int/float powers for now"
        out = type(self)(self.data**other, (self,), f"**{other}")

        def _backward() -> None:
            self.grad += other * self.data ** (other - 1)

        out._backward = _backward
        return out


class TanhOverflows(Micrograd):
    """tanh as (e^2x - 1)/(e^2x + 1), the lecture's formula: OverflowError for x > 354."""

    def tanh(self) -> Any:
        x = self.data
        t = (math.exp(2 * x) - 1) / (math.exp(2 * x) + 1)
        return self._unary(t, 1 - t**2, "tanh")


class TopoWithoutVisited(Micrograd):
    """`build_topo` with no visited set: a node reached by two paths runs its `_backward` twice (and the walk is
    exponential in the number of diamonds)."""

    def _topological_order(self) -> list:
        topo: list = []

        def build_topo(v: Any) -> None:
            for child in v._prev:
                build_topo(child)
            topo.append(v)

        build_topo(self)
        return topo


BUGS = {  # class -> (the row the check marks, words its hint must contain)
    AssignInsteadOfAdd: ("a + b", "`=` where `+=`"),
    SubSignFlipped: ("a - b", "sign flipped in the derivative of `-`"),
    NegSignFlipped: ("-a", "sign flipped in the derivative of unary `-`"),
    RsubSwapped: ("c - a", "`__rsub__` computes a - c"),
    RtruedivSwapped: ("c / a", "`__rtruediv__` computes a / c"),
    PowTimesXToTheN: ("a ** n", "`n * x**n` where `n * x**(n-1)`"),
    PowWithoutChainRule: ("a ** n", "not multiplied by `out.grad`"),
    TopoWithoutVisited: ("backward: shared nodes", "`visited` set"),
}
"""The bugs that make an op wrong (exit status 1). MissingRadd and TanhOverflows are found too, as a
missing op with a hint and as a convention; the tests check those separately."""
