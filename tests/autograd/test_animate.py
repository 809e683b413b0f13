"""autograd.animate: backward steps, pinned frames on the static layout, the GIF, HTML through autograd.explore."""

from __future__ import annotations

import html
import json
import re
import shutil
import sys
from pathlib import Path

import pytest

import autograd
from autograd import Value
from autograd.animate import (
    MAX_FPS,
    MAX_STEPS,
    MAX_VALUES,
    MIN_FPS,
    _layout,
    _render_frame,
    animate_backward,
    backward_steps,
    frame_sources,
)
from autograd.render import format_number

HAS_GRAPHVIZ = shutil.which("dot") is not None and shutil.which("neato") is not None
needs_graphviz = pytest.mark.skipif(not HAS_GRAPHVIZ, reason="Graphviz (`dot` and `neato`) is not installed")


def neuron() -> tuple[Value, dict[str, Value]]:
    """tanh(x1*w1 + x2*w2 + b) with x1 used twice (fan-out), not yet differentiated."""
    leaves = {name: Value(value, label=name) for name, value in
              (("x1", 2.0), ("w1", -3.0), ("x2", 0.5), ("w2", 1.0), ("b", 0.25))}
    n = leaves["x1"] * leaves["w1"] + leaves["x2"] * leaves["w2"] + leaves["b"] + leaves["x1"]
    out = n.tanh()
    out.label = "out"
    return out, leaves


def interior_count(root: Value) -> int:
    return len(autograd.topological_order(root))


def svg_nodes(svg: str) -> dict[str, str]:
    """Node title -> the geometry of its first shape (points, or ellipse centre): where it is drawn."""
    found = {}
    for group in re.findall(r'<g id="node\d+" class="node">(.*?)</g>', svg, re.S):
        title = re.search(r"<title>(.*?)</title>", group)
        shape = re.search(r'(points="[^"]*"|cx="[^"]*" cy="[^"]*"|x="[^"]*" y="[^"]*")', group)  # text: caption
        assert title and shape
        found[html.unescape(title.group(1))] = shape.group(1)
    return found


def svg_record_texts(svg: str) -> dict[str, list[str]]:
    """Node title -> the texts drawn in it."""
    found = {}
    for group in re.findall(r'<g id="node\d+" class="node">(.*?)</g>', svg, re.S):
        title = re.search(r"<title>(.*?)</title>", group)
        assert title
        found[title.group(1)] = [html.unescape(t) for t in re.findall(r"<text[^>]*>(.*?)</text>", group)]
    return found


# -- the steps: numbers from the graph's own local derivatives ---------------------------------

def test_backward_steps_one_per_interior_node_plus_start_and_end():
    out, _ = neuron()
    steps = backward_steps(out)
    assert len(steps) == interior_count(out) + 2
    assert steps[0].node is None and steps[-1].node is None
    assert [s.node for s in steps[1:-1]] == list(reversed(autograd.topological_order(out)))


def test_backward_steps_end_equals_engine_grads_and_leave_grad_untouched():
    out, leaves = neuron()
    final = backward_steps(out)[-1].grads
    assert all(leaf.grad == 0.0 for leaf in leaves.values())  # the animation does not run backward
    out.backward()
    for name, leaf in leaves.items():
        assert final[leaf] == leaf.grad, name
    assert final[out] == 1.0


def test_backward_steps_sends_upstream_times_local():
    out, leaves = neuron()
    steps = backward_steps(out)
    first = steps[1]  # the tanh node sends 1 x (1 - tanh^2) to its input
    assert first.node is out
    ((position, upstream, local, contribution),) = first.sends
    assert (position, upstream) == (0, 1.0)
    assert local == out.local_grads[0] and contribution == upstream * local
    # x1 feeds two ops: its grad is the sum of both contributions, in step order
    x1 = leaves["x1"]
    received = [c for s in steps[1:-1] for (pos, _, _, c) in s.sends if s.node.parents[pos] is x1]
    assert len(received) == 2 and steps[-1].grads[x1] == received[0] + received[1]


# -- frames ------------------------------------------------------------------------------------

