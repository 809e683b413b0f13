"""autograd.render: DOT source (labels, ops, grads, edge labels, escaping, summaries), images, notebook display."""

from __future__ import annotations

import html
import math
import os
import re
import shutil
import subprocess
import sys
from collections import Counter, deque
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import autograd
from autograd import Value
from autograd.render import (
    NOTEBOOK_MAX_NODES,
    draw,
    draw_dot,
    escape_label,
    format_number,
    render_bytes,
    to_dot,
)
from tests.strategies import expressions_with_inputs

HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="the Graphviz `dot` program is not installed")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
REPO = Path(__file__).resolve().parents[2]


# -- helpers: read the DOT source back ---------------------------------------------------------

ATTR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|[^ \]]+)')
NODE = re.compile(r"^\s*(\w+) \[(.*)\]$")
EDGE = re.compile(r"^\s*(\w+) -> (\w+)(?: \[(.*)\])?$")
SUBGRAPH = re.compile(r"^\s*subgraph (\w+) \{$")


def attrs(text: str | None) -> dict[str, str]:
    found = {}
    for key, value in ATTR.findall(text or ""):
        if value.startswith('"'):
            value = value[1:-1].replace('\\"', '"')
        found[key] = value
    return found


class Parsed:
    """Nodes (name -> attrs), the cluster each node is declared in, edges, cluster attrs."""

    def __init__(self, source: str) -> None:
        self.nodes: dict[str, dict[str, str]] = {}
        self.cluster_of: dict[str, str | None] = {}
        self.edges: list[tuple[str, str, dict[str, str]]] = []
        self.clusters: dict[str, dict[str, str]] = {}
        self.parent_cluster: dict[str, str | None] = {}
        open_clusters: list[str] = []  # clusters nest: layer0 holds neuron0
        for line in source.splitlines():
            current = open_clusters[-1] if open_clusters else None
            sub = SUBGRAPH.match(line)
            if sub:
                self.parent_cluster[sub.group(1)] = current
                open_clusters.append(sub.group(1))
                self.clusters[sub.group(1)] = {}
                continue
            if line.strip() == "}":
                if open_clusters:
                    open_clusters.pop()
                continue
            if line.strip().startswith("{rank="):
                continue
            edge = EDGE.match(line)
            if edge:
                self.edges.append((edge.group(1), edge.group(2), attrs(edge.group(3))))
                continue
            node = NODE.match(line)
            if node and node.group(1) not in ("node", "edge", "graph"):
                self.nodes[node.group(1)] = attrs(node.group(2))
                self.cluster_of[node.group(1)] = current
                continue
            if current is not None and "[" not in line and "=" in line:  # the cluster's own attributes
                self.clusters[current].update(attrs(line.strip()))

    def records(self) -> dict[str, list[str]]:
        """Value node name -> its record fields (label fields are unescaped only for plain text)."""
        return {
            name: [f.strip() for f in a["label"].strip("{} ").split(" | ")]
            for name, a in self.nodes.items()
            if a.get("shape") == "record"
        }

    def op_nodes(self) -> dict[str, str]:
        return {name: a["label"] for name, a in self.nodes.items() if a.get("shape") == "circle"}


def neuron() -> tuple[Value, dict[str, Value]]:
    """The micrograd lecture's neuron: o = tanh(x1*w1 + x2*w2 + b), backward run."""
    leaves = {
        "x1": Value(2.0, label="x1"),
        "w1": Value(-3.0, label="w1"),
        "x2": Value(0.0, label="x2"),
        "w2": Value(1.0, label="w2"),
        "b": Value(6.8813735870195432, label="b"),
    }
    n = leaves["x1"] * leaves["w1"] + leaves["x2"] * leaves["w2"] + leaves["b"]
    o = n.tanh()
    o.label = "o"
    o.backward()
    return o, leaves


def all_nodes(root: Value) -> list[Value]:
    seen, stack, order = {root}, [root], []
    while stack:
        node = stack.pop()
        order.append(node)
        for p in node.parents:
            if p not in seen:
                seen.add(p)
                stack.append(p)
    return order


def svg_texts(svg: bytes) -> list[str]:
    return [html.unescape(t) for t in re.findall(r"<text[^>]*>(.*?)</text>", svg.decode("utf-8"), re.S)]


# -- numbers and escaping ---------------------------------------------------------------------

def test_format_number_four_significant_digits():
    assert format_number(0.7071067811865476) == "0.7071"
    assert format_number(-1.5) == "-1.5"
    assert format_number(2.0) == "2"
    assert format_number(123456.0) == "1.235e+05"
    assert format_number(1e-5) == "1e-05"
    assert format_number(0.0) == "0"


def test_format_number_spells_out_inf_and_nan():
    assert format_number(math.inf) == "inf"
    assert format_number(-math.inf) == "-inf"
    assert format_number(math.nan) == "nan"


