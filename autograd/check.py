"""Grade anyone's micrograd-style Value class against valuegrad's engine, op by op (`valuegrad check`)."""

from __future__ import annotations

import contextlib
import math
import random
import re
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterator, Sequence

from .value import Value as ReferenceValue

__all__ = ["OPS", "CheckReport", "Failure", "Finding", "OpResult", "OpSpec", "check_value_class"]

VALUE_RTOL = 1e-12
GRAD_RTOL = 1e-9
CALL_SECONDS = 5.0  # one expression of the user's class: beyond this it counts as hanging
MAGNITUDE = 1e4  # random graphs keep every node below this, so rounding cannot pile up into a false alarm
INPUT_NAMES = ("x", "y", "z")


def _anywhere(xs: Sequence[float], const: float | None) -> bool:
    return True


def _second_nonzero(xs: Sequence[float], const: float | None) -> bool:
    return abs(xs[1]) >= 0.1


def _first_positive(xs: Sequence[float], const: float | None) -> bool:
    return xs[0] >= 0.1


def _first_nonzero(xs: Sequence[float], const: float | None) -> bool:
    return abs(xs[0]) >= 0.1


def _positive_base_small_exponent(xs: Sequence[float], const: float | None) -> bool:
    return xs[0] >= 0.1 and abs(xs[1]) <= 4.0


def _int_power_domain(xs: Sequence[float], const: float | None) -> bool:
    return const is None or const >= 0 or abs(xs[0]) >= 0.1


def _off_the_kink(xs: Sequence[float], const: float | None) -> bool:
    return abs(xs[0]) >= 1e-3


def _moderate(xs: Sequence[float], const: float | None) -> bool:
    """Far from where any formula for exp, tanh or sigmoid overflows (large inputs are edge cases, not judged)."""
    return abs(xs[0]) <= 20.0


@dataclass(frozen=True)
class OpSpec:
    """One thing a micrograd-style class may support: ``a``, ``b`` are its Values, ``c``/``n``/``p`` Python numbers."""

    name: str  # as the report shows it: "a - b", "c - a", "a ** n", "tanh"
    operands: int  # how many Values it takes
    apply: Callable[[Sequence[Any], Any], Any]
    text: Callable[[Sequence[str], Any], str]  # the expression as source text
    constants: tuple[float, ...] = ()
    domain: Callable[[Sequence[float], float | None], bool] = _anywhere  # where random graphs may use it
    method: str = ""  # the dunder method or method a user writes for it (named in hints)
    kink: float | None = None  # input where the derivative is a convention (relu at 0)


def _method(name: str) -> OpSpec:
    domain = {"log": _first_positive, "relu": _off_the_kink, "tanh": _moderate, "sigmoid": _moderate}
    return OpSpec(name, 1, lambda v, c: getattr(v[0], name)(), lambda s, c: f"{s[0]}.{name}()", method=name,
                  domain=domain.get(name, _anywhere), kink=0.0 if name == "relu" else None)


_CS = (2.0, -0.5, 3.0)
OPS: tuple[OpSpec, ...] = (
    OpSpec("a + b", 2, lambda v, c: v[0] + v[1], lambda s, c: f"{s[0]} + {s[1]}", method="__add__"),
    OpSpec("a - b", 2, lambda v, c: v[0] - v[1], lambda s, c: f"{s[0]} - {s[1]}", method="__sub__"),
    OpSpec("a * b", 2, lambda v, c: v[0] * v[1], lambda s, c: f"{s[0]} * {s[1]}", method="__mul__"),
    OpSpec("a / b", 2, lambda v, c: v[0] / v[1], lambda s, c: f"{s[0]} / {s[1]}", (), _second_nonzero, "__truediv__"),
    OpSpec("a ** b", 2, lambda v, c: v[0] ** v[1], lambda s, c: f"{s[0]} ** {s[1]}", (),
           _positive_base_small_exponent, "__pow__"),
    OpSpec("a + c", 1, lambda v, c: v[0] + c, lambda s, c: f"{s[0]} + {c!r}", _CS, method="__add__"),
    OpSpec("a - c", 1, lambda v, c: v[0] - c, lambda s, c: f"{s[0]} - {c!r}", _CS, method="__sub__"),
    OpSpec("a * c", 1, lambda v, c: v[0] * c, lambda s, c: f"{s[0]} * {c!r}", _CS, method="__mul__"),
    OpSpec("a / c", 1, lambda v, c: v[0] / c, lambda s, c: f"{s[0]} / {c!r}", (2.0, -4.0, 0.5), method="__truediv__"),
    OpSpec("a ** n", 1, lambda v, c: v[0] ** int(c), lambda s, c: f"{s[0]} ** {int(c)}", (2, 3, -1),
           _int_power_domain, "__pow__"),
    OpSpec("a ** p", 1, lambda v, c: v[0] ** c, lambda s, c: f"{s[0]} ** {c!r}", (0.5, 1.5, -0.5, 2.5),
           _first_positive, "__pow__"),
    OpSpec("c + a", 1, lambda v, c: c + v[0], lambda s, c: f"{c!r} + {s[0]}", _CS, method="__radd__"),
    OpSpec("c - a", 1, lambda v, c: c - v[0], lambda s, c: f"{c!r} - {s[0]}", _CS, method="__rsub__"),
    OpSpec("c * a", 1, lambda v, c: c * v[0], lambda s, c: f"{c!r} * {s[0]}", _CS, method="__rmul__"),
    OpSpec("c / a", 1, lambda v, c: c / v[0], lambda s, c: f"{c!r} / {s[0]}", (1.0, -2.0, 0.5), _first_nonzero,
           "__rtruediv__"),
    OpSpec("c ** a", 1, lambda v, c: c ** v[0], lambda s, c: f"{c!r} ** {s[0]}", (2.0, 0.5, 3.0),
           _moderate, "__rpow__"),
    OpSpec("-a", 1, lambda v, c: -v[0], lambda s, c: f"-{s[0]}", method="__neg__"),
    *(_method(name) for name in ("relu", "tanh", "exp", "log", "sigmoid")),
)
"""Everything `check_value_class` tries, in report order (a hand list on purpose: it is the
micrograd protocol other people's classes follow, not valuegrad's rule table)."""
SPECS = {spec.name: spec for spec in OPS}
FORWARD_OF = {"c + a": "a + c", "c - a": "a - c", "c * a": "a * c", "c / a": "a / c"}
MISSING_ERRORS = (TypeError, AttributeError, NotImplementedError, AssertionError)

