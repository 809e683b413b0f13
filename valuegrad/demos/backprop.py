"""`valuegrad demo backprop`: a 2-2-1 sigmoid network's gradients by hand, by the engine and by finite differences."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Mapping

from autograd import Value, numerical_grad, sigmoid
from valuegrad import options

from ._shared import MAX_LEARNING_RATE, add_output_arguments, animate_graph, draw_graph, output_dir, run_safely

# The worked example: one input (x1, x2), one target y, fixed small weights.
#   hidden unit 1: z1 = w1*x1 + w2*x2 + b1,  a1 = sigmoid(z1)
#   hidden unit 2: z2 = w3*x1 + w4*x2 + b2,  a2 = sigmoid(z2)
#   output unit:   z3 = w5*a1 + w6*a2 + b3,  a3 = sigmoid(z3)
#   cost:          C  = (a3 - y)**2
INPUT = (0.05, 0.10)
TARGET = 0.01
WEIGHTS = {"w1": 0.15, "w2": 0.20, "b1": 0.35, "w3": 0.25, "w4": 0.30, "b2": 0.35, "w5": 0.40, "w6": 0.45, "b3": 0.60}
# Output layer first: backpropagation walks from the cost back to the input.
ORDER = ("w5", "w6", "b3", "w1", "w2", "b1", "w3", "w4", "b2")
LEARNING_RATE = 0.5


def forward(p: Mapping[str, Any], x: tuple[Any, Any] = INPUT, y: Any = TARGET) -> dict[str, Any]:
    """Every intermediate of the network: floats in, floats out; Values in, a graph out."""
    x1, x2 = x
    z1 = p["w1"] * x1 + p["w2"] * x2 + p["b1"]
    a1 = sigmoid(z1)
    z2 = p["w3"] * x1 + p["w4"] * x2 + p["b2"]
    a2 = sigmoid(z2)
    z3 = p["w5"] * a1 + p["w6"] * a2 + p["b3"]
    a3 = sigmoid(z3)
    cost = (a3 - y) ** 2
    return {"z1": z1, "a1": a1, "z2": z2, "a2": a2, "z3": z3, "a3": a3, "C": cost}


def chain_rule(p: Mapping[str, float] = WEIGHTS, x: tuple[float, float] = INPUT, y: float = TARGET) -> dict:
    """dC/d(parameter) by hand: for each parameter the chain of factors (name, formula, value) and their product.

    dC/da3 = 2(a3 - y), da/dz = a(1 - a) for a sigmoid, dz/dw = the input that w multiplies,
    dz/db = 1, dz3/da1 = w5.  Factors are multiplied left to right, from the cost backwards.
    """
    f = forward(p, x, y)
    x1, x2 = x
    a1, a2, a3 = f["a1"], f["a2"], f["a3"]
    output = [("dC/da3", "2(a3 - y)", 2.0 * (a3 - y)), ("da3/dz3", "a3(1 - a3)", a3 * (1.0 - a3))]
    via_a1 = output + [("dz3/da1", "w5", p["w5"]), ("da1/dz1", "a1(1 - a1)", a1 * (1.0 - a1))]
    via_a2 = output + [("dz3/da2", "w6", p["w6"]), ("da2/dz2", "a2(1 - a2)", a2 * (1.0 - a2))]
    chains = {
        "w5": output + [("dz3/dw5", "a1", a1)],
        "w6": output + [("dz3/dw6", "a2", a2)],
        "b3": output + [("dz3/db3", "1", 1.0)],
        "w1": via_a1 + [("dz1/dw1", "x1", x1)],
        "w2": via_a1 + [("dz1/dw2", "x2", x2)],
        "b1": via_a1 + [("dz1/db1", "1", 1.0)],
        "w3": via_a2 + [("dz2/dw3", "x1", x1)],
        "w4": via_a2 + [("dz2/dw4", "x2", x2)],
        "b2": via_a2 + [("dz2/db2", "1", 1.0)],
    }
    result = {}
    for name, factors in chains.items():
        product = 1.0
        for _, _, value in factors:
            product *= value
        result[name] = {"factors": factors, "grad": product}
    return result


def engine_graph(p: Mapping[str, float] = WEIGHTS) -> tuple[dict[str, Value], dict[str, Any]]:
    """The network built from labelled Values, with C.backward() already run."""
    params = {name: Value(value, label=name) for name, value in p.items()}
    x = (Value(INPUT[0], label="x1"), Value(INPUT[1], label="x2"))
    nodes = forward(params, x, Value(TARGET, label="y"))
    for name, node in nodes.items():
        node.label = name
    nodes["C"].backward()
    return params, nodes


class Parameters:
    """The worked example's weights and biases by name, as ``to_dot(module=...)`` takes them: the
    picture then tells them from the inputs, which it draws as the first row, weights below."""

    def __init__(self, params: Mapping[str, Value]) -> None:
        self.params = dict(params)

    def named_parameters(self) -> list[tuple[str, Value]]:
        return list(self.params.items())


def finite_differences(p: Mapping[str, float] = WEIGHTS, *, eps: float = 1e-6) -> dict[str, float]:
    """Central differences (C(w + eps) - C(w - eps)) / 2eps for every parameter."""
    names = tuple(p)

    def cost(*values: Any) -> Any:
        return forward(dict(zip(names, values)))["C"]

    return dict(zip(names, numerical_grad(cost, [p[name] for name in names], eps=eps)))


def worked_example(*, lr: float = LEARNING_RATE) -> dict[str, Any]:
    """All numbers of the demo: forward pass, the three gradients, one SGD step and the new cost."""
    values = forward(WEIGHTS)
    hand = chain_rule()
    params, _ = engine_graph()
    numeric = finite_differences()
    stepped = {name: WEIGHTS[name] - lr * params[name].grad for name in WEIGHTS}
    return {
        "forward": values,
        "hand": {name: hand[name]["grad"] for name in ORDER},
        "chains": {name: hand[name]["factors"] for name in ORDER},
        "engine": {name: params[name].grad for name in ORDER},
        "numeric": {name: numeric[name] for name in ORDER},
        "new_weights": stepped,
        "new_cost": forward(stepped)["C"],
        "lr": lr,
    }


def report(example: Mapping[str, Any]) -> str:
    """The demo's printout: forward pass, chain rule per parameter, the comparison table, the SGD step."""
    f = example["forward"]
    lines = [
        "A 2-2-1 sigmoid network, one input, one target, cost C = (a3 - y)^2",
        f"  input x = ({INPUT[0]}, {INPUT[1]}), target y = {TARGET}",
        "  weights " + ", ".join(f"{name}={value}" for name, value in WEIGHTS.items()),
        "",
        "Forward pass (z = weighted sum + bias, a = sigmoid(z)):",
    ]
    for unit, inputs in (("1", "w1*x1 + w2*x2 + b1"), ("2", "w3*x1 + w4*x2 + b2"), ("3", "w5*a1 + w6*a2 + b3")):
        z, a = f["z" + unit], f["a" + unit]
        lines.append(f"  z{unit} = {inputs:<20} = {z:.9f}    a{unit} = sigmoid(z{unit}) = {a:.9f}")
    lines += [f"  C  = (a3 - y)^2 = ({f['a3']:.9f} - {TARGET})^2 = {f['C']:.9f}", ""]
    lines.append("Backward pass by hand, chain rule from the output back (dC/da = 2(a - y), sigmoid' = a(1 - a)):")
    for name in ORDER:
        factors = example["chains"][name]
        lines.append(f"  dC/d{name} = " + " * ".join(symbol for symbol, _, _ in factors))
        lines.append("         = " + " * ".join(formula for _, formula, _ in factors))
        numbers = " * ".join(f"{value:.6g}" for _, _, value in factors)
        lines.append(f"         = {numbers} = {example['hand'][name]:.9g}")
    lines += ["", "The same gradients three ways:"]
    header = f"  {'param':<6} {'by hand':>16} {'engine (backward)':>18} {'finite diff':>16} {'|hand - engine|':>16}"
    lines += [header, "  " + "-" * (len(header) - 2)]
    for name in ORDER:
        hand, engine, numeric = example["hand"][name], example["engine"][name], example["numeric"][name]
        lines.append(f"  {name:<6} {hand:>16.10f} {engine:>18.10f} {numeric:>16.10f} {abs(hand - engine):>16.1e}")
    lr = example["lr"]
    lines += [
        "",
        f"One SGD step, w <- w - {lr} * dC/dw:",
        "  " + ", ".join(f"{name}={example['new_weights'][name]:.6f}" for name in WEIGHTS),
        f"  cost before {f['C']:.9f}  ->  after {example['new_cost']:.9f}",
    ]
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_output_arguments(parser, training=False)
    parser.add_argument(
        "--lr",
        type=options.number(MAX_LEARNING_RATE),
        default=LEARNING_RATE,
        help="learning rate of the SGD step (default: %(default)s)",
    )
    # Writing the GIF is ~90% of the demo's CPU time (one Graphviz run per frame, then Pillow's
    # quantizer), and docs/backprop.gif is committed: so it is written only when asked for.
    parser.add_argument(
        "--gif", action="store_true",
        help="also write backprop.gif, backpropagation one node at a time (several times the rest's time)",
    )


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        out = output_dir(Path(args.out))
        print(report(worked_example(lr=args.lr)))
        params, nodes = engine_graph()
        written = draw_graph(nodes["C"], out / "backprop_graph.png", show_local_grads=True, rankdir="TB",
                             module=Parameters(params))
        if written is not None:
            print(f"\nwrote {written}  (the graph: data, grad and local derivatives on the edges)")
        if args.gif:
            animation = animate_graph(nodes["C"], out / "backprop.gif", rankdir="TB", fps=1.0)
            if animation is not None:
                print(f"wrote {animation}  (backpropagation one node at a time: upstream x local = contribution)")
        return 0

    return run_safely("backprop", body)
