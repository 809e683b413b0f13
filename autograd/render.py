"""Computation graphs as pictures: DOT source (to_dot), image files (draw), notebook display."""

from __future__ import annotations

import math
import os
import tempfile
from collections import deque
from typing import TYPE_CHECKING, Any

from .value import Value

if TYPE_CHECKING:  # graphviz is imported lazily at run time: `import autograd` stays light
    import graphviz

FORMATS = ("png", "svg", "pdf")
RANKDIRS = ("LR", "RL", "TB", "BT")
NOTEBOOK_MAX_NODES = 150
"""Graphs with more Values than this are shown as text in notebooks (an SVG would be unreadable)."""

INSTALL_DOT = (
    "install Graphviz, which provides it: `apt-get install graphviz` (Debian/Ubuntu), "
    "`brew install graphviz` (macOS) or `conda install graphviz` (conda); "
    "to_dot() works without it and its .source can be rendered elsewhere"
)

# |grad| colour scale: levels 1..6 of the ColorBrewer "blues9" scheme (black text stays readable).
_COLORSCHEME = "blues9"
_LEVELS = 6
_NONFINITE_COLOR = "#f4a3a3"  # nan or inf gradient
_CLUSTER_COLORS = ("#c0392b", "#27ae60", "#8e44ad", "#d35400", "#2c3e50", "#16a085")


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


def escape_record_text(text: str) -> str:
    """``text`` as a literal field of a Graphviz record label.

    Records give ``{ } | < >`` meaning, escString gives backslashes meaning, and Graphviz
    decodes HTML entities in every label, so ``&`` is written as an entity; spaces become
    ``&#32;`` because the record parser drops a space that follows a non-ASCII character.
    Double quotes are left to the graphviz package, which escapes them when quoting.
    """
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch in "{}|<>":
            out.append("\\" + ch)
        elif ch == "&":
            out.append("&amp;")
        elif ch == " ":
            out.append("&#32;")
        elif ch == "\n":
            out.append("\\n")
        else:
            out.append(_escape_char(ch))
    return "".join(out)


