"""detect_anomaly: the first op that makes a NaN (or, optionally, an inf) raises, naming op, inputs and site."""

import inspect
import math
import weakref

import pytest
from hypothesis import given

import autograd
from autograd import Value, anomaly, detect_anomaly, grad, mode, no_grad, value_and_grad
from tests.strategies import backward_on_leaves, expressions_with_inputs, grads_after_backward_twice

HERE = __file__


def here(offset: int = 0) -> str:
    """'this_file:line' for the caller's line plus ``offset``."""
    return f"{HERE}:{inspect.currentframe().f_back.f_lineno + offset}"


def norm_at_origin():
    """sqrt(x*x + y*y) at (0, 0): forward 0 (finite), but sqrt's local derivative is inf, and
    the backward of x*x multiplies that inf by x = 0: a NaN born in the backward pass."""
    x, y = Value(0.0), Value(0.0)
    return x, y, (x * x + y * y).sqrt()


# -- forward ---------------------------------------------------------------------------

def test_detect_anomaly_catches_log_of_negative_in_forward():
    x = Value(-1.0)
    with detect_anomaly():
        with pytest.raises(FloatingPointError) as caught:
            site = here(1)
            x.log()
    message = str(caught.value)
    assert "forward of op 'log' produced nan from inputs (-1.0)" in message
    assert site in message


def test_detect_anomaly_catches_zero_times_inf_in_forward():
    zero, infinity = Value(0.0), Value(math.inf)
    with detect_anomaly():
        with pytest.raises(FloatingPointError, match=r"op '\*' produced nan from inputs \(0\.0, inf\)") as caught:
            site = here(1)
            zero * infinity
    assert site in str(caught.value)


def test_detect_anomaly_catches_nan_in_fused_ops_and_functions():
    with detect_anomaly():
        with pytest.raises(FloatingPointError, match=r"op 'sum' produced nan from inputs \(inf, -inf, 1\.0\)"):
            autograd.sum([Value(math.inf), Value(-math.inf), 1.0])
        with pytest.raises(FloatingPointError, match=r"op 'sqrt' produced nan from inputs \(-4\.0\)"):
            autograd.sqrt(Value(-4.0))
        with pytest.raises(FloatingPointError, match=r"op '\*\*0\.5' produced nan from inputs \(-4\.0\)"):
            Value(-4.0) ** 0.5


def test_detect_anomaly_off_lets_nan_propagate():
    x = Value(-1.0)
    y = x.log() * 2.0 + 1.0
    assert math.isnan(y.data)
    assert math.isnan((Value(0.0) * math.inf).data)
    y.backward()
    assert x.grad == -2.0  # the local rule 1/x does not see the NaN


def test_detect_anomaly_does_not_flag_nan_that_was_already_there():
    """NaN inputs only propagate an anomaly made elsewhere: no error for them."""
    nan_leaf = Value(math.nan)
    with detect_anomaly():
        y = (nan_leaf * 2.0).exp()
        y.backward()
    assert math.isnan(y.data) and math.isnan(nan_leaf.grad)


def test_detect_anomaly_checks_under_no_grad_too():
    with no_grad(), detect_anomaly():
        with pytest.raises(FloatingPointError, match="op 'log'"):
            Value(-2.0).log()


# -- backward --------------------------------------------------------------------------

def test_detect_anomaly_catches_nan_born_in_backward():
    with detect_anomaly():
        x = Value(0.0)
        y = Value(0.0)
        site = here(1)
        r = (x * x + y * y).sqrt()
        assert r.data == 0.0  # the forward is fine
        with pytest.raises(FloatingPointError) as caught:
            r.backward()
    message = str(caught.value)
    assert "backward of op '*' produced nan" in message
    assert "upstream gradient inf x local derivative 0.0" in message
    assert "from inputs (0.0, 0.0)" in message
    assert f"created at {site}" in message


def test_detect_anomaly_off_nan_from_backward_propagates():
    x, y, r = norm_at_origin()
    r.backward()
    assert r.data == 0.0
    assert math.isnan(x.grad) and math.isnan(y.grad)


def test_detect_anomaly_catches_backward_nan_in_grad():
    f = lambda x, y: (x * x + y * y).sqrt()
    assert all(math.isnan(g) for g in grad(f, argnums=(0, 1))(0.0, 0.0))
    with detect_anomaly():
        with pytest.raises(FloatingPointError, match=r"backward of op '\*' produced nan"):
            grad(f, argnums=(0, 1))(0.0, 0.0)


def test_detect_anomaly_catches_backward_nan_with_create_graph():
    f = lambda x: (x * x).sqrt()
    with detect_anomaly():
        with pytest.raises(FloatingPointError, match=r"backward of op '\*' produced nan"):
            grad(f, create_graph=True)(Value(0.0))
        x, y, r = norm_at_origin()
        with pytest.raises(FloatingPointError, match=r"backward of op '\*'"):
            r.backward(create_graph=True)


def test_detect_anomaly_catches_nan_from_adding_up_gradients():
    """sqrt(x) - sqrt(x) at 0 (two nodes): contributions +inf and -inf meet at x."""
    with detect_anomaly():
        x = Value(0.0)
        y = x.sqrt() - x.sqrt()
        with pytest.raises(FloatingPointError, match=r"adding up the gradient of a leaf \(data 0\.0\) produced nan = "):
            y.backward()


