"""An explorer page for a graph: step forward and backward, click a node for its chain-rule sum, quiz yourself."""

from __future__ import annotations

import html
import json
import math
import os
from dataclasses import dataclass
from typing import Any

from .engine import gradients, topological_order
from .files import write_atomic
from .render import (
    _derived_names,
    _file_path_text,
    _graph_parts,
    _Parts,
    _shown_labels,
    _value_record,
    _write_dot,
    format_number,
    run_graphviz,
)
from .value import Value

MAX_VALUES = 2_000
"""Largest graph a page shows: beyond this nobody follows it step by step, and the layout takes long."""
LAYOUT_TIMEOUT = 60.0  # seconds `dot` may take for the largest graphs (a 400-Value MLP takes 0.2 s)
PLAY_DELAY_MS = 700  # play: milliseconds per step
DIGITS = 4  # significant digits of the numbers written in the graph (the panel adds the engine's exact ones)
EXTENSIONS = (".html", ".htm")
IFRAME_HEIGHT = 640  # pixels of the notebook display
UNCAPPED = "100000,100000"  # inches: replaces render's 100 x 100 cap on the picture's size


@dataclass(frozen=True)
class Explorer:
    """The page of :func:`explore` without a path: ``.html`` is the file's text; Jupyter shows it inline."""

    html: str
    title: str

    def _repr_html_(self) -> str:
        # An iframe keeps the page's script, style and Content-Security-Policy apart from the notebook's.
        return (f'<iframe title="{html.escape(self.title)}" srcdoc="{html.escape(self.html, quote=True)}" '
                f'sandbox="allow-scripts" style="width: 100%; height: {IFRAME_HEIGHT}px; border: 1px solid #ddd">'
                "</iframe>")

    def save(self, path: str | os.PathLike[str]) -> str:
        """Write the page to ``path`` (``.html`` added when it has no extension); return the path."""
        target = html_path(path, "Explorer.save()")
        return write_atomic(target, self.html)


def html_path(path: Any, where: str) -> str:
    """``path`` as text, ``.html`` appended when it has no extension; ValueError for another extension."""
    target = _file_path_text(path, where, "page.html")
    extension = os.path.splitext(target)[1].lower()
    if not extension:
        return target + ".html"
    if extension not in EXTENSIONS:
        raise ValueError(f"{where}: the page is HTML, so path must end in .html, got {target!r}")
    return target


# -- the numbers: the engine's, step by step ------------------------------------------------------

def _json_number(x: float) -> float | str:
    """JSON has no nan or inf: those travel as the strings JavaScript's Number() reads back."""
    if math.isfinite(x):
        return x
    return "NaN" if x != x else ("Infinity" if x > 0 else "-Infinity")


def _float(x: Any) -> float:
    return float(x.data) if isinstance(x, Value) else float(x)  # local grads are Values after create_graph


def _text(x: float) -> str:
    return format_number(x, digits=DIGITS)


def _check_graph(root: Any, order: list[Value]) -> None:
    if len(order) > MAX_VALUES:
        raise ValueError(
            f"explore(): the graph has {len(order)} Values; a page shows at most {MAX_VALUES}, more cannot be "
            "followed step by step: explore a part of it (an intermediate Value, e.g. one neuron's output) or "
            "collapse modules into fused ops (autograd.dot, autograd.sum, logsumexp make one node of many)"
        )
    for node in order:
        if node.parents and len(node.local_grads) != len(node.parents):
            raise NotImplementedError(
                f"explore(): op {node.op!r} was built micrograd-style with a _backward closure, so it has no local "
                f"derivatives to show; register it as a row with autograd.defop({node.op!r}, forward, local)"
            )


def _backward_steps(root: Value, index: dict[Value, int]) -> list[dict[str, Any]]:
    """One step per op node in backward's order: what it sends to each input and that input's running sum.

    The running sums add the contributions in the order backward() adds them (reverse
    topological order), from the graph's own local derivatives (``Value.local_grads``).
    """
    running = {root: 1.0}
    received: dict[Value, int] = {}
    uses: dict[Value, int] = {}
    interior = topological_order(root)
    for node in interior:
        for parent in node.parents:
            uses[parent] = uses.get(parent, 0) + 1
    steps = []
    for node in reversed(interior):
        upstream = running.get(node, 0.0)
        sends = []
        for position, (parent, local) in enumerate(zip(node.parents, node.local_grads)):
            contribution = upstream * _float(local)
            running[parent] = running.get(parent, 0.0) + contribution
            received[parent] = received.get(parent, 0) + 1
            sends.append({"parent": index[parent], "position": position, "local": _text(_float(local)),
                          "contribution": _json_number(contribution), "contributionText": _text(contribution),
                          "running": _json_number(running[parent]), "runningText": _text(running[parent]),
                          "received": received[parent], "uses": uses[parent]})
        steps.append({"node": index[node], "upstream": _text(upstream), "sends": sends})
    return steps


