"""`valuegrad graph`: the safe expression evaluator, variables as options, pictures, and refused input."""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autograd import Value, gradcheck, ops
from valuegrad import graph
from valuegrad.__main__ import _add
from valuegrad.graph import ExpressionError, evaluate_expression, parse_expression, variable_names

HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="the Graphviz `dot` program is not installed")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
REPO = Path(__file__).resolve().parents[2]


def cli(argv: list[str]) -> int:
    """Run `valuegrad graph ...` in-process, wired exactly as valuegrad/__main__.py wires it."""
    parser = argparse.ArgumentParser(prog="valuegrad")
    commands = parser.add_subparsers(dest="command")
    _add(commands, "graph", "valuegrad.graph", "draw the computation graph of an expression")
    args = parser.parse_args(["graph", *argv])
    return args._run(args)


# -- the evaluator ----------------------------------------------------------------------------

def test_evaluate_expression_floats_exact():
    assert evaluate_expression("tanh(x*w + b)", {"x": 0.5, "w": -1.0, "b": 0.3}) == math.tanh(0.5 * -1.0 + 0.3)
    assert evaluate_expression("2**x - -x/4", {"x": 3.0}) == 2.0**3.0 + 3.0 / 4
    source = "relu(x) + abs(y) + sqrt(z) + log(z) + exp(x) + sigmoid(0)"
    expected = 0.0 + 2.0 + 2.0 + math.log(4.0) + math.exp(-1.0) + 0.5
    assert evaluate_expression(source, {"x": -1.0, "y": -2.0, "z": 4.0}) == expected


def test_evaluate_expression_ieee_not_exceptions():
    assert evaluate_expression("x / 0", {"x": 1.0}) == math.inf
    assert math.isnan(evaluate_expression("0 / x", {"x": 0.0}))
    assert evaluate_expression("10 ** 10 ** 10", {}) == math.inf
    assert math.isnan(evaluate_expression("x ** 0.5", {"x": -1.0}))
    assert evaluate_expression("log(x)", {"x": 0.0}) == -math.inf
    assert evaluate_expression("exp(1000)", {}) == math.inf


def test_evaluate_expression_values_build_the_graph():
    x, w, b = Value(0.5, label="x"), Value(-1.0, label="w"), Value(0.3, label="b")
    out = evaluate_expression("tanh(x*w + b)", {"x": x, "w": w, "b": b})
    assert out.op == "tanh" and out.parents[0].op == "+"
    out.backward()
    sech2 = ops.sech2(-0.2)  # tanh's local derivative, computed from its input
    assert (x.grad, w.grad, b.grad) == (sech2 * -1.0, sech2 * 0.5, sech2)
    assert sech2 == pytest.approx(1.0 / math.cosh(-0.2) ** 2, rel=1e-15, abs=0.0)
    assert evaluate_expression("x**2", {"x": x}).op == "**2"  # constant exponent: its own row


def test_evaluate_expression_gradients_match_finite_differences():
    source = "sigmoid(a*b - 1.5) * log(a**2 + 1) / sqrt(b + 3) + relu(a - b) ** 3"
    tree = parse_expression(source)
    assert gradcheck(lambda a, b: evaluate_expression(tree, {"a": a, "b": b}), [0.7, -0.4])


def test_evaluate_expression_missing_variable():
    with pytest.raises(ExpressionError, match="no value given for variable\\(s\\) y"):
        evaluate_expression("x*y", {"x": 1.0})


def test_evaluate_expression_deep_nesting_is_iterative():
    assert evaluate_expression("-(" * 150 + "x" + ")" * 150, {"x": 2.0}) == 2.0
    assert evaluate_expression("-" * 1001 + "x", {"x": 2.0}) == -2.0  # deeper than the recursion limit
    chain = evaluate_expression("x" + " + x" * graph.MAX_OPERATORS, {"x": Value(1.0)})  # at the limit
    assert chain.data == graph.MAX_OPERATORS + 1.0


