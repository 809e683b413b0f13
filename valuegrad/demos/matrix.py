"""`valuegrad demo matrix`: a 2-3-2 sigmoid network's backpropagation as matrices, beside the scalar graph's numbers."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from nn import MLP, backprop_matrices, mse_loss
from valuegrad import options

from ._shared import DEFAULT_OUT, prepare_output, pyplot, run_safely, save_figure

# The material's network: 2 inputs, 3 sigmoid hidden units, 2 sigmoid outputs, MSE; round weights
# (w_(j,k): row j = the weights into neuron j) and a fixed pool of samples the mini-batch is cut from.
WEIGHTS = {
    "layers.0.weight": [[0.15, 0.20], [0.25, 0.30], [0.35, 0.40]],
    "layers.0.bias": [0.35, 0.35, 0.35],
    "layers.1.weight": [[0.40, 0.45, 0.50], [0.55, 0.60, 0.65]],
    "layers.1.bias": [0.60, 0.60],
}
SAMPLES = [
    [0.05, 0.10], [0.90, 0.20], [0.30, 0.80], [0.60, 0.60], [0.10, 0.70], [0.80, 0.90], [0.45, 0.15], [0.95, 0.55],
]
TARGETS = [[0.01, 0.99], [0.99, 0.01]] * 4  # two classes, alternating
# nn.mse_loss averages over all B x 2 numbers: per sample, C_s = (1/2) sum_j (a_j - y_j)^2.
COST = r"$C = \frac{1}{B}\sum_s C_s$,  $C_s = \frac{1}{2}\sum_j (a^L_j - y_j)^2$ (nn.mse_loss, as fit uses it),  " \
    r"so $\nabla_a C_s = a^L - y$"
TRACED = 2  # weights of each layer traced edge by edge in the picture and the printout


def network() -> MLP:
    model = MLP(2, [3, 2], "sigmoid", out_activation="sigmoid")
    model.load_state_dict(WEIGHTS)
    return model


def scalar_graph(model: MLP, X: list[list[float]], Y: list[list[float]]) -> list[list[list[Any]]]:
    """Build fit's batch-mean MSE from the model's own forward, run backward, and find each
    layer's z nodes in the graph: an output's parent is its z (a ``dot`` node), whose parents
    are the neuron's weights, then the a's of the layer below, then the bias.

    Returns z nodes indexed [layer][sample][neuron]; their ``.grad`` is set (= delta / B).
    """
    outputs = [model(row) for row in X]
    model.zero_grad()
    mse_loss(outputs, Y).backward()
    zs: list[list[list[Any]]] = [[] for _ in model.layers]
    for output in outputs:
        below = output if isinstance(output, list) else [output]
        for index in range(len(model.layers) - 1, -1, -1):
            layer_z = [a.parents[0] for a in below]  # sigmoid(z): z is the only parent
            zs[index].append(layer_z)
            n = model.layers[index].nin
            below = list(layer_z[0].parents[n : 2 * n])  # the dot's inputs: a^(l-1)
    return zs


def graph_arrays(model: MLP, zs: list[list[list[Any]]], batch: int) -> list[dict[str, Any]]:
    """delta = B * z.grad and dW = w.grad, db = b.grad per layer, as the matrix side lays them out."""
    import numpy as np

    return [
        {
            "delta": batch * np.array([[z.grad for z in row] for row in zs[index]]),
            "dW": np.array([[w.grad for w in neuron.w] for neuron in layer.neurons]),
            "db": np.array([neuron.b.grad for neuron in layer.neurons]),
        }
        for index, layer in enumerate(model.layers)
    ]


def trace_weight(model: MLP, zs: list[list[list[Any]]], index: int, j: int, k: int) -> dict[str, Any]:
    """dC/dw_(j,k) summed edge by edge: one edge per sample, from that sample's z_j node into
    w_(j,k), worth z_j.grad (= delta_j / B) times the edge's local derivative (= a_k)."""
    weight = model.layers[index].neurons[j].w[k]
    edges = []
    for row in zs[index]:
        z = row[j]
        local = z.local_grads[k]  # d(w . a + b)/dw_k = a_k
        edges.append({"upstream": z.grad, "local": local, "product": z.grad * local})
    return {"j": j, "k": k, "label": weight.label, "edges": edges, "grad": weight.grad}


def compute(batch_size: int) -> dict[str, Any]:
    """Everything the demo shows: both computations, their differences and the traced weights."""
    import numpy as np

    X, Y = SAMPLES[:batch_size], TARGETS[:batch_size]
    model = network()
    matrix = backprop_matrices(model, X, Y, loss="mse")  # raises if its own check fails
    zs = scalar_graph(model, X, Y)
    graph = graph_arrays(model, zs, batch_size)
    differences = [
        {field: float(np.abs(getattr(layer, field) - read[field]).max()) for field in ("delta", "dW", "db")}
        for layer, read in zip(matrix, graph)
    ]
    traces = [
        [trace_weight(model, zs, index, j, k) for j, k in [(0, 0), (layer.nout - 1, layer.nin - 1)][:TRACED]]
        for index, layer in enumerate(model.layers)
    ]
    return {"matrix": matrix, "graph": graph, "differences": differences, "traces": traces, "batch": batch_size}