def _node_records(order: list[Value], names: dict[Value, str], grads: dict[Value, Any]) -> list[dict[str, Any]]:
    index = {node: i for i, node in enumerate(order)}
    records = []
    for node in order:
        grad = _float(grads.get(node, 0.0))
        records.append({
            "name": names[node], "op": node.op if node.parents else "",
            "data": _json_number(node.data), "dataText": _text(node.data), "dataExact": repr(node.data),
            "grad": _json_number(grad), "gradText": _text(grad), "gradExact": repr(grad),
            "parents": [index[p] for p in node.parents],
            "locals": [_text(_float(local)) for local in node.local_grads],
            "terms": [],  # filled from the backward steps: [child, position, child grad, local, contribution]
        })
    return records


def _add_terms(records: list[dict[str, Any]], steps: list[dict[str, Any]]) -> None:
    """Each node's grad as the sum over its children, in the order backward adds the terms."""
    for step in steps:
        for send in step["sends"]:
            records[send["parent"]]["terms"].append({
                "child": step["node"], "position": send["position"], "childGrad": step["upstream"],
                "local": send["local"], "contribution": send["contribution"],
                "contributionText": send["contributionText"],
            })


def _names(order: list[Value]) -> dict[Value, str]:
    """What the page calls each Value: its label, a name derived from named inputs (``w1*x1``), else ``#i``."""
    shown = _shown_labels(order, {}, {})
    shown.update(_derived_names(order, shown))
    return {node: shown.get(node) or f"#{i}" for i, node in enumerate(order)}


# -- the picture: render.py's parts, with ids the page's script finds ------------------------------

def _svg(root: Value, order: list[Value], names: dict[Value, str], grads: dict[Value, Any],
         records: list[dict[str, Any]]) -> str:
    """The graph as inline SVG (graphviz `dot`): every Value, op and edge with an id, no fill by grad."""
    parts = _graph_parts(root, show_grad=True, show_local_grads=True, rankdir="LR", max_nodes=MAX_VALUES,
                         module=None, cluster_by_module=False, legend=False, digits=DIGITS)
    _relabel(parts, order, names, grads)
    index = {parts.names[node]: i for i, node in enumerate(order)}
    owners = {copy: name for name, copies in parts.copies.items() for copy in copies}
    for record in records:
        record.update(svg=[], op_svg=None, edges=[None] * len(record["parents"]), out_edge=None)
    for node in parts.nodes:
        node.attrs = dict(node.attrs)  # a hub's copies share one dict: each needs its own id
        styles = [style for style in node.attrs.get("style", "").split(",") if style and style != "filled"]
        node.attrs.update(id=node.name, fillcolor="white", style=",".join([*styles, "filled"]))
        node.attrs.pop("colorscheme", None)
        owner = owners.get(node.name, node.name)
        if owner in index:
            records[index[owner]]["svg"].append(node.name)
        elif node.name.endswith("op") and node.name[:-2] in index:
            records[index[node.name[:-2]]]["op_svg"] = node.name
    for number, edge in enumerate(parts.edges):
        edge.attrs["id"] = f"e{number}"
        if edge.child is not None:
            records[index[parts.names[edge.child]]]["edges"][edge.position] = f"e{number}"
        elif owners.get(edge.head, edge.head) in index:  # op -> its result (a hub's first copy)
            records[index[owners.get(edge.head, edge.head)]]["out_edge"] = f"e{number}"
    graph = _write_dot(parts)
    graph.attr(size=UNCAPPED)  # the page pans and zooms: never let Graphviz shrink a big graph (and its text)
    svg = run_graphviz(graph.source, "svg", where="explore", timeout=LAYOUT_TIMEOUT).decode("utf-8")
    return svg[svg.index("<svg"):]  # inline: no XML prolog or doctype


def _relabel(parts: _Parts, order: list[Value], names: dict[Value, str], grads: dict[Value, Any]) -> None:
    """Every record with the page's name on top (``#7`` when unnamed) and label, data, grad stacked:
    the panel's names can be found in the graph, and stacked records keep the LR picture half as wide."""
    labels = {parts.names[node]: _value_record(names[node], node.data, _float(grads.get(node, 0.0)), DIGITS,
                                               stacked=True) for node in order}
    owners = {copy: name for name, copies in parts.copies.items() for copy in copies}
    for node in parts.nodes:
        owner = owners.get(node.name, node.name)
        if owner in labels:
            node.label = labels[owner]


