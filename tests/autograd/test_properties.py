"""Hypothesis properties over random expression DAGs, and the autograd.testing tools themselves."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd
from autograd import Value, check_grads, grad, jvp, ops, topological_order, value_and_grad
from tests.strategies import (
    ALL_OPS,
    Expression,
    Step,
    assert_gradients_match,
    backward_on_leaves,
    default_functions,
    expressions,
    expressions_with_inputs,
)

REPO = Path(__file__).resolve().parents[2]
FEW = settings(max_examples=max(10, settings.default.max_examples // 4))  # for tests parametrized many ways


# -- gradients are right, in every mode -------------------------------------------------------

# Tighter than check_grads' defaults: the random graphs keep values within ±50.
TIGHT = {"atol": 1e-6, "rtol": 1e-5}
# Duals through the fused rows (one SUM / DOT / LOGSUMEXP application), as Values get them.
FUSED = {**default_functions(), "sum": autograd.sum, "dot": autograd.dot, "logsumexp": autograd.logsumexp}


def fused(expr: Expression):
    return lambda *a: expr.build(*a, functions=FUSED)


@given(expressions_with_inputs())
def test_properties_every_mode_matches_central_differences_and_each_other(case):
    """reverse, create_graph (Hessian), jvp, compile_graph and compile_batched on one random graph."""
    expr, xs = case
    check_grads(fused(expr), xs, **TIGHT)


@FEW  # compiling two backends per example: a quarter of the examples keeps this under 2 s
@given(expressions_with_inputs(min_nodes=20, max_nodes=60))
def test_properties_every_mode_agrees_on_deep_shared_graphs(case):
    expr, xs = case
    check_grads(fused(expr), xs, **TIGHT)


@FEW
@given(expressions_with_inputs(n_inputs=6, ops=("sum", "dot", "+", "*", "tanh", "x*c"), max_nodes=20))
def test_properties_every_mode_agrees_with_heavy_fan_in(case):
    expr, xs = case
    check_grads(fused(expr), xs, **TIGHT)


@pytest.mark.parametrize("op", ALL_OPS)
@FEW
@given(data=st.data())
def test_properties_every_op_is_generated_and_differentiated_in_every_mode(op, data):
    expr, xs = data.draw(expressions_with_inputs(ops=(op,), max_nodes=6))
    assert op in expr.ops
    check_grads(fused(expr), xs, **TIGHT)  # every mode: jvp against reverse too
    assert jvp(fused(expr), xs, [1.0] * len(xs))[0] == value_and_grad(expr, 0)(*xs)[0], expr  # the same forward rows


# -- backward's contract on random graphs -------------------------------------------------------


@given(expressions_with_inputs())
def test_properties_second_backward_doubles_leaves_and_repeats_interior(case):
    expr, xs = case
    out, leaves = backward_on_leaves(expr, xs)
    first_leaves = [leaf.grad for leaf in leaves]
    order = topological_order(out)
    first_interior = [node.grad for node in order]
    out.backward()
    # a leaf adds this call's contributions to what it holds: about double (rounding may differ)
    assert [leaf.grad for leaf in leaves] == pytest.approx([2.0 * g for g in first_leaves], rel=1e-13, abs=1e-300)
    assert [node.grad for node in order] == first_interior
    for leaf in leaves:
        leaf.grad = 0.0
    out.backward()
    assert [leaf.grad for leaf in leaves] == first_leaves  # deterministic


@given(expressions_with_inputs())
def test_properties_grad_and_value_and_grad_equal_backward(case):
    expr, xs = case
    out, leaves = backward_on_leaves(expr, xs)
    argnums = tuple(range(len(xs)))
    value, grads = value_and_grad(expr, argnums)(*xs)
    assert value == out.data or (math.isnan(value) and math.isnan(out.data))
    assert list(grads) == [leaf.grad for leaf in leaves]
    assert grad(expr, argnums)(*xs) == grads


@given(expressions_with_inputs())
def test_properties_topological_order_puts_parents_first(case):
    expr, xs = case
    out = expr(*[Value(x) for x in xs])
    order = topological_order(out)
    position = {node: i for i, node in enumerate(order)}
    assert len(position) == len(order)  # each node once
    assert order[-1] is out
    for node in order:
        for parent in node.parents:
            if parent.parents:
                assert position[parent] < position[node]
    # every interior node reachable from the output is listed
    reachable, stack = set(), [out]
    while stack:
        node = stack.pop()
        if node.parents and node not in reachable:
            reachable.add(node)
            stack.extend(node.parents)
    assert reachable == set(order)


@given(expressions_with_inputs())
def test_properties_stored_local_grads_equal_the_rule_on_values(case):
    expr, xs = case
    out = expr(*[Value(x) for x in xs])
    for node in topological_order(out):
        rule = ops.RULES[node.op] if node.op in ops.RULES else ops.pow_const(float(node.op[2:]))
        again = rule.local(*node.parents, node)
        for stored, recomputed in zip(node.local_grads, again, strict=True):
            recomputed = recomputed.data if isinstance(recomputed, Value) else float(recomputed)
            assert stored == recomputed or (math.isnan(stored) and math.isnan(recomputed))


# -- the testing tools ----------------------------------------------------------------------------


@given(expressions_with_inputs())
def test_properties_expression_float_evaluation_equals_value_build(case):
    expr, xs = case
    values = expr.evaluate(*xs)
    assert len(values) == expr.n_inputs + len(expr.steps)
    assert all(type(v) is float for v in values)
    built = expr.build(*[Value(x) for x in xs])
    assert built.data == values[-1]
    assert expr(*xs) == values[-1] or isinstance(expr(*xs), Value)


@given(expressions(max_nodes=30), st.data())
def test_properties_expression_inputs_are_bounded_smooth_and_values_moderate(expr, data):
    xs = data.draw(expr.inputs)
    assert len(xs) == expr.n_inputs
    assert all(-expr.bound <= x <= expr.bound for x in xs)
    assert expr.is_smooth_at(*xs)
    values = expr.evaluate(*xs)
    assert all(math.isfinite(v) for v in values)
    # every step's value respects the generator's bound of 50 (the final sum of sinks may add up)
    assert all(abs(v) <= 50.0 for v in values[:-1])


@given(expressions(n_inputs=3))
def test_properties_expression_repr_is_a_readable_program(expr):
    text = repr(expr)
    lines = text.splitlines()
    assert lines[0] == f"Expression(n_inputs=3, {len(expr.steps)} steps):"
    assert len(lines) == len(expr.steps) + 2
    assert lines[-1].strip().startswith("return ")
    assert all(line.strip().startswith(f"v{j} = ") for j, line in enumerate(lines[1:-1]))


def test_properties_expression_by_hand():
    expr = Expression(
        2,
        [
            Step("*", (0, 1)),
            Step("tanh", (2,)),
            Step("c**x", (0,), const=2.0),
            Step("dot", (2, 3, 4, 1, 0), bias=True),
        ],
    )
    assert repr(expr).splitlines()[1:] == [
        "    v0 = x0 * x1",
        "    v1 = tanh(v0)",
        "    v2 = 2.0 ** x0",
        "    v3 = dot([v0, v1], [v2, x1], bias=x0)",
        "    return v3",
    ]
    x, y = 0.5, -1.5
    expected = (x * y) * 2.0**x + math.tanh(x * y) * y + x
    assert expr.evaluate(x, y)[-1] == pytest.approx(expected, rel=1e-15)
    out = expr(Value(x), Value(y))
    assert out.op == "dot" and out.data == pytest.approx(expected, rel=1e-15)
    assert expr.ops == {"*", "tanh", "c**x", "dot"}
    with pytest.raises(TypeError, match="2 values"):
        expr(Value(1.0))


def test_properties_is_smooth_at_detects_relu_and_abs_kinks():
    expr = Expression(1, [Step("relu", (0,))])
    assert expr.is_smooth_at(0.5) and expr.is_smooth_at(-0.5)
    assert not expr.is_smooth_at(0.0)
    assert not expr.is_smooth_at(1e-5)
    constant_zero = Expression(1, [Step("-", (0, 0)), Step("abs", (1,))])  # abs(x - x): no kink crossed
    assert constant_zero.is_smooth_at(0.3)


def test_properties_assert_gradients_match_passes_and_returns_gradients():
    assert assert_gradients_match(lambda x, y: x * y, [3.0, 4.0]) == [4.0, 3.0]


def test_properties_assert_gradients_match_reports_the_wrong_input():
    def cut(x, y):
        return x * x + y * y.data  # `.data` hides y from the graph: analytic d/dy is half

    with pytest.raises(AssertionError) as info:
        assert_gradients_match(cut, [1.0, 2.0])
    message = str(info.value)
    assert "differ at input 1 " in message and "of cut" in message
    assert "!! input 1: x = 2.0, analytic = 2.0, numeric = 4.0" in message
    assert "   input 0: x = 1.0, analytic = 2.0" in message


def test_properties_expressions_validate_arguments():
    with pytest.raises(ValueError, match="unknown ops"):
        expressions(ops=("tan",))
    with pytest.raises(ValueError, match="min_nodes"):
        expressions(min_nodes=5, max_nodes=2)


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)


def test_properties_importing_autograd_does_not_import_hypothesis():
    result = _python("import sys, autograd; assert 'hypothesis' not in sys.modules, 'hypothesis imported'")
    assert result.returncode == 0, result.stderr


def test_properties_testing_module_without_hypothesis_says_how_to_install():
    result = _python("import sys; sys.modules['hypothesis'] = None\nimport autograd.testing")
    assert result.returncode != 0
    assert "ImportError" in result.stderr and "pip install hypothesis" in result.stderr
