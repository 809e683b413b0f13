"""Backpropagation as an animation: one frame per backward step on a fixed layout (GIF or HTML)."""

from __future__ import annotations

import html
import io
import json
import math
import os
from dataclasses import dataclass
from typing import Any, Mapping

from . import ops
from .engine import gradients, topological_order
from .files import write_atomic
from .render import RANKDIRS, _graph_parts, _Node, _number, _Parts, _write_dot, format_number, output_path, run_graphviz
from .value import Value

ANIMATION_FORMATS = ("gif", "html")
MAX_STEPS = 150
"""Most interior nodes an animation shows (one frame each): more would be neither watchable nor quick."""
MAX_VALUES = 400
INSTALL_PILLOW = "install it with `pip install 'valuegrad[demo]'` (or `pip install Pillow`)"

_ACTIVE = "#d62728"  # the node being processed and the edges it sends gradient along
_CAPTION_HEIGHT = 34.0  # points above the graph for the step's caption
_CHARACTER_WIDTH = 6.1  # mean width in points of a character of the 11 pt edge labels (Helvetica digits)
FRAME_DPI = 72  # GIF frames: 3/4 of the 96 dpi default keeps a README-sized GIF well under 1 MB


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


def backward_steps(root: Value, *, digits: int = 4) -> list[Step]:
    """The backward pass of ``root`` (seed 1.0, from zero) one node at a time, in reverse topological order.

    The numbers are the graph's own local derivatives (``Value.local_grads``, computed in the
    forward pass from the rule table), multiplied and added as ``backward()`` does; ``.grad``
    is not touched.  Returns start frame, one step per interior node, end frame.
    """
    order = topological_order(root)
    for node in order:
        ops.require_row(node._rule, "animate_backward()")  # a closure node has no local derivatives to show
    nodes = topological_order(root, include_leaves=True)
    steps = [Step(None, (), {root: 1.0}, f"start: d{_name(root) or 'out'}/d{_name(root) or 'out'} = 1")]
    reached: dict[Value, None] = {root: None}

    def record(node: Value) -> None:
        # Called by the engine's backward loop right after it processed ``node``: ``.grad``
        # holds this pass's gradients so far, so the frame shows exactly backward()'s numbers.
        upstream = node.grad
        sends = []
        for position, (parent, local) in enumerate(zip(node.parents, node.local_grads)):
            local_value = _number(local)
            sends.append((position, upstream, local_value, upstream * local_value))
            reached[parent] = None
        caption = (f"step {len(steps)}/{len(order)}: {_name(node)} sends grad {format_number(upstream, digits=digits)} "
                   "to its inputs: upstream x local = contribution")
        steps.append(Step(node, tuple(sends), {n: _number(n.grad) for n in nodes if n in reached}, caption))

    grads = gradients(root, 1.0, observe=record)
    final = {n: _number(g) for n, g in grads.items() if n in reached}
    steps.append(Step(None, (), final, "done: every grad filled in (the same as backward())"))
    return steps


def _send_text(upstream: float, local: float, contribution: float, digits: int) -> str:
    return (f"{format_number(upstream, digits=digits)} x {format_number(local, digits=digits)} "
            f"= {format_number(contribution, digits=digits)}")


def _parts(root: Value, step: Step, scale: float, rankdir: str, digits: int) -> _Parts:
    return _graph_parts(root, show_grad=True, show_local_grads=True, rankdir=rankdir, max_nodes=MAX_VALUES,
                        module=None, cluster_by_module=False, legend=False, digits=digits,
                        grads=dict(step.grads), scale=scale)


def _send_edges(parts: _Parts, step: Step, digits: int) -> dict[int, str]:
    """Index in ``parts.edges`` -> the product written on it, for the edges ``step`` sends along."""
    texts = {position: _send_text(u, local, c, digits) for position, u, local, c in step.sends}
    return {i: texts[edge.position] for i, edge in enumerate(parts.edges)
            if step.node is not None and edge.child is step.node and edge.position in texts}


