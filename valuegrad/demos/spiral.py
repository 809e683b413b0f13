"""`valuegrad demo spiral`: three interleaved spirals, softmax + cross-entropy; a picture of the decision regions."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograd import no_grad
from nn import MLP, Adam, MinMaxScaler, fit, make_spiral, train_test_split

from ._shared import (
    CLASS_COLOURS,
    add_training_arguments,
    columns,
    grid,
    prepare_output,
    pyplot,
    run_safely,
    save_figure,
    training_options,
)

CLASSES = 3
ARCHITECTURE = [16, 16, CLASSES]


@dataclass
class SpiralRun:
    """A trained classifier, its training data, the held-out split and both accuracies."""

    model: Any
    scaler: Any
    X: list
    y: list
    history: Any
    accuracy: float
    X_held_out: list = field(default_factory=list)
    y_held_out: list = field(default_factory=list)
    held_out_accuracy: float = 0.0

    def predict(self, point: list[float]) -> int:
        """The class with the largest logit (softmax is monotonic, so no need to apply it)."""
        with no_grad():
            logits = [v.data for v in self.model(self.scaler.transform([point])[0])]
        return max(range(len(logits)), key=logits.__getitem__)


def train(
    *,
    samples: int = 300,
    epochs: int = 60,
    batch_size: int = 16,
    lr: float = 0.02,
    seed: int = 0,
    progress: bool = True,
) -> SpiralRun:
    """make_spiral -> 20% held out -> MinMaxScaler(-1, 1) -> MLP(2, [16, 16, 3]) with cross-entropy on the logits."""
    X_all, y_all = make_spiral(samples, classes=CLASSES, noise=0.1, seed=seed)
    X, X_held_out, y, y_held_out = train_test_split(X_all, y_all, test_size=0.2, seed=seed)
    scaler = MinMaxScaler(feature_range=(-1, 1)).fit(X)
    model = MLP(2, ARCHITECTURE, seed=seed)
    history = fit(
        model,
        scaler.transform(X),
        y,
        validation_data=(scaler.transform(X_held_out), y_held_out),
        loss="cross_entropy",
        optimizer=Adam(model.parameters(), lr=lr),
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        progress=progress,
    )
    run = SpiralRun(model=model, scaler=scaler, X=X, y=y, history=history, accuracy=0.0,
                    X_held_out=X_held_out, y_held_out=y_held_out)
    run.accuracy = sum(run.predict(x) == label for x, label in zip(X, y)) / len(y)
    run.held_out_accuracy = sum(run.predict(x) == label for x, label in zip(X_held_out, y_held_out)) / len(y_held_out)
    return run


def margin_grid(run: SpiralRun, xs: list[float], ys: list[float]) -> list[list[list[float]]]:
    """For each class k, its margin at every (x, y) of the grid: logit k minus the largest other logit.

    The predicted class is where its margin is positive; margins are continuous, so contouring
    them at 0 draws smooth boundaries.  One compiled graph, its inputs' data changed per point.
    """
    from autograd import Value, compile_graph
    from autograd import sum as value_sum

    inputs = [Value(0.0), Value(0.0)]
    logits = run.model(inputs)
    compiled = compile_graph(value_sum(logits), watch=logits)
    # MinMaxScaler maps each feature on its own, so the grid's axes are scaled once, not per point.
    scaled_x = [point[0] for point in run.scaler.transform([[x, ys[0]] for x in xs])]
    scaled_y = [point[1] for point in run.scaler.transform([[xs[0], y] for y in ys])]
    margins: list[list[list[float]]] = [[] for _ in logits]
    for y in scaled_y:
        inputs[1].data = y
        rows: list[list[float]] = [[] for _ in logits]
        for x in scaled_x:
            inputs[0].data = x
            compiled.forward()
            scores = [logit.data for logit in logits]
            for k, score in enumerate(scores):
                rows[k].append(score - max(scores[:k] + scores[k + 1:]))
        for k, row in enumerate(rows):
            margins[k].append(row)
    return margins


def plot_regions(run: SpiralRun, path: Path) -> Path:
    """The predicted class over the plane as coloured regions, with the training points on top."""
    plt = pyplot()

    # Each class's region is where its margin (logit minus the best other logit) is positive.
    # contourf interpolates the margins between grid points, so the boundaries are smooth curves;
    # filling a grid of class numbers drew them as stair steps, even on a 200 x 200 grid.
    xs, ys = grid(run.X + run.X_held_out, steps=120)
    margins = margin_grid(run, xs, ys)
    figure, axes = plt.subplots(figsize=(6.5, 6))
    bound = max(abs(m) for class_margins in margins for row in class_margins for m in row) + 1.0
    for label, class_margins in enumerate(margins):
        axes.contourf(xs, ys, class_margins, levels=[0.0, bound], colors=[CLASS_COLOURS[label]], alpha=0.25)
        axes.contour(xs, ys, class_margins, levels=[0.0], colors="black", linewidths=0.8)
    for label in range(CLASSES):
        points = [x for x, t in zip(run.X, run.y) if t == label]
        axes.scatter(*columns(points), c=CLASS_COLOURS[label], edgecolors="black", s=22, label=f"class {label}")
        held_out = [x for x, t in zip(run.X_held_out, run.y_held_out) if t == label]
        if held_out:
            axes.scatter(*columns(held_out), c="white", edgecolors=CLASS_COLOURS[label], linewidths=1.5, s=22,
                         label=f"class {label} (held-out)")
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, title="points (regions: prediction)",
                fontsize=8, title_fontsize=8, frameon=False)
    axes.set_xlabel("x0")
    axes.set_ylabel("x1")
    axes.set_title(
        f"MLP(2, {ARCHITECTURE}), softmax + cross-entropy\n"
        f"{len(run.history.loss)} epochs: accuracy training {run.accuracy:.1%}, held-out {run.held_out_accuracy:.1%}"
    )
    axes.set_aspect("equal")
    return save_figure(figure, path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_training_arguments(parser, epochs=60, batch_size=16, lr=0.02, samples=300, min_samples=CLASSES)


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        out = prepare_output(args)
        result = train(**training_options(args))
        print(f"spiral: MLP(2, {ARCHITECTURE}), {args.epochs} epochs: training accuracy {result.accuracy:.1%}, "
              f"held-out accuracy {result.held_out_accuracy:.1%}")
        print(f"wrote {plot_regions(result, out / 'spiral_regions.png')}")
        return 0

    return run_safely("spiral", body)