ORDINARY_1 = (0.7, -1.3, 2.5, 0.3)
ORDINARY_2 = ((1.5, -0.75), (-2.0, 3.0), (0.5, 2.5), (2.0, 0.4))
EDGES = (0.0, -2.5, 1e-8, 1000.0, -1000.0)
SHARED = (1.5, -1.3)


# -- expressions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """``OPS[op]`` applied to earlier nodes ``args`` (inputs first, then steps) with constant ``const``."""

    op: str
    args: tuple[int, ...]
    const: float | None = None


@dataclass(frozen=True)
class Expression:
    """A small DAG: input values, then steps; the last step is the output."""

    inputs: tuple[float, ...]
    steps: tuple[Step, ...]

    def uses(self) -> dict[int, int]:
        """How many steps reachable from the output read each node."""
        count: dict[int, int] = {}
        seen: set[int] = set()
        stack = [len(self.inputs) + len(self.steps) - 1]
        while stack:
            node = stack.pop()
            if node in seen or node < len(self.inputs):
                continue
            seen.add(node)
            for arg in self.steps[node - len(self.inputs)].args:
                count[arg] = count.get(arg, 0) + 1
                stack.append(arg)
        return count

    def source(self) -> str:
        """Python text: nodes used twice get a name (t1, t2, ...), the rest is inlined."""
        uses = self.uses()
        lines: list[str] = []
        texts = list(INPUT_NAMES[: len(self.inputs)])
        for index, step in enumerate(self.steps, start=len(self.inputs)):
            spec = SPECS[step.op]
            args = [texts[a] if a < len(self.inputs) or uses.get(a, 0) > 1 else f"({texts[a]})" for a in step.args]
            text = spec.text(args, step.const)
            if uses.get(index, 0) > 1:
                name = f"t{len(lines) + 1}"
                lines.append(f"{name} = {text}")
                text = name
            texts.append(text)
        return "; ".join([*lines, f"out = {texts[-1]}"])

    def pruned(self) -> Expression:
        """The same output without the inputs and steps it never reads, renumbered."""
        count = len(self.inputs)
        keep = sorted({*self.uses(), count + len(self.steps) - 1})
        index = {old: new for new, old in enumerate(keep)}
        steps = [self.steps[node - count] for node in keep if node >= count]
        return Expression(tuple(self.inputs[node] for node in keep if node < count),
                          tuple(Step(step.op, tuple(index[a] for a in step.args), step.const) for step in steps))

    def inputs_by_name(self) -> dict[str, float]:
        return dict(zip(INPUT_NAMES, self.inputs))


@dataclass(frozen=True)
class Outcome:
    """What one backward pass gave: the output's value, each input's gradient, every node's value."""

    value: float
    grads: tuple[float, ...]
    nodes: tuple[float, ...] = ()

    def finite(self) -> bool:
        return all(math.isfinite(x) for x in (self.value, *self.grads, *self.nodes))


@dataclass(frozen=True)
class Raised:
    """The user's class raised (or hung) on an expression."""

    error: str  # "ZeroDivisionError: float division by zero"
    kind: type

    def __str__(self) -> str:
        return f"raised {self.error}"


class _TimeUp(BaseException):
    """Raised by the alarm inside a user's call (a BaseException: a bare `except Exception` cannot swallow it)."""


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the block after ``seconds`` where SIGALRM exists, in the main thread, when no other timer runs."""
    if (not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread()
            or signal.getitimer(signal.ITIMER_REAL)[0] > 0):  # never cancel a timer the caller has set
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise _TimeUp(f"no answer within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _real(number: Any, what: str) -> float:
    if isinstance(number, complex):
        raise TypeError(f"{what} is the complex number {number!r}")
    return float(number)


def _build(make: Callable[[float], Any], expr: Expression, *, untie: str = "") -> tuple[Any, list[list[Any]], list]:
    """The output, the leaf objects of each input (several when untied: one per use) and every node.

    ``untie="all"``: every use of a node gets its own copy (the expression as a tree);
    ``untie="interior"``: the same, except that each input stays one leaf.
    """
    leaves: list[list[Any]] = [[] for _ in expr.inputs]
    if untie:
        def copy(index: int) -> Any:
            if index < len(expr.inputs):
                if untie == "all" or not leaves[index]:
                    leaves[index].append(make(expr.inputs[index]))
                return leaves[index][-1]
            step = expr.steps[index - len(expr.inputs)]
            return SPECS[step.op].apply([copy(a) for a in step.args], step.const)

        root = copy(len(expr.inputs) + len(expr.steps) - 1)
        return root, leaves, []
    nodes = [make(x) for x in expr.inputs]
    for index, leaf in enumerate(nodes):
        leaves[index].append(leaf)
    for step in expr.steps:
        nodes.append(SPECS[step.op].apply([nodes[a] for a in step.args], step.const))
    return nodes[-1], leaves, nodes


def run_expression(make: Callable[[float], Any], expr: Expression, *, untie: str = "") -> Outcome | Raised:
    """Build ``expr`` from ``make(x)`` leaves, call the output's backward(), read value and gradients."""
    try:
        with _time_limit(CALL_SECONDS):
            root, leaves, nodes = _build(make, expr, untie=untie)
            root.backward()
            value = _real(root.data, "the output's .data")
            grads = tuple(sum(_real(leaf.grad, f"d/d{INPUT_NAMES[i]}") for leaf in copies) if copies else 0.0
                          for i, copies in enumerate(leaves))
            datas = tuple(_real(node.data, "a node's .data") for node in nodes)
    except _TimeUp as exc:
        return Raised(f"TimeoutError: {exc}", TimeoutError)
    except Exception as exc:  # the class under test is anyone's code: every failure is a finding
        return Raised(f"{type(exc).__name__}: {exc}"[:300], type(exc))
    return Outcome(value, grads, datas)


