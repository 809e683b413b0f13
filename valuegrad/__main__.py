"""The `valuegrad` command line: `valuegrad demo ...`, `valuegrad graph ...`, `valuegrad bench`.

Each subcommand lives in its own module exposing ``add_arguments(parser)`` and
``run(args) -> int``; this file only wires them together.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

# name -> (module, one-line help)
COMMANDS = {
    "graph": ("valuegrad.graph", "draw the computation graph of an expression as an image"),
    "bench": ("valuegrad.bench", "benchmark valuegrad side by side with micrograd and plain floats"),
}
DEMOS = {
    "moons": ("valuegrad.demos.moons", "train an MLP on two moons; decision boundary, curves, graph"),
    "backprop": ("valuegrad.demos.backprop", "a 2-2-1 sigmoid network's gradients by hand vs the engine"),
    "regression": ("valuegrad.demos.regression", "fit a 1-D function with MSE"),
    "spiral": ("valuegrad.demos.spiral", "three-class spiral with softmax + cross-entropy"),
    "modes": ("valuegrad.demos.modes", "reverse vs forward mode vs finite differences: cost as n grows"),
    "digits": ("valuegrad.demos.digits", "8x8 handwritten digits (scikit-learn), trained batched with numpy"),
}
DEFAULT_DEMOS = ("moons", "backprop")  # what `valuegrad demo` (and `make demo`) runs


def _add(subparsers: argparse._SubParsersAction, name: str, module_name: str, help_text: str) -> None:
    module = importlib.import_module(module_name)
    parser = subparsers.add_parser(name, help=help_text, description=help_text)
    module.add_arguments(parser)
    parser.set_defaults(_run=module.run)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="valuegrad", description="valuegrad: scalar autograd, neural nets and computation graphs in pictures"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser("demo", help="run a demo (default: moons and backprop)", description="run a demo")
    demos = demo.add_subparsers(dest="demo", metavar="DEMO")
    for name, (module_name, help_text) in DEMOS.items():
        _add(demos, name, module_name, help_text)
    for name, (module_name, help_text) in COMMANDS.items():
        _add(commands, name, module_name, help_text)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "demo" and getattr(args, "demo", None) is None:
        # Run every default demo even if one fails, and report the worst status.
        return max(main(["demo", name]) for name in DEFAULT_DEMOS)
    return args._run(args)


if __name__ == "__main__":
    sys.exit(main())
