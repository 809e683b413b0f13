"""Forward mode: Dual numbers from the rule table, jvp, and jacobian in both modes."""

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

import autograd
from autograd import Dual, Value, check_grads, jacobian, jvp, value_and_grad
from tests.strategies import default_functions, expressions, expressions_with_inputs

# Duals through the fused rows (one SUM / DOT / LOGSUMEXP application), not testing's += fallback.
FUSED = {**default_functions(), "sum": autograd.sum, "dot": autograd.dot, "logsumexp": autograd.logsumexp}


def test_jvp_of_square():
    assert jvp(lambda x: x * x, [3.0], [1.0]) == (9.0, 6.0)


def test_jvp_accepts_a_single_number_for_one_argument():
    assert jvp(lambda x: x**3, 2.0, 1.0) == (8.0, 12.0)


def test_jvp_is_the_directional_derivative():
    f = lambda x, y: x * y + x.exp()
    value, derivative = jvp(f, [1.0, 2.0], [0.5, -3.0])
    assert value == 2.0 + math.e
    assert derivative == pytest.approx((2.0 + math.e) * 0.5 + 1.0 * -3.0, rel=1e-15)


def test_jvp_returns_floats():
    value, derivative = jvp(lambda x: x.tanh(), [Fraction(1, 2)], [1])
    assert type(value) is float and type(derivative) is float
    assert derivative == pytest.approx(1.0 / math.cosh(0.5) ** 2, rel=1e-15, abs=0.0)


@pytest.mark.parametrize(
    ("f", "x", "expected"),
    [
        (lambda x: x.relu(), 2.0, (2.0, 1.0)),
        (lambda x: x.relu(), -2.0, (0.0, 0.0)),
        (lambda x: x.relu(), 0.0, (0.0, 0.0)),  # relu'(0) = 0
        (lambda x: abs(x), 0.0, (0.0, 0.0)),  # abs'(0) = 0
        (lambda x: x.abs(), -3.0, (3.0, -1.0)),
        (lambda x: x.sigmoid(), 0.0, (0.5, 0.25)),
        (lambda x: x.exp(), 0.0, (1.0, 1.0)),
        (lambda x: x.log(), 0.0, (-math.inf, math.inf)),
        (lambda x: x.sqrt(), 4.0, (2.0, 0.25)),
        (lambda x: -x, 1.5, (-1.5, -1.0)),
        (lambda x: +x, 1.5, (1.5, 1.0)),
        (lambda x: 1.0 / x, 2.0, (0.5, -0.25)),
        (lambda x: x / 4.0, 2.0, (0.5, 0.25)),
        (lambda x: 3.0 - x, 2.0, (1.0, -1.0)),
        (lambda x: x - 3.0, 2.0, (-1.0, 1.0)),
        (lambda x: 2.0 + x, 2.0, (4.0, 1.0)),
        (lambda x: 2.0 * x, 2.0, (4.0, 2.0)),
        (lambda x: 2.0**x, 3.0, (8.0, 8.0 * math.log(2.0))),
        (lambda x: x**x, 2.0, (4.0, 4.0 * (math.log(2.0) + 1.0))),
        (lambda x: x**0, 0.0, (1.0, 0.0)),
        (lambda x: autograd.exp(x), 1.0, (math.e, math.e)),
        (lambda x: autograd.tanh(x), 0.0, (0.0, 1.0)),
        (lambda x: autograd.relu(x), 1.0, (1.0, 1.0)),
        (lambda x: x.softplus(), 0.0, (math.log(2.0), 0.5)),
        (lambda x: autograd.softplus(x), 1000.0, (1000.0, 1.0)),
        (lambda x: autograd.softplus(x), -1000.0, (0.0, 0.0)),
        (lambda x: autograd.logsumexp([x, 0.0]), 0.0, (math.log(2.0), 0.5)),
        (lambda x: autograd.logsumexp([x]), 3.0, (3.0, 1.0)),
        (lambda x: autograd.logsumexp([x, -1000.0]), 1000.0, (1000.0, 1.0)),
    ],
)
def test_jvp_of_each_operation_exact(f, x, expected):
    assert jvp(f, [x], [1.0]) == expected


