"""compile_batched: one sample's graph over a batch must equal eager per-sample graphs (values and every gradient)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

np = pytest.importorskip("numpy", reason="compile_batched needs numpy (the 'fast' extra)")

import autograd  # noqa: E402
import nn  # noqa: E402
from autograd import BatchedGraph, Value, compile_batched, dot, ops  # noqa: E402
from autograd import sum as vsum  # noqa: E402
from autograd.value import assemble  # noqa: E402
from tests.strategies import expressions, micrograd_closure_node  # noqa: E402

# Batched execution sums in another order than eager (a layer's dot is a matrix product, the
# batch mean is a sum over samples), so results agree to rounding, not bit for bit.  The
# random graphs keep values within ±50 and gradients within ±100 (autograd.testing), so
# the rounding of any sum is below 1e-12 of a magnitude of 1e4.
RTOL = 1e-12
ATOL = 1e-12 * 1e4


def close(a: float, b: float, *, rtol: float = RTOL, atol: float = ATOL) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= atol + rtol * max(abs(a), abs(b))


def assert_all_close(got, want, what: str, **kwargs) -> None:
    got, want = list(np.ravel(got)), list(np.ravel(want))
    assert len(got) == len(want), what
    bad = [(i, g, w) for i, (g, w) in enumerate(zip(got, want)) if not close(g, w, **kwargs)]
    assert not bad, f"{what}: (index, batched, eager) {bad[:5]}"


def eager_reference(build, inputs: list[Value], shared: list[Value], batch) -> tuple[list, list, list]:
    """Each sample's graph built and back-propagated eagerly: values, per-sample input grads, mean shared grads."""
    for p in shared:
        p.grad = 0.0
    values, input_grads = [], []
    for row in batch:
        fresh = [Value(float(v)) for v in row]
        root = build(fresh)
        root.backward()
        values.append(root.data)
        input_grads.append([leaf.grad for leaf in fresh])
    shared_grads = [p.grad / len(batch) for p in shared]
    for p in shared:
        p.grad = 0.0
    return values, input_grads, shared_grads


def check_against_eager(build, n_inputs: int, shared: list[Value], batch) -> BatchedGraph:
    placeholders = [Value(0.0) for _ in range(n_inputs)]
    graph = compile_batched(build(placeholders), placeholders)
    want_values, want_inputs, want_shared = eager_reference(build, placeholders, shared, batch)
    got_values = graph.forward(batch)
    got_inputs = graph.backward()
    assert got_values.shape == (len(batch),) and got_values.dtype == np.float64
    assert got_inputs.shape == (len(batch), n_inputs)
    assert_all_close(got_values, want_values, "values")
    assert_all_close(got_inputs, want_inputs, "per-sample input gradients")
    assert_all_close([p.grad for p in shared], want_shared, "shared-leaf gradients")
    return graph


@given(expressions(n_inputs=st.integers(2, 4), max_nodes=14), st.data())
def test_compile_batched_equals_eager_on_random_graphs(expr, data):
    """Some of the expression's inputs vary per sample, the others are shared parameters."""
    k = data.draw(st.integers(1, expr.n_inputs - 1), label="inputs per sample")
    size = data.draw(st.integers(1, 5), label="batch size")
    points = [data.draw(expr.inputs, label=f"sample {i}") for i in range(size)]
    shared = [Value(x) for x in points[0][k:]]  # shared leaves keep the first point's values
    batch = np.array([p[:k] for p in points], dtype=np.float64)
    check_against_eager(lambda xs: expr.build(*xs, *shared), k, shared, batch)


ACTIVATIONS = ["relu", "tanh", "sigmoid", "linear"]