def test_format_number_digits_option():
    assert format_number(math.pi, digits=2) == "3.1"
    assert format_number(math.pi, digits=8) == "3.1415927"


def test_escape_label_record_escapes_record_syntax_backslashes_and_entities():
    assert escape_label("a{b}|<c>", record=True) == "a\\{b\\}\\|\\<c\\>"
    assert escape_label("back\\slash", record=True) == "back\\\\slash"
    assert escape_label("x & y", record=True) == "x&#32;&amp;&#32;y"
    assert escape_label("tab\there", record=True) == "tab\\\\x09here"
    assert escape_label('say "hi"', record=True) == 'say&#32;"hi"'  # the DOT string literal escapes quotes
    assert escape_label("ünï∂", record=True) == "ünï∂"


def test_escape_label_plain_keeps_record_characters():
    assert escape_label("a{b}|<c>") == "a{b}|<c>"
    assert escape_label("a\\b & c") == "a\\\\b &amp; c"


# -- DOT source -------------------------------------------------------------------------------

def test_to_dot_neuron_records_show_label_data_and_grad():
    o, _ = neuron()
    source = to_dot(o).source
    for record in (
        "{ x1 | data 2 | grad -1.5 }",
        "{ w1 | data -3 | grad 1 }",
        "{ x2 | data 0 | grad 0.5 }",
        "{ w2 | data 1 | grad 0 }",
        "{ b | data 6.881 | grad 0.5 }",
        "{ o | data 0.7071 | grad 1 }",
        "{ data 0.8814 | grad 0.5 }",  # unlabelled interior node: no label field
    ):
        assert f'"{record}"' in source, record


def test_to_dot_neuron_one_op_node_per_operation():
    o, _ = neuron()
    parsed = Parsed(to_dot(o).source)
    assert Counter(parsed.op_nodes().values()) == Counter({"*": 2, "+": 2, "tanh": 1})
    assert len(parsed.records()) == 10


def test_to_dot_neuron_edges_carry_local_derivatives():
    o, _ = neuron()
    parsed = Parsed(to_dot(o).source)
    label_of = {name: fields[0] for name, fields in parsed.records().items()}
    into_op = {
        (label_of.get(t), parsed.nodes[h]["label"], a.get("label")) for t, h, a in parsed.edges if h.endswith("op")
    }
    assert ("x1", "*", "-3") in into_op  # d(x1*w1)/dx1 = w1
    assert ("w1", "*", "2") in into_op  # d(x1*w1)/dw1 = x1
    assert ("x2", "*", "1") in into_op
    assert ("w2", "*", "0") in into_op
    assert ("b", "+", "1") in into_op
    tanh_inputs = [a["label"] for t, h, a in parsed.edges if parsed.nodes[h].get("label") == "tanh"]
    assert tanh_inputs == [format_number(1 - math.tanh(0.8813735870195432) ** 2)] == ["0.5"]


def test_to_dot_edges_run_from_inputs_through_op_to_output():
    o, _ = neuron()
    parsed = Parsed(to_dot(o).source)
    records = parsed.records()
    for op_name in parsed.op_nodes():
        outgoing = [h for t, h, _ in parsed.edges if t == op_name]
        assert len(outgoing) == 1 and outgoing[0] in records


def _check_structure(root: Value) -> None:
    """Every Value is one record, every op one node, every (input, op) pair one edge with its local derivative.

    A hub (a Value used more than ``HUB_FAN_OUT`` times) is, as documented, one dashed record per
    use instead: its records are counted once per use, each feeding exactly one op.
    """
    nodes = all_nodes(root)
    for i, node in enumerate(nodes):
        node.label = f"n{i}"
    uses = Counter(parent for node in nodes for parent in node.parents)
    copies = {node.label: uses[node] if uses[node] > autograd.render.HUB_FAN_OUT else 1 for node in nodes}
    parsed = Parsed(to_dot(root, max_nodes=10**6).source)
    label_of = {name: fields[0] for name, fields in parsed.records().items()}
    assert Counter(label_of.values()) == Counter(copies)
    for name, label in label_of.items():
        if copies[label] > 1:  # each copy of a hub feeds exactly one op
            assert len([h for t, h, _ in parsed.edges if t == name]) == 1, (name, label)
    op_output = {t: h for t, h, _ in parsed.edges if t.endswith("op")}
    assert all(h in label_of for h in op_output.values()), "an op's output edge ends at a node that is not drawn"
    op_output = {t: label_of[h] for t, h in op_output.items()}
    expected_ops = {node.label: node.op for node in nodes if node.parents}
    assert {op_output[name]: op for name, op in parsed.op_nodes().items()} == expected_ops
    expected_edges = Counter(
        (parent.label, node.label, format_number(local))
        for node in nodes
        for parent, local in zip(node.parents, node.local_grads)
    )
    got_edges = Counter((label_of[t], op_output[h], a["label"]) for t, h, a in parsed.edges if h in op_output)
    assert got_edges == expected_edges
    by_label = {node.label: node for node in nodes}
    for fields in parsed.records().values():
        node = by_label[fields[0]]
        assert fields[1:] == [f"data {format_number(node.data)}", f"grad {format_number(node.grad)}"]


