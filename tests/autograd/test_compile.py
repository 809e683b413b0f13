"""compile_graph: the generated forward/backward must equal eager to the last bit, IEEE cases included."""

from __future__ import annotations

import math
import random
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

import autograd
from autograd import CompiledGraph, Value, compile_graph, dot, ops
from autograd import compile as compile_module
from autograd import sum as vsum
from tests.strategies import expressions, expressions_with_inputs, ieee_floats, micrograd_closure_node


def bits(x: float) -> bytes:
    """The float's exact bit pattern, with every NaN folded to one (IEEE leaves NaN payloads open)."""
    return b"nan" if x != x else struct.pack("<d", x)


def eager_grads(leaves: list[Value], root: Value, seed: float = 1.0) -> list[bytes]:
    for leaf in leaves:
        leaf.grad = 0.0
    root.backward(seed)
    return [bits(leaf.grad) for leaf in leaves]


def compiled_grads(leaves: list[Value], graph: CompiledGraph, seed: float = 1.0) -> list[bytes]:
    for leaf in leaves:
        leaf.grad = 0.0
    graph.backward(seed)
    return [bits(leaf.grad) for leaf in leaves]


@given(expressions_with_inputs())
def test_compile_graph_gradients_equal_eager_on_random_graphs(case):
    expr, xs = case
    leaves = [Value(x) for x in xs]
    root = expr.build(*leaves)
    graph = compile_graph(root)
    want = eager_grads(leaves, root)
    assert compiled_grads(leaves, graph) == want
    assert bits(graph.forward()) == bits(root.data)


# Replays at arbitrary points: big, tiny, zero, negative zero, infinities and NaN.
@given(expressions(n_inputs=2, max_nodes=10), st.tuples(ieee_floats(), ieee_floats()),
       st.tuples(ieee_floats(), ieee_floats()))
def test_compile_graph_replay_equals_eager_at_new_points(expr, first, second):
    """Trace at one point, replay at another: data, derivatives and grads match a fresh eager graph."""
    leaves = [Value(x) for x in first]
    graph = compile_graph(expr.build(*leaves))
    for leaf, x in zip(leaves, second):
        leaf.data = x
    out = graph.forward()
    fresh = [Value(x) for x in second]
    fresh_root = expr.build(*fresh)
    assert bits(out) == bits(fresh_root.data)
    assert compiled_grads(leaves, graph) == eager_grads(fresh, fresh_root)


def test_compile_graph_follows_relu_and_abs_sign_changes():
    x = Value(2.0)
    y = Value(-1.0)
    root = (x * y).relu() + abs(x - 3.0) * x.relu() + abs(y)
    graph = compile_graph(root)
    for xv, yv in [(2.0, -1.0), (-2.0, -1.0), (4.0, 1.0), (0.0, 0.0), (3.0, -0.0), (-0.5, 2.0)]:
        x.data, y.data = xv, yv
        graph.forward()
        fx, fy = Value(xv), Value(yv)
        fresh = (fx * fy).relu() + abs(fx - 3.0) * fx.relu() + abs(fy)
        assert bits(root.data) == bits(fresh.data)
        assert compiled_grads([x, y], graph) == eager_grads([fx, fy], fresh)


@pytest.mark.parametrize(
    "build, point, expected_value, expected_grad",
    [
        (lambda x: x.log(), 0.0, -math.inf, math.inf),
        (lambda x: x.log(), -1.0, math.nan, -1.0),
        (lambda x: 1.0 / x, 0.0, math.inf, -math.inf),
        (lambda x: 1.0 / x, -0.0, -math.inf, -math.inf),
        (lambda x: x.exp(), 1000.0, math.inf, math.inf),
        (lambda x: x**0.5, -4.0, math.nan, math.nan),
        (lambda x: (-8.0) ** x, 1.0 / 3.0, math.nan, math.nan),
        (lambda x: x.sqrt(), 0.0, 0.0, math.inf),
        (lambda x: x.tanh(), 800.0, 1.0, 0.0),
        (lambda x: x.sigmoid(), -800.0, 0.0, 0.0),
        (lambda x: x * math.nan, 1.0, math.nan, math.nan),
    ],
)
def test_compile_graph_ieee_edges_match_eager(build, point, expected_value, expected_grad):
    x = Value(5.0)  # traced at a harmless point, replayed at the edge
    graph = compile_graph(build(x))
    x.data = point
    value = graph.forward()
    graph.backward()
    assert bits(value) == bits(expected_value)
    assert bits(x.grad) == bits(expected_grad)
    fresh = Value(point)
    out = build(fresh)
    out.backward()
    assert bits(out.data) == bits(value)
    assert bits(fresh.grad) == bits(x.grad)