def test_parse_expression_refuses_more_operators_than_the_limit_before_parsing(monkeypatch):
    """Deep nesting is refused by counting, on every Python version, before ast.parse can recurse."""
    parsed = []
    real_parse = graph.ast.parse

    def recording_parse(source, *args, **kwargs):
        parsed.append(source)
        return real_parse(source, *args, **kwargs)

    monkeypatch.setattr(graph.ast, "parse", recording_parse)  # the ast module's: pytest parses too
    deep = ["x" + "+x" * 4900, "-" * 2001 + "x", "-(" * 1001 + "x" + ")" * 1001, "+".join(["x"] * 2900)]
    for source in deep:
        with pytest.raises(ExpressionError, match=r"operators and brackets; the limit is 2000 .*MAX_OPERATORS"):
            parse_expression(source)
    assert not set(parsed) & set(deep)


@pytest.mark.parametrize("error", [RecursionError("maximum recursion depth exceeded"), MemoryError()])
def test_parse_expression_reports_python_parser_giving_up_clearly(monkeypatch, error):
    """Within the limits Python's parser fails only under a very deep caller stack: one clear line then."""

    real_parse = graph.ast.parse

    def giving_up(source, *args, **kwargs):
        if source == "x+x":
            raise error
        return real_parse(source, *args, **kwargs)

    monkeypatch.setattr(graph.ast, "parse", giving_up)
    with pytest.raises(ExpressionError, match=r"cannot parse 'x\+x': nested too deeply for Python's parser"):
        parse_expression("x+x")


def test_variable_names_in_order_without_functions():
    assert variable_names(parse_expression("tanh(w*x) + b*w + x")) == ["w", "x", "b"]
    assert variable_names(parse_expression("exp(2)")) == []


# Grammar of allowed expressions for the property test below.
LEAVES = st.one_of(
    st.sampled_from(["x", "y", "z"]), st.integers(0, 5).map(str), st.sampled_from(["0.5", "2.5", "1e-3"])
)


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    operators = st.sampled_from(["+", "-", "*", "/", "**"])
    binary = st.tuples(children, operators, children).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
    unary = children.map(lambda c: f"-({c})")
    builtin = sorted(name for name in graph.FUNCTIONS if name in ops.BUILTIN_ROWS)  # not other tests' defops
    call = st.tuples(st.sampled_from(builtin), children).map(lambda t: f"{t[0]}({t[1]})")
    return st.one_of(binary, unary, call)


EXPRESSIONS = st.recursive(LEAVES, _combine, max_leaves=12)
POINTS = st.fixed_dictionaries({name: st.floats(-3, 3, allow_nan=False) for name in "xyz"})


@given(EXPRESSIONS, POINTS)
def test_evaluate_expression_floats_and_values_agree(source, point):
    """The float path and the graph path apply the same rows: identical results, NaN included."""
    as_float = evaluate_expression(source, point)
    as_value = evaluate_expression(source, {k: Value(v) for k, v in point.items()})
    as_value = as_value.data if isinstance(as_value, Value) else as_value
    assert as_float == as_value or (math.isnan(as_float) and math.isnan(as_value))


# -- refused expressions -------------------------------------------------------------------------

MALICIOUS = [
    ("__import__('os').system('touch pwned')", "attribute access"),
    ("__import__('os')", "calling '__import__'"),
    ("__import__", None),  # a bare name is only a variable: refused by the CLI as missing
    ("x.__class__", "attribute access"),
    ("tanh.__globals__", "attribute access"),
    ("(lambda: 1)()", "calling anything but a plain function name"),
    ("lambda: 0", "lambda"),
    ("[i for i in x]", "comprehensions"),
    ("sum(i for i in x)", "calling 'sum'"),
    ("x[0]", "subscripts"),
    ("'abc'", "strings"),
    ("b'abc'", "strings"),
    ("f'{x}'", "f-strings"),
    ("tanh(x=1)", "keyword arguments"),
    ("tanh(**x)", "keyword arguments"),
    ("tanh(*x)", "starred"),
    ("open('f')", "calling 'open'"),
    ("eval('1')", "calling 'eval'"),
    ("exec('1')", "calling 'exec'"),
    ("globals()", "calling 'globals'"),
    ("x if y else z", "conditional expressions"),
    ("x < y", "comparisons"),
    ("x and y", "and/or"),
    ("(x := 1)", "assignment expressions"),
    ("[x]", "lists"),
    ("(x, y)", "tuples"),
    ("{x}", "sets"),
    ("{'a': x}", "dicts"),
    ("x // y", "the operator //"),
    ("x % y", "the operator %"),
    ("x @ y", "the operator @"),
    ("x ^ y", "the operator ^"),
    ("~x", "the operator ~"),
    ("not x", "the operator not"),
    ("+x", "the operator unary +"),
    ("True", "booleans"),
    ("None", "None"),
    ("1j", "complex numbers"),
    ("...", "Ellipsis"),
    ("tanh", "tanh used as a value"),
    ("relu()", "relu() with 0 arguments"),
    ("relu(x, y)", "relu() with 2 arguments"),
    ("tanh(x)(y)", "calling anything but a plain function name"),
    ("import os", "cannot parse"),
    ("x; y", "cannot parse"),
    ("x = 1", "cannot parse"),
    ("x +", "cannot parse"),
    ("x\0", "cannot parse"),
    ("(" * 300 + "x" + ")" * 300, "cannot parse"),
]