def reference(expr: Expression) -> Outcome | Raised:
    """The same expression on valuegrad's own Value."""
    return run_expression(ReferenceValue, expr)


def _close(got: float, expected: float, rtol: float, scale: float) -> bool:
    if math.isnan(expected) or math.isnan(got):
        return math.isnan(expected) and math.isnan(got)
    if math.isinf(expected) or math.isinf(got):
        return got == expected
    return abs(got - expected) <= rtol * max(1.0, abs(expected), scale)


def differences(expected: Outcome, got: Outcome | Raised) -> list[str]:
    """The quantities that disagree: "value", "d/dx", ... (all of them when the class raised)."""
    names = ["value", *(f"d/d{INPUT_NAMES[i]}" for i in range(len(expected.grads)))]
    if isinstance(got, Raised):
        return names
    scale = max((abs(x) for x in expected.nodes if math.isfinite(x)), default=1.0)
    grad_scale = max((abs(g) for g in expected.grads if math.isfinite(g)), default=1.0)
    wrong = [] if _close(got.value, expected.value, VALUE_RTOL, scale) else ["value"]
    for i, (g, e) in enumerate(zip(got.grads, expected.grads)):
        if not _close(g, e, GRAD_RTOL, max(scale, grad_scale)):
            wrong.append(f"d/d{INPUT_NAMES[i]}")
    return wrong


def usable(expr: Expression, expected: Outcome | Raised) -> bool:
    """Whether a random expression stays where every op is smooth and finite (the search skips the rest)."""
    if isinstance(expected, Raised) or not expected.finite():
        return False
    if any(abs(x) > MAGNITUDE for x in (*expected.nodes, *expected.grads)):
        return False
    return all(SPECS[step.op].domain([expected.nodes[a] for a in step.args], step.const) for step in expr.steps)


def _quantities(outcome: Outcome | Raised, inputs: int) -> dict[str, Any]:
    if isinstance(outcome, Raised):
        return {"raised": outcome.error}
    return {"value": outcome.value, **{f"d/d{INPUT_NAMES[i]}": g for i, g in enumerate(outcome.grads[:inputs])}}


# -- the report --------------------------------------------------------------------------------


@dataclass
class OpResult:
    """One row of the table: ``status`` is correct, wrong, missing, raised or limited."""

    op: str
    status: str
    detail: str = ""
    hint: str = ""


@dataclass
class Failure:
    """A wrong answer: the smallest expression found, its inputs, expected vs got, and the likely mistake."""

    op: str
    found_by: str  # "alone", "node used twice", "edge inputs", "after another op", "over a + b, tanh", ...
    expression: str
    inputs: dict[str, float]
    expected: dict[str, Any]
    got: dict[str, Any]
    wrong: list[str]  # which of value, d/dx, ... disagree
    hint: str


@dataclass
class Finding:
    """A limitation (deep chains, exponential backward) or a convention (second backward, overflow)."""

    topic: str
    message: str
    hint: str = ""


