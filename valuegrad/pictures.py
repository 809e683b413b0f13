"""Regenerate every picture in docs/ and record the figures the docs quote: `python -m valuegrad.pictures [DIR]`."""

from __future__ import annotations

import datetime
import functools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Sequence

from autograd import Value, draw
from autograd.files import write_atomic

NEURON_EXPRESSION = "tanh(x1*w1 + x2*w2 + b)"
NEURON_VALUES = {"x1": 2.0, "w1": -3.0, "x2": 0.0, "w2": 1.0, "b": 6.8813735870195432}
DEMOS = ("backprop", "moons", "regression", "spiral", "modes")
"""The demos whose default output is committed in docs/ (backprop also writes backprop.gif)."""
OTHER_RUNS = {"moons --optimizer sgd": ["moons", "--optimizer", "sgd", "--no-progress"], "digits": ["digits"]}
"""Runs whose printed figures the docs quote but whose pictures are not committed (written to a temp dir)."""
FIGURES = "figures.json"
"""Written next to the pictures: each run's command, printed lines and CPU time, and `make demo`'s time.
tests/test_docs.py checks every demo figure and time the docs quote against it."""


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


def recorded_run(argv: list[str]) -> dict[str, Any]:
    """Run `python -m valuegrad ARGV` as a user would: its status, printed lines, CPU seconds (its own and
    its children's: the `dot` runs) and wall seconds."""
    before, wall = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "valuegrad", *argv], capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    return {
        "argv": ["valuegrad", *argv],
        "status": done.returncode,
        "cpu_seconds": round(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, 2),
        "wall_seconds": round(time.perf_counter() - wall, 2),
        "output": done.stdout.splitlines(),
    }


def time_make_demo() -> dict[str, Any]:
    """What `make demo` runs once .venv exists (`python -m valuegrad demo`), run twice: the second, warm run."""
    with tempfile.TemporaryDirectory() as out:
        recorded_run(["demo", "--no-progress", "--out", out])  # warms caches: bytecode, matplotlib's fonts
        return recorded_run(["demo", "--no-progress", "--out", out])


