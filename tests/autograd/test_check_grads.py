"""check_grads: every mode against central differences and each other, and red when any one mode is wrong."""

from __future__ import annotations

import contextlib
import io
import re
import sys
from pathlib import Path

import pytest

import autograd
from autograd import BatchedGraph, CompiledGraph, Value, check_grads, engine, forward
from autograd.gradcheck import MODES

# One function per public op (method and free-function spellings), at points inside its domain.
EVERY_OP = {
    "+": (lambda x, y: x + y + 2.5 + x, [0.3, -1.2]),
    "-": (lambda x, y: x - y - 1.5 - (0.25 - y), [0.3, -1.2]),
    "neg": (lambda x: -x * x, [0.7]),
    "*": (lambda x, y: x * y * 3.0 * x, [0.3, -1.2]),
    "/": (lambda x, y: x / y + 2.0 / x + y / 4.0, [0.8, -1.3]),
    "**": (lambda x, y: x**y, [1.7, 0.4]),
    "**c": (lambda x: x**3 + x**0.5 + x**-1.5, [1.3]),
    "c**": (lambda x: 2.0**x, [0.6]),
    "exp": (lambda x: x.exp() + autograd.exp(x * 0.5), [0.4]),
    "log": (lambda x: x.log() + autograd.log(x * x), [1.6]),
    "tanh": (lambda x: x.tanh() + autograd.tanh(x * 2.0), [0.35]),
    "sigmoid": (lambda x: x.sigmoid() + autograd.sigmoid(-x), [-0.8]),
    "relu": (lambda x, y: (x * y).relu() + autograd.relu(x) * x, [0.9, 1.1]),
    "relu<0": (lambda x: x.relu() + x * autograd.relu(-x), [-0.9]),
    "abs": (lambda x, y: abs(x * y) + autograd.abs(y) * x, [0.9, -1.1]),
    "sqrt": (lambda x: x.sqrt() + autograd.sqrt(x * 3.0), [2.2]),
    "softplus": (lambda x: x.softplus() * autograd.softplus(-x), [0.45]),
    "sum": (lambda x, y, z: autograd.sum([x * y, z, x, 2.0]) * z, [0.5, -1.5, 2.0]),
    "dot": (lambda x, y, z: autograd.dot([x, y, z], [z, x, 1.5], y), [0.5, -1.5, 2.0]),
    "logsumexp": (lambda x, y, z: autograd.logsumexp([x, y * z, 0.5]), [0.5, -1.5, 2.0]),
}


@pytest.mark.parametrize("op", EVERY_OP)
def test_check_grads_passes_on_every_op_in_every_mode_to_third_order(op):
    f, xs = EVERY_OP[op]
    gradient = check_grads(f, xs, order=3)
    assert gradient == list(autograd.grad(f, tuple(range(len(xs))))(*xs))  # the reverse-mode gradient


def test_check_grads_returns_the_exact_reverse_gradient():
    assert check_grads(lambda x, y: x * y, [3.0, 4.0]) == [4.0, 3.0]
    assert check_grads(lambda x: x, [2.0]) == [1.0]  # the root is the input leaf itself
    assert check_grads(lambda x, y: 3.0, [2.0, 1.0]) == [0.0, 0.0]  # a constant: no graph at all


# -- each mode broken in turn: check_grads names it, and the other modes still pass ---------------

def _break_value_and_grad(monkeypatch, *, create_graph: bool, wrong) -> None:
    """value_and_grad with create_graph=``create_graph`` returns wrong(args, gradient) for each gradient."""
    honest = engine.value_and_grad

    def value_and_grad(f, argnums=0, *, create_graph=False):
        inner = honest(f, argnums, create_graph=create_graph)
        if create_graph != broken:
            return inner

        def broken_inner(*args):
            value, grads = inner(*args)
            if isinstance(grads, tuple):
                return value, tuple(wrong(args, g) for g in grads)
            return value, wrong(args, grads)

        return broken_inner

    broken = create_graph
    monkeypatch.setattr(engine, "value_and_grad", value_and_grad)


def _break_reverse(monkeypatch):
    _break_value_and_grad(monkeypatch, create_graph=False, wrong=lambda args, g: g * 1.5)


def _break_create_graph(monkeypatch):
    """Gradients built with create_graph keep their values but differentiate 0.5 too much in x0."""

    def wrong(args, g):
        x0 = args[0]
        return g + 0.5 * (x0 - x0.data) if isinstance(x0, Value) else g

    _break_value_and_grad(monkeypatch, create_graph=True, wrong=wrong)


