"""Programs that extend Value micrograd-style: ops as closures, a subclass, optimizer state stored on parameters."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any


def closure_ops(Value: Any) -> SimpleNamespace:
    """The lecture exercise's way of adding ops: a node from the constructor and an assigned ``_backward``."""

    def exp(self: Any) -> Any:
        out = Value(math.exp(self.data), (self,), "my_exp")

        def _backward() -> None:
            self.grad += out.data * out.grad

        out._backward = _backward
        return out

    def tanh(self: Any) -> Any:
        t = math.tanh(self.data)
        out = Value(t, (self,), "my_tanh")

        def _backward() -> None:
            self.grad += (1 - t**2) * out.grad

        out._backward = _backward
        return out

    def mul2(self: Any, other: Any) -> Any:
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "mul2")

        def _backward() -> None:
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def xlogx(self: Any) -> Any:
        """x * log(x), continued by 0 at x = 0 (an entropy term); its derivative log(x) + 1 is -inf there."""
        x = self.data
        out = Value(0.0 if x == 0 else x * math.log(x), (self,), "xlogx")

        def _backward() -> None:
            log_x = -math.inf if x == 0 else math.log(x)
            self.grad += (log_x + 1.0) * out.grad

        out._backward = _backward
        return out

    return SimpleNamespace(exp=exp, tanh=tanh, mul2=mul2, xlogx=xlogx)


# The methods closure_ops() installs on a Value class (the name users call -> the op).
METHODS = {"my_exp": "exp", "my_tanh": "tanh", "mul2": "mul2", "xlogx": "xlogx"}


def mixed_graph(x: Any, y: Any) -> tuple[Any, dict[str, Any]]:
    """Closure nodes and table nodes in one graph (needs the METHODS installed on the Value class).

    ``e`` is used three times, closure nodes consume closure nodes (``p``, ``u``), a closure
    consumes a table node (``t``) and table nodes consume closures (``s``, the root).
    """
    e = x.my_exp()
    p = e.mul2(y)
    s = p + x * y
    t = s.my_tanh()
    u = t.mul2(e)
    root = u * 3 + t**2 + e
    return root, {"e": e, "p": p, "s": s, "t": t, "u": u}


def constructor_forms(Value: Any, a: Any, b: Any) -> tuple[Any, Any]:
    """c = a*b built positionally with a label, e = exp(c) built with keywords; returns (e, c)."""
    c = Value(a.data * b.data, (a, b), "*", "c")

    def _backward_c() -> None:
        a.grad += b.data * c.grad
        b.grad += a.data * c.grad

    c._backward = _backward_c
    e = Value(data=math.exp(c.data), _children=(c,), _op="exp", label="e")

    def _backward_e() -> None:
        c.grad += e.data * e.grad

    e._backward = _backward_e
    return e, c


def subclass_with_op(Value: Any) -> type:
    """``class MyValue(Value)`` adding ``tanh2`` whose result is again a MyValue."""

    class MyValue(Value):  # type: ignore[misc, valid-type]
        def tanh2(self) -> Any:
            t = math.tanh(self.data)
            out = MyValue(t, (self,), "tanh2")

            def _backward() -> None:
                self.grad += (1 - t * t) * out.grad

            out._backward = _backward
            return out

    return MyValue


def subclass_program(MyValue: Any, x0: float, y0: float) -> tuple[Any, Any, Any]:
    """tanh2 of tanh2 over MyValue leaves, mixed with table ops; ``h`` and ``x`` are shared. Returns (root, x, y)."""
    x = MyValue(x0)
    y = MyValue(y0)
    h = x.tanh2()
    k = h.tanh2()
    root = k * y + h * x + x
    return root, x, y


def adam_by_hand(model: Any, loss_fn: Any, steps: int, lr: float = 0.05) -> list[float]:
    """A micrograd descendant's Adam: first and second moments kept on each parameter as p.m, p.v."""
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for p in model.parameters():
        p.m = 0.0
        p.v = 0.0
    losses = []
    for t in range(1, steps + 1):
        loss = loss_fn(model)
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.m = beta1 * p.m + (1 - beta1) * p.grad
            p.v = beta2 * p.v + (1 - beta2) * p.grad**2
            m_hat = p.m / (1 - beta1**t)
            v_hat = p.v / (1 - beta2**t)
            p.data -= lr * m_hat / (v_hat**0.5 + eps)
        losses.append(loss.data)
    return losses