@pytest.mark.parametrize(("source", "construct"), [m for m in MALICIOUS if m[1] is not None])
def test_parse_expression_refuses_constructs(source, construct):
    with pytest.raises(ExpressionError) as info:
        parse_expression(source)
    assert construct in str(info.value)


def test_parse_expression_refuses_huge_input_and_non_strings():
    with pytest.raises(ExpressionError, match="the limit is 10000"):
        parse_expression("x+" * 6000 + "x")
    with pytest.raises(TypeError, match="source must be a str, got bytes"):
        parse_expression(b"x")


@pytest.mark.parametrize(("source", "construct"), MALICIOUS[:12])
def test_cli_refuses_malicious_expression(tmp_path, capsys, monkeypatch, source, construct):
    monkeypatch.chdir(tmp_path)
    assert cli([source, "--x", "1", "-o", "out.gv"]) == 2
    err = capsys.readouterr().err
    assert "valuegrad graph: error:" in err and "Traceback" not in err
    assert construct is None or construct in err
    assert os.listdir(tmp_path) == []  # nothing ran, nothing was written


# -- the command ---------------------------------------------------------------------------------

def expected_tanh_neuron() -> tuple[float, float, float, float]:
    t = math.tanh(0.5 * -1.0 + 0.3)
    sech2 = ops.sech2(0.5 * -1.0 + 0.3)  # tanh's local derivative, computed from its input
    return t, sech2 * -1.0, sech2 * 0.5, sech2


def test_cli_writes_dot_source_and_prints_gradients(tmp_path, capsys):
    target = tmp_path / "g.gv"
    assert cli(["tanh(x*w + b)", "--x", "0.5", "--w", "-1", "--b", "0.3", "-o", str(target)]) == 0
    out = capsys.readouterr().out.splitlines()
    t, dx, dw, db = expected_tanh_neuron()
    assert out == [
        f"wrote {target}", f"tanh(x*w + b) = {t!r}", f"  d/dx = {dx!r}", f"  d/dw = {dw!r}", f"  d/db = {db!r}"
    ]
    source = target.read_text()
    assert source.startswith("digraph") and '"{ x | data 0.5 | grad -0.961 }"' in source and "tanh" in source
    assert '"{ out | data -0.1974 | grad 1 }"' in source


@needs_dot
def test_cli_writes_png_from_the_brief_example(tmp_path, capsys):
    target = tmp_path / "graph.png"
    assert cli(["tanh(x*w + b)", "--x", "0.5", "--w", "-1", "--b", "0.3", "-o", str(target)]) == 0
    assert target.read_bytes().startswith(PNG_MAGIC)
    assert f"wrote {target}" in capsys.readouterr().out