@given(expressions_with_inputs())
def test_to_dot_structure_matches_graph(case):
    expr, xs = case
    root = expr(*[Value(x) for x in xs])
    root.backward()
    _check_structure(root)


def test_to_dot_structure_draws_a_leaf_hub_once_per_use():
    """Issue 22.16: the intense profile drew an input used 13 times, which the structure test counted once."""
    x, w = Value(0.5), Value(-2.0)
    root = autograd.sum([x * (k + 1) for k in range(autograd.render.HUB_FAN_OUT)] + [x * w])
    root.backward()
    _check_structure(root)


def test_to_dot_structure_draws_an_interior_hub_once_per_use():
    """A hub computed by an op: the op's output edge reaches a drawn copy, not an undeclared node."""
    x = Value(2.0)
    hub = x * 3.0
    root = autograd.sum([hub * (k + 1) for k in range(autograd.render.HUB_FAN_OUT + 1)])
    root.backward()
    _check_structure(root)


def test_to_dot_show_grad_false_omits_grads_colours_and_scale():
    o, _ = neuron()
    source = to_dot(o, show_grad=False).source
    assert "grad 1" not in source and "fillcolor" not in source
    assert '"{ x1 | data 2 }"' in source
    assert "colour" not in source  # the legend only explains edge labels now


def test_to_dot_show_local_grads_false_has_no_edge_labels():
    o, _ = neuron()
    parsed = Parsed(to_dot(o, show_local_grads=False).source)
    assert all("label" not in a for _, _, a in parsed.edges)


def test_to_dot_colours_by_abs_grad_relative_to_largest():
    o, _ = neuron()  # |grad| is largest (1.5) at x1 and 0 at w2
    parsed = Parsed(to_dot(o).source)
    fill = {fields[0]: parsed.nodes[name]["fillcolor"] for name, fields in parsed.records().items()}
    assert fill["x1"] == "6" and fill["w2"] == "1"
    assert fill["o"] == str(1 + round(5 * 1 / 1.5)) == "4"
    assert fill["b"] == str(1 + round(5 * 0.5 / 1.5)) == "3"
    legend = parsed.nodes["legend"]["label"]
    assert "dark blue = 1.5" in legend and "local derivative" in legend


def test_to_dot_marks_nonfinite_grads_and_data():
    x = Value(0.0, label="x")
    y = x.log()  # log(0) = -inf, d/dx = inf
    y.backward()
    parsed = Parsed(to_dot(y).source)
    records = parsed.records()
    x_name = next(name for name, fields in records.items() if fields[0] == "x")
    assert records[x_name] == ["x", "data 0", "grad inf"]
    assert any(fields[:1] == ["data -inf"] for fields in records.values())
    assert parsed.nodes[x_name]["fillcolor"] == "#f4a3a3"
    assert "nan or inf" in parsed.nodes["legend"]["label"]
    z = Value(-1.0).sqrt()
    assert '"{ data nan | grad 0 }"' in to_dot(z).source


def test_to_dot_grads_that_are_values_after_create_graph():
    x = Value(3.0, label="x")
    y = x * x
    y.backward(create_graph=True)
    assert isinstance(x.grad, Value)
    assert '"{ x | data 3 | grad 6 }"' in to_dot(y).source


def test_to_dot_legend_says_when_no_backward_ran():
    x = Value(2.0, label="x")
    legend = Parsed(to_dot(x * x).source).nodes["legend"]["label"]
    assert "call backward() first" in legend
    assert "legend" not in Parsed(to_dot(x * x, legend=False).source).nodes


def test_to_dot_rankdir_and_leaf_and_option_errors():
    o, _ = neuron()
    assert "rankdir=TB" in to_dot(o, rankdir="TB").source
    with pytest.raises(ValueError, match="rankdir must be one of LR, RL, TB, BT, got 'XY'"):
        to_dot(o, rankdir="XY")
    with pytest.raises(TypeError, match="to_dot\\(\\): root must be a Value, got float"):
        to_dot(1.5)
    with pytest.raises(ValueError, match="max_nodes must be an int >= 1, got 0"):
        to_dot(o, max_nodes=0)
    with pytest.raises(ValueError, match="cluster_by_module=True needs module="):
        to_dot(o, cluster_by_module=True)
    with pytest.raises(TypeError, match="module must have a named_parameters\\(\\) method.*got list"):
        to_dot(o, module=[1, 2])


