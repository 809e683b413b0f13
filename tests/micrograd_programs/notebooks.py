"""micrograd's demo.ipynb training loop and trace_graph.ipynb's trace/draw_dot, as functions of Value and the model."""

from __future__ import annotations

from typing import Any


def demo_loss(Value: Any, model: Any, X: Any, y: Any) -> tuple[Any, float]:
    """The demo's loss(): max-margin (hinge) data loss + 1e-4 L2, and the accuracy."""
    inputs = [list(map(Value, xrow)) for xrow in X]
    scores = list(map(model, inputs))
    losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    alpha = 1e-4
    reg_loss = alpha * sum((p * p for p in model.parameters()))
    total_loss = data_loss + reg_loss
    accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(y, scores)]
    return total_loss, sum(accuracy) / len(accuracy)


def demo_training(Value: Any, model: Any, X: Any, y: Any, steps: int) -> list[tuple[float, float]]:
    """The demo's optimisation loop (SGD, learning rate decaying 1.0 -> 0.1): (loss, accuracy) per step."""
    history = []
    for k in range(steps):
        total_loss, acc = demo_loss(Value, model, X, y)
        model.zero_grad()
        total_loss.backward()
        learning_rate = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= learning_rate * p.grad
        history.append((total_loss.data, acc))
    return history


def trace(root: Any) -> tuple[set, set]:
    """trace_graph's trace(): every node and (child, parent) edge, found recursively through ``_prev``."""
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


def draw_dot(root: Any, format: str = "svg", rankdir: str = "LR") -> Any:  # noqa: A002 - the notebook's name
    """trace_graph's draw_dot(): a record per Value, an op node per ``_op``, named by ``str(id(n))``."""
    from graphviz import Digraph  # type: ignore[import-untyped]

    assert rankdir in ["LR", "TB"]
    nodes, edges = trace(root)
    dot = Digraph(format=format, graph_attr={"rankdir": rankdir})
    for n in nodes:
        dot.node(name=str(id(n)), label="{ data %.4f | grad %.4f }" % (n.data, n.grad), shape="record")
        if n._op:
            dot.node(name=str(id(n)) + n._op, label=n._op)
            dot.edge(str(id(n)) + n._op, str(id(n)))
    for n1, n2 in edges:
        dot.edge(str(id(n1)), str(id(n2)) + n2._op)
    return dot