@needs_dot
@pytest.mark.parametrize(("argv", "name", "magic"), [
    (["-o", "{d}/a.svg"], "a.svg", b"<?xml"),
    (["-o", "{d}/a.pdf"], "a.pdf", b"%PDF"),
    (["-o", "{d}/a", "--format", "svg"], "a.svg", b"<?xml"),
    (["-o", "{d}/a"], "a.png", PNG_MAGIC),
    (["-o", "{d}/a.png", "--format", "pdf"], "a.png.pdf", b"%PDF"),
])
def test_cli_format_from_extension_or_option(tmp_path, capsys, argv, name, magic):
    argv = [a.replace("{d}", str(tmp_path)) for a in argv]
    assert cli(["x*x", "--x", "3", *argv]) == 0
    assert (tmp_path / name).read_bytes().startswith(magic)
    assert capsys.readouterr().out.splitlines()[-1] == "  d/dx = 6.0"


def test_cli_options_before_or_after_expression_and_value_forms(tmp_path, capsys):
    before = tmp_path / "before.gv"
    assert cli(["-o", str(before), "--rankdir", "TB", "x*y + z", "--x=-1e-3", "--y", "-.5", "--z", "-inf"]) == 0
    out = capsys.readouterr().out
    assert "x*y + z = -inf" in out and "  d/dx = -0.5" in out and "  d/dy = -0.001" in out
    assert "rankdir=TB" in before.read_text()
    after = tmp_path / "after.gv"
    assert cli(["x*y", "--x", "2", "--y", "3", "--no-local-grads", "-o", str(after), "--rankdir", "BT"]) == 0
    text = after.read_text()
    edge_lines = [line for line in text.splitlines() if "->" in line and "invis" not in line]
    assert "rankdir=BT" in text and len(edge_lines) == 3
    assert not any("label=" in line for line in edge_lines)  # no local derivative labels
    with_labels = tmp_path / "labels.gv"
    assert cli(["x*y", "--x", "2", "--y", "3", "-o", str(with_labels)]) == 0
    labelled = [line for line in with_labels.read_text().splitlines() if "->" in line and "label=" in line]
    assert sorted(line.split("label=")[1] for line in labelled) == ['"2"]', '"3"]']


