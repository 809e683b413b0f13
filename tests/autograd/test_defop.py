"""autograd.defop: a user's row of the rule table works in every mode with no other code."""

from __future__ import annotations

import math

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import autograd
from autograd import Dual, Value, ops

# Rows of several arities; "vg_leaky" branches on the data (through ops.step, so the same
# local also runs on Values, duals and traced symbols).
softsign = autograd.defop(
    "vg_softsign",
    lambda x: x / (1.0 + abs(x)),
    lambda x, out: (ops.div(1.0, (1.0 + autograd.abs(x)) * (1.0 + autograd.abs(x))),),
)
leaky = autograd.defop(
    "vg_leaky",
    lambda x: x if x > 0.0 else 0.1 * x,
    lambda x, out: (0.1 + 0.9 * ops.step(x),),
)
hypot = autograd.defop(
    "vg_hypot",
    lambda x, y: math.hypot(x, y),
    lambda x, y, out: (ops.div(x, out), ops.div(y, out)),
    arity=2,
)
fma = autograd.defop("vg_fma", lambda a, b, c: a * b + c, lambda a, b, c, out: (b, a, 1.0), arity=3)
mean = autograd.defop(
    "vg_mean", lambda *xs: sum(xs) / len(xs), lambda *args: (1.0 / (len(args) - 1),) * (len(args) - 1), arity=-1
)
UNARY = {"softsign": softsign, "leaky": leaky, "tanh": autograd.tanh}
STEP_KINDS = ("softsign", "leaky", "hypot", "fma", "mean", "mul", "add")


def test_defop_function_works_on_floats_values_and_duals():
    assert softsign(1.0) == 0.5 and type(softsign(1.0)) is float
    v = Value(1.0)
    out = softsign(v)
    assert out.op == "vg_softsign" and out.parents == (v,) and out.local_grads == (0.25,)
    assert v.vg_softsign().data == 0.5  # the method appears on Value
    d = Dual(1.0, 1.0).vg_softsign()
    assert (d.primal, d.tangent) == (0.5, 0.25)
    assert fma(2.0, 3.0, 1.0) == 7.0 and Value(2.0).vg_fma(3.0, 1.0).data == 7.0
    assert mean(1.0, 2.0, 6.0) == 3.0 and "vg_softsign" in ops.FUNCTIONS and ops.RULES["vg_fma"].arity == 3


def test_defop_rows_label_graph_pictures():
    x = Value(2.0, label="x")
    y = hypot(x, 1.5)
    y.backward()
    source = autograd.to_dot(y).source
    assert "vg_hypot" in source and "0.8" in source  # the op name and its local derivative x/out = 0.8


@pytest.fixture
def scratch_rows():
    """Rows a test registers on purpose broken are removed again: the registry is process-wide."""
    before = set(ops.RULES)
    yield
    for name in set(ops.RULES) - before:
        del ops.RULES[name]
        ops.FUNCTIONS.pop(name, None)
        for cls in (Value, Dual):
            if name in vars(cls):
                delattr(cls, name)


def test_defop_refuses_taken_names_bad_arity_and_wrong_local_counts(scratch_rows):
    with pytest.raises(ValueError, match="'tanh' is taken"):
        autograd.defop("tanh", math.tanh, lambda x, out: (1.0,))
    with pytest.raises(ValueError, match="'backward' is taken"):
        autograd.defop("backward", math.tanh, lambda x, out: (1.0,))
    with pytest.raises(ValueError, match="arity must be a positive int or -1"):
        autograd.defop("vg_zero_arity", math.tanh, lambda x, out: (1.0,), arity=0)
    with pytest.raises(ValueError, match="public Python identifier"):
        autograd.defop("not a name", math.tanh, lambda x, out: (1.0,))
    wrong = autograd.defop("vg_wrong_count", lambda x: 2.0 * x, lambda x, out: (2.0, 1.0))
    with pytest.raises(ValueError, match="'vg_wrong_count': local must return 1 local derivative"):
        wrong(Value(1.0))


def test_defop_forward_result_must_be_real(scratch_rows):
    bad = autograd.defop("vg_bad_forward", lambda x: "nope", lambda x, out: (1.0,))
    with pytest.raises(TypeError, match="'vg_bad_forward': forward result must be a real number"):
        bad(1.0)


