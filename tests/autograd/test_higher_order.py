"""Higher-order gradients: create_graph builds the backward pass out of Values from the same rules."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

import autograd
from autograd import Value, check_grads, grad, gradients, ops, value_and_grad
from autograd.value import make
from tests.strategies import expressions_with_inputs

# -- the two paths of one rule agree ---------------------------------------------------

POW_CONSTANTS = (0.0, 1.0, 2.0, 3.0, -1.0, -2.0, 0.5, -0.5, 1.5, 1e-3)
# The rows valuegrad ships (rows other tests register with defop are theirs to test).
BUILTIN = [ops.RULES[name] for name in sorted(ops.BUILTIN_ROWS)]
UNARY_RULES = [rule for rule in BUILTIN if rule.arity == 1] + [ops.pow_const(c) for c in POW_CONSTANTS]
BINARY_RULES = [rule for rule in BUILTIN if rule.arity == 2]
NARY_CASES = [(ops.SUM, 1), (ops.SUM, 4), (ops.DOT, 2), (ops.DOT, 4), (ops.DOT, 5), (ops.DOT, 7)]
NARY_CASES += [(ops.LOGSUMEXP, 1), (ops.LOGSUMEXP, 2), (ops.LOGSUMEXP, 5)]
EDGE_POINTS = (0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, 700.0, -800.0, math.inf, -math.inf, math.nan)
any_float = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(EDGE_POINTS)


def test_rule_table_coverage_of_these_tests():
    """Every row of RULES is exercised below (a new row must join a list here)."""
    covered = {r.name for r in UNARY_RULES + BINARY_RULES} | {rule.name for rule, _ in NARY_CASES}
    assert covered >= ops.BUILTIN_ROWS


def same_float(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def assert_paths_agree(rule: ops.Op, xs: list[float]) -> None:
    """The float local derivatives stored in the forward equal rule.local evaluated on Values."""
    leaves = [Value(x) for x in xs]
    node = make(rule, tuple(leaves))
    fast = node.local_grads
    on_values = rule.local(*leaves, node)
    assert len(fast) == len(on_values) == len(xs)
    for i, (f, v) in enumerate(zip(fast, on_values)):
        v_data = v.data if isinstance(v, Value) else v
        assert type(f) is float or type(f) is int, (rule, i, f)
        assert same_float(float(f), v_data), f"{rule.name} at {xs}: local[{i}] float {f!r} vs Value {v_data!r}"
    # And through the engine: gradients() on the float path vs the create_graph path.
    plain = gradients(node, 1.0)
    built = gradients(node, Value(1.0), create_graph=True)
    for leaf in leaves:
        assert same_float(plain[leaf], built[leaf].data), (rule.name, xs)


@pytest.mark.parametrize("rule", UNARY_RULES, ids=lambda r: r.name)
@given(x=any_float)
def test_rule_local_unary_float_path_equals_value_path(rule, x):
    assert_paths_agree(rule, [x])


@pytest.mark.parametrize("rule", BINARY_RULES, ids=lambda r: r.name)
@given(x=any_float, y=any_float)
def test_rule_local_binary_float_path_equals_value_path(rule, x, y):
    assert_paths_agree(rule, [x, y])


@pytest.mark.parametrize(("rule", "arity"), NARY_CASES, ids=lambda c: getattr(c, "name", c))
@given(data=st.data())
def test_rule_local_nary_float_path_equals_value_path(rule, arity, data):
    xs = data.draw(st.lists(any_float, min_size=arity, max_size=arity))
    assert_paths_agree(rule, xs)


# -- exact higher derivatives ------------------------------------------------------------

def test_grad_second_derivative_of_cube_at_two_is_twelve():
    f = lambda x: x**3
    assert grad(grad(f, create_graph=True))(2.0) == 12.0
    g = lambda x: x * x * x  # the same through products instead of a power row
    assert grad(grad(g, create_graph=True))(2.0) == 12.0


def test_grad_third_derivative_of_tanh_matches_closed_form():
    """d3/dx3 tanh = -2 (1 - t^2)(1 - 3 t^2) with t = tanh(x)."""
    third = grad(grad(grad(lambda x: x.tanh(), create_graph=True), create_graph=True))
    for x in (-2.0, -0.3, 0.0, 0.7, 1.5):
        t = math.tanh(x)
        assert third(x) == pytest.approx(-2.0 * (1.0 - t * t) * (1.0 - 3.0 * t * t), rel=1e-12, abs=1e-15)


def test_grad_fourth_derivative_of_exp_is_exp():
    f = lambda x: x.exp()
    for _ in range(4):
        f = grad(f, create_graph=True)
    assert f(Value(0.7)).data == math.exp(0.7)


def test_grad_mixed_partial_of_product():
    """d/dy d/dx (x^2 y^3) = 6 x y^2."""
    f = lambda x, y: x**2 * y**3
    dfdx = grad(f, argnums=0, create_graph=True)
    assert grad(lambda x, y: dfdx(x, y), argnums=1)(2.0, 3.0) == 6.0 * 2.0 * 9.0


def test_grad_second_derivatives_of_power_in_both_arguments():
    """x**y: d2/dy2 = x^y ln(x)^2, d2/dx dy = x^(y-1) (1 + y ln x), d2/dx2 = y (y-1) x^(y-2)."""
    x0, y0 = 2.0, 1.5
    d_dx = grad(lambda x, y: x**y, argnums=0, create_graph=True)
    d_dy = grad(lambda x, y: x**y, argnums=1, create_graph=True)
    assert grad(d_dy, argnums=1)(x0, y0) == pytest.approx(x0**y0 * math.log(x0) ** 2, rel=1e-13)
    assert grad(d_dy, argnums=0)(x0, y0) == pytest.approx(x0 ** (y0 - 1) * (1 + y0 * math.log(x0)), rel=1e-13)
    assert grad(d_dx, argnums=1)(x0, y0) == pytest.approx(x0 ** (y0 - 1) * (1 + y0 * math.log(x0)), rel=1e-13)
    assert grad(d_dx, argnums=0)(x0, y0) == pytest.approx(y0 * (y0 - 1) * x0 ** (y0 - 2), rel=1e-13)


@pytest.mark.parametrize(
    ("f", "x", "expected"),
    [
        (lambda x: x.log(), 2.0, -0.25),
        (lambda x: x.sqrt(), 4.0, -0.25 * 4.0**-1.5),
        (lambda x: x.sigmoid(), 0.0, 0.0),
        (lambda x: 1.0 / x, 2.0, 2.0 / 8.0),
        (lambda x: x.relu() * x, 3.0, 2.0),  # x^2 for x > 0
        (lambda x: x.relu() * x, -3.0, 0.0),
        (lambda x: abs(x) * x, -2.0, -2.0),  # -x^2 for x < 0
        (lambda x: 2.0**x, 1.0, 2.0 * math.log(2.0) ** 2),
        (lambda x: autograd.dot([x, x], [x, 2.0], 1.0), 5.0, 2.0),  # x^2 + 2x + 1
        (lambda x: autograd.sum([x * x, x, 3.0]), 5.0, 2.0),
        (lambda x: x.softplus(), 0.0, 0.25),  # sigmoid'(0)
        (lambda x: autograd.softplus(x), math.log(3.0), 0.1875),  # s(1 - s) with s = 3/4
        (lambda x: autograd.logsumexp([x, 0.0]), 0.0, 0.25),  # softplus again, as logsumexp(x, 0)
        (lambda x: autograd.logsumexp([x, x]), 1.5, 0.0),  # x + log 2: linear
    ],
)
def test_grad_second_derivative_exact(f, x, expected):
    assert grad(grad(f, create_graph=True))(x) == pytest.approx(expected, rel=1e-14, abs=1e-15)


def test_backward_create_graph_gives_value_grads_that_differentiate_again():
    x = Value(3.0)
    y = x**3
    y.backward(create_graph=True)
    first = x.grad
    assert isinstance(first, Value) and first.data == 27.0
    x.grad = 0.0
    first.backward()
    assert x.grad == 18.0


def test_backward_create_graph_cube_at_two():
    x = Value(2.0)
    (x * x * x).backward(create_graph=True)
    first = x.grad
    x.grad = 0.0
    first.backward()
    assert (first.data, x.grad) == (12.0, 12.0)


def test_backward_create_graph_leaves_accumulate_and_interior_nodes_do_not():
    x = Value(2.0)
    h = x * x
    y = h * 3.0
    y.backward(create_graph=True)
    y.backward(create_graph=True)
    assert isinstance(x.grad, Value) and x.grad.data == 24.0  # 12 twice
    assert isinstance(h.grad, Value) and h.grad.data == 3.0  # this call's gradient only


def test_backward_create_graph_with_value_seed():
    x = Value(2.0)
    s = Value(5.0)
    (x * x).backward(s, create_graph=True)
    assert x.grad.data == 20.0
    grads = gradients(x.grad, 1.0)
    assert grads[s] == 4.0  # d(2 x s)/ds


def test_grad_create_graph_returns_values_so_closures_over_values_stay_connected():
    """Floats in under create_graph still give Values: f may close over outer Values."""
    y = Value(3.0)
    inner = grad(lambda x: x * x * y, create_graph=True)(2.0)  # 2 x y
    assert isinstance(inner, Value) and inner.data == 12.0
    assert gradients(inner, 1.0)[y] == 4.0


def test_value_and_grad_create_graph_returns_value_output():
    value, gradient = value_and_grad(lambda x: x.exp(), create_graph=True)(Value(0.0))
    assert isinstance(value, Value) and isinstance(gradient, Value)
    assert (value.data, gradient.data) == (1.0, 1.0)


def test_grad_create_graph_unused_argument_is_zero_value():
    gradient = grad(lambda x, y: x * 2.0, argnums=1, create_graph=True)(Value(1.0), Value(1.0))
    assert isinstance(gradient, Value) and gradient.data == 0.0


# -- Hessians vs finite differences of gradients ------------------------------------------

@given(expressions_with_inputs(max_nodes=10))
def test_hessian_matches_finite_differences_of_gradients_and_is_symmetric(case):
    """check_grads' create_graph mode: each row of the Hessian by grad(grad(f, create_graph=True))
    against central differences of the gradient, and H[i][j] == H[j][i] to rounding."""
    expr, xs = case
    check_grads(expr, xs, modes=("reverse", "create_graph"), order=2, atol=1e-5, rtol=1e-4)


def test_hessian_vector_product_through_a_sum_of_gradient_values():
    """A Hessian-vector product built from the gradient Values: d/dx of sum(g_i v_i) = H v."""
    f = lambda x, y: x**3 * y + (x * y).tanh()  # noqa: E731
    gradient = grad(f, argnums=(0, 1), create_graph=True)
    vs = (0.5, -2.0)
    hv = grad(lambda x, y: autograd.sum([g * v for g, v in zip(gradient(x, y), vs)]), argnums=(0, 1))(0.7, -0.3)
    t = math.tanh(0.7 * -0.3)
    sech2 = 1.0 - t * t
    d_sech2 = -2.0 * t * sech2  # d/du sech^2(u)
    h = [[6.0 * 0.7 * -0.3 + d_sech2 * 0.3 * 0.3, 3.0 * 0.49 + sech2 + d_sech2 * 0.7 * -0.3]]
    h.append([h[0][1], d_sech2 * 0.49])
    expected = [h[i][0] * vs[0] + h[i][1] * vs[1] for i in range(2)]
    assert list(hv) == pytest.approx(expected, rel=1e-12)


def test_logsumexp_hessian_is_diag_softmax_minus_outer_product():
    """d2 logsumexp / dx_i dx_j = s_i (i == j) - s_i s_j with s = softmax(x), through create_graph."""
    xs = (0.3, -1.2, 2.0)
    e = [math.exp(x) for x in xs]
    s = [v / math.fsum(e) for v in e]
    everything = (0, 1, 2)
    lse = lambda a, b, c: autograd.logsumexp([a, b, c])  # noqa: E731
    for i in range(3):
        row = grad(grad(lse, argnums=i, create_graph=True), argnums=everything)(*xs)
        expected = [s[i] * ((i == j) - s[j]) for j in range(3)]
        assert list(row) == pytest.approx(expected, rel=1e-12, abs=1e-15)