@dataclass
class CheckReport:
    """What `check_value_class` found; ``str(report)`` is the printed report, ``to_dict()`` the JSON."""

    target: str
    seed: int
    examples: int
    ops: list[OpResult] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    limitations: list[Finding] = field(default_factory=list)
    conventions: list[Finding] = field(default_factory=list)
    random_graphs: int = 0  # random expressions checked (inside the safe domain)
    seconds: float = 0.0

    def status(self, op: str) -> str:
        return next((row.status for row in self.ops if row.op == op), "not checked")

    def supported(self) -> list[str]:
        return [row.op for row in self.ops if row.status not in ("missing", "not checked")]

    @property
    def ok(self) -> bool:
        """True when every supported op (and backward over shared nodes) gave the engine's numbers."""
        return not self.failures and all(row.status not in ("wrong", "raised") for row in self.ops)

    def exit_code(self, *, strict: bool = False) -> int:
        """0 all correct, 1 something wrong (with ``strict``, a limitation counts too)."""
        return 0 if self.ok and not (strict and self.limitations) else 1

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (inf and nan as the strings "inf", "-inf", "nan")."""
        return _json_safe({**asdict(self), "ok": self.ok})

    def __str__(self) -> str:
        return format_report(self)


def _json_safe(data: Any) -> Any:
    if isinstance(data, float) and not math.isfinite(data):
        return str(data)
    if isinstance(data, dict):
        return {key: _json_safe(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_json_safe(value) for value in data]
    return data


def format_report(report: CheckReport) -> str:
    """The printed report: the table, then each failure, limitation and convention with its hint."""
    verdict = "every supported op is correct" if report.ok else "SOMETHING IS WRONG"
    lines = [f"valuegrad check {report.target}: {verdict} "
             f"(seed {report.seed}, {report.random_graphs} random graphs, {report.seconds:.1f} s)", ""]
    width = max(len(row.op) for row in report.ops) if report.ops else 10
    lines.append(f"  {'op':<{width}}  {'status':<8}  notes")
    for row in report.ops:
        lines.append(f"  {row.op:<{width}}  {row.status:<8}  {row.detail}".rstrip())
    for failure in report.failures:
        lines += ["", f"WRONG {failure.op} ({failure.found_by}): {failure.expression}",
                  "  inputs: " + ", ".join(f"{k} = {v!r}" for k, v in failure.inputs.items())]
        for name in [*failure.expected, *(k for k in failure.got if k not in failure.expected)]:
            mark = "   <- wrong" if name in failure.wrong else ""
            lines.append(f"  {name:>6}: expected {failure.expected.get(name, '-')!r}, "
                         f"got {failure.got.get(name, '-')!r}{mark}")
        lines.append(f"  hint: {failure.hint}")
    for title, findings in (("Limitations", report.limitations), ("Conventions (reported, not judged)",
                                                                     report.conventions)):
        if findings:
            lines += ["", f"{title}:"]
            for finding in findings:
                lines.append(f"  - {finding.topic}: {finding.message}")
                if finding.hint:
                    lines.append(f"    hint: {finding.hint}")
    return "\n".join(lines)


# -- hints: the classic mistakes and the patterns they leave ----------------------------------

HINT_ACCUMULATE = ("a node used twice gets one contribution instead of their sum: `=` where `+=` belongs in "
                   "`_backward` (self.grad += ..., other.grad += ...)")
HINT_CHAIN = ("the local derivative is not multiplied by `out.grad` in `_backward` (chain rule): right only "
              "when the op is the output")
HINT_VISITED = ("the topological sort lists a shared node once per path, so its `_backward` runs several times: "
                "keep a `visited` set in `build_topo`")
HINT_POW = "`n * x**n` where `n * x**(n-1)` belongs in the derivative of `**` (`__pow__`'s `_backward`)"
HINT_SECOND_BACKWARD = ("interior nodes keep their .grad between backward() calls, so a second backward() adds the "
                        "first one's interior gradients again (micrograd does this): zero every node's grad, or "
                        "build the graph anew, before calling backward() again")
HINT_RECURSION = ("recursive `build_topo` in backward(): a chain deeper than the recursion limit "
                  f"(sys.getrecursionlimit() = {sys.getrecursionlimit()}) raises RecursionError; walk the graph "
                  "with an explicit stack")
HINT_EXPONENTIAL = ("backward() time doubles with every diamond: the topological sort has no `visited` set, so it "
                    "walks every path")
OVERFLOW_HINTS = {
    "tanh": "tanh written as (e^2x - 1)/(e^2x + 1) overflows for x > 354: use math.tanh(x)",
    "exp": "math.exp raises OverflowError above x = 709.78 where valuegrad gives inf",
    "sigmoid": "1/(1 + e^-x) overflows for x < -709: use e^x/(1 + e^x) when x < 0 (or 0.5*(1 + tanh(x/2)))",
}
SIGN_HINTS = {
    "a - b": "sign flipped in the derivative of `-`: d(a - b)/db = -1 (other.grad -= out.grad, or write "
             "__sub__ as self + (-other))",
    "a - c": "sign flipped in the derivative of `-` (`__sub__`): d(a - c)/da = +1",
    "-a": "sign flipped in the derivative of unary `-` (`__neg__`): d(-a)/da = -1 (or write it as self * -1)",
    "c - a": "sign flipped in the derivative of `__rsub__`: d(c - a)/da = -1 (write it as other + (-self))",
}
SWAPPED = {  # reflected op -> (what a swapped version computes, hint)
    "c - a": (lambda x, c: x - c, "`__rsub__` computes a - c: for `c - a` Python calls a.__rsub__(c), which "
                                  "must return other - self, e.g. other + (-self)"),
    "c / a": (lambda x, c: x / c, "`__rtruediv__` computes a / c: for `c / a` it must return other / self, "
                                  "e.g. other * self**-1"),
    "c ** a": (lambda x, c: x**c, "`__rpow__` computes a ** c: for `c ** a` it must return other ** self"),
}


def _missing_hint(spec: OpSpec, supported: set[str], detail: str) -> str:
    """For a reflected op whose forward form works: what to define (or which missing op it leans on)."""
    forward = FORWARD_OF.get(spec.name)
    if forward is None or forward not in supported:
        return ""
    used = re.search(r"unsupported operand type\(s\) for (\S+?):", detail)
    if used and used[1] != spec.name.split()[1]:
        return f"`{forward}` works but `{spec.name}` does not: `{spec.method}` uses `c {used[1]} a`, which is missing"
    extra = " (sum() starts from 0, so sum(values) needs it)" if spec.name == "c + a" else ""
    return f"`{forward}` works but `{spec.name}` does not: define `{spec.method}`{extra}"


def _case_hint(spec: OpSpec, found_by: str, expr: Expression, expected: Outcome, got: Outcome | Raised,
               wrong: list[str], make: Callable[[float], Any]) -> str:
    """The classic mistake that leaves this pattern of wrong numbers."""
    if isinstance(got, Raised):
        return f"`{spec.name}` raises where valuegrad gives finite numbers: {got.error}"
    if found_by == "node used twice":
        untied = run_expression(make, expr, untie="all")
        if not differences(expected, untied):
            return HINT_ACCUMULATE
    if found_by == "after another op" and "value" not in wrong:
        return HINT_CHAIN
    if "value" in wrong:
        swapped = SWAPPED.get(spec.name)
        if swapped and math.isclose(got.value, swapped[0](expr.inputs[0], expr.steps[0].const), rel_tol=1e-9):
            return swapped[1]
        return f"the forward value of `{spec.name}` (`{spec.method}`) is wrong"
    indices = [INPUT_NAMES.index(name[3:]) for name in wrong]
    if all(math.isclose(got.grads[i], -expected.grads[i], rel_tol=1e-9) for i in indices):
        return SIGN_HINTS.get(spec.name, f"sign flipped in the derivative of `{spec.name}` (`{spec.method}`)")
    if spec.name in ("a ** n", "a ** p"):
        x, n = expr.inputs[0], float(expr.steps[0].const or 0.0)
        if math.isclose(got.grads[0], n * x**n, rel_tol=1e-9):
            return HINT_POW
        return f"the derivative of `**` is n * x**(n-1) * out.grad; here {got.grads[0]!r} for n = {n:g}"
    return (f"the derivative in `{spec.method}`'s `_backward` is wrong (if `{spec.method}` is built from other ops, "
            "e.g. self * other**-1, fix those first)")


# -- each op alone -----------------------------------------------------------------------------


def _one_step(spec: OpSpec, inputs: tuple[float, ...], const: float | None, args: tuple[int, ...] = ()) -> Expression:
    return Expression(inputs, (Step(spec.name, args or tuple(range(len(inputs))), const),))


def op_cases(spec: OpSpec, *, chain: bool) -> list[tuple[str, Expression]]:
    """(how, expression) pairs checking ``spec``: ordinary inputs, a node used twice, edge inputs, then
    (with ``chain``) the op feeding a ``* 2.5`` so that its ``out.grad`` is not 1."""
    consts = spec.constants or (None,)
    ordinary = [(x,) for x in ORDINARY_1] if spec.operands == 1 else list(ORDINARY_2)
    cases = [("alone", _one_step(spec, xs, c)) for xs in ordinary for c in consts if spec.domain(xs, c)]
    if spec.operands == 2:
        cases += [("node used twice", _one_step(spec, (x,), None, (0, 0))) for x in SHARED if spec.domain((x, x), None)]
    edges = [(x,) for x in EDGES] if spec.operands == 1 else [p for x in EDGES for p in ((x, 1.5), (1.5, x))]
    cases += [("edge inputs", _one_step(spec, xs, c)) for xs in edges for c in consts]
    if chain and cases:
        first = cases[0][1]
        cases.append(("after another op", Expression(first.inputs, (*first.steps, Step("a * c", (len(first.inputs),),
                                                                                         2.5)))))
    return cases


def _discover(make: Callable[[float], Any], spec: OpSpec) -> OpResult | None:
    """None when the op can be applied; else a missing (or raised) row with the exception."""
    expr = op_cases(spec, chain=False)[0][1]
    try:
        with _time_limit(CALL_SECONDS):
            nodes = [make(x) for x in expr.inputs]
            step = expr.steps[0]
            spec.apply([nodes[a] for a in step.args], step.const)
    except _TimeUp:
        return OpResult(spec.name, "raised", f"no answer within {CALL_SECONDS:g} s")
    except MISSING_ERRORS as exc:
        return OpResult(spec.name, "missing", f"{type(exc).__name__}: {exc}"[:120])
    except Exception as exc:  # anyone's code: any other exception is reported as such
        return OpResult(spec.name, "raised", f"{type(exc).__name__}: {exc}"[:120])
    return None


def _describe(outcome: Outcome | Raised) -> str:
    if isinstance(outcome, Raised):
        return f"raises {outcome.error}"
    grads = ", ".join(f"d/d{INPUT_NAMES[i]} = {g!r}" for i, g in enumerate(outcome.grads))
    return f"gives {outcome.value!r} ({grads})"


def _convention(spec: OpSpec, expr: Expression, expected: Outcome | Raised, got: Outcome | Raised) -> Finding:
    inputs = ", ".join(f"{k} = {v!r}" for k, v in expr.inputs_by_name().items())
    message = f"{expr.source()} at {inputs} {_describe(got)}; valuegrad {_describe(expected)}"
    if isinstance(got, Raised) and got.kind is OverflowError:
        return Finding(f"large inputs ({spec.name})", message, OVERFLOW_HINTS.get(spec.name, ""))
    if spec.kink is not None:
        return Finding(f"derivative at the kink ({spec.name})", message)
    return Finding(f"outside the domain ({spec.name})", message)


def _judge(make: Callable[[float], Any], spec: OpSpec, expr: Expression) -> tuple[str, Outcome | Raised, Outcome |
                                                                                     Raised, list[str]]:
    """("ok" | "wrong" | "raised" | "convention", expected, got, what differs)."""
    expected, got = reference(expr), run_expression(make, expr)
    if isinstance(expected, Raised) or not expected.finite():  # inf/nan in valuegrad: Python floats may raise
        same = not isinstance(got, Raised) and not isinstance(expected, Raised) and not differences(expected, got)
        return ("ok" if same else "convention"), expected, got, []
    wrong = differences(expected, got)
    if not wrong:
        return "ok", expected, got, []
    if isinstance(got, Raised):
        return ("convention" if got.kind is OverflowError else "raised"), expected, got, wrong
    at_kink = spec.kink is not None and expr.inputs[0] == spec.kink and "value" not in wrong
    return ("convention" if at_kink else "wrong"), expected, got, wrong


def check_op(make: Callable[[float], Any], spec: OpSpec, *, chain: bool) -> tuple[OpResult, Failure | None,
                                                                                   list[Finding]]:
    """Every case of ``spec`` against the engine: the row, the first failure and the conventions seen."""
    conventions: dict[str, Finding] = {}
    cases = op_cases(spec, chain=chain)
    for found_by, expr in cases:
        verdict, expected, got, wrong = _judge(make, spec, expr)
        if verdict == "convention":
            finding = _convention(spec, expr, expected, got)
            conventions.setdefault(finding.topic + str(getattr(got, "kind", "")), finding)
        elif verdict != "ok":
            assert isinstance(expected, Outcome)
            hint = _case_hint(spec, found_by, expr, expected, got, wrong, make)
            failure = Failure(spec.name, found_by, expr.source(), expr.inputs_by_name(),
                              _quantities(expected, len(expr.inputs)), _quantities(got, len(expr.inputs)), wrong, hint)
            detail = f"{found_by}: {expr.source()}" + (f" {got}" if isinstance(got, Raised) else "")
            return OpResult(spec.name, verdict, detail, hint), failure, list(conventions.values())
    return OpResult(spec.name, "correct", f"{len(cases)} cases"), None, list(conventions.values())


# -- graphs: shared nodes, deep chains, random expressions ------------------------------------

LADDER_DEPTH = 22
SHRINK_SECONDS = 5.0  # shrinking a failure stops after this (a class with an exponential backward is slow)
MAX_DEPTH = 100_000


def ladder(depth: int) -> Expression:
    """x, then ``depth`` diamonds t = (t * 0.5) + (t * 0.5): every level's node is used twice; d out/dx = 1."""
    steps: list[Step] = []
    for level in range(depth):
        top = 0 if level == 0 else len(steps)  # node index of the previous level's sum (input 0 first)
        halves = (len(steps) + 1, len(steps) + 2)  # node indices of the two products about to be added
        steps += [Step("a * c", (top,), 0.5), Step("a * c", (top,), 0.5), Step("a + b", halves)]
    return Expression((1.5,), tuple(steps))