def test_to_dot_single_leaf():
    parsed = Parsed(to_dot(Value(3.0, label="only")).source)
    assert list(parsed.records().values()) == [["only", "data 3", "grad 0"]]
    assert parsed.op_nodes() == {}


def test_draw_dot_is_to_dot_and_exported():
    assert autograd.to_dot is to_dot and autograd.draw is draw and autograd.draw_dot is draw_dot
    assert {"to_dot", "draw", "draw_dot"} <= set(autograd.__all__)
    x = Value(0.5, label="x")
    out = (x * 2.0).tanh()
    assert draw_dot(out).source == to_dot(out).source


def test_draw_dot_takes_the_micrograd_lecture_call_shape():
    """The lecture calls draw_dot(root, format='svg', rankdir='LR') (format even positionally)."""
    x = Value(0.5, label="x")
    out = (x * 2.0).tanh()
    graph = draw_dot(out, "png", "TB")
    assert graph.format == "png"
    assert graph.source == to_dot(out, rankdir="TB").source
    assert draw_dot(out).format == "svg"
    assert draw_dot(out, format="pdf", rankdir="LR", show_grad=False).source == to_dot(out, show_grad=False).source
    with pytest.raises(ValueError):
        draw_dot(out, format="no-such-format")


def test_import_autograd_does_not_import_graphviz():
    code = "import sys, autograd; print('graphviz' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert result.stdout.strip() == "False"


# -- labels: escaping and nn names --------------------------------------------------------------

NASTY_LABELS = [
    'quote " inside', "{braces}", "a|b", "<angle>", "back\\slash", "end\\", "\\l\\N\\G", "üñí ∂ 日本 🙂",
    "&amp; &", "two  spaces", " lead", "tab\tand\x1b", "%s {0}", "<<b>html</b>>",
]


@pytest.mark.parametrize("label", NASTY_LABELS)
def test_to_dot_label_escaped_in_source(label):
    source = to_dot(Value(1.0, label=label)).source
    assert escape_label(label, record=True) in source.replace('\\"', '"')


@needs_dot
@pytest.mark.parametrize("label", NASTY_LABELS)
def test_to_dot_label_renders_verbatim(label):
    texts = svg_texts(render_bytes(to_dot(Value(1.0, label=label), legend=False), "svg"))
    expected = label.replace("\t", "\\x09").replace("\x1b", "\\x1b")
    assert texts[0].replace("\xa0", " ") == expected


@needs_dot
@given(st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=10))
def test_to_dot_any_label_renders_verbatim(label):
    texts = svg_texts(render_bytes(to_dot(Value(1.0, label=label), legend=False, show_grad=False), "svg"))
    assert texts[0].replace("\xa0", " ") == label.replace("\xa0", " ")
    assert texts[1] == "data 1"


INJECTION = 'q\\" URL=<javascript:alert(1)> pos=<20,20!>]//'
"""A label that, unescaped, would end the DOT string and add a link and a pinned position (issue 22)."""


class InjectedNames:
    """A module whose parameter path (the box title) is the injection text."""

    def __init__(self, weight: Value) -> None:
        self.weight = weight

    def named_parameters(self) -> list[tuple[str, Value]]:
        return [(INJECTION + ".w0", self.weight)]


@needs_dot
def test_label_injection_stays_text_in_every_label_kind():
    """A Value label, an op name (micrograd-style constructor) and a box title: no syntax error, no link."""
    weight = Value(2.0, label=INJECTION)
    product = weight * Value(3.0, label="x")
    custom = Value(product.data + 1.0, (product,), INJECTION)  # micrograd's Value(data, children, op)
    module = InjectedNames(weight)
    graph = to_dot(custom, module=module, cluster_by_module=True, legend=False, show_grad=False)
    svg = render_bytes(graph, "svg")  # a syntax error would be a RuntimeError with dot's message
    assert b"<a " not in svg and b"href" not in svg  # a URL attribute becomes an <a xlink:href=...> link
    texts = [t.replace("\xa0", " ") for t in svg_texts(svg)]
    assert texts.count(INJECTION) == 3  # the record's label, the op circle and the box title
    assert Parsed(graph.source).nodes.keys() == {"v0", "v1", "v2", "v2op", "v2opin1", "v3", "v3op"}  # in1: x's port


class FakeNet:
    """Two tiny layers with the nn contract: named_parameters() -> [(name, Value)]."""

    def __init__(self) -> None:
        self.w0 = [Value(0.5), Value(-1.0)]
        self.b0 = Value(0.1)
        self.w1 = Value(2.0)
        self.b1 = Value(-0.3)

    def named_parameters(self) -> list[tuple[str, Value]]:
        return [("layer0.w0", self.w0[0]), ("layer0.w1", self.w0[1]), ("layer0.b", self.b0),
                ("layer1.w0", self.w1), ("layer1.b", self.b1)]

    def __call__(self, x: list[Value]) -> Value:
        h = (self.w0[0] * x[0] + self.w0[1] * x[1] + self.b0).tanh()
        return self.w1 * h + self.b1


