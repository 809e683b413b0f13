"""numerical_grad and gradcheck: central differences, tolerances, and readable failures."""

from __future__ import annotations

import math

import pytest

from autograd import GradcheckError, Value, check_grads, gradcheck, numerical_grad


def test_numerical_grad_of_a_polynomial_is_accurate():
    grads = numerical_grad(lambda x, y: x * x * y + 3.0 * y, [3.0, -2.0])
    assert grads == [pytest.approx(-12.0, rel=1e-9), pytest.approx(12.0, rel=1e-9)]
    assert all(type(g) is float for g in grads)


def test_numerical_grad_accepts_values_and_numbers_and_leaves_them_alone():
    x = Value(0.5)
    (g_x, g_y) = numerical_grad(lambda a, b: a.tanh() * b, [x, 2])
    assert g_x == pytest.approx(2.0 * (1.0 - math.tanh(0.5) ** 2), rel=1e-8)
    assert g_y == pytest.approx(math.tanh(0.5), rel=1e-8)
    assert x.data == 0.5 and x.grad == 0.0


def test_numerical_grad_function_may_return_a_float():
    assert numerical_grad(lambda x: x.data**3, [2.0]) == [pytest.approx(12.0, rel=1e-8)]


def test_numerical_grad_eps_changes_the_step():
    # For x**3 the central-difference error is exactly eps**2, so the step is visible.
    assert numerical_grad(lambda x: x**3, [1.0], eps=1e-2) == [pytest.approx(3.0 + 1e-4, rel=1e-10)]


@pytest.mark.parametrize("eps", [0.0, -1e-6, math.nan])
def test_numerical_grad_rejects_non_positive_eps(eps):
    with pytest.raises(ValueError, match="eps"):
        numerical_grad(lambda x: x, [1.0], eps=eps)


def test_numerical_grad_rejects_bad_inputs_naming_the_index():
    with pytest.raises(TypeError, match=r"inputs\[1\].*str"):
        numerical_grad(lambda x, y: x + y, [1.0, "2"])


def test_gradcheck_passes_on_correct_gradients():
    assert gradcheck(lambda x, y: (x * y).tanh() + y.exp() / x, [0.7, -0.3]) is True
    assert gradcheck(lambda x: x.relu() + abs(x) ** 1.5, [0.8]) is True
    assert gradcheck(lambda x, y: x**y, [1.7, 0.4]) is True


def _cut(x, y):
    """x + y*y where one factor is `y.data`: a graph cut, so the analytic d/dy is half the truth."""
    return x + y * y.data


def test_gradcheck_raises_naming_input_index_and_both_values():
    """The message is check_grads' reverse-mode one (its layout is tested in test_check_grads), prefixed."""
    with pytest.raises(GradcheckError) as info:
        gradcheck(_cut, [1.0, 3.0])
    with pytest.raises(AssertionError) as reverse:
        check_grads(_cut, [1.0, 3.0], modes="reverse", order=1)
    assert str(info.value) == f"gradcheck failed: {reverse.value}"
    numeric = float(str(info.value).split("!! input 1: x = 3.0, analytic = 3.0, numeric = ")[1].split(",")[0])
    assert numeric == pytest.approx(6.0, rel=1e-8)


def test_gradcheck_error_is_a_runtime_error():
    assert issubclass(GradcheckError, RuntimeError)
    with pytest.raises(RuntimeError):
        gradcheck(_cut, [1.0, 3.0])


def test_gradcheck_raise_exception_false_returns_false():
    assert gradcheck(_cut, [1.0, 3.0], raise_exception=False) is False
    assert gradcheck(_cut, [1.0, 0.0], raise_exception=False) is True  # both 0 at y = 0


def test_gradcheck_tolerances_decide():
    # analytic 3 vs numeric 6 passes only with a tolerance wider than the gap
    assert gradcheck(_cut, [1.0, 3.0], atol=3.5, rtol=0.0) is True
    assert gradcheck(_cut, [1.0, 3.0], atol=0.0, rtol=0.6) is True
    assert gradcheck(_cut, [1.0, 3.0], atol=2.9, rtol=0.0, raise_exception=False) is False


def test_gradcheck_options_are_keyword_only():
    with pytest.raises(TypeError):
        gradcheck(lambda x: x, [1.0], 1e-6)


def test_gradcheck_nan_gradients_match_only_nan():
    # sqrt(-1): analytic and numerical derivatives are both NaN, which counts as agreement
    assert gradcheck(lambda x: x.sqrt(), [-1.0]) is True


def test_gradcheck_rejects_empty_inputs():
    with pytest.raises(ValueError, match="empty"):
        gradcheck(lambda: Value(1.0), [])
