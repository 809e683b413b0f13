"""Code of the "spelled-out intro to neural networks and backpropagation" lecture, as functions of the Value class.

The lecture has its users write their own ``Value``; ``LectureValue`` is that class (the finished
version, ``+=`` in every ``_backward``) and serves as the reference the same programs must agree
with, since micrograd 0.1.0 has no ``label``, ``exp`` or ``tanh``.
"""

from __future__ import annotations

import math
import random
from typing import Any, Callable


class LectureValue:
    """The Value class the lecture builds, closure per op."""

    def __init__(self, data: Any, _children: tuple = (), _op: str = "", label: str = "") -> None:
        self.data = data
        self.grad = 0.0
        self._backward: Callable[[], None] = lambda: None
        self._prev = set(_children)
        self._op = _op
        self.label = label

    def __repr__(self) -> str:
        return f"Value(data={self.data})"

    def __add__(self, other: Any) -> LectureValue:
        other = other if isinstance(other, LectureValue) else LectureValue(other)
        out = LectureValue(self.data + other.data, (self, other), "+")

        def _backward() -> None:
            self.grad += 1.0 * out.grad
            other.grad += 1.0 * out.grad

        out._backward = _backward
        return out

    def __mul__(self, other: Any) -> LectureValue:
        other = other if isinstance(other, LectureValue) else LectureValue(other)
        out = LectureValue(self.data * other.data, (self, other), "*")

        def _backward() -> None:
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, other: Any) -> LectureValue:
        assert isinstance(other, (int, float)), "only supporting int/float powers for now"
        out = LectureValue(self.data**other, (self,), f"**{other}")

        def _backward() -> None:
            self.grad += other * (self.data ** (other - 1)) * out.grad

        out._backward = _backward
        return out

    def __rmul__(self, other: Any) -> LectureValue:
        return self * other

    def __truediv__(self, other: Any) -> LectureValue:
        return self * other**-1

    def __neg__(self) -> LectureValue:
        return self * -1

    def __sub__(self, other: Any) -> LectureValue:
        return self + (-other)

    def __radd__(self, other: Any) -> LectureValue:
        return self + other

    def tanh(self) -> LectureValue:
        x = self.data
        t = (math.exp(2 * x) - 1) / (math.exp(2 * x) + 1)
        out = LectureValue(t, (self,), "tanh")

        def _backward() -> None:
            self.grad += (1 - t**2) * out.grad

        out._backward = _backward
        return out

    def exp(self) -> LectureValue:
        x = self.data
        out = LectureValue(math.exp(x), (self,), "exp")

        def _backward() -> None:
            self.grad += out.data * out.grad

        out._backward = _backward
        return out

    def backward(self) -> None:
        topo: list[LectureValue] = []
        visited: set[LectureValue] = set()

        def build_topo(v: LectureValue) -> None:
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build_topo(child)
                topo.append(v)

        build_topo(self)
        self.grad = 1.0
        for node in reversed(topo):
            node._backward()


def trace(root: Any) -> tuple[set, set]:
    nodes: set = set()
    edges: set = set()

    def build(v: Any) -> None:
        if v not in nodes:
            nodes.add(v)
            for child in v._prev:
                edges.add((child, v))
                build(child)

    build(root)
    return nodes, edges


def draw_dot(root: Any) -> Any:
    """The lecture's draw_dot: like trace_graph's, with the label in each record."""
    from graphviz import Digraph  # type: ignore[import-untyped]

    dot = Digraph(format="svg", graph_attr={"rankdir": "LR"})
    nodes, edges = trace(root)
    for n in nodes:
        uid = str(id(n))
        dot.node(name=uid, label="{ %s | data %.4f | grad %.4f }" % (n.label, n.data, n.grad), shape="record")
        if n._op:
            dot.node(name=uid + n._op, label=n._op)
            dot.edge(uid + n._op, uid)
    for n1, n2 in edges:
        dot.edge(str(id(n1)), str(id(n2)) + n2._op)
    return dot


