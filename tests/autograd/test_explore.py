"""autograd.explore without a browser: the page's text, its data (the engine's numbers), escaping, refusals, the CLI."""

from __future__ import annotations

import html
import json
import re
import shutil

import pytest

import autograd
from autograd import Value, explore
from autograd.explore import MAX_VALUES, Explorer, page_data

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` (which lays out the page) is absent")

EVIL = 'q\\" URL=<javascript:alert(1)> pos=<20,20!>]//'
CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"


def neuron() -> tuple[Value, dict[str, Value]]:
    """tanh(x1*w1 + x2*w2 + b + x1): x1 feeds two ops, so its grad is a sum of two terms."""
    leaves = {name: Value(value, label=name) for name, value in
              (("x1", 2.0), ("w1", -3.0), ("x2", 0.5), ("w2", 1.0), ("b", 0.25))}
    out = (leaves["x1"] * leaves["w1"] + leaves["x2"] * leaves["w2"] + leaves["b"] + leaves["x1"]).tanh()
    out.label = "out"
    return out, leaves


def embedded_data(page: str) -> dict:
    found = re.search(r'<script type="application/json" id="graph-data">(.*?)</script>', page, re.S)
    assert found is not None
    return json.loads(found.group(1))


def number(value: float | str) -> float:
    return float({"Infinity": "inf", "-Infinity": "-inf", "NaN": "nan"}.get(value, value))  # type: ignore[arg-type]


@needs_dot
def test_explore_data_are_the_engine_numbers():
    out, leaves = neuron()
    data, _ = page_data(out, title="t")
    order = autograd.topological_order(out, include_leaves=True)
    assert [n["name"] for n in data["nodes"][:5]] == [node.label for node in order[:5]]
    assert data["forward"] == [order.index(node) for node in autograd.topological_order(out)]
    assert all(leaf.grad == 0.0 for leaf in leaves.values())  # the page does not run backward on the graph
    out.backward()
    for node, record in zip(order, data["nodes"]):
        assert number(record["grad"]) == node.grad and number(record["data"]) == node.data
        assert record["gradExact"] == repr(node.grad)
    # backward steps: reverse topological order, upstream x local per edge, running sums ending at the grad
    assert [s["node"] for s in data["backward"]] == list(reversed(data["forward"]))
    final = {}
    for step in data["backward"]:
        node = order[step["node"]]
        for send in step["sends"]:
            local = node.local_grads[send["position"]]
            assert send["contribution"] == node.grad * local
            final[send["parent"]] = number(send["running"])
    for i, node in enumerate(order):
        if i != data["root"]:
            # The same additions in the same order as backward(): equal up to the last bit's rounding.
            assert final[i] == pytest.approx(node.grad, rel=1e-12, abs=1e-300)


@needs_dot
def test_explore_shared_input_gets_a_sum_of_terms_with_running_counts():
    out, leaves = neuron()
    data, _ = page_data(out, title="t")
    order = autograd.topological_order(out, include_leaves=True)
    x1 = data["nodes"][order.index(leaves["x1"])]
    out.backward()
    assert len(x1["terms"]) == 2
    assert sum(t["contribution"] for t in x1["terms"]) == pytest.approx(leaves["x1"].grad, rel=1e-12)
    sends = [s for step in data["backward"] for s in step["sends"] if s["parent"] == order.index(leaves["x1"])]
    assert [(s["received"], s["uses"]) for s in sends] == [(1, 2), (2, 2)]
    assert number(sends[0]["running"]) == sends[0]["contribution"]


@needs_dot
def test_explore_page_is_self_contained_and_forbids_requests(tmp_path):
    out, _ = neuron()
    page = open(explore(out, tmp_path / "p")).read()
    assert (tmp_path / "p.html").exists()
    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in page
    assert '<link rel="icon" href="data:,">' in page  # else the browser asks for /favicon.ico
    without_namespaces = re.sub(r'xmlns(:xlink)?="http://www\.w3\.org/[^"]*"', "", page)
    assert "http:" not in without_namespaces and "https:" not in without_namespaces
    for fetching in (" src=", "@import", "url(", "fetch(", "XMLHttpRequest", "<iframe", "<img"):
        assert fetching not in page, fetching
    assert page.count("<svg") == 1 and "<?xml" not in page
    assert '<g id="v0" class="node">' in page  # the ids the script finds the nodes by


@needs_dot
def test_explore_escapes_labels_and_title_on_every_path(tmp_path):
    x = Value(2.0, label=EVIL)
    y = Value(3.0, label="</script><script>alert(2)</script><!--")
    z = x * y + x
    z.label = "a & b \u2028 {|} \\n"
    page = open(explore(z, tmp_path / "evil.html", title="</title><script>alert(3)</script>")).read()
    assert page.count("<script") == 2 and page.count("</script>") == 2  # the data block and the script, no more
    assert "<a " not in page and "xlink:href" not in page and "URL=" not in page.split("<svg")[1].split("<text")[0]
    assert "<title>&lt;/title&gt;&lt;script&gt;alert(3)&lt;/script&gt;</title>" in page
    texts = [html.unescape(t) for t in re.findall(r"<text[^>]*>(.*?)</text>", page)]
    assert EVIL in texts  # drawn as text, literally: no DOT syntax error, no attribute
    data = embedded_data(page)
    assert [n["name"] for n in data["nodes"][:2]] == [EVIL, "</script><script>alert(2)</script><!--"]
    assert data["title"] == "</title><script>alert(3)</script>"


def test_explore_refuses_a_graph_too_large_to_follow(tmp_path):
    x = Value(1.0, label="x")
    node = x
    for _ in range(MAX_VALUES):
        node = node * 1.0  # two Values per op: the op's result and the constant
    with pytest.raises(ValueError, match=f"at most {MAX_VALUES}.*explore a part of it.*collapse modules"):
        explore(node, tmp_path / "big.html")
    assert list(tmp_path.iterdir()) == []


def test_explore_refuses_closure_nodes_and_bad_arguments(tmp_path):
    a, b = Value(1.0), Value(2.0)
    custom = Value(3.0, (a, b), "mine")  # micrograd-style: no local derivatives in the table
    with pytest.raises(NotImplementedError, match="op 'mine' was built micrograd-style.*defop"):
        explore(custom)
    with pytest.raises(TypeError, match="root must be a Value, got float"):
        explore(1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="title must be a str, got int"):
        explore(a, title=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="path is empty"):
        explore(a, "")
    with pytest.raises(ValueError, match="is a directory"):
        explore(a, tmp_path)
    with pytest.raises(ValueError, match="must end in .html, got '.*page.png'"):
        explore(a, tmp_path / "page.png")
    assert list(tmp_path.iterdir()) == []


@needs_dot
def test_explore_without_path_is_a_notebook_display():
    out, _ = neuron()
    page = explore(out, title="a <neuron>")
    assert isinstance(page, Explorer) and page.title == "a <neuron>"
    shown = page._repr_html_()
    assert shown.startswith('<iframe title="a &lt;neuron&gt;" srcdoc="') and 'sandbox="allow-scripts"' in shown
    srcdoc = re.search(r'srcdoc="([^"]*)"', shown)
    assert srcdoc is not None and html.unescape(srcdoc.group(1)) == page.html  # the whole page, escaped once


@needs_dot
def test_explore_numbers_that_json_cannot_hold():
    x = Value(0.0, label="x")
    y = x.log() * x  # -inf, and 0 * inf = nan in the backward pass
    y.label = "y"
    data, _ = page_data(y, title="t")
    values = {n["name"]: n for n in data["nodes"]}
    assert values["x"]["data"] == 0.0 and values["#1"]["data"] == "-Infinity"
    assert values["x"]["gradText"] == "nan" and values["x"]["grad"] == "NaN"


@needs_dot
def test_explore_hub_value_drawn_per_use_keeps_one_record():
    x = Value(1.5, label="x")
    total = autograd.sum([x * float(k) for k in range(1, 15)])  # x feeds 14 ops: drawn once per use
    data, _ = page_data(total, title="t")
    (record,) = [n for n in data["nodes"] if n["name"] == "x"]
    assert len(record["svg"]) == 14 and len(set(record["svg"])) == 14
    assert len(record["terms"]) == 14 and sum(t["contribution"] for t in record["terms"]) == pytest.approx(105.0)


@needs_dot
def test_explore_hub_op_result_has_no_stray_node():
    """An op whose result feeds more than 12 ops: its edge goes to the first copy (render.py once drew an ellipse)."""
    h = Value(1.5, label="x").tanh()
    h.label = "h"
    data, svg = page_data(autograd.sum([h * float(k) for k in range(1, 15)]), title="t")
    (record,) = [n for n in data["nodes"] if n["name"] == "h"]
    assert record["out_edge"] is not None and len(record["svg"]) == 14
    assert "<title>" + record["svg"][0].split("c")[0] + "</title>" not in svg  # no node under the bare name


# -- the command line, in-process --------------------------------------------------------------------

@needs_dot
@pytest.mark.slow
def test_cli_explore_writes_the_page_and_prints_the_grads(tmp_path, capsys):
    from valuegrad.__main__ import main

    target = tmp_path / "page.html"
    assert main(["explore", "x*y + x", "-o", str(target), "--x", "2", "--y", "-3", "--title", "shared x"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [f"wrote {target}", "x*y + x = -4.0", "  d/dx = -2.0", "  d/dy = 2.0"]
    data = embedded_data(target.read_text())
    assert data["title"] == "shared x" and {n["name"]: n["grad"] for n in data["nodes"]}["x"] == -2.0
    # options after the variables, and no extension: .html is added
    assert main(["explore", "tanh(a)", "--a", "0.5", "-o", str(tmp_path / "t")]) == 0
    assert (tmp_path / "t.html").exists()


@pytest.mark.slow
@pytest.mark.parametrize(("argv", "message"), [
    (["x*y", "--x", "1"], "no value for variable(s) y: add --y VALUE"),
    (["x", "--x", "1", "-o", "page.png"], "-o 'page.png': the page is HTML, so the file must end in .html"),
    (["x", "--x", "1", "-o", "missing/p.html"], "-o 'missing/p.html': directory 'missing' does not exist"),
    (["x.y", "--x", "1"], "not allowed in an expression (column 1): attribute access"),
])
def test_cli_explore_usage_errors_are_one_line(argv, message, tmp_path, capsys, monkeypatch):
    from valuegrad.__main__ import main

    monkeypatch.chdir(tmp_path)
    assert main(["explore", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"valuegrad explore: error: {message}") and err.count("\n") == 1
    assert err.endswith(" (see `valuegrad explore --help`)\n")
    assert list(tmp_path.iterdir()) == []


@needs_dot
@pytest.mark.slow
def test_cli_demo_explore_writes_the_neuron_and_the_network(tmp_path, capsys):
    from valuegrad.__main__ import main
    from valuegrad.demos.backprop import engine_graph

    assert main(["demo", "explore", "--out", str(tmp_path)]) == 0
    neuron_page = embedded_data((tmp_path / "explore_neuron.html").read_text())
    network_page = embedded_data((tmp_path / "explore_backprop.html").read_text())
    params, nodes = engine_graph()
    grads = {n["name"]: number(n["grad"]) for n in network_page["nodes"]}
    assert all(grads[name] == params[name].grad for name in params)
    assert grads["C"] == 1.0
    assert len(network_page["nodes"]) == len(autograd.topological_order(nodes["C"], include_leaves=True))
    assert {n["name"] for n in neuron_page["nodes"]} >= {"x1", "w1", "x2", "w2", "b", "out"}
    assert "wrote" in capsys.readouterr().out