def fake_loss() -> tuple[FakeNet, Value]:
    net = FakeNet()
    x = [Value(1.0, label="x0"), Value(2.0, label="x1")]
    loss = (net(x) - 1.0) ** 2
    loss.label = "loss"
    loss.backward()
    return net, loss


def test_to_dot_module_names_unlabelled_parameters():
    net, loss = fake_loss()
    net.w1.label = "mine"  # an explicit label wins over the module's name
    fields = Parsed(to_dot(loss, module=net).source).records().values()
    labels = {f[0] for f in fields}
    assert {"layer0.w0", "layer0.w1", "layer0.b", "layer1.b", "mine", "x0", "x1", "loss"} <= labels
    assert "layer1.w0" not in labels


def test_to_dot_cluster_by_module_groups_layers():
    net, loss = fake_loss()
    parsed = Parsed(to_dot(loss, module=net, cluster_by_module=True).source)
    records = parsed.records()
    assert {c["label"] for c in parsed.clusters.values()} == {"layer0", "layer1"}
    cluster_label = {name: a["label"] for name, a in parsed.clusters.items()}
    members: dict[str | None, list[str]] = {}
    for name, fields in records.items():
        cluster = parsed.cluster_of[name]
        members.setdefault(cluster_label.get(cluster), []).append(fields[0] if "data" not in fields[0] else "")
    # Inside a box the layer prefix is dropped: layer0.w0 is shown as w0 in box layer0; products and
    # sums of named Values are named after them.
    assert sorted(m for m in members["layer0"] if m) == [
        "b", "w0", "w0*x0", "w0*x0&#32;+&#32;w1*x1", "w1", "w1*x1"]
    assert sorted(m for m in members["layer1"] if m) == ["b", "w0"]
    # layer0: 2 products, 2 sums, tanh; layer1: product, sum.  Outside: inputs, target, '-', '**2'.
    assert len(members["layer0"]) == 3 + 5 and len(members["layer1"]) == 2 + 2
    assert sorted(members[None]) == ["", "", "loss", "x0", "x1"]
    ops_by_cluster = Counter((cluster_label.get(parsed.cluster_of[n]), op) for n, op in parsed.op_nodes().items())
    assert ops_by_cluster == Counter({("layer0", "*"): 2, ("layer0", "+"): 2, ("layer0", "tanh"): 1,
                                      ("layer1", "*"): 1, ("layer1", "+"): 1, (None, "-"): 1, (None, "**2"): 1})


def test_to_dot_cluster_single_level_names_use_module_class():
    class Unit:
        def __init__(self) -> None:
            self.w, self.b = Value(2.0), Value(0.5)

        def named_parameters(self) -> list[tuple[str, Value]]:
            return [("w0", self.w), ("b", self.b)]

    unit = Unit()
    out = (unit.w * Value(3.0, label="x") + unit.b).relu()
    out.backward()
    parsed = Parsed(to_dot(out, module=unit, cluster_by_module=True).source)
    assert [c["label"] for c in parsed.clusters.values()] == ["Unit"]
    inside = sorted(fields[0] for name, fields in parsed.records().items() if parsed.cluster_of[name])
    assert inside == ["b", "data 6.5", "w0", "w0*x", "w0*x&#32;+&#32;b"]  # w0*x, +b and relu join the box
    assert [fields[0] for name, fields in parsed.records().items() if not parsed.cluster_of[name]] == ["x"]


def test_to_dot_module_with_bad_named_parameters():
    class Bad:
        def named_parameters(self):
            return [("w", 1.0)]

    with pytest.raises(TypeError, match="must yield \\(str, Value\\) pairs, got \\(str, float\\)"):
        to_dot(Value(1.0), module=Bad())


