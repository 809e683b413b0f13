"""Value: construction, validation, attributes, identity semantics and micrograd compatibility."""

from __future__ import annotations

import math
import operator
import weakref
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

import autograd
from autograd import Value


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (3, 3.0),
        (-2.5, -2.5),
        (Fraction(1, 4), 0.25),
        (np.float32(0.5), 0.5),
        (np.float64(-1.25), -1.25),
        (np.int64(7), 7.0),
        (np.int8(-3), -3.0),
        (10**400, math.inf),
        (-(10**400), -math.inf),
    ],
)
def test_value_accepts_real_numbers_stored_as_float(data, expected):
    v = Value(data)
    assert type(v.data) is float
    assert v.data == expected
    assert type(v.grad) is float and v.grad == 0.0


@pytest.mark.parametrize("data", [math.nan, math.inf, -math.inf, -0.0])
def test_value_keeps_ieee_specials(data):
    v = Value(data)
    assert type(v.data) is float
    assert (math.isnan(v.data) and math.isnan(data)) or v.data == data
    assert math.copysign(1.0, v.data) == math.copysign(1.0, data)


@pytest.mark.parametrize(
    ("data", "type_name"),
    [
        (True, "bool"),
        (False, "bool"),
        (np.bool_(True), "bool"),
        ("1", "str"),
        (None, "NoneType"),
        (1j, "complex"),
        (Decimal(1), "Decimal"),
        ([1.0], "list"),
        ((1.0,), "tuple"),
        ({"data": 1.0}, "dict"),
        (np.array([1.0]), "ndarray"),
    ],
)
def test_value_rejects_non_real_data_naming_the_type(data, type_name):
    with pytest.raises(TypeError, match=type_name) as info:
        Value(data)
    assert "Value()" in str(info.value)


def test_value_rejects_a_value_as_data():
    with pytest.raises(TypeError, match="Value"):
        Value(Value(1.0))


def test_value_label_is_keyword_only_and_settable():
    v = Value(2.0, label="w")
    assert v.label == "w"
    v.label = "weight"
    assert v.label == "weight"
    assert Value(1.0).label == ""
    with pytest.raises(TypeError):
        Value(1.0, "w")


def test_value_leaf_structure():
    v = Value(1.5)
    assert v.op == ""
    assert v.parents == ()
    assert v.local_grads == ()


def test_value_repr_shows_data_grad_and_label():
    assert repr(Value(1.5)) == "Value(data=1.5, grad=0.0)"
    assert repr(Value(2.0, label="b")) == "Value(data=2.0, grad=0.0, label='b')"


def test_value_equality_is_identity():
    a, b = Value(1.0), Value(1.0)
    assert a == a
    assert not (a == b)
    assert a != b
    assert not (a == 1.0)
    assert a != 1.0


def test_value_hashing_is_identity_so_nodes_work_in_sets_and_dicts():
    a, b = Value(1.0), Value(1.0)
    assert len({a, b, a}) == 2
    table = {a: "a", b: "b"}
    assert table[a] == "a" and table[b] == "b"
    c = a + b
    assert c in {c} and hash(c) == hash(c)
    a.data = 5.0  # hash does not depend on data
    assert table[a] == "a"


@pytest.mark.parametrize(
    "compare",
    [
        lambda a, b: a < b,
        lambda a, b: a <= b,
        lambda a, b: a > b,
        lambda a, b: a >= b,
        lambda a, b: a < 1.0,
        lambda a, b: 1.0 > a,
    ],
)
def test_value_ordering_raises_type_error(compare):
    with pytest.raises(TypeError):
        compare(Value(1.0), Value(2.0))


def test_value_supports_weak_references():
    v = Value(1.0)
    ref = weakref.ref(v)
    assert ref() is v
    del v
    assert ref() is None


def test_value_takes_any_attribute():
    v = Value(1.0)
    v.m, v.v = 0.0, 0.5  # optimizer state on a parameter, as micrograd allows
    node = v * 2.0
    node.color = "red"  # operator-built nodes too
    assert (v.m, v.v, node.color, type(node) is Value is type(v)) == (0.0, 0.5, "red", True)
    with pytest.raises(AttributeError):
        node.missing  # noqa: B018 - reading an attribute never set still fails


def test_value_label_is_a_str_set_or_cleared():
    v = Value(1.0, label="w")
    assert v.label == "w" and (v * 2).label == ""
    v.label = ""
    assert v.label == "" and repr(v) == "Value(data=1.0, grad=0.0)"
    with pytest.raises(TypeError, match="label must be a str, got int: 3"):
        v.label = 3  # type: ignore[assignment]


@pytest.mark.parametrize("bad", ["a", None, [1.0], 1j, Decimal(1)], ids=repr)
@pytest.mark.parametrize("operation", [operator.add, operator.sub, operator.mul, operator.truediv, operator.pow])
@pytest.mark.parametrize("value_on_left", [True, False])
def test_value_operand_of_wrong_type_raises_type_error_naming_it(bad, operation, value_on_left):
    v = Value(1.0)
    # Python's own message for `"a" * v` is about sequences; every other names the type.
    with pytest.raises(TypeError, match=f"{type(bad).__name__}|sequence"):
        operation(v, bad) if value_on_left else operation(bad, v)


def test_value_bool_operand_is_rejected():
    with pytest.raises(TypeError, match="bool"):
        Value(1.0) + True


def test_value_pow_rejects_modulo():
    with pytest.raises(TypeError, match="modulo"):
        pow(Value(2.0), 2, 3)


def test_value_detach_is_a_new_leaf_with_the_same_data():
    x = Value(3.0)
    y = x * x
    d = y.detach()
    assert d is not y
    assert d.data == 9.0 and d.op == "" and d.parents == () and d.grad == 0.0
    z = d * x
    z.backward()
    assert x.grad == 9.0  # no gradient flows through the detached copy
    assert d.grad == 3.0 and y.grad == 0.0


def test_value_micrograd_compat_prev_and_op():
    a, b = Value(1.0), Value(2.0)
    c = a * b
    assert c._prev == {a, b}
    assert c._op == "*"
    assert a._prev == set() and a._op == ""


def test_value_free_functions_are_exported():
    for name in ("exp", "log", "sqrt", "tanh", "sigmoid", "relu"):
        assert name in autograd.__all__
    assert "sum" not in autograd.__all__ and "abs" not in autograd.__all__
    assert callable(autograd.sum) and callable(autograd.abs)
