"""Backpropagation as a GIF: one frame per backward step on the static picture's layout (HTML: autograd.explore)."""

from __future__ import annotations

import io
import json
import math
import os
from dataclasses import dataclass
from typing import Any, Mapping

from .engine import gradients, topological_order
from .files import write_atomic
from .render import (
    RANKDIRS,
    _file_path_text,
    _graph_parts,
    _Node,
    _number,
    _Parts,
    _write_dot,
    escape_label,
    format_number,
    run_graphviz,
)
from .value import Value

ANIMATION_FORMATS = ("gif", "html")
MAX_STEPS = 60
"""Most op nodes a GIF shows (one frame each): beyond this a GIF is neither watchable nor quick to make
(autograd.explore steps through graphs of up to 2,000 Values)."""
MAX_VALUES = 150
MIN_FPS, MAX_FPS = 0.01, 50.0
"""GIF delays are whole centiseconds up to 655.35 s: 50 fps is 2 cs; at 0.01 fps the last frame (3x) is 300 s."""
INSTALL_PILLOW = "install it with `pip install 'valuegrad[demo]'` (or `pip install Pillow`)"

# What makes a frame readable at README width (700 px): the static picture's layout, a little
# tighter, in 12 pt text.  At FRAME_DPI = 72 one point is one pixel, so the 2-2-1 network's
# frames are 661 px wide and every text is drawn at least 12 px high.
FRAME_DPI = 72
FRAME_GRAPH_ATTRS = {"nodesep": "0.1", "outputorder": "edgesfirst"}  # products are drawn over edges
FRAME_FONT_SIZE = "12"
FRAME_RECORD_MARGIN = "0.03,0.02"
_ACTIVE = "#d62728"  # the node being processed and the edges it sends gradient along
_CAPTION_SIZE = 14.0  # points
_CAPTION_HEIGHT = 30.0  # points above the graph for the step's caption
_CHARACTER_WIDTH = 0.56  # mean width of a character (digits, x, =) in ems of Helvetica
_CAPTION_NAME = 24  # characters of a node's name in a caption


@dataclass(frozen=True)
class Step:
    """One frame: the node whose gradient is sent on (None for the start and end frames),
    what it sends to each parent as ``(position, upstream, local, contribution)``, every
    gradient filled in after the step, and a one-line caption."""

    node: Value | None
    sends: tuple[tuple[int, float, float, float], ...]
    grads: Mapping[Value, float]
    caption: str


def _name(node: Value) -> str:
    return node.label or node.op


def _short(text: str) -> str:
    """A name for a caption: long labels cut, so the caption stays one line over the picture."""
    return text if len(text) <= _CAPTION_NAME else text[:_CAPTION_NAME - 3] + "..."


def backward_steps(root: Value, *, digits: int = 4) -> list[Step]:
    """The backward pass of ``root`` (seed 1.0, from zero) one node at a time, in reverse topological order.

    The numbers are the graph's own local derivatives (``Value.local_grads``, computed in the
    forward pass from the rule table), multiplied and added in backward()'s order; the end
    frame's grads are :func:`autograd.gradients`'s.  ``.grad`` is not touched.  Returns the
    start frame (step 0), one step per op node (1..n), and the end frame.
    """
    order = topological_order(root)
    for node in order:
        if len(node.local_grads) != len(node.parents):  # a micrograd-style closure node
            raise NotImplementedError(
                f"animate_backward(): op {node.op!r} was built micrograd-style with a _backward closure, so it has "
                f"no local derivatives to show; register it as a row with autograd.defop({node.op!r}, forward, local)")
    out = _short(_name(root) or "out")
    steps = [Step(None, (), {root: 1.0}, f"step 0/{len(order)}: start, d{out}/d{out} = 1")]
    running: dict[Value, float] = {root: 1.0}
    for node in reversed(order):
        upstream = running.get(node, 0.0)
        sends = []
        for position, (parent, local) in enumerate(zip(node.parents, node.local_grads)):
            local_value = _number(local)
            sends.append((position, upstream, local_value, upstream * local_value))
            running[parent] = running.get(parent, 0.0) + upstream * local_value
        caption = (f"step {len(steps)}/{len(order)}: {_short(_name(node))} sends grad "
                   f"{format_number(upstream, digits=digits)} back: upstream x local = contribution")
        steps.append(Step(node, tuple(sends), dict(running), caption))
    grads = gradients(root, 1.0)
    final = {n: _number(g) for n, g in grads.items() if n in running}
    steps.append(Step(None, (), final, f"done (step {len(order)}/{len(order)}): every grad as backward() leaves it"))
    return steps