def _break_jvp(monkeypatch):
    honest = forward.jvp

    def jvp(f, primals, tangents):
        value, derivative = honest(f, primals, tangents)
        return value, derivative * 1.5

    monkeypatch.setattr(forward, "jvp", jvp)


def _break_compile(monkeypatch):
    honest = CompiledGraph.backward

    def backward(self, grad=1.0):
        honest(self, grad * 1.5)

    monkeypatch.setattr(CompiledGraph, "backward", backward)


def _break_batched(monkeypatch):
    honest = BatchedGraph.backward

    def backward(self, reduction="mean"):
        return honest(self, reduction) * 1.5

    monkeypatch.setattr(BatchedGraph, "backward", backward)


BREAKERS = {
    "reverse": _break_reverse,
    "create_graph": _break_create_graph,
    "jvp": _break_jvp,
    "compile": _break_compile,
    "batched": _break_batched,
}


def smooth(x, y):
    return (x * y).tanh() + x.exp() * y


def test_check_grads_breakers_cover_every_mode():
    assert set(BREAKERS) == set(MODES)


@pytest.mark.parametrize("mode", MODES)
def test_check_grads_names_the_one_broken_mode(monkeypatch, mode):
    check_grads(smooth, [0.4, -0.7])
    BREAKERS[mode](monkeypatch)
    with pytest.raises(AssertionError) as info:
        check_grads(smooth, [0.4, -0.7])
    message = str(info.value)
    assert message.startswith(f"mode {mode!r} ("), message
    assert "!! input 0: x = 0.4, " in message
    check_grads(smooth, [0.4, -0.7], modes=[other for other in MODES if other != mode])  # the rest pass


def test_check_grads_order_decides_how_deep_create_graph_looks(monkeypatch):
    """A wrong second derivative passes at order 1; a wrong third derivative passes at order 2."""
    _break_create_graph(monkeypatch)
    check_grads(smooth, [0.4, -0.7], order=1)
    with pytest.raises(AssertionError, match=r"mode 'create_graph' \(order 2\)"):
        check_grads(smooth, [0.4, -0.7], order=2)


def test_check_grads_order_three_catches_a_wrong_third_derivative(monkeypatch):
    # The term c*(x0 - x0.data)**2 added to every create_graph gradient has value 0 and slope 0,
    # so first and second derivatives stay right; its second derivative 2c reaches order 3 only.
    def wrong(args, g):
        x0 = args[0]
        return g + 0.25 * (x0 - x0.data) ** 2 if isinstance(x0, Value) else g

    _break_value_and_grad(monkeypatch, create_graph=True, wrong=wrong)
    check_grads(smooth, [0.4, -0.7], order=2)
    with pytest.raises(AssertionError, match=r"mode 'create_graph' \(order 3\)") as info:
        check_grads(smooth, [0.4, -0.7], order=3)
    assert "!! input 0" in str(info.value) and "   input 1" in str(info.value)


def test_check_grads_modes_must_agree_more_closely_than_central_differences(monkeypatch):
    """A slope 1e-6 too steep in one mode is within the numeric tolerance but not within rounding."""
    honest = forward.jvp
    monkeypatch.setattr(forward, "jvp", lambda f, p, t: (honest(f, p, t)[0], honest(f, p, t)[1] * (1.0 + 1e-6)))
    check_grads(smooth, [0.4, -0.7], modes="jvp")  # alone, only central differences judge it
    with pytest.raises(AssertionError) as info:
        check_grads(smooth, [0.4, -0.7], modes=("reverse", "jvp"))
    message = str(info.value)
    assert message.startswith("mode 'jvp' (jacobian(mode='forward')): the gradient of smooth against mode 'reverse'")
    assert "jvp = " in message and "reverse = " in message


def cut(x, y):
    """x*x + y*y where one factor is `y.data`: a graph cut, so every mode's d/dy is half the truth."""
    return x * x + y * y.data


def test_check_grads_message_names_mode_input_and_both_numbers():
    with pytest.raises(AssertionError) as info:
        check_grads(cut, [1.0, 2.0])
    message = str(info.value)
    assert message.startswith("mode 'reverse' (value_and_grad): the gradient of cut (value 5.0)")
    assert "differ at input 1 (atol=1e-05, rtol=0.001)" in message
    assert "!! input 1: x = 2.0, analytic = 2.0, numeric = 4.0" in message
    assert "   input 0: x = 1.0, analytic = 2.0, numeric = 2.0" in message
    for mode in ("create_graph", "jvp", "compile", "batched"):  # the cut fools every mode alike
        with pytest.raises(AssertionError, match=f"^mode '{mode}'.*\n.*\n  !! input 1: x = 2.0, analytic = 2.0, "):
            check_grads(cut, [1.0, 2.0], modes=mode)