def check_ladder(make: Callable[[float], Any]) -> tuple[OpResult, Failure | None, Finding | None]:
    """Diamonds stacked ``LADDER_DEPTH`` high: wrong gradients, and backward time that doubles per level."""
    failure, slow = None, None
    for depth in range(1, LADDER_DEPTH + 1):
        expr = ladder(depth)
        started = time.perf_counter()
        got = run_expression(make, expr)
        seconds = time.perf_counter() - started
        expected = reference(expr)
        assert isinstance(expected, Outcome)
        wrong = differences(expected, got)
        if wrong and failure is None:
            too_big = isinstance(got, Outcome) and abs(got.grads[0]) > abs(expected.grads[0])
            where = f"a ladder of {depth} diamond{'s' * (depth > 1)}"
            failure = Failure("backward: shared nodes", where, expr.source(), expr.inputs_by_name(),
                              _quantities(expected, 1), _quantities(got, 1), wrong,
                              HINT_VISITED if too_big else HINT_ACCUMULATE)
        if seconds > 0.3 or isinstance(got, Raised):
            slow = Finding("shared nodes", f"backward() on a ladder of {depth} diamonds ({len(expr.steps)} nodes) "
                           f"took {seconds:.2f} s" + (f" and {got}" if isinstance(got, Raised) else ""),
                           HINT_EXPONENTIAL if depth < LADDER_DEPTH else "")
            break
    if failure is not None:
        return OpResult("backward: shared nodes", "wrong", failure.found_by, failure.hint), failure, slow
    status = "limited" if slow else "correct"
    return OpResult("backward: shared nodes", status, slow.message if slow else
                    f"ladders of 1..{LADDER_DEPTH} diamonds"), None, slow


