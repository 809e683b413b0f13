"""`valuegrad demo moons`: train MLP(2, [16, 16, 1]) on two moons; decision boundary, curves and a neuron's graph."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograd import Value, no_grad, sigmoid
from nn import MLP, SGD, Adam, MinMaxScaler, fit, make_moons, train_test_split

from ._shared import (
    CLASS_COLOURS,
    add_training_arguments,
    columns,
    draw_graph,
    grid,
    prepare_output,
    pyplot,
    run_safely,
    save_figure,
    training_options,
)

ARCHITECTURE = [16, 16, 1]
DEFAULT_LR = {"sgd": 0.2, "adam": 0.05}  # the --optimizer choices and their learning rates


@dataclass
class MoonsRun:
    """A trained model with everything needed to draw it."""

    model: Any
    scaler: Any
    X: list  # original coordinates (the scaler maps them to [-1, 1] for the model)
    y: list
    X_held_out: list  # the held-out split: never trained on, scored after every epoch
    y_held_out: list
    history: Any
    accuracy: float
    held_out_accuracy: float
    optimizer: str = "adam"
    lr: float = 0.0
    batch_size: int = 0


def accuracy(model: Any, X: list, y: list) -> float:
    """Fraction of points whose logit has the label's sign (logit > 0 means class 1)."""
    with no_grad():
        hits = sum((model(x).data > 0.0) == (label == 1) for x, label in zip(X, y))
    return hits / len(y)


def train(
    *,
    samples: int = 200,
    epochs: int = 30,
    batch_size: int = 32,
    optimizer: str = "adam",
    lr: float | None = None,
    seed: int = 0,
    progress: bool = True,
) -> MoonsRun:
    """make_moons -> MinMaxScaler(-1, 1) -> MLP(2, [16, 16, 1]) trained with BCE on logits."""
    X, y = make_moons(samples, noise=0.1, seed=seed)
    X_train, X_held_out, y_train, y_held_out = train_test_split(X, y, test_size=0.25, seed=seed)
    # [-1, 1] rather than [0, 1]: centred inputs let ReLU units with zero biases split the plane.
    scaler = MinMaxScaler(feature_range=(-1, 1)).fit(X_train)
    train_scaled, held_out_scaled = scaler.transform(X_train), scaler.transform(X_held_out)
    model = MLP(2, ARCHITECTURE, seed=seed)
    if optimizer not in DEFAULT_LR:
        raise ValueError(f"moons.train(): optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    rate = DEFAULT_LR[optimizer] if lr is None else lr
    opt = Adam(model.parameters(), lr=rate) if optimizer == "adam" else SGD(model.parameters(), lr=rate, momentum=0.9)
    history = fit(
        model,
        train_scaled,
        y_train,
        loss="bce_with_logits",
        optimizer=opt,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        progress=progress,
        validation_data=(held_out_scaled, y_held_out),
    )
    return MoonsRun(
        model=model,
        scaler=scaler,
        X=X_train,
        y=y_train,
        X_held_out=X_held_out,
        y_held_out=y_held_out,
        history=history,
        accuracy=accuracy(model, train_scaled, y_train),
        held_out_accuracy=accuracy(model, held_out_scaled, y_held_out),
        optimizer=optimizer,
        lr=rate,
        batch_size=batch_size,
    )


def plot_boundary(run: MoonsRun, path: Path) -> Path:
    """P(class 1) over the plane as filled contours, the 0.5 boundary, and the points by class."""
    plt = pyplot()
    from matplotlib.lines import Line2D

    xs, ys = grid(run.X + run.X_held_out, steps=150)
    with no_grad():
        probability = [[sigmoid(run.model(run.scaler.transform([[x, y]])[0]).data) for x in xs] for y in ys]
    figure, axes = plt.subplots(figsize=(7.5, 5.5))
    filled = axes.contourf(xs, ys, probability, levels=[i / 10 for i in range(11)], cmap="RdBu", alpha=0.55)
    axes.contour(xs, ys, probability, levels=[0.5], colors="black", linewidths=1.5)
    for label, marker in ((0, "o"), (1, "s")):
        train_points = [x for x, t in zip(run.X, run.y) if t == label]
        held_out_points = [x for x, t in zip(run.X_held_out, run.y_held_out) if t == label]
        axes.scatter(
            *columns(train_points),
            c=CLASS_COLOURS[label],
            marker=marker,
            edgecolors="black",
            s=28,
            label=f"class {label} (training)",
        )
        axes.scatter(
            *columns(held_out_points),
            c="white",
            marker=marker,
            edgecolors=CLASS_COLOURS[label],
            s=28,
            linewidths=1.5,
            label=f"class {label} (held-out)",
        )
    handles, labels = axes.get_legend_handles_labels()
    handles.append(Line2D([], [], color="black", linewidth=1.5))
    labels.append("decision boundary (P = 0.5)")
    # Below the plot, not on it: inside, the legend covered part of the boundary.
    axes.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, fontsize=8, frameon=False)
    figure.colorbar(filled, ax=axes, label="model's P(class 1) = sigmoid(output)")
    axes.set_xlabel("x0")
    axes.set_ylabel("x1")
    axes.set_title(
        f"MLP(2, {ARCHITECTURE}) on two moons after {len(run.history.loss)} epochs\n"
        f"accuracy: training {run.accuracy:.1%}, held-out {run.held_out_accuracy:.1%}"
    )
    return save_figure(figure, path)


