"""`valuegrad bench`: valuegrad (eager, compiled, batched) side by side with micrograd 0.1.0, torch and plain floats."""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
import tracemalloc
from operator import mul as _mul
from pathlib import Path
from typing import Any, Callable, Protocol, cast

import autograd
import nn
from autograd import Value, compile_graph, dot
from autograd import sum as vsum
from autograd.files import write_atomic
from nn import MLP, SGD, fit
from valuegrad import options

SIZES = (2, 16, 16, 1)  # MLP(2, [16, 16, 1]) as in micrograd's demo notebook
ALPHA = 1e-4  # L2 strength of the notebook's loss
LR = 0.05

# The goals of issue 8, checked on every run (never as timed unit tests).
GOAL_EAGER_VS_MICROGRAD = 25.0
GOAL_COMPILED_VS_FLOOR = 2.0
GOAL_BYTES_PER_NODE = 150.0
GOAL_CHAIN_DEPTH = 10**6
# The goals of issue 14.
GOAL_BATCHED_VS_TORCH = 0.25  # (f): batched step time / torch float64 step time, at most
GOAL_BATCHED_VS_NUMPY = 1.5  # (f): batched step time / numpy-by-hand step time, at most
GOAL_MNIST_VS_TORCH = 1.0  # (h): batched epoch time / torch float64 epoch time, at most
GOAL_SCALING_VS_TORCH = 1.2  # (h): every row of the scaling table, batched / torch float64, at most
GOAL_FIT_MEMORY = 2.0  # (h): peak memory fit adds / the bytes of X, at most
GOAL_BATCHED_VS_FLOOR = 10.0  # plain-float floor time / batched step time, at least
TORCH_VERSION = "2.13.0"
SECTIONS = "abcdefgh"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeats", type=options.integer(1, 1000), default=7,
                        help="timed repetitions per engine (default 7)")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and smaller graphs (a smoke run)")
    parser.add_argument("--json", type=options.path, metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument(
        "--sections",
        type=options.letters(SECTIONS),
        default=SECTIONS,
        help="which parts to run: a=MLP step, b=ns/node, c=bytes/node, d=deepest chain, e=fit epoch, "
        "f=batched MLP step vs torch, g=digits epoch batched vs eager, h=MNIST-size epoch and scaling table "
        "batched vs torch vs numpy (default abcdefgh)",
    )


# ---------------------------------------------------------------------------------------
# Data and weights shared by every engine, so all of them compute the same numbers.

def moons_pm1(n: int, *, seed: int = 0) -> tuple[list[list[float]], list[float]]:
    """nn.make_moons (noise 0.1) with labels -1 / +1 for the hinge loss."""
    X, y = nn.make_moons(n, noise=0.1, seed=seed)
    return X, [2.0 * t - 1.0 for t in y]


def init_weights(seed: int = 1, sizes: tuple[int, ...] = SIZES) -> list[list[tuple[list[float], float]]]:
    """micrograd's scheme: weights uniform in [-1, 1], biases 0."""
    rng = random.Random(seed)
    return [
        [([rng.uniform(-1.0, 1.0) for _ in range(nin)], 0.0) for _ in range(nout)]
        for nin, nout in zip(sizes[:-1], sizes[1:])
    ]


class Step(Protocol):
    """One engine's training step of (a) and (f)."""

    def __call__(self) -> float: ...

    def reset(self) -> None: ...


def _flat(weights: list) -> list[float]:
    """The weights in parameter order: each neuron's weights, then its bias."""
    return [v for layer in weights for ws, b in layer for v in (*ws, b)]


# ---------------------------------------------------------------------------------------
# (a) one full-batch training step: hinge loss + 1e-4 L2, then SGD.

def sgd_update(params: list, backward: Callable[[], object]) -> None:
    """Zero the parameters' grads, run ``backward``, then one SGD step of learning rate LR."""
    for p in params:
        p.grad = 0.0
    backward()
    for p in params:
        p.data -= LR * p.grad


class ValuegradStep:
    """The step on valuegrad Values: one dot node per neuron, one sum node for the loss."""

    def __init__(self, weights: list, X: list, Y: list) -> None:
        self.layers = [[(tuple(map(Value, ws)), Value(b)) for ws, b in layer] for layer in weights]
        self.params = [p for layer in self.layers for ws, b in layer for p in (*ws, b)]
        self.X, self.Y = X, Y
        self.initial = _flat(weights)

    def reset(self) -> None:
        """Back to the initial weights (untimed, between blocks of steps)."""
        for p, v in zip(self.params, self.initial):
            p.data = v

    def loss(self, inputs: list[list[Value]]) -> Value:
        last = len(self.layers) - 1
        scores = []
        for x in inputs:
            h = x
            for i, layer in enumerate(self.layers):
                if i == last:
                    h = [dot(ws, h, b) for ws, b in layer]
                else:
                    h = [dot(ws, h, b).relu() for ws, b in layer]
            scores.append(h[0])
        losses = [(1.0 + -y * s).relu() for y, s in zip(self.Y, scores)]
        data_loss = vsum(losses) * (1.0 / len(losses))
        return data_loss + ALPHA * dot(self.params, self.params)

    def __call__(self) -> float:
        total = self.loss([[Value(a) for a in x] for x in self.X])
        sgd_update(self.params, total.backward)
        return total.data


class CompiledStep(ValuegradStep):
    """The same graph traced once by compile_graph; each step replays it."""

    def __init__(self, weights: list, X: list, Y: list) -> None:
        super().__init__(weights, X, Y)
        self.graph = compile_graph(self.loss([[Value(a) for a in x] for x in self.X]))

    def __call__(self) -> float:
        graph = self.graph
        out = graph.forward()
        sgd_update(self.params, graph.backward)
        return out


class MicrogradStep:
    """The step exactly as micrograd's demo notebook writes it."""

    def __init__(self, weights: list, X: list, Y: list) -> None:
        from micrograd.nn import MLP  # type: ignore[import-untyped,unused-ignore]

        self.model = MLP(SIZES[0], list(SIZES[1:]))
        self.initial = _flat(weights)
        self.reset()
        self.X, self.Y = X, Y

    def reset(self) -> None:
        for p, v in zip(self.model.parameters(), self.initial):
            p.data = v

    def __call__(self) -> float:
        from micrograd.engine import Value as MValue  # type: ignore[import-untyped,unused-ignore]

        model = self.model
        inputs = [list(map(MValue, xrow)) for xrow in self.X]
        scores = list(map(model, inputs))
        losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(self.Y, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        reg_loss = ALPHA * sum(p * p for p in model.parameters())
        total_loss = data_loss + reg_loss
        model.zero_grad()
        total_loss.backward()
        for p in model.parameters():
            p.data -= LR * p.grad
        return total_loss.data


class FloatStep:
    """The same step written by hand on plain floats: the floor for pure Python.

    It skips the samples the hinge ignores (margin already >= 1), so unlike the graph engines
    its step gets cheaper as training goes on; ``trained_steps`` starts it (and every
    ``reset()``) from the weights after that many steps.
    """

    def __init__(self, weights: list, X: list, Y: list, *, trained_steps: int = 0) -> None:
        self.weights = weights
        self.X, self.Y = X, Y
        self.reset()
        for _ in range(trained_steps):
            self()
        self.weights = [[(list(ws), b) for ws, b in layer] for layer in self.layers]

    def reset(self) -> None:
        self.layers = [[(list(ws), b) for ws, b in layer] for layer in self.weights]

    def active_samples(self) -> int:
        """How many samples the hinge counts at the current weights (their backward runs)."""
        count = 0
        last = len(self.layers) - 1
        for x, y in zip(self.X, self.Y):
            h = x
            for i, layer in enumerate(self.layers):
                z = [sum(map(_mul, ws, h)) + b for ws, b in layer]
                h = z if i == last else [v if v > 0.0 else 0.0 for v in z]
            count += 1.0 - y * h[0] > 0.0
        return count

    def __call__(self) -> float:
        layers = self.layers
        last = len(layers) - 1
        n = len(self.X)
        grads = [[([0.0] * len(ws), 0.0) for ws, _ in layer] for layer in layers]
        data_loss = 0.0
        for x, y in zip(self.X, self.Y):
            acts = [x]  # activations entering each layer
            pres = []  # pre-activations of each layer
            h = x
            for i, layer in enumerate(layers):
                z = [sum(map(_mul, ws, h)) + b for ws, b in layer]
                pres.append(z)
                h = z if i == last else [v if v > 0.0 else 0.0 for v in z]
                acts.append(h)
            margin = 1.0 - y * h[0]
            if margin <= 0.0:
                continue
            data_loss += margin
            delta = [-y / n]  # d(loss)/d(score)
            for i in range(last, -1, -1):
                layer, glayer, h_in = layers[i], grads[i], acts[i]
                if i != last:
                    delta = [d if z > 0.0 else 0.0 for d, z in zip(delta, pres[i])]
                back = [0.0] * len(h_in)
                for k, ((ws, _), (gws, gb), d) in enumerate(zip(layer, glayer, delta)):
                    if d != 0.0:
                        glayer[k] = ([g + d * a for g, a in zip(gws, h_in)], gb + d)
                        back = [s + d * w for s, w in zip(back, ws)]
                delta = back
        reg = 0.0
        decay = 2.0 * ALPHA
        for layer, glayer in zip(layers, grads):
            for k, ((ws, b), (gws, gb)) in enumerate(zip(layer, glayer)):
                reg += sum(map(_mul, ws, ws)) + b * b
                layer[k] = (
                    [w - LR * (g + decay * w) for w, g in zip(ws, gws)],
                    b - LR * (gb + decay * b),
                )
        return data_loss / n + ALPHA * reg


# ---------------------------------------------------------------------------------------
# (b) and (c): a large random graph of + * relu, the same recipe for both engines.

def random_graph_recipe(num_nodes: int, *, width: int = 1000, seed: int = 0) -> tuple[list[float], list]:
    """Layers of ``width`` nodes, each an op on random nodes of the layer below, then a pairwise
    sum tree, so the root reaches nearly every node and the depth stays ~100 (micrograd recurses)."""
    rng = random.Random(seed)
    leaves = [rng.uniform(-1.0, 1.0) for _ in range(width)]
    recipe = []
    below = range(0, width)
    count = width
    while count + width <= num_nodes - width:
        for _ in range(width):
            recipe.append((rng.choice("++*r"), below[rng.randrange(width)], below[rng.randrange(width)]))
        below = range(count, count + width)
        count += width
    level = list(below)
    while len(level) > 1:  # pairwise sum tree over the top layer
        nxt = []
        for k in range(0, len(level) - 1, 2):
            recipe.append(("+", level[k], level[k + 1]))
            nxt.append(count)
            count += 1
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return leaves, recipe


def build_random_graph(value_type: type, leaves: list[float], recipe: list) -> list:
    nodes = [value_type(v) for v in leaves]
    append = nodes.append
    for op, i, j in recipe:
        if op == "+":
            append(nodes[i] + nodes[j])
        elif op == "*":
            append(nodes[i] * nodes[j])
        else:
            append(nodes[i].relu())
    return nodes


def _micrograd_value() -> type | None:
    try:
        from micrograd.engine import Value as MValue  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        return None
    return MValue


# ---------------------------------------------------------------------------------------
# Timing helpers: interleaved repetitions, gc.collect() before each, medians and spread.

def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def _stats(samples: list[float]) -> dict[str, Any]:
    med = statistics.median(samples)
    return {
        "median": med,
        "min": min(samples),
        "max": max(samples),
        "spread_pct": 100.0 * (max(samples) - min(samples)) / med if med else 0.0,
        "samples": samples,
    }


def _interleaved(engines: dict[str, Callable[[], Any]], repeats: int) -> dict[str, dict[str, Any]]:
    for fn in engines.values():  # warm-up, untimed
        fn()
    times: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(repeats):
        for name, fn in engines.items():
            times[name].append(_timed(fn)[0])
    return {name: _stats(ts) for name, ts in times.items()}


def bench_mlp_step(repeats: int, notes: list[str]) -> dict[str, Any]:
    X, Y = moons_pm1(100)
    weights = init_weights()
    engines: dict[str, Callable[[], float]] = {
        "valuegrad eager": ValuegradStep(weights, X, Y),
        "valuegrad compiled": CompiledStep(weights, X, Y),
        "plain floats": FloatStep(weights, X, Y),
    }
    if _micrograd_value() is not None:
        engines["micrograd"] = MicrogradStep(weights, X, Y)
    else:
        notes.append("micrograd is not installed (pip install micrograd==0.1.0): its column is empty")
    first = {name: fn() for name, fn in engines.items()}  # also the warm-up; all start from the same weights
    spread = max(first.values()) - min(first.values())
    if spread > 1e-9:
        notes.append(f"(a) engines disagree on the first loss by {spread:.3g}: {first}")
    probe = ValuegradStep(weights, X, Y)
    probe_root = probe.loss([[Value(a) for a in x] for x in X])
    nodes = len(autograd.topological_order(probe_root))
    t0 = time.perf_counter()
    compile_graph(probe_root)
    compile_seconds = time.perf_counter() - t0
    times: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(repeats):
        for name, fn in engines.items():
            times[name].append(_timed(fn)[0])
    result = {name: _stats(ts) for name, ts in times.items()}
    result["_info"] = {"first_loss": first, "interior_nodes_valuegrad": nodes, "compile_graph_seconds": compile_seconds}
    return result


def bench_ns_per_node(num_nodes: int, repeats: int) -> dict[str, Any]:
    leaves, recipe = random_graph_recipe(num_nodes)
    num_nodes = len(leaves) + len(recipe)
    types: dict[str, type] = {"valuegrad eager": Value}
    mvalue = _micrograd_value()
    if mvalue is not None:
        types["micrograd"] = mvalue
    build: dict[str, list[float]] = {name: [] for name in types}
    back: dict[str, list[float]] = {name: [] for name in types}
    reachable = len(autograd.topological_order(build_random_graph(Value, leaves, recipe)[-1]))
    for _ in range(repeats):
        for name, vt in types.items():
            seconds, nodes = _timed(lambda vt=vt: build_random_graph(vt, leaves, recipe))  # type: ignore[misc]
            build[name].append(seconds * 1e9 / num_nodes)
            seconds, _ = _timed(nodes[-1].backward)
            back[name].append(seconds * 1e9 / reachable)
            del nodes
    return {
        "build": {name: _stats(ts) for name, ts in build.items()},
        "backward": {name: _stats(ts) for name, ts in back.items()},
        "_info": {"nodes": num_nodes, "reachable_from_root": reachable},
    }


def bench_bytes_per_node(num_nodes: int) -> dict[str, Any]:
    leaves, recipe = random_graph_recipe(num_nodes, seed=1)
    num_nodes = len(leaves) + len(recipe)
    types: dict[str, type] = {"valuegrad eager": Value}
    mvalue = _micrograd_value()
    if mvalue is not None:
        types["micrograd"] = mvalue
    result = {}
    for name, vt in types.items():
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        nodes = build_random_graph(vt, leaves, recipe)
        nodes[-1].backward()  # grads populated: the graph as it lives during training
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        list_bytes = sys.getsizeof(nodes)  # the benchmark's own list of nodes is not the engine's cost
        result[name] = (after - before - list_bytes) / num_nodes
        del nodes
    return result


def _chain_backprops(value_type: type, depth: int) -> bool:
    x = value_type(1.0)
    y = x
    for _ in range(depth):
        y = y * 1.0000001
    try:
        y.backward()
    except RecursionError:
        return False
    expected = 1.0000001**depth
    return abs(x.grad - expected) <= 1e-6 * expected


def bench_deepest_chain(target: int) -> dict[str, Any]:
    result: dict[str, Any] = {}
    mvalue = _micrograd_value()
    if mvalue is not None:
        lo, hi = 1, 100_000  # bisect for micrograd's limit
        if _chain_backprops(mvalue, hi):
            lo = hi
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _chain_backprops(mvalue, mid):
                lo = mid
            else:
                hi = mid
        result["micrograd"] = {"deepest": lo, "recursion_limit": sys.getrecursionlimit()}
    t0 = time.perf_counter()
    ok = _chain_backprops(Value, target)
    seconds = time.perf_counter() - t0
    result["valuegrad eager"] = {"deepest": target if ok else None, "tried": target, "seconds": seconds}
    return result


# ---------------------------------------------------------------------------------------
# (e) one epoch of nn.fit on moons, mini-batches of 32, against the same loop in micrograd.

def bench_fit_epoch(n: int, repeats: int, notes: list[str], *, epochs: int = 5) -> dict[str, Any]:
    """Seconds per epoch.  valuegrad runs ``fit(epochs=epochs)`` per repetition, so the compiled
    column includes tracing and compiling its two graphs (full and last batch) once per call."""
    X, y = moons_pm1(n, seed=3)
    y01 = [(t + 1.0) / 2.0 for t in y]
    batch = 32
    engines: dict[str, Callable[[], Any]] = {}

    model = MLP(2, list(SIZES[1:]), seed=0)
    optimizer = SGD(model.parameters(), lr=LR)
    engines["valuegrad eager"] = lambda: fit(
        model, X, y01, loss="mse", optimizer=optimizer, epochs=epochs, batch_size=batch, shuffle=True, progress=False
    )
    cmodel = MLP(2, list(SIZES[1:]), seed=0)
    coptimizer = SGD(cmodel.parameters(), lr=LR)
    engines["valuegrad compiled"] = lambda: fit(
        cmodel, X, y01, loss="mse", optimizer=coptimizer, epochs=epochs, batch_size=batch, shuffle=True,
        progress=False, backend="compiled",
    )

    if _micrograd_value() is not None:
        from micrograd.engine import Value as MValue  # type: ignore[import-untyped,unused-ignore]
        from micrograd.nn import MLP as MMLP

        mmodel = MMLP(2, list(SIZES[1:]))
        rng = random.Random(0)

        def micrograd_epoch() -> None:
            order = list(range(n))
            rng.shuffle(order)
            for start in range(0, n, batch):
                idx = order[start : start + batch]
                preds = [mmodel([MValue(a) for a in X[i]]) for i in idx]
                loss = sum((p - y01[i]) ** 2 for p, i in zip(preds, idx)) * (1.0 / len(idx))
                mmodel.zero_grad()
                loss.backward()
                for p in mmodel.parameters():
                    p.data -= LR * p.grad

        engines["micrograd"] = micrograd_epoch
    per_call_epochs = {name: (1 if name == "micrograd" else epochs) for name in engines}
    result = _interleaved(engines, repeats)
    for name, stats in result.items():
        k = per_call_epochs[name]
        stats.update({key: stats[key] / k for key in ("median", "min", "max")})
        stats["samples"] = [t / k for t in stats["samples"]]
    result["_info"] = {"samples": n, "batch_size": batch, "loss": "mse", "valuegrad_epochs_per_fit_call": epochs}
    return result


# ---------------------------------------------------------------------------------------
# (f) the step of (a) with the batched backend, beside torch float64 on the same weights.

class BatchedStep(ValuegradStep):
    """ONE sample's loss (hinge + the L2 penalty) run over the 100 points by compile_batched."""

    def __init__(self, weights: list, X: list, Y: list) -> None:
        import numpy

        super().__init__(weights, X, Y)
        inputs = [Value(0.0) for _ in range(len(weights[0][0][0]) + 1)]  # features, then the label
        score = self._score(inputs[:-1])
        loss = (1.0 + -inputs[-1] * score).relu() + ALPHA * dot(self.params, self.params)
        self.graph = autograd.compile_batched(loss, inputs)
        self.batch = numpy.column_stack([numpy.array(X, dtype=float), numpy.array(Y, dtype=float)])
        self.scratch = numpy.empty(len(self.graph.params))

    def _score(self, x: list[Value]) -> Value:
        last = len(self.layers) - 1
        h = x
        for i, layer in enumerate(self.layers):
            h = [dot(ws, h, b) if i == last else dot(ws, h, b).relu() for ws, b in layer]
        return h[0]

    def reset(self) -> None:
        super().reset()
        self.graph.read_params()

    def __call__(self) -> float:
        """SGD on the graph's own parameter vector: no Python work per parameter."""
        import numpy as np

        graph = self.graph
        losses = graph.forward(self.batch, read_params=False)
        graph.backward(accumulate=False, input_grads=False)  # the batch mean, as the step's loss takes it
        np.multiply(graph.param_grads, LR, out=self.scratch)
        np.subtract(graph.parameters, self.scratch, out=graph.parameters)
        return float(losses.mean())


class TorchStep:
    """The same step in torch float64: a torch.nn.Linear stack holding the same weights, batched."""

    def __init__(self, weights: list, X: list, Y: list) -> None:
        import torch

        self.torch = torch
        layers: list[Any] = []
        for i, layer in enumerate(weights):
            linear = torch.nn.Linear(len(layer[0][0]), len(layer), dtype=torch.float64)
            with torch.no_grad():
                linear.weight.copy_(torch.tensor([ws for ws, _ in layer], dtype=torch.float64))
                linear.bias.copy_(torch.tensor([b for _, b in layer], dtype=torch.float64))
            layers.append(linear)
            if i < len(weights) - 1:
                layers.append(torch.nn.ReLU())
        self.model = torch.nn.Sequential(*layers)
        self.params = list(self.model.parameters())
        self.initial = [p.detach().clone() for p in self.params]
        self.X = torch.tensor(X, dtype=torch.float64)
        self.Y = torch.tensor(Y, dtype=torch.float64)

    def reset(self) -> None:
        with self.torch.no_grad():
            for p, v in zip(self.params, self.initial):
                p.copy_(v)

    def __call__(self) -> float:
        torch = self.torch
        scores = self.model(self.X)[:, 0]
        data_loss = torch.relu(1.0 - self.Y * scores).mean()
        loss = data_loss + ALPHA * sum((p * p).sum() for p in self.params)
        for p in self.params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in self.params:
                p -= LR * p.grad  # type: ignore[operator,misc]
        return float(loss.item())


class NumpyStep:
    """The same step by hand in numpy (one matrix product per layer and direction, 1 thread):
    what generated array code could at best do."""

    def __init__(self, weights: list, X: list, Y: list) -> None:
        import numpy as np

        self.np = np
        self.initial = [(np.array([ws for ws, _ in layer]), np.array([b for _, b in layer])) for layer in weights]
        self.X, self.Y = np.array(X, dtype=np.float64), np.array(Y, dtype=np.float64)
        self.reset()

    def reset(self) -> None:
        self.layers = [(W.copy(), b.copy()) for W, b in self.initial]

    def __call__(self) -> float:
        np = self.np
        last = len(self.layers) - 1
        acts = [self.X]  # the activations entering each layer
        h = self.X
        for i, (W, b) in enumerate(self.layers):
            z = h @ W.T + b
            h = z if i == last else np.maximum(z, 0.0)
            acts.append(h)
        n = len(self.Y)
        margins = 1.0 - self.Y * h[:, 0]
        reg = sum(float((W * W).sum() + (b * b).sum()) for W, b in self.layers)
        loss = float(np.maximum(margins, 0.0).sum()) / n + ALPHA * reg
        delta = (-(self.Y * (margins > 0.0)) / n)[:, None]  # d loss / d score, (n, 1)
        for i in range(last, -1, -1):
            W, b = self.layers[i]
            h_in = acts[i]
            grad_W, grad_b = delta.T @ h_in, delta.sum(axis=0)
            if i:
                delta = (delta @ W) * (h_in > 0.0)
            W -= LR * (grad_W + 2.0 * ALPHA * W)
            b -= LR * (grad_b + 2.0 * ALPHA * b)
        return loss


def _torch_or_note(notes: list[str]) -> bool:
    try:
        import torch
    except ImportError:
        notes.append(f"(f) torch is not installed (pip install torch=={TORCH_VERSION}): its column is empty")
        return False
    if torch.__version__.split("+")[0] != TORCH_VERSION:
        notes.append(f"(f) torch {torch.__version__} is not the pinned {TORCH_VERSION}: its column is empty")
        return False
    return True


def bench_batched_step(repeats: int, notes: list[str], *, quick: bool = False) -> dict[str, Any]:
    """(a)'s full-batch step: every engine from the same weights, timed interleaved in one run.

    The fast engines are noisy, so each gets three blocks per repetition (one with ``quick``)."""
    X, Y = moons_pm1(100)
    weights = init_weights()
    engines: dict[str, Step] = {
        "valuegrad eager": ValuegradStep(weights, X, Y),
        "valuegrad compiled": CompiledStep(weights, X, Y),
        "valuegrad batched": BatchedStep(weights, X, Y),
        "plain floats": FloatStep(weights, X, Y),
    }
    if _micrograd_value() is not None:
        engines["micrograd"] = MicrogradStep(weights, X, Y)
    engines["numpy by hand"] = NumpyStep(weights, X, Y)
    if _torch_or_note(notes):
        engines["torch float64"] = TorchStep(weights, X, Y)
    first = {name: fn() for name, fn in engines.items()}  # also the warm-up; all start from the same weights
    spread = max(first.values()) - min(first.values())
    if spread > 1e-9:
        notes.append(f"(f) engines disagree on the first loss by {spread:.3g}: {first}")
    # The floor once more, from the weights after TRAINED_STEPS steps: fewer samples to back-propagate.
    trained = FloatStep(weights, X, Y, trained_steps=TRAINED_STEPS)
    engines[TRAINED_FLOOR] = trained
    result: dict[str, Any] = _blocks(engines, repeats if quick else repeats * 3)
    graph = engines["valuegrad batched"].graph  # type: ignore[attr-defined]
    floor = cast(FloatStep, engines["plain floats"])
    floor.reset()
    trained.reset()
    result["_info"] = {"first_loss": first, "groups": len(graph.groups), "nodes": graph.num_nodes,
                       "torch_threads": _torch_threads(), "block_seconds": BLOCK_SECONDS,
                       "steps_per_block": {name: s["steps_per_block"] for name, s in result.items()},
                       "active_samples": floor.active_samples(), "trained_steps": TRAINED_STEPS,
                       "trained_active_samples": trained.active_samples(), "samples": len(X)}
    return result


TRAINED_STEPS = 50
TRAINED_FLOOR = f"plain floats after {TRAINED_STEPS} steps"


BLOCK_SECONDS = 0.02  # (f): a sample is the mean of k steps, about this long together


def _blocks(engines: dict[str, Step], repeats: int) -> dict[str, dict[str, Any]]:
    """Seconds per step; each sample is the mean of k steps that all start from the initial weights.

    Before each block: ``gc.collect()`` and one untimed step, as any step inside a training
    loop follows another (a collection right before a sub-millisecond step would time it on
    the caches the collection just emptied).  Then k timed steps, each from the initial
    weights restored untimed, so every engine times the same work: the plain-float floor skips
    the samples the hinge already ignores, and gets cheaper as training goes on.  k is chosen
    per engine so that a block lasts about BLOCK_SECONDS (1 for the slow engines).
    """
    steps: dict[str, int] = {}
    for name, fn in engines.items():
        fn.reset()
        fn()
        fn.reset()
        seconds = _timed(fn)[0]
        steps[name] = max(1, round(BLOCK_SECONDS / seconds)) if seconds > 0 else 1
    times: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(repeats):
        for name, fn in engines.items():
            fn.reset()
            gc.collect()
            fn()  # warm-up, untimed
            total = 0.0
            for _ in range(steps[name]):
                fn.reset()
                t0 = time.perf_counter()
                fn()
                total += time.perf_counter() - t0
            times[name].append(total / steps[name])
    return {name: {**_stats(ts), "steps_per_block": steps[name]} for name, ts in times.items()}


def _torch_threads() -> int | None:
    try:
        import torch
    except ImportError:
        return None
    return int(torch.get_num_threads())


# ---------------------------------------------------------------------------------------
# (g) one epoch of the digits demo's training: batched vs eager.

def bench_digits_epoch(repeats: int, notes: list[str], *, eager_samples: int) -> dict[str, Any] | None:
    """Seconds per epoch of fit(MLP(64, [32, 10]), cross_entropy, Adam, batches of 64) on the
    1,347 training digits.  Eager is timed on the first ``eager_samples`` and scaled to the
    whole set (its cost is linear in the samples); batched runs the whole set."""
    try:
        from valuegrad.demos.digits import TEST_SIZE, load_digits
    except ImportError as error:
        notes.append(f"(g) skipped: {error}")
        return None
    try:
        X, y = load_digits()
    except Exception as error:  # DemoError without scikit-learn
        notes.append(f"(g) skipped: {error}")
        return None
    X_train, _, y_train, _ = nn.train_test_split(X, y, test_size=TEST_SIZE, seed=0)
    rows = nn.MinMaxScaler().fit(X_train).transform(X_train)
    n = len(rows)
    k = min(eager_samples, n)

    def epoch(backend: str, count: int) -> Callable[[], Any]:
        model = MLP(64, [32, 10], seed=0)
        optimizer = nn.Adam(model.parameters(), lr=0.01)
        return lambda: fit(model, rows[:count], y_train[:count], loss="cross_entropy", optimizer=optimizer,
                           epochs=1, batch_size=64, seed=0, progress=False, backend=backend)  # type: ignore[arg-type]

    result = _interleaved({"valuegrad batched": epoch("batched", n), "valuegrad eager": epoch("eager", k)}, repeats)
    scale = n / k
    eager = result["valuegrad eager"]
    eager.update({key: eager[key] * scale for key in ("median", "min", "max")})
    eager["samples"] = [t * scale for t in eager["samples"]]
    result["_info"] = {"samples": n, "batch_size": 64, "eager_timed_on": k, "eager_scale": scale}
    if k < n:
        notes.append(f"(g) eager was timed on {k} of the {n} digits and scaled by {scale:.2f} (linear in samples)")
    return result


# ---------------------------------------------------------------------------------------
# (h) MNIST-size training, batched vs torch float64 vs numpy by hand (one thread each), and how
# the step scales with width and batch.

MNIST_SIZE = (60_000, 784)
MNIST_CLASSES = 10
MNIST_HIDDEN = 128
MNIST_BATCH = 64
MNIST_LR = 1e-3
SCALING_WIDTHS = (16, 64, 256)
SCALING_BATCHES = (32, 256, 2048)


def mnist_like(n: int, *, seed: int = 0) -> tuple[Any, Any]:
    """MNIST-shaped data generated here: n images of 784 pixels uniform in [0, 1] (float64), 10 classes."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, 1.0, (n, MNIST_SIZE[1])), rng.integers(0, MNIST_CLASSES, n)


def _layer_arrays(model: MLP) -> list[tuple[Any, Any]]:
    """(W (out, in), b (out,)) float64 arrays per layer, copied from an nn.MLP."""
    import numpy as np

    return [(np.array([[w.data for w in n.w] for n in layer.neurons]), np.array([n.b.data for n in layer.neurons]))
            for layer in model.layers]


class _ArrayAdam:
    """torch's Adam on a list of arrays (the numpy-by-hand engine's optimizer)."""

    def __init__(self, arrays: list[Any], lr: float) -> None:
        import numpy as np

        self.arrays, self.lr, self.t = arrays, lr, 0
        self.m = [np.zeros_like(a) for a in arrays]
        self.v = [np.zeros_like(a) for a in arrays]

    def step(self, grads: list[Any]) -> None:
        import numpy as np

        self.t += 1
        step_size = self.lr / (1.0 - 0.9**self.t)
        root = (1.0 - 0.999**self.t) ** 0.5
        for a, g, m, v in zip(self.arrays, grads, self.m, self.v):
            m *= 0.9
            m += 0.1 * g
            v *= 0.999
            v += 0.001 * g * g
            a -= step_size * (m / (np.sqrt(v) / root + 1e-8))


class NumpyMnist:
    """MLP(784, [128, 10]) + cross-entropy + Adam written by hand in numpy."""

    def __init__(self, model: MLP) -> None:
        (self.W1, self.b1), (self.W2, self.b2) = _layer_arrays(model)
        self.adam = _ArrayAdam([self.W1, self.b1, self.W2, self.b2], MNIST_LR)

    def loss(self, x: Any, y: Any) -> tuple[float, Any, Any]:
        import numpy as np

        h = np.maximum(x @ self.W1.T + self.b1, 0.0)
        z = h @ self.W2.T + self.b2
        top = z.max(axis=1, keepdims=True)
        e = np.exp(z - top)
        total = e.sum(axis=1, keepdims=True)
        losses = (top + np.log(total))[:, 0] - z[np.arange(len(y)), y]
        return float(losses.mean()), h, e / total

    def step(self, x: Any, y: Any) -> float:
        loss, h, p = self.loss(x, y)
        dz = p
        dz[range(len(y)), y] -= 1.0
        dz /= len(y)
        dh = (dz @ self.W2) * (h > 0.0)
        self.adam.step([dh.T @ x, dh.sum(axis=0), dz.T @ h, dz.sum(axis=0)])
        return loss

    def epoch(self, X: Any, y: Any, order: Any) -> None:
        for start in range(0, len(order), MNIST_BATCH):
            idx = order[start : start + MNIST_BATCH]
            self.step(X[idx], y[idx])


class TorchMnist:
    """The same model in torch float64 (nn.Linear layers holding the same weights), torch's Adam."""

    def __init__(self, model: MLP) -> None:
        import torch

        self.torch = torch
        (W1, b1), (W2, b2) = _layer_arrays(model)
        self.net = torch.nn.Sequential(torch.nn.Linear(784, MNIST_HIDDEN, dtype=torch.float64), torch.nn.ReLU(),
                                       torch.nn.Linear(MNIST_HIDDEN, MNIST_CLASSES, dtype=torch.float64))
        with torch.no_grad():
            for layer, (W, b) in zip((self.net[0], self.net[2]), ((W1, b1), (W2, b2))):
                cast(Any, layer).weight.copy_(torch.from_numpy(W))
                cast(Any, layer).bias.copy_(torch.from_numpy(b))
        self.adam = torch.optim.Adam(self.net.parameters(), lr=MNIST_LR)

    def loss(self, x: Any, y: Any) -> Any:
        return self.torch.nn.functional.cross_entropy(self.net(x), y)

    def epoch(self, X: Any, y: Any, order: Any) -> None:
        for start in range(0, len(order), MNIST_BATCH):
            idx = order[start : start + MNIST_BATCH]
            loss = self.loss(X[idx], y[idx])
            self.adam.zero_grad()
            loss.backward()
            self.adam.step()


def _mnist_compile(model: MLP) -> tuple[Any, dict[str, float]]:
    """One sample's loss graph compiled as fit does it, and the seconds to build it (the
    Values) and to compile it."""
    from autograd.batched import compile_batched
    from nn.train import _cross_entropy_one_hot

    t0 = time.perf_counter()
    leaves = [Value(0.0) for _ in range(MNIST_SIZE[1] + MNIST_CLASSES)]
    out = model(leaves[: MNIST_SIZE[1]])
    loss = _cross_entropy_one_hot([out], [leaves[MNIST_SIZE[1] :]])
    t1 = time.perf_counter()
    graph = compile_batched(loss, leaves, watch=cast(list, out))
    return graph, {"build_graph_seconds": t1 - t0, "compile_seconds": time.perf_counter() - t1}


def _mnist_first_losses(graph: Any, X: Any, y: Any, by_hand: NumpyMnist, torch_engine: Any) -> dict[str, float]:
    """Each engine's loss on the first batch from the same weights (before any update)."""
    import numpy as np

    batch = slice(0, MNIST_BATCH)
    first = {"numpy by hand": by_hand.loss(X[batch], y[batch])[0]}
    columns = np.hstack([X[batch], np.eye(MNIST_CLASSES)[y[batch]]])
    first["valuegrad batched"] = float(graph.forward(columns).mean())
    if torch_engine is not None:
        torch = torch_engine.torch
        with torch.no_grad():
            first["torch float64"] = float(torch_engine.loss(torch.from_numpy(X[batch]), torch.from_numpy(y[batch])))
    return first


def bench_mnist_epoch(repeats: int, notes: list[str], *, n: int) -> dict[str, Any]:
    """(h): seconds per epoch of MLP(784, [128, 10]) on n MNIST-shaped samples, batches of 64,
    cross-entropy, Adam.  Batched is one fit() of repeats + 1 epochs (the first includes
    compiling); after each of its epochs a callback times one torch and one numpy epoch, so the
    engines alternate (their first epoch is a warm-up)."""
    import numpy as np

    X, y = mnist_like(n)
    model = MLP(MNIST_SIZE[1], [MNIST_HIDDEN, MNIST_CLASSES], seed=0)
    by_hand = NumpyMnist(model)
    torch_engine = TorchMnist(model) if _torch_or_note(notes) else None
    graph, seconds = _mnist_compile(model)
    first = _mnist_first_losses(graph, X, y, by_hand, torch_engine)
    if max(first.values()) - min(first.values()) > 1e-9:
        notes.append(f"(h) engines disagree on the first batch's loss: {first}")
    info: dict[str, Any] = {"samples": n, "batch_size": MNIST_BATCH, "first_loss": first, **seconds}
    times: dict[str, list[float]] = {"torch float64": [], "numpy by hand": []}
    marks: list[float] = []
    rng = np.random.default_rng(1)

    def others(epoch: int, history: Any, trained: Any) -> None:
        marks.append(time.perf_counter())
        order = rng.permutation(n)
        if torch_engine is not None:
            tensors = torch_engine.torch.from_numpy
            times["torch float64"].append(_timed(lambda: torch_engine.epoch(tensors(X), tensors(y), tensors(order)))[0])
        times["numpy by hand"].append(_timed(lambda: by_hand.epoch(X, y, order))[0])
        gc.collect()
        marks.append(time.perf_counter())

    started = time.perf_counter()
    fit(model, X, y, loss="cross_entropy", optimizer=nn.Adam(model.parameters(), lr=MNIST_LR), epochs=repeats + 1,
        batch_size=MNIST_BATCH, seed=0, progress=False, backend="batched", callbacks=[others])
    info["first_fit_epoch_seconds"] = marks[0] - started
    epochs = [marks[2 * k + 2] - marks[2 * k + 1] for k in range(repeats)]  # from after a callback to the next
    result: dict[str, Any] = {"valuegrad batched": _stats(epochs)}
    result.update({name: _stats(ts[1:]) for name, ts in times.items() if ts})
    result["_info"] = info
    return result


def bench_fit_memory(n: int, dtypes: tuple[str, ...]) -> dict[str, Any]:
    """(h): peak memory (tracemalloc) that one epoch of fit(backend="batched") adds on an
    (n, 784) array, against the array's own bytes; X stays an array, batches are X[idx]."""
    out: dict[str, Any] = {}
    for dtype in dtypes:
        X, y = mnist_like(n)
        X = X.astype(dtype)
        model = MLP(MNIST_SIZE[1], [MNIST_HIDDEN, MNIST_CLASSES], seed=0)
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        fit(model, X, y, loss="cross_entropy", optimizer=nn.Adam(model.parameters(), lr=MNIST_LR), epochs=1,
            batch_size=MNIST_BATCH, seed=0, progress=False, backend="batched")
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        out[dtype] = {"array_bytes": int(X.nbytes), "peak_added_bytes": peak, "ratio": peak / X.nbytes}
    return out


def bench_scaling(repeats: int, notes: list[str], widths: tuple[int, ...], batches: tuple[int, ...]) -> dict[str, Any]:
    """(h): (f)'s step (hinge + L2, SGD) on MLP(2, [w, w, 1]) at batch sizes b: batched, torch
    float64 and numpy by hand from the same weights, timed in blocks as (f)."""
    rows = []
    use_torch = _torch_or_note(notes)
    for width in widths:
        weights = init_weights(sizes=(2, width, width, 1))
        for batch in batches:
            X, Y = moons_pm1(batch, seed=width)
            engines: dict[str, Step] = {"valuegrad batched": BatchedStep(weights, X, Y),
                                        "numpy by hand": NumpyStep(weights, X, Y)}
            if use_torch:
                engines["torch float64"] = TorchStep(weights, X, Y)
            first = {name: fn() for name, fn in engines.items()}
            if max(first.values()) - min(first.values()) > 1e-9:
                notes.append(f"(h) scaling width {width} batch {batch}: engines disagree on the first loss: {first}")
            rows.append({"width": width, "batch": batch, **_blocks(engines, repeats)})
    return {"rows": rows}


# ---------------------------------------------------------------------------------------
# Report.

def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
            cwd=Path(__file__).resolve().parent.parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _ratio(numerator: float | None, denominator: float | None) -> str:
    if not numerator or not denominator:
        return "-"
    return f"{numerator / denominator:.1f}x"


def _fmt_time(stats: dict | None, scale: float = 1e3, unit: str = "ms") -> str:
    if stats is None:
        return "-"
    return f"{stats['median'] * scale:.2f} {unit} ±{stats['spread_pct']:.0f}%"


Goals = list[tuple[str, "bool | None"]]


def _report_mlp_step(a: dict[str, Any], goals: Goals) -> None:
    m = a.get("micrograd", {}).get("median")
    f = a["plain floats"]["median"]
    print(f"(a) one training step of MLP(2, [16, 16, 1]) on 100 moons points "
          f"({a['_info']['interior_nodes_valuegrad']} valuegrad nodes; compile_graph once: "
          f"{a['_info']['compile_graph_seconds']:.2f} s); median ± (max-min)/median")
    _print_engines(a, ("micrograd", "valuegrad eager", "valuegrad compiled", "plain floats"))
    if m:
        goals.append((f"eager step >= {GOAL_EAGER_VS_MICROGRAD:.0f}x faster than micrograd "
                      f"({m / a['valuegrad eager']['median']:.1f}x)",
                      m / a["valuegrad eager"]["median"] >= GOAL_EAGER_VS_MICROGRAD))
    ratio = a["valuegrad compiled"]["median"] / f
    goals.append((f"compiled step <= {GOAL_COMPILED_VS_FLOOR:.0f}x the plain-float floor ({ratio:.2f}x)",
                  ratio <= GOAL_COMPILED_VS_FLOOR))


def _print_engines(section: dict[str, Any], names: tuple[str, ...]) -> None:
    """One line per engine: time, and how it compares with micrograd and the plain-float floor."""
    m = section.get("micrograd", {}).get("median")
    f = section["plain floats"]["median"]
    print(f"    {'engine':20s} {'time':>18s} {'vs micrograd':>14s} {'vs plain floats':>22s}")
    for name in names:
        s = section.get(name)
        if s is None:
            continue
        faster = _ratio(m, s["median"]) + " faster" if m else "-"
        if name == "plain floats":
            floor = "(floor)"
        elif s["median"] <= f:
            floor = _ratio(f, s["median"]) + " faster"
        else:
            floor = _ratio(s["median"], f) + " slower"
        print(f"    {name:20s} {_fmt_time(s):>18s} {faster:>14s} {floor:>22s}")


def _report_ns_per_node(b: dict[str, Any]) -> None:
    info = b["_info"]
    print(f"(b) random graph of + * relu: {info['nodes']} nodes built, "
          f"{info['reachable_from_root']} reachable from the root backpropagated; ns per node")
    for phase in ("build", "backward"):
        row = b[phase]
        m = row.get("micrograd", {}).get("median")
        v = row["valuegrad eager"]["median"]
        mtext = f"micrograd {m:.0f} ns" if m else "micrograd -"
        print(f"    {phase:9s} valuegrad {v:.0f} ns   {mtext}   ({_ratio(m, v)} faster)")


def _report_bytes_per_node(c: dict[str, Any], goals: Goals) -> None:
    v = c["valuegrad eager"]
    mtext = f"micrograd {c['micrograd']:.0f}" if "micrograd" in c else "micrograd -"
    print(f"(c) bytes per live node (tracemalloc, after backward): valuegrad {v:.0f}   {mtext}")
    goals.append((f"<= {GOAL_BYTES_PER_NODE:.0f} bytes per live node ({v:.0f})", v <= GOAL_BYTES_PER_NODE))


def _report_deepest_chain(d: dict[str, Any], goals: Goals) -> None:
    v = d["valuegrad eager"]
    mtext = (f"micrograd {d['micrograd']['deepest']} (recursion limit {d['micrograd']['recursion_limit']})"
             if "micrograd" in d else "micrograd -")
    vtext = f"{v['deepest']} in {v['seconds']:.1f} s" if v["deepest"] else f"FAILED at {v['tried']}"
    print(f"(d) deepest chain that backpropagates: valuegrad {vtext}   {mtext}")
    goals.append((f"a {GOAL_CHAIN_DEPTH}-deep chain backpropagates (tried {v['tried']})",
                  None if v["deepest"] and v["tried"] < GOAL_CHAIN_DEPTH else bool(v["deepest"])))


def _report_fit_epoch(e: dict[str, Any]) -> None:
    m = e.get("micrograd", {}).get("median")
    print(f"(e) one epoch of fit on {e['_info']['samples']} moons points, batches of {e['_info']['batch_size']}, "
          f"MSE + SGD (valuegrad: fit(epochs={e['_info']['valuegrad_epochs_per_fit_call']}) / epochs, "
          f"compiling included; micrograd: the same loop by hand)")
    for name in ("micrograd", "valuegrad eager", "valuegrad compiled"):
        if name in e:
            faster = _ratio(m, e[name]["median"]) + " faster" if m else ""
            print(f"    {name:20s} {_fmt_time(e[name]):>18s} {faster:>14s}")


def _report_batched_step(f: dict[str, Any], goals: Goals) -> None:
    info = f["_info"]
    print(f"(f) the step of (a), batched: ONE sample's graph ({info['nodes']} nodes) run over the 100 points "
          f"with numpy in {info['groups']} level-scheduled groups; torch float64 batched on the same weights "
          f"({info['torch_threads']} threads); median ± (max-min)/median")
    blocks = ", ".join(f"{name} {k}" for name, k in info["steps_per_block"].items())
    print(f"    each sample: after gc.collect() and one untimed step, the mean of k steps, each from the initial "
          f"weights (about {info['block_seconds'] * 1e3:.0f} ms in all; k: {blocks})")
    names = ("micrograd", "valuegrad eager", "valuegrad compiled", "plain floats", "torch float64",
             "numpy by hand", "valuegrad batched")
    _print_engines(f, names)
    batched = f["valuegrad batched"]["median"]
    torch = f.get("torch float64", {}).get("median")
    if torch:
        print(f"    batched / torch float64: {batched / torch:.2f}")
        goals.append((f"(f) batched step <= {GOAL_BATCHED_VS_TORCH}x torch float64's ({batched / torch:.2f}x its time)",
                      batched / torch <= GOAL_BATCHED_VS_TORCH))
    by_hand = f.get("numpy by hand", {}).get("median")
    if by_hand:
        print(f"    batched / numpy by hand: {batched / by_hand:.2f}")
        goals.append((f"(f) batched step <= {GOAL_BATCHED_VS_NUMPY}x numpy by hand's ({batched / by_hand:.2f}x)",
                      batched / by_hand <= GOAL_BATCHED_VS_NUMPY))
    floor = f["plain floats"]["median"] / batched
    if TRAINED_FLOOR in f:
        later = f[TRAINED_FLOOR]["median"]
        print(f"    the floor skips the samples the hinge ignores: {info['active_samples']} of {info['samples']} "
              f"back-propagate at the initial weights, {info['trained_active_samples']} after "
              f"{info['trained_steps']} steps, where its step takes {_fmt_time(f[TRAINED_FLOOR])} "
              f"(batched {later / batched:.1f}x faster)")
    goals.append((f"batched step >= {GOAL_BATCHED_VS_FLOOR:.0f}x faster than the plain-float floor ({floor:.1f}x)",
                  floor >= GOAL_BATCHED_VS_FLOOR))


def _report_digits_epoch(g: dict[str, Any]) -> None:
    info = g["_info"]
    scaled = (f"eager timed on {info['eager_timed_on']} digits and scaled x{info['eager_scale']:.2f}"
              if info["eager_timed_on"] < info["samples"] else "eager on all of them")
    print(f"(g) one epoch of the digits demo's fit: {info['samples']} digits, MLP(64, [32, 10]), cross-entropy, "
          f"Adam, batches of {info['batch_size']} ({scaled})")
    batched = g["valuegrad batched"]["median"]
    for name in ("valuegrad eager", "valuegrad batched"):
        faster = _ratio(g[name]["median"], batched) if name == "valuegrad eager" else ""
        slower = f"{faster} the batched time" if faster else ""
        print(f"    {name:20s} {_fmt_time(g[name], 1.0, 's'):>18s}   {slower}")


def _report_mnist_epoch(h: dict[str, Any], goals: Goals) -> None:
    info = h["_info"]
    print(f"(h) one epoch of MLP(784, [128, 10]) on {info['samples']} generated MNIST-shaped samples (784 pixels "
          f"in [0, 1], 10 classes), batches of {info['batch_size']}, cross-entropy, Adam; one thread each")
    print(f"    build the sample's graph {info['build_graph_seconds']:.2f} s, compile_batched "
          f"{info['compile_seconds']:.2f} s; fit's first epoch (compiling included) "
          f"{info['first_fit_epoch_seconds']:.2f} s")
    batched = h["valuegrad batched"]["median"]
    for name in ("valuegrad batched", "torch float64", "numpy by hand"):
        if name in h:
            ratio = f"batched / this {batched / h[name]['median']:.2f}" if name != "valuegrad batched" else ""
            print(f"    {name:20s} {_fmt_time(h[name], 1.0, 's'):>18s}   {ratio}")
    torch = h.get("torch float64", {}).get("median")
    if torch:
        goals.append((f"(h) batched epoch <= {GOAL_MNIST_VS_TORCH}x torch float64's ({batched / torch:.2f}x)",
                      batched / torch <= GOAL_MNIST_VS_TORCH))
    memory = h.get("memory", {})
    for dtype, m in memory.items():
        print(f"    fit's peak memory on the {dtype} array: +{m['peak_added_bytes'] / 1e6:.0f} MB for an array of "
              f"{m['array_bytes'] / 1e6:.0f} MB ({m['ratio']:.2f}x)")
        met = m["ratio"] <= GOAL_FIT_MEMORY if info["samples"] == MNIST_SIZE[0] else None  # small: the graph dominates
        goals.append((f"(h) fit on a {MNIST_SIZE[0]} x 784 {dtype} array adds <= {GOAL_FIT_MEMORY}x its bytes "
                      f"({m['ratio']:.2f}x on {info['samples']} rows)", met))
    _report_scaling(h.get("scaling", {}).get("rows", []), goals)


def _report_scaling(rows: list[dict[str, Any]], goals: Goals) -> None:
    if not rows:
        return
    print("    scaling: (f)'s step on MLP(2, [w, w, 1]), hinge + L2, SGD; ms per step, batched / torch float64")
    print(f"    {'width':>6s} {'batch':>6s} {'batched':>14s} {'numpy by hand':>14s} {'torch f64':>14s} {'ratio':>7s}")
    worst = 0.0
    for row in rows:
        torch = row.get("torch float64", {}).get("median")
        batched = row["valuegrad batched"]["median"]
        ratio = batched / torch if torch else None
        worst = max(worst, ratio or 0.0)
        cells = [f"{row[name]['median'] * 1e3:.3f}" if name in row else "-"
                 for name in ("valuegrad batched", "numpy by hand", "torch float64")]
        print(f"    {row['width']:>6d} {row['batch']:>6d} {cells[0]:>14s} {cells[1]:>14s} {cells[2]:>14s} "
              f"{(f'{ratio:.2f}' if ratio else '-'):>7s}")
    if any("torch float64" in row for row in rows):
        goals.append((f"(h) every scaling row <= {GOAL_SCALING_VS_TORCH}x torch float64's (worst {worst:.2f}x)",
                      worst <= GOAL_SCALING_VS_TORCH))


def _report_goals(notes: list[str], goals: Goals) -> None:
    for note in notes:
        print(f"note: {note}")
    print("goals:")
    for text, ok in goals:
        status = "not checked (--quick)" if ok is None else "met" if ok else "NOT MET"
        print(f"    [{status}] {text}")


def _print_report(results: dict[str, Any], notes: list[str]) -> Goals:
    goals: Goals = []
    print(f"valuegrad bench  |  {results['machine']['python']}  |  {results['machine']['platform']}")
    print(f"date {results['date']}  commit {results['commit']}  repeats {results['repeats']}\n")
    sections: list[tuple[str, Callable[..., None], bool]] = [
        ("mlp_step", _report_mlp_step, True),
        ("ns_per_node", _report_ns_per_node, False),
        ("bytes_per_node", _report_bytes_per_node, True),
        ("deepest_chain", _report_deepest_chain, True),
        ("fit_epoch", _report_fit_epoch, False),
        ("batched_step", _report_batched_step, True),
        ("digits_epoch", _report_digits_epoch, False),
        ("mnist_epoch", _report_mnist_epoch, True),
    ]
    for key, report, has_goals in sections:
        section = results.get(key)
        if section:
            if has_goals:
                report(section, goals)
            else:
                report(section)
            print()
    _report_goals(notes, goals)
    return goals


def _write_json(path: str, results: dict[str, Any]) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, json.dumps(results, indent=2) + "\n")