def _decimals(limit: float) -> int:
    """Decimals that show the largest entry of a panel with three significant digits (at least 3)."""
    return 3 if limit == 0.0 else max(3, 2 - math.floor(math.log10(limit)))


def _heatmap(axes: Any, array: Any, title: str, rows: list[str], columns: list[str]) -> None:
    """Annotated heatmap on a symmetric diverging scale (every panel's zero is white); one
    number format per panel, so the entries line up and compare at a glance."""
    import numpy as np

    limit = float(np.abs(array).max())
    decimals = _decimals(limit)
    axes.imshow(array, cmap="RdBu_r", vmin=-(limit or 1.0), vmax=limit or 1.0, aspect="auto")
    for (r, c), value in np.ndenumerate(array):
        colour = "white" if abs(value) > 0.65 * limit else "black"
        axes.text(c, r, f"{value:.{decimals}f}", ha="center", va="center", fontsize=9.5, color=colour)
    axes.set_xticks(range(len(columns)), columns, fontsize=8.5)
    axes.set_yticks(range(len(rows)), rows, fontsize=8.5)
    axes.set_title(title, fontsize=10.5)


def _with_bias(matrix: Any, vector: Any) -> Any:
    import numpy as np

    return np.column_stack([matrix, vector])


def _titles(level: int, last: bool) -> dict[str, str]:
    """The panel titles: each is the equation that produces the panel from the ones before it."""
    below = "x" if level == 1 else f"a^{{{level - 1}}}"
    delta = (
        r"$\delta^{L} = \nabla_a C \odot \sigma'(z^{L})$"
        if last
        else rf"$\delta^{{{level}}} = ((W^{{{level + 1}}})^T \delta^{{{level + 1}}}) \odot \sigma'(z^{{{level}}})$"
    )
    return {
        "W": rf"$W^{{{level}}}$ | $b^{{{level}}}$   ($w_{{jk}}$: to $j$ from $k$)",
        "a_in": rf"${below}$ (columns: samples)" if level == 1 else rf"$a^{{{level - 1}}} = \sigma(z^{{{level - 1}}})$",
        "z": rf"$z^{{{level}}} = W^{{{level}}} {below} + b^{{{level}}}$",
        "delta": delta,
        "dW": rf"$\partial C/\partial W^{{{level}}} = \delta^{{{level}}} ({below})^T / B$ | mean $\delta$",
    }


def _trace_text(trace: dict[str, Any], level: int, batch: int) -> str:
    """One weight's gradient summed over its edges in the scalar graph, one edge per sample."""
    j, k = trace["j"], trace["k"]
    source = f"x{k}" if level == 1 else f"a{k}"
    lines = [
        f"w({j},{k}) = {trace['label']}",
        f"edge from sample s's z{j}: z{j}.grad x {source}",
        f"(z{j}.grad = delta{j} / B,  local = {source})",
    ]
    for x, edge in enumerate(trace["edges"]):
        lines.append(f"  s={x}: {edge['upstream']:+.4e} x {edge['local']:.4f} = {edge['product']:+.4e}")
    lines.append(f"  sum of the {batch} edges  = {sum(e['product'] for e in trace['edges']):+.6e}")
    lines.append(f"  w({j},{k}).grad        = {trace['grad']:+.6e}")
    return "\n".join(lines)


