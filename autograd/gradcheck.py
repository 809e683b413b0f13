"""Numerical gradients by central differences, and the one gradient checker every mode goes through."""

from __future__ import annotations

import contextlib
import importlib.util
import math
import warnings
from typing import Any, Callable, Iterator, Sequence

from . import engine, forward
from .batched import compile_batched
from .compile import compile_graph
from .engine import no_grad, set_grad_mode
from .ops import to_float
from .value import Value

MODES = ("reverse", "create_graph", "jvp", "compile", "batched")
"""What :func:`check_grads` can check, in the order it checks them (see its docstring)."""

EPS = 1e-6
ATOL = 1e-5
RTOL = 1e-3
"""The defaults of every checker here (PyTorch's gradcheck uses the same)."""

MODE_ATOL = 1e-12
MODE_RTOL = 1e-9
"""How closely two analytic modes must agree: they apply the same rows to the same floats, so
they differ by rounding only (batched sums in another order; Hessian entries H[i][j] and H[j][i]
come from two different graphs)."""


class GradcheckError(RuntimeError):
    """Analytic and numerical gradients disagree."""


def _input_floats(inputs: Sequence[Any]) -> list[float]:
    return [x.data if isinstance(x, Value) else to_float(x, f"inputs[{i}]") for i, x in enumerate(inputs)]


def _scalar(out: Any, f: Callable[..., Any]) -> float:
    if isinstance(out, Value):
        return out.data
    return to_float(out, f"return value of {_name(f)}")


def _name(f: Callable[..., Any]) -> str:
    return getattr(f, "__name__", None) or repr(f)


def numerical_grad(f: Callable[..., Any], inputs: Sequence[Any], *, eps: float = EPS) -> list[float]:
    """Central differences (f(x + eps) - f(x - eps)) / (2 eps) for each input in turn.

    ``f`` receives one Value per input and returns a Value or a number.
    """
    xs = _input_floats(inputs)
    if not eps > 0.0:
        raise ValueError(f"numerical_grad(): eps must be positive, got {eps!r}")
    result = []
    with no_grad():
        for i in range(len(xs)):
            shifted = [Value(x) for x in xs]
            shifted[i] = Value(xs[i] + eps)
            plus = _scalar(f(*shifted), f)
            shifted[i] = Value(xs[i] - eps)
            minus = _scalar(f(*shifted), f)
            result.append((plus - minus) / (2.0 * eps))
    return result


def close_enough(analytic: float, numeric: float, *, atol: float, rtol: float) -> bool:
    """The one tolerance rule of gradient checks: |analytic - numeric| <= atol + rtol * |numeric|.

    NaN matches only NaN and an infinity only the same infinity.
    """
    if math.isnan(analytic) or math.isnan(numeric):
        return math.isnan(analytic) and math.isnan(numeric)
    if math.isinf(analytic) or math.isinf(numeric):
        return analytic == numeric
    return abs(analytic - numeric) <= atol + rtol * abs(numeric)


def _assert_close(
    what: str,
    labels: Sequence[str],
    got: Sequence[float],
    want: Sequence[float],
    names: tuple[str, str],
    *,
    atol: float,
    rtol: float,
) -> None:
    """Raise AssertionError unless ``close_enough(got[i], want[i])`` for every i.

    The message says ``what`` was compared, which entries differ, and lists every entry with
    its label and both numbers (``names``: what ``got`` and ``want`` are, e.g. analytic, numeric).
    """
    bad = [i for i, (g, w) in enumerate(zip(got, want)) if not close_enough(g, w, atol=atol, rtol=rtol)]
    if not bad:
        return
    rows = "\n".join(
        f"  {'!!' if i in bad else '  '} {label}, {names[0]} = {g!r}, {names[1]} = {w!r}, difference = {abs(g - w)!r}"
        for i, (label, g, w) in enumerate(zip(labels, got, want))
    )
    where = ", ".join(labels[i].split(":")[0] for i in bad)
    message = f"{what}: {names[0]} and {names[1]} differ at {where} (atol={atol}, rtol={rtol}):\n{rows}"
    raise AssertionError(message)