def _send_text(upstream: float, local: float, contribution: float, digits: int) -> str:
    return (f"{format_number(upstream, digits=digits)} x {format_number(local, digits=digits)} "
            f"= {format_number(contribution, digits=digits)}")


def _parts(root: Value, step: Step, scale: float, rankdir: str, digits: int) -> _Parts:
    """The static picture's parts (draw()'s, without the legend) in the frames' font and margins."""
    parts = _graph_parts(root, show_grad=True, show_local_grads=True, rankdir=rankdir, max_nodes=MAX_VALUES,
                         module=None, cluster_by_module=False, legend=False, digits=digits,
                         grads=dict(step.grads), scale=scale)
    for node in parts.nodes:
        node.attrs = {**node.attrs, "fontsize": FRAME_FONT_SIZE}
        if node.attrs.get("shape") == "record":
            node.attrs["margin"] = FRAME_RECORD_MARGIN
    for edge in parts.edges:
        edge.attrs = {**edge.attrs, "fontsize": FRAME_FONT_SIZE}
    return parts


def _dot_source(parts: _Parts, bb: str | None = None) -> str:
    graph = _write_dot(parts)
    graph.attr(**FRAME_GRAPH_ATTRS)
    if bb is not None:
        graph.attr(bb=bb)
    return str(graph.source)


def _send_edges(parts: _Parts, step: Step, digits: int) -> dict[int, str]:
    """Index in ``parts.edges`` -> the product written on it, for the edges ``step`` sends along."""
    texts = {position: _send_text(u, local, c, digits) for position, u, local, c in step.sends}
    return {i: texts[edge.position] for i, edge in enumerate(parts.edges)
            if step.node is not None and edge.child is step.node and edge.position in texts}


def _layout(root: Value, steps: list[Step], scale: float, rankdir: str, digits: int) -> dict[str, Any]:
    """Lay the graph out once, as the static picture (labels: the local derivatives): every frame is pinned there."""
    parts = _parts(root, steps[-1], scale, rankdir, digits)
    laid_out: dict[str, Any] = json.loads(run_graphviz(_dot_source(parts), "json0", where="animate_backward"))
    return laid_out


def _text_width(text: str, size: float) -> float:
    return _CHARACTER_WIDTH * size * len(text)


def _product_nodes(texts: list[tuple[str, str, str]], head_x: float, x0: float, x1: float) -> list[_Node]:
    """Each ``(text, lp, local)``: the product in red on white, beside where the edge's label starts.

    The static picture's label (the local derivative) stays where dot put it; the product covers
    it and runs away from the op's centre (left of it: leftwards), kept inside the picture and
    moved down a line while it would cover another product; drawn over edges (outputorder).
    """
    size = float(FRAME_FONT_SIZE)
    placed: list[tuple[float, float, float]] = []  # left, right, y of the products so far
    nodes = []
    for number, (text, lp, local) in enumerate(texts):
        x, y = (float(v) for v in lp.split(","))
        width, local_width = _text_width(text, size), _text_width(local, size)
        left = x + local_width / 2 - width if x < head_x else x - local_width / 2
        left = max(x0 + 2, min(left, x1 - width - 2))
        while any(left < right and start < left + width and abs(y - py) < size + 2 for start, right, py in placed):
            y -= size + 2  # y grows upwards in Graphviz coordinates: one line down
        placed.append((left, left + width, y))
        nodes.append(_Node(f"product{number}", escape_label(text), {
            "shape": "box", "style": "filled", "fillcolor": "white", "color": "white", "fontcolor": _ACTIVE,
            "fontsize": FRAME_FONT_SIZE, "margin": "0.02,0.01", "width": "0", "height": "0",
            "pos": f"{left + width / 2:.2f},{y:.2f}!"}))
    return nodes