def neuron(Value: Any) -> dict[str, Any]:
    """The lecture's two-input neuron with labelled nodes, before any backward: name -> node."""
    x1 = Value(2.0, label="x1")
    x2 = Value(0.0, label="x2")
    w1 = Value(-3.0, label="w1")
    w2 = Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    x1w1 = x1 * w1
    x1w1.label = "x1*w1"
    x2w2 = x2 * w2
    x2w2.label = "x2*w2"
    x1w1x2w2 = x1w1 + x2w2
    x1w1x2w2.label = "x1*w1 + x2*w2"
    n = x1w1x2w2 + b
    n.label = "n"
    return {"x1": x1, "x2": x2, "w1": w1, "w2": w2, "b": b, "x1w1": x1w1, "x2w2": x2w2, "x1w1x2w2": x1w1x2w2, "n": n}


def neuron_tanh_by_hand(Value: Any) -> dict[str, Any]:
    """o = n.tanh(), then the lecture's manual chain: o.grad = 1.0; o._backward(); n._backward(); ..."""
    nodes = neuron(Value)
    o = nodes["n"].tanh()
    o.label = "o"
    o.grad = 1.0
    o._backward()
    nodes["n"]._backward()
    nodes["b"]._backward()
    nodes["x1w1x2w2"]._backward()
    nodes["x2w2"]._backward()
    nodes["x1w1"]._backward()
    nodes["o"] = o
    return nodes


def neuron_tanh_from_exp(Value: Any) -> dict[str, Any]:
    """The same neuron with tanh spelled out: e = (2*n).exp(); o = (e - 1) / (e + 1); o.backward()."""
    nodes = neuron(Value)
    e = (2 * nodes["n"]).exp()
    o = (e - 1) / (e + 1)
    o.label = "o"
    o.backward()
    nodes["e"] = e
    nodes["o"] = o
    return nodes


def lecture_nn(Value: Any) -> tuple[type, type, type]:
    """The lecture's Neuron, Layer and MLP (tanh neurons, weights uniform in [-1, 1]) over ``Value``."""

    class Neuron:
        def __init__(self, nin: int) -> None:
            self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]
            self.b = Value(random.uniform(-1, 1))

        def __call__(self, x: Any) -> Any:
            act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
            return act.tanh()

        def parameters(self) -> list:
            return self.w + [self.b]

    class Layer:
        def __init__(self, nin: int, nout: int) -> None:
            self.neurons = [Neuron(nin) for _ in range(nout)]

        def __call__(self, x: Any) -> Any:
            outs = [n(x) for n in self.neurons]
            return outs[0] if len(outs) == 1 else outs

        def parameters(self) -> list:
            return [p for neuron in self.neurons for p in neuron.parameters()]

    class MLP:
        def __init__(self, nin: int, nouts: list[int]) -> None:
            sz = [nin] + nouts
            self.layers = [Layer(sz[i], sz[i + 1]) for i in range(len(nouts))]

        def __call__(self, x: Any) -> Any:
            for layer in self.layers:
                x = layer(x)
            return x

        def parameters(self) -> list:
            return [p for layer in self.layers for p in layer.parameters()]

    return Neuron, Layer, MLP


XS = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
YS = [1.0, -1.0, -1.0, 1.0]


def training_loop(n: Any, steps: int = 20) -> list[float]:
    """The lecture's loop: squared error summed over four samples, zero grads, backward, p.data += -0.1 * p.grad."""
    losses = []
    for _ in range(steps):
        ypred = [n(x) for x in XS]
        loss = sum((yout - ygt) ** 2 for ygt, yout in zip(YS, ypred))
        for p in n.parameters():
            p.grad = 0.0
        loss.backward()
        for p in n.parameters():
            p.data += -0.1 * p.grad
        losses.append(loss.data)
    return losses
