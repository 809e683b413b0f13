"""Tests for nn.optim: SGD and Adam updates against hand computation (and torch when installed), validation."""

from __future__ import annotations

import math

import pytest

from autograd import Value
from nn import SGD, Adam


def _params(*values):
    return [Value(v) for v in values]


def test_sgd_plain_step_is_w_minus_lr_grad():
    a, b = _params(1.0, -2.0)
    a.grad, b.grad = 0.5, -4.0
    SGD([a, b], lr=0.1).step()
    assert a.data == 1.0 - 0.1 * 0.5
    assert b.data == -2.0 - 0.1 * -4.0


def test_sgd_momentum_and_weight_decay_by_hand():
    (w,) = _params(2.0)
    opt = SGD([w], lr=0.1, momentum=0.9, weight_decay=0.01)
    expected_w, velocity = 2.0, 0.0
    for grad in (1.0, -0.5, 0.25):
        w.grad = grad
        opt.step()
        g = grad + 0.01 * expected_w
        velocity = 0.9 * velocity + g
        expected_w -= 0.1 * velocity
        assert w.data == expected_w


def test_optimizer_zero_grad_and_lr_setter():
    a, b = _params(1.0, 2.0)
    a.grad, b.grad = 3.0, 4.0
    opt = SGD([a, b], lr=0.5)
    opt.zero_grad()
    assert (a.grad, b.grad) == (0.0, 0.0)
    opt.lr = 0.25
    assert opt.lr == 0.25
    with pytest.raises(ValueError, match="lr must be > 0, got -1"):
        opt.lr = -1


def test_adam_steps_match_hand_formula():
    (w,) = _params(1.0)
    opt = Adam([w], lr=0.01, betas=(0.8, 0.9), eps=1e-8)
    expected, m, v = 1.0, 0.0, 0.0
    for t, grad in enumerate((0.3, -1.0, 2.0, 0.0), start=1):
        w.grad = grad
        opt.step()
        m = 0.8 * m + 0.2 * grad
        v = 0.9 * v + 0.1 * grad * grad
        expected -= 0.01 * (m / (1 - 0.8**t)) / (math.sqrt(v / (1 - 0.9**t)) + 1e-8)
        assert w.data == pytest.approx(expected, rel=1e-14, abs=1e-16)


def test_adam_first_step_moves_every_parameter_by_about_lr():
    ps = _params(0.0, 0.0, 0.0)
    for p, g in zip(ps, (1e-3, -50.0, 7.0)):
        p.grad = g
    Adam(ps, lr=0.05).step()
    assert [p.data for p in ps] == pytest.approx([-0.05, 0.05, -0.05], rel=1e-4)


@pytest.mark.parametrize("kind", ["sgd", "sgd_momentum", "adam"])
def test_optimizers_match_torch_float64(torch, kind):
    start = [0.5, -1.5, 2.0]
    grads = [[0.1, -0.2, 0.3], [1.0, 0.5, -0.25], [-0.7, 0.0, 0.9], [0.2, 0.2, 0.2]]
    ours = _params(*start)
    theirs = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in start]
    if kind == "sgd":
        a, b = SGD(ours, lr=0.1), torch.optim.SGD(theirs, lr=0.1)
    elif kind == "sgd_momentum":
        a = SGD(ours, lr=0.1, momentum=0.9, weight_decay=0.01)
        b = torch.optim.SGD(theirs, lr=0.1, momentum=0.9, weight_decay=0.01)
    else:
        a, b = Adam(ours, lr=0.01), torch.optim.Adam(theirs, lr=0.01)
    for step in grads:
        for p, q, g in zip(ours, theirs, step):
            p.grad = g
            q.grad = torch.tensor(g, dtype=torch.float64)
        a.step()
        b.step()
    assert [p.data for p in ours] == pytest.approx([q.item() for q in theirs], rel=1e-12, abs=1e-15)


def test_optimizer_validation():
    ps = _params(1.0)
    with pytest.raises(ValueError, match=r"SGD\(\): params is empty"):
        SGD([], lr=0.1)
    with pytest.raises(TypeError, match=r"params\[1\] must be a Value, got float"):
        SGD([Value(1.0), 2.0], lr=0.1)
    with pytest.raises(TypeError, match="got one Value"):
        Adam(Value(1.0))
    with pytest.raises(ValueError, match="appears more than once"):
        Adam(ps + ps)
    with pytest.raises(ValueError, match="lr must be > 0, got 0"):
        SGD(ps, lr=0)
    with pytest.raises(ValueError, match="lr must be a finite number, got float: nan"):
        Adam(ps, lr=math.nan)
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\), got 1.0"):
        SGD(ps, lr=0.1, momentum=1.0)
    with pytest.raises(ValueError, match="weight_decay must be >= 0"):
        SGD(ps, lr=0.1, weight_decay=-0.1)
    with pytest.raises(ValueError, match=r"betas\[1\] must be in \[0, 1\)"):
        Adam(ps, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="betas must be a pair"):
        Adam(ps, betas=0.9)
    with pytest.raises(ValueError, match="eps must be > 0"):
        Adam(ps, eps=0.0)
    with pytest.raises(TypeError):
        SGD(ps, 0.1, 0.9)  # options are keyword-only


