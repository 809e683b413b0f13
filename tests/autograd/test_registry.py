"""The rule table is the one list of ops: everything that lists ops agrees with it."""

from __future__ import annotations

import autograd
from autograd import Dual, Value, ops, testing

# Named functions of the built-in table (defop rows registered by other tests are left out).
BUILTIN = [name for name in ops.FUNCTIONS if name in ops.BUILTIN_ROWS]


def test_every_named_row_is_a_function_a_value_method_and_a_dual_method():
    assert set(BUILTIN) >= {"exp", "log", "sqrt", "tanh", "sigmoid", "relu", "softplus", "abs"}
    for name in BUILTIN:
        assert ops.FUNCTIONS[name](0.5) == ops.RULES[name].forward(0.5), name
        assert getattr(Value(0.5), name)().op == name, name
        assert getattr(Dual(0.5, 1.0), name)().primal == ops.RULES[name].forward(0.5), name


def test_every_named_row_is_exported_and_generated_by_the_test_strategies():
    for name in BUILTIN:
        assert getattr(autograd, name) is ops.FUNCTIONS[name], name
        assert name in testing.UNARY_OPS, f"autograd.testing cannot generate {name!r}"
        if name != "abs":  # shadows the builtin: importable, kept out of __all__ (as sum)
            assert name in autograd.__all__, name


def test_every_table_row_is_reachable_by_the_strategies_or_is_a_helper():
    helpers = {"step", "sign", "sech2", "pow_dx", "pow_dy"}  # appear inside other rows' derivatives
    operators = {"+", "-", "*", "/", "**", "neg"}
    fused = {"sum", "dot", "logsumexp"}
    assert set(ops.BUILTIN_ROWS) == set(BUILTIN) | helpers | operators | fused
    assert set(testing.ALL_OPS) >= set(BUILTIN) | operators | fused


def test_valuegrad_graph_offers_every_named_function():
    from valuegrad import graph

    for name in BUILTIN:
        assert name in graph.FUNCTIONS, f"valuegrad graph does not offer {name!r}"
