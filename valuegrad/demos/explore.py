"""`valuegrad demo explore`: explorer pages for the lecture's neuron and the 2-2-1 network of `demo backprop`."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from autograd.render import INSTALL_DOT

from ._shared import DemoError, add_output_arguments, output_dir, run_safely

PAGES = ("explore_neuron.html", "explore_backprop.html")


def write_pages(out: Path) -> list[str]:
    """The two pages in ``out``: tanh(x1*w1 + x2*w2 + b) and the backprop demo's cost C."""
    from autograd import explore
    from valuegrad.graph import build_graph
    from valuegrad.pictures import NEURON_EXPRESSION, NEURON_VALUES

    from .backprop import engine_graph

    neuron, _ = build_graph(NEURON_EXPRESSION, NEURON_VALUES)
    _, network = engine_graph()
    return [
        explore(neuron, out / PAGES[0], title=f"a neuron: out = {NEURON_EXPRESSION}"),
        explore(network["C"], out / PAGES[1], title="a 2-2-1 sigmoid network: C = (a3 - y)^2"),
    ]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_output_arguments(parser, training=False)


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        if shutil.which("dot") is None:
            raise DemoError(f"the pages are laid out by Graphviz's `dot`, which is not installed; {INSTALL_DOT}")
        out = output_dir(Path(args.out))
        try:
            written = write_pages(out)
        except (RuntimeError, OSError) as error:
            raise DemoError(str(error)) from None
        for path in written:
            print(f"wrote {path}")
        print("open them in a browser: arrows step forward and backward, click a node for its chain-rule sum, "
              "'quiz' hides the grads")
        return 0

    return run_safely("explore", body)


if __name__ == "__main__":  # pragma: no cover - `valuegrad demo explore` is the entry point
    sys.exit(run(argparse.Namespace(out="demos/out")))