def _bench_mnist_section(repeats: int, notes: list[str], *, quick: bool) -> dict[str, Any]:
    """(h) in full (60,000 samples, the 3 x 3 scaling table, memory on float64 and float32) or,
    with --quick, small enough for a smoke run."""
    n = 2048 if quick else MNIST_SIZE[0]
    with _one_thread(notes):
        result = bench_mnist_epoch(max(1, min(repeats, 3)), notes, n=n)
        widths, batches = ((16, 64), (32, 256)) if quick else (SCALING_WIDTHS, SCALING_BATCHES)
        result["scaling"] = bench_scaling(repeats, notes, widths, batches)
    result["memory"] = bench_fit_memory(n, ("float64",) if quick else ("float64", "float32"))
    return result


class _one_thread:
    """numpy's BLAS (threadpoolctl) and torch limited to one thread inside the block."""

    def __init__(self, notes: list[str]) -> None:
        self.notes = notes
        self.limits: Any = None
        self.torch_threads: int | None = None

    def __enter__(self) -> None:
        try:
            from threadpoolctl import threadpool_limits  # type: ignore[import-untyped,import-not-found,unused-ignore]
        except ImportError:
            self.notes.append("threadpoolctl is not installed: numpy's BLAS threads were not limited "
                              "(set OPENBLAS_NUM_THREADS=1)")
        else:
            self.limits = threadpool_limits(1)
        self.torch_threads = _torch_threads()
        if self.torch_threads is not None:
            import torch

            torch.set_num_threads(1)

    def __exit__(self, *exc: object) -> None:
        if self.limits is not None:
            self.limits.restore_original_limits()
        if self.torch_threads is not None:
            import torch

            torch.set_num_threads(self.torch_threads)