def test_optimizers_accept_any_real_number_for_their_options():
    """numpy scalars and Fractions are numbers (issue 13: Adam(lr=numpy.float32(0.01)) was refused)."""
    np = pytest.importorskip("numpy", reason="numpy scalars need numpy")
    from fractions import Fraction

    adam = Adam(_params(1.0), lr=np.float32(0.01), betas=(np.float64(0.8), Fraction(99, 100)), eps=np.float32(1e-6))
    assert adam.lr == float(np.float32(0.01)) and type(adam.lr) is float
    assert adam.betas == (0.8, 0.99) and all(type(b) is float for b in adam.betas)
    assert adam.eps == float(np.float32(1e-6))
    sgd = SGD(_params(1.0), lr=np.int64(1), momentum=np.float16(0.5), weight_decay=Fraction(1, 10))
    assert (sgd.lr, sgd.momentum, sgd.weight_decay) == (1.0, 0.5, 0.1)
    sgd.lr = np.float32(0.25)  # schedules too
    assert sgd.lr == 0.25 and type(sgd.lr) is float
    # the same update as with plain floats
    p, q = _params(2.0), _params(2.0)
    p[0].grad = q[0].grad = 0.5
    Adam(p, lr=np.float64(0.1)).step()
    Adam(q, lr=0.1).step()
    assert p[0].data == q[0].data


@pytest.mark.parametrize("bad", [True, "0.1", None, complex(1, 0), [0.1]])
def test_optimizer_options_refuse_non_numbers(bad):
    with pytest.raises(ValueError, match=f"lr must be a finite number, got {type(bad).__name__}"):
        Adam(_params(1.0), lr=bad)
    with pytest.raises(ValueError, match=f"momentum must be a finite number, got {type(bad).__name__}"):
        SGD(_params(1.0), lr=0.1, momentum=bad)


ARRAY_CASES = [
    ("sgd", dict(lr=0.1)),
    ("sgd", dict(lr=0.05, momentum=0.9)),
    ("sgd", dict(lr=0.05, weight_decay=0.01)),
    ("sgd", dict(lr=0.05, momentum=0.8, weight_decay=0.02)),
    ("adam", dict(lr=0.01)),
    ("adam", dict(lr=0.003, betas=(0.8, 0.99), eps=1e-6)),
]


@pytest.mark.parametrize("kind, options", ARRAY_CASES)
def test_array_optimizers_equal_the_value_optimizers_after_100_steps(kind, options):
    """ArraySGD / ArrayAdam on a vector and SGD / Adam on Values, fed the same gradients
    (a different one each step, with zeros, signs and a large range), end within 1e-12."""
    np = pytest.importorskip("numpy", reason="the array optimizers need numpy")
    from nn.optim import ArrayAdam, ArraySGD

    rng = np.random.default_rng(5)
    start = rng.normal(size=40) * 3.0
    values = _params(*start.tolist())
    vector = start.copy()
    value_opt = (SGD if kind == "sgd" else Adam)(values, **options)
    array_opt = (ArraySGD if kind == "sgd" else ArrayAdam)(vector, **options)
    for step in range(100):
        grad = rng.normal(size=40) * 10.0 ** rng.integers(-6, 3, size=40)
        grad[step % 40] = 0.0
        for p, g in zip(values, grad.tolist()):
            p.grad = g
        value_opt.step()
        array_opt.step(grad)
    want = np.array([p.data for p in values])
    assert np.max(np.abs(vector - want)) <= 1e-12
    assert not np.array_equal(vector, start)  # they trained


def test_array_optimizer_carries_a_value_optimizers_state_both_ways():
    """array_optimizer() continues where the Value optimizer stopped and store() hands the state back."""
    np = pytest.importorskip("numpy", reason="the array optimizers need numpy")
    from nn.optim import ArrayAdam, ArraySGD, array_optimizer

    for make in (lambda ps: Adam(ps, lr=0.1), lambda ps: SGD(ps, lr=0.1, momentum=0.9)):
        values, twins = _params(1.0, -2.0), _params(1.0, -2.0)
        reference, optimizer = make(twins), make(values)
        for opt, ps in ((reference, twins), (optimizer, values)):  # one step on Values for both
            for p, g in zip(ps, (0.5, -0.25)):
                p.grad = g
            opt.step()
        vector = np.array([p.data for p in values])
        array = array_optimizer(optimizer, vector)
        assert isinstance(array, (ArrayAdam, ArraySGD))
        for p, g in zip(twins, (0.125, 1.0)):  # the second step: Values against the vector
            p.grad = g
        reference.step()
        array.step(np.array([0.125, 1.0]))
        assert vector.tolist() == [p.data for p in twins]
        array.store(optimizer)
        assert getattr(optimizer, "t", None) == getattr(reference, "t", None)
        assert [getattr(optimizer, name) for name in ("m", "v", "velocity") if hasattr(reference, name)] == [
            getattr(reference, name) for name in ("m", "v", "velocity") if hasattr(reference, name)
        ]

    class Custom(SGD):
        def step(self):
            super().step()

    assert array_optimizer(Custom(_params(1.0), lr=0.1), np.zeros(1)) is None
    with pytest.raises(TypeError, match=r"ArrayAdam\(\): params must be a 1-D float64 numpy array"):
        ArrayAdam(np.zeros(3, dtype=np.float32))
    with pytest.raises(ValueError, match=r"lr must be > 0"):
        ArraySGD(np.zeros(3), lr=0.0)