# -- the page ---------------------------------------------------------------------------------------
# No network at all: the Content-Security-Policy forbids every request (the icon is an empty data: URL,
# so the browser does not ask for /favicon.ico).  The script writes text only through textContent.

_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"

_STYLE = """
* { box-sizing: border-box; }
html, body { height: 100%; margin: 0; }
body { font: 15px/1.4 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222;
  display: flex; flex-direction: column; }
header { padding: 6px 10px; border-bottom: 1px solid #ddd; display: flex; flex-wrap: wrap; gap: 6px;
  align-items: center; }
header h1 { font-size: 16px; margin: 0 10px 0 0; font-weight: 600; }
button { font: inherit; padding: 3px 9px; border: 1px solid #aaa; border-radius: 4px; background: #f6f6f6;
  cursor: pointer; }
button:hover { background: #eaeaea; } button[aria-pressed="true"] { background: #1f5fa8; color: white; }
#counter { font-variant-numeric: tabular-nums; min-width: 9em; }
/* A fixed height (three lines, then it scrolls): the graph's view keeps its size from step to step. */
#caption { padding: 4px 10px; background: #fbf7ee; border-bottom: 1px solid #eee; height: calc(4.2em + 8px);
  overflow-y: auto; flex: none; }
main { flex: 1; display: flex; min-height: 0; }
#view { flex: 1; position: relative; overflow: hidden; cursor: grab; background: white; touch-action: none; }
#view.dragging { cursor: grabbing; }
#stage { position: absolute; left: 0; top: 0; transform-origin: 0 0; }
#stage svg { display: block; }
/* Graphviz measured the text in Helvetica (or its metric twins): the browser must draw it in one of them. */
#stage svg text { font-family: Helvetica, Arial, "Liberation Sans", "Nimbus Sans", "Nimbus Sans L", sans-serif; }
#panel { width: 360px; border-left: 1px solid #ddd; padding: 8px 12px; overflow: auto; }
#panel h2 { font-size: 17px; margin: 4px 0; } #panel h3 { font-size: 15px; margin: 10px 0 4px; }
#panel ul { margin: 4px 0; padding-left: 1.2em; } #panel .exact { color: #666; font-size: 13px; }
#panel .hint { color: #666; }
#score { margin-left: auto; }
.right { color: #1a7f37; font-weight: 600; } .wrong { color: #c62828; font-weight: 600; }
@media (max-width: 900px) {
  main { flex-direction: column; }
  #panel { width: auto; border-left: none; border-top: 1px solid #ddd; max-height: 42vh; }
}
#panel.empty { display: none; }  /* until a node is clicked the graph has the whole width */
g.node { cursor: pointer; }
g.node.pending text { fill: #999; }
g.node.active > polygon, g.node.active > ellipse, g.node.active > path { stroke: #d62728; stroke-width: 3; }
g.node.forward > polygon, g.node.forward > ellipse { stroke: #1f5fa8; stroke-width: 3; }
g.node.selected > polygon, g.node.selected > path { fill: #fff3c4; }
g.node.quiz-right > polygon { fill: #d5f5dc; } g.node.quiz-wrong > polygon { fill: #fbd3d3; }
g.node text.partial { fill: #b35c00; font-style: italic; }
g.node text.hidden-grad { fill: #999; }
g.edge.active path { stroke: #d62728; stroke-width: 2.5; } g.edge.active polygon { stroke: #d62728; fill: #d62728; }
g.edge.active text { fill: #d62728; font-weight: bold; paint-order: stroke; stroke: white; stroke-width: 4px; }
g.edge.forward path { stroke: #1f5fa8; stroke-width: 2.5; } g.edge.forward polygon { stroke: #1f5fa8; fill: #1f5fa8; }
"""

