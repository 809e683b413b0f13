"""The functional API: grad and value_and_grad over float arguments."""

import math
from fractions import Fraction

import pytest
from hypothesis import given

import autograd
from autograd import Value, check_grads, grad, no_grad, numerical_grad, value_and_grad
from tests.strategies import backward_on_leaves, expressions_with_inputs


def test_grad_of_square_is_exact():
    assert grad(lambda x: x * x)(3.0) == 6.0


def test_grad_returns_plain_float():
    result = grad(lambda x: x.tanh())(0.5)
    assert type(result) is float
    assert result == pytest.approx(1.0 / math.cosh(0.5) ** 2, rel=1e-15, abs=0.0)


def test_grad_argnums_tuple_returns_tuple_in_order():
    f = lambda x, y: x * y**2
    assert grad(f, argnums=(0, 1))(2.0, 3.0) == (9.0, 12.0)
    assert grad(f, argnums=(1, 0))(2.0, 3.0) == (12.0, 9.0)


def test_grad_argnums_negative_counts_from_the_end():
    f = lambda x, y: x * y**2
    assert grad(f, argnums=-1)(2.0, 3.0) == 12.0
    assert grad(f, argnums=(0, -1))(2.0, 3.0) == (9.0, 12.0)


def test_grad_argnums_repeated_position_gives_the_same_gradient_twice():
    """(0, 0) and (0, -2) name one argument: both entries are its full gradient."""
    f = lambda x, y: x * x * y
    assert grad(f, argnums=(0, 0))(2.0, 3.0) == (12.0, 12.0)
    assert grad(f, argnums=(0, -2))(2.0, 3.0) == (12.0, 12.0)


def test_grad_argnums_tuple_of_one_is_a_tuple():
    assert grad(lambda x, y: x * y, argnums=(1,))(2.0, 5.0) == (2.0,)


def test_grad_other_arguments_are_passed_through_as_given():
    seen = []

    def f(x, scale):
        seen.append(scale)
        return x * scale

    assert grad(f)(2.0, 7.0) == 7.0
    assert seen == [7.0] and type(seen[0]) is float


def test_value_and_grad_returns_value_and_gradient():
    value, gradient = value_and_grad(lambda x, y: x * y + x.exp(), argnums=(0, 1))(1.0, 4.0)
    assert value == 4.0 + math.e
    assert gradient == (4.0 + math.e, 1.0)
    assert type(value) is float


def test_grad_accepts_ints_fractions_and_values():
    f = lambda x: x * x * x
    assert grad(f)(2) == 12.0
    assert grad(f)(Fraction(1, 2)) == 0.75
    assert grad(f)(Value(2.0)) == 12.0


def test_grad_never_reads_or_writes_dot_grad():
    x = Value(2.0)
    x.grad = 5.0
    w = Value(3.0)
    w.grad = -1.0
    assert grad(lambda a: a * w)(x) == 3.0
    assert (x.grad, w.grad) == (5.0, -1.0)
    assert x.data == 2.0


def test_grad_of_constant_function_is_zero():
    assert grad(lambda x: 4.0)(1.0) == 0.0
    assert grad(lambda x, y: y * 2.0, argnums=(0, 1))(1.0, 3.0) == (0.0, 2.0)


def test_grad_of_identity_is_one():
    assert value_and_grad(lambda x: x)(3.5) == (3.5, 1.0)


def test_grad_ignores_an_enclosing_no_grad():
    """grad is a function transform: inside no_grad() it still differentiates f."""
    with no_grad():
        assert grad(lambda x: x * x)(3.0) == 6.0
        assert (Value(1.0) * 2.0).parents == ()  # the enclosing mode is still on afterwards
    assert len((Value(1.0) * 2.0).parents) == 2


def test_grad_numerical_grad_of_a_gradient_is_the_second_derivative():
    """numerical_grad evaluates under no_grad(); grad inside it must still work."""
    second = numerical_grad(grad(lambda x: x * x * x), [2.0])
    assert second[0] == pytest.approx(12.0, rel=1e-6)


def test_grad_ieee_edges_propagate():
    assert grad(lambda x: x.log())(0.0) == math.inf
    value, slope = value_and_grad(lambda x: x.log())(-1.0)
    assert math.isnan(value) and slope == -1.0  # the local rule 1/x, as in PyTorch
    assert math.isnan(grad(lambda x: x.log() * x)(-1.0))  # log(-1) = nan reaches the gradient
    assert grad(lambda x: x.relu())(0.0) == 0.0
    assert grad(lambda x: abs(x))(0.0) == 0.0


def test_grad_argnums_out_of_range_raises():
    with pytest.raises(ValueError, match=r"argnums entry 2 is out of range .* 2 arguments"):
        grad(lambda x, y: x * y, argnums=2)(1.0, 2.0)
    with pytest.raises(ValueError, match="argnums entry -3"):
        grad(lambda x, y: x * y, argnums=(0, -3))(1.0, 2.0)


@pytest.mark.parametrize("argnums", [0.5, True, "0", None])
def test_grad_argnums_of_wrong_type_raises_type_error(argnums):
    with pytest.raises(TypeError, match="argnums must be an int or a tuple of ints"):
        grad(lambda x: x, argnums=argnums)(1.0)


def test_grad_argnums_entry_of_wrong_type_raises_type_error():
    with pytest.raises(TypeError, match="argnums entries must be ints, got str"):
        grad(lambda x: x, argnums=(0, "1"))(1.0)


@pytest.mark.parametrize("bad", ["1.0", None, [1.0], 1j, True])
def test_grad_non_real_argument_raises_type_error_naming_it(bad):
    with pytest.raises(TypeError, match=r"grad\(\) argument 0 must be a real number"):
        grad(lambda x: x)(bad)


def test_grad_non_scalar_return_raises_type_error_naming_f():
    def pair(x):
        return [x, x]

    with pytest.raises(TypeError, match="return value of pair must be a real number"):
        grad(pair)(1.0)


def test_grad_names_the_function():
    def loss(x):
        return x

    assert grad(loss).__name__ == "grad(loss)"
    assert value_and_grad(loss).__name__ == "value_and_grad(loss)"


@given(expressions_with_inputs(max_nodes=10))
def test_grad_matches_central_differences_on_random_graphs(case):
    expr, xs = case
    check_grads(expr, xs, modes="reverse", order=1, atol=1e-6, rtol=1e-5)  # value_and_grad, then backward


@given(expressions_with_inputs(max_nodes=10))
def test_grad_equals_backward_on_leaves(case):
    """The functional API and Value.backward are the same reverse pass: identical floats."""
    expr, xs = case
    out, leaves = backward_on_leaves(expr, xs)
    value, gradient = value_and_grad(expr, argnums=tuple(range(len(xs))))(*xs)
    assert value == out.data
    assert list(gradient) == [leaf.grad for leaf in leaves]


def test_grad_is_exported_from_autograd():
    assert autograd.grad is grad and "value_and_grad" in autograd.__all__
