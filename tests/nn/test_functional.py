"""Tests for nn.functional: exact values, gradients against central differences, stability, validation."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autograd import Value, gradcheck, topological_order
from nn import functional as F

finite = st.floats(min_value=-30.0, max_value=30.0, allow_nan=False)


# -- activations --------------------------------------------------------------------------------

def test_activations_accept_floats_values_and_sequences():
    assert isinstance(F.relu(-2.0), Value) and F.relu(-2.0).data == 0.0
    assert F.relu(Value(3.0)).data == 3.0
    assert [v.data for v in F.relu([-1.0, 0.0, 2.5])] == [0.0, 0.0, 2.5]
    assert F.tanh(0.5).data == math.tanh(0.5)
    assert [v.data for v in F.sigmoid([0.0, 1000.0, -1000.0])] == [0.5, 1.0, 0.0]
    with pytest.raises(TypeError, match=r"tanh\(\) argument must be a Value or a real number, got str"):
        F.tanh("x")


def test_softmax_values_sum_to_one_and_match_formula():
    zs = [1.0, 2.0, 3.0]
    probs = F.softmax(zs)
    total = sum(math.exp(z) for z in zs)
    assert [p.data for p in probs] == pytest.approx([math.exp(z) / total for z in zs], rel=1e-15)
    assert sum(p.data for p in probs) == pytest.approx(1.0, abs=1e-15)


def test_log_softmax_matches_log_of_softmax():
    zs = [0.5, -1.5, 2.0, 0.0]
    assert [v.data for v in F.log_softmax(zs)] == pytest.approx([math.log(p.data) for p in F.softmax(zs)], rel=1e-14)


@pytest.mark.parametrize("big", [1000.0, -1000.0])
def test_softmax_and_log_softmax_finite_for_huge_logits(big):
    probs = [p.data for p in F.softmax([big, -big, 0.0])]
    assert all(math.isfinite(p) for p in probs)
    assert probs[0] == (1.0 if big > 0 else 0.0)
    logs = [v.data for v in F.log_softmax([big, -big, 0.0])]
    assert all(math.isfinite(v) for v in logs)
    m = abs(big)  # the largest logit; exp of the others underflows to 0
    assert logs == [big - m, -big - m, -m]


def test_softmax_gradients_stay_finite_for_huge_logits():
    zs = [Value(1000.0), Value(-1000.0), Value(999.0)]
    F.cross_entropy(zs, 1).backward()
    grads = [z.grad for z in zs]
    assert all(math.isfinite(g) for g in grads)
    p = [1.0 / (1.0 + math.exp(-1.0)), 0.0, math.exp(-1.0) / (1.0 + math.exp(-1.0))]
    assert grads == pytest.approx([p[0], p[1] - 1.0, p[2]], abs=1e-12)


# -- loss values --------------------------------------------------------------------------------

def test_mse_loss_values():
    assert F.mse_loss(3.0, 1.0).data == 4.0
    assert F.mse_loss([1.0, 2.0, 4.0], [1.0, 0.0, 1.0]).data == pytest.approx((0 + 4 + 9) / 3)
    assert F.mse_loss([[1.0, 2.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 1.0]]).data == pytest.approx(6 / 4)
    assert isinstance(F.mse_loss(1.0, 1.0), Value)


def test_binary_cross_entropy_values_and_edges():
    p, y = [0.9, 0.2, 0.6], [1, 0, 0.25]
    expected = -sum(t * math.log(q) + (1 - t) * math.log(1 - q) for q, t in zip(p, y)) / 3
    assert F.binary_cross_entropy(p, y).data == pytest.approx(expected, rel=1e-14)
    assert F.binary_cross_entropy(0.0, 0).data == 0.0  # only the weighted term: no 0 * -inf = nan
    assert F.binary_cross_entropy(1.0, 1).data == 0.0
    assert F.binary_cross_entropy(0.0, 1).data == math.inf  # clamp-free: IEEE log(0)
    assert F.binary_cross_entropy(1.0, 0).data == math.inf
    with pytest.raises(ValueError, match=r"targets must be in \[0, 1\], got 2.0"):
        F.binary_cross_entropy(0.5, 2)


def test_bce_with_logits_values_match_bce_of_sigmoid():
    zs, ys = [-3.0, -0.5, 0.0, 0.7, 4.0], [0, 1, 1, 0, 1]
    expected = F.binary_cross_entropy([1 / (1 + math.exp(-z)) for z in zs], ys).data
    assert F.binary_cross_entropy_with_logits(zs, ys).data == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("z", [1000.0, -1000.0])
@pytest.mark.parametrize("y", [0.0, 1.0])
def test_bce_with_logits_finite_for_huge_logits(z, y):
    x = Value(z)
    loss = F.binary_cross_entropy_with_logits(x, y)
    loss.backward()
    wrong = (z > 0) != (y == 1.0)
    assert loss.data == (1000.0 if wrong else 0.0)
    assert x.grad == (1.0 if z > 0 else 0.0) - y  # sigmoid(z) - y


def test_bce_with_logits_gradient_at_zero_is_sigmoid_minus_target():
    """At z = 0 a relu/abs formulation would give subgradient -y; the true derivative is 0.5 - y."""
    for y in (0.0, 1.0, 0.3):
        z = Value(0.0)
        F.binary_cross_entropy_with_logits(z, y).backward()
        assert z.grad == pytest.approx(0.5 - y, abs=1e-15)
        assert F.binary_cross_entropy_with_logits(0.0, y).data == pytest.approx(math.log(2.0), abs=1e-15)


def test_hinge_loss_values_and_targets():
    assert F.hinge_loss([2.0, 0.5, -0.5], [1, 1, 1]).data == pytest.approx((0 + 0.5 + 1.5) / 3)
    assert F.hinge_loss(-2.0, -1).data == 0.0
    with pytest.raises(ValueError, match="targets must be -1 or \\+1, got 0.0"):
        F.hinge_loss([1.0], [0])


def test_cross_entropy_one_sample_and_batch():
    logits = [2.0, 1.0, 0.1]
    lse = math.log(sum(math.exp(z) for z in logits))
    assert F.cross_entropy(logits, 0).data == pytest.approx(lse - 2.0, rel=1e-14)
    batch = F.cross_entropy([logits, [0.0, 0.0, 0.0]], [2, 1]).data
    assert batch == pytest.approx(((lse - 0.1) + math.log(3.0)) / 2, rel=1e-14)
    assert F.cross_entropy([1000.0, -1000.0], 1).data == 2000.0


def test_losses_return_values_and_accept_values():
    a, b = Value(0.3), Value(-0.4)
    for loss in (F.mse_loss([a, b], [0.0, 1.0]), F.hinge_loss([a, b], [1, -1]),
                 F.binary_cross_entropy_with_logits([a, b], [1, 0]), F.cross_entropy([a, b], 0)):
        assert isinstance(loss, Value)
        assert a in _ancestors(loss) and b in _ancestors(loss)


def _ancestors(root: Value) -> set:
    seen, stack = set(), [root]
    while stack:
        node = stack.pop()
        for p in node.parents:
            if p not in seen:
                seen.add(p)
                stack.append(p)
    return seen


# -- gradients ----------------------------------------------------------------------------------

LOSS_CASES = {
    "mse": (lambda *z: F.mse_loss(list(z), [0.5, -1.0, 2.0]), [0.3, -0.2, 1.1]),
    "bce": (lambda *p: F.binary_cross_entropy(list(p), [1, 0, 0.3]), [0.8, 0.35, 0.5]),
    "bce_with_logits": (lambda *z: F.binary_cross_entropy_with_logits(list(z), [1, 0, 0.3]), [1.2, -0.4, 0.05]),
    "hinge": (lambda *s: F.hinge_loss(list(s), [1, -1, 1]), [0.3, -0.2, 1.7]),
    "cross_entropy": (lambda *z: F.cross_entropy(list(z), 1), [0.3, -0.2, 1.1]),
    "cross_entropy_batch": (lambda a, b, c, d: F.cross_entropy([[a, b], [c, d]], [0, 1]), [0.3, -0.2, 1.1, 0.4]),
    "cross_entropy_probabilities": (lambda *z: F.cross_entropy(list(z), [0.2, 0.5, 0.3]), [0.3, -0.2, 1.1]),
    "cross_entropy_soft_unnormalised": (lambda *z: F.cross_entropy(list(z), [0.5, 0.9, 0.0]), [0.3, -0.2, 1.1]),
    "cross_entropy_probability_batch": (
        lambda a, b, c, d: F.cross_entropy([[a, b], [c, d]], [[0.25, 0.75], [1.0, 0.0]]),
        [0.3, -0.2, 1.1, 0.4],
    ),
    "softmax": (lambda *z: F.softmax(list(z))[0] * 2.0 + F.softmax(list(z))[2], [0.3, -0.2, 1.1]),
    "log_softmax": (lambda *z: F.log_softmax(list(z))[1], [0.3, -0.2, 1.1]),
}


@pytest.mark.parametrize("name", sorted(LOSS_CASES))
def test_loss_gradients_match_central_differences(name):
    f, inputs = LOSS_CASES[name]
    assert gradcheck(f, inputs, eps=1e-6, atol=1e-7, rtol=1e-5)


@given(st.lists(finite, min_size=2, max_size=5), st.data())
def test_cross_entropy_gradient_is_softmax_minus_one_hot(zs, data):
    target = data.draw(st.integers(min_value=0, max_value=len(zs) - 1))
    values = [Value(z) for z in zs]
    F.cross_entropy(values, target).backward()
    m = max(zs)
    total = sum(math.exp(z - m) for z in zs)
    expected = [math.exp(z - m) / total - (i == target) for i, z in enumerate(zs)]
    assert [v.grad for v in values] == pytest.approx(expected, abs=1e-12)


@given(finite, st.floats(min_value=0.0, max_value=1.0))
def test_bce_with_logits_gradient_property(z, y):
    x = Value(z)
    F.binary_cross_entropy_with_logits(x, y).backward()
    assert x.grad == pytest.approx(1.0 / (1.0 + math.exp(-z)) - y, abs=1e-12)


def test_losses_match_torch_float64(torch):
    import torch.nn.functional as TF

    logits = [[1.5, -0.3, 0.2], [-2.0, 0.4, 3.0]]
    targets = [2, 0]
    ours = F.cross_entropy(logits, targets).data
    theirs = TF.cross_entropy(torch.tensor(logits, dtype=torch.float64), torch.tensor(targets)).item()
    assert ours == pytest.approx(theirs, rel=1e-13)
    zs, ys = [3.0, -1.0, 0.0], [1.0, 1.0, 0.0]
    ours = F.binary_cross_entropy_with_logits(zs, ys).data
    theirs = TF.binary_cross_entropy_with_logits(
        torch.tensor(zs, dtype=torch.float64), torch.tensor(ys, dtype=torch.float64)
    ).item()
    assert ours == pytest.approx(theirs, rel=1e-13)


# -- validation ---------------------------------------------------------------------------------

def test_loss_input_validation():
    with pytest.raises(ValueError, match=r"mse_loss\(\): got 2 predictions but 3 targets"):
        F.mse_loss([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="predictions are empty"):
        F.mse_loss([], [])
    with pytest.raises(TypeError, match=r"mse_loss\(\): prediction 1 must be a Value or a real number, got str"):
        F.mse_loss([1.0, "a"], [1.0, 2.0])
    with pytest.raises(TypeError, match="target 0 must be a Value or a real number, got NoneType"):
        F.hinge_loss([1.0], [None])
    with pytest.raises(ValueError, match="target index 3 is out of range for 3 classes"):
        F.cross_entropy([1.0, 2.0, 3.0], 3)
    with pytest.raises(TypeError, match="target index must be an int, got float"):
        F.cross_entropy([1.0, 2.0], 1.0)
    with pytest.raises(ValueError, match="got 2 samples but 1 target indices"):
        F.cross_entropy([[1.0, 2.0], [0.0, 1.0]], [1])
    with pytest.raises(ValueError, match="logits are empty"):
        F.softmax([])
    with pytest.raises(TypeError, match="logits must be a sequence"):
        F.log_softmax(1.0)


# -- class-probability targets and branch-free graphs ------------------------------------------

def test_cross_entropy_probability_target_value():
    zs, p = [2.0, 1.0, 0.1], [0.1, 0.6, 0.3]
    lse = math.log(math.fsum(math.exp(z) for z in zs))
    expected = -math.fsum(q * (z - lse) for q, z in zip(p, zs))
    assert F.cross_entropy(zs, p).data == pytest.approx(expected, rel=1e-14)
    assert F.cross_entropy([1000.0, -1000.0], [0.0, 1.0]).data == 2000.0
    batch = F.cross_entropy([zs, [0.0, 0.0, 0.0]], [p, [1.0, 0.0, 0.0]]).data
    assert batch == pytest.approx((expected + math.log(3.0)) / 2, rel=1e-14)


@given(st.lists(finite, min_size=2, max_size=5), st.data())
def test_cross_entropy_one_hot_probabilities_equal_class_index_bit_for_bit(zs, data):
    """A one-hot p adds exact zeros and multiplies by exactly 1: same value and gradients as index t."""
    t = data.draw(st.integers(min_value=0, max_value=len(zs) - 1))
    by_index = [Value(z) for z in zs]
    by_probs = [Value(z) for z in zs]
    a = F.cross_entropy(by_index, t)
    b = F.cross_entropy(by_probs, [1.0 if i == t else 0.0 for i in range(len(zs))])
    a.backward()
    b.backward()
    assert a.data == b.data
    assert [v.grad for v in by_index] == [v.grad for v in by_probs]


def test_cross_entropy_probability_target_gradient_is_softmax_times_mass_minus_p():
    zs, p = [0.5, -1.0, 2.0], [0.3, 0.3, 0.3]
    values = [Value(z) for z in zs]
    F.cross_entropy(values, p).backward()
    total = math.fsum(math.exp(z) for z in zs)
    expected = [0.9 * math.exp(z) / total - q for z, q in zip(zs, p)]
    assert [v.grad for v in values] == pytest.approx(expected, abs=1e-15)


def test_cross_entropy_probability_target_validation():
    with pytest.raises(ValueError, match="target has 2 class probabilities but there are 3 logits"):
        F.cross_entropy([1.0, 2.0, 3.0], [0.5, 0.5])
    with pytest.raises(TypeError, match="class probability 1 must be a Value or a real number, got str"):
        F.cross_entropy([1.0, 2.0], [0.5, "x"])
    with pytest.raises(TypeError, match="or give the target as a sequence of class probabilities"):
        F.cross_entropy([1.0, 2.0], 0.5)


def _ops_of(root: Value) -> list[str]:
    return [node.op for node in topological_order(root)]


@pytest.mark.parametrize(
    ("build", "points"),
    [
        (lambda zs: F.binary_cross_entropy_with_logits(zs, [1.0, 0.0, 0.5]), ([2.0, -3.0, 0.0], [-2.0, 3.0, -0.0])),
        (lambda zs: F.cross_entropy(zs, [0.0, 1.0, 0.0]), ([5.0, 1.0, -1.0], [-1.0, 1.0, 5.0])),
        (lambda zs: F.log_softmax(zs)[0], ([5.0, 1.0, -1.0], [-1.0, 1.0, 1000.0])),
        (lambda zs: F.softmax(zs)[2], ([5.0, 1.0, -1.0], [-1.0, 1.0, 1000.0])),
    ],
    ids=["bce_with_logits", "cross_entropy_probabilities", "log_softmax", "softmax"],
)
def test_losses_build_the_same_graph_whatever_the_data(build, points):
    """No branch on signs or on which logit is largest: what compiled fit needs."""
    first, second = points
    assert _ops_of(build([Value(z) for z in first])) == _ops_of(build([Value(z) for z in second]))
    assert "softplus" in _ops_of(build([Value(0.0)] * 3)) or "logsumexp" in _ops_of(build([Value(0.0)] * 3))


def test_cross_entropy_probability_targets_match_torch_float64(torch):
    import torch.nn.functional as TF

    logits = [[1.5, -0.3, 0.2], [-2.0, 0.4, 3.0]]
    targets = [[0.2, 0.3, 0.5], [0.9, 0.0, 0.2]]  # the second does not sum to 1: PyTorch's formula still holds
    leaves = [[Value(z) for z in row] for row in logits]
    ours = F.cross_entropy(leaves, targets)
    ours.backward()
    t_logits = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    theirs = TF.cross_entropy(t_logits, torch.tensor(targets, dtype=torch.float64))
    theirs.backward()
    assert ours.data == pytest.approx(theirs.item(), rel=1e-13)
    assert [[v.grad for v in row] for row in leaves] == [
        pytest.approx(row, rel=1e-12, abs=1e-15) for row in t_logits.grad.tolist()
    ]