def _pinned(parts: _Parts, layout: Mapping[str, Any], step: Step, digits: int, caption_width: float) -> str:
    """One frame's DOT: every node and edge at its place in ``layout`` (for ``neato -n2``); the
    picture is at least ``caption_width`` wide (the widest caption of all frames: they share one size)."""
    objects = {o["name"]: o for o in layout.get("objects", [])}
    x0, y0, x1, y1 = (float(v) for v in layout["bb"].split(","))
    active = parts.names.get(step.node) if step.node is not None else None
    for node in parts.nodes:
        placed = objects[node.name]
        node.attrs.update(pos=placed["pos"] + "!", width=placed["width"], height=placed["height"], fixedsize="true")
        if active is not None and node.name in (active, active + "op"):
            node.attrs.update(color=_ACTIVE, penwidth="3")
    sends = _send_edges(parts, step, digits)
    products = []
    for i, (edge, placed) in enumerate(zip(parts.edges, _edges_in_order(parts, layout))):
        edge.attrs["pos"] = placed["pos"]
        if "lp" in placed:
            edge.attrs["lp"] = placed["lp"]
        if i in sends:
            edge.attrs.update(color=_ACTIVE, fontcolor=_ACTIVE, penwidth="2.5")
            if "lp" in placed:
                products.append((sends[i], placed["lp"], edge.attrs["label"]))
        elif active is not None and edge.tail == active + "op":
            edge.attrs.update(color=_ACTIVE, penwidth="2.5")
    if products and active is not None:
        head_x = float(objects[active + "op"]["pos"].split(",")[0])
        parts.nodes.extend(_product_nodes(products, head_x, x0, x1))
    parts.nodes.append(_Node("caption", escape_label(step.caption), {
        "shape": "plaintext", "fontsize": f"{_CAPTION_SIZE:g}", "pos": f"{(x0 + x1) / 2},{y1 + _CAPTION_HEIGHT / 2}!",
        # one size in every frame: neato -n2 sizes the picture from its nodes, so frames stay aligned
        "width": f"{caption_width / 72:.3f}", "height": f"{_CAPTION_HEIGHT / 72:.3f}", "fixedsize": "true"}))
    extra = max(0.0, (caption_width - (x1 - x0)) / 2)  # a caption wider than the graph widens the frame
    return _dot_source(parts, bb=f"{x0 - extra},{y0},{x1 + extra},{y1 + _CAPTION_HEIGHT}")


