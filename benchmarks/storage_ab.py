"""Engine A/B in one process: bench (a)'s step and (b)'s ns/node for several copies of autograd, interleaved.

Usage: put copies of the package under other names in one folder, e.g. for issue 21's figures
(docs/performance.md, "Node storage"):

    git worktree add /tmp/old 6af3377 && cp -r /tmp/old/autograd /tmp/ab/autograd_old
    cp -r autograd /tmp/ab/autograd_new
    cp -r autograd /tmp/ab/autograd_plain   # then edit its storage: two tuples per node
    python benchmarks/storage_ab.py /tmp/ab old,new,plain 25 benchmarks/results/storage_ab.json
"""

from __future__ import annotations

import gc
import importlib
import json
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(1, str(Path(__file__).resolve().parents[1]))
from valuegrad.bench import (  # noqa: E402
    ALPHA,
    build_random_graph,
    init_weights,
    moons_pm1,
    random_graph_recipe,
    sgd_update,
)


class Step:
    """Bench (a)'s step (MLP(2, [16, 16, 1]) on 100 moons samples, hinge + L2) on one copy of the engine."""

    def __init__(self, engine, weights, X, Y):
        self.engine = engine
        self.layers = [[(tuple(map(engine.Value, ws)), engine.Value(b)) for ws, b in layer] for layer in weights]
        self.params = [p for layer in self.layers for ws, b in layer for p in (*ws, b)]
        self.X, self.Y = X, Y

    def __call__(self):
        engine = self.engine
        last = len(self.layers) - 1
        scores = []
        for x in [[engine.Value(a) for a in x] for x in self.X]:
            h = x
            for i, layer in enumerate(self.layers):
                h = [engine.dot(ws, h, b) if i == last else engine.dot(ws, h, b).relu() for ws, b in layer]
            scores.append(h[0])
        losses = [(1.0 + -y * s).relu() for y, s in zip(self.Y, scores)]
        total = engine.sum(losses) * (1.0 / len(losses)) + ALPHA * engine.dot(self.params, self.params)
        sgd_update(self.params, total.backward)
        return total.data


def timed(function):
    gc.collect()
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def main(folder: str, names: str, repeats: int, out: str | None) -> None:
    sys.path.insert(0, folder)
    engines = {name: importlib.import_module(f"autograd_{name}") for name in names.split(",")}
    X, Y = moons_pm1(100)
    steps = {name: Step(engine, init_weights(), X, Y) for name, engine in engines.items()}
    leaves, recipe = random_graph_recipe(100_000)
    size = len(leaves) + len(recipe)
    samples: dict[str, dict[str, list[float]]] = {name: {"a": [], "build": [], "back": []} for name in engines}
    for step in steps.values():
        step()
    for _ in range(repeats):
        for name, engine in engines.items():
            samples[name]["a"].append(timed(steps[name])[0] * 1e3)
            seconds, nodes = timed(lambda engine=engine: build_random_graph(engine.Value, leaves, recipe))
            samples[name]["build"].append(seconds * 1e9 / size)
            reachable = len(engine.topological_order(nodes[-1]))
            samples[name]["back"].append(timed(nodes[-1].backward)[0] * 1e9 / reachable)
            del nodes
    results = {name: {key: {"min": min(v), "median": statistics.median(v), "unit": "ms" if key == "a" else "ns/node"}
                      for key, v in per.items()} for name, per in samples.items()}
    for name, per in results.items():
        print(name, "  ".join(f"{key}: median {v['median']:.2f} (min {v['min']:.2f}) {v['unit']}"
                              for key, v in per.items()))
    if out:
        Path(out).write_text(json.dumps({"repeats": repeats, "python": platform.python_version(),
                                         "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    arguments = sys.argv[1:] + [None] * (4 - len(sys.argv[1:]))
    main(arguments[0], arguments[1], int(arguments[2] or 15), arguments[3])
