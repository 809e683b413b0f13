"""autograd.animate: backward steps, pinned frames, the GIF and the HTML player (in headless Chromium)."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import autograd
from autograd import Value
from autograd.animate import MAX_STEPS, _render_frame, animate_backward, backward_steps, frame_sources
from autograd.render import format_number

HAS_GRAPHVIZ = shutil.which("dot") is not None and shutil.which("neato") is not None
needs_graphviz = pytest.mark.skipif(not HAS_GRAPHVIZ, reason="Graphviz (`dot` and `neato`) is not installed")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed")


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
    positions = [svg_nodes(svg) for svg in svgs]
    assert len(positions[0]) > 10
    for other in positions[1:]:
        assert other == positions[0]  # same nodes, same coordinates: nothing moves
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
    with pytest.raises(ValueError, match="fps must be a number > 0"):
        animate_backward(out, tmp_path / "a", fps=0)
    with pytest.raises(TypeError, match="root must be a Value, got float"):
        animate_backward(1.0, tmp_path / "a")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="path must be a str or os.PathLike, got int"):
        animate_backward(out, 3)  # type: ignore[arg-type]
    big = Value(1.0, label="x")
    for _ in range(MAX_STEPS + 1):
        big = big * 1.0
    with pytest.raises(ValueError, match=f"at most {MAX_STEPS} ops"):
        animate_backward(big, tmp_path / "a")
    assert list(tmp_path.iterdir()) == []


@needs_graphviz
def test_animate_backward_without_pillow_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    out, _ = neuron()
    with pytest.raises(ImportError, match=r"pip install 'valuegrad\[demo\]'"):
        animate_backward(out, tmp_path / "a.gif")
    assert list(tmp_path.iterdir()) == []


# -- the HTML player in a real browser ------------------------------------------------------------

CLICKER = """
<script>
window.addEventListener("load", function () {
  var seen = [document.body.getAttribute("data-frame")];
  function visible() {
    var shown = Array.prototype.filter.call(document.querySelectorAll(".frame"), function (f) { return !f.hidden; });
    return shown.map(function (f) { return f.id; }).join(",");
  }
  var log = [visible()];
  document.getElementById("next").click(); log.push(visible());
  document.getElementById("next").click(); log.push(visible());
  document.getElementById("prev").click(); log.push(visible());
  for (var i = 0; i < 50; i++) { document.getElementById("next").click(); }
  log.push(visible());
  var out = document.createElement("pre");
  out.id = "clicklog";
  out.textContent = log.join(" ") + " | " + document.getElementById("counter").textContent;
  document.body.appendChild(out);
});
</script>
"""


def chromium(*arguments: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=4000", *arguments],
        capture_output=True, text=True, timeout=120, check=False,
    )


@needs_graphviz
@needs_chromium
@pytest.mark.slow
def test_animate_backward_html_player_clicks_through_in_chromium(tmp_path):
    out, _ = neuron()
    path = Path(animate_backward(out, tmp_path / "player", format="html"))
    page = path.read_text(encoding="utf-8")
    frames = interior_count(out) + 2
    assert page.count('<div class="frame"') == frames and "<?xml" not in page and "http" not in page.split("<svg")[0]
    # The page as shipped, plus a script that presses the real buttons and writes down what is shown.
    harness = tmp_path / "harness.html"
    harness.write_text(page.replace("</body>", CLICKER + "</body>"), encoding="utf-8")
    done = chromium("--dump-dom", harness.as_uri())
    log = re.search(r'<pre id="clicklog">(.*?)</pre>', done.stdout)
    assert log is not None, done.stderr[-2000:]
    shown, counter = log.group(1).split(" | ")
    assert shown.split() == ["frame1", "frame2", "frame3", "frame2", f"frame{frames}"]
    assert counter == f"frame {frames} / {frames}"
    # #frame=N opens frame N; the screenshot shows a drawn page, not a blank one.
    shot = tmp_path / "shot.png"
    done = chromium(f"--screenshot={shot}", "--window-size=1200,900", path.as_uri() + "#frame=3")
    assert shot.exists(), done.stderr[-2000:]
    image = pytest.importorskip("PIL.Image", reason="Pillow (the demo extra) is not installed")
    with image.open(shot) as picture:
        colours = picture.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 20
    dom = chromium("--dump-dom", path.as_uri() + "#frame=3").stdout
    assert 'data-frame="2"' in dom and "frame 3 / " in dom