def _chosen_modes(modes: str | Sequence[str] | None) -> tuple[str, ...]:
    """The modes to check, in :data:`MODES` order; batched is left out of the default without numpy."""
    if modes is None:
        if importlib.util.find_spec("numpy") is not None:
            return MODES
        warnings.warn(
            "check_grads(): numpy is not installed, so mode 'batched' (compile_batched) was not checked; "
            "pip install numpy (or 'valuegrad[fast]') to check it",
            stacklevel=3,
        )
        return tuple(mode for mode in MODES if mode != "batched")
    names = (modes,) if isinstance(modes, str) else tuple(modes)
    unknown = [name for name in names if name not in MODES]
    if unknown or not names:
        raise ValueError(f"check_grads(): modes must be a non-empty selection of {MODES}, got {modes!r}")
    if "batched" in names and importlib.util.find_spec("numpy") is None:
        raise ImportError("check_grads(): mode 'batched' needs numpy: pip install numpy (or 'valuegrad[fast]')")
    return tuple(mode for mode in MODES if mode in names)


def check_grads(
    f: Callable[..., Any],
    args: Sequence[Any],
    *,
    modes: str | Sequence[str] | None = None,
    order: int = 2,
    eps: float = EPS,
    atol: float = ATOL,
    rtol: float = RTOL,
) -> list[float]:
    """Check the derivatives of ``f`` at ``args`` in every mode, against central differences and each other.

    ``f`` takes one number-like argument per entry of ``args`` (a Value, or a Dual in forward
    mode) and returns a scalar.  ``modes`` (default: all of :data:`MODES`; ``batched`` only
    when numpy is installed, with a warning saying it was skipped) names what is checked:

    - ``"reverse"``: ``value_and_grad`` and ``Value.backward``;
    - ``"create_graph"``: the gradient from ``value_and_grad(f, create_graph=True)``, and up to ``order``
      the derivatives of those gradients (the Hessian at order 2, which must also be symmetric)
      against central differences of the derivative one order lower;
    - ``"jvp"``: ``jacobian(f, args, mode="forward")`` and one ``jvp`` along a fixed direction;
    - ``"compile"``: ``compile_graph`` of f's graph, forward and backward;
    - ``"batched"``: ``compile_batched`` of f's graph with every argument as an input (numpy).

    Every gradient must satisfy ``|analytic - numeric| <= atol + rtol * |numeric|`` (NaN matches
    NaN, an infinity the same infinity) and agree with the first mode checked within
    :data:`MODE_ATOL` and :data:`MODE_RTOL`.  The first failure raises AssertionError naming the
    mode, the input index and both numbers.  Returns the first checked mode's gradient.
    """
    chosen = _chosen_modes(modes)
    if not isinstance(order, int) or isinstance(order, bool) or order < 1:
        raise ValueError(f"check_grads(): order must be an int >= 1, got {order!r}")
    xs = _input_floats(args)
    if not xs:
        raise ValueError("check_grads(): args is empty; there is nothing to check")
    checker = _Checker(f, xs, eps=eps, atol=atol, rtol=rtol)
    run = {
        "reverse": checker.reverse,
        "create_graph": lambda: checker.create_graph(order),
        "jvp": checker.jvp,
        "compile": checker.compile,
        "batched": checker.batched,
    }
    for mode in chosen:
        run[mode]()
    return checker.baseline[2]


@contextlib.contextmanager
def _grads_kept(root: Value) -> Iterator[None]:
    """Put every ``.grad`` under ``root`` back afterwards: Values that f closes over (a model's
    parameters, say) belong to the caller, and a check must not leave gradients in them."""
    nodes = engine.topological_order(root, include_leaves=True)
    saved = [node.grad for node in nodes]
    try:
        yield
    finally:
        for node, grad in zip(nodes, saved):
            node.grad = grad