@pytest.mark.parametrize(("argv", "message"), [
    (["x*y", "--x", "1"], "no value for variable(s) y: add --y VALUE"),
    (["x*y", "--x", "1", "--y", "2", "--z", "3"], "variable(s) z given but not used"),
    (["x*y", "--x", "1", "--y"], "variable --y needs a value"),
    (["x*y", "--x", "1", "--y", "abc"], "variable --y: 'abc' is not a number"),
    (["x*y", "--x", "1", "--y", "--z"], "variable --y: '--z' is not a number"),
    (["x*x", "--x", "1", "--x", "2"], "variable --x is given twice"),
    (["x", "--x", "1", "stray"], "unexpected argument 'stray'"),
    (["x", "--x", "1", "-q"], "unexpected argument '-q'"),
    (["x", "--1x", "1"], "--1x: a variable name must be a Python identifier"),
    (["x", "--x", "1", "-o", "a.jpg"], "cannot tell the format from 'a.jpg'"),
    (["x", "--x", "1", "--format", "gif"], "argument --format: invalid choice: 'gif'"),
    (["x", "--x", "1", "-o"], "argument -o/--output: expected one argument"),
    (["x.y", "--x", "1"], "not allowed in an expression (column 1): attribute access"),
])
def test_cli_usage_errors_exit_2_without_traceback(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    assert cli(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"valuegrad graph: error: {message}")
    assert err.endswith(" (see `valuegrad graph --help`)\n") and err.count("\n") == 1  # one line, no usage block
    assert "Traceback" not in err
    assert os.listdir(tmp_path) == []


def test_cli_help_after_expression(capsys):
    assert cli(["x*y", "--x", "1", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: valuegrad graph") and "--NAME VALUE" in out and "examples:" in out


@pytest.mark.slow  # two subprocesses
def test_cli_entry_point_end_to_end(tmp_path):
    """`python -m valuegrad graph` through the real valuegrad/__main__.py, in a fresh process."""
    target = tmp_path / "e2e.gv"
    argv = [sys.executable, "-m", "valuegrad", "graph", "x*y + 1", "--x", "2", "--y", "-3", "-o", str(target)]
    ok = subprocess.run(argv, capture_output=True, text=True, cwd=REPO)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines() == [f"wrote {target}", "x*y + 1 = -5.0", "  d/dx = -3.0", "  d/dy = 2.0"]
    assert target.read_text().startswith("digraph")
    bad = subprocess.run([sys.executable, "-m", "valuegrad", "graph", "__import__('os').getcwd()"],
                         capture_output=True, text=True, cwd=REPO)
    assert bad.returncode == 2 and "attribute access" in bad.stderr and "Traceback" not in bad.stderr


def test_cli_missing_expression_is_argparse_error(capsys):
    with pytest.raises(SystemExit) as info:
        cli([])
    assert info.value.code == 2
    assert "the following arguments are required: expression" in capsys.readouterr().err


def test_cli_without_dot_says_how_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert cli(["x*2", "--x", "1", "-o", str(tmp_path / "g.png")]) == 1
    err = capsys.readouterr().err
    assert "`dot` program is not installed" in err and "apt-get install graphviz" in err
    assert "Traceback" not in err
    assert not (tmp_path / "g.png").exists()
    # the DOT source needs no binary
    assert cli(["x*2", "--x", "1", "-o", str(tmp_path / "g.gv")]) == 0


def test_cli_constant_expression_has_no_variables(tmp_path, capsys):
    assert cli(["2 * 3", "-o", str(tmp_path / "c.gv")]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "2 * 3 = 6.0"


# -- functions from the rule table -----------------------------------------------------------------

def test_functions_are_the_rule_tables_named_functions(tmp_path, capsys):
    from autograd import ops

    assert dict(graph.FUNCTIONS) == {n: f for n, f in ops.FUNCTIONS.items() if n not in ("sum", "dot", "logsumexp")}
    assert evaluate_expression("softplus(x)", {"x": 1.0}) == ops.softplus(1.0)
    assert cli(["softplus(x)", "--x", "1", "-o", str(tmp_path / "s.gv")]) == 0
    assert capsys.readouterr().out.splitlines()[2] == f"  d/dx = {ops.sigmoid(1.0)!r}"


def test_functions_registered_later_are_callable(monkeypatch):
    """An op added to the table after import (as defop does) is allowed and called at once."""
    from autograd import ops

    monkeypatch.setitem(ops.FUNCTIONS, "double", lambda x: 2 * x)
    assert "double" in graph.allowed()
    assert evaluate_expression("double(x) + 1", {"x": 3.0}) == 7.0
    monkeypatch.delitem(ops.FUNCTIONS, "double")
    with pytest.raises(ExpressionError, match="calling 'double' \\(not a known function\\)"):
        parse_expression("double(x)")


# -- long flat chains -----------------------------------------------------------------------------

def test_cli_refuses_a_sum_longer_than_the_operator_limit_clearly(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli(["+".join(["x"] * 2900), "--x", "1", "-o", "sum.gv"]) == 2
    err = capsys.readouterr().err
    assert "expression has 2899 operators and brackets; the limit is 2000" in err and "Traceback" not in err
    assert not (tmp_path / "sum.gv").exists()


@needs_dot
@pytest.mark.slow
@pytest.mark.parametrize("terms", [300, 2000])
def test_cli_flat_sums_finish_or_fail_clearly(tmp_path, terms):
    """A flat sum makes one Value feed hundreds of ops: drawn per use, bounded by max_nodes and a dot timeout."""
    target = tmp_path / "sum.png"
    done = subprocess.run([sys.executable, "-m", "valuegrad", "graph", "+".join(["x"] * terms), "--x", "1",
                           "-o", str(target)], capture_output=True, text=True, cwd=REPO, timeout=120)
    if done.returncode == 0:
        assert target.read_bytes().startswith(PNG_MAGIC)
        assert f"= {float(terms)!r}" in done.stdout
    else:  # a loaded machine may hit the layout timeout: then one clear line, no traceback
        assert done.returncode == 1 and "did not finish laying out the graph within" in done.stderr
        assert "Traceback" not in done.stderr and not target.exists()


def test_to_dot_hub_value_is_drawn_once_per_use():
    from autograd.render import HUB_FAN_OUT, to_dot

    x = Value(1.0, label="x")
    total = x
    for _ in range(HUB_FAN_OUT + 5):
        total = total + x
    source = to_dot(total).source
    copies = [line for line in source.splitlines() if '"{ x | data 1' in line]
    assert len(copies) == HUB_FAN_OUT + 6 and all("dashed" in line for line in copies)
    small = to_dot(x + x + x).source
    assert len([line for line in small.splitlines() if '"{ x | data 1' in line]) == 1


# -- where files go -----------------------------------------------------------------------------

def test_cli_output_directory_gets_graph_inside_not_a_hidden_file(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    assert cli(["x*2", "--x", "1", "-o", str(out) + os.sep, "--format", "dot"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["graph.gv"]
    assert cli(["x*2", "--x", "1", "-o", str(out), "--format", "dot"]) == 0  # an existing directory, no slash
    assert sorted(p.name for p in out.iterdir()) == ["graph.gv"]
    assert cli(["x*2", "--x", "1", "-o", str(tmp_path / "missing" / "g.gv")]) == 2
    assert "directory" in capsys.readouterr().err and not (tmp_path / "missing").exists()


def test_cli_output_symlink_keeps_the_link(tmp_path):
    real = tmp_path / "real.gv"
    real.write_text("old")
    link = tmp_path / "link.gv"
    link.symlink_to(real)
    assert cli(["x*2", "--x", "1", "-o", str(link)]) == 0
    assert link.is_symlink() and real.read_text().startswith("digraph")


@needs_dot
@pytest.mark.slow
def test_cli_animate_writes_gif_and_html(tmp_path, capsys):
    pytest.importorskip("PIL", reason="Pillow (the demo extra) is not installed")
    assert cli(["tanh(x*w + b)", "--x", "1", "--w", "2", "--b", "0.5", "--animate", str(tmp_path / "bp.gif")]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"wrote {tmp_path / 'bp.gif'}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bp.gif"]  # only the animation was asked for
    assert (tmp_path / "bp.gif").read_bytes()[:6] == b"GIF89a"
    assert cli(["x*w", "--x", "1", "--w", "2", "-o", str(tmp_path / "g.svg"), "--animate",
                str(tmp_path / "bp.html")]) == 0
    assert "<button" in (tmp_path / "bp.html").read_text() and (tmp_path / "g.svg").exists()
    assert cli(["x*w", "--x", "1", "--w", "2", "--animate", str(tmp_path / "bp.mp4")]) == 2
    assert "must end in .gif or .html" in capsys.readouterr().err


@needs_dot
@pytest.mark.slow
def test_write_graph_pictures(tmp_path):
    from valuegrad import pictures

    written = pictures.write_graph_pictures(str(tmp_path))
    assert written == [str(tmp_path / "neuron.png"), str(tmp_path / "mlp.png")]
    for path in written:
        assert Path(path).read_bytes().startswith(PNG_MAGIC)


def test_cli_animate_into_a_directory_names_no_internal_function(tmp_path, capsys, monkeypatch):
    """Issue 22: `--animate .` said "invalid _path_text value: '.'"; a directory now gets graph.gif inside it."""
    pytest.importorskip("PIL", reason="Pillow (the demo extra) writes the GIF")
    if shutil.which("neato") is None:
        pytest.skip("Graphviz (`dot` and `neato`) is not installed")
    monkeypatch.chdir(tmp_path)
    assert cli(["x*2", "--x", "1", "--animate", "."]) == 0
    assert (tmp_path / "graph.gif").exists() and "_path_text" not in capsys.readouterr().err
    assert cli(["x*2", "--x", "1", "--animate", "9" * 300]) == 2
    err = capsys.readouterr().err
    assert "_path_text" not in err and "a path component is longer than 255 bytes" in err and err.count("\n") == 1


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="os.mkfifo is POSIX only")
def test_cli_output_into_a_fifo_through_a_symlink_keeps_the_fifo(tmp_path):
    """Issue 22.1 through `valuegrad graph -o`: the DOT source goes through the pipe; the pipe stays a pipe."""
    import stat
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "g.gv"
    link.symlink_to(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()
    assert cli(["x*2", "--x", "1", "-o", str(link)]) == 0
    reader.join(10)
    assert received and received[0].startswith("digraph") and stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.gv", "pipe"]