def test_jvp_sum_and_dot_use_one_fused_rule_application():
    seen = []
    original = Dual._apply_rule.__func__

    def spy(cls, rule, *args):
        seen.append(rule.name)
        return original(cls, rule, *args)

    Dual._apply_rule = classmethod(spy)
    try:
        total = jvp(lambda x, y: autograd.sum([x, y, x, 2.0]), [1.0, 3.0], [1.0, 10.0])
        product = jvp(lambda x, y: autograd.dot([x, y], [y, 2.0], 1.0), [2.0, 3.0], [1.0, 0.0])
        lse = jvp(lambda x, y: autograd.logsumexp([x, y, 0.0]), [0.0, math.log(2.0)], [1.0, 3.0])
    finally:
        Dual._apply_rule = classmethod(original)
    assert total == (7.0, 12.0)
    assert product == (13.0, 3.0)  # x*y + 2y + 1; d/dx = y
    assert lse[0] == pytest.approx(math.log(4.0), rel=1e-15)
    assert lse[1] == pytest.approx(0.25 * 1.0 + 0.5 * 3.0, rel=1e-15)  # softmax . tangents
    assert seen == ["sum", "dot", "logsumexp"]


def test_jvp_sum_and_dot_accept_generators_and_numbers_in_any_position():
    f = lambda x, y: autograd.sum(v * 2.0 for v in (3.0, x, y)) + autograd.sum([1.0, x])
    assert jvp(f, [1.0, 2.0], [1.0, 1.0]) == (14.0, 5.0)
    g = lambda x: autograd.dot((2.0, x), (x, 3.0))  # 2x + 3x
    assert jvp(g, [1.0], [1.0]) == (5.0, 5.0)


def test_sum_and_dot_with_a_dual_and_a_non_number_name_the_bad_item():
    with pytest.raises(TypeError, match=r"sum\(\) argument must be a real number .* got str"):
        jvp(lambda x: autograd.sum(["a", x]), [1.0], [1.0])
    with pytest.raises(ValueError, match="ws has 2 items but xs has 1"):
        jvp(lambda x: autograd.dot([x, x], [x]), [1.0], [1.0])


def test_jvp_constants_contribute_no_term_as_in_reverse_mode():
    """x * 0 at x = inf: the constant's local derivative is inf, but its tangent is never used."""
    value, derivative = jvp(lambda x: x * 0.0, [math.inf], [1.0])
    reverse_value, reverse_derivative = value_and_grad(lambda x: x * 0.0)(math.inf)
    assert math.isnan(value) and math.isnan(reverse_value)
    assert derivative == reverse_derivative == 0.0


def test_jvp_nan_propagates():
    value, derivative = jvp(lambda x: x.log() * x, [-1.0], [1.0])
    assert math.isnan(value) and math.isnan(derivative)


def test_jvp_sequence_output_gives_lists():
    values, derivatives = jvp(lambda x, y: (x * y, x + y, 4.0), [2.0, 3.0], [1.0, 0.0])
    assert values == [6.0, 5.0, 4.0]
    assert derivatives == [3.0, 1.0, 0.0]


def test_jvp_constant_output_has_zero_derivative():
    assert jvp(lambda x: 5, [1.0], [1.0]) == (5.0, 0.0)


def test_dual_has_value_like_surface():
    d = Dual(2.0, 1.0)
    assert (d.primal, d.tangent, d.data) == (2.0, 1.0, 2.0)
    assert repr(d) == "Dual(primal=2.0, tangent=1.0)"
    for method in ("relu", "tanh", "sigmoid", "exp", "log", "sqrt", "abs", "softplus"):
        assert isinstance(getattr(d, method)(), Dual)


def test_jvp_length_mismatch_raises_value_error():
    with pytest.raises(ValueError, match="2 primals but 1 tangents"):
        jvp(lambda x, y: x * y, [1.0, 2.0], [1.0])


@pytest.mark.parametrize("bad", ["a", None, 1j, True])
def test_jvp_non_real_primal_raises_type_error(bad):
    with pytest.raises(TypeError, match=r"jvp\(\) primals"):
        jvp(lambda x: x, [bad], [1.0])


def test_jvp_primals_not_a_sequence_raises_type_error():
    with pytest.raises(TypeError, match=r"jvp\(\) primals must be a sequence of real numbers, got str"):
        jvp(lambda x: x, "12", [1.0, 1.0])


def test_jvp_function_returning_a_value_raises_type_error():
    def leaky(x):
        return Value(1.0)

    with pytest.raises(TypeError, match="leaky returned a Value"):
        jvp(leaky, [1.0], [1.0])


def test_jvp_function_returning_garbage_raises_type_error():
    def wrong(x):
        return "x"

    with pytest.raises(TypeError, match="wrong must return a number"):
        jvp(wrong, [1.0], [1.0])


def test_dual_mixed_with_an_interior_value_raises_type_error():
    with pytest.raises(TypeError, match="unsupported operand"):
        jvp(lambda x: x + Value(1.0) * 2.0, [1.0], [1.0])
    with pytest.raises(TypeError):
        jvp(lambda x: x ** (Value(1.0) + 0.0), [1.0], [1.0])


