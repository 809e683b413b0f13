"""The `valuegrad` command line: `valuegrad demo|graph|explore|check|bench ...`.

Each subcommand lives in its own module exposing ``add_arguments(parser)`` and
``run(args) -> int``; this file only wires them together.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from autograd import __version__
from valuegrad import options
from valuegrad.demos._shared import DEFAULT_OUT, seed_type

# name -> (module, one-line help)
COMMANDS = {
    "graph": ("valuegrad.graph", "draw the computation graph of an expression as an image"),
    "explore": ("valuegrad.explore", "an expression's graph as a web page: step forward and backward, click, quiz"),
    "bench": ("valuegrad.bench", "benchmark valuegrad side by side with micrograd and plain floats"),
    "check": ("valuegrad.check", "grade your own micrograd-style Value class against the engine, op by op"),
}
DEMOS = {
    "moons": ("valuegrad.demos.moons", "train an MLP on two moons; decision boundary, curves, graph"),
    "backprop": ("valuegrad.demos.backprop", "a 2-2-1 sigmoid network's gradients by hand vs the engine"),
    "regression": ("valuegrad.demos.regression", "fit a 1-D function with MSE"),
    "spiral": ("valuegrad.demos.spiral", "three-class spiral with softmax + cross-entropy"),
    "modes": ("valuegrad.demos.modes", "reverse vs forward mode vs finite differences: cost as n grows"),
    "digits": ("valuegrad.demos.digits", "8x8 handwritten digits (scikit-learn), trained batched with numpy"),
    "mnist": ("valuegrad.demos.mnist", "MNIST from its four IDX files (--data DIR): MLP(784, [128, 10]) batched"),
    "matrix": ("valuegrad.demos.matrix", "backpropagation as matrices (W, a, z, delta, dW) beside the scalar graph"),
    "explore": ("valuegrad.demos.explore", "explorer pages for the neuron and the 2-2-1 network of the backprop demo"),
}
DEFAULT_DEMOS = ("moons", "backprop")  # what `valuegrad demo` (and `make demo`) runs


# The options every default demo can take, given to `valuegrad demo` without a name: each is
# handed to the demos that have it (backprop has no randomness and no progress bar).
SHARED_DEMO_OPTIONS = ("--out", "--seed", "--no-progress")


def _add(subparsers: argparse._SubParsersAction, name: str, module_name: str, help_text: str) -> None:
    module = importlib.import_module(module_name)
    parser = subparsers.add_parser(name, help=help_text, description=help_text)
    module.add_arguments(parser)
    parser.set_defaults(_run=module.run, _parser=parser)


def _add_shared_demo_options(demo: argparse.ArgumentParser) -> None:
    # Their own dests, default None: a demo's subparser sets its own defaults for --out and --seed,
    # which would otherwise hide what was given before the demo's name.
    demo.add_argument("--out", dest="shared_out", type=options.path, metavar="DIR",
                      help=f"directory for the pictures (default: {DEFAULT_OUT})")
    demo.add_argument("--seed", dest="shared_seed", type=seed_type, metavar="S",
                      help="seed of the training demos (default: 0)")
    demo.add_argument("--no-progress", dest="shared_no_progress", action="store_true",
                      help="no progress bar in the training demos")


def build_parser() -> argparse.ArgumentParser:
    parser = options.Parser(
        prog="valuegrad", description="valuegrad: scalar autograd, neural nets and computation graphs in pictures"
    )
    parser.add_argument("--version", action="version", version=f"valuegrad {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="run a demo (default: moons and backprop)",
        description="run a demo; without a name, run " + " and ".join(DEFAULT_DEMOS) + " with the options below",
    )
    _add_shared_demo_options(demo)
    demos = demo.add_subparsers(dest="demo", metavar="DEMO")
    for name, (module_name, help_text) in DEMOS.items():
        _add(demos, name, module_name, help_text)
    demo.set_defaults(_parser=demo)
    for name, (module_name, help_text) in COMMANDS.items():
        _add(commands, name, module_name, help_text)
    return parser


def _shared_demo_argv(args: argparse.Namespace) -> list[str]:
    """The shared demo options given before a demo name, back as command-line words."""
    argv = []
    if args.shared_out is not None:
        argv += ["--out", str(args.shared_out)]
    if args.shared_seed is not None:
        argv += ["--seed", str(args.shared_seed)]
    if args.shared_no_progress:
        argv.append("--no-progress")
    return argv


def _run_default_demos(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    shared = _shared_demo_argv(args)
    statuses = []
    for name in DEFAULT_DEMOS:
        demo_parser = parser.parse_args(["demo", name])._parser
        accepted = [word for option, *value in _pairs(shared) if option in demo_parser._option_string_actions
                    for word in (option, *value)]
        statuses.append(main(["demo", name, *accepted]))
    return max(statuses)  # every default demo runs even if one fails; the worst status counts


def _pairs(argv: list[str]) -> list[list[str]]:
    """["--out", "d", "--no-progress"] -> [["--out", "d"], ["--no-progress"]]."""
    pairs: list[list[str]] = []
    for word in argv:
        if word.startswith("--"):
            pairs.append([word])
        else:
            pairs[-1].append(word)
    return pairs


def _explain_constant_graph(args: argparse.Namespace) -> None:
    """`valuegrad graph 1/0`: say why the picture is a single box instead of leaving the user to wonder."""
    from valuegrad.graph import ExpressionError, parse_expression, variable_names

    try:
        constant = not variable_names(parse_expression(args.expression))
    except ExpressionError:
        return  # the subcommand reports a bad expression itself
    if constant:
        print(
            f"valuegrad {args.command}: note: {args.expression.strip()!r} has no variables, so Python evaluates it "
            "to one number and the graph is that single constant node (no ops); give variables as --NAME VALUE, e.g. "
            "valuegrad graph \"x / y\" --x 1 --y 0",
            file=sys.stderr,
        )


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[name]  # type: ignore[no-any-return]


def _demo_option_before_name(parser: argparse.ArgumentParser, words: list[str]) -> str | None:
    """`valuegrad demo --epochs 5`: what to say when a demo's own option comes before the demo's name.

    argparse would take the option's value for the name ("invalid choice: '5'").
    """
    if not words or words[0] != "demo":
        return None
    demo_parser = _subparser(parser, "demo")
    name = next((word for word in words[1:] if word in DEMOS), None)
    position = 1
    while position < len(words) and words[position] != name:
        word, has_value, _ = words[position].partition("=")
        if word in ("--out", "--seed") and not has_value:
            position += 2  # a shared option and its value
            continue
        taking = [demo for demo in DEMOS if word in _subparser(demo_parser, demo)._option_string_actions]
        if word.startswith("-") and word not in demo_parser._option_string_actions and taking:
            given = words[position:position + (1 if has_value or position + 1 == len(words) else 2)]
            example = " ".join([name if name in taking else taking[0], *given])
            return (f"{word} is an option of the demos {', '.join(taking)}, not of `valuegrad demo` itself: "
                    f"put it after the demo's name, e.g. `valuegrad demo {example}`; before a name only "
                    f"{', '.join(SHARED_DEMO_OPTIONS)} are taken (by the default demos)")
        position += 1
    return None


def _expression_hint(args: argparse.Namespace, unknown: list[str]) -> str:
    """`valuegrad graph "-x*y" ...`: argparse reads an expression starting with '-' as an option."""
    if not hasattr(args, "expression"):
        return ""
    dashed = next((word for word in unknown if word.startswith("-") and not word.startswith("--")), None)
    if dashed is None:
        return ""
    return (f"; an expression that starts with '-' reads as an option: put -- before it "
            f"(valuegrad {args.command} -- \"{dashed}\" --x 1 ...) or start it with a space (\" {dashed}\")")


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """``parser.parse_args(argv)``, with usage errors that say what to do for the two common slips."""
    words = list(sys.argv[1:] if argv is None else argv)
    misplaced = _demo_option_before_name(parser, words)
    if misplaced is not None:
        _subparser(parser, "demo").error(misplaced)
    args, unknown = parser.parse_known_args(words)
    if unknown:
        getattr(args, "_parser", parser).error(
            f"unrecognized arguments: {' '.join(unknown)}{_expression_hint(args, unknown)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = _parse(parser, argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "demo":
        if args.demo is None:
            return _run_default_demos(parser, args)
        shared = _shared_demo_argv(args)
        if shared:  # `valuegrad demo --out DIR moons`: the same as `valuegrad demo moons --out DIR`
            return main(["demo", args.demo, *shared, *_after_demo_name(argv, args.demo)])
    if args.command in ("graph", "explore"):
        _explain_constant_graph(args)
    return args._run(args)


def _after_demo_name(argv: Sequence[str] | None, name: str) -> list[str]:
    """The words after the demo's name (skipping a shared option's value that happens to equal it)."""
    words = list(sys.argv[1:] if argv is None else argv)
    position = words.index("demo") + 1
    while words[position] != name or words[position - 1] in ("--out", "--seed"):
        position += 1
    return words[position + 1:]


if __name__ == "__main__":
    sys.exit(main())