def _partial(f: Callable[..., Any], i: int) -> Callable[..., Any]:
    """d f / d args[i] as a function returning a Value with its own graph (so it differentiates again)."""
    derivative = engine.value_and_grad(f, i, create_graph=True)

    def partial(*args: Any) -> Any:
        return derivative(*args)[1]

    return partial


class _Checker:
    """One check_grads call: the point, the numeric reference and the first mode's gradient."""

    def __init__(self, f: Callable[..., Any], xs: list[float], *, eps: float, atol: float, rtol: float) -> None:
        self.f, self.xs, self.eps, self.atol, self.rtol = f, xs, eps, atol, rtol
        self.name = _name(f)
        self.inputs = [f"input {i}: x = {x!r}" for i, x in enumerate(xs)]
        with no_grad():
            self.value = _scalar(f(*[Value(x) for x in xs]), f)
        self.numeric = numerical_grad(f, xs, eps=eps)
        self.baseline: tuple[str, str, list[float]] = ("", "", [])  # the first mode checked: name, title, gradient

    def expect(self, mode: str, how: str, value: float, grads: Sequence[float]) -> None:
        """``mode``'s value and gradient (computed by ``how``) against central differences and the first mode."""
        grads = [float(g) for g in grads]
        title = f"mode {mode!r} ({how})"
        _assert_close(
            f"{title}: the gradient of {self.name} (value {self.value!r}) against central differences (eps={self.eps})",
            self.inputs, grads, self.numeric, ("analytic", "numeric"), atol=self.atol, rtol=self.rtol,
        )
        _assert_close(
            f"{title}: the value of {self.name} against eager evaluation",
            ["value"], [value], [self.value], (mode, "eager"), atol=MODE_ATOL, rtol=MODE_RTOL,
        )
        first, first_title, first_grads = self.baseline
        if not first:
            self.baseline = (mode, title, grads)
            return
        _assert_close(
            f"{title}: the gradient of {self.name} against {first_title}",
            self.inputs, grads, first_grads, (mode, first), atol=MODE_ATOL, rtol=MODE_RTOL,
        )

    def _graph(self) -> tuple[list[Value], Value]:
        """Fresh leaves and f's graph on them (recorded even inside an enclosing no_grad())."""
        leaves = [Value(x) for x in self.xs]
        with set_grad_mode(True):
            out = self.f(*leaves)
        return leaves, out if isinstance(out, Value) else Value(_scalar(out, self.f))

    def reverse(self) -> None:
        value, grads = engine.value_and_grad(self.f, tuple(range(len(self.xs))))(*self.xs)
        self.expect("reverse", "value_and_grad", value, grads)
        leaves, out = self._graph()
        with _grads_kept(out):
            out.backward()
            grads = [leaf.grad for leaf in leaves]
        self.expect("reverse", "Value.backward", out.data, grads)

    def jvp(self) -> None:
        (row,) = forward.jacobian(self.f, self.xs, mode="forward")
        direction = [(-1.0) ** i / (i + 1) for i in range(len(self.xs))]
        value, along = forward.jvp(self.f, self.xs, direction)
        self.expect("jvp", "jacobian(mode='forward')", value, row)
        numeric = math.fsum(n * v for n, v in zip(self.numeric, direction))
        first, first_title, first_grads = self.baseline
        expected = math.fsum(g * v for g, v in zip(first_grads, direction))
        label = [f"direction {direction}"]
        what = f"mode 'jvp' (jvp): the derivative of {self.name} along a direction"
        _assert_close(what, label, [along], [numeric], ("jvp", "numeric"), atol=self.atol, rtol=self.rtol)
        _assert_close(f"{what} against {first_title}", label, [along], [expected], ("jvp", first),
                      atol=MODE_ATOL, rtol=MODE_RTOL)

    def compile(self) -> None:
        leaves, out = self._graph()
        with _grads_kept(out):
            graph = compile_graph(out)
            value = graph.forward()
            graph.backward()
            grads = [leaf.grad for leaf in leaves]
        self.expect("compile", "compile_graph", value, grads)

    def batched(self) -> None:
        leaves, out = self._graph()
        with _grads_kept(out):
            graph = compile_batched(out, leaves)
            (value,) = graph.forward([self.xs]).tolist()
            (grads,) = graph.backward().tolist()
        self.expect("batched", "compile_batched", value, grads)

    def create_graph(self, order: int) -> None:
        n = len(self.xs)
        value, grads = engine.value_and_grad(self.f, tuple(range(n)), create_graph=True)(*self.xs)
        how = "value_and_grad(create_graph=True)"
        self.expect("create_graph", how, _scalar(value, self.f), [g.data for g in grads])
        prefixes: list[tuple[int, ...]] = [()]
        for _ in range(2, order + 1):
            rows = {path: row for prefix in prefixes for path, row in self._derivative_rows(prefix).items()}
            if not prefixes[0]:
                self._check_symmetric(rows)
            prefixes = list(rows)

    def _derivative_rows(self, prefix: tuple[int, ...]) -> dict[tuple[int, ...], list[float]]:
        """For every i, the gradient of d/dx_i D (D = d/dx_prefix f, all built with create_graph) against
        central differences of D's gradient; returns the rows by path ``prefix + (i,)``."""
        n, everything = len(self.xs), tuple(range(len(self.xs)))
        derivative = self.f
        for i in prefix:
            derivative = _partial(derivative, i)
        gradient = engine.value_and_grad(derivative, everything, create_graph=True)
        columns = []  # column j: d/dx_j of D's gradient by central differences, one shift for all i
        for j in range(n):
            plus, minus = list(self.xs), list(self.xs)
            plus[j] += self.eps
            minus[j] -= self.eps
            pairs = zip(gradient(*plus)[1], gradient(*minus)[1])
            columns.append([(p.data - m.data) / (2.0 * self.eps) for p, m in pairs])
        rows = {}
        for i in range(n):
            _, row = engine.value_and_grad(_partial(derivative, i), everything, create_graph=True)(*self.xs)
            subject = "".join(f"d/dx{k} " for k in reversed(prefix + (i,))) + self.name
            rows[prefix + (i,)] = [g.data for g in row]
            _assert_close(
                f"mode 'create_graph' (order {len(prefix) + 2}): the gradient of {subject} against central "
                f"differences (eps={self.eps})",
                self.inputs, rows[prefix + (i,)], [column[i] for column in columns], ("analytic", "numeric"),
                atol=self.atol, rtol=self.rtol,
            )
        return rows

    def _check_symmetric(self, rows: dict[tuple[int, ...], list[float]]) -> None:
        n = len(self.xs)
        pairs = [(i, j) for i in range(n) for j in range(i)]
        _assert_close(
            f"mode 'create_graph' (order 2): the Hessian of {self.name} is not symmetric",
            [f"entry ({i}, {j})" for i, j in pairs], [rows[(i,)][j] for i, j in pairs],
            [rows[(j,)][i] for i, j in pairs], ("H[i][j]", "H[j][i]"), atol=MODE_ATOL, rtol=MODE_RTOL,
        )


def gradcheck(
    f: Callable[..., Any],
    inputs: Sequence[Any],
    *,
    eps: float = EPS,
    atol: float = ATOL,
    rtol: float = RTOL,
    raise_exception: bool = True,
) -> bool:
    """PyTorch's spelling of ``check_grads(f, inputs, modes="reverse", order=1)``.

    Passes when |analytic - numeric| <= atol + rtol * |numeric| for every input (NaN matches
    only NaN, an infinity only the same infinity).  On a mismatch raises
    :class:`GradcheckError` naming the input index and both values, or returns False when
    ``raise_exception`` is False.
    """
    xs = _input_floats(inputs)
    if not xs:
        raise ValueError("gradcheck(): inputs is empty; there is nothing to check")
    try:
        check_grads(f, xs, modes="reverse", order=1, eps=eps, atol=atol, rtol=rtol)
    except AssertionError as error:
        if not raise_exception:
            return False
        raise GradcheckError(f"gradcheck failed: {error}") from None
    return True
