"""The rule table is the one list of ops: everything else is made from its rows."""

from __future__ import annotations

import builtins
from pathlib import Path

import pytest

import autograd
from autograd import Dual, Value, ops, optable, testing
from valuegrad import graph

BUILTIN = [ops.RULES[name] for name in sorted(ops.BUILTIN_ROWS)]
PUBLIC = [rule for rule in BUILTIN if rule.public]


@pytest.mark.parametrize("rule", [r for r in PUBLIC if r.method], ids=lambda r: r.name)
def test_every_public_row_is_a_function_a_value_method_and_a_dual_method(rule):
    args = [0.5] * rule.arity
    assert ops.FUNCTIONS[rule.name](*args) == rule.forward(*args)
    assert getattr(Value(0.5), rule.name)(*args[1:]).op == rule.name
    assert getattr(Dual(0.5, 1.0), rule.name)(*args[1:]).primal == rule.forward(*args)


@pytest.mark.parametrize("rule", PUBLIC, ids=lambda r: r.name)
def test_every_public_row_is_exported_from_autograd(rule):
    assert getattr(autograd, rule.name) is ops.FUNCTIONS[rule.name]
    if not hasattr(builtins, rule.name):  # sum and abs shadow builtins: importable, kept out of __all__
        assert rule.name in autograd.__all__
    else:
        assert rule.name not in autograd.__all__


@pytest.mark.parametrize("rule", [r for r in BUILTIN if r.operator], ids=lambda r: r.name)
def test_every_operator_row_gives_value_and_dual_their_operator(rule):
    if rule.arity == 1:
        assert getattr(Value(0.5), f"__{rule.operator}__")().op == rule.name
        assert getattr(Dual(0.5, 1.0), f"__{rule.operator}__")().primal == rule.forward(0.5)
        return
    for make in (Value, lambda x: Dual(x, 1.0)):
        forward = getattr(make(0.5), f"__{rule.operator}__")(make(2.0))
        reflected = getattr(make(2.0), f"__r{rule.operator}__")(0.5)
        assert forward.data == reflected.data == rule.forward(0.5, 2.0)


def test_the_operator_stub_for_type_checkers_is_current():
    """autograd/_operators.pyi is generated from the rows (regenerate: see ops.operator_stub)."""
    stub = Path(autograd.__file__).with_name("_operators.pyi").read_text(encoding="utf-8")
    assert stub == ops.operator_stub()


def test_the_command_line_offers_every_public_function_of_fixed_arity():
    for rule in PUBLIC:
        if rule.arity != -1:
            assert rule.name in graph.FUNCTIONS, rule.name


def test_the_strategies_generate_a_step_kind_for_every_user_visible_row():
    kinds = set(testing.ALL_OPS)
    for rule in BUILTIN:
        if rule.public or rule.operator:
            assert rule.name in kinds, rule.name
        if rule.operator and rule.arity == 2:
            assert {f"x{rule.name}c", f"c{rule.name}x"} <= kinds


def test_helper_rows_are_neither_public_nor_operators():
    """step, sign, sech2, pow_dx, pow_dy only appear inside other rows' derivatives."""
    helpers = {rule.name for rule in BUILTIN if not rule.public and not rule.operator}
    assert helpers == {"step", "sign", "sech2", "pow_dx", "pow_dy"}


def test_a_registered_row_appears_everywhere_without_another_edit():
    rule = ops.register(ops.Op("cube_row_test", 1, lambda x: x * x * x, lambda x, out: (3.0 * x * x,),
                               public=True))
    try:
        assert autograd.cube_row_test(2.0) == 8.0
        assert Value(2.0).cube_row_test().data == 8.0 and Dual(2.0, 1.0).cube_row_test().tangent == 12.0
        assert "cube_row_test" in graph.FUNCTIONS
        assert "cube_row_test" in testing.step_kinds(builtin_only=False)
        x = Value(2.0)
        x.cube_row_test().backward()
        assert x.grad == 12.0
    finally:
        del ops.RULES[rule.name], ops.FUNCTIONS[rule.name]
        delattr(Value, rule.name)
        delattr(Dual, rule.name)


def test_rows_pickle_by_name_and_params():
    import pickle

    assert pickle.loads(pickle.dumps(ops.TANH)) is ops.TANH
    assert pickle.loads(pickle.dumps(ops.pow_const(2.5))) is ops.pow_const(2.5)
    assert ops.pow_const(2.5).params == (2.5,) and ops.pow_const(2.5).name == "**2.5"


def test_the_op_table_is_rendered_from_the_rows():
    table = optable.op_table()
    for rule in PUBLIC:
        assert f"`{rule.name}`" in table
    assert "| `tanh` | 1 | `tanh(x)` | `sech2(x)` |" in table  # tanh's local derivative, traced from its row
    assert "| `*` | 2 | `x * y` | `y`, `x` |" in table