def test_compile_graph_negative_zero_gradients_are_exact():
    """Interior grads start at 0.0 as in eager, so a lone -0.0 contribution becomes +0.0 there."""
    x = Value(1.0)
    root = (x * 1.0) * -0.0
    graph = compile_graph(root)
    x.grad = -0.0
    root.backward()
    eager = bits(x.grad)
    x.grad = -0.0
    graph.backward()
    assert bits(x.grad) == eager == bits(0.0)


def test_compile_graph_backward_accumulates_into_leaves_like_eager():
    x, y = Value(1.5), Value(-2.0)
    root = x * y + x.tanh()
    graph = compile_graph(root)
    graph.backward()
    graph.backward(2.0)
    ex, ey = Value(1.5), Value(-2.0)
    eroot = ex * ey + ex.tanh()
    eroot.backward()
    eroot.backward(2.0)
    assert (bits(x.grad), bits(y.grad)) == (bits(ex.grad), bits(ey.grad))


def test_compile_graph_shared_leaf_and_repeated_parent():
    x = Value(0.7)
    root = dot([x, x, x], [x, 2.0, x], x) + x * x
    graph = compile_graph(root)
    assert compiled_grads([x], graph) == eager_grads([x], root)
    assert x.grad == pytest.approx(2 * 0.7 + 2.0 + 2 * 0.7 + 1.0 + 2 * 0.7)


def test_compile_graph_large_fused_ops_call_the_row():
    """Sums and dots with more parents than the inline limit are computed by calling the row."""
    rng = random.Random(5)
    n = compile_module._INLINE_MAX_ARGS + 50
    ws = [Value(rng.uniform(-1, 1)) for _ in range(n)]
    xs = [Value(rng.uniform(-1, 1)) for _ in range(n)]
    root = vsum([dot(ws, xs, 0.5).tanh(), vsum(ws)])
    graph = compile_graph(root)
    assert "_dot_forward" in graph.source
    leaves = ws + xs
    assert compiled_grads(leaves, graph) == eager_grads(leaves, root)


def test_compile_graph_root_leaf_and_repr():
    x = Value(3.0)
    graph = compile_graph(x)
    assert graph.forward() == 3.0
    graph.backward(2.0)
    assert x.grad == 2.0
    assert graph.leaves == (x,)
    assert "CompiledGraph(nodes=1" in repr(graph)


def test_compile_graph_leaves_interior_nodes_untouched():
    x = Value(2.0)
    middle = x * 3.0
    root = middle.tanh()
    graph = compile_graph(root)
    x.data = -1.0
    assert graph.forward() == math.tanh(-3.0)
    assert root.data == math.tanh(-3.0)
    assert middle.data == 6.0  # documented: interior nodes keep their traced values
    graph.backward()
    assert middle.grad == 0.0
    assert x.grad == ops.sech2(-3.0) * 3.0  # tanh's local derivative, from its input


def test_compile_graph_generated_source_is_derived_from_rows():
    x, y = Value(1.0), Value(2.0)
    graph = compile_graph(x * y + x.tanh() + x.relu())
    assert "a0 * a1" in graph.source  # MUL's forward traced into an expression
    assert "_fsech2" in graph.source  # TANH's local sech2(x) called from the row
    assert "_tanh_" in graph.source  # math.tanh needs a real float: the row's function is called
    # relu's forward and its derivative step() branch in Python: traced path by path
    assert "(a0 if a0 > 0.0 else (a0 if a0 != a0 else 0.0))" in graph.source
    assert "(1.0 if a0 > 0.0 else (0.0 if a0 <= 0.0 else nan))" in graph.source


# Rows with Python branches in forward and local (min/max, chained comparisons, a branchy
# local): the tracer must reproduce them exactly, or call them.
CLAMP = ops.Op(
    "clamp", 1, lambda x: min(max(x, -1.0), 1.0), lambda x, out: ((1.0 if -1.0 < x < 1.0 else 0.0),)
)
BRANCHY = ops.Op(  # more branch outcomes than the tracer inlines: called from the generated code
    "branchy",
    1,
    lambda x: next((float(k) for k in range(12) if x < k), 12.0) if x == x else x,
    lambda x, out: (0.0,),
)
SELECT = ops.Op(
    "select", 2, lambda x, y: x if x >= y else y * 0.5, lambda x, y, out: (1.0, 0.0) if x >= y else (0.0, 0.5)
)