def test_detect_anomaly_backward_of_node_made_outside_says_so():
    x, y, r = norm_at_origin()
    with detect_anomaly():
        with pytest.raises(FloatingPointError, match="created outside detect_anomaly"):
            r.backward()


def test_detect_anomaly_catches_nan_local_derivative_of_power():
    """(-2) ** y is real at y = 2 but d/dy is not: the NaN appears only in the backward."""
    with detect_anomaly():
        x, y = Value(-2.0), Value(2.0)
        z = x**y
        assert z.data == 4.0
        with pytest.raises(FloatingPointError, match=r"backward of op '\*\*' produced nan .* local derivative nan"):
            z.backward()


@given(expressions_with_inputs(max_nodes=12))
def test_detect_anomaly_without_anomalies_gives_identical_results(case):
    expr, xs = case
    plain, plain_leaves = backward_on_leaves(expr, xs)
    with detect_anomaly():
        checked, checked_leaves = backward_on_leaves(expr, xs)
        functional = value_and_grad(expr, argnums=tuple(range(len(xs))))(*xs)
    assert checked.data == plain.data
    assert [v.grad for v in checked_leaves] == [v.grad for v in plain_leaves]
    assert list(functional[1]) == [v.grad for v in plain_leaves]
    interior_plain = autograd.topological_order(plain)
    interior_checked = autograd.topological_order(checked)
    assert [n.grad for n in interior_checked] == [n.grad for n in interior_plain]


def test_detect_anomaly_backward_keeps_the_grad_contract():
    """Leaves accumulate across calls, interior nodes hold this call's gradient."""
    with detect_anomaly():
        assert grads_after_backward_twice() == (24.0, 2.0, 1.0)
        leaf = Value(1.0)
        leaf.backward(5.0)
        assert leaf.grad == 5.0


# -- check_inf -------------------------------------------------------------------------

def test_detect_anomaly_check_inf_flags_overflow_and_division_by_zero():
    with detect_anomaly(check_inf=True):
        with pytest.raises(FloatingPointError, match=r"op 'exp' produced inf from inputs \(1000\.0\)"):
            Value(1000.0).exp()
        with pytest.raises(FloatingPointError, match=r"op '/' produced -inf from inputs \(-1\.0, 0\.0\)"):
            Value(-1.0) / Value(0.0)
        with pytest.raises(FloatingPointError, match=r"op '-' produced nan from inputs \(inf, inf\)"):
            Value(math.inf) - Value(math.inf)  # NaN from infinite inputs is still a NaN anomaly
        assert Value(math.inf) + 1.0  # inf from inf: not new


def test_detect_anomaly_check_inf_flags_inf_born_in_backward():
    with detect_anomaly(check_inf=True):
        x = Value(0.0)
        r = x.sqrt()
        with pytest.raises(FloatingPointError, match=r"backward of op 'sqrt' produced inf"):
            r.backward()


def test_detect_anomaly_without_check_inf_lets_inf_through():
    with detect_anomaly():
        assert Value(1000.0).exp().data == math.inf
        x = Value(0.0)
        x.sqrt().backward()
        assert x.grad == math.inf


def test_detect_anomaly_check_inf_must_be_bool():
    with pytest.raises(TypeError, match="check_inf must be a bool, got str"):
        detect_anomaly(check_inf="yes")


# -- mode switching ----------------------------------------------------------------------

def makers():
    return (mode.make1, mode.make2, mode.maken)


RECORDING = mode._State.recording


def test_detect_anomaly_restores_plain_makers_on_exit_and_on_error():
    assert makers() == RECORDING
    with detect_anomaly():
        assert makers() != RECORDING
    assert makers() == RECORDING
    assert mode._State.anomaly_wrapper is None
    with pytest.raises(FloatingPointError):
        with detect_anomaly():
            Value(-1.0).log()
    assert makers() == RECORDING
    assert mode._State.anomaly_wrapper is None


def test_detect_anomaly_nests_and_restores_check_inf():
    with detect_anomaly():
        with detect_anomaly(check_inf=True):
            with pytest.raises(FloatingPointError):
                Value(1000.0).exp()
        assert Value(1000.0).exp().data == math.inf  # the outer setting is back
        with pytest.raises(FloatingPointError):
            Value(-1.0).log()
    assert makers() == RECORDING


def test_detect_anomaly_inside_no_grad_restores_both_modes():
    with no_grad():
        with detect_anomaly():
            assert Value(1.0).exp().parents == ()
        assert makers() != RECORDING and mode._State.threads_without_grad == 1  # each op reads its thread's switch
    assert makers() == RECORDING


def test_detect_anomaly_works_as_decorator():
    @detect_anomaly()
    def risky(v):
        return v.log()

    with pytest.raises(FloatingPointError, match="op 'log'"):
        risky(Value(-3.0))
    assert makers() == RECORDING
    assert risky(Value(1.0)).data == 0.0


def test_detect_anomaly_creation_sites_do_not_keep_graphs_alive():
    with detect_anomaly():
        node = Value(2.0) * 3.0
        assert anomaly.creation_site(node).endswith(str(inspect.currentframe().f_lineno - 1))
    ref = weakref.ref(node)
    del node
    assert ref() is None


def test_detect_anomaly_is_exported():
    assert autograd.detect_anomaly is detect_anomaly and "detect_anomaly" in autograd.__all__