_BODY = """
<header>
<h1 id="title"></h1>
<button type="button" id="first" title="first step (Home)">|&#x25C0;</button>
<button type="button" id="prev" title="previous step (&#x2190;)">&#x25C0;</button>
<button type="button" id="play" title="play / pause (space)">play</button>
<button type="button" id="next" title="next step (&#x2192;)">&#x25B6;</button>
<button type="button" id="last" title="last step (End)">&#x25B6;|</button>
<span id="counter" aria-live="polite"></span>
<button type="button" id="zoom-in" title="zoom in">+</button>
<button type="button" id="zoom-out" title="zoom out">&#x2212;</button>
<button type="button" id="fit" title="fit the graph to the window (never below readable text)">fit</button>
<button type="button" id="quiz" aria-pressed="false" title="hide the grads and type them yourself">quiz</button>
<span id="score"></span>
</header>
<div id="caption"></div>
<main>
<div id="view"><div id="stage">__SVG__</div></div>
<aside id="panel" class="empty"><p class="hint">Click a node to see its value and its grad as a sum over the
nodes that use it. Keys: &#x2190; &#x2192; step, space play, Home / End.</p></aside>
</main>
"""

_SCRIPT = r"""
(function () {
"use strict";
var D = JSON.parse(document.getElementById("graph-data").textContent);
var MIN_FONT_PX = 10;  // fit never shrinks the smallest text below this
var nodes = D.nodes, F = D.forward.length, B = D.backward.length, LAST = F + 1 + B;
var view = byId("view"), stage = byId("stage"), panel = byId("panel"), svg = stage.querySelector("svg");
var step = 0, timer = null, quiz = false, selected = null, answers = {};
var scale = 1, tx = 0, ty = 0, userMoved = false;

function byId(id) { return document.getElementById(id); }
function num(v) { return typeof v === "string" ? Number(v) : v; }
function name(i) { return nodes[i].name; }
function el(tag, text, parent) {
  var e = document.createElement(tag);
  if (text !== undefined && text !== null) { e.textContent = text; }
  if (parent) { parent.appendChild(e); }
  return e;
}

var groups = nodes.map(function (n) { return n.svg.map(byId).filter(Boolean); });
var nodeOf = {};
nodes.forEach(function (n, i) {
  n.svg.forEach(function (id) { nodeOf[id] = i; });
  if (n.op_svg) { nodeOf[n.op_svg] = i; }
});
var edgeLabels = {};  // edge id -> its label as drawn: text and place
Array.prototype.forEach.call(svg.querySelectorAll("g.edge"), function (g) {
  var t = g.querySelector("text");
  if (t) { edgeLabels[g.id] = { text: t.textContent, x: t.getAttribute("x"), y: t.getAttribute("y") }; }
});
function fieldText(g, fromEnd) { var t = g.querySelectorAll("text"); return t[t.length - fromEnd]; }

// -- the state after each step: 0 inputs, 1..F forward, F+1 the seed, then one backward step per op --
function stateAt(s) {
  var st = { known: [], grad: [], forward: null, backward: null };
  nodes.forEach(function (n) { st.known.push(n.parents.length === 0); st.grad.push(null); });
  for (var k = 0; k < Math.min(s, F); k++) { st.known[D.forward[k]] = true; }
  if (s >= 1 && s <= F) { st.forward = D.forward[s - 1]; }
  if (s >= F + 1) { st.grad[D.root] = { text: nodes[D.root].gradText, done: true }; }
  for (var b = 0; b < s - F - 1; b++) {
    D.backward[b].sends.forEach(function (send) {
      st.grad[send.parent] = { text: send.runningText, done: send.received === send.uses };
    });
  }
  if (s >= F + 2) { st.backward = D.backward[s - F - 2]; }
  return st;
}
function maxStep() { return quiz ? F + 1 : LAST; }
function gradHidden(i) { return quiz && i !== D.root && answers[i] !== "right" && answers[i] !== "revealed"; }

function renderNodes(st) {
  nodes.forEach(function (n, i) {
    var shown = st.grad[i], hidden = gradHidden(i) || !shown;
    groups[i].forEach(function (g) {
      fieldText(g, 2).textContent = st.known[i] ? "data " + n.dataText : "data ?";
      var grad = fieldText(g, 1);
      grad.textContent = hidden ? "grad ?" : "grad " + (shown.done ? n.gradText : shown.text);
      grad.classList.toggle("hidden-grad", hidden);
      grad.classList.toggle("partial", !hidden && !shown.done);
      g.classList.toggle("pending", !st.known[i]);
      g.classList.toggle("selected", selected === i);
      g.classList.toggle("quiz-right", quiz && answers[i] === "right");
      g.classList.toggle("quiz-wrong", quiz && answers[i] === "wrong");
    });
    var active = st.backward !== null && st.backward.node === i, forward = st.forward === i;
    groups[i].concat(n.op_svg ? [byId(n.op_svg)] : []).forEach(function (g) {
      g.classList.toggle("active", active);
      g.classList.toggle("forward", forward);
    });
  });
}

function renderEdges(st) {
  Array.prototype.forEach.call(svg.querySelectorAll("g.edge.active, g.edge.forward"), function (g) {
    g.classList.remove("active", "forward");
  });
  Object.keys(edgeLabels).forEach(function (id) {
    var t = byId(id).querySelector("text"), label = edgeLabels[id];
    t.textContent = label.text;
    t.setAttribute("x", label.x);
    t.setAttribute("y", label.y);
  });
  if (st.forward !== null) {
    var n = nodes[st.forward];
    n.edges.concat([n.out_edge]).forEach(function (id) { if (id) { byId(id).classList.add("forward"); } });
  }
  if (st.backward !== null && !quiz) {
    var b = st.backward, m = nodes[b.node];
    if (m.out_edge) { byId(m.out_edge).classList.add("active"); }
    var placed = [];
    b.sends.forEach(function (send) {
      var id = m.edges[send.position];
      if (!id) { return; }
      var g = byId(id), t = g.querySelector("text");
      g.classList.add("active");
      g.parentNode.appendChild(g);  // drawn last: on top of the boxes its product may run over
      if (t) { showProduct(t, b.upstream + " \u00d7 " + send.local + " = " + send.contributionText, placed); }
    });
  }
}

// The product starts where the edge's label starts and runs right; a line lower while it would cover another.
function showProduct(t, text, placed) {
  var start = parseFloat(t.getAttribute("x")) - t.getComputedTextLength() / 2, y = parseFloat(t.getAttribute("y"));
  t.textContent = text;
  var width = t.getComputedTextLength(), line = parseFloat(t.getAttribute("font-size")) + 3;
  while (placed.some(function (p) { return start < p.right && p.left < start + width && Math.abs(y - p.y) < line; })) {
    y += line;
  }
  placed.push({ left: start, right: start + width, y: y });
  t.setAttribute("x", String(start + width / 2));
  t.setAttribute("y", String(y));
}

var INFIX = { "+": " + ", "-": " - ", "*": " * ", "/": " / ", "**": " ** " };
function formula(i) {
  var n = nodes[i], args = n.parents.map(name);
  if (INFIX[n.op] && args.length === 2) { return args[0] + INFIX[n.op] + args[1]; }
  return n.op + "(" + args.join(", ") + ")";
}
function caption(s, st) {
  if (quiz) { return "Quiz: click a node and type its grad (checked against the engine's, relative 1e-6). " +
                     "The edge labels are the local derivatives."; }
  if (s === 0) {
    return "The inputs are known. Step forward (\u2192 or \u25b6): each node is computed from its inputs. " +
           "Click a node for its value and its grad as a chain-rule sum. Keys: \u2190 \u2192 step, space play, " +
           "Home / End.";
  }
  if (st.forward !== null) {
    return "forward: " + name(st.forward) + " = " + formula(st.forward) + " = " + nodes[st.forward].dataText;
  }
  if (s === F + 1) {
    return "backward starts at the output: " + name(D.root) + ".grad = 1 (d" + name(D.root) + "/d" + name(D.root) +
           "). Step on: each node sends grad \u00d7 local derivative to its inputs.";
  }
  var b = st.backward, parts = b.sends.map(function (send) {
    var text = "to " + name(send.parent) + ": " + b.upstream + " \u00d7 " + send.local + " = " + send.contributionText;
    if (send.uses > 1) { text += " (" + name(send.parent) + ".grad so far " + send.runningText + ", " +
                                send.received + " of " + send.uses + " uses)"; }
    return text;
  });
  var text = "backward: " + name(b.node) + " (grad " + b.upstream + ") sends upstream \u00d7 local = contribution " +
             parts.join("; ");
  return s === LAST ? text + ". Done: every grad is the engine's, as backward() leaves them." : text;
}
function phase(s) {
  if (s === 0) { return "inputs"; }
  if (s <= F) { return "forward"; }
  return s === LAST ? "done" : "backward";
}

function render() {
  var st = stateAt(step);
  renderNodes(st);
  renderEdges(st);
  byId("caption").textContent = caption(step, st);
  byId("counter").textContent = "step " + step + " / " + LAST + " \u00b7 " + phase(step);
  document.body.setAttribute("data-step", String(step));
  try { history.replaceState(null, "", "#step=" + step); } catch (e) { /* a sandboxed notebook frame */ }
  var focus = st.backward !== null ? st.backward.node : st.forward;
  if (focus !== null) { keepVisible(focus); }
}
function go(s) { step = Math.max(0, Math.min(maxStep(), s)); render(); }
function stop() { if (timer) { clearInterval(timer); timer = null; } byId("play").textContent = "play"; }
function togglePlay() {
  if (timer) { stop(); return; }
  if (step >= maxStep()) { go(0); }
  byId("play").textContent = "pause";
  timer = setInterval(function () { if (step >= maxStep()) { stop(); } else { go(step + 1); } }, D.delay);
}

// -- pan and zoom: one CSS transform; fit never goes below readable text, the rest is panning --
var box = svg.viewBox.baseVal, W = box.width, H = box.height;
svg.setAttribute("width", String(W));
svg.setAttribute("height", String(H));
var smallest = Infinity;  // in SVG pixels, after any transform inside the SVG
Array.prototype.forEach.call(svg.querySelectorAll("text"), function (t) {
  var ctm = t.getCTM(), size = parseFloat(t.getAttribute("font-size")) * (ctm ? Math.abs(ctm.a) : 1);
  if (size > 0 && size < smallest) { smallest = size; }
});
var minFit = isFinite(smallest) ? MIN_FONT_PX / smallest : 1;
function apply() { stage.style.transform = "translate(" + tx + "px, " + ty + "px) scale(" + scale + ")"; }
function fit() {
  var vw = view.clientWidth, vh = view.clientHeight;
  scale = Math.max(Math.min(vw / W, vh / H, 1.5), minFit);
  tx = W * scale <= vw ? (vw - W * scale) / 2 : 8;
  ty = H * scale <= vh ? (vh - H * scale) / 2 : 8;
  userMoved = false;
  apply();
}
function zoomAt(factor, cx, cy) {
  var s = Math.max(0.1, Math.min(6, scale * factor));
  tx = cx - (cx - tx) * s / scale;
  ty = cy - (cy - ty) * s / scale;
  scale = s;
  userMoved = true;
  apply();
}
function keepVisible(i) {
  var g = groups[i][0];
  if (!g) { return; }
  var r = g.getBoundingClientRect(), v = view.getBoundingClientRect();
  if (r.left >= v.left && r.right <= v.right && r.top >= v.top && r.bottom <= v.bottom) { return; }
  tx += (v.left + v.width / 2) - (r.left + r.width / 2);
  ty += (v.top + v.height / 2) - (r.top + r.height / 2);
  apply();
}
view.addEventListener("wheel", function (e) {
  e.preventDefault();
  var v = view.getBoundingClientRect();
  zoomAt(Math.pow(1.0015, -e.deltaY), e.clientX - v.left, e.clientY - v.top);
}, { passive: false });
var drag = null, dragged = false;
view.addEventListener("pointerdown", function (e) {
  if (e.button !== 0) { return; }
  drag = { x: e.clientX, y: e.clientY, tx: tx, ty: ty };
  dragged = false;
});
window.addEventListener("pointermove", function (e) {
  if (!drag) { return; }
  var dx = e.clientX - drag.x, dy = e.clientY - drag.y;
  if (!dragged && Math.abs(dx) + Math.abs(dy) < 4) { return; }
  dragged = true;
  userMoved = true;
  view.classList.add("dragging");
  tx = drag.tx + dx;
  ty = drag.ty + dy;
  apply();
});
window.addEventListener("pointerup", function () { drag = null; view.classList.remove("dragging"); });
view.addEventListener("click", function (e) {
  if (dragged) { dragged = false; return; }
  var g = e.target.closest ? e.target.closest("g.node") : null;
  if (g && nodeOf[g.id] !== undefined) { select(nodeOf[g.id]); }
});
window.addEventListener("resize", function () { if (!userMoved) { fit(); render(); } });
"""