def mlp_loss(model, loss: str):
    """One sample's loss with its features and target(s) as leaves, as fit(backend="batched") builds it."""
    def build(xs):
        features, targets = xs[: model.nin], xs[model.nin :]
        out = model(features)
        preds = out if isinstance(out, list) else [out]
        if loss == "mse":
            return nn.mse_loss(preds, targets)
        if loss == "bce":
            return nn.binary_cross_entropy(preds, targets)
        if loss == "bce_with_logits":
            return nn.binary_cross_entropy_with_logits(preds, targets)
        if loss == "hinge":
            return nn.hinge_loss(preds, targets)
        return nn.cross_entropy(preds, targets)  # one-hot class probabilities

    return build


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("loss", ["mse", "bce", "bce_with_logits", "hinge", "cross_entropy"])
def test_compile_batched_equals_eager_on_mlps(activation, loss):
    rng = np.random.default_rng(3)
    outputs = 3 if loss in ("cross_entropy", "mse") else 1
    out_activation = "sigmoid" if loss == "bce" else "linear"
    model = nn.MLP(4, [6, 5, outputs], activation=activation, out_activation=out_activation, seed=2)
    build = mlp_loss(model, loss)
    size = 9
    features = rng.uniform(-2, 2, (size, 4))
    if loss == "cross_entropy":
        targets = np.eye(outputs)[rng.integers(0, outputs, size)]
    elif loss == "hinge":
        targets = rng.choice([-1.0, 1.0], (size, 1))
    elif loss == "mse":
        targets = rng.normal(size=(size, outputs))
    else:
        targets = rng.uniform(0, 1, (size, 1))
    batch = np.hstack([features, targets])
    graph = check_against_eager(build, batch.shape[1], model.parameters(), batch)
    forward, rest = graph.source.split("def _backward(")
    backward, params_only = rest.split("def _backward_params(")
    assert forward.count("_matmul(") == 3  # one matrix product per layer forward
    assert backward.count("_matmul(") == 6  # and two per layer backward
    assert params_only.count("_matmul(") == 5  # without d loss / d inputs: not the first layer's dX


@pytest.mark.parametrize(
    "build, points",
    [
        (lambda x: x.relu(), [0.0, -0.0, math.inf, -math.inf, math.nan, 2.0]),
        (lambda x: abs(x), [0.0, -0.0, math.inf, -math.inf, math.nan, -3.0]),
        (lambda x: 1.0 / x, [0.0, -0.0, math.inf, -math.inf, math.nan, 0.5]),
        (lambda x: x / 0.0, [0.0, 1.0, -1.0, math.nan]),
        (lambda x: x.log(), [0.0, -0.0, -1.0, math.inf, math.nan, 5e-324]),
        (lambda x: x**0.5, [-4.0, 0.0, -0.0, math.inf, math.nan]),
        (lambda x: x**-1.0, [0.0, -0.0, math.inf]),
        (lambda x: (-8.0) ** x, [1.0 / 3.0, 2.0, 0.0, math.inf]),
        (lambda x: x**x, [0.0, -1.0, -0.5, 2.0, math.inf]),
        (lambda x: x.sqrt(), [0.0, -0.0, -1.0, math.inf]),
        (lambda x: x.exp(), [1000.0, -1000.0, math.inf, -math.inf, math.nan]),
        (lambda x: x.tanh(), [800.0, -800.0, math.inf, math.nan, 0.0]),
        (lambda x: x.sigmoid(), [-800.0, 800.0, math.inf, -math.inf, math.nan, 0.0]),
        (lambda x: x.softplus(), [1000.0, -1000.0, math.inf, -math.inf, math.nan, 0.0]),
        (lambda x: x * math.nan, [1.0, 0.0, math.inf]),
    ],
)
def test_compile_batched_ieee_edges_match_eager(build, points):
    """inf, nan, 0 and -0 per sample: the same values and gradients as eager (both branches of
    a relu or a division are computed for every sample, numpy's warnings stay silent)."""
    with np.errstate(all="raise"):  # would raise if a warning escaped compile_batched
        check_against_eager(lambda xs: build(xs[0]), 1, [], np.array(points)[:, None])


def test_compile_batched_nan_sample_stays_in_its_row_and_poisons_shared_grads_as_eager():
    w = Value(0.5)
    batch = np.array([[1.0], [math.nan], [2.0]])
    graph = check_against_eager(lambda xs: (w * xs[0]).tanh(), 1, [w], batch)
    values = graph.forward(batch)
    assert math.isnan(values[1]) and not math.isnan(values[0]) and not math.isnan(values[2])


def test_compile_batched_reads_parameters_at_every_forward():
    w, x = Value(2.0), Value(0.0)
    graph = compile_batched(w * x, [x])
    assert graph.forward([[3.0]]).tolist() == [6.0]
    w.data = -1.0
    assert graph.forward([[3.0]]).tolist() == [-3.0]


def test_compile_batched_reduction_sum_and_mean():
    w, x = Value(2.0), Value(0.0)
    graph = compile_batched(w * x * x, [x])
    graph.forward([[1.0], [2.0], [3.0]])
    grads = graph.backward(reduction="sum")
    assert w.grad == 14.0
    assert grads.tolist() == [[4.0], [8.0], [12.0]]
    w.grad = 0.0
    graph.backward()
    assert w.grad == 14.0 * (1.0 / 3.0)  # the mean as nn takes it: times 1/B