def _edges_in_order(parts: _Parts, layout: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The laid-out edges matched to ``parts.edges``: by tail and head, in order among equal pairs."""
    names = {o["_gvid"]: o["name"] for o in layout.get("objects", [])}
    by_pair: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for edge in sorted(layout.get("edges", []), key=lambda e: e["_gvid"]):
        by_pair.setdefault((names[edge["tail"]], names[edge["head"]]), []).append(edge)
    matched = []
    for edge in parts.edges:
        candidates = by_pair.get((edge.tail, edge.head))
        if not candidates:  # the same graph twice: only if it changed while being animated
            raise RuntimeError("animate_backward(): the graph changed while it was being animated")
        matched.append(candidates.pop(0))
    return matched


def frame_sources(root: Value, *, rankdir: str = "TB", digits: int = 4) -> list[str]:
    """The DOT source of every frame (positions pinned), to render with ``neato -n2``."""
    _check(root, rankdir, digits)
    steps = backward_steps(root, digits=digits)
    final = steps[-1].grads
    scale = max((abs(g) for g in final.values() if math.isfinite(g)), default=0.0)
    layout = _layout(root, steps, scale, rankdir, digits)
    caption_width = max(_text_width(step.caption, _CAPTION_SIZE) for step in steps) + 12
    return [_pinned(_parts(root, step, scale, rankdir, digits), layout, step, digits, caption_width) for step in steps]


def _check(root: Any, rankdir: Any, digits: Any) -> None:
    if not isinstance(root, Value):
        raise TypeError(f"animate_backward(): root must be a Value, got {type(root).__name__}")
    if rankdir not in RANKDIRS:
        raise ValueError(f"animate_backward(): rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    if not isinstance(digits, int) or isinstance(digits, bool) or not 1 <= digits <= 17:
        raise ValueError(f"animate_backward(): digits must be an int from 1 to 17, got {digits!r}")
    values = topological_order(root, include_leaves=True)
    interior = sum(1 for node in values if node.parents)
    if interior > MAX_STEPS or len(values) > MAX_VALUES:
        raise ValueError(
            f"animate_backward(): the graph has {interior} ops and {len(values)} Values; a GIF shows at most "
            f"{MAX_STEPS} ops and {MAX_VALUES} Values (one frame per op): animate a part of it, or step through "
            "it in a browser with autograd.explore(root, 'page.html') (up to 2,000 Values)"
        )


def _render_frame(source: str, fmt: str, *, dpi: int | None = None) -> bytes:
    options = ("-n2",) if dpi is None else ("-n2", f"-Gdpi={dpi}")
    return run_graphviz(source, fmt, engine="neato", options=options, where="animate_backward")


def _gif(sources: list[str], fps: float) -> bytes:
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(f"animate_backward(format='gif') assembles frames with Pillow, which is not installed; "
                          f"{INSTALL_PILLOW}") from None
    frames = [Image.open(io.BytesIO(_render_frame(source, "png", dpi=FRAME_DPI))).convert("RGB")
              for source in sources]
    width = max(frame.width for frame in frames)
    height = max(frame.height for frame in frames)
    same_size = []
    for frame in frames:  # pinned layouts render at one size; pad anyway so a GIF never jumps
        if frame.size != (width, height):
            canvas = Image.new("RGB", (width, height), "white")
            canvas.paste(frame, (0, 0))
            frame = canvas
        same_size.append(frame)
    milliseconds = round(1000 / fps)
    durations = [milliseconds] * len(same_size)
    durations[-1] = 3 * milliseconds  # linger on the finished graph before looping
    buffer = io.BytesIO()
    same_size[0].save(buffer, format="GIF", save_all=True, append_images=same_size[1:], duration=durations,
                      loop=0, optimize=True)
    return buffer.getvalue()


_EXTENSIONS = {".gif": "gif", ".html": "html", ".htm": "html"}
_OTHER_FORMATS = (".png", ".svg", ".pdf", ".jpg", ".jpeg", ".webp", ".apng", ".mp4", ".webm", ".dot", ".gv")


def _target(path: Any, format: str | None) -> tuple[str, str]:  # noqa: A002
    """The file to write and its format: from the extension, else ``format``, else GIF; clear errors otherwise."""
    if format is not None and format not in ANIMATION_FORMATS:
        raise ValueError(f"animate_backward(): format must be one of {', '.join(ANIMATION_FORMATS)}, got {format!r}")
    target = _file_path_text(path, "animate_backward()", "backprop.gif")
    extension = os.path.splitext(target)[1].lower()
    implied = _EXTENSIONS.get(extension)
    if implied is not None and format is not None and implied != format:
        raise ValueError(f"animate_backward(): path {target!r} ends in {extension} but format={format!r}; "
                         "make them agree (or leave format out: the extension decides)")
    if extension in _OTHER_FORMATS:
        raise ValueError(f"animate_backward(): writes a GIF (.gif) or an HTML page (.html), not {extension}: "
                         f"got {target!r}")
    chosen = implied or format or "gif"
    return (target if implied else f"{target}.{chosen}"), chosen


def _check_fps(fps: Any) -> None:
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not MIN_FPS <= fps <= MAX_FPS:
        raise ValueError(f"animate_backward(): fps must be a number from {MIN_FPS:g} to {MAX_FPS:g} "
                         f"(frames per second), got {fps!r}")


def animate_backward(
    root: Value,
    path: str | os.PathLike[str],
    *,
    fps: float = 1.0,
    format: str | None = None,  # noqa: A002 - the name every other writer here uses
    rankdir: str = "TB",
    digits: int = 4,
) -> str:
    """Write backpropagation through ``root``'s graph as a GIF (or an explorer page); return the file's path.

    GIF: one frame per backward step in reverse topological order: a start frame (only the
    output's grad, 1), one frame per op node (that node outlined in red, each edge it sends
    gradient along showing ``upstream x local = contribution``, every grad filled in so far),
    and an end frame: the finished graph, whose grads are those ``root.backward()`` gives from
    zero.  The layout is the static picture's (draw()'s: labels where it puts them), computed
    once; every frame is pinned there, so nothing moves.  ``rankdir`` TB (the default) keeps a
    small network's frames under 700 px wide with 12 px text.  Needs Pillow (the ``demo``
    extra) and Graphviz (``dot`` and ``neato``).  ``fps`` frames per second, 0.01 to 50.

    HTML (a ``.html`` path or ``format="html"``): the page of :func:`autograd.explore`, which
    steps forward and backward and explains each node (its play button runs at ``fps``).

    The format comes from the extension (``.gif``, ``.html``); without one, from ``format``
    (default GIF) and that extension is added.  An extension contradicting ``format`` is an
    error.  ``.grad`` is not touched.
    """
    target, chosen = _target(path, format)
    _check_fps(fps)
    if chosen == "html":
        from .explore import page_html

        if not isinstance(root, Value):
            raise TypeError(f"animate_backward(): root must be a Value, got {type(root).__name__}")
        title = f"backpropagation through {_name(root) or 'the graph'}"
        return write_atomic(target, page_html(root, title=title, delay_ms=round(1000 / fps)))
    sources = frame_sources(root, rankdir=rankdir, digits=digits)
    write_atomic(target, _gif(sources, fps))
    return target