def test_defop_grad_of_grad_matches_by_hand():
    # softsign'' = -2 sign(x) / (1 + |x|)^3
    for x in (-2.0, -0.5, 0.5, 3.0):
        second = autograd.grad(autograd.grad(softsign, create_graph=True))(x)
        assert second == pytest.approx(-2.0 * math.copysign(1.0, x) / (1.0 + abs(x)) ** 3, rel=1e-14)
    # d2/dx2 hypot(x, y) = y^2 / r^3
    x, y = 0.6, 0.8
    assert autograd.grad(autograd.grad(hypot, create_graph=True))(x, y) == pytest.approx(y * y, rel=1e-14)


def test_defop_rows_compile_and_run_under_anomaly_mode():
    x, y = Value(0.3), Value(-1.2)
    root = fma(softsign(x), hypot(x, y), leaky(y))
    root.backward()
    expected = (x.grad, y.grad)
    x.grad = y.grad = 0.0
    compiled = autograd.compile_graph(root)
    compiled.forward()
    compiled.backward()
    assert (x.grad, y.grad) == expected
    with autograd.detect_anomaly():
        nan_row = hypot(Value(0.0), Value(0.0))  # x / out = 0 / 0 in the backward
        with pytest.raises(FloatingPointError, match="vg_hypot"):
            nan_row.backward()


@st.composite
def programs(draw):
    """A random straight-line program over 3 inputs mixing defop rows with built-in arithmetic."""
    n_steps = draw(st.integers(1, 8))
    steps = []
    for i in range(n_steps):
        kind = draw(st.sampled_from(STEP_KINDS))
        pick = st.integers(0, 2 + i)
        arity = {"hypot": 2, "fma": 3, "mean": draw(st.integers(1, 4)), "mul": 2, "add": 2}.get(kind, 1)
        steps.append((kind, tuple(draw(pick) for _ in range(arity))))
    return steps


def run(steps, inputs):
    nodes = list(inputs)
    for kind, args in steps:
        operands = [nodes[i] for i in args]
        if kind in UNARY:
            nodes.append(UNARY[kind](operands[0]))
        elif kind == "hypot":
            nodes.append(hypot(operands[0], operands[1] + 2.0))  # keep r away from 0
        elif kind == "fma":
            nodes.append(fma(*operands))
        elif kind == "mean":
            nodes.append(mean(*operands))
        elif kind == "mul":
            nodes.append(operands[0] * operands[1])
        else:
            nodes.append(operands[0] + operands[1])
    return nodes[-1]


def _smooth_point(steps, xs) -> bool:
    """Away from leaky's kink and hypot's cone tip, where central differences straddle two slopes.

    hypot(x, y) = |(x, y)| has no derivative at the origin (x / r = 0 / 0 is nan there) and turns
    sharply near it; ``run`` shifts y by 2, which keeps r away from 0 only while y stays > -2.
    """
    nodes = list(xs)
    for kind, args in steps:
        operands = [nodes[i] for i in args]
        if kind == "leaky" and abs(operands[0]) < 1e-3:
            return False
        if kind == "hypot" and math.hypot(operands[0], operands[1] + 2.0) < 1e-3:
            return False
        nodes.append(run([(kind, tuple(range(len(args))))], operands))
    return all(math.isfinite(v) and abs(v) < 1e6 for v in nodes)


@example([("hypot", (0, 1))], (0.0, -2.0, 0.0))  # hypot(0, -2 + 2): drawn by the intense profile (issue 22.16)
@settings(deadline=None)
@given(programs(), st.tuples(*[st.floats(-2.0, 2.0, allow_nan=False)] * 3))
def test_defop_programs_agree_with_finite_differences_in_every_mode_and_compile_exactly(steps, xs):
    if not _smooth_point(steps, xs):
        return
    f = lambda *v: run(steps, v)  # noqa: E731
    autograd.check_grads(f, list(xs), order=1, atol=1e-5, rtol=1e-4)  # reverse, create_graph, jvp, compile, batched
    leaves = [Value(x) for x in xs]
    root = run(steps, leaves)
    if root._rule is not None:
        root.backward()
        eager = [leaf.grad for leaf in leaves]
        for leaf in leaves:
            leaf.grad = 0.0
        compiled = autograd.compile_graph(root)
        compiled.forward()
        compiled.backward()
        assert [leaf.grad for leaf in leaves] == eager
