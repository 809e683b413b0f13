"""sin and cos were added as two rows of autograd/ops.py and nothing else: they work in every mode."""

from __future__ import annotations

import math

import pytest

import autograd
from autograd import Dual, Value, compile_graph, grad, jacobian, jvp, testing, to_dot
from valuegrad import graph

X, Y = 0.7, -1.3


def f(x, y):
    return x.sin() * y.cos() + autograd.sin(x * y) - autograd.cos(x) ** 2


def exact_grads(x, y):
    dx = math.cos(x) * math.cos(y) + math.cos(x * y) * y + 2 * math.cos(x) * math.sin(x)
    dy = -math.sin(x) * math.sin(y) + math.cos(x * y) * x
    return dx, dy


def test_sin_cos_values_and_backward_are_exact():
    x, y = Value(X), Value(Y)
    out = f(x, y)
    out.backward()
    assert out.data == math.sin(X) * math.cos(Y) + math.sin(X * Y) - math.cos(X) ** 2
    assert (x.grad, y.grad) == pytest.approx(exact_grads(X, Y), rel=1e-15)
    assert autograd.sin(X) == math.sin(X) and autograd.cos(X) == math.cos(X)
    assert "sin" in autograd.__all__ and "cos" in autograd.__all__


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
def test_sin_derivatives_of_any_order_via_create_graph(order):
    g = lambda t: t.sin()  # noqa: E731
    for _ in range(order):
        g = grad(g, create_graph=True)
    expected = [math.sin, math.cos, lambda t: -math.sin(t), lambda t: -math.cos(t)][order % 4](0.3)
    assert float(g(0.3).data if isinstance(g(0.3), Value) else g(0.3)) == pytest.approx(expected, rel=1e-14)


def test_sin_cos_forward_mode_jvp_and_jacobian():
    value, tangent = jvp(lambda a, b: f(a, b), [X, Y], [1.0, 0.0])
    assert tangent == pytest.approx(exact_grads(X, Y)[0], rel=1e-14)
    assert Dual(X, 1.0).cos().tangent == -math.sin(X)
    assert jacobian(lambda a, b: f(a, b), [X, Y])[0] == pytest.approx(list(exact_grads(X, Y)), rel=1e-14)


def test_sin_cos_compile_graph_matches_eager():
    x, y = Value(X), Value(Y)
    compiled = compile_graph(f(x, y))
    x.data, y.data = 0.2, 1.1
    assert compiled.forward() == f(Value(0.2), Value(1.1)).data
    compiled.backward()
    assert (x.grad, y.grad) == pytest.approx(exact_grads(0.2, 1.1), rel=1e-14)


def test_sin_cos_compile_batched_runs_as_array_code(monkeypatch):
    np = pytest.importorskip("numpy", reason="compile_batched needs numpy")
    from autograd import batched

    def refuse(np_, function, outputs):
        raise AssertionError(f"{getattr(function, '__name__', function)} fell back to the per-sample loop")

    monkeypatch.setattr(batched, "_elementwise", refuse)
    x, y = Value(0.0), Value(Y)
    graph_ = autograd.compile_batched(f(x, y), [x])
    xs = np.array([[0.1], [X], [2.5]])
    out = graph_.forward(xs)
    assert out.tolist() == pytest.approx([f(Value(v), Value(Y)).data for v in (0.1, X, 2.5)], rel=1e-15)
    dx = graph_.backward(reduction="sum")
    assert dx[:, 0].tolist() == pytest.approx([exact_grads(v, Y)[0] for v in (0.1, X, 2.5)], rel=1e-14)
    assert y.grad == pytest.approx(sum(exact_grads(v, Y)[1] for v in (0.1, X, 2.5)), rel=1e-14)


def test_sin_cos_of_infinity_is_nan_in_every_mode():
    assert math.isnan(autograd.sin(math.inf)) and math.isnan(autograd.cos(-math.inf))
    assert math.isnan(Value(math.inf).sin().data) and math.isnan(Dual(-math.inf, 1.0).cos().primal)


def test_sin_cos_in_pictures_and_the_command_line(tmp_path, capsys):
    from valuegrad.__main__ import main

    x, y = Value(X, label="x"), Value(Y, label="y")
    source = to_dot(x.sin() * y.cos()).source
    assert "sin" in source and "cos" in source
    assert graph.evaluate_expression("sin(x)*cos(y)", {"x": X, "y": Y}) == math.sin(X) * math.cos(Y)
    assert main(["graph", "sin(x)*cos(y)", "--x", str(X), "--y", str(Y), "-o", str(tmp_path / "g.gv")]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[1] == f"sin(x)*cos(y) = {math.sin(X) * math.cos(Y)!r}"
    assert "sin" in (tmp_path / "g.gv").read_text() and "cos" in (tmp_path / "g.gv").read_text()


def test_the_random_graph_strategies_generate_sin_and_cos():
    from hypothesis import given, settings

    assert {"sin", "cos"} <= set(testing.ALL_OPS)
    seen: set[str] = set()

    @settings(max_examples=40, derandomize=True, deadline=None)
    @given(testing.expressions_with_inputs(ops=("sin", "cos", "*", "+"), min_nodes=3, max_nodes=6))
    def check(case):
        expr, xs = case
        seen.update(expr.ops)
        testing.assert_gradients_match(expr, xs)

    check()
    assert {"sin", "cos"} <= seen
