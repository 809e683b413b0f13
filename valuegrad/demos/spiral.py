"""`valuegrad demo spiral`: three interleaved spirals, softmax + cross-entropy; a picture of the decision regions."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograd import no_grad
from nn import MLP, Adam, MinMaxScaler, fit, make_spiral

from ._shared import (
    CLASS_COLOURS,
    add_training_arguments,
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
    """A trained classifier, its data and its training accuracy."""

    model: Any
    scaler: Any
    X: list
    y: list
    history: Any
    accuracy: float

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
    """make_spiral -> MinMaxScaler(-1, 1) -> MLP(2, [16, 16, 3]) with cross-entropy on the logits."""
    X, y = make_spiral(samples, classes=CLASSES, noise=0.1, seed=seed)
    scaler = MinMaxScaler(feature_range=(-1, 1)).fit(X)
    model = MLP(2, ARCHITECTURE, seed=seed)
    history = fit(
        model,
        scaler.transform(X),
        y,
        loss="cross_entropy",
        optimizer=Adam(model.parameters(), lr=lr),
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        progress=progress,
    )
    run = SpiralRun(model=model, scaler=scaler, X=X, y=y, history=history, accuracy=0.0)
    run.accuracy = sum(run.predict(x) == label for x, label in zip(X, y)) / len(y)
    return run


def plot_regions(run: SpiralRun, path: Path) -> Path:
    """The predicted class over the plane as coloured regions, with the training points on top."""
    plt = pyplot()
    from matplotlib.colors import ListedColormap

    xs, ys = grid(run.X)
    regions = [[run.predict([x, y]) for x in xs] for y in ys]
    figure, axes = plt.subplots(figsize=(6.5, 6))
    colours = ListedColormap(CLASS_COLOURS[:CLASSES])
    axes.contourf(xs, ys, regions, levels=[k - 0.5 for k in range(CLASSES + 1)], cmap=colours, alpha=0.25)
    for label in range(CLASSES):
        points = [x for x, t in zip(run.X, run.y) if t == label]
        xs_of_class, ys_of_class = [p[0] for p in points], [p[1] for p in points]  # empty for an absent class
        axes.scatter(xs_of_class, ys_of_class, c=CLASS_COLOURS[label], edgecolors="black", s=22, label=f"class {label}")
    axes.legend(loc="upper right", title="training points (regions: prediction)", fontsize=8, title_fontsize=8)
    axes.set_xlabel("x0")
    axes.set_ylabel("x1")
    axes.set_title(
        f"MLP(2, {ARCHITECTURE}), softmax + cross-entropy\n"
        f"{len(run.history.loss)} epochs, training accuracy {run.accuracy:.1%}"
    )
    axes.set_aspect("equal")
    return save_figure(figure, path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_training_arguments(
        parser,
        epochs=60,
        batch_size=16,
        lr=0.02,
        samples=300,
        min_samples=CLASSES,
        lr_help="Adam's learning rate (default: %(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        out = prepare_output(args)
        result = train(**training_options(args))
        print(f"spiral: MLP(2, {ARCHITECTURE}), {args.epochs} epochs: training accuracy {result.accuracy:.1%}")
        print(f"wrote {plot_regions(result, out / 'spiral_regions.png')}")
        return 0

    return run_safely("spiral", body)