def escape_label_text(text: str) -> str:
    """``text`` as a literal plain (non-record) Graphviz label."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == "&":
            out.append("&amp;")
        elif ch == "\n":
            out.append("\\n")
        else:
            out.append(_escape_char(ch))
    return "".join(out)


# -- graph traversal (iterative: a 10**6-node chain is fine) --------------------------------

def _nearest_nodes(root: Value, max_nodes: int) -> tuple[list[Value], int]:
    """The ``max_nodes`` Values nearest ``root`` (breadth first) and the number of all Values."""
    drawn = [root]
    seen = {root}
    queue = deque((root,))
    while queue:
        node = queue.popleft()
        for parent in node.parents:
            if parent not in seen:
                seen.add(parent)
                if len(drawn) < max_nodes:
                    drawn.append(parent)
                queue.append(parent)
    return drawn, len(seen)


def _count_up_to(root: Value, limit: int) -> int:
    """Number of Values reachable from ``root``, counting stops past ``limit``."""
    seen = {root}
    stack = [root]
    while stack and len(seen) <= limit:
        for parent in stack.pop().parents:
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return len(seen)


def _parents_first(nodes: list[Value], index: dict[Value, int]) -> list[Value]:
    """``nodes`` reordered so that every node comes after those of its parents that are in ``index``."""
    order: list[Value] = []
    done: set[Value] = set()
    for start in nodes:
        if start in done:
            continue
        stack = [(start, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if node in done:
                continue
            done.add(node)
            stack.append((node, True))
            for parent in node.parents:
                if parent in index and parent not in done:
                    stack.append((parent, False))
    return order


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


def _cluster_key(name: str) -> str:
    """``layer0.neuron3.w2`` -> ``layer0``; a name without a dot belongs to the module itself."""
    return name.split(".", 1)[0] if "." in name else ""


def _assign_clusters(
    drawn: list[Value], index: dict[Value, int], names: dict[Value, str]
) -> tuple[dict[Value, int], list[str]]:
    """Cluster number of every drawn Value that belongs to a layer, and the cluster keys.

    A parameter belongs to its layer; an interior node belongs to layer L when it uses a
    parameter of L directly (the latest such layer), or when all of its inputs are in L.
    So a layer's cluster holds its weights, the products and sums made from them and the
    activations on top; a loss comparing the output with a target stays outside.
    """
    keys: list[str] = []
    key_number: dict[str, int] = {}
    for name in names.values():
        key = _cluster_key(name)
        if key not in key_number:
            key_number[key] = len(keys)
            keys.append(key)
    cluster: dict[Value, int] = {}
    for node in _parents_first(drawn, index):
        parents = node.parents
        if not parents:
            name = names.get(node)
            if name is not None:
                cluster[node] = key_number[_cluster_key(name)]
            continue
        direct = [key_number[_cluster_key(names[p])] for p in parents if p in names]
        if direct:
            cluster[node] = max(direct)
            continue
        inherited = {cluster.get(p) for p in parents}
        if len(inherited) == 1 and None not in inherited:
            cluster[node] = inherited.pop()
    return cluster, keys


# -- DOT -------------------------------------------------------------------------------------

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
    return "".join(escape_label_text(line) + "\\l" for line in lines)


# Statements are written straight into the Digraph's body: graphviz.Digraph.node() quotes
# every attribute through regexes and made 10**5-node graphs five times slower.  Names are
# ours (v12, v12op) and labels are escaped above, so only double quotes need escaping here.

def _quoted(text: str) -> str:
    return '"' + text.replace('"', '\\"') + '"'


def _attr_list(attrs: dict[str, str]) -> str:
    return " ".join(f"{key}={_quoted(value)}" for key, value in attrs.items())


def _node_line(name: str, label: str, attrs: dict[str, str]) -> str:
    return f"\t{name} [label={_quoted(label)} {_attr_list(attrs)}]\n"


def _edge_line(tail: str, head: str, attrs: dict[str, str]) -> str:
    return f"\t{tail} -> {head} [{_attr_list(attrs)}]\n" if attrs else f"\t{tail} -> {head}\n"


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
    (``show_local_grads``).  Values are filled by |grad| relative to the largest drawn
    |grad| (explained in a legend).  Only the ``max_nodes`` Values nearest ``root`` are
    drawn; the rest become one "... k more Values" node.  ``module`` (anything with
    ``named_parameters()``, e.g. an ``nn.MLP``) names unlabelled parameter leaves, and
    ``cluster_by_module`` boxes each layer's parameters and the nodes computed from them.
    The ``.source`` needs no ``dot`` program; rendering it (``draw``) does.
    """
    _check_options(root, rankdir, max_nodes, digits, "to_dot")
    names = _parameter_names(module) if module is not None else {}
    if cluster_by_module and module is None:
        raise ValueError("to_dot(): cluster_by_module=True needs module= (an object with named_parameters())")
    graphviz = _import_graphviz()
    nohtml = graphviz.nohtml

    drawn, total = _nearest_nodes(root, max_nodes)
    index = {node: i for i, node in enumerate(drawn)}
    cluster, cluster_keys = _assign_clusters(drawn, index, names) if cluster_by_module else ({}, [])

    grads = [_number(node.grad) for node in drawn]
    scale = max((abs(g) for g in grads if math.isfinite(g)), default=0.0)
    any_nonfinite = any(not math.isfinite(g) for g in grads)

    graph = graphviz.Digraph("computation_graph")
    graph.attr(rankdir=rankdir, nodesep="0.25", ranksep="0.4")
    graph.attr("node", fontname="Helvetica", fontsize="11")
    graph.attr("edge", fontname="Helvetica", fontsize="10", fontcolor="#a04000", color="#777777")
    # Statements per cluster (None = top level), so clustered nodes are declared inside their subgraph.
    bodies: dict[int | None, list[tuple[str, str, dict[str, str]]]] = {None: []}
    edges: list[tuple[str, str, dict[str, str]]] = []
    more_name = "more"
    fed_by_more: list[str] = []

    for i, node in enumerate(drawn):
        name = f"v{i}"
        label = node.label or names.get(node, "")
        number = cluster.get(node)
        if number is not None and cluster_keys[number] and label == names.get(node):
            label = label[len(cluster_keys[number]) + 1 :]  # "layer0.neuron3.w2" inside box "layer0"
        fields = [escape_record_text(label)] if label else []
        fields.append("data " + format_number(node.data, digits=digits))
        if show_grad:
            fields.append("grad " + format_number(grads[i], digits=digits))
        attrs = {"shape": "record"}
        if show_grad:
            attrs.update(style="filled", **_fill(grads[i], scale))
        if not node.parents:
            attrs["penwidth"] = "1.6"  # leaves (inputs, parameters) get a heavier outline
        body = bodies.setdefault(number, [])
        body.append((name, "{ " + " | ".join(fields) + " }", attrs))
        parents = node.parents
        if not parents:
            continue
        op_name = name + "op"
        body.append((op_name, escape_label_text(node.op), {"shape": "circle", "width": "0.3", "margin": "0.02"}))
        edges.append((op_name, name, {}))
        missing = False
        for parent, local in zip(parents, node.local_grads):
            j = index.get(parent)
            if j is None:
                missing = True
                continue
            edge_attrs = {}
            if show_local_grads:
                edge_attrs["label"] = format_number(_number(local), digits=digits)
            edges.append((f"v{j}", op_name, edge_attrs))
        if missing:
            fed_by_more.append(op_name)

    for number in [None, *range(len(cluster_keys))]:
        statements = bodies.get(number)
        if not statements:
            continue
        if number is None:
            graph.body.extend(_node_line(name, label, attrs) for name, label, attrs in statements)
            continue
        key = cluster_keys[number] or type(module).__name__
        colour = _CLUSTER_COLORS[number % len(_CLUSTER_COLORS)]
        with graph.subgraph(name=f"cluster_{number}") as sub:
            sub.attr(label=nohtml(escape_label_text(key)), style="rounded,dashed", color=colour, fontcolor=colour,
                     fontname="Helvetica", fontsize="12")
            sub.body.extend(_node_line(name, label, attrs) for name, label, attrs in statements)

    if total > len(drawn):
        hidden = total - len(drawn)
        graph.node(
            more_name,
            nohtml(f"... {hidden} more Values not drawn\\n(max_nodes={max_nodes}, {total} in all)"),
            shape="note", style="dashed",
        )
        for op_name in fed_by_more:
            edges.append((more_name, op_name, {"style": "dashed"}))

    graph.body.extend(_edge_line(tail, head, attrs) for tail, head, attrs in edges)

    if legend and (show_grad or show_local_grads):
        graph.node("legend", nohtml(_legend_text(show_grad, show_local_grads, scale, any_nonfinite, digits)),
                   shape="note", fontsize="9", color="#999999", fontcolor="#444444")
    return graph