def _chain_fails(make: Callable[[float], Any], spec: OpSpec, depth: int, seconds: float) -> Raised | None:
    try:
        with _time_limit(seconds):
            x = make(0.5)
            for _ in range(depth):
                x = spec.apply([x], 1.0)
            x.backward()
    except _TimeUp:
        return Raised(f"TimeoutError: no answer within {seconds:.3g} s", TimeoutError)
    except Exception as exc:  # RecursionError is the expected one; anything else is reported as it is
        return Raised(f"{type(exc).__name__}: {exc}"[:200], type(exc))
    return None


def check_deep_chain(make: Callable[[float], Any], spec: OpSpec, deadline: float) -> tuple[OpResult, Finding | None]:
    """The depth of ``x op 1.0`` chain where backward() first fails (bisected), up to ``MAX_DEPTH``."""
    def budget() -> float:
        return max(0.05, min(2 * CALL_SECONDS, deadline - time.monotonic()))

    lo, hi, error = 0, None, None
    for depth in (100, 300, 1000, 3000, 10_000, 30_000, MAX_DEPTH):
        error = _chain_fails(make, spec, depth, budget())
        if error is not None:
            hi = depth
            break
        lo = depth
    if hi is None:
        return OpResult("backward: deep chains", "correct", f"{MAX_DEPTH} nodes of `{spec.name}`"), None
    while hi - lo > 1 and time.monotonic() < deadline and error is not None and error.kind is RecursionError:
        middle = (lo + hi) // 2
        failed = _chain_fails(make, spec, middle, budget())
        if failed is None:
            lo = middle
        else:
            hi, error = middle, failed
    assert error is not None
    message = f"backward() on a chain of {hi} `{spec.name}` nodes {error} (deepest that worked: {lo})"
    hint = HINT_RECURSION if error.kind is RecursionError else ""
    return OpResult("backward: deep chains", "limited", f"fails at depth {hi}: {error.error}"[:100], hint), \
        Finding("deep chains", message, hint)