def test_compile_batched_long_fused_rows_and_shared_only_parts():
    """A 300-weight L2 penalty (one fused dot, shared leaves only) and long sum/logsumexp over inputs."""
    params = [Value(0.01 * i - 1.0) for i in range(300)]

    def build(xs):
        return 1e-3 * dot(params, params) + vsum(xs) * params[0] + ops_logsumexp(xs)

    rng = np.random.default_rng(0)
    check_against_eager(build, 250, params, rng.normal(size=(4, 250)))


def test_compile_batched_long_fused_node_reads_runs_of_rows_or_gathers():
    """A long dot over parameters laid out in a few runs of rows reads views and adds into
    runs; the same node over a shuffled order (too many runs) gathers and scatters instead:
    both equal eager, biases and repeated leaves included."""
    rng = np.random.default_rng(3)
    params = [Value(float(v)) for v in rng.normal(size=240)]  # past the inlined length, 200
    bias = Value(0.25)
    shuffled = [params[i] for i in rng.permutation(240)]

    def build(xs):
        return dot(params, params, bias) * xs[0] + vsum(params[:20] + params[:20]) * xs[1] + vsum(xs[2:])

    graph = check_against_eager(build, 6, [*params, bias], rng.normal(size=(3, 6)))
    with_inputs = graph.source.split("def _backward_params(")[0]  # forward and the full backward
    assert with_inputs.count("runs of rows)") == 6 and "_add_at" not in graph.source

    def build_shuffled(xs):
        return dot(params, shuffled) * xs[0] + xs[1]

    graph = check_against_eager(build_shuffled, 2, params, rng.normal(size=(3, 2)))
    assert "stacked" in graph.source and "_add_at" in graph.source


def test_compile_batched_relu_keeps_signed_zeros_as_eager():
    """relu(-0.0) is +0.0 and the gradient through it keeps the sign eager gives it."""
    x = Value(0.0)
    graph = compile_batched(-2.0 * x.relu(), [x])
    values = graph.forward([[-0.0], [0.0], [-1.0], [3.0]]).tolist()
    grads = graph.backward(reduction="sum")[:, 0].tolist()
    want_values, want_grads = [], []
    for point in (-0.0, 0.0, -1.0, 3.0):
        leaf = Value(point)
        root = -2.0 * leaf.relu()
        root.backward()
        want_values.append(root.data)
        want_grads.append(leaf.grad)
    assert [math.copysign(1.0, v) for v in values] == [math.copysign(1.0, v) for v in want_values]
    assert [math.copysign(1.0, g) for g in grads] == [math.copysign(1.0, g) for g in want_grads]
    assert values == want_values and grads == want_grads


def ops_logsumexp(xs):
    from autograd import logsumexp

    return logsumexp(xs)


def test_compile_batched_root_without_inputs_and_unused_inputs():
    w = Value(3.0)
    x = Value(0.0)
    graph = compile_batched(w * w, [x])
    assert graph.forward([[1.0], [2.0]]).tolist() == [9.0, 9.0]
    assert graph.backward().tolist() == [[0.0], [0.0]]
    assert w.grad == 6.0


def test_compile_batched_row_tracing_cannot_see_into_runs_sample_by_sample():
    """A row whose functions call math.* directly (as a user's row might): still exact."""
    cube = ops.Op("cube", 1, lambda x: math.pow(x, 3.0), lambda x, out: (3.0 * math.pow(x, 2.0),))
    x = Value(0.0)
    node = assemble(cube, (x,), (0.0,), 0.0)
    graph = compile_batched(node * 2.0, [x])
    assert graph.forward([[2.0], [-1.0]]).tolist() == [16.0, -2.0]
    assert graph.backward().tolist() == [[24.0], [6.0]]


def test_compile_batched_refuses_micrograd_style_closure_nodes():
    x = Value(1.0)
    node = micrograd_closure_node(x, "mine")
    with pytest.raises(NotImplementedError, match=r"compile_batched\(\).*'mine'.*defop"):
        compile_batched(node * 2.0, [x])