@needs_graphviz
def test_frames_keep_every_node_in_place_and_end_with_engine_grads():
    out, leaves = neuron()
    sources = frame_sources(out)
    assert len(sources) == interior_count(out) + 2
    svgs = [_render_frame(source, "svg").decode("utf-8") for source in sources]
    positions = [{title: shape for title, shape in svg_nodes(svg).items() if title.startswith("v")} for svg in svgs]
    assert len(positions[0]) > 10
    for other in positions[1:]:
        assert other == positions[0]  # same nodes, same coordinates: nothing moves (products and caption come and go)
    sizes = {re.search(r'<svg width="([^"]+)" height="([^"]+)"', svg).groups() for svg in svgs}
    assert len(sizes) == 1
    out.backward()
    last = svg_record_texts(svgs[-1])
    for name, leaf in leaves.items():
        (texts,) = [t for t in last.values() if t and t[0] == name]
        assert texts[-1] == "grad " + format_number(leaf.grad), name
    # the start frame shows only the seed
    first = svg_record_texts(svgs[0])
    assert [t for t in first.values() if t and t[0] == "out"][0][-1] == "grad 1"
    assert all(t[-1] == "grad 0" for t in first.values() if t and t[0] in leaves)


@needs_graphviz
def test_frames_write_upstream_times_local_on_the_active_edges():
    out, _ = neuron()
    steps = backward_steps(out)
    sources = frame_sources(out)
    svg = _render_frame(sources[1], "svg").decode("utf-8")
    ((_, upstream, local, contribution),) = steps[1].sends
    text = f"{format_number(upstream)} x {format_number(local)} = {format_number(contribution)}"
    assert text in html.unescape(svg)
    assert "step 1/" in html.unescape(svg)


@needs_graphviz
@pytest.mark.slow
def test_animate_backward_gif_frames_same_size(tmp_path):
    image = pytest.importorskip("PIL.Image", reason="Pillow (the demo extra) is not installed")
    out, _ = neuron()
    path = animate_backward(out, tmp_path / "bp", fps=2)
    assert path == str(tmp_path / "bp.gif")
    with image.open(path) as gif:
        assert gif.n_frames == interior_count(out) + 2
        sizes = set()
        for i in range(gif.n_frames):
            gif.seek(i)
            sizes.add(gif.size)
            assert gif.info["duration"] in (500, 1500)
        assert len(sizes) == 1


def test_animate_backward_bad_arguments(tmp_path):
    out, _ = neuron()
    with pytest.raises(ValueError, match="format must be one of gif, html, got 'mp4'"):
        animate_backward(out, tmp_path / "a", format="mp4")
    for fps in (0, 1e-9, 0.001, 51, float("nan"), float("inf"), True):
        with pytest.raises(ValueError, match=r"fps must be a number from 0.01 to 50 \(frames per second\)"):
            animate_backward(out, tmp_path / "a", fps=fps)
    with pytest.raises(TypeError, match="root must be a Value, got float"):
        animate_backward(1.0, tmp_path / "a")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="path must be a str or os.PathLike, got int"):
        animate_backward(out, 3)  # type: ignore[arg-type]
    big = Value(1.0, label="x")
    for _ in range(MAX_STEPS + 1):
        big = big * 1.0
    with pytest.raises(ValueError, match=f"at most {MAX_STEPS} ops.*autograd.explore"):
        animate_backward(big, tmp_path / "a")
    flat = autograd.sum([Value(float(k)) * 2.0 for k in range(150)])  # issue 22: once a 66 MB page
    with pytest.raises(ValueError, match=f"at most {MAX_STEPS} ops and {MAX_VALUES} Values"):
        animate_backward(flat, tmp_path / "a.gif")
    for empty in ("", "   "):
        with pytest.raises(ValueError, match="path is empty"):
            animate_backward(out, empty)
    with pytest.raises(ValueError, match="is a directory"):
        animate_backward(out, tmp_path)
    with pytest.raises(ValueError, match=r"ends in \.gif but format='html'"):
        animate_backward(out, tmp_path / "a.gif", format="html")
    with pytest.raises(ValueError, match=r"ends in \.html but format='gif'"):
        animate_backward(out, tmp_path / "a.html", format="gif")
    with pytest.raises(ValueError, match=r"writes a GIF \(\.gif\) or an HTML page \(\.html\), not \.png"):
        animate_backward(out, tmp_path / "a.png")
    assert list(tmp_path.iterdir()) == []