def curves_title(run: MoonsRun) -> str:
    """What was trained, and how: architecture, optimiser, learning rate, epochs, batch size."""
    return (f"MLP(2, {ARCHITECTURE}) on two moons: {run.optimizer}, lr {run.lr:g}, "
            f"{len(run.history.loss)} epochs, batch size {run.batch_size}")


def plot_curves(history: Any, path: Path, *, title: str) -> Path:
    """Loss and accuracy per epoch (training and held-out) in two panels."""
    plt = pyplot()
    epochs = list(range(1, len(history.loss) + 1))
    # constrained layout makes room for the suptitle: with the default one it sat on the panels' titles.
    figure, (loss_axes, accuracy_axes) = plt.subplots(1, 2, figsize=(10, 4.3), layout="constrained")
    loss_axes.plot(epochs, history.loss, label="training loss")
    if history.val_loss:
        loss_axes.plot(epochs, history.val_loss, label="held-out loss", linestyle="--")
    loss_axes.set_yscale("log")
    loss_axes.set_xlabel("epoch")
    loss_axes.set_ylabel("loss (log scale)")
    loss_axes.set_title("loss")
    loss_axes.legend()
    if history.accuracy and history.accuracy[0] is not None:
        accuracy_axes.plot(epochs, history.accuracy, label="training accuracy")
        if history.val_accuracy:
            accuracy_axes.plot(epochs, history.val_accuracy, label="held-out accuracy", linestyle="--")
        accuracy_axes.set_ylim(0.0, 1.02)
        accuracy_axes.set_xlabel("epoch")
        accuracy_axes.set_ylabel("accuracy")
        accuracy_axes.set_title("accuracy")
        accuracy_axes.legend(loc="lower right")
    for axes in (loss_axes, accuracy_axes):
        axes.grid(alpha=0.3)
    figure.suptitle(title)
    return save_figure(figure, path)


def neuron_graph(run: MoonsRun, path: Path) -> Path | None:
    """The graph of the first hidden neuron, after backward, on the first point that switches it on."""
    neuron = run.model.layers[0].neurons[0]
    points = run.scaler.transform(run.X)
    with no_grad():  # a point where relu is active, so gradients flow (elsewhere they are all 0)
        point = next((p for p in points if neuron(p).data > 0.0), points[0])
    inputs = [Value(feature, label=f"x{i}") for i, feature in enumerate(point)]
    out = neuron(inputs)
    out.label = "out"
    out.backward()
    graph = draw_graph(out, path, show_local_grads=True)
    for parameter in neuron.parameters():
        parameter.grad = 0.0  # the picture's backward must not leak into later training
    return graph


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--optimizer", choices=tuple(DEFAULT_LR), default="adam", help="default: %(default)s")
    add_training_arguments(
        parser,
        epochs=30,
        batch_size=32,
        lr=None,
        samples=200,
        min_samples=8,  # train_test_split keeps a quarter: at least 2 held-out points
        lr_help="learning rate (default: 0.05 for adam, 0.2 for sgd)",
    )


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        out = prepare_output(args)
        result = train(optimizer=args.optimizer, **training_options(args))
        print(
            f"two moons: MLP(2, {ARCHITECTURE}), {args.optimizer}, {args.epochs} epochs: "
            f"training accuracy {result.accuracy:.1%}, held-out accuracy {result.held_out_accuracy:.1%}, "
            f"final loss {result.history.loss[-1]:.4f}"
        )
        written = [
            plot_boundary(result, out / "moons_boundary.png"),
            plot_curves(result.history, out / "moons_curves.png", title=curves_title(result)),
        ]
        graph = neuron_graph(result, out / "moons_neuron.png")
        if graph is not None:
            written.append(graph)
        for path in written:
            print(f"wrote {path}")
        return 0

    return run_safely("moons", body)
