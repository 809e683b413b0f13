"""The `valuegrad` command itself: --version, one-line usage errors for every bad option value, bare `demo`."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

import autograd
import nn
import valuegrad.__main__ as cli
from valuegrad import options

ROOT = Path(__file__).resolve().parents[2]

# The bad values every option is tried with: zero, negative, not a number, empty, huge, nan, inf.
BAD_VALUES = ("0", "-1", "x", "", "9" * 400, "nan", "inf")
# (command, option, value) that are legitimately valid among BAD_VALUES: a seed may be 0, and a
# directory or file may be called 0, -1, x, nan or inf.  Anything else accepted is a bug.
NAMES = ("0", "-1", "x", "nan", "inf")
EXPECTED_VALID = (
    {(command, "--seed", "0") for command in ("demo", "demo moons", "demo regression", "demo spiral", "demo digits",
                                              "demo mnist")}
    | {(command, "--out", name) for command in ("demo", *(f"demo {d}" for d in cli.DEMOS)) for name in NAMES}
    | {("demo mnist", "--data", name) for name in NAMES}
    | {("bench", "--json", name) for name in NAMES}
    | {("check", "--seed", "0")}
    | {("check", "--json", name) for name in NAMES}
    | {("graph", option, name) for option in ("-o", "--output", "--animate") for name in NAMES}
    | {("explore", option, name) for option in ("-o", "--output") for name in NAMES}
    | {("explore", "--title", value) for value in BAD_VALUES}  # a title may be any text
)
# What follows an option when the subcommand needs more: graph and explore need an expression and its
# variables, check a target.
TRAILING = {"graph": ["x", "--x", "1"], "explore": ["x", "--x", "1"], "check": ["micrograd.engine:Value"]}


def subcommands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    """(command words, parser) for every subcommand at any depth, the bare `demo` included."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, subparser in action.choices.items():
                yield (*prefix, name), subparser
                yield from subcommands(subparser, (*prefix, name))