@needs_graphviz
def test_animate_backward_without_pillow_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    out, _ = neuron()
    with pytest.raises(ImportError, match=r"pip install 'valuegrad\[demo\]'"):
        animate_backward(out, tmp_path / "a.gif")
    assert list(tmp_path.iterdir()) == []


# -- formats, captions, labels, sizes (issues 22 and 24) --------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
EVIL = 'q\\" URL=<javascript:alert(1)> pos=<20,20!>]//'


@needs_graphviz
def test_animate_backward_html_is_the_explorer_page(tmp_path):
    out, leaves = neuron()
    path = animate_backward(out, tmp_path / "a.html", fps=2)
    assert path == str(tmp_path / "a.html")
    page = Path(path).read_text(encoding="utf-8")
    data = json.loads(re.search(r'<script type="application/json" id="graph-data">(.*?)</script>', page, re.S).group(1))
    assert data["delay"] == 500 and data["title"] == "backpropagation through out"
    out.backward()
    grads = {n["name"]: n["grad"] for n in data["nodes"]}
    assert all(grads[name] == leaf.grad for name, leaf in leaves.items())
    assert animate_backward(out, tmp_path / "b", format="html", fps=MIN_FPS) == str(tmp_path / "b.html")
    slowest = json.loads(re.search(r'id="graph-data">(.*?)</script>', (tmp_path / "b.html").read_text()).group(1))
    assert slowest["delay"] == 100_000 < 2**31  # issue 22: a tiny fps once gave a timer delay above 2^31 ms
    assert animate_backward(out, tmp_path / "c.htm") == str(tmp_path / "c.htm")


@needs_graphviz
def test_captions_and_labels_are_escaped_into_dot(tmp_path):
    x = Value(2.0, label=EVIL)
    y = (x * x).tanh()
    y.label = EVIL + " out"
    sources = frame_sources(y)
    assert any("step 1/2: " + EVIL[:21] in html.unescape(_render_frame(s, "svg").decode()) for s in sources)
    for source in sources:  # every frame renders (a \" once broke the layout run) and carries no link
        svg = _render_frame(source, "svg").decode("utf-8")
        assert "<a " not in svg and "xlink:href" not in svg  # a URL attribute would make a link


@needs_graphviz
def test_frame_labels_stay_where_the_layout_puts_them():
    """Labels are not moved (issue 24: they were shifted to the tails); products start at their label."""
    out, _ = neuron()
    steps = backward_steps(out)
    layout = _layout(out, steps, 1.0, "TB", 4)
    laid = sorted(e["lp"] for e in layout["edges"] if "lp" in e)
    pinned = sorted(re.findall(r'lp="([^"]+)"', frame_sources(out)[3]))
    assert pinned == laid


@needs_graphviz
@pytest.mark.slow
def test_backprop_gif_fits_700_px_with_12_px_text(tmp_path):
    """The README GIF (demo backprop's network) is shown at its own size in a 700 px column."""
    image = pytest.importorskip("PIL.Image", reason="Pillow (the demo extra) is not installed")
    from autograd.animate import FRAME_DPI, FRAME_FONT_SIZE
    from valuegrad.demos.backprop import engine_graph

    _, nodes = engine_graph()
    path = animate_backward(nodes["C"], tmp_path / "bp.gif", fps=MAX_FPS)
    quoted = re.search(r"GIF is (\d+) px wide", (ROOT / "docs" / "rendering.md").read_text(encoding="utf-8"))
    assert quoted is not None
    with image.open(path) as gif, image.open(ROOT / "docs" / "backprop.gif") as committed:
        assert gif.width <= 700 and gif.n_frames == len(autograd.topological_order(nodes["C"])) + 2
        assert gif.width == int(quoted.group(1)) == committed.width  # the page, the committed GIF, this run
    assert float(FRAME_FONT_SIZE) * FRAME_DPI / 72 >= 11  # points at 72 dpi are pixels
    assert MIN_FPS == 0.01
