"""Toy datasets (moons, circles, xor, spiral), MinMaxScaler and train_test_split; pure Python, numpy accepted."""

from __future__ import annotations

import math
import random
from typing import Any, TypeVar

from autograd.files import positive_int, real_number
from autograd.ops import to_float

T = TypeVar("T")
Dataset = tuple[list[list[float]], list[int]]


def _count(n: Any, where: str, minimum: int = 1) -> int:
    return positive_int(n, "n", where, minimum=minimum)


def _spelling(ours: T | None, theirs: T | None, names: tuple[str, str], where: str) -> T | None:
    """One value from two spellings of an argument (ours, sklearn's); both at once is a TypeError."""
    if theirs is None:
        return ours
    if ours is not None:
        raise TypeError(f"{where}: got both {names[0]}= and {names[1]}= (the same argument); pass one of them")
    return theirs


def _noise(noise: Any, where: str) -> float:
    value = to_float(noise, f"{where} noise")
    if not (value >= 0.0 and math.isfinite(value)):
        raise ValueError(f"{where}: noise must be a finite number >= 0, got {noise!r}")
    return value


def _shuffled(rng: random.Random, X: list[list[float]], y: list[int]) -> Dataset:
    order = list(range(len(X)))
    rng.shuffle(order)
    return [X[i] for i in order], [y[i] for i in order]


def _linspace(start: float, stop: float, n: int, *, endpoint: bool = True) -> list[float]:
    if n == 1:
        return [start]
    step = (stop - start) / (n - 1 if endpoint else n)
    return [start + i * step for i in range(n)]


def make_moons(
    n: int | None = None,
    *,
    noise: float = 0.1,
    seed: int | None = None,
    n_samples: int | None = None,
    random_state: int | None = None,
) -> Dataset:
    """Two interleaving half circles (sklearn's layout): label 0 on the upper moon, 1 on the lower.

    ``n // 2`` points go to moon 0 and the rest to moon 1, gaussian noise (std ``noise``) is
    added to both coordinates, and the samples are shuffled; all from ``random.Random(seed)``.
    Like every generator here, it also takes sklearn's spellings ``n_samples=`` and ``random_state=``.
    """
    where = "make_moons()"
    n = _spelling(n, n_samples, ("n", "n_samples"), where)
    seed = _spelling(seed, random_state, ("seed", "random_state"), where)
    n = _count(100 if n is None else n, where, 2)
    noise = _noise(noise, "make_moons()")
    rng = random.Random(seed)
    n_upper = n // 2
    n_lower = n - n_upper
    X: list[list[float]] = []
    y: list[int] = []
    for t in _linspace(0.0, math.pi, n_upper):
        X.append([math.cos(t), math.sin(t)])
        y.append(0)
    for t in _linspace(0.0, math.pi, n_lower):
        X.append([1.0 - math.cos(t), 0.5 - math.sin(t)])
        y.append(1)
    X = [[a + rng.gauss(0.0, noise), b + rng.gauss(0.0, noise)] for a, b in X] if noise else X
    return _shuffled(rng, X, y)


def make_circles(
    n: int | None = None,
    *,
    noise: float = 0.05,
    factor: float = 0.5,
    seed: int | None = None,
    n_samples: int | None = None,
    random_state: int | None = None,
) -> Dataset:
    """A large circle (label 0, radius 1) around a small one (label 1, radius ``factor``), with gaussian noise."""
    where = "make_circles()"
    n = _spelling(n, n_samples, ("n", "n_samples"), where)
    seed = _spelling(seed, random_state, ("seed", "random_state"), where)
    n = _count(100 if n is None else n, where, 2)
    noise = _noise(noise, "make_circles()")
    factor = to_float(factor, "make_circles() factor")
    if not 0.0 < factor < 1.0:
        raise ValueError(f"make_circles(): factor must be in (0, 1), got {factor!r}")
    rng = random.Random(seed)
    n_outer = n // 2
    n_inner = n - n_outer
    X: list[list[float]] = []
    y: list[int] = []
    for radius, count, label in ((1.0, n_outer, 0), (factor, n_inner, 1)):
        for t in _linspace(0.0, 2.0 * math.pi, count, endpoint=False):
            X.append([radius * math.cos(t) + rng.gauss(0.0, noise), radius * math.sin(t) + rng.gauss(0.0, noise)])
            y.append(label)
    return _shuffled(rng, X, y)