def run(args: argparse.Namespace) -> int:
    repeats = 3 if args.quick and args.repeats == 7 else args.repeats
    if repeats < 1:
        print("valuegrad bench: --repeats must be at least 1", file=sys.stderr)
        return 2
    sections = set(args.sections)
    unknown = sections - set(SECTIONS)
    if unknown:
        print(f"valuegrad bench: unknown --sections letters {''.join(sorted(unknown))!r} (use {', '.join(SECTIONS)})",
              file=sys.stderr)
        return 2
    notes: list[str] = []
    results: dict[str, Any] = {
        "machine": {
            "platform": platform.platform(),
            "machine": platform.machine(),
            "processor": platform.processor(),
            "cpu_count": os.cpu_count(),
            "python": f"{platform.python_implementation()} {platform.python_version()}",
        },
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": _git_commit(),
        "repeats": repeats,
        "quick": bool(args.quick),
        "gc": "enabled; gc.collect() before each timed repetition",
    }
    if "a" in sections:
        results["mlp_step"] = bench_mlp_step(repeats, notes)
    if "b" in sections:
        results["ns_per_node"] = bench_ns_per_node(20_000 if args.quick else 100_000, max(1, min(repeats, 5)))
    if "c" in sections:
        results["bytes_per_node"] = bench_bytes_per_node(10_000 if args.quick else 50_000)
    if "d" in sections:
        results["deepest_chain"] = bench_deepest_chain(10**5 if args.quick else GOAL_CHAIN_DEPTH)
    if "e" in sections:
        results["fit_epoch"] = bench_fit_epoch(200, max(1, min(repeats, 5)), notes, epochs=3 if args.quick else 10)
    if "f" in sections:
        with _one_thread(notes):
            results["batched_step"] = bench_batched_step(repeats, notes, quick=bool(args.quick))
    if "h" in sections:
        results["mnist_epoch"] = _bench_mnist_section(repeats, notes, quick=bool(args.quick))
    if "g" in sections:
        digits = bench_digits_epoch(max(1, min(repeats, 3)), notes, eager_samples=128 if args.quick else 384)
        if digits is not None:
            results["digits_epoch"] = digits
    goals = _print_report(results, notes)
    results["goals"] = [{"goal": text, "met": ok} for text, ok in goals]
    results["notes"] = notes
    if args.json:
        _write_json(args.json, results)
        print(f"wrote {args.json}")
    return 0