def _best_seconds(function: Callable[[], Any], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return round(best, 3)


def time_rendering() -> dict[str, Any]:
    """The timings docs/rendering.md quotes ("Big graphs never hang"): wall-clock seconds, best of 3."""
    import autograd
    from autograd.render import render_bytes, to_dot

    from .graph import build_graph

    x = Value(0.5, label="x")
    chain = x
    for i in range(50_000):
        chain = chain.tanh() if i % 2 else chain + x
    root = chain * autograd.sum([Value(float(i)) for i in range(50_000)])  # a 50,000-op chain times a wide sum
    root.backward()
    everything = to_dot(root, max_nodes=10**6).source
    neuron, _ = build_graph(NEURON_EXPRESSION, NEURON_VALUES)
    timings: dict[str, Any] = {
        "values": len(autograd.topological_order(root, include_leaves=True)),
        "to_dot_500": _best_seconds(lambda: to_dot(root)),
        "to_dot_5000": _best_seconds(lambda: to_dot(root, max_nodes=5000)),
        "to_dot_all": _best_seconds(lambda: to_dot(root, max_nodes=10**6), repeats=1),
        "to_dot_all_megabytes": round(len(everything.encode()) / 1e6, 1),
        "svg_of_500": _best_seconds(lambda: render_bytes(to_dot(root), "svg")),
    }
    for fmt in ("png", "svg", "pdf"):
        timings[f"neuron_{fmt}"] = _best_seconds(functools.partial(render_bytes, to_dot(neuron), fmt))
    with tempfile.TemporaryDirectory() as out:
        for terms in (300, 2000):  # 2,000: the most operators `valuegrad graph` takes
            run = recorded_run(["graph", "+".join(["x"] * terms), "--x", "1", "-o", os.path.join(out, "sum.png")])
            if run["status"] != 0:
                raise RuntimeError(f"valuegrad graph of a {terms}-term sum failed (exit status {run['status']})")
            timings[f"graph_sum_{terms}"] = run["wall_seconds"]
    return timings


def moons_scaling(seeds: int = 10) -> dict[str, Any]:
    """docs/nn.md's "Measured" tables: per input scaling and Adam lr, each seed's accuracy on the whole
    training set after every epoch (``evaluate`` after the epoch: fit's ``val_accuracy`` on the training data).

    ``compiled=True`` gives eager's numbers bit for bit, faster."""
    from nn import MLP, Adam, MinMaxScaler, fit, make_moons

    runs = {"[-1, 1]": (-1.0, {"0.05": 40, "0.01": 40}), "[0, 1]": (0.0, {"0.05": 120, "0.01": 40})}
    record: dict[str, Any] = {}
    for scaling, (low, epochs_by_lr) in runs.items():
        record[scaling] = {}
        for lr, epochs in epochs_by_lr.items():
            accuracies = []
            for seed in range(seeds):
                X, y = make_moons(200, noise=0.1, seed=seed)
                X = MinMaxScaler(feature_range=(low, 1.0)).fit_transform(X)
                model = MLP(2, [16, 16, 1], seed=seed)
                history = fit(model, X, y, loss="bce_with_logits", optimizer=Adam(model.parameters(), lr=float(lr)),
                              epochs=epochs, batch_size=32, seed=seed, progress=False, validation_data=(X, y),
                              compiled=True)
                accuracies.append(history.val_accuracy)
            record[scaling][lr] = accuracies
    return record


def sine_regression(seeds: int = 3, epochs: int = 300) -> dict[str, Any]:
    """docs/nn.md's regression figures: per seed, the epoch-average training loss and the MSE after every epoch."""
    import math

    from nn import MLP, Adam, fit

    X = [[i / 49] for i in range(50)]
    y = [math.sin(2 * math.pi * x[0]) for x in X]
    record: dict[str, Any] = {"training_loss": [], "mse": []}
    for seed in range(seeds):
        model = MLP(1, [16, 16, 1], "tanh", seed=seed)
        history = fit(model, X, y, loss="mse", optimizer=Adam(model.parameters(), lr=0.01), epochs=epochs,
                      batch_size=10, seed=seed, progress=False, validation_data=(X, y), compiled=True)
        record["training_loss"].append(history.loss)
        record["mse"].append(history.val_loss)
    return record


def time_save_load() -> dict[str, Any]:
    """docs/nn.md's save/load speed: a model of about 10^5 parameters, wall-clock seconds, best of 3."""
    from nn import MLP, load, save

    model = MLP(64, [256, 256, 64], seed=0)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.json")
        return {"parameters": len(model.parameters()), "save": _best_seconds(lambda: save(model, path)),
                "load": _best_seconds(lambda: load(path)), "megabytes": round(os.path.getsize(path) / 1e6, 1)}


def time_micrograd_gc() -> dict[str, Any] | None:
    """How much of micrograd's step (benchmark (a)) is its cyclic garbage collector: best of 3 steps with the
    collector on (after ``gc.collect()``, as the benchmark times it) and off.  None without micrograd."""
    import gc

    try:
        import micrograd  # noqa: F401  # the `bench` extra
    except ImportError:
        return None
    from .bench import MicrogradStep, init_weights, moons_pm1

    step = MicrogradStep(init_weights(), *moons_pm1(100))
    seconds = {}
    for state in ("on", "off"):
        best = float("inf")
        for _ in range(3):
            step.reset()
            gc.collect()
            if state == "off":
                gc.disable()
            try:
                start = time.perf_counter()
                step()
                best = min(best, time.perf_counter() - start)
            finally:
                gc.enable()
        seconds[f"gc_{state}"] = round(best, 4)
    return seconds


def _epoch_seconds(model: Any, X: Any, y: Any, **options: Any) -> list[float]:
    """CPU seconds of every epoch of ``fit(model, X, y, **options)`` (time.process_time at each epoch's end)."""
    from nn import fit

    marks = [time.process_time()]
    fit(model, X, y, callbacks=[lambda epoch, history, model: marks.append(time.process_time())], **options)
    return [b - a for a, b in zip(marks, marks[1:])]


def time_fit_backends(epochs: int = 10) -> dict[str, Any]:
    """docs/performance.md's `fit(..., compiled=True)` figures: per workload, eager's median epoch, compiled's
    first epoch (both graphs compiled in it) and its median later epoch, CPU seconds; SGD, batches of 32."""
    from nn import MLP, SGD, MinMaxScaler, make_moons, make_spiral

    moons_X, moons_y = make_moons(200, noise=0.1, seed=0)
    spiral_X, spiral_y = make_spiral(300, classes=3, noise=0.1, seed=0)
    workloads = {
        "moons mse": (moons_X, moons_y, 1, "mse"),
        "moons bce_with_logits": (moons_X, moons_y, 1, "bce_with_logits"),
        "spiral cross_entropy": (spiral_X, spiral_y, 3, "cross_entropy"),
    }
    record: dict[str, Any] = {}
    for name, (X, y, outputs, loss) in workloads.items():
        X = MinMaxScaler(feature_range=(-1.0, 1.0)).fit_transform(X)
        times = {}
        for backend in ("eager", "compiled"):
            model = MLP(2, [16, 16, outputs], seed=0)
            times[backend] = _epoch_seconds(model, X, y, loss=loss, optimizer=SGD(model.parameters(), lr=0.1),
                                            epochs=epochs, batch_size=32, progress=False, backend=backend)
        record[name] = {"eager_epoch": round(statistics.median(times["eager"]), 4),
                        "compiled_first_epoch": round(times["compiled"][0], 4),
                        "compiled_epoch": round(statistics.median(times["compiled"][1:]), 4)}
    return record


def time_compile_graph() -> dict[str, Any]:
    """compile_graph on benchmark (a)'s step graph: its nodes, the generated lines and the seconds (best of 2)."""
    from autograd import compile_graph, topological_order

    from .bench import ValuegradStep, init_weights, moons_pm1

    step = ValuegradStep(init_weights(), *moons_pm1(100))
    loss = step.loss([[Value(a) for a in x] for x in step.X])
    compiled = compile_graph(loss)
    return {"nodes": len(topological_order(loss, include_leaves=True)), "lines": compiled.source.count("\n"),
            "seconds": _best_seconds(lambda: compile_graph(loss), repeats=2)}


def _machine() -> dict[str, Any]:
    from .bench import _git_commit

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": _git_commit(),
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                    "python": f"{platform.python_implementation()} {platform.python_version()}"},
    }


