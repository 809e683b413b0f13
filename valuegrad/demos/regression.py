"""`valuegrad demo regression`: fit sin(2 pi x) on [0, 1] with an MLP and MSE; a picture of the fit."""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograd import no_grad
from nn import MLP, Adam, MinMaxScaler, fit

from ._shared import add_training_arguments, prepare_output, pyplot, run_safely, save_figure, training_options

ARCHITECTURE = [16, 16, 1]


def target(x: float) -> float:
    """The function to learn: one period of a sine on [0, 1]."""
    return math.sin(2.0 * math.pi * x)


@dataclass
class RegressionRun:
    """A trained model, its data and its final mean squared error."""

    model: Any
    scaler: Any
    X: list
    y: list
    history: Any
    mse: float

    def predict(self, x: float) -> float:
        with no_grad():
            return self.model(self.scaler.transform([[x]])[0]).data


def train(
    *, samples: int = 40, epochs: int = 300, batch_size: int = 8, lr: float = 0.01, seed: int = 0, progress: bool = True
) -> RegressionRun:
    """Evenly spaced x in [0, 1] scaled to [-1, 1], an MLP with tanh hidden units, Adam and MSE."""
    X = [[i / (samples - 1) if samples > 1 else 0.5] for i in range(samples)]
    y = [target(x) for (x,) in X]
    scaler = MinMaxScaler(feature_range=(-1, 1)).fit(X)
    # tanh, not relu: a smooth target is fitted by a smooth sum of units with far fewer epochs.
    model = MLP(1, ARCHITECTURE, activation="tanh", seed=seed)
    history = fit(
        model,
        scaler.transform(X),
        y,
        loss="mse",
        optimizer=Adam(model.parameters(), lr=lr),
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        progress=progress,
    )
    run = RegressionRun(model=model, scaler=scaler, X=X, y=y, history=history, mse=0.0)
    run.mse = sum((run.predict(x) - t) ** 2 for (x,), t in zip(X, y)) / len(y)
    return run


def plot_fit(run: RegressionRun, path: Path) -> Path:
    """Left: truth, training points and the model's curve; right: the loss per epoch."""
    plt = pyplot()
    xs = [i / 300 for i in range(301)]
    figure, (fit_axes, loss_axes) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    fit_axes.plot(xs, [target(x) for x in xs], color="black", linewidth=1.5, label=r"truth: $\sin(2\pi x)$")
    fit_axes.scatter([x for (x,) in run.X], run.y, color="#1f77b4", s=18, zorder=3, label="training points")
    fit_axes.plot(xs, [run.predict(x) for x in xs], color="#d62728", linewidth=2, linestyle="--", label="model")
    fit_axes.set_xlabel("x")
    fit_axes.set_ylabel("y")
    fit_axes.set_title(f"MLP(1, {ARCHITECTURE}, tanh) fitting $\\sin(2\\pi x)$: MSE {run.mse:.2e}")
    fit_axes.legend(loc="upper right")
    epochs = list(range(1, len(run.history.loss) + 1))
    loss_axes.plot(epochs, run.history.loss, label="training loss (MSE)")
    loss_axes.set_yscale("log")
    loss_axes.set_xlabel("epoch")
    loss_axes.set_ylabel("loss (log scale)")
    loss_axes.set_title("loss per epoch")
    loss_axes.legend()
    for axes in (fit_axes, loss_axes):
        axes.grid(alpha=0.3)
    return save_figure(figure, path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_training_arguments(parser, epochs=300, batch_size=8, lr=0.01, samples=40, min_samples=2)


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        out = prepare_output(args)
        result = train(**training_options(args))
        print(f"regression: MLP(1, {ARCHITECTURE}, tanh), {args.epochs} epochs: mean squared error {result.mse:.3g}")
        print(f"wrote {plot_fit(result, out / 'regression_fit.png')}")
        return 0

    return run_safely("regression", body)