EDGE_POINTS = [-2.0, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 3.0, 11.5, math.inf, -math.inf, math.nan]


@pytest.mark.parametrize("rule", [CLAMP, BRANCHY])
def test_compile_graph_traces_branchy_rows_exactly(rule):
    x = Value(0.25)
    root = ops.apply(rule, x * 2.0) * x
    graph = compile_graph(root)
    for point in EDGE_POINTS:
        x.data = point
        value = graph.forward()
        fresh = Value(point)
        eager = ops.apply(rule, fresh * 2.0) * fresh
        assert bits(value) == bits(eager.data), point
        assert compiled_grads([x], graph) == eager_grads([fresh], eager), point
    if rule is CLAMP:
        assert "_lambda_" not in graph.source  # both forward and local inlined
    else:
        assert "_lambda_" in graph.source  # too many paths: the row is called


def test_compile_graph_traces_branchy_binary_local():
    x, y = Value(1.0), Value(2.0)
    graph = compile_graph(ops.apply(SELECT, x, y))
    assert " if a0 >= a1 else " in graph.source
    for a, b in [(1.0, 2.0), (3.0, 2.0), (2.0, 2.0), (math.nan, 1.0), (1.0, math.nan), (-0.0, 0.0)]:
        x.data, y.data = a, b
        value = graph.forward()
        fx, fy = Value(a), Value(b)
        eager = ops.apply(SELECT, fx, fy)
        assert bits(value) == bits(eager.data)
        assert compiled_grads([x, y], graph) == eager_grads([fx, fy], eager)


def test_compile_graph_rejects_bad_input_and_huge_graphs(monkeypatch):
    with pytest.raises(TypeError, match=r"compile_graph\(\) root must be a Value, got float"):
        compile_graph(1.0)
    monkeypatch.setattr(compile_module, "MAX_NODES", 10)
    x = Value(1.0)
    y = x
    for _ in range(20):
        y = y * 1.5
    with pytest.raises(ValueError, match=r"compile_graph\(\): the graph has 41 nodes.*MAX_NODES = 10"):
        compile_graph(y)
    with pytest.raises(TypeError, match="CompiledGraph.backward\\(\\) grad must be a real number"):
        compile_graph(x * 2.0).backward("1")


@pytest.mark.slow  # a 20,000-op chain compiled and replayed: ~3 s
def test_compile_graph_deep_chain():
    x = Value(1.0)
    y = x
    for _ in range(20_000):
        y = y * 1.0001 + 0.0
    graph = compile_graph(y)
    assert compiled_grads([x], graph)[0] == eager_grads([x], y)[0]


def _mlp(rng: random.Random, sizes=(2, 8, 8, 1)):
    return [
        [(tuple(Value(rng.uniform(-1, 1)) for _ in range(nin)), Value(0.0)) for _ in range(nout)]
        for nin, nout in zip(sizes[:-1], sizes[1:])
    ]


def _loss(layers, inputs, targets):
    scores = []
    for x in inputs:
        h = x
        for i, layer in enumerate(layers):
            h = [dot(ws, h, b) if i == len(layers) - 1 else dot(ws, h, b).relu() for ws, b in layer]
        scores.append(h[0])
    params = [p for layer in layers for ws, b in layer for p in (*ws, b)]
    hinge = vsum([(1.0 + -t * s).relu() for t, s in zip(targets, scores)]) * (1.0 / len(scores))
    return hinge + 1e-4 * dot(params, params), params


def test_compile_graph_mlp_training_matches_eager_bit_for_bit():
    """Twenty SGD steps, the compiled graph replayed vs the graph rebuilt each step: same weights."""
    rng = random.Random(0)
    X = [[rng.uniform(-2, 2), rng.uniform(-2, 2)] for _ in range(24)]
    Y = [1.0 if a * b > 0 else -1.0 for a, b in X]
    eager_layers, compiled_layers = _mlp(random.Random(1)), _mlp(random.Random(1))
    inputs = [[Value(a) for a in x] for x in X]
    root, cparams = _loss(compiled_layers, inputs, Y)
    graph = compile_graph(root)
    for _ in range(20):
        loss, eparams = _loss(eager_layers, [[Value(a) for a in x] for x in X], Y)
        for p in eparams:
            p.grad = 0.0
        loss.backward()
        closs = graph.forward()
        for p in cparams:
            p.grad = 0.0
        graph.backward()
        assert bits(closs) == bits(loss.data)
        for pe, pc in zip(eparams, cparams):
            assert bits(pe.grad) == bits(pc.grad)
            pe.data -= 0.5 * pe.grad
            pc.data -= 0.5 * pc.grad
    assert [bits(p.data) for p in eparams] == [bits(p.data) for p in cparams]