def test_check_grads_gradcheck_and_assert_gradients_match_share_one_check():
    """The three entry points report the same failure in the same words."""
    from autograd.testing import assert_gradients_match

    with pytest.raises(AssertionError) as direct:
        check_grads(cut, [1.0, 2.0], modes="reverse", order=1)
    with pytest.raises(AssertionError) as testing:
        assert_gradients_match(cut, [1.0, 2.0])
    with pytest.raises(autograd.GradcheckError) as pytorch_style:
        autograd.gradcheck(cut, [1.0, 2.0])
    assert str(testing.value) == str(direct.value)
    assert str(pytorch_style.value) == f"gradcheck failed: {direct.value}"


def test_check_grads_ignores_an_enclosing_no_grad():
    with autograd.no_grad():
        assert check_grads(smooth, [0.4, -0.7]) == check_grads(smooth, [0.4, -0.7], modes="reverse")


def test_check_grads_accepts_values_as_args_and_leaves_them_alone():
    x = Value(0.4)
    check_grads(smooth, [x, -0.7])
    assert (x.data, x.grad) == (0.4, 0.0)


def test_check_grads_nan_gradients_match_only_nan():
    check_grads(lambda x: x.sqrt(), [-1.0], modes=("reverse", "jvp", "compile"), order=1)


def test_check_grads_without_numpy_skips_batched_by_default_with_a_warning(monkeypatch):
    monkeypatch.setitem(sys.modules, "numpy", None)  # import numpy now fails, as when it is absent
    with pytest.warns(UserWarning, match=r"numpy is not installed, so mode 'batched' .* pip install numpy"):
        check_grads(smooth, [0.4, -0.7])
    with pytest.raises(ImportError, match=r"mode 'batched' needs numpy: pip install numpy"):
        check_grads(smooth, [0.4, -0.7], modes=("reverse", "batched"))


@pytest.mark.parametrize("modes", ["sideways", ("reverse", "forward"), ()])
def test_check_grads_unknown_modes_raise_value_error_listing_the_choices(modes):
    with pytest.raises(ValueError, match=r"modes must be a non-empty selection of \('reverse', 'create_graph'"):
        check_grads(smooth, [0.4, -0.7], modes=modes)


@pytest.mark.parametrize("order", [0, -1, 1.5, True])
def test_check_grads_bad_order_raises_value_error(order):
    with pytest.raises(ValueError, match=r"order must be an int >= 1, got"):
        check_grads(smooth, [0.4, -0.7], order=order)


def test_check_grads_rejects_empty_args_and_non_numbers():
    with pytest.raises(ValueError, match="args is empty"):
        check_grads(lambda: Value(1.0), [])
    with pytest.raises(TypeError, match=r"inputs\[1\].*str"):
        check_grads(smooth, [1.0, "2"])


def test_check_grads_options_are_keyword_only():
    with pytest.raises(TypeError):
        check_grads(smooth, [0.4, -0.7], "reverse")


def test_check_grads_is_exported():
    assert "check_grads" in autograd.__all__ and autograd.check_grads is check_grads


def test_check_grads_docs_example_prints_what_the_page_shows():
    """docs/engine.md quotes the example's output: it is this run's output, to the last digit."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "engine.md").read_text(encoding="utf-8")
    section = page.split("## Checking every mode at once")[1].split("\n## ")[0]
    code = re.search(r"```python\n(.*?)```", section, re.S)[1]
    shown = re.search(r"```text\n(.*?)```", section, re.S)[1]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "docs/engine.md", "exec"), {"__name__": "__doc_example__"})
    assert printed.getvalue() == shown


def test_check_grads_leaves_the_grads_of_values_f_closes_over_as_they_were():
    """A model's parameters that f uses are the caller's: no mode may leave gradients in them."""
    w = Value(3.0)
    w.grad = 7.0
    h = w * 2.0  # an interior node built outside f
    h.grad = -1.0
    check_grads(lambda x: (x * w).tanh() * w, [0.2])  # every mode: a leaf is a constant to a Dual
    check_grads(lambda x: (x * h + w).tanh(), [0.2], modes=("reverse", "create_graph", "compile", "batched"))
    assert (w.data, w.grad, h.data, h.grad) == (3.0, 7.0, 6.0, -1.0)
    assert autograd.gradcheck(lambda x: x * w, [0.5]) and w.grad == 7.0
