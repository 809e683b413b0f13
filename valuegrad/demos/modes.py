"""`valuegrad demo modes`: the gradient of f: R^n -> R by reverse mode, forward mode and finite differences."""

from __future__ import annotations

import argparse
import gc
import math
import random
import statistics
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import autograd
from autograd import Value, jvp, tanh
from valuegrad import options

from ._shared import add_output_arguments, output_dir, pyplot, run_safely, save_figure

EPS = 1e-6  # central-difference step: the usual float64 compromise between truncation and rounding
ZERO_ERROR_FLOOR = 1e-17  # an exact 0 error is drawn here on the log axis
TIME_BUDGET = 2.0  # seconds per (method, n): stop repeating once a method has used this much
METHODS = ("reverse", "forward", "finite differences")


class Problem:
    """f(x) = sum_i tanh(w_i x_i + u_i x_{i+1}) + c_i x_i x_{i+1} (indices mod n), fixed random weights.

    Every input appears in four terms, so no gradient entry is trivially zero, and the
    exact gradient is short enough to write by hand (:meth:`exact_gradient`).
    """

    def __init__(self, n: int, *, seed: int = 0) -> None:
        rng = random.Random(seed * 100_003 + n)
        self.n = n
        self.w = [rng.uniform(-1.0, 1.0) for _ in range(n)]
        self.u = [rng.uniform(-1.0, 1.0) for _ in range(n)]
        self.c = [rng.uniform(-0.5, 0.5) for _ in range(n)]
        self.x = [rng.uniform(-1.0, 1.0) for _ in range(n)]

    def f(self, *xs: Any) -> Any:
        """The function on Values or Duals (fused sum: one node for all terms)."""
        return autograd.sum(self._terms(xs))

    def f_float(self, xs: Sequence[float]) -> float:
        """The same function on plain floats (what finite differences evaluate)."""
        return math.fsum(self._terms(xs))

    def _terms(self, xs: Sequence[Any]) -> list[Any]:
        n, w, u, c = self.n, self.w, self.u, self.c
        terms = []
        for i in range(n):
            j = (i + 1) % n
            terms.append(tanh(w[i] * xs[i] + u[i] * xs[j]))
            terms.append(c[i] * xs[i] * xs[j])
        return terms

    def exact_gradient(self) -> list[float]:
        """df/dx by hand: d tanh(z)/dz = 1 - tanh(z)^2, d(c x_i x_j)/dx_i = c x_j."""
        n, w, u, c, x = self.n, self.w, self.u, self.c, self.x
        gradient = [0.0] * n
        for i in range(n):
            j = (i + 1) % n
            slope = 1.0 - math.tanh(w[i] * x[i] + u[i] * x[j]) ** 2
            gradient[i] += slope * w[i] + c[i] * x[j]
            gradient[j] += slope * u[i] + c[i] * x[i]
        return gradient


def forward_pass(problem: Problem) -> float:
    """Only the forward pass that builds the graph (the yardstick for backward's cost)."""
    return problem.f(*[Value(x) for x in problem.x]).data


def reverse_mode(problem: Problem) -> list[float]:
    """One forward pass that records the graph, one backward pass: the whole gradient.

    Value.backward, as a training step does it (``grad(f, argnums=...)`` gives the same floats).
    """
    leaves = [Value(x) for x in problem.x]
    problem.f(*leaves).backward()
    return [leaf.grad for leaf in leaves]


def forward_mode(problem: Problem) -> list[float]:
    """n jvps, one per basis direction: each gives one entry of the gradient."""
    n, x = problem.n, problem.x
    gradient = []
    for i in range(n):
        basis = [0.0] * n
        basis[i] = 1.0
        gradient.append(jvp(problem.f, x, basis)[1])
    return gradient