def make_xor(
    n: int | None = None,
    *,
    noise: float = 0.0,
    seed: int | None = None,
    n_samples: int | None = None,
    random_state: int | None = None,
) -> Dataset:
    """Points uniform in [-1, 1]^2 labelled 1 where x and y have different signs (XOR), then
    gaussian noise (std ``noise``) is added to the coordinates (labels keep the clean quadrant)."""
    where = "make_xor()"
    n = _spelling(n, n_samples, ("n", "n_samples"), where)
    seed = _spelling(seed, random_state, ("seed", "random_state"), where)
    n = _count(100 if n is None else n, where)
    noise = _noise(noise, "make_xor()")
    rng = random.Random(seed)
    X: list[list[float]] = []
    y: list[int] = []
    for _ in range(n):
        a, b = rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0)
        y.append(int((a > 0.0) != (b > 0.0)))
        X.append([a + rng.gauss(0.0, noise), b + rng.gauss(0.0, noise)] if noise else [a, b])
    return X, y


def make_spiral(
    n: int | None = None,
    *,
    classes: int = 3,
    noise: float = 0.2,
    seed: int | None = None,
    n_samples: int | None = None,
    random_state: int | None = None,
) -> Dataset:
    """``classes`` interleaved spiral arms (CS231n's layout), labels 0..classes-1.

    Arm k has radius r from 0 to 1 and angle 4k + 4r plus gaussian noise (std ``noise``) on
    the angle; points are split as evenly as possible and shuffled.
    """
    where = "make_spiral()"
    n = _spelling(n, n_samples, ("n", "n_samples"), where)
    seed = _spelling(seed, random_state, ("seed", "random_state"), where)
    n = _count(300 if n is None else n, where)
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 2:
        raise ValueError(f"make_spiral(): classes must be an int >= 2, got {classes!r}")
    if n < classes:
        raise ValueError(f"make_spiral(): n ({n}) must be at least classes ({classes})")
    noise = _noise(noise, "make_spiral()")
    rng = random.Random(seed)
    X: list[list[float]] = []
    y: list[int] = []
    for k in range(classes):
        count = n // classes + (1 if k < n % classes else 0)
        for r in _linspace(0.0, 1.0, count):
            t = 4.0 * k + 4.0 * r + rng.gauss(0.0, noise)
            X.append([r * math.sin(t), r * math.cos(t)])
            y.append(k)
    return _shuffled(rng, X, y)


# -- preprocessing ------------------------------------------------------------------------------

def as_rows(X: Any, where: str) -> list[list[float]]:
    """X (list of rows or a 2-D numpy array) as a list of lists of floats, validated."""
    if hasattr(X, "tolist") and hasattr(X, "ndim"):  # numpy without importing it
        if X.ndim != 2:
            raise ValueError(f"{where}: X must be 2-D (samples x features), got an array with shape {X.shape}")
        X = X.tolist()
    if isinstance(X, (str, bytes)) or not hasattr(X, "__len__"):
        raise TypeError(f"{where}: X must be a list of rows or a 2-D array, got {type(X).__name__}")
    if len(X) == 0:
        raise ValueError(f"{where}: X is empty")
    rows = []
    width = None
    for i, row in enumerate(X):
        if isinstance(row, (str, bytes)) or not hasattr(row, "__len__"):
            raise ValueError(
                f"{where}: X must be 2-D (a list of rows); X[{i}] is {type(row).__name__} {row!r:.40} "
                f"(for one feature write [[x] for x in X])"
            )
        if width is None:
            width = len(row)
            if width == 0:
                raise ValueError(f"{where}: X[0] has no features")
        elif len(row) != width:
            raise ValueError(f"{where}: X[{i}] has {len(row)} features but X[0] has {width}")
        rows.append([v if v.__class__ is float else real_number(v, f"{where}: X[{i}][{j}]") for j, v in enumerate(row)])
    return rows