def draw_dot(root: Value, format: str = "svg", rankdir: str = "LR", **to_dot_options: Any) -> graphviz.Digraph:  # noqa: A002
    """:func:`to_dot` under the micrograd lecture's name and call shape.

    The lecture's ``draw_dot(root, format='svg', rankdir='LR')`` returns a Digraph whose
    ``render()`` writes that format; the same call works here, and every :func:`to_dot`
    option is accepted too.
    """
    graph = to_dot(root, rankdir=rankdir, **to_dot_options)
    graph.format = format  # graphviz validates the name and raises ValueError for unknown ones
    return graph


# -- files -------------------------------------------------------------------------------------

def _write_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and a rename: never a half-written file."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=directory)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, _new_file_mode(path))  # mkstemp makes 0600; give the usual mode
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _new_file_mode(path: str) -> int:
    try:
        return os.stat(path).st_mode & 0o777  # overwriting: keep the file's mode
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def render_bytes(graph: graphviz.Digraph, format: str, *, where: str = "draw") -> bytes:  # noqa: A002
    """Run ``dot`` on ``graph``; RuntimeError saying how to install it when it is missing."""
    graphviz = _import_graphviz()
    try:
        return graph.pipe(format=format)
    except graphviz.ExecutableNotFound:
        message = f"{where}(): the Graphviz `dot` program is not installed (not on PATH); {INSTALL_DOT}"
        raise RuntimeError(message) from None
    except graphviz.CalledProcessError as exc:
        stderr = exc.stderr.decode(errors="replace").strip() if isinstance(exc.stderr, bytes) else exc.stderr
        raise RuntimeError(f"{where}(): `dot` failed to render {format}: {stderr}") from None


def draw(root: Value, path: str | os.PathLike[str], *, format: str = "png", **to_dot_options: Any) -> str:  # noqa: A002
    """Write the computation graph of ``root`` as a png, svg or pdf image; return the file's path.

    ``.png`` (or the format's extension) is appended unless ``path`` already ends with it.
    Options are those of :func:`to_dot`.  Needs the Graphviz ``dot`` program.
    """
    if format not in FORMATS:
        raise ValueError(f"draw(): format must be one of {', '.join(FORMATS)}, got {format!r}")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"draw(): path must be a str or os.PathLike, got {type(path).__name__}")
    target = os.fspath(path)
    if not isinstance(target, str):
        raise TypeError(f"draw(): path must be a text path, got {type(target).__name__}")
    if not target.lower().endswith("." + format):
        target += "." + format
    graph = to_dot(root, **to_dot_options)
    _write_atomic(target, render_bytes(graph, format))
    return target


# -- notebooks ---------------------------------------------------------------------------------

def repr_mimebundle(value: Value, *, include: Any = None, exclude: Any = None) -> dict[str, str]:
    """Notebook display of a Value: its graph as SVG when small and `dot` exists, else its repr."""
    bundle = {"text/plain": repr(value)}
    if _count_up_to(value, NOTEBOOK_MAX_NODES) <= NOTEBOOK_MAX_NODES:
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
