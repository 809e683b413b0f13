"""Computation graphs as pictures: DOT source (to_dot), image files (draw), notebook display."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .engine import topological_order
from .files import write_atomic
from .value import Value

if TYPE_CHECKING:  # graphviz is imported lazily at run time: `import autograd` stays light
    import graphviz  # type: ignore[import-untyped]  # the package ships no type hints

FORMATS = ("png", "svg", "pdf")
RANKDIRS = ("LR", "RL", "TB", "BT")
NOTEBOOK_MAX_NODES = 150
"""Graphs with more Values than this are shown as text in notebooks (an SVG would be unreadable)."""

INSTALL_DOT = (
    "install Graphviz, which provides it: `apt-get install graphviz` (Debian/Ubuntu), "
    "`brew install graphviz` (macOS) or `conda install graphviz` (conda); "
    "to_dot() works without it and its .source can be rendered elsewhere"
)
"""How to get the `dot` program: the one install hint every message about it uses."""

DOT_TIMEOUT = 8.0
"""Seconds a Graphviz layout may take before :func:`render_bytes` gives up with a clear error."""

HUB_FAN_OUT = 12
"""A Value feeding more ops than this is drawn once per use (see :func:`to_dot`): one node with
hundreds of edges keeps `dot` busy for minutes (a flat 300-term sum took over 5 minutes)."""

# |grad| colour scale: levels 1..6 of the ColorBrewer "blues9" scheme (black text stays readable).
_COLORSCHEME = "blues9"
_LEVELS = 6
_NONFINITE_COLOR = "#f4a3a3"  # nan or inf gradient
_CLUSTER_COLORS = ("#c0392b", "#27ae60", "#8e44ad", "#d35400", "#2c3e50", "#16a085")


# -- layout: every placement choice lives here ---------------------------------------------------
#
# What made the pictures readable (tried on docs/mlp.png and docs/backprop_graph.png):
# * nodes are declared parents-first, leaves first (inputs, then parameters in the module's
#   order), and `ordering=in` keeps each op's inputs in that order, so neurons and weights
#   appear top to bottom as numbered and edges into an op do not cross each other;
# * `newrank` lets the inputs of a module picture share the first column although the
#   parameters sit in per-neuron boxes further right ("parameters beside their neuron");
# * `size` caps a picture at 100 x 100 inches (scaled down beyond): bitmaps of long chains
#   would otherwise take Graphviz half a minute and be too big to look at;
# * edge labels are real `label`s: dot reserves space for them (a virtual node), so they never
#   overprint each other, unlike `headlabel`/`xlabel`, which are placed after layout (tried on
#   the edges into a box, and again for docs/mlp.png: the numbers piled up at the op's circle);
# * an edge entering a box from outside (an input, or a layer's output going into the next
#   layer) ends at an invisible point inside the box, in the column of the box's parameters,
#   and a short labelled edge goes on from there to the op (_Inputs.add).  dot keeps edges
#   from outside out of a box's columns: without the point an input's edge ran round the whole
#   layer and came into the op from below, its label far from its head, and the inputs sank
#   to the bottom of the first column.  The points are declared in the op's input order
#   (w0, w1, x0, x1, b), so they sit among the parameters where `ordering=in` wants them;
# * an input of the first column that enters no box spans two columns (BOX_ENTRY_EDGE_ATTRS):
#   the parameters get a column of their own between the inputs and their op; so in a picture
#   drawn top to bottom (the backprop demo) the inputs form the first row, the weights the
#   second, and no edge runs along the bottom of a row of boxes;
# * op circles have one size: 0.6 inch at least, and a long name (sigmoid) gets a smaller font
#   so that it fits, instead of a circle three times as wide.  Not `fixedsize`: a caller that
#   enlarges the font (animate.py's frames) gets circles that grow around the text rather than
#   text running out of them;
# * a wider nodesep (0.4 inch, from 0.25) keeps the labels of two edges into one op apart and
#   edge labels next to a box off its dashed border;
# * the legend hangs after the root on an invisible edge: on its own it was a separate
#   component, which dot packed beside the graph, in the middle of the inputs' column.
GRAPH_ATTRS = {"newrank": "true", "size": "100,100", "nodesep": "0.4", "ranksep": "0.3", "ordering": "in",
               "pad": "0.15"}
BOX_ENTRY_EDGE_ATTRS = {"minlen": "2"}
NODE_ATTRS = {"fontname": "Helvetica", "fontsize": "12", "height": "0.3"}
EDGE_ATTRS = {"fontname": "Helvetica", "fontsize": "11", "fontcolor": "#a04000", "color": "#777777",
              "arrowsize": "0.7"}
OP_NODE_ATTRS = {"shape": "circle", "width": "0.6", "margin": "0.02"}
OP_FONT_SIZES = {1: "12", 2: "12", 3: "12", 4: "12", 5: "11", 6: "10", 7: "9", 8: "8"}
"""Font size by the op name's length: every rule-table name fits the 0.6-inch circle, so every op has one size."""
PORT_ATTRS = {"shape": "point", "width": "0.01", "style": "invis"}
CLUSTER_ATTRS = {"style": "rounded,dashed", "fontname": "Helvetica", "fontsize": "13", "margin": "6"}