def plot_layer(result: dict[str, Any], index: int, path: Path) -> Path:
    """Top: the matrix equations of layer l = index + 1 as heatmaps (neurons as rows, samples as
    columns); bottom: delta and dW read off the scalar graph, and weights traced edge by edge."""
    plt = pyplot()
    layer = result["matrix"][index]
    read, traces, batch = result["graph"][index], result["traces"][index], result["batch"]
    level, last = index + 1, index == len(result["matrix"]) - 1
    m, n = layer.W.shape
    samples = [f"x{s}" for s in range(batch)]
    neurons, inputs = [f"j={j}" for j in range(m)], [f"k={k}" for k in range(n)]
    titles = _titles(level, last)
    widths = [n + 1, batch, batch, batch, n + 1]
    height = max(m + 1.0, 0.4 * (batch + 5))  # the bottom row holds a trace of batch + 5 lines
    figure = plt.figure(figsize=(max(12.0, 0.8 * sum(widths) + 2.0), 1.2 + 2 * 0.75 * height))
    grid = figure.add_gridspec(2, 5, width_ratios=widths)
    top = [figure.add_subplot(grid[0, c]) for c in range(5)]
    _heatmap(top[0], _with_bias(layer.W, layer.b), titles["W"], neurons, inputs + ["b"])
    _heatmap(top[1], layer.a_in.T, titles["a_in"], inputs, samples)
    _heatmap(top[2], layer.z.T, titles["z"], neurons, samples)
    _heatmap(top[3], layer.delta.T, titles["delta"], neurons, samples)
    _heatmap(top[4], _with_bias(layer.dW, layer.db), titles["dW"], neurons, inputs + ["b"])
    _heatmap(figure.add_subplot(grid[1, 3]), read["delta"].T, r"scalar graph: $B\cdot$z.grad ($\delta$)", neurons,
             samples)
    _heatmap(
        figure.add_subplot(grid[1, 4]), _with_bias(read["dW"], read["db"]), "scalar graph: w.grad | b.grad",
        neurons, inputs + ["b"],
    )
    text = figure.add_subplot(grid[1, :3])
    text.axis("off")
    below = "x" if level == 1 else "a"
    text.set_title(
        rf"the scalar graph, edge by edge: $\partial C/\partial w_{{jk}} = \sum_s$ z$_j$.grad $\cdot$ ${below}_k$"
        rf" $= \frac{{1}}{{B}} \sum_s \delta_{{j,s}}\, {below}_{{k,s}}$",
        fontsize=10.5,
    )
    for column, trace in enumerate(traces):
        text.text(column / len(traces), 0.92, _trace_text(trace, level, batch), family="monospace", fontsize=10,
                  va="top", ha="left", transform=text.transAxes)
    worst = max(result["differences"][index].values())
    kind = "output layer L" if last else "hidden layer"
    figure.suptitle(
        f"Layer {level} ({kind}) of MLP(2, [3, 2], sigmoid) on a mini-batch of B = {batch}: the matrix equations "
        f"(top) and the scalar graph (bottom) agree to {worst:.1e}\n" + COST,
        fontsize=11,
    )
    figure.tight_layout()
    return save_figure(figure, path)


def _rows(name: str, array: Any) -> str:
    """``  name = [[...]`` with the array's further rows aligned under its first."""
    import numpy as np

    lead = f"  {name} = "
    return lead + np.array2string(np.asarray(array), precision=6, max_line_width=110, prefix=" " * len(lead))


def report(result: dict[str, Any]) -> str:
    """The printout: each layer's matrices, the traced weights, and the check."""
    batch = result["batch"]
    lines = [
        f"MLP(2, [3, 2], sigmoid) with round weights, MSE, a mini-batch of B = {batch}.",
        "Rows of each array: samples (a_in, z, a, delta) or neurons j (W, dW); w_(j,k): to neuron j from k.",
        "",
    ]
    for index, layer in enumerate(result["matrix"]):
        lines.append(f"Layer {index + 1}{' (output layer L)' if index == len(result['matrix']) - 1 else ''}:")
        for name, array in (("W", layer.W), ("b", layer.b), ("a_in", layer.a_in), ("z", layer.z), ("a", layer.a),
                            ("delta", layer.delta), ("dW = delta^T a_in / B", layer.dW), ("db = mean delta", layer.db)):
            lines.append(_rows(name, array))
        for trace in result["traces"][index]:
            total = sum(edge["product"] for edge in trace["edges"])
            lines.append(
                f"  {trace['label']}: sum over {batch} edges of z{trace['j']}.grad x a_in[:, {trace['k']}] = "
                f"{total:+.12e}; .grad = {trace['grad']:+.12e}"
            )
        lines.append("")
    lines.append("Check: largest |matrix equations - scalar graph| (delta = B * z.grad, dW = w.grad, db = b.grad):")
    for index, differences in enumerate(result["differences"]):
        cells = ", ".join(f"{field} {value:.1e}" for field, value in differences.items())
        lines.append(f"  layer {index + 1}: {cells}")
    worst = max(max(d.values()) for d in result["differences"])
    lines.append(f"  agree: {worst <= 1e-12} (largest difference {worst:.1e}; backprop_matrices checks 1e-12 relative)")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=options.path, default=DEFAULT_OUT, metavar="DIR",
        help="directory for the pictures (default: %(default)s)",
    )
    parser.add_argument(
        "--batch-size", type=options.integer(1, len(SAMPLES)), default=4,
        help=f"mini-batch size, 1 to {len(SAMPLES)} samples (default: %(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        out = prepare_output(args)
        result = compute(args.batch_size)
        print(report(result))
        for index in range(len(result["matrix"])):
            path = plot_layer(result, index, out / f"matrix_layer{index + 1}.png")
            print(f"wrote {path}  (layer {index + 1}: W, a, z, delta, dW as matrices and from the scalar graph)")
        return 0

    return run_safely("matrix", body)