_SCRIPT_PANEL = r"""
// -- the panel: a node's op, inputs, value, local derivatives and grad as a sum over its users --
function select(i) {
  selected = i;
  var n = nodes[i];
  panel.classList.remove("empty");
  panel.textContent = "";
  panel.setAttribute("data-node", String(i));
  el("h2", n.name, panel);
  el("p", n.parents.length ? "op " + n.op + ": " + n.name + " = " + formula(i)
                           : "a leaf: an input, a parameter or a constant", panel);
  el("h3", "value", panel);
  var value = el("p", "data = " + n.dataText + " ", panel);
  el("span", "(exactly " + n.dataExact + ")", value).className = "exact";
  if (n.parents.length) {
    el("h3", "local derivatives (the engine's rule for " + n.op + ")", panel);
    var list = el("ul", null, panel);
    n.parents.forEach(function (p, k) {
      el("li", "d" + n.name + "/d" + name(p) + " = " + n.locals[k] + "   (" + name(p) + " = " + nodes[p].dataText + ")",
         list);
    });
  }
  el("h3", "grad", panel);
  if (gradHidden(i)) { quizForm(i); } else { gradSum(i); }
  if (quiz && answers[i] === "right") { el("p", "right!", panel).className = "right"; }
  render();
}
function gradSum(i) {
  var n = nodes[i], total;
  if (i === D.root) {
    total = el("p", "grad = 1: the seed, d" + n.name + "/d" + n.name + " = 1", panel);
  } else {
    el("p", "grad = \u03a3 over the nodes that use " + n.name + " of (their grad) \u00d7 (local derivative):", panel);
    var list = el("ul", null, panel);
    list.id = "grad-terms";
    n.terms.forEach(function (t) {
      var c = name(t.child);
      var li = el("li", c + ".grad \u00d7 d" + c + "/d" + n.name + " = " + t.childGrad + " \u00d7 " + t.local + " = " +
                  t.contributionText, list);
      li.setAttribute("data-contribution", String(num(t.contribution)));
    });
    total = el("p", (n.terms.length > 1 ? "sum: " : "") + "grad = " + n.gradText + " ", panel);
    el("span", "(the engine's: " + n.gradExact + ")", total).className = "exact";
  }
  total.id = "grad-total";
  total.setAttribute("data-grad", String(num(n.grad)));
}

// -- quiz: grads hidden, typed answers checked against the engine's at relative 1e-6 --
function parseAnswer(text) {
  var t = text.trim().toLowerCase().replace(/\u2212/g, "-");
  if (t === "nan") { return NaN; }
  if (t === "inf" || t === "+inf" || t === "infinity") { return Infinity; }
  if (t === "-inf" || t === "-infinity") { return -Infinity; }
  if (!/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/.test(t)) { return null; }
  return Number(t);
}
function correct(answer, grad) {
  if (isNaN(grad)) { return isNaN(answer); }
  if (!isFinite(grad)) { return answer === grad; }
  return Math.abs(answer - grad) <= 1e-6 * Math.abs(grad);
}
function quizForm(i) {
  var n = nodes[i];
  var row = el("p", "Your d" + name(D.root) + "/d" + n.name + ": ", panel);
  var input = el("input", null, row);
  input.id = "answer";
  input.type = "text";
  input.setAttribute("inputmode", "decimal");
  input.setAttribute("aria-label", "your grad of " + n.name);
  var check = el("button", "check", row), reveal = el("button", "reveal", row);
  check.id = "check";
  reveal.id = "reveal";
  check.type = reveal.type = "button";
  var verdict = el("p", answers[i] === "wrong" ? "not yet: try again or reveal" : "", panel);
  verdict.id = "verdict";
  function submit() {
    var a = parseAnswer(input.value);
    if (a === null) { verdict.textContent = "type a number, e.g. -0.25 or 1.5e-3"; verdict.className = ""; return; }
    if (correct(a, num(n.grad))) {
      answers[i] = "right";
      select(i);
    } else {
      answers[i] = "wrong";
      verdict.textContent = "wrong: " + input.value.trim() + " is not it; try again or reveal";
      verdict.className = "wrong";
      render();
    }
    updateScore();
  }
  check.addEventListener("click", submit);
  input.addEventListener("keydown", function (e) { if (e.key === "Enter") { submit(); } });
  reveal.addEventListener("click", function () { answers[i] = "revealed"; select(i); updateScore(); });
  input.focus();
}
function updateScore() {
  var tried = 0, right = 0;
  Object.keys(answers).forEach(function (k) {
    if (answers[k] !== "revealed") { tried++; }
    if (answers[k] === "right") { right++; }
  });
  byId("score").textContent = quiz ? "score: " + right + " right of " + tried + " tried" : "";
}

// -- buttons, keys, the step in the URL --
byId("title").textContent = D.title;
byId("first").addEventListener("click", function () { stop(); go(0); });
byId("prev").addEventListener("click", function () { stop(); go(step - 1); });
byId("next").addEventListener("click", function () { stop(); go(step + 1); });
byId("last").addEventListener("click", function () { stop(); go(maxStep()); });
byId("play").addEventListener("click", togglePlay);
byId("fit").addEventListener("click", fit);
byId("zoom-in").addEventListener("click", function () { zoomAt(1.25, view.clientWidth / 2, view.clientHeight / 2); });
byId("zoom-out").addEventListener("click", function () { zoomAt(0.8, view.clientWidth / 2, view.clientHeight / 2); });
byId("quiz").addEventListener("click", function () {
  quiz = !quiz;
  stop();
  byId("quiz").setAttribute("aria-pressed", String(quiz));
  go(quiz ? F + 1 : step);
  updateScore();
  if (selected !== null) { select(selected); }
});
document.addEventListener("keydown", function (e) {
  var tag = e.target && e.target.tagName;
  if (tag === "INPUT" || tag === "TEXTAREA" || e.altKey || e.ctrlKey || e.metaKey) { return; }
  if (e.key === "ArrowRight" || e.key === "ArrowDown") { stop(); go(step + 1); }
  else if (e.key === "ArrowLeft" || e.key === "ArrowUp") { stop(); go(step - 1); }
  else if (e.key === "Home") { stop(); go(0); }
  else if (e.key === "End") { stop(); go(maxStep()); }
  else if (e.key === " " || e.key === "Spacebar") { togglePlay(); }
  else { return; }
  e.preventDefault();
});
function stepFromHash() {
  var m = /step=(\d+)/.exec(location.hash);
  return m ? parseInt(m[1], 10) : 0;
}
window.addEventListener("hashchange", function () { stop(); go(stepFromHash()); });
fit();
go(stepFromHash());
document.body.setAttribute("data-ready", "true");
})();
"""


