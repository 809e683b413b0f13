"""Plumbing shared by the demos: argument types, output files, matplotlib and graph pictures."""

from __future__ import annotations

import argparse
import io
import shutil
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from autograd.files import write_atomic
from autograd.render import INSTALL_DOT
from valuegrad import options

DEFAULT_OUT = Path("demos") / "out"
INSTALL_MATPLOTLIB = "install it with `pip install 'valuegrad[demo]'` (or `pip install matplotlib`)"


class DemoError(Exception):
    """A problem the user can fix (missing package, unusable output directory): no traceback."""


# Bounds of the demos' options: wide enough for any experiment, tight enough that a typo fails at once.
MAX_EPOCHS = 10_000
MAX_SAMPLES = 10_000
MAX_BATCH_SIZE = 10_000
MAX_LEARNING_RATE = 10.0
MAX_SEED = 2**32 - 1  # numpy's and most generators' seed range

seed_type = options.integer(0, MAX_SEED)


def add_output_arguments(parser: argparse.ArgumentParser, *, training: bool) -> None:
    """--out (and for training demos --seed, --no-progress): the options every demo shares."""
    parser.add_argument(
        "--out", type=options.path, default=DEFAULT_OUT, metavar="DIR",
        help="directory for the pictures (default: %(default)s)",
    )
    if training:
        parser.add_argument(
            "--seed", type=seed_type, default=0, help="seed for data, initial weights and shuffling (default: 0)"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_training_arguments(
    parser: argparse.ArgumentParser,
    *,
    epochs: int,
    batch_size: int,
    lr: float | None,
    samples: int | None,
    min_samples: int = 1,
    lr_help: str = "Adam's learning rate (default: %(default)s)",
) -> None:
    """The options of every training demo, with that demo's defaults and limits, then --out, --seed, --no-progress.

    ``samples``: the default of --samples, None for a demo on a fixed data set (no --samples);
    ``min_samples`` is the smallest data set the demo can train on and draw (every class present).
    """
    parser.add_argument(
        "--epochs", type=options.integer(1, MAX_EPOCHS), default=epochs,
        help="passes over the data (default: %(default)s)",
    )
    parser.add_argument(
        "--batch-size", type=options.integer(1, MAX_BATCH_SIZE), default=batch_size,
        help="mini-batch size (default: %(default)s)",
    )
    parser.add_argument("--lr", type=options.number(MAX_LEARNING_RATE), default=lr, help=lr_help)
    if samples is not None:
        parser.add_argument(
            "--samples", type=options.integer(min_samples, MAX_SAMPLES), default=samples,
            help=f"data set size, {min_samples} to {MAX_SAMPLES} (default: %(default)s)",
        )
    add_output_arguments(parser, training=True)


def columns(points: list) -> tuple[list[float], list[float]]:
    """x and y lists of 2-D points for scatter(); empty lists when a class has no points (tiny data sets)."""
    return [p[0] for p in points], [p[1] for p in points]


def training_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of a training demo's ``train()`` from its parsed options."""
    return {
        "samples": args.samples,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "seed": args.seed,
        "progress": not args.no_progress,
    }


def prepare_output(args: argparse.Namespace) -> Path:
    """The --out directory, created; checks matplotlib first so a missing one fails before training."""
    out = output_dir(Path(args.out))
    pyplot()
    return out


def output_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if needed; DemoError if it exists and is not a directory."""
    if path.exists() and not path.is_dir():
        raise DemoError(f"--out {str(path)!r} exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DemoError(f"cannot create output directory {str(path)!r}: {error.strerror}") from None
    return path


def pyplot() -> Any:
    """matplotlib.pyplot on the non-interactive Agg backend, or a DemoError saying how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise DemoError(f"this demo draws with matplotlib, which is not installed; {INSTALL_MATPLOTLIB}") from None
    matplotlib.use("Agg")  # files only: no display needed, works over ssh and in CI
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure: Any, path: Path) -> Path:
    """Write a matplotlib figure as PNG atomically (autograd.files.write_atomic)."""
    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    finally:
        pyplot().close(figure)  # figures are global state in pyplot: free each one once written
    write_atomic(path, buffer.getvalue())
    return path


def draw_graph(root: Any, path: Path, **options: Any) -> Path | None:
    """Draw ``root``'s graph to ``path`` (a .png) with autograd.draw; None (and a hint) without `dot`."""
    if shutil.which("dot") is None:
        print(f"skipped the graph picture {path}: `dot` is not installed; {INSTALL_DOT}", file=sys.stderr)
        return None
    from autograd import draw

    try:
        return Path(draw(root, str(path), format="png", **options))
    except RuntimeError as error:  # `dot` present but failing: the other pictures still count
        print(f"skipped the graph picture {path}: {error}", file=sys.stderr)
        return None


def animate_graph(root: Any, path: Path, **options: Any) -> Path | None:
    """Write backpropagation through ``root`` as a GIF (autograd.animate_backward); None and a hint
    without Graphviz or Pillow, so the demo's other output still counts."""
    if shutil.which("dot") is None or shutil.which("neato") is None:
        print(f"skipped the animation {path}: Graphviz is not installed; {INSTALL_DOT}", file=sys.stderr)
        return None
    from autograd import animate_backward

    try:
        return Path(animate_backward(root, str(path), format="gif", **options))
    except (ImportError, RuntimeError) as error:
        print(f"skipped the animation {path}: {error}", file=sys.stderr)
        return None


def run_safely(name: str, body: Callable[[], int]) -> int:
    """Run a demo body; a DemoError becomes one line on stderr and exit status 1, not a traceback."""
    try:
        return body()
    except DemoError as error:
        print(f"valuegrad demo {name}: error: {error}", file=sys.stderr)
        return 1


def script_main(module: Any, argv: Sequence[str] | None, *, prog: str, out: Path) -> int:
    """Entry point of a demos/*.py script: the module's own options, pictures under ``out``."""
    parser = options.Parser(prog=prog, description=(module.__doc__ or "").strip())
    module.add_arguments(parser)
    parser.set_defaults(out=out)
    return module.run(parser.parse_args(argv))


def grid(points: Sequence[Sequence[float]], *, steps: int = 100, margin: float = 0.3) -> tuple[list, list]:
    """Evenly spaced x and y coordinates covering 2-D ``points`` plus a margin: the canvas of a region plot."""
    axes = []
    for column in (0, 1):
        low = min(point[column] for point in points) - margin
        high = max(point[column] for point in points) + margin
        axes.append([low + (high - low) * i / (steps - 1) for i in range(steps)])
    return axes[0], axes[1]


# One colour per class, shared by the points and the regions of every classification picture.
CLASS_COLOURS = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e")
