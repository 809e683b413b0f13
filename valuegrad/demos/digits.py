"""`valuegrad demo digits`: scikit-learn's 8x8 digits, MLP(64, [32, 10]) trained batched; mistakes, confusion matrix."""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograd import no_grad
from nn import MLP, Adam, MinMaxScaler, fit, train_test_split

from ._shared import (
    DemoError,
    add_training_arguments,
    prepare_output,
    pyplot,
    run_safely,
    save_figure,
)

CLASSES = 10
ARCHITECTURE = [32, CLASSES]
TEST_SIZE = 0.25
INSTALL_SKLEARN = "install it with `pip install 'valuegrad[demo]'` (or `pip install scikit-learn`)"


@dataclass
class DigitsRun:
    """A trained classifier, its held-out data and predictions, and how long training took."""

    model: Any
    history: Any
    X_test: list[list[float]]
    images_test: list[list[float]]
    y_test: list[int]
    predictions: list[int]
    accuracy: float
    seconds: float


def load_digits() -> tuple[list[list[float]], list[int]]:
    """The 1,797 8x8 digits that ship inside scikit-learn (no download): 64 pixels 0..16 each."""
    try:
        from sklearn.datasets import load_digits as sklearn_digits  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        raise DemoError(f"the digits demo reads scikit-learn's digits, and scikit-learn is not installed; "
                        f"{INSTALL_SKLEARN}") from None
    data = sklearn_digits()
    return data.data.tolist(), [int(t) for t in data.target]


def predict(model: Any, rows: list[list[float]]) -> list[int]:
    """The class with the largest logit for each row."""
    with no_grad():
        logits = [[v.data for v in model(row)] for row in rows]
    return [scores.index(max(scores)) for scores in logits]


def train(
    *, epochs: int = 30, batch_size: int = 64, lr: float = 0.01, seed: int = 0, progress: bool = True,
    backend: str = "batched",
) -> DigitsRun:
    """Load, split 75/25 (seed), MinMax-scale on the training part, train with Adam and cross-entropy."""
    X, y = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=TEST_SIZE, seed=seed)
    scaler = MinMaxScaler().fit(X_train)
    model = MLP(64, ARCHITECTURE, seed=seed)
    started = time.perf_counter()
    history = fit(
        model, scaler.transform(X_train), y_train, loss="cross_entropy", optimizer=Adam(model.parameters(), lr=lr),
        epochs=epochs, batch_size=batch_size, seed=seed, progress=progress, backend=backend,  # type: ignore[arg-type]
    )
    seconds = time.perf_counter() - started
    predictions = predict(model, scaler.transform(X_test))
    accuracy = sum(p == t for p, t in zip(predictions, y_test)) / len(y_test)
    return DigitsRun(model, history, scaler.transform(X_test), X_test, y_test, predictions, accuracy, seconds)


def plot_mistakes(run: DigitsRun, path: Path, *, limit: int = 24) -> Path:
    """The misclassified held-out digits, each titled with its predicted and true label."""
    plt = pyplot()
    wrong = [i for i, (p, t) in enumerate(zip(run.predictions, run.y_test)) if p != t][:limit]
    columns = 8
    rows = max(1, -(-len(wrong) // columns))
    figure, axes_grid = plt.subplots(rows, columns, figsize=(columns * 1.2, rows * 1.45 + 0.6), squeeze=False)
    for axes in axes_grid.flat:
        axes.axis("off")
    for axes, i in zip(axes_grid.flat, wrong):
        axes.imshow([run.images_test[i][r * 8 : r * 8 + 8] for r in range(8)], cmap="gray_r", vmin=0, vmax=16)
        axes.set_title(f"{run.predictions[i]} (true {run.y_test[i]})", fontsize=8, color="#d62728")
    total = sum(p != t for p, t in zip(run.predictions, run.y_test))
    figure.suptitle(f"misclassified held-out digits: predicted (true), {total} of {len(run.y_test)}"
                    + (f", first {len(wrong)} shown" if total > len(wrong) else ""), fontsize=10)
    return save_figure(figure, path)


def plot_confusion(run: DigitsRun, path: Path) -> Path:
    """The confusion matrix of the held-out set: rows true class, columns predicted class."""
    plt = pyplot()
    matrix = [[0] * CLASSES for _ in range(CLASSES)]
    for p, t in zip(run.predictions, run.y_test):
        matrix[t][p] += 1
    figure, axes = plt.subplots(figsize=(5.6, 5))
    axes.imshow(matrix, cmap="Blues")
    for t in range(CLASSES):
        for p in range(CLASSES):
            if matrix[t][p]:
                colour = "white" if matrix[t][p] > max(map(max, matrix)) / 2 else "black"
                axes.text(p, t, str(matrix[t][p]), ha="center", va="center", fontsize=8, color=colour)
    axes.set_xticks(range(CLASSES))
    axes.set_yticks(range(CLASSES))
    axes.set_xlabel("predicted digit")
    axes.set_ylabel("true digit")
    axes.set_title(f"MLP(64, {ARCHITECTURE}) on held-out digits: accuracy {run.accuracy:.1%}")
    return save_figure(figure, path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # sklearn's digits: a fixed data set, so no --samples
    add_training_arguments(parser, epochs=30, batch_size=64, lr=0.01, samples=None)


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        out = prepare_output(args)
        result = train(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                       progress=not args.no_progress)
        print(f"digits: MLP(64, {ARCHITECTURE}), {args.epochs} epochs, backend='batched': "
              f"training {result.seconds:.1f} s, held-out accuracy {result.accuracy:.1%} "
              f"({len(result.y_test)} digits, {TEST_SIZE:.0%} held out, seed {args.seed})")
        print(f"wrote {plot_mistakes(result, out / 'digits_mistakes.png')}")
        print(f"wrote {plot_confusion(result, out / 'digits_confusion.png')}")
        return 0

    return run_safely("digits", body)