def _script_json(data: Any) -> str:
    """``data`` as JSON that cannot end its <script> element or open a comment: <, > and & as \\u escapes."""
    text = json.dumps(data, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(raw, escaped)
    return text


def page_data(root: Value, *, title: str, delay_ms: int = PLAY_DELAY_MS) -> tuple[dict[str, Any], str]:
    """The page's numbers (all from the engine) and its SVG; ValueError for a graph too large to follow."""
    order = topological_order(root, include_leaves=True)
    _check_graph(root, order)
    index = {node: i for i, node in enumerate(order)}
    names = _names(order)
    grads = gradients(root, 1.0)
    records = _node_records(order, names, grads)
    steps = _backward_steps(root, index)
    _add_terms(records, steps)
    svg = _svg(root, order, names, grads, records)
    data = {"title": title, "root": index[root], "delay": delay_ms, "nodes": records,
            "forward": [index[node] for node in topological_order(root)], "backward": steps}
    return data, svg


def page_html(root: Value, *, title: str, delay_ms: int = PLAY_DELAY_MS) -> str:
    """The whole self-contained page: inline style, SVG, JSON data and script; nothing fetched."""
    data, svg = page_data(root, title=title, delay_ms=delay_ms)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<link rel="icon" href="data:,">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style></head>\n<body>"
        + _BODY.replace("__SVG__", svg)
        + f'<script type="application/json" id="graph-data">{_script_json(data)}</script>\n'
        + f"<script>{_SCRIPT}{_SCRIPT_PANEL}</script>\n</body></html>\n"
    )