def _expression_strategy(specs: Sequence[OpSpec]) -> Any:
    from hypothesis import strategies as st

    max_inputs, max_steps = 3, 8
    # Plain numbers first: a shrunk example reads x = 1.5 rather than x = 5.95e-273.
    leaf = st.sampled_from((1.5, -0.5, 2.0, -1.25, 0.75, 3.0)) | st.floats(-3.0, 3.0, allow_nan=False)
    # Built once: hypothesis re-validates a strategy made inside a draw every time, which dominates the run.
    # An argument is mostly one of the three newest nodes: chains, and nodes read by two later steps (diamonds).
    node = [st.sampled_from(range(last, max(-1, last - 3), -1)) | st.integers(0, last)
            for last in range(max_inputs + max_steps)]
    constant = {spec.name: st.sampled_from(spec.constants) for spec in specs if spec.constants}
    ops, counts, lengths = st.sampled_from(specs), st.integers(1, max_inputs), st.integers(1, max_steps)

    @st.composite
    def expressions(draw: Any) -> Expression:
        count = draw(counts)
        inputs = tuple(draw(leaf) for _ in range(count))
        steps = []
        for i in range(draw(lengths)):
            spec = draw(ops)
            args = tuple(draw(node[count + i - 1]) for _ in range(spec.operands))
            const = draw(constant[spec.name]) if spec.constants else None
            steps.append(Step(spec.name, args, const))
        return Expression(inputs, tuple(steps))

    return expressions()


def _graph_hint(make: Callable[[float], Any], expr: Expression, expected: Outcome, got: Outcome | Raised,
                wrong: list[str]) -> str:
    if isinstance(got, Raised):
        return f"raises on a graph where every op alone works: {got.error}"
    if not differences(expected, run_expression(make, expr, untie="all")):  # right as a tree: sharing is the bug
        if differences(expected, run_expression(make, expr, untie="interior")):
            return HINT_ACCUMULATE  # shared leaves alone break it: a repeated visit of a leaf would do no harm
        indices = [INPUT_NAMES.index(name[3:]) for name in wrong if name != "value"]
        if indices and all(abs(got.grads[i]) > abs(expected.grads[i]) for i in indices):
            return HINT_VISITED
        return HINT_ACCUMULATE
    return ("every op in it is correct alone; together they differ: check that backward() calls each node's "
            "`_backward` once, output first, in topological order")


def search_random_graphs(make: Callable[[float], Any], specs: Sequence[OpSpec], *, examples: int, seed: int,
                         deadline: float) -> tuple[Failure | None, int]:
    """Random DAGs over ``specs`` (nodes used twice, diamonds); the smallest failing one hypothesis shrinks to."""
    try:
        from hypothesis import HealthCheck, Phase, find, settings
        from hypothesis.errors import Flaky, NoSuchExample
    except ImportError as error:
        raise ImportError("check_value_class needs hypothesis: pip install hypothesis "
                          "(or pip install 'valuegrad[dev]')") from error
    checked = 0
    smallest: list[Expression] = []  # the simplest failing graph seen, in case replaying it is flaky

    stop = [deadline]  # moved closer once a failure is found: shrinking gets SHRINK_SECONDS

    def fails(expr: Expression) -> bool:
        nonlocal checked
        if time.monotonic() > stop[0]:
            return False
        expected = reference(expr)
        if not usable(expr, expected):
            return False
        checked += 1
        failed = bool(differences(expected, run_expression(make, expr)))  # type: ignore[arg-type]
        if failed and (not smallest or _size(expr) < _size(smallest[0])):
            stop[0] = min(stop[0], time.monotonic() + SHRINK_SECONDS) if not smallest else stop[0]
            smallest[:] = [expr]
        return failed

    config = settings(max_examples=examples, database=None, deadline=None, derandomize=False, print_blob=False,
                      suppress_health_check=list(HealthCheck), phases=(Phase.generate, Phase.shrink))
    flaky = ""
    try:
        found = find(_expression_strategy(specs), fails, settings=config, random=random.Random(seed))
    except NoSuchExample:
        return None, checked
    except Flaky:  # out of time while shrinking, or the class answered the same graph differently (set order)
        found = smallest[0]
    found = found.pruned()
    expected = reference(found)
    assert isinstance(expected, Outcome)
    for _ in range(5):  # a class whose answer depends on set order may need a few runs to fail again
        got = run_expression(make, found)
        wrong = differences(expected, got)
        if wrong:
            break
    else:
        flaky = (" (it failed once, then gave the right numbers on five reruns: the answer changes from run to run,"
                 " e.g. with the order of a set of children)")
    ops = sorted({step.op for step in found.steps}, key=list(SPECS).index)
    return Failure("random graphs", "over " + ", ".join(ops), found.source(), found.inputs_by_name(),
                   _quantities(expected, len(found.inputs)), _quantities(got, len(found.inputs)), wrong,
                   _graph_hint(make, found, expected, got, wrong) + flaky), checked


def _size(expr: Expression) -> tuple:
    """Smaller is simpler: fewer steps, fewer inputs, then smaller numbers."""
    return len(expr.steps), len(expr.inputs), sum(abs(x) for x in expr.inputs)


# -- conventions and the whole check -----------------------------------------------------------


def _two_backwards(make: Callable[[float], Any], build: Callable[[Any, Any], Any]) -> tuple[list[float], list[float]]:
    with _time_limit(CALL_SECONDS):
        x, y = make(1.5), make(-0.75)
        out = build(x, y)
        out.backward()
        first = [_real(x.grad, "x.grad"), _real(y.grad, "y.grad")]
        out.backward()
        return first, [_real(x.grad, "x.grad"), _real(y.grad, "y.grad")]


def backward_conventions(make: Callable[[float], Any]) -> list[Finding]:
    """Leaf accumulation across backward() calls and what a second backward() gives (reported, not judged)."""
    findings = []
    try:
        first, second = _two_backwards(make, lambda x, y: x * y)
        if second == [2 * g for g in first]:
            text = "leaf gradients accumulate across backward() calls (like PyTorch): zero them between steps"
        elif second == first:
            text = "each backward() call sets the leaf gradients afresh (they do not accumulate)"
        else:
            text = f"out = x * y: backward() twice gives {second}, after {first} once"
        findings.append(Finding("leaf accumulation", text))
        first, second = _two_backwards(make, lambda x, y: x * y + x)
        if second == [2 * g for g in first]:
            findings.append(Finding("second backward", "out = x * y + x: a second backward() gives twice the first"))
        else:
            findings.append(Finding("second backward", f"out = x * y + x: a second backward() gives [d/dx, d/dy] = "
                                    f"{second}, not twice the first {[2 * g for g in first]}", HINT_SECOND_BACKWARD))
    except _TimeUp:
        findings.append(Finding("second backward", f"backward() twice took more than {CALL_SECONDS:g} s"))
    except Exception as exc:  # anyone's code
        findings.append(Finding("second backward", f"backward() twice raised {type(exc).__name__}: {exc}"))
    return findings