def write_doc_pictures(directory: str = "docs", *, demos: Sequence[str] = DEMOS) -> int:
    """Every docs picture (the two graph pictures, then each demo's output with default options) and
    ``directory``/figures.json with what every run printed and how long it took."""
    for path in write_graph_pictures(directory):
        print(f"wrote {path}")
    figures: dict[str, Any] = {**_machine(), "runs": {}}
    for name in demos:
        options = {"backprop": ["--gif"], "modes": []}.get(name, ["--no-progress"])
        figures["runs"][name] = recorded_run(["demo", name, *options, "--out", directory])
    with tempfile.TemporaryDirectory() as scratch:
        for name, argv in OTHER_RUNS.items():
            figures["runs"][name] = recorded_run(["demo", *argv, "--out", scratch])
    figures["make_demo"] = time_make_demo()
    figures["rendering"] = time_rendering()
    figures["save_load"] = time_save_load()
    figures["micrograd_gc"] = time_micrograd_gc()
    figures["fit_backends"] = time_fit_backends()
    figures["compile_graph"] = time_compile_graph()
    figures["moons_scaling"] = moons_scaling()
    figures["sine_regression"] = sine_regression()
    path = os.path.join(directory, FIGURES)
    write_atomic(path, json.dumps(figures, indent=1) + "\n")
    print(f"wrote {path}")
    return max(run["status"] for run in figures["runs"].values())


if __name__ == "__main__":
    sys.exit(write_doc_pictures(sys.argv[1] if len(sys.argv) > 1 else "docs"))
