"""Regenerate every picture in docs/: `python -m valuegrad.pictures [DIRECTORY]`."""

from __future__ import annotations

import os
import sys
from typing import Sequence

from autograd import Value, draw

NEURON_EXPRESSION = "tanh(x1*w1 + x2*w2 + b)"
NEURON_VALUES = {"x1": 2.0, "w1": -3.0, "x2": 0.0, "w2": 1.0, "b": 6.8813735870195432}
DEMOS = ("backprop", "moons", "regression", "spiral", "modes")
"""The demos whose default output is committed in docs/ (backprop also writes backprop.gif)."""


def write_graph_pictures(directory: str = "docs") -> list[str]:
    """docs/neuron.png (the micrograd lecture's neuron) and docs/mlp.png (an MLP boxed by layer and neuron)."""
    from nn.module import MLP

    from .graph import build_graph

    os.makedirs(directory, exist_ok=True)
    neuron, _ = build_graph(NEURON_EXPRESSION, NEURON_VALUES)
    written = [draw(neuron, os.path.join(directory, "neuron.png"))]

    model = MLP(2, [3, 1], activation="tanh", seed=3)
    x = [Value(0.5, label="x0"), Value(-1.0, label="x1")]
    prediction = model(x)
    assert isinstance(prediction, Value)  # the last layer has width 1
    loss = (prediction - 1.0) ** 2
    loss.label = "loss"
    loss.backward()
    written.append(draw(loss, os.path.join(directory, "mlp.png"), module=model, cluster_by_module=True))
    return written


def write_doc_pictures(directory: str = "docs", *, demos: Sequence[str] = DEMOS) -> int:
    """Every docs picture: the two graph pictures, then each demo's output with default options."""
    from .__main__ import main

    for path in write_graph_pictures(directory):
        print(f"wrote {path}")
    status = 0
    for name in demos:
        options = ["--out", directory] + {"backprop": ["--gif"], "modes": []}.get(name, ["--no-progress"])
        status = max(status, main(["demo", name, *options]))
    return status


if __name__ == "__main__":
    sys.exit(write_doc_pictures(sys.argv[1] if len(sys.argv) > 1 else "docs"))