class MinMaxScaler:
    """Scale each feature linearly onto ``feature_range`` using the min and max seen in :meth:`fit`.

    A constant column (max == min) maps to the middle of the range (0 for (-1, 1)), so there
    is no division by zero; :meth:`inverse_transform` maps it back to the constant.
    Values outside the fitted range extrapolate linearly (no clipping).
    """

    def __init__(self, feature_range: tuple[float, float] = (0.0, 1.0)) -> None:
        try:
            lo, hi = feature_range
        except (TypeError, ValueError):
            raise ValueError(
                f"MinMaxScaler(): feature_range must be a pair (lo, hi), got {feature_range!r:.60}"
            ) from None
        lo, hi = to_float(lo, "MinMaxScaler() feature_range[0]"), to_float(hi, "MinMaxScaler() feature_range[1]")
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"MinMaxScaler(): feature_range must be finite with lo < hi, got {feature_range!r}")
        self.feature_range = (lo, hi)
        self.data_min_: list[float] | None = None
        self.data_max_: list[float] | None = None

    def fit(self, X: Any) -> MinMaxScaler:
        rows = as_rows(X, "MinMaxScaler.fit()")
        self.data_min_ = [min(col) for col in zip(*rows)]
        self.data_max_ = [max(col) for col in zip(*rows)]
        return self

    def _fitted(self, X: Any, where: str) -> tuple[list[list[float]], list[tuple[float, float]]]:
        """The validated rows and each column's fitted (min, max)."""
        if self.data_min_ is None or self.data_max_ is None:
            raise RuntimeError(f"{where}: this MinMaxScaler is not fitted yet; call fit(X) or fit_transform(X) first")
        rows = as_rows(X, where)
        if len(rows[0]) != len(self.data_min_):
            fitted = len(self.data_min_)
            raise ValueError(f"{where}: X has {len(rows[0])} features but the scaler was fitted on {fitted}")
        return rows, list(zip(self.data_min_, self.data_max_))

    def transform(self, X: Any) -> list[list[float]]:
        rows, columns = self._fitted(X, "MinMaxScaler.transform()")
        lo, hi = self.feature_range
        middle = (lo + hi) / 2.0
        return [
            [lo + (v - a) / (b - a) * (hi - lo) if b > a else middle for v, (a, b) in zip(row, columns)] for row in rows
        ]

    def fit_transform(self, X: Any) -> list[list[float]]:
        return self.fit(X).transform(X)

    def inverse_transform(self, X: Any) -> list[list[float]]:
        rows, columns = self._fitted(X, "MinMaxScaler.inverse_transform()")
        lo, hi = self.feature_range
        return [[a + (v - lo) / (hi - lo) * (b - a) if b > a else a for v, (a, b) in zip(row, columns)] for row in rows]

    def __repr__(self) -> str:
        return f"MinMaxScaler(feature_range={self.feature_range})"


def _as_list(data: Any) -> list[Any]:
    return data.tolist() if hasattr(data, "tolist") and hasattr(data, "ndim") else list(data)


def train_test_split(
    X: Any,
    y: Any,
    *,
    test_size: float | int = 0.25,
    seed: int | None = None,
    shuffle: bool = True,
    random_state: int | None = None,
) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    """Split into ``X_train, X_test, y_train, y_test`` (sklearn's order).

    ``test_size`` is a fraction in (0, 1) (the test set gets ceil(fraction * n) samples) or
    a count (an int or numpy integer); both parts must be non-empty.  Shuffling uses
    ``random.Random(seed)``; ``random_state=`` is sklearn's spelling of ``seed``.
    """
    where = "train_test_split()"
    seed = _spelling(seed, random_state, ("seed", "random_state"), where)
    X, y = _as_list(X), _as_list(y)
    n = len(X)
    if len(y) != n:
        raise ValueError(f"{where}: X has {n} samples but y has {len(y)}")
    if n < 2:
        raise ValueError(f"{where}: need at least 2 samples to split, got {n}")
    if isinstance(test_size, bool):
        raise TypeError(f"{where}: test_size must be a float in (0, 1) or an int, got bool")
    if hasattr(test_size, "__index__"):  # int or numpy integer: a count
        n_test = test_size.__index__()
    else:
        fraction = to_float(test_size, f"{where} test_size")
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"{where}: a fractional test_size must be in (0, 1), got {test_size!r}")
        n_test = math.ceil(fraction * n)
    if not 1 <= n_test <= n - 1:
        raise ValueError(
            f"{where}: test_size={test_size!r} gives {n_test} test samples of {n}; both parts must be non-empty"
        )
    order = list(range(n))
    if shuffle:
        random.Random(seed).shuffle(order)
    train, test = order[: n - n_test], order[n - n_test :]  # unshuffled: the last samples are the test set
    return [X[i] for i in train], [X[i] for i in test], [y[i] for i in train], [y[i] for i in test]


__all__ = ["MinMaxScaler", "make_circles", "make_moons", "make_spiral", "make_xor", "train_test_split"]