def _layout(root: Value, steps: list[Step], scale: float, rankdir: str, digits: int) -> tuple[dict[str, Any], _Parts]:
    """Lay the graph out once, with every edge carrying its longest text, so no frame needs more room."""
    parts = _parts(root, steps[-1], scale, rankdir, digits)
    for step in steps:
        for i, text in _send_edges(parts, step, digits).items():
            parts.edges[i].attrs["label"] = text
    laid_out: dict[str, Any] = json.loads(run_graphviz(_write_dot(parts).source, "json0", where="animate_backward"))
    return laid_out, parts


def _label_position(lp: str, reserved: str, shown: str) -> str:
    """``lp`` moved so that ``shown`` starts where the (longer) ``reserved`` text started: beside its edge."""
    x, y = (float(v) for v in lp.split(","))
    shift = _CHARACTER_WIDTH * (len(reserved) - len(shown)) / 2
    return f"{x - shift:.2f},{y}"


def _pinned(parts: _Parts, layout: Mapping[str, Any], reserved: _Parts, step: Step, digits: int) -> str:
    """One frame's DOT: every node and edge at its place in ``layout`` (for ``neato -n2``)."""
    objects = {o["name"]: o for o in layout.get("objects", [])}
    x0, y0, x1, y1 = (float(v) for v in layout["bb"].split(","))
    active = parts.names.get(step.node) if step.node is not None else None
    for node in parts.nodes:
        placed = objects[node.name]
        node.attrs.update(pos=placed["pos"] + "!", width=placed["width"], height=placed["height"], fixedsize="true")
        if active is not None and node.name in (active, active + "op"):
            node.attrs.update(color=_ACTIVE, penwidth="3")
    laid_edges = _edges_in_order(parts, layout)
    sends = _send_edges(parts, step, digits)
    for i, (edge, placed) in enumerate(zip(parts.edges, laid_edges)):
        edge.attrs["pos"] = placed["pos"]
        if i in sends:
            edge.attrs["label"] = sends[i]
            edge.attrs.update(color=_ACTIVE, fontcolor=_ACTIVE, penwidth="2.5")
        if "lp" in placed and "label" in edge.attrs:
            edge.attrs["lp"] = _label_position(placed["lp"], reserved.edges[i].attrs["label"], edge.attrs["label"])
        elif active is not None and edge.tail == active + "op":
            edge.attrs.update(color=_ACTIVE, penwidth="2.5")
    parts.nodes.append(_Node("caption", step.caption, {
        "shape": "plaintext", "fontsize": "15", "pos": f"{(x0 + x1) / 2},{y1 + _CAPTION_HEIGHT / 2}!"}))
    graph = _write_dot(parts)
    graph.attr(bb=f"{x0},{y0},{x1},{y1 + _CAPTION_HEIGHT}")
    return str(graph.source)


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


def frame_sources(root: Value, *, rankdir: str = "LR", digits: int = 4) -> list[str]:
    """The DOT source of every frame (positions pinned), to render with ``neato -n2``."""
    _check(root, rankdir, digits)
    steps = backward_steps(root, digits=digits)
    final = steps[-1].grads
    scale = max((abs(g) for g in final.values() if math.isfinite(g)), default=0.0)
    layout, reserved = _layout(root, steps, scale, rankdir, digits)
    return [_pinned(_parts(root, step, scale, rankdir, digits), layout, reserved, step, digits) for step in steps]


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
            f"animate_backward(): the graph has {interior} ops and {len(values)} Values; an animation shows "
            f"at most {MAX_STEPS} ops and {MAX_VALUES} Values (one frame per op): animate a smaller graph"
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