def _import_graphviz() -> Any:
    try:
        import graphviz
    except ImportError as exc:
        raise ImportError(
            "autograd.render needs the graphviz Python package: `pip install graphviz` "
            "(plus the `dot` program to make images: " + INSTALL_DOT + ")"
        ) from exc
    return graphviz


# -- text ---------------------------------------------------------------------------------

def format_number(x: float, *, digits: int = 4) -> str:
    """``x`` with ``digits`` significant digits; ``inf``, ``-inf`` and ``nan`` spelled out."""
    if x != x:
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{digits}g}"


def _escape_char(ch: str) -> str:
    # Control characters would break the image (or the SVG's XML): show them as \xNN.
    code = ord(ch)
    if code < 32 or code == 127:
        return f"\\\\x{code:02x}"
    return ch


def escape_label(text: str, *, record: bool = False) -> str:
    """``text`` as a literal Graphviz label: the one escaping path of every text that reaches DOT.

    Value labels, op names, box titles and notes all pass through here (edge labels are our own
    numbers), then through :func:`_quoted`, which writes the DOT string literal (it escapes
    double quotes), so no label can end the string and add attributes (``q" URL=<...>`` stays
    text).
    Graphviz's escString gives backslashes meaning and Graphviz decodes HTML entities in every
    label, so ``\\`` is doubled and ``&`` is written as an entity; control characters become
    ``\\xNN`` text (they would break the image or the SVG's XML).  ``record=True`` is for a field of a
    record label: ``{ } | < >`` are escaped too, and spaces become ``&#32;`` because the record
    parser drops a space that follows a non-ASCII character.
    """
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == "&":
            out.append("&amp;")
        elif ch == "\n":
            out.append("\\n")
        elif record and ch in "{}|<>":
            out.append("\\" + ch)
        elif record and ch == " ":
            out.append("&#32;")
        else:
            out.append(_escape_char(ch))
    return "".join(out)


# -- which Values are drawn, in which order ---------------------------------------------------

def _nearest_nodes(root: Value, max_nodes: int) -> tuple[set[Value], int]:
    """The ``max_nodes`` Values nearest ``root`` (breadth first) and the number of all Values."""
    drawn = {root}
    seen = {root}
    queue = deque((root,))
    while queue:
        node = queue.popleft()
        for parent in node.parents:
            if parent not in seen:
                seen.add(parent)
                if len(drawn) < max_nodes:
                    drawn.add(parent)
                queue.append(parent)
    return drawn, len(seen)


def _drawing_order(root: Value, drawn: set[Value], names: dict[Value, str]) -> list[Value]:
    """The drawn Values parents-first: inputs, then parameters in the module's order, then ops."""
    order = [node for node in topological_order(root, include_leaves=True) if node in drawn]
    rank = {parameter: i for i, parameter in enumerate(names)}
    leaves = [node for node in order if not node.parents]
    inputs = [node for node in leaves if node not in rank]
    parameters = sorted((node for node in leaves if node in rank), key=rank.__getitem__)
    return inputs + parameters + [node for node in order if node.parents]


# -- nn modules ------------------------------------------------------------------------------

def _parameter_names(module: Any) -> dict[Value, str]:
    named = getattr(module, "named_parameters", None)
    if not callable(named):
        raise TypeError(
            f"to_dot(): module must have a named_parameters() method (an nn.Module), "
            f"got {type(module).__name__}"
        )
    names: dict[Value, str] = {}
    for item in named():
        try:
            name, parameter = item
        except (TypeError, ValueError):
            raise TypeError(
                f"to_dot(): {type(module).__name__}.named_parameters() must yield (name, Value) pairs, "
                f"got {item!r:.80}"
            ) from None
        if not isinstance(parameter, Value) or not isinstance(name, str):
            raise TypeError(
                f"to_dot(): {type(module).__name__}.named_parameters() must yield (str, Value) pairs, "
                f"got ({type(name).__name__}, {type(parameter).__name__})"
            )
        names.setdefault(parameter, name)
    return names