def explore(root: Value, path: str | os.PathLike[str] | None = None, *, title: str | None = None) -> Any:
    """An explorer page for ``root``'s graph: one self-contained HTML file, or without ``path`` an inline display.

    The page shows the graph (drag to pan, wheel or buttons to zoom; "fit" never shrinks text
    below 10 px), steps the forward pass (each node's value appears in topological order) and
    the backward pass (grads in reverse order; the edge in use shows upstream x local =
    contribution, and a node used several times shows its running sum).  Clicking a node
    shows its op, inputs, value, local derivatives and its grad as the sum over the nodes
    that use it of their grad x local derivative.  Quiz mode hides the grads and checks typed
    ones against the engine's (relative 1e-6).  Keys: arrows step, space plays and pauses,
    Home / End; ``#step=N`` in the URL opens step N.  Every number comes from the engine
    (``local_grads`` and :func:`autograd.gradients`); ``.grad`` is not touched.  No network:
    inline SVG, style and script under a Content-Security-Policy that forbids requests.
    Graphs of more than :data:`MAX_VALUES` Values are refused.  Needs Graphviz ``dot``.

    With ``path`` (``.html`` added when it has no extension) the page is written there and the
    path returned; without, an :class:`Explorer` is returned, which Jupyter displays inline.
    """
    if not isinstance(root, Value):
        raise TypeError(f"explore(): root must be a Value, got {type(root).__name__}")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"explore(): title must be a str, got {type(title).__name__}")
    target = None if path is None else html_path(path, "explore()")
    heading = title if title is not None else f"explore {root.label or root.op or 'a Value'}"
    page = Explorer(page_html(root, title=heading), heading)
    if target is None:
        return page
    return write_atomic(target, page.html)