def test_to_dot_real_mlp_named_and_clustered():
    from nn import module as nn_module
    model = nn_module.MLP(2, [3, 1], activation="tanh", seed=0)
    for _, p in model.named_parameters():
        p.label = ""  # names must then come from named_parameters()
    loss = (model([Value(0.5, label="x0"), Value(-1.0, label="x1")]) - 1.0) ** 2
    loss.backward()
    plain = Parsed(to_dot(loss, module=model).source).records()
    names = {fields[0] for fields in plain.values()}
    assert {f"layer0.neuron{j}.w{i}" for j in range(3) for i in range(2)} <= names
    assert {"layer0.neuron2.b", "layer1.neuron0.w2", "layer1.neuron0.b"} <= names
    parsed = Parsed(to_dot(loss, module=model, cluster_by_module=True).source)

    def box(node: str) -> str | None:
        """The full path of the box a node is declared in: layer0.neuron2."""
        path, cluster = [], parsed.cluster_of[node]
        while cluster is not None:
            path.append(parsed.clusters[cluster]["label"])
            cluster = parsed.parent_cluster[cluster]
        return ".".join(reversed(path)) or None

    assert {box(n) for n in parsed.records()} == {None, "layer0.neuron0", "layer0.neuron1", "layer0.neuron2",
                                                  "layer1.neuron0"}
    shown = Counter(box(name) for name in parsed.records())
    # Inside its neuron's box a parameter is called w0, w1, ..., b; stacked records: label first.
    param_names = {box(name): sorted(a["label"].split(" | ")[0] for n2, a in parsed.nodes.items()
                                     if a.get("shape") == "record" and box(n2) == box(name)
                                     and a.get("penwidth"))
                   for name in parsed.records() if box(name)}
    assert param_names["layer0.neuron2"] == ["b", "w0", "w1"]
    assert param_names["layer1.neuron0"] == ["b", "w0", "w1", "w2"]
    # each layer-0 neuron: 3 parameters, its dot node and its tanh; layer 1: 4 parameters and its dot node.
    assert all(shown[f"layer0.neuron{j}"] == 3 + 2 for j in range(3)) and shown["layer1.neuron0"] == 4 + 1
    ops = Counter((box(n), op) for n, op in parsed.op_nodes().items())
    assert all(ops[(f"layer0.neuron{j}", "dot")] == 1 and ops[(f"layer0.neuron{j}", "tanh")] == 1 for j in range(3))
    assert ops[("layer1.neuron0", "dot")] == 1 and ops[(None, "**2")] == 1
    # The inputs x0, x1 share the first column; the target (1.0) does not.
    rank = re.search(r"\{rank=min; ([^}]*)\}", to_dot(loss, module=model).source)
    assert rank is not None
    firsts = [parsed.nodes[n.strip()]["label"].split(" | ")[0] for n in rank.group(1).split(";")]
    assert firsts == ["x0", "x1"]


def mlp_layout(source: str) -> tuple[dict[str, tuple[float, float, float, float]], dict[str, float]]:
    """Laid out by `dot`: each box's label -> its bounding box, each record's first field -> its centre x.

    Inner boxes (neuron0) are repeated across layers, so only the layer boxes are keyed uniquely.
    """
    import json
    laid_out = json.loads(subprocess.run(["dot", "-Tjson0"], input=source.encode(), capture_output=True,
                                         check=True, timeout=60).stdout)
    boxes, centres = {}, {}
    for obj in laid_out["objects"]:
        if obj.get("name", "").startswith("cluster_"):
            x0, y0, x1, y1 = (float(v) for v in obj["bb"].split(","))
            boxes.setdefault(obj["label"], (x0, y0, x1, y1))
        elif obj.get("shape") in ("record", "note"):
            x, y = (float(v) for v in obj["pos"].split(","))
            centres[obj["label"].split(" | ")[0]] = x
            centres[obj["label"].split(" | ")[0] + " y"] = y
    return boxes, centres


@needs_dot
def test_draw_mlp_layers_are_columns_left_to_right():
    # docs/mlp.png: inputs in the first column, then layer 0's box, then layer 1's box to its right
    # (not below it: layer 1's parameters once shared a column with layer 0's outputs).
    from nn import module as nn_module
    model = nn_module.MLP(2, [3, 1], activation="tanh", seed=3)
    loss = (model([Value(0.5, label="x0"), Value(-1.0, label="x1")]) - 1.0) ** 2
    loss.backward()
    boxes, centres = mlp_layout(to_dot(loss, module=model, cluster_by_module=True).source)
    layer0, layer1 = boxes["layer0"], boxes["layer1"]
    assert centres["x0"] < layer0[0] and centres["x1"] < layer0[0]
    assert layer0[2] < layer1[0]
    # beside layer 0, not below it (they sank to the bottom of the column before the ports)
    assert all(layer0[1] < centres[f"x{i} y"] < layer0[3] for i in (0, 1))
    legend = next(key for key in centres if key.startswith("colour:") and not key.endswith(" y"))
    assert centres[legend] > layer1[2]  # after the loss, out of the inputs' column