def options_taking_values(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if action.option_strings and action.nargs != 0 and not isinstance(action, argparse._SubParsersAction):
            for option in action.option_strings:
                yield option, action


def accepts(action: argparse.Action, value: str) -> bool:
    """Whether argparse's own checks (type, then choices) let ``value`` through."""
    try:
        converted = action.type(value) if callable(action.type) else value
    except (argparse.ArgumentTypeError, TypeError, ValueError):
        return False
    return action.choices is None or converted in action.choices


CASES = [
    (" ".join(words), option, value, action)
    for words, parser in subcommands(cli.build_parser())
    for option, action in options_taking_values(parser)
    for value in BAD_VALUES
]


def test_cli_fuzz_covers_every_subcommand_and_option():
    covered = {(command, option) for command, option, _, _ in CASES}
    for command in ("demo", "demo moons", "demo backprop", "demo regression", "demo spiral", "demo modes"):
        assert (command, "--out") in covered
    for option in ("--epochs", "--batch-size", "--lr", "--samples", "--seed"):
        assert ("demo moons", option) in covered
    assert {("graph", "--format"), ("graph", "--rankdir"), ("bench", "--repeats"), ("bench", "--sections")} <= covered
    assert len(CASES) == len(BAD_VALUES) * len(covered)


def test_cli_fuzz_only_the_listed_values_are_valid():
    """A new option that lets 0, -1, '', nan, inf or a huge value through fails here until it is justified."""
    valid = {(command, option, value) for command, option, value, action in CASES if accepts(action, value)}
    assert valid == EXPECTED_VALID


# (command, option) -> the bad values it must refuse; one in-process test per option tries them all.
REFUSED: dict[tuple[str, str], list[str]] = {}
for _command, _option, _value, _ in CASES:
    if (_command, _option, _value) not in EXPECTED_VALID:
        REFUSED.setdefault((_command, _option), []).append(_value)


@pytest.mark.parametrize(("command", "option"), sorted(REFUSED), ids=[f"{c}-{o}" for c, o in sorted(REFUSED)])
def test_cli_fuzz_bad_values_are_one_line_usage_errors(command, option, capsys, tmp_path, monkeypatch):
    """Every refused value of the option: exit 2 with one line `valuegrad CMD: error: argument ...`, no traceback."""
    monkeypatch.chdir(tmp_path)  # should anything get through, it writes here
    failures = []
    for value in REFUSED[(command, option)]:
        try:
            status = cli.main([*command.split(), option, value, *TRAILING.get(command, [])])
        except SystemExit as exited:
            status = exited.code
        err = capsys.readouterr().err
        if (status != 2 or not err.startswith(f"valuegrad {command}: error: argument ")
                or err.count("\n") != 1 or "Traceback" in err):
            failures.append(f"{option} {value[:12]!r}: exit {status}, stderr {err!r:.300}")
    assert not failures, "\n".join(failures)


def test_cli_fuzz_tries_every_refused_case():
    assert sum(map(len, REFUSED.values())) == len(CASES) - len(EXPECTED_VALID) > 200


@pytest.mark.slow  # a subprocess
def test_cli_usage_error_in_a_subprocess_is_one_line_without_traceback():
    result = subprocess.run(
        [sys.executable, "-m", "valuegrad", "demo", "moons", "--samples", "1"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert result.returncode == 2
    assert result.stderr == (
        "valuegrad demo moons: error: argument --samples: expected an integer from 8 to 10000, got 1 "
        "(see `valuegrad demo moons --help`)\n"
    )
    assert result.stdout == ""


def test_cli_version_is_the_one_package_version(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"valuegrad {autograd.__version__}\n"
    assert nn.__version__ == autograd.__version__


def test_cli_version_matches_the_installed_distribution():
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version("valuegrad")
    except PackageNotFoundError:
        pytest.skip("valuegrad is not installed (pip install -e .), so there is no distribution version to compare")
    assert installed == autograd.__version__


def test_cli_bare_demo_hands_shared_options_to_the_demos_that_take_them(monkeypatch, tmp_path):
    calls: list[list[str]] = []
    monkeypatch.setattr(cli, "main", lambda argv: calls.append(list(argv)) or 0)
    parser = cli.build_parser()
    args = parser.parse_args(["demo", "--out", str(tmp_path), "--seed", "3", "--no-progress"])
    assert cli._run_default_demos(parser, args) == 0
    assert calls == [
        ["demo", "moons", "--out", str(tmp_path), "--seed", "3", "--no-progress"],
        ["demo", "backprop", "--out", str(tmp_path)],  # no randomness, no progress bar
    ]


def test_cli_bare_demo_reports_the_worst_status(monkeypatch):
    monkeypatch.setattr(cli, "main", lambda argv: 1 if "backprop" in argv else 0)
    parser = cli.build_parser()
    assert cli._run_default_demos(parser, parser.parse_args(["demo"])) == 1


@pytest.mark.slow  # runs the backprop demo
def test_cli_shared_options_before_a_demo_name_reach_that_demo(tmp_path, capsys):
    out = tmp_path / "backprop"  # also the demo's name: the value must not be taken for it
    assert cli.main(["demo", "--out", str(out), "backprop", "--lr", "1.0"]) == 0
    assert "w <- w - 1.0 * dC/dw" in capsys.readouterr().out
    assert out.is_dir()


def test_cli_graph_of_a_constant_explains_itself(tmp_path, capsys):
    assert cli.main(["graph", "1/0", "-o", str(tmp_path / "c.gv")]) == 0
    captured = capsys.readouterr()
    assert "'1/0' has no variables" in captured.err and "--NAME VALUE" in captured.err
    assert "1/0 = inf" in captured.out


def test_cli_graph_with_variables_has_no_note(tmp_path, capsys):
    assert cli.main(["graph", "x / y", "--x", "1", "--y", "0", "-o", str(tmp_path / "g.gv")]) == 0
    assert "note" not in capsys.readouterr().err


def test_cli_without_command_prints_help_and_exits_2(capsys):
    assert cli.main([]) == 2
    assert "usage: valuegrad" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("parse", "text", "expected"),
    [
        (options.integer(1, 5), " 3 ", 3),
        (options.number(10.0), "1e-3", 1e-3),
        (options.letters("abc"), "ca", "ca"),
        (options.path, "out/pics", Path("out/pics")),
    ],
)
def test_option_types_accept_good_values(parse, text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (options.integer(1, 5), "6", "expected an integer from 1 to 5, got 6"),
        (options.integer(1, 5), "1.5", "expected an integer from 1 to 5, got '1.5'"),
        (options.number(10.0), "0", "expected a finite number in (0, 10], got 0"),
        (options.number(10.0), "-inf", "expected a finite number in (0, 10], got -inf"),
        (options.letters("abc"), "abz", "expected letters from 'abc', got 'abz'"),
        (options.path, "  ", "expected a path, got an empty string"),
        (options.path, "d/" + "n" * 256, "a path component is longer than 255 bytes"),
    ],
)
def test_option_types_reject_bad_values_with_the_bounds(parse, text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(text)


# -- the two common slips: the message says what to do (issue 24.5) ------------------------------

def _demos_taking(option: str) -> str:
    """The demos whose own parser has ``option``, in the order `valuegrad demo --help` lists them."""
    parsers = dict(subcommands(cli.build_parser()))
    return ", ".join(name for name in cli.DEMOS if option in parsers[("demo", name)]._option_string_actions)


def test_demos_taking_lists_the_training_demos():
    assert {"moons", "regression", "spiral", "digits"} <= set(_demos_taking("--epochs").split(", "))
    assert "backprop" in _demos_taking("--lr").split(", ") and "backprop" not in _demos_taking("--epochs")


@pytest.mark.parametrize(("argv", "expected"), [
    (["graph", "-x*y", "--x", "1", "--y", "2"],
     "valuegrad graph: error: unrecognized arguments: -x*y --x; an expression that starts with '-' reads as an "
     "option: put -- before it (valuegrad graph -- \"-x*y\" --x 1 ...) or start it with a space (\" -x*y\") "
     "(see `valuegrad graph --help`)\n"),
    (["demo", "--epochs", "5"],
     f"valuegrad demo: error: --epochs is an option of the demos {_demos_taking('--epochs')}, not of "
     "`valuegrad demo` itself: put it after the demo's name, e.g. `valuegrad demo moons --epochs 5`; before a name "
     "only --out, --seed, --no-progress are taken (by the default demos) (see `valuegrad demo --help`)\n"),
    (["demo", "--seed", "1", "--lr=0.5", "backprop"],
     f"valuegrad demo: error: --lr is an option of the demos {_demos_taking('--lr')}, not of "
     "`valuegrad demo` itself: put it after the demo's name, e.g. `valuegrad demo backprop --lr=0.5`; before a "
     "name only --out, --seed, --no-progress are taken (by the default demos) (see `valuegrad demo --help`)\n"),
    (["bench", "--bogus"], "valuegrad bench: error: unrecognized arguments: --bogus (see `valuegrad bench --help`)\n"),
])
def test_cli_common_slips_say_what_to_do(argv, expected, capsys):
    """Were: "valuegrad: error: unrecognized arguments: -x*y --x" and "argument DEMO: invalid choice: '5'"."""
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 2
    assert capsys.readouterr().err == expected


@pytest.mark.parametrize("words", [["--", "-x*y"], [" -x*y"], ["(-x)*y"]], ids=["double-dash", "space", "parens"])
def test_cli_graph_workarounds_the_message_suggests_work(words, tmp_path, capsys):
    assert cli.main(["graph", "-o", str(tmp_path / "g.gv"), *words, "--x", "1", "--y", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1:] == [f"{words[-1].strip()} = -2.0", "  d/dx = -2.0", "  d/dy = -1.0"]