def finite_differences(problem: Problem) -> list[float]:
    """Central differences on plain floats: 2n evaluations of f."""
    x = list(problem.x)
    gradient = []
    for i in range(problem.n):
        saved = x[i]
        x[i] = saved + EPS
        plus = problem.f_float(x)
        x[i] = saved - EPS
        minus = problem.f_float(x)
        x[i] = saved
        gradient.append((plus - minus) / (2.0 * EPS))
    return gradient


def best_time(method: Callable[[Problem], Any], problem: Problem, repeats: int) -> tuple[float, Any]:
    """The fastest of up to ``repeats`` runs (fewer once TIME_BUDGET is used) and the last result."""
    best, spent, result = math.inf, 0.0, None
    for _ in range(repeats):
        # As timeit does: a cyclic-GC sweep landing inside one run would time the collector, not the method.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            start = time.perf_counter()
            result = method(problem)
            elapsed = time.perf_counter() - start
        finally:
            if gc_was_enabled:
                gc.enable()
        best, spent = min(best, elapsed), spent + elapsed
        if spent > TIME_BUDGET:
            break
    return best, result


def sizes_up_to(max_n: int, count: int = 10) -> list[int]:
    """About ``count`` sizes from 1 to ``max_n``, evenly spaced on a log scale."""
    if max_n == 1:
        return [1]
    return sorted({max(1, round(max_n ** (k / (count - 1)))) for k in range(count)})


def measure(max_n: int, repeats: int, *, seed: int = 0, progress: Callable[[str], None] | None = None) -> dict:
    """Time and error of each method for each size: the numbers behind the picture."""
    table: dict[str, list] = {"n": [], "forward pass": []}
    for method in METHODS:
        table[method] = []
        table[f"{method} error"] = []
    runners = {"reverse": reverse_mode, "forward": forward_mode, "finite differences": finite_differences}
    for n in sizes_up_to(max_n):
        problem = Problem(n, seed=seed)
        exact = problem.exact_gradient()
        table["n"].append(n)
        table["forward pass"].append(best_time(forward_pass, problem, repeats)[0])
        for method, runner in runners.items():
            seconds, gradient = best_time(runner, problem, repeats)
            table[method].append(seconds)
            table[f"{method} error"].append(max(abs(a - b) for a, b in zip(gradient, exact)))
        if progress is not None:
            progress(_row(table, -1))
    return table


def _row(table: dict, k: int) -> str:
    n = table["n"][k]
    ratio = table["reverse"][k] / table["forward pass"][k]
    cells = [f"{n:>5}", f"{table['forward pass'][k] * 1e3:>10.3f}"]
    cells += [f"{table[m][k] * 1e3:>12.3f}" for m in METHODS]
    cells += [f"{ratio:>9.2f}"]
    cells += [f"{table[f'{m} error'][k]:>10.1e}" for m in METHODS]
    return " ".join(cells)


HEADER = (
    "pass = one forward pass building the graph; reverse = the same forward + one backward();\n"
    "jvps = n forward-mode passes; FD = 2n evaluations on floats; errors = max |g - exact gradient|\n"
    f"{'n':>5} {'pass ms':>10} {'reverse ms':>12} {'jvps ms':>12} {'FD ms':>12} {'rev/pass':>9}"
    f" {'rev err':>10} {'jvp err':>10} {'FD err':>10}"
)


