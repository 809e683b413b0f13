"""`valuegrad demo mnist --data DIR`: MLP(784, [128, 10]) trained batched on MNIST's IDX files; held-out accuracy."""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nn import MLP, Adam, fit, load_idx
from valuegrad import options

from ._shared import DemoError, add_training_arguments, run_safely

ARCHITECTURE = [128, 10]
# The four files of http://yann.lecun.com/exdb/mnist/ (Fashion-MNIST uses the same names), raw or .gz.
FILES = {
    "train images": "train-images-idx3-ubyte",
    "train labels": "train-labels-idx1-ubyte",
    "test images": "t10k-images-idx3-ubyte",
    "test labels": "t10k-labels-idx1-ubyte",
}


@dataclass
class MnistRun:
    """A trained model, its held-out accuracy, and how long training took."""

    model: Any
    history: Any
    train_size: int
    test_size: int
    accuracy: float
    seconds: float
    classes: int


def find_files(directory: Path) -> dict[str, Path]:
    """The four standard files in ``directory`` (each raw or .gz); DemoError naming the missing ones."""
    if not directory.is_dir():
        raise DemoError(f"--data {str(directory)!r} is not a directory (it should hold MNIST's four IDX files)")
    found: dict[str, Path] = {}
    for role, name in FILES.items():
        for candidate in (directory / name, directory / f"{name}.gz"):
            if candidate.is_file():
                found[role] = candidate
                break
    missing = [f"{FILES[role]}[.gz]" for role in FILES if role not in found]
    if missing:
        raise DemoError(f"--data {str(directory)!r} lacks {', '.join(missing)}; download the four files of "
                        "MNIST (or Fashion-MNIST) into it, compressed or not")
    return found


def load_split(images_path: Path, labels_path: Path) -> tuple[Any, Any]:
    """Images as (N, pixels) float32 in [0, 1] and labels as (N,) integers, checked against each other."""
    try:
        images, labels = load_idx(images_path), load_idx(labels_path)
    except ValueError as error:
        raise DemoError(str(error)) from None
    if images.ndim < 2 or labels.ndim != 1 or len(images) != len(labels):
        raise DemoError(f"{images_path.name} (shape {images.shape}) and {labels_path.name} (shape {labels.shape}) "
                        "are not N images and N labels")
    pixels = images.reshape(len(images), -1).astype("float32")
    scale = 255.0 if images.dtype.kind == "u" and images.dtype.itemsize == 1 else max(float(pixels.max()), 1.0)
    return pixels / scale, labels.astype("int64")


def train(
    directory: Path, *, epochs: int = 2, batch_size: int = 64, lr: float = 1e-3, seed: int = 0, progress: bool = True
) -> MnistRun:
    """Read the files, train MLP(784, [128, 10]) with Adam and cross-entropy (batched), score the test set."""
    files = find_files(directory)
    X_train, y_train = load_split(files["train images"], files["train labels"])
    X_test, y_test = load_split(files["test images"], files["test labels"])
    if X_train.shape[1] != X_test.shape[1]:
        raise DemoError(f"training images have {X_train.shape[1]} pixels but test images {X_test.shape[1]}")
    classes = int(max(y_train.max(), y_test.max())) + 1
    model = MLP(X_train.shape[1], [ARCHITECTURE[0], max(classes, 2)], seed=seed)
    started = time.perf_counter()
    history = fit(model, X_train, y_train, loss="cross_entropy", optimizer=Adam(model.parameters(), lr=lr),
                  epochs=epochs, batch_size=batch_size, seed=seed, progress=progress, backend="batched",
                  validation_data=(X_test, y_test))
    seconds = time.perf_counter() - started
    accuracy = history.val_accuracy[-1]
    assert accuracy is not None  # cross-entropy classifies
    return MnistRun(model, history, len(y_train), len(y_test), accuracy, seconds, max(classes, 2))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=options.path, required=True, metavar="DIR",
                        help="directory with MNIST's four IDX files (train-images-idx3-ubyte[.gz], ...)")
    add_training_arguments(parser, epochs=2, batch_size=64, lr=1e-3, samples=None)


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        result = train(Path(args.data), epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                       progress=not args.no_progress)
        sizes = [ARCHITECTURE[0], result.classes]
        print(f"mnist: MLP({result.model.nin}, {sizes}), {args.epochs} epochs on {result.train_size} images, "
              f"backend='batched': training {result.seconds:.1f} s (evaluation included), held-out accuracy "
              f"{result.accuracy:.1%} ({result.test_size} images)")
        return 0

    return run_safely("mnist", body)
