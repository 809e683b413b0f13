"""`valuegrad explore`: an expression's graph as an explorer page (step forward and backward, click, quiz)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from valuegrad import graph

EPILOG = """\
variables: give each variable after the expression as --NAME VALUE (or --NAME=VALUE), as for
  `valuegrad graph`; every variable the expression uses needs one.

examples:
  valuegrad explore "tanh(x1*w1 + x2*w2 + b)" --x1 2 --w1 -3 --x2 0 --w2 1 --b 6.88 -o neuron.html
  valuegrad explore "x*y + x" --x 2 --y -3 -o page.html --title "a shared input"
"""


def _add_page_options(parser: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument("-o", "--output", type=graph._path_text, default=default("explore.html"),
                        help="the page to write (default explore.html); .html is added without an extension")
    parser.add_argument("--title", default=default(None), help="the page's title (default: explore OUTPUT'S LABEL)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    graph.add_expression_arguments(parser, EPILOG, _add_page_options)
    parser.set_defaults(_explore_parser=parser)


def _page_path(path: str) -> str:
    if path.endswith(("/", os.sep)) or os.path.isdir(path):
        path = os.path.join(path, "explore.html")
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        raise graph.UsageError(f"-o {path!r}: directory {directory!r} does not exist")
    extension = os.path.splitext(path)[1].lower()
    if extension not in ("", ".html", ".htm"):
        raise graph.UsageError(f"-o {path!r}: the page is HTML, so the file must end in .html")
    return path


def run(args: argparse.Namespace) -> int:
    from autograd.explore import explore

    parser = getattr(args, "_explore_parser", None)
    if parser is None:
        parser = argparse.ArgumentParser(prog="valuegrad explore")
        add_arguments(parser)
    if graph.help_asked_after_expression(args):
        parser.print_help()
        return 0
    try:
        merged, tree, values = graph.read_expression_command(
            args, lambda late: _add_page_options(late, suppress=True))
        path = _page_path(merged.output)
    except (argparse.ArgumentError, graph.UsageError, graph.ExpressionError) as exc:
        return graph.usage_error(parser, str(exc))
    root, leaves = graph.build_graph(tree, values)
    try:
        written = explore(root, path, title=merged.title)
    except (RuntimeError, OSError, ValueError) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {written}")
    print(f"{merged.expression.strip()} = {root.data!r}")
    for name, leaf in leaves.items():
        print(f"  d/d{name} = {leaf.grad!r}")
    return 0