def _module_path(name: str) -> str:
    """``layer0.neuron3.w2`` -> ``layer0.neuron3``; a name without a dot belongs to the module itself."""
    return name.rsplit(".", 1)[0] if "." in name else ""


def _assign_clusters(order: list[Value], names: dict[Value, str]) -> dict[Value, str]:
    """The module path (box) of every drawn Value that belongs to a submodule.

    A parameter belongs to its submodule (``layer0.neuron3``); an interior node belongs to
    the latest submodule whose parameter it uses directly, or to the box of all of its inputs
    when they share one.  So a neuron's box holds its weights, the op made from them and the
    activation on top; a loss comparing the output with a target stays outside.
    """
    number: dict[str, int] = {}
    for name in names.values():
        number.setdefault(_module_path(name), len(number))
    cluster: dict[Value, str] = {}
    for node in order:  # parents first, so a node's inputs are assigned before it
        parents = node.parents
        if not parents:
            if node in names:
                cluster[node] = _module_path(names[node])
            continue
        direct = [_module_path(names[p]) for p in parents if p in names]
        if direct:
            cluster[node] = max(direct, key=number.__getitem__)
            continue
        inherited = {cluster.get(p) for p in parents}
        if len(inherited) == 1:
            only = inherited.pop()
            if only is not None:
                cluster[node] = only
    return cluster


# -- one picture's parts ------------------------------------------------------------------------

@dataclass
class _Node:
    name: str
    label: str
    attrs: dict[str, str]
    cluster: str | None = None  # module path of the box it is drawn in


@dataclass
class _Edge:
    tail: str
    head: str
    attrs: dict[str, str]
    child: Value | None = None  # for an input edge: the Value computed ...
    position: int = -1  # ... and which of its parents this edge brings


@dataclass
class _Parts:
    """Everything one picture shows, before it is written as DOT (animate.py restyles it)."""

    rankdir: str
    nodes: list[_Node] = field(default_factory=list)
    edges: list[_Edge] = field(default_factory=list)
    names: dict[Value, str] = field(default_factory=dict)  # drawn Value -> its DOT node name
    first_column: list[str] = field(default_factory=list)  # inputs drawn in the leftmost rank
    copies: dict[str, list[str]] = field(default_factory=dict)  # a hub Value's node name -> its copies
    cluster_labels: dict[str, str] = field(default_factory=dict)