def test_to_dot_mlp_input_edges_end_at_a_port_inside_each_neuron_box():
    """x_i -> (point in neuron j's box) -> dot, the short second edge labelled with w_ji near its head."""
    from nn import module as nn_module
    model = nn_module.MLP(2, [3, 1], activation="tanh", seed=3)
    x = [Value(0.5, label="x0"), Value(-1.0, label="x1")]
    loss = (model(x) - 1.0) ** 2
    loss.backward()
    parsed = Parsed(to_dot(loss, module=model, cluster_by_module=True).source)
    label_of = {name: fields[0] for name, fields in parsed.records().items()}
    boxes = {name: parsed.clusters[parsed.cluster_of[name]]["label"] for name in parsed.nodes
             if parsed.cluster_of[name] is not None}
    for i, name in enumerate(("x0", "x1")):
        node = next(n for n, label in label_of.items() if label == name)
        ports = [h for t, h, a in parsed.edges if t == node]
        assert len(ports) == 3 and all(parsed.nodes[p]["shape"] == "point" for p in ports)
        assert all(a == {"arrowhead": "none"} for t, _, a in parsed.edges if t == node)
        assert sorted(boxes[p] for p in ports) == ["neuron0", "neuron1", "neuron2"]
        for port in ports:
            (head, attrs), = [(h, a) for t, h, a in parsed.edges if t == port]
            assert parsed.nodes[head]["label"] == "dot" and boxes[head] == boxes[port]
            neuron = model.layers[0].neurons[int(boxes[port][-1])]
            assert attrs["label"] == format_number(neuron.w[i].data)  # d(w.x + b)/dx_i = w_i


@needs_dot
def test_op_circles_are_laid_out_at_one_size():
    """sigmoid's circle was 3x the others (docs/backprop_graph.png); every op the rule table names now fits one size."""
    import json

    from autograd import ops

    x = Value(0.5, label="x")
    y = x
    for name in sorted(ops.FUNCTIONS.keys() & ops.BUILTIN_ROWS):  # not rows other tests register
        if ops.RULES[name].arity == 1:
            y = getattr(autograd, name)(y * 0.1)
    laid_out = json.loads(subprocess.run(["dot", "-Tjson0"], input=to_dot(y).source.encode(), capture_output=True,
                                         check=True, timeout=60).stdout)
    widths = {obj["label"]: float(obj["width"]) for obj in laid_out["objects"] if obj.get("shape") == "circle"}
    assert "sigmoid" in widths and len(set(widths.values())) == 1, widths


def test_to_dot_op_circles_have_one_size_and_the_legend_follows_the_root():
    x = Value(0.5, label="x")
    y = (x * 2.0).sigmoid()
    y.label = "y"
    y.backward()
    parsed = Parsed(to_dot(y).source)
    circles = [parsed.nodes[n] for n in parsed.op_nodes()]
    sizes = {a["label"]: float(a["fontsize"]) for a in circles}
    assert sizes["*"] > sizes["sigmoid"] >= 7  # a long name gets a smaller font, not a bigger circle
    root = next(n for n, fields in parsed.records().items() if fields[0] == "y")
    assert (root, "legend", {"style": "invis"}) in parsed.edges


# -- large graphs ------------------------------------------------------------------------------

def bfs_distances(root: Value) -> dict[Value, int]:
    distance = {root: 0}
    queue = deque([root])
    while queue:
        node = queue.popleft()
        for p in node.parents:
            if p not in distance:
                distance[p] = distance[node] + 1
                queue.append(p)
    return distance


@given(expressions_with_inputs(min_nodes=4, max_nodes=20), st.integers(1, 30))
def test_to_dot_max_nodes_draws_the_nearest_and_summarises_the_rest(case, max_nodes):
    expr, xs = case
    root = expr(*[Value(x) for x in xs])
    distance = bfs_distances(root)
    for i, node in enumerate(distance):
        node.label = f"n{i}"
    parsed = Parsed(to_dot(root, max_nodes=max_nodes).source)
    drawn = {fields[0] for fields in parsed.records().values()}
    total = len(distance)
    assert len(drawn) == min(max_nodes, total)
    if total > max_nodes:
        assert f"... {total - max_nodes} more Values not drawn" in parsed.nodes["more"]["label"]
        farthest_drawn = max(distance[n] for n in distance if n.label in drawn)
        nearest_hidden = min(distance[n] for n in distance if n.label not in drawn)
        assert farthest_drawn <= nearest_hidden
        # every op node with an input that is not drawn gets a dashed edge from the summary
        names = {fields[0]: name for name, fields in parsed.records().items()}
        fed = {h for t, h, _ in parsed.edges if t == "more"}
        for node in distance:
            if node.label in drawn and any(p.label not in drawn for p in node.parents):
                assert names[node.label] + "op" in fed
    else:
        assert "more" not in parsed.nodes


def test_to_dot_hundred_thousand_nodes_summarised():
    """A 10**5-node graph (deep chain + wide fan-in) returns a 500-Value summary without recursion."""
    x = Value(0.5, label="x")
    y = x
    for i in range(50_000):
        y = y.tanh() if i % 2 else y + x
    wide = autograd.sum([Value(float(i)) for i in range(50_000)])
    root = y * wide
    root.backward()
    total = len(bfs_distances(root))
    assert total > 100_000
    parsed = Parsed(to_dot(root).source)
    assert len(parsed.records()) == 500
    assert f"... {total - 500} more Values not drawn\\n(max_nodes=500, {total} in all)" in parsed.nodes["more"]["label"]


# -- files -------------------------------------------------------------------------------------