def _check_protocol(make: Callable[[float], Any]) -> OpResult:
    """Construct, read .data and .grad, call backward() on a leaf."""
    try:
        with _time_limit(CALL_SECONDS):
            leaf = make(1.5)
            data, grad = leaf.data, leaf.grad
            leaf.backward()
            after = leaf.grad
    except _TimeUp:
        return OpResult("Value(x)", "raised", f"no answer within {CALL_SECONDS:g} s")
    except Exception as exc:  # anyone's code
        return OpResult("Value(x)", "raised", f"Value(1.5), .data, .grad, .backward(): {type(exc).__name__}: {exc}")
    if data != 1.5 or grad != 0:
        return OpResult("Value(x)", "wrong", f"Value(1.5) has .data = {data!r}, .grad = {grad!r} (expected 1.5, 0)")
    return OpResult("Value(x)", "correct", f".data, .grad = 0, leaf.backward() sets .grad = {after!r}")


def _target_name(cls: Any) -> str:
    return f"{getattr(cls, '__module__', '?')}:{getattr(cls, '__qualname__', repr(cls))}"


def _check_every_op(cls: Any, report: CheckReport) -> None:
    missing = {}
    for spec in OPS:
        row = _discover(cls, spec)
        if row is not None:
            missing[spec.name] = row
    supported = {spec.name for spec in OPS if spec.name not in missing}
    chain_spec = SPECS["a * c"]
    rows: dict[str, OpResult] = dict(missing)
    if "a * c" in supported:  # its chained case multiplies by itself: the outer * sees out.grad = 1 either way
        rows["a * c"], failure, conventions = check_op(cls, chain_spec, chain=True)
        report.failures += [failure] if failure else []
        report.conventions += conventions
    chain = rows.get("a * c", OpResult("", "")).status == "correct"
    for spec in OPS:
        if spec.name in supported and spec.name not in rows:
            rows[spec.name], failure, conventions = check_op(cls, spec, chain=chain)
            report.failures += [failure] if failure else []
            report.conventions += conventions
    for name, row in missing.items():
        row.hint = _missing_hint(SPECS[name], supported, row.detail)
        if row.hint:
            report.limitations.append(Finding(f"missing `{name}`", row.detail, row.hint))
    report.ops += [rows[spec.name] for spec in OPS]


def _check_graphs(cls: Any, report: CheckReport, deadline: float) -> None:
    correct = [spec for spec in OPS if report.status(spec.name) == "correct"]
    if report.status("a * c") == "correct" and report.status("a + b") == "correct":
        row, failure, finding = check_ladder(cls)
        report.ops.append(row)
        report.failures += [failure] if failure else []
        report.limitations += [finding] if finding else []
        report.conventions += backward_conventions(cls)
    chain = next((spec for spec in correct if spec.name in ("a + c", "a * c", "c + a", "-a")), None)
    if chain is not None:
        share = time.monotonic() + 0.2 * (deadline - time.monotonic())  # leave most of the time to random graphs
        row, finding = check_deep_chain(cls, chain, min(deadline, share))
        report.ops.append(row)
        report.limitations += [finding] if finding else []


def check_value_class(cls: Any, *, examples: int = 200, seed: int = 0, max_seconds: float = 60) -> CheckReport:
    """Grade a micrograd-style ``Value`` class against valuegrad's engine, op by op.

    Discovers what ``cls`` supports by trying it (``cls(x)``, ``.data``, ``.grad``, ``.backward()``,
    ``+ - * / **`` with Values and Python numbers on either side, unary ``-``, ``relu tanh exp log
    sigmoid``), checks each supported op alone at ordinary and edge inputs, with a node used twice
    and feeding another op, then ``examples`` random expression graphs (hypothesis, seeded by
    ``seed``, shrunk to the smallest failing one), diamonds, deep chains and what a second
    ``backward()`` does. Values must agree to 1e-12 and gradients to 1e-9 (relative).
    """
    if not callable(cls):
        raise TypeError(f"check_value_class(): cls must be a class, got {cls!r}")
    if isinstance(examples, bool) or not isinstance(examples, int) or examples < 1:
        raise ValueError(f"check_value_class(): examples must be a positive int, got {examples!r}")
    if not max_seconds > 0:
        raise ValueError(f"check_value_class(): max_seconds must be positive, got {max_seconds!r}")
    start = time.monotonic()
    deadline = start + max_seconds
    report = CheckReport(_target_name(cls), seed, examples)
    report.ops.append(_check_protocol(cls))
    if report.ops[0].status == "correct":
        _check_every_op(cls, report)
        _check_graphs(cls, report, deadline)
        specs = [spec for spec in OPS if report.status(spec.name) == "correct"]
        if specs:
            failure, report.random_graphs = search_random_graphs(cls, specs, examples=examples, seed=seed,
                                                                 deadline=deadline)
            status = "wrong" if failure else "correct"
            detail = f"{report.random_graphs} graphs over {len(specs)} ops"
            detail += f": {failure.expression}" if failure else ""
            report.ops.append(OpResult("random graphs", status, detail, failure.hint if failure else ""))
            report.failures += [failure] if failure else []
    report.seconds = time.monotonic() - start
    return report