def _check_options(root: Any, rankdir: Any, max_nodes: Any, digits: Any, where: str) -> None:
    if not isinstance(root, Value):
        raise TypeError(f"{where}(): root must be a Value, got {type(root).__name__}")
    if rankdir not in RANKDIRS:
        raise ValueError(f"{where}(): rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    if not isinstance(max_nodes, int) or isinstance(max_nodes, bool) or max_nodes < 1:
        raise ValueError(f"{where}(): max_nodes must be an int >= 1, got {max_nodes!r}")
    if not isinstance(digits, int) or isinstance(digits, bool) or not 1 <= digits <= 17:
        raise ValueError(f"{where}(): digits must be an int from 1 to 17, got {digits!r}")


def _number(x: Any) -> float:
    return x.data if isinstance(x, Value) else float(x)  # grads are Values after create_graph=True


def _fill(grad: float, scale: float) -> dict[str, str]:
    if not math.isfinite(grad):
        return {"fillcolor": _NONFINITE_COLOR}
    level = 1 if scale == 0.0 else 1 + round((_LEVELS - 1) * abs(grad) / scale)
    return {"fillcolor": str(level), "colorscheme": _COLORSCHEME}


_INFIX = {"+": " + ", "-": " - ", "*": "*", "/": "/"}
_DERIVED_NAME_LENGTH = 16


def _derived_names(order: list[Value], shown: dict[Value, str]) -> dict[Value, str]:
    """Names for unlabelled products, sums and differences of named Values: ``w1*x1``, ``w1*x1 + w2*x2``.

    Only where every input has a name and the result stays short: a name the reader can
    check against the expression, never a long formula.
    """
    derived: dict[Value, str] = {}
    for node in order:
        if node in shown or node.op not in _INFIX or len(node.parents) != 2:
            continue
        a, b = (shown.get(p) or derived.get(p) for p in node.parents)
        if not a or not b:
            continue
        if node.op in "*/":  # a product of sums needs brackets
            a, b = (f"({t})" if " " in t else t for t in (a, b))
        elif node.op == "-" and " " in b:
            b = f"({b})"
        name = a + _INFIX[node.op] + b
        if len(name) <= _DERIVED_NAME_LENGTH:
            derived[node] = name
    return derived


def _legend_text(show_grad: bool, show_local_grads: bool, scale: float, any_nonfinite: bool, digits: int) -> str:
    lines = []
    if show_grad:
        if scale == 0.0:
            lines.append("colour: |grad| (all grads are 0: call backward() first)")
        else:
            lines.append(f"colour: |grad|, white = 0 ... dark blue = {format_number(scale, digits=digits)}")
        if any_nonfinite:
            lines.append("red: grad is nan or inf")
    if show_local_grads:
        lines.append("edge label: local derivative d(out)/d(in)")
        lines.append("chain rule: grad(in) += grad(out) * edge label")
    # \l ends a left-justified line in Graphviz labels.
    return "".join(escape_label(line) + "\\l" for line in lines)


def _value_record(label: str, data: float, grad: float | None, digits: int, *, stacked: bool = False) -> str:
    """A record: label, data, grad side by side; ``stacked`` puts them one above the other in LR graphs."""
    fields = [escape_label(label, record=True)] if label else []
    fields.append("data " + format_number(data, digits=digits))
    if grad is not None:
        fields.append("grad " + format_number(grad, digits=digits))
    # In a record, braces turn the fields across the rank direction; without them they run along it.
    return " | ".join(fields) if stacked else "{ " + " | ".join(fields) + " }"


def _shown_labels(order: list[Value], names: dict[Value, str], cluster: dict[Value, str]) -> dict[Value, str]:
    """Each Value's text label: its own, else its module name (without the prefix of its box)."""
    shown: dict[Value, str] = {}
    for node in order:
        name = names.get(node)
        if node.label and node.label != name:
            shown[node] = node.label
        elif name is not None:  # nn labels parameters with their names: those are shortened in a box too
            path = cluster.get(node, "")
            shown[node] = name[len(path) + 1:] if path and name.startswith(path + ".") else name
    return shown


def _module_inputs(
    order: list[Value], names: dict[Value, str], module_of: dict[Value, str], node_names: dict[Value, str]
) -> list[str]:
    """The module's inputs, drawn in the first column: leaves outside the module all of whose
    consumers are inside it (x0, x1; not the target the loss compares with)."""
    if not names:
        return []
    consumers: dict[Value, list[Value]] = {}
    for node in order:
        for parent in node.parents:
            consumers.setdefault(parent, []).append(node)
    return [node_names[node] for node in order
            if not node.parents and node not in names and consumers.get(node)
            and all(c in module_of for c in consumers[node])]


def _fan_out(order: list[Value]) -> dict[Value, int]:
    count: dict[Value, int] = {}
    for node in order:
        for parent in node.parents:
            count[parent] = count.get(parent, 0) + 1
    return count


def _enters_box(tail_box: str | None, head_box: str | None) -> bool:
    """Whether an edge from a node in ``tail_box`` to an op in ``head_box`` crosses into that box."""
    return head_box is not None and (tail_box is None or not (tail_box == head_box or _inside(tail_box, head_box)))


@dataclass
class _Inputs:
    """Draws the edges from an op's inputs into it (and the ports of edges that enter a box)."""

    hubs: set[Value]
    first_column: set[str]
    cluster: dict[Value, str]
    show_local_grads: bool
    digits: int
    uses: dict[Value, int] = field(default_factory=dict)  # copies of each hub handed out so far
    missing: list[str] = field(default_factory=list)  # ops with an input that is not drawn
    ports: list[tuple[_Node, str | None]] = field(default_factory=list)  # (port, node to declare it before)

    def add(self, parts: _Parts, node: Value) -> None:
        op_name = parts.names[node] + "op"
        box = self.cluster.get(node)
        enters = [_enters_box(self.cluster.get(parent), box) for parent in node.parents]
        for position, (parent, local) in enumerate(zip(node.parents, node.local_grads)):
            tail = parts.names.get(parent)
            if tail is None:
                self.missing.append(op_name)
                continue
            if parent in self.hubs:
                tail = parts.copies[tail][self.uses.get(parent, 0)]
                self.uses[parent] = self.uses.get(parent, 0) + 1
            attrs = {"label": format_number(_number(local), digits=self.digits)} if self.show_local_grads else {}
            if enters[position]:
                # The edge ends at a point inside the box, in the column of the box's parameters, and
                # goes on to the op from there: dot keeps edges from outside out of a box's columns, so
                # without the point it ran round the box and entered the op from below.
                port = f"{op_name}in{position}"
                later = [parts.names.get(p) for p, e in zip(node.parents[position + 1:], enters[position + 1:])
                         if not e]
                self.ports.append((_Node(port, "", dict(PORT_ATTRS), box), next(filter(None, later), None)))
                parts.edges.append(_Edge(tail, port, {"arrowhead": "none"}))
                tail = port
            elif tail in self.first_column:
                attrs.update(BOX_ENTRY_EDGE_ATTRS)
            parts.edges.append(_Edge(tail, op_name, attrs, node, position))


def _declare_ports(nodes: list[_Node], ports: list[tuple[_Node, str | None]]) -> list[_Node]:
    """``nodes`` with each port declared just before its anchor: with ``ordering=in`` the ports then
    sit among the box's parameters in the op's input order (w0, w1, x0, x1, b)."""
    before: dict[str | None, list[_Node]] = {}
    for port, anchor in ports:
        before.setdefault(anchor, []).append(port)
    declared: list[_Node] = []
    for node in nodes:
        declared.extend(before.pop(node.name, ()))
        declared.append(node)
    return declared + [port for left in before.values() for port in left]


def _graph_parts(
    root: Value, *, show_grad: bool, show_local_grads: bool, rankdir: str, max_nodes: int,
    module: Any, cluster_by_module: bool, legend: bool, digits: int,
    grads: dict[Value, float] | None = None, scale: float | None = None,
) -> _Parts:
    """The picture's nodes and edges; ``grads`` and ``scale`` replace ``.grad`` and the colour scale
    (animate_backward draws the grads of each step against the final scale)."""
    names = _parameter_names(module) if module is not None else {}
    drawn, total = _nearest_nodes(root, max_nodes)
    order = _drawing_order(root, drawn, names)
    module_of = _assign_clusters(order, names)
    cluster = module_of if cluster_by_module else {}
    shown = _shown_labels(order, names, cluster)
    shown.update(_derived_names(order, shown))
    grads = {node: _number(node.grad) if grads is None else grads.get(node, 0.0) for node in order}
    scale = max((abs(g) for g in grads.values() if math.isfinite(g)), default=0.0) if scale is None else scale
    fan_out = _fan_out(order)
    # A network's layers are tall columns of parameters: stacked records keep such a picture half as wide.
    stacked = module is not None and rankdir in ("LR", "RL")

    parts = _Parts(rankdir=rankdir)
    parts.names = {node: f"v{i}" for i, node in enumerate(order)}
    hubs = {node for node, count in fan_out.items() if count > HUB_FAN_OUT}
    parts.first_column = _module_inputs(order, names, module_of, parts.names)
    inputs = _Inputs(hubs, set(parts.first_column), cluster, show_local_grads, digits)
    for node in order:
        label = _value_record(shown.get(node, ""), node.data, grads[node] if show_grad else None, digits,
                              stacked=stacked)
        _add_node(parts, node, label, grads[node], scale if show_grad else None, cluster.get(node),
                  fan_out[node] if node in hubs else 0)
        if node.parents:
            inputs.add(parts, node)
    parts.nodes = _declare_ports(parts.nodes, inputs.ports)
    if total > len(drawn):
        _add_more_note(parts, total - len(drawn), total, max_nodes, inputs.missing)
    if cluster_by_module:
        parts.cluster_labels = {path: path.rsplit(".", 1)[-1] or type(module).__name__
                                for path in set(cluster.values())}
    if legend and (show_grad or show_local_grads):
        any_nonfinite = any(not math.isfinite(g) for g in grads.values())
        _add_legend(parts, parts.names[root], _legend_text(show_grad, show_local_grads, scale, any_nonfinite, digits))
    return parts


def _add_node(
    parts: _Parts, node: Value, label: str, grad: float, scale: float | None, cluster: str | None, copies: int
) -> None:
    """One Value's record (or, for a hub used ``copies`` times, one dashed copy per use) and its op circle.

    ``scale`` is the colour scale of the grads, None when grads are not shown."""
    name = parts.names[node]
    attrs = {"shape": "record", **({"style": "filled", **_fill(grad, scale)} if scale is not None else {})}
    if not node.parents:
        attrs["penwidth"] = "1.6"  # leaves (inputs, parameters) get a heavier outline
    if copies:  # drawn beside each op that uses it, dashed: a chain instead of a hub
        attrs["style"] = "filled,dashed" if scale is not None else "dashed"
        parts.copies[name] = [f"{name}c{k}" for k in range(copies)]
        parts.nodes.extend(_Node(copy, label, attrs, cluster) for copy in parts.copies[name])
    else:
        parts.nodes.append(_Node(name, label, attrs, cluster))
    if node.parents:
        op_attrs = {**OP_NODE_ATTRS, "fontsize": OP_FONT_SIZES.get(len(node.op), "6")}
        parts.nodes.append(_Node(name + "op", escape_label(node.op), op_attrs, cluster))
        # An op whose result is a hub feeds its first copy: the bare name is never declared (a stray ellipse).
        parts.edges.append(_Edge(name + "op", parts.copies[name][0] if copies else name, {}))


def _add_more_note(parts: _Parts, hidden: int, total: int, max_nodes: int, missing: list[str]) -> None:
    """The note standing for the Values not drawn, with a dashed edge into each op that lost an input."""
    parts.nodes.append(_Node(
        "more", escape_label(f"... {hidden} more Values not drawn\n(max_nodes={max_nodes}, {total} in all)"),
        {"shape": "note", "style": "dashed"}))
    parts.edges.extend(_Edge("more", op_name, {"style": "dashed"}) for op_name in dict.fromkeys(missing))


def _add_legend(parts: _Parts, root_name: str, text: str) -> None:
    parts.nodes.append(_Node("legend", text, {"shape": "note", "fontsize": "10", "color": "#999999",
                                              "fontcolor": "#444444"}))
    # Tied to the root by an invisible edge: on its own it was a separate component, which dot
    # packed beside the graph (in the middle of the inputs' column); now it sits after the root.
    parts.edges.append(_Edge(root_name, "legend", {"style": "invis"}))


# -- DOT text -----------------------------------------------------------------------------------
# Statements are written straight into the Digraph's body: graphviz.Digraph.node() quotes
# every attribute through regexes and made 10**5-node graphs five times slower.  Names are
# ours (v12, v12op) and labels are escaped above, so only double quotes need escaping here.

def _quoted(text: str) -> str:
    return '"' + text.replace('"', '\\"') + '"'


def _attr_list(attrs: dict[str, str]) -> str:
    return " ".join(f"{key}={_quoted(value)}" for key, value in attrs.items())


def _node_line(node: _Node) -> str:
    return f"\t{node.name} [label={_quoted(node.label)} {_attr_list(node.attrs)}]\n"


def _edge_line(edge: _Edge) -> str:
    if edge.attrs:
        return f"\t{edge.tail} -> {edge.head} [{_attr_list(edge.attrs)}]\n"
    return f"\t{edge.tail} -> {edge.head}\n"


def _cluster_lines(parts: _Parts) -> list[str]:
    """Nodes declared inside nested boxes: ``layer0`` holds ``layer0.neuron0``, which holds its nodes."""
    members: dict[str | None, list[_Node]] = {}
    for node in parts.nodes:
        members.setdefault(node.cluster, []).append(node)
    seen: dict[str, int] = {}  # every box and its enclosing boxes, in order of first appearance
    for path in members:
        if path is not None:
            pieces = path.split(".") if path else [""]
            for depth in range(1, len(pieces) + 1):
                seen.setdefault(".".join(pieces[:depth]), len(seen))
    # Outer boxes before inner ones, and a box's inner boxes together: sort by the path of first appearances.
    boxes = sorted(seen, key=lambda path: [seen[".".join(path.split(".")[:d])] for d in range(1, path.count(".") + 2)])
    lines = [_node_line(node) for node in members.get(None, [])]
    open_boxes: list[str] = []
    for number, path in enumerate(boxes):
        while open_boxes and not _inside(path, open_boxes[-1]):
            open_boxes.pop()
            lines.append("\t}\n")
        colour = _CLUSTER_COLORS[len(open_boxes) % len(_CLUSTER_COLORS)] if open_boxes else _CLUSTER_COLORS[0]
        label = parts.cluster_labels.get(path) or path.rsplit(".", 1)[-1] or "module"
        attrs = {**CLUSTER_ATTRS, "label": escape_label(label), "color": colour, "fontcolor": colour}
        lines.append(f"\tsubgraph cluster_{number} {{\n")
        lines.extend(f"\t\t{key}={_quoted(value)}\n" for key, value in attrs.items())
        lines.extend(_node_line(node) for node in members.get(path, []))
        open_boxes.append(path)
    lines.extend("\t}\n" for _ in open_boxes)
    return lines


def _inside(path: str, box: str) -> bool:
    return box == "" or path.startswith(box + ".")


def _write_dot(parts: _Parts) -> graphviz.Digraph:
    graphviz = _import_graphviz()
    graph = graphviz.Digraph("computation_graph")
    graph.attr(rankdir=parts.rankdir, **GRAPH_ATTRS)
    if parts.first_column:
        graph.attr(remincross="false")  # keeps neurons and weights in module order after clustering
    graph.attr("node", **NODE_ATTRS)
    graph.attr("edge", **EDGE_ATTRS)
    graph.body.extend(_cluster_lines(parts))
    if parts.first_column:
        graph.body.append("\t{rank=min; " + "; ".join(parts.first_column) + "}\n")
    graph.body.extend(_edge_line(edge) for edge in parts.edges)
    return graph


def to_dot(
    root: Value,
    *,
    show_grad: bool = True,
    show_local_grads: bool = True,
    rankdir: str = "LR",
    max_nodes: int = 500,
    module: Any = None,
    cluster_by_module: bool = False,
    legend: bool = True,
    digits: int = 4,
) -> graphviz.Digraph:
    """The computation graph that produced ``root`` as a ``graphviz.Digraph``.

    One record per Value (label, data, grad), one small node per operation, edges from
    inputs to outputs labelled with the local derivative of the rule table
    (``show_local_grads``).  A Value feeding more than :data:`HUB_FAN_OUT` ops is drawn as a
    dashed copy beside each of them, which keeps the layout fast and readable.  Unlabelled products, sums and
    differences of named Values are named after them (``w1*x1``).  Values are filled by
    |grad| relative to the largest drawn |grad| (explained in a legend).  Only the
    ``max_nodes`` Values nearest ``root`` are drawn; the rest become one "... k more Values"
    node.  ``module`` (anything with ``named_parameters()``, e.g. an ``nn.MLP``) names
    unlabelled parameter leaves and puts the other inputs in the first column;
    ``cluster_by_module`` boxes each submodule (layer, and neuron inside it) with its
    parameters and the nodes computed from them.  The ``.source`` needs no ``dot`` program;
    rendering it (``draw``) does.
    """
    _check_options(root, rankdir, max_nodes, digits, "to_dot")
    if cluster_by_module and module is None:
        raise ValueError("to_dot(): cluster_by_module=True needs module= (an object with named_parameters())")
    parts = _graph_parts(
        root, show_grad=show_grad, show_local_grads=show_local_grads, rankdir=rankdir, max_nodes=max_nodes,
        module=module, cluster_by_module=cluster_by_module, legend=legend, digits=digits,
    )
    return _write_dot(parts)


def draw_dot(root: Value, format: str = "svg", rankdir: str = "LR", **to_dot_options: Any) -> graphviz.Digraph:  # noqa: A002
    """:func:`to_dot` under the micrograd lecture's name and call shape.

    The lecture's ``draw_dot(root, format='svg', rankdir='LR')`` returns a Digraph whose
    ``render()`` writes that format; the same call works here, and every :func:`to_dot`
    option is accepted too.
    """
    graph = to_dot(root, rankdir=rankdir, **to_dot_options)
    graph.format = format  # graphviz validates the name and raises ValueError for unknown ones
    return graph


# -- running Graphviz ------------------------------------------------------------------------------

def run_graphviz(
    source: str, format: str, *, engine: str = "dot", options: tuple[str, ...] = (),  # noqa: A002
    where: str = "draw", timeout: float = DOT_TIMEOUT,
) -> bytes:
    """Run a Graphviz program on DOT ``source``; RuntimeError saying how to install it, or what failed.

    The layout is bounded: after ``timeout`` seconds the program is stopped and a RuntimeError
    says so (a picture that takes longer would be unreadable anyway).
    """
    program = shutil.which(engine)
    if program is None:
        raise RuntimeError(f"{where}(): the Graphviz `{engine}` program is not installed (not on PATH); {INSTALL_DOT}")
    try:
        done = subprocess.run([program, "-T" + format, *options], input=source.encode("utf-8"),
                              capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise RuntimeError(
            f"{where}(): Graphviz `{engine}` did not finish laying out the graph within {timeout:g} s; "
            "draw fewer Values (max_nodes=...) or without edge labels (show_local_grads=False)"
        ) from None
    if done.returncode != 0:
        stderr = done.stderr.decode(errors="replace").strip()
        raise RuntimeError(f"{where}(): `{engine}` failed to render {format}: {stderr}")
    return done.stdout


def render_bytes(graph: graphviz.Digraph, format: str, *, where: str = "draw") -> bytes:  # noqa: A002
    """Run ``dot`` on ``graph`` (bounded by :data:`DOT_TIMEOUT`); RuntimeError if it is missing or fails."""
    return run_graphviz(graph.source, format, where=where)


def output_path(path: str | os.PathLike[str], format: str, where: str) -> str:  # noqa: A002
    """``path`` as text with ``.format`` appended unless it already ends with it; TypeError naming ``where``."""
    target = _path_text(path, where)
    if not target.lower().endswith("." + format):
        target += "." + format
    return target


def _path_text(path: Any, where: str) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{where}: path must be a str or os.PathLike, got {type(path).__name__}")
    target = os.fspath(path)
    if not isinstance(target, str):
        raise TypeError(f"{where}: path must be a text path, got {type(target).__name__}")
    return target


def _file_path_text(path: Any, where: str, example: str) -> str:
    """``path`` as text for a file to write; ValueError, suggesting ``example``, when empty or a directory."""
    target = _path_text(path, where)
    if not target.strip():
        raise ValueError(f"{where}: path is empty; give a file name such as {example!r}")
    if target.endswith(("/", os.sep)) or os.path.isdir(target):
        raise ValueError(f"{where}: path {target!r} is a directory; give a file name such as {example!r}")
    return target


# Extensions that name a file format: a path ending in one of these says what it wants written.
_FORMAT_EXTENSIONS = frozenset({"png", "svg", "pdf", "gif", "html", "htm", "jpg", "jpeg", "webp", "bmp", "tif",
                                "tiff", "eps", "ps", "gv", "dot", "json", "txt", "mp4"})


def format_of_path(
    path: str | os.PathLike[str], format: str | None, formats: tuple[str, ...], where: str,  # noqa: A002
) -> str:
    """The format to write ``path`` in: ``format`` if given, else the path's extension, else ``formats[0]``.

    ValueError naming ``where`` for a format not in ``formats`` (given or taken from the extension)
    and for an extension that contradicts an explicit ``format`` (``"g.svg"`` with ``format="png"``).
    A path without a format extension (``"graph"``, ``"run.v2"``) gets ``.format`` appended by
    :func:`output_path`.
    """
    extension = os.path.splitext(_path_text(path, where))[1][1:].lower()
    named = extension if extension in _FORMAT_EXTENSIONS else None
    if format is None:
        format = named or formats[0]  # noqa: A001
        if format not in formats:
            raise ValueError(f"{where}: cannot write a .{extension} file; the formats are {', '.join(formats)} "
                             f"(taken from the extension), got {str(path)!r}")
    elif format not in formats:
        raise ValueError(f"{where}: format must be one of {', '.join(formats)}, got {format!r}")
    elif named is not None and named != format:
        raise ValueError(f"{where}: the path {str(path)!r} ends in .{extension} but format={format!r}; "
                         f"leave out format= (the extension decides) or make them agree")
    return format


def draw(
    root: Value, path: str | os.PathLike[str], *, format: str | None = None,  # noqa: A002
    **to_dot_options: Any,
) -> str:
    """Write the computation graph of ``root`` as a png, svg or pdf image; return the file's path.

    The format is ``format`` or else the extension of ``path`` (``"g.svg"`` writes SVG); a path
    without one gets ``.png`` (or ``.format``) appended.  An extension that contradicts ``format``
    is a ValueError.  Options are those of :func:`to_dot`.  Needs the Graphviz ``dot`` program.
    """
    format = format_of_path(path, format, FORMATS, "draw()")  # noqa: A001
    target = output_path(path, format, "draw()")
    graph = to_dot(root, **to_dot_options)
    write_atomic(target, render_bytes(graph, format))
    return target


# -- notebooks ---------------------------------------------------------------------------------

def repr_mimebundle(value: Value, *, include: Any = None, exclude: Any = None) -> dict[str, str]:
    """Notebook display of a Value: its graph as SVG when small and `dot` exists, else its repr."""
    bundle = {"text/plain": repr(value)}
    if len(topological_order(value, include_leaves=True)) <= NOTEBOOK_MAX_NODES:
        try:
            svg = render_bytes(to_dot(value), "svg", where="_repr_mimebundle_")
        except (ImportError, RuntimeError):
            pass  # documented: no graphviz or no `dot` means the text repr
        else:
            bundle["image/svg+xml"] = svg.decode("utf-8")
    if include is not None:
        bundle = {k: v for k, v in bundle.items() if k in include}
    if exclude is not None:
        bundle = {k: v for k, v in bundle.items() if k not in exclude}
    return bundle