_PLAYER = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: Helvetica, Arial, sans-serif; margin: 1em; }}
.controls {{ margin-bottom: 0.6em; }} .controls button {{ font-size: 1em; margin-right: 0.3em; }}
.frame svg {{ max-width: 100%; height: auto; }}
</style></head>
<body>
<div class="controls">
<button id="prev" type="button">&#9664; previous</button>
<button id="play" type="button">play</button>
<button id="next" type="button">next &#9654;</button>
<span id="counter"></span>
</div>
{frames}
<script>
(function () {{
  var frames = document.querySelectorAll(".frame");
  var counter = document.getElementById("counter");
  var play = document.getElementById("play");
  var current = 0, timer = null, delay = {delay};
  function show(i) {{
    current = Math.max(0, Math.min(frames.length - 1, i));
    for (var k = 0; k < frames.length; k++) {{ frames[k].hidden = k !== current; }}
    counter.textContent = "frame " + (current + 1) + " / " + frames.length;
    document.body.setAttribute("data-frame", String(current));
  }}
  function stop() {{ if (timer) {{ clearInterval(timer); timer = null; play.textContent = "play"; }} }}
  document.getElementById("prev").addEventListener("click", function () {{ stop(); show(current - 1); }});
  document.getElementById("next").addEventListener("click", function () {{ stop(); show(current + 1); }});
  play.addEventListener("click", function () {{
    if (timer) {{ stop(); return; }}
    if (current === frames.length - 1) {{ show(0); }}
    play.textContent = "pause";
    timer = setInterval(function () {{
      if (current === frames.length - 1) {{ stop(); }} else {{ show(current + 1); }}
    }}, delay);
  }});
  document.addEventListener("keydown", function (e) {{
    if (e.key === "ArrowLeft") {{ stop(); show(current - 1); }}
    if (e.key === "ArrowRight") {{ stop(); show(current + 1); }}
  }});
  var start = parseInt((location.hash.match(/frame=(\\d+)/) || [])[1] || "1", 10);
  show(start - 1);
}})();
</script>
</body></html>
"""


def _html(sources: list[str], fps: float, title: str) -> str:
    frames = []
    for i, source in enumerate(sources):
        svg = _render_frame(source, "svg").decode("utf-8")
        svg = svg[svg.index("<svg"):]  # drop the XML prolog and doctype: the SVG is inline
        frames.append(f'<div class="frame" id="frame{i + 1}"{" hidden" if i else ""}>\n{svg}</div>')
    return _PLAYER.format(title=html.escape(title), frames="\n".join(frames), delay=round(1000 / fps))


def animate_backward(
    root: Value,
    path: str | os.PathLike[str],
    *,
    fps: float = 1.0,
    format: str = "gif",  # noqa: A002 - the name every other writer here uses
    rankdir: str = "LR",
    digits: int = 4,
) -> str:
    """Write backpropagation through ``root``'s graph as an animation; return the file's path.

    One frame per backward step in reverse topological order: a start frame (only the
    output's grad, 1), one frame per op node (that node outlined in red, each edge it sends
    gradient along labelled ``upstream x local = contribution``, every grad filled in so far),
    and an end frame: the finished graph, whose grads are those ``root.backward()`` gives from
    zero.  The layout is computed once and every node is pinned there, so nothing moves.
    ``format="gif"`` (needs Pillow: the ``demo`` extra) or ``"html"``: one self-contained page
    with the SVG frames and previous / play / next buttons (arrow keys too; ``#frame=N`` in the
    URL opens frame N).  ``fps`` frames per second.  The extension is added to ``path`` unless
    present.  Needs Graphviz (``dot`` and ``neato``); ``.grad`` is not touched.
    """
    if format not in ANIMATION_FORMATS:
        raise ValueError(f"animate_backward(): format must be one of {', '.join(ANIMATION_FORMATS)}, got {format!r}")
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 < fps <= 60:
        raise ValueError(f"animate_backward(): fps must be a number > 0 and <= 60, got {fps!r}")
    target = output_path(path, format, "animate_backward()")
    sources = frame_sources(root, rankdir=rankdir, digits=digits)
    if format == "gif":
        write_atomic(target, _gif(sources, fps))
    else:
        write_atomic(target, _html(sources, fps, f"backpropagation through {_name(root) or 'the graph'}"))
    return target