@pytest.mark.parametrize(
    "batch, message",
    [
        ([[1.0, 2.0, 3.0]], r"shape \(B, 2\).*got shape \(1, 3\)"),
        ([1.0, 2.0], r"shape \(B, 2\).*got shape \(2,\)"),
        (np.zeros((0, 2)), r"B >= 1"),
    ],
)
def test_compile_batched_forward_rejects_a_batch_of_the_wrong_shape(batch, message):
    x, y = Value(0.0), Value(0.0)
    graph = compile_batched(x * y, [x, y])
    with pytest.raises(ValueError, match=message):
        graph.forward(batch)


def test_compile_batched_argument_errors():
    x = Value(1.0)
    with pytest.raises(TypeError, match=r"compile_batched\(\) root must be a Value, got float"):
        compile_batched(1.0, [x])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"inputs\[0\] must be a Value, got str"):
        compile_batched(x * 2.0, ["x"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match=r"inputs\[0\] must be a leaf.*'\*'"):
        compile_batched(x * 2.0, [x * 2.0])
    with pytest.raises(ValueError, match=r"inputs\[1\] appears twice"):
        compile_batched(x * 2.0, [x, x])
    graph = compile_batched(x * 2.0, [x])
    with pytest.raises(RuntimeError, match=r"call forward\(batch\) first"):
        graph.backward()
    graph.forward([[1.0]])
    with pytest.raises(ValueError, match=r"reduction must be 'mean' or 'sum', got 'max'"):
        graph.backward(reduction="max")
    with pytest.raises(TypeError, match=r"batch must be an array of real numbers"):
        graph.forward([["a"]])


def test_compile_batched_without_numpy_names_the_install_line(hide_numpy):
    hide_numpy()
    x = Value(1.0)
    with pytest.raises(ImportError, match=r"pip install 'valuegrad\[fast\]'"):
        compile_batched(x * 2.0, [x])


@pytest.mark.parametrize("name", sorted(n for n in ops.FUNCTIONS.keys() & ops.BUILTIN_ROWS if ops.RULES[n].arity == 1))
def test_compile_batched_runs_every_builtin_row_as_array_code(name, monkeypatch):
    """No built-in row falls back to the sample-by-sample loop kept for defop rows: each float
    primitive a row calls (also inside its derivative, e.g. tanh's sech2) has an array twin."""
    from autograd import batched

    def refuse(np, function, outputs):
        raise AssertionError(f"{name}: {getattr(function, '__name__', function)} has no array version")

    monkeypatch.setattr(batched, "_elementwise", refuse)
    x, w = Value(0.5), Value(1.5)
    root = ops.FUNCTIONS[name](x * w)
    graph = compile_batched(root, [x])
    values = graph.forward([[0.25], [2.0]])
    expected = [ops.FUNCTIONS[name](0.25 * 1.5), ops.FUNCTIONS[name](2.0 * 1.5)]
    assert values.tolist() == pytest.approx(expected, rel=1e-15, abs=0.0)  # numpy's log1p may differ by an ulp


def test_compile_batched_layer_product_with_one_input_repeated():
    """A dot whose varying side repeats one input (x0, x0) still contracts over both positions
    (found by the intense hypothesis profile: the repeated row was broadcast as one)."""
    w = Value(0.7)
    x1 = Value(-1.3)

    def build(xs):
        return autograd.sum([dot([w, x1], [xs[0], xs[0]]), dot([w, x1, w], [xs[0], xs[0], xs[0]], bias=x1)])

    check_against_eager(build, 1, [w, x1], [[0.47], [-2.5], [1e-300]])


# -- issue 22 items 3, 4 and 13: IEEE to the bit, and what forward() accepts -----------------------------

def test_compile_batched_keeps_negative_zero_through_sums_and_layer_products():
    """Item 3: numpy's reductions and np.dot start from +0.0; eager's sum starts from -0.0."""
    x = Value(0.0)
    graph = compile_batched(1 / autograd.sum([-x, -x, -x]), [x])
    assert graph.forward([[0.0]]).tolist() == [-math.inf]  # was +inf
    w, b = [Value(-0.0), Value(-0.0)], Value(-0.0)
    xs = [Value(0.0), Value(0.0)]
    layer = compile_batched(1 / dot(w, xs, b), xs)  # the layer-product path
    assert layer.forward([[0.0, 0.0], [0.0, 1.0], [0.0, -0.0]]).tolist() == [-math.inf, -math.inf, math.inf]
    w[0].data = 0.0  # one product +0.0: the sum is +0.0, as eager's
    assert layer.forward([[0.0, 0.0]]).tolist() == [math.inf]


def test_compile_batched_square_root_power_is_pow_not_numpy_sqrt():
    """Item 4: x ** 0.5 at -inf is inf and at -0.0 is +0.0 (pow), and d(x**1.5)/dx at -inf is inf."""
    x = Value(0.0)
    points = [[-math.inf], [-0.0], [0.0], [4.0], [-4.0]]
    root = compile_batched(x**0.5, [x])
    values = root.forward(points).tolist()
    assert values[:4] == [math.inf, 0.0, 0.0, 2.0] and math.copysign(1.0, values[1]) == 1.0 and math.isnan(values[4])
    power = compile_batched(x**1.5, [x])
    power.forward(points)
    grads = power.backward(reduction="sum")[:, 0].tolist()
    assert grads[:4] == [math.inf, 0.0, 0.0, 3.0] and math.isnan(grads[4])


def test_compile_batched_shared_node_with_an_infinite_local_sums_each_sample():
    """Item 4: s ** 0.5 at s = 0 (local inf) times inputs [0, 1]: eager adds 0 x inf + 1 x inf = nan."""
    s = Value(0.0)
    x = Value(0.0)
    graph = compile_batched(s**0.5 * x, [x])
    graph.forward([[0.0], [1.0]])
    graph.backward(reduction="sum")
    assert math.isnan(s.grad)  # was inf: (0 + 1) x inf
    s.grad = 0.0
    graph.forward([[2.0], [1.0]])
    graph.backward(reduction="sum")
    assert s.grad == math.inf


@pytest.mark.parametrize(
    "batch, error, message",
    [
        ([["1.0"]], TypeError, r"batch must be an array of real numbers, got str: '1.0'"),
        ([[True]], TypeError, r"got bool: True"),
        (np.array([[True]]), TypeError, r"got an array of dtype bool"),
        ([[1 + 2j]], TypeError, r"got complex"),
        (np.array([[1 + 0j]]), TypeError, r"dtype complex128"),
        ([[None]], TypeError, r"got NoneType: None"),
        (np.array([["2024-01-01"]], dtype="datetime64[D]"), TypeError, r"dtype datetime64\[D\]"),
        (np.ma.masked_array([[1.0]], mask=[[True]]), TypeError, r"masked array; its mask would be ignored"),
        ([[1.0], [2.0, 3.0]], ValueError, r"batch must have shape \(B, 1\) .* got rows of different lengths"),
    ],
    ids=["str", "bool", "bool-array", "complex", "complex-array", "None", "datetime64", "masked", "ragged"],
)
def test_compile_batched_forward_refuses_what_value_refuses(batch, error, message):
    """Item 13: strings, bools, complex, None, datetime64 and masked arrays are refused with the reason."""
    x = Value(0.0)
    graph = compile_batched(x * 2.0, [x])
    with pytest.raises(error, match=r"BatchedGraph.forward\(\): .*" + message):
        graph.forward(batch)


def test_compile_batched_forward_accepts_what_value_accepts():
    """Ints (10**400 is inf, as Value(10**400).data), Fractions, numpy reals, int and float32 arrays."""
    from fractions import Fraction

    x = Value(0.0)
    graph = compile_batched(x * 1.0, [x])
    got = graph.forward([[10**400], [-(10**400)], [Fraction(1, 4)], [np.float32(0.5)], [np.int64(3)], [7]])
    assert got.tolist() == [Value(10**400).data, -math.inf, 0.25, 0.5, 3.0, 7.0] and got[0] == math.inf
    assert graph.forward(np.array([[1], [2]], dtype=np.int8)).tolist() == [1.0, 2.0]
    assert graph.forward(np.array([[1.5]], dtype=np.float32)).tolist() == [1.5]


# Huge is 1e200: a product of two overflows in any order, while a sum of a few never does, so
# the order batched adds in cannot decide between inf and a finite number.
IEEE_EDGES = [0.0, -0.0, math.inf, -math.inf, math.nan, 1e200, -1e200, 5e-324, -5e-324, 2.2e-308, 1.0, -2.5]


def same_or_rounding(got: float, want: float, scale: float) -> bool:
    """Equal as IEEE numbers (nan to nan, inf to inf of its sign, a zero to a zero of its sign),
    or both finite and within 1e-12 x scale, the largest finite magnitude in the computation:
    batched adds a node's gradient contributions (and the samples' shared gradients) in
    another order than eager's walk, which moves the last bits of the largest terms; where
    they cancel the difference is absolute (8e200 + 4 - 8e200 is 0 in one order, 4 in another)."""
    if math.isnan(want) or math.isnan(got) or math.isinf(want) or math.isinf(got):
        return (math.isnan(got) and math.isnan(want)) or got == want
    if want == 0.0 and got == 0.0:
        return math.copysign(1.0, got) == math.copysign(1.0, want)
    return abs(got - want) <= 1e-12 * max(1.0, scale, abs(got), abs(want))


def largest_finite(build, shared: list[Value], batch, *numbers) -> float:
    """The largest finite |value| of any node of the samples' eager graphs, or of ``numbers``."""
    found = [abs(v) for group in numbers for v in np.ravel(group).tolist() if math.isfinite(v)]
    for row in batch:
        root = build([Value(float(v)) for v in row])
        found += [abs(n.data) for n in autograd.topological_order(root, include_leaves=True) if math.isfinite(n.data)]
    return max(found, default=0.0)


@given(expressions(n_inputs=st.integers(2, 4), max_nodes=10), st.data())
def test_compile_batched_equals_eager_bit_for_bit_on_ieee_edge_inputs(expr, data):
    """Random graphs at ±0, ±inf, nan, huge and subnormal inputs: every value and gradient is the
    eager one (the same IEEE special value, the same signed zero), or differs by rounding only
    (1e-12 relative: batched sums the samples' shared gradients and a layer's products in
    another order, which moves the last bits, never the class of the number)."""
    k = data.draw(st.integers(1, expr.n_inputs - 1), label="inputs per sample")
    size = data.draw(st.integers(1, 4), label="batch size")
    edge = st.sampled_from(IEEE_EDGES)
    points = [data.draw(st.lists(edge, min_size=expr.n_inputs, max_size=expr.n_inputs)) for _ in range(size)]
    shared = [Value(x) for x in points[0][k:]]
    build = lambda xs: expr.build(*xs, *shared)  # noqa: E731
    placeholders = [Value(0.0) for _ in range(k)]
    graph = compile_batched(build(placeholders), placeholders)
    batch = np.array([p[:k] for p in points], dtype=np.float64)
    want_values, want_inputs, want_shared = eager_reference(build, placeholders, shared, batch)
    for p in shared:
        p.grad = 0.0
    got_values = graph.forward(batch).tolist()
    got_inputs = graph.backward(reduction="sum").tolist()
    got_shared = [p.grad for p in shared]
    want_shared_sum = [g * len(batch) for g in want_shared]  # eager_reference divided the sums by B
    scale = largest_finite(build, shared, batch, want_inputs, want_shared_sum)
    for what, got, want in (("values", got_values, want_values), ("input grads", got_inputs, want_inputs),
                            ("shared grads", got_shared, want_shared_sum)):
        pairs = zip(np.ravel(got).tolist(), np.ravel(want).tolist())
        bad = [(g, w) for g, w in pairs if not same_or_rounding(g, w, scale)]
        assert not bad, f"{what}: (batched, eager) {bad[:5]}"


def test_a_layer_reading_inputs_in_the_middle_gets_its_row_of_ones_and_the_inputs_around_it_stay_put():
    """The biases enter a layer's product as a row of ones after its inputs: inputs the layer
    does not read, before and after that row, keep their values and gradients, and input
    blocks that straddle the row (as fit passes features, then targets) land right."""
    import random

    layer = nn.Layer(3, 4, activation="tanh", rng=random.Random(2))
    head = nn.Neuron(4, activation="linear", rng=random.Random(3))
    for i, neuron in enumerate([*layer.neurons, head]):  # biases start at 0: make them count
        neuron.b.data = 0.25 * i - 0.375

    def build(xs):  # xs = [a, x0, x1, x2, t]: the layer reads x0..x2, a and t enter the loss
        return (head(layer(xs[1:4])) * xs[0] - xs[4]) ** 2

    batch = [[0.5, 1.0, -2.0, 0.25, 0.3], [-1.5, 0.0, 0.5, 2.0, -0.7], [2.0, -1.0, -0.5, 0.0, 1.1]]
    graph = check_against_eager(build, 5, layer.parameters() + head.parameters(), batch)
    assert "row of ones" in graph.source  # the layer took the product with its biases inside
    values = graph.forward(batch).tolist()
    data = np.array(batch)
    for cut in range(1, 5):  # every split of the columns into two blocks, around the row of ones or not
        assert graph._run([data[:, :cut], data[:, cut:]], read_params=True).tolist() == values