def test_dual_treats_constant_leaf_values_as_constants():
    """Issue 13.7: a fused op of constants is a leaf Value; forward mode takes it as a constant."""
    assert jvp(lambda x: x + autograd.sum([1.0, 2.0]), [1.0], [1.0]) == (4.0, 1.0)
    assert jvp(lambda x: autograd.dot([2.0], [3.0]) * x, [2.0], [1.0]) == (12.0, 6.0)
    assert jvp(lambda x: Value(3.0) ** x, [2.0], [1.0]) == pytest.approx((9.0, 9.0 * math.log(3.0)), rel=1e-15)


def test_dual_pow_modulo_raises_type_error():
    with pytest.raises(TypeError, match="modulo"):
        pow(Dual(2.0), 2, 3)


# -- forward mode equals reverse mode on random graphs ----------------------------------

def assert_jvp_matches_reverse(expr, xs):
    """jacobian(mode="forward") and a jvp along a direction against reverse mode (check_grads' jvp mode)."""
    f = lambda *a: expr.build(*a, functions=FUSED)  # noqa: E731
    check_grads(f, xs, modes=("reverse", "jvp"), order=1, atol=1e-6, rtol=1e-5)
    assert jvp(f, xs, [1.0] * len(xs))[0] == value_and_grad(expr, 0)(*xs)[0], expr  # the same forward rows


# jvp against reverse mode op by op: check_grads' jvp mode in
# test_properties.test_properties_every_op_is_generated_and_differentiated_in_every_mode.


@given(case=expressions_with_inputs(max_nodes=14))
def test_jvp_equals_reverse_mode_on_random_dags(case):
    assert_jvp_matches_reverse(*case)


# -- jacobian ------------------------------------------------------------------------------

def polar_like(x, y):
    return [x * y, x**2, 2.0**y, 5.0]


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_jacobian_exact(mode):
    rows = jacobian(polar_like, [2.0, 3.0], mode=mode)
    assert rows == [[3.0, 2.0], [4.0, 0.0], [0.0, 8.0 * math.log(2.0)], [0.0, 0.0]]


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_jacobian_of_scalar_function_is_one_row(mode):
    assert jacobian(lambda x, y, z: x * y * z, [1.0, 2.0, 3.0], mode=mode) == [[6.0, 3.0, 2.0]]


def test_jacobian_default_mode_is_forward():
    assert jacobian(lambda x: [x * x, x], [3.0]) == [[6.0], [1.0]]


def test_jacobian_reverse_ignores_an_enclosing_no_grad():
    with autograd.no_grad():
        assert jacobian(lambda x, y: x * y, [2.0, 3.0], mode="reverse") == [[3.0, 2.0]]


def test_jacobian_unknown_mode_raises_value_error():
    with pytest.raises(ValueError, match="mode must be 'forward' or 'reverse', got 'sideways'"):
        jacobian(lambda x: x, [1.0], mode="sideways")


@st.composite
def vector_functions(draw):
    n = draw(st.integers(1, 4))
    m = draw(st.integers(1, 3))
    exprs = [draw(expressions(n_inputs=n, max_nodes=8)) for _ in range(m)]
    xs = draw(st.tuples(*[st.floats(-2.0, 2.0)] * n).filter(lambda p: all(e.is_smooth_at(*p) for e in exprs)))
    return exprs, xs


@given(vector_functions())
def test_jacobian_forward_equals_reverse(case):
    exprs, xs = case
    f = lambda *a: [e.build(*a, functions=FUSED) for e in exprs]
    forward = jacobian(f, xs, mode="forward")
    reverse = jacobian(f, xs, mode="reverse")
    assert len(forward) == len(reverse) == len(exprs)
    for row_f, row_r in zip(forward, reverse):
        assert len(row_f) == len(xs)
        assert row_f == pytest.approx(row_r, rel=1e-9, abs=1e-12)


def test_forward_mode_is_exported():
    assert {"jvp", "jacobian", "Dual"} <= set(autograd.__all__)


@pytest.mark.parametrize(
    "xs", [(0.5,), (0.5, -1.0), (3.0, 3.0, -2.0), (1000.0, -1000.0, 0.0), (-1000.0, -999.0), (math.inf, 1.0)]
)
def test_jvp_of_logsumexp_and_softplus_equals_reverse_mode_bit_for_bit(xs):
    """One row, two modes: the tangent is sum(local * t) with the locals reverse mode stores."""
    f = lambda *a: autograd.logsumexp(a) + autograd.softplus(a[0])  # noqa: E731
    tangents = [1.0 if i == 0 else 0.0 for i in range(len(xs))]
    value, derivative = jvp(f, xs, tangents)
    reverse_value, reverse_grads = value_and_grad(f, argnums=tuple(range(len(xs))))(*xs)
    assert value == reverse_value
    assert derivative == reverse_grads[0] or (math.isnan(derivative) and math.isnan(reverse_grads[0]))