@needs_dot
@pytest.mark.parametrize(("fmt", "magic"), [("png", PNG_MAGIC), ("svg", b"<?xml"), ("pdf", b"%PDF")])
def test_draw_writes_image_and_adds_extension(tmp_path, fmt, magic):
    o, _ = neuron()
    written = draw(o, tmp_path / "neuron", format=fmt)
    assert written == str(tmp_path / f"neuron.{fmt}")
    assert Path(written).read_bytes().startswith(magic)
    assert os.listdir(tmp_path) == [f"neuron.{fmt}"]  # no temporary or .gv file left behind


@needs_dot
def test_draw_keeps_matching_extension_and_mode(tmp_path):
    o, _ = neuron()
    target = tmp_path / "graph.png"
    target.write_bytes(b"old")
    target.chmod(0o640)
    assert draw(o, str(target)) == str(target)
    assert target.read_bytes().startswith(PNG_MAGIC)
    assert target.stat().st_mode & 0o777 == 0o640
    assert os.listdir(tmp_path) == ["graph.png"]


@needs_dot
def test_draw_passes_to_dot_options(tmp_path):
    o, _ = neuron()
    svg = Path(draw(o, tmp_path / "g", format="svg", show_grad=False)).read_bytes()
    texts = svg_texts(svg)
    assert "data 0.7071" in texts and not any(t.startswith("grad") for t in texts)


@needs_dot
@pytest.mark.parametrize(("name", "magic"), [("g.svg", b"<?xml"), ("g.PDF", b"%PDF"), ("g.png", PNG_MAGIC)])
def test_draw_takes_the_format_from_the_extension(tmp_path, name, magic):
    o, _ = neuron()
    assert draw(o, tmp_path / name) == str(tmp_path / name)
    assert (tmp_path / name).read_bytes().startswith(magic)
    assert os.listdir(tmp_path) == [name]


@needs_dot
def test_draw_without_a_format_extension_appends_the_format(tmp_path):
    o, _ = neuron()
    assert draw(o, tmp_path / "run.v2") == str(tmp_path / "run.v2.png")
    assert draw(o, tmp_path / "run.v2", format="svg") == str(tmp_path / "run.v2.svg")
    assert draw(o, tmp_path / "same.svg", format="svg") == str(tmp_path / "same.svg")


@pytest.mark.parametrize(("name", "fmt", "message"), [
    ("g.svg", "png", "ends in .svg but format='png'"),
    ("g.png", "pdf", "ends in .png but format='pdf'"),
    ("g.gif", None, "cannot write a .gif file; the formats are png, svg, pdf"),
    ("g.html", None, "cannot write a .html file"),
])
def test_draw_extension_that_contradicts_the_format_is_value_error(tmp_path, name, fmt, message):
    o, _ = neuron()
    with pytest.raises(ValueError, match=re.escape(message)):
        draw(o, tmp_path / name, format=fmt)
    assert os.listdir(tmp_path) == []


def test_draw_bad_format_is_value_error(tmp_path):
    o, _ = neuron()
    with pytest.raises(ValueError, match="format must be one of png, svg, pdf, got 'jpg'"):
        draw(o, tmp_path / "g", format="jpg")
    with pytest.raises(TypeError, match="path must be a str or os.PathLike, got int"):
        draw(o, 3)
    assert os.listdir(tmp_path) == []


def test_draw_without_dot_explains_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    o, _ = neuron()
    with pytest.raises(RuntimeError) as info:
        draw(o, tmp_path / "g")
    message = str(info.value)
    assert "`dot`" in message
    for hint in ("apt-get install graphviz", "brew install graphviz", "conda install graphviz"):
        assert hint in message
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert os.listdir(tmp_path) == []


@needs_dot
def test_draw_missing_directory_names_the_path(tmp_path):
    o, _ = neuron()
    with pytest.raises(OSError, match="cannot write .*nowhere"):
        draw(o, tmp_path / "nowhere" / "g.png")


# -- notebooks ---------------------------------------------------------------------------------

@needs_dot
def test_repr_mimebundle_small_graph_is_svg():
    o, _ = neuron()
    bundle = o._repr_mimebundle_()
    assert bundle["text/plain"] == repr(o)
    assert "<svg" in bundle["image/svg+xml"] and "tanh" in bundle["image/svg+xml"]
    assert set(o._repr_mimebundle_(include={"text/plain"})) == {"text/plain"}
    assert set(o._repr_mimebundle_(exclude={"image/svg+xml"})) == {"text/plain"}


def test_repr_mimebundle_large_graph_is_text():
    x = Value(1.0)
    y = x
    for _ in range(NOTEBOOK_MAX_NODES):
        y = -y
    assert y._repr_mimebundle_() == {"text/plain": repr(y)}


def test_repr_mimebundle_without_dot_is_text(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    o, _ = neuron()
    assert o._repr_mimebundle_() == {"text/plain": repr(o)}