def plot(table: dict, path: Path) -> Path:
    """Two panels: seconds vs n (log-log) and max abs error vs n; written atomically as PNG."""
    plt = pyplot()
    figure, (cost, error) = plt.subplots(1, 2, figsize=(12.5, 5.0))
    n = table["n"]
    styles = {
        "reverse": ("tab:blue", "o", "reverse mode: 1 forward + 1 backward"),
        "forward": ("tab:orange", "s", "forward mode: n jvps (dual numbers)"),
        "finite differences": ("tab:green", "^", "central differences: 2n evaluations (plain floats)"),
    }
    cost.plot(n, table["forward pass"], color="0.55", linestyle="--", marker=".", label="forward pass only (Values)")
    for method, (colour, marker, label) in styles.items():
        cost.plot(n, table[method], color=colour, marker=marker, label=label)
    # Guides: cost ~ n and ~ n^2 are lines of slope 1 and 2 on log-log axes.  Each is scaled by
    # the median of seconds / n^power over the larger sizes, so one noisy point cannot tilt it.
    guides: tuple[tuple[str, int, str | None], ...] = (("reverse", 1, "guides: ∝ n and ∝ n²"), ("forward", 2, None))
    for method, power, guide_label in guides:
        scale = statistics.median(t / k**power for k, t in zip(n, table[method]) if k >= n[-1] ** 0.5)
        guide = [scale * k**power for k in n]
        cost.plot(n, guide, color="0.75", linestyle=":", linewidth=1.2, zorder=0, label=guide_label)
    cost.set_xscale("log")
    cost.set_yscale("log")
    cost.set_xlabel("n = number of inputs")
    cost.set_ylabel("seconds for the whole gradient (best of repeats)")
    cost.set_title("Cost: reverse mode grows like n, the others like n²")
    cost.grid(True, which="major", alpha=0.3)
    cost.legend(fontsize=8.5, loc="upper left")

    for method, (colour, marker, label) in styles.items():
        errors = [max(e, ZERO_ERROR_FLOOR) for e in table[f"{method} error"]]
        # Reverse and forward mode land on the same points: draw forward mode dashed on top.
        dashed = method == "forward"
        error.plot(
            n,
            errors,
            color=colour,
            marker=marker,
            markersize=5 if dashed else 8,
            linestyle="--" if dashed else "-",
            label=label.split(":")[0] + (f" (eps = {EPS:g})" if method == "finite differences" else ""),
        )
    error.set_xscale("log")
    error.set_yscale("log")
    error.set_ylim(ZERO_ERROR_FLOOR / 3, 1e-5)
    error.set_xlabel("n = number of inputs")
    error.set_ylabel(f"max |gradient - exact gradient|  (0 drawn at {ZERO_ERROR_FLOOR:g})")
    error.set_title("Accuracy: both AD modes are exact to rounding")
    error.grid(True, which="major", alpha=0.3)
    error.legend(fontsize=8.5, loc="center right")
    figure.suptitle(
        r"Gradient of $f: \mathbb{R}^n \to \mathbb{R}$,  "
        r"$f(x) = \sum_i \tanh(w_i x_i + u_i x_{i+1}) + c_i x_i x_{i+1}$"
    )
    figure.tight_layout()
    return save_figure(figure, path)


# Forward mode and finite differences cost O(n^2): n = 4096 already takes minutes.
MAX_N = 4096
MAX_REPEATS = 100


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-n",
        type=options.integer(1, MAX_N),
        default=512,
        metavar="N",
        help="largest number of inputs (default: %(default)s)",
    )
    parser.add_argument(
        "--repeats",
        type=options.integer(1, MAX_REPEATS),
        default=3,
        help="timing runs per point; the best counts (default: %(default)s)",
    )
    add_output_arguments(parser, training=False)


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        out = output_dir(args.out)
        pyplot()  # fail early, before measuring, when matplotlib is missing
        print(f"gradient of f: R^n -> R for n = 1 .. {args.max_n}; times in ms (best of {args.repeats})")
        print(HEADER)
        table = measure(args.max_n, args.repeats, progress=print)
        n, reverse = table["n"][-1], table["reverse"][-1]
        print(
            f"\nat n = {n}: reverse mode costs {reverse / table['forward pass'][-1]:.1f}x one forward pass; "
            f"forward mode {table['forward'][-1] / reverse:.0f}x and "
            f"central differences {table['finite differences'][-1] / reverse:.1f}x reverse mode"
        )
        written = plot(table, out / "modes.png")
        print(f"wrote {written}")
        return 0

    return run_safely("modes", body)