def test_compile_graph_is_exported():
    assert autograd.compile_graph is compile_graph
    assert "compile_graph" in autograd.__all__ and "CompiledGraph" in autograd.__all__


def test_compile_graph_watch_updates_chosen_interior_nodes():
    x = Value(1.0)
    hidden = x * 2.0
    other = hidden + 1.0
    root = other.tanh()
    graph = compile_graph(root, watch=[hidden, x])
    x.data = 5.0
    graph.forward()
    assert hidden.data == 10.0
    assert other.data == 3.0  # not watched: keeps the traced value
    assert graph.watch == (hidden,)  # leaves hold their own data already
    with pytest.raises(ValueError, match="watched node .* is not part of the graph"):
        compile_graph(root, watch=[Value(2.0) * 3.0])
    with pytest.raises(TypeError, match="watch must hold Values, got float"):
        compile_graph(root, watch=[1.0])


@given(expressions_with_inputs(max_nodes=16))
def test_topological_order_lists_parents_first_and_leaves_grads_untouched(case):
    """compile_graph replays topological_order (backward's own walk): each interior node once,
    after its interior parents; the walk's marks on ``.grad`` are all put back."""
    expr, xs = case
    leaves = [Value(x) for x in xs]
    root = expr.build(*leaves)
    root.backward()
    before = {node: node.grad for node in autograd.topological_order(root, include_leaves=True)}
    order = autograd.topological_order(root)
    position = {node: i for i, node in enumerate(order)}
    assert len(position) == len(order) and order[-1] is root
    for node in order:
        assert all(position[p] < position[node] for p in node.parents if p._rule is not None)
    with_leaves = autograd.topological_order(root, include_leaves=True)
    assert with_leaves[len(with_leaves) - len(order):] == order
    assert all(node._rule is None for node in with_leaves[: len(with_leaves) - len(order)])
    assert {node: node.grad for node in with_leaves} == before


# softplus and logsumexp: rows whose float forward branches (sign, nan, ±inf), while their
# graphs do not, so one trace replays anywhere (what fit(compiled=True) relies on for losses).
NEW_ROW_POINTS = [
    (0.0, 0.0, 0.0), (-0.0, 1.0, -1.0), (3.0, -2.0, 0.5), (-3.0, 2.0, 0.5), (1000.0, -1000.0, 0.0),
    (-1000.0, -1000.0, -1000.0), (710.0, 709.0, -745.0), (math.inf, 1.0, 0.0), (-math.inf, -math.inf, -math.inf),
    (math.inf, -math.inf, 2.0), (math.nan, 1.0, 2.0), (1e308, -1e308, 0.0),
]


def _loss_like(a, b, c):
    """cross_entropy with a probability target and bce with logits, sharing inputs."""
    lse = autograd.logsumexp([a, b, c])
    return lse * 1.0 - dot([0.0, 1.0, 0.0], [a, b, c]) + autograd.softplus(a) - a * 0.3 + b.softplus()


def test_compile_graph_softplus_and_logsumexp_replay_equals_eager_at_ieee_points():
    leaves = [Value(0.1), Value(0.2), Value(0.3)]
    graph = compile_graph(_loss_like(*leaves))
    assert "_flogsumexp_" in graph.source and "_fsoftplus_" in graph.source  # rows called, not re-derived
    for point in NEW_ROW_POINTS:
        for leaf, x in zip(leaves, point):
            leaf.data = x
        value = graph.forward()
        fresh = [Value(x) for x in point]
        eager = _loss_like(*fresh)
        assert bits(value) == bits(eager.data), point
        assert compiled_grads(leaves, graph) == eager_grads(fresh, eager), point


def test_compile_graph_refuses_micrograd_style_closure_nodes():
    """A node whose row is a placeholder (forward None: a user's _backward closure) names defop."""
    x = Value(1.0)
    node = micrograd_closure_node(x, "mine")
    with pytest.raises(NotImplementedError, match=r"compile_graph\(\).*'mine'.*defop"):
        compile_graph(node * 2.0)
