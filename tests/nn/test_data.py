"""Tests for nn.data: toy datasets, MinMaxScaler, train_test_split."""

from __future__ import annotations

import math

import pytest

from nn import MinMaxScaler, make_circles, make_moons, make_spiral, make_xor, train_test_split

try:
    import numpy as np
except ImportError:  # pragma: no cover - numpy is optional
    np = None

GENERATORS = {
    "moons": (make_moons, {}),
    "circles": (make_circles, {}),
    "xor": (make_xor, {"noise": 0.05}),
    "spiral": (make_spiral, {"classes": 3}),
}


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generators_shapes_types_and_reproducibility(name):
    make, kwargs = GENERATORS[name]
    X, y = make(101, seed=3, **kwargs)
    assert len(X) == len(y) == 101
    assert all(isinstance(row, list) and len(row) == 2 for row in X)
    assert all(type(v) is float and math.isfinite(v) for row in X for v in row)
    assert all(type(label) is int for label in y)
    assert make(101, seed=3, **kwargs) == (X, y)
    assert make(101, seed=4, **kwargs) != (X, y)


def test_make_moons_is_balanced_and_geometry_without_noise():
    X, y = make_moons(100, noise=0.0, seed=0)
    assert sorted(set(y)) == [0, 1] and y.count(0) == y.count(1) == 50
    for (a, b), label in zip(X, y):
        if label == 0:  # upper moon: unit half circle centred at the origin
            assert math.hypot(a, b) == pytest.approx(1.0) and b >= -1e-12
        else:  # lower moon: centred at (1, 0.5)
            assert math.hypot(a - 1.0, b - 0.5) == pytest.approx(1.0) and b <= 0.5 + 1e-12


def test_make_circles_radii_without_noise():
    X, y = make_circles(40, noise=0.0, factor=0.3, seed=0)
    for (a, b), label in zip(X, y):
        assert math.hypot(a, b) == pytest.approx(1.0 if label == 0 else 0.3)
    assert y.count(0) == y.count(1) == 20


def test_make_xor_labels_follow_quadrants():
    X, y = make_xor(200, seed=1)
    assert all(label == int((a > 0) != (b > 0)) for (a, b), label in zip(X, y))
    assert all(-1.0 <= v <= 1.0 for row in X for v in row)
    assert 60 < sum(y) < 140


def test_make_spiral_classes_and_counts():
    X, y = make_spiral(100, classes=4, seed=0)
    assert sorted(set(y)) == [0, 1, 2, 3]
    assert [y.count(k) for k in range(4)] == [25, 25, 25, 25]
    assert all(math.hypot(a, b) <= 1.0 + 1e-12 for a, b in X)
    X, y = make_spiral(10, classes=3, seed=0)
    assert [y.count(k) for k in range(3)] == [4, 3, 3]


def test_generator_validation():
    with pytest.raises(ValueError, match=r"make_moons\(\): n must be >= 2, got 1"):
        make_moons(1)
    with pytest.raises(TypeError, match="n must be an int, got float"):
        make_xor(10.5)
    with pytest.raises(ValueError, match="noise must be a finite number >= 0, got -0.1"):
        make_moons(10, noise=-0.1)
    with pytest.raises(ValueError, match=r"factor must be in \(0, 1\)"):
        make_circles(10, factor=1.5)
    with pytest.raises(ValueError, match="classes must be an int >= 2"):
        make_spiral(10, classes=1)


# -- MinMaxScaler --------------------------------------------------------------------------------

def test_min_max_scaler_exact_values_and_inverse():
    X = [[1.0, 10.0], [3.0, 20.0], [2.0, 15.0]]
    scaler = MinMaxScaler(feature_range=(-1, 1))
    Z = scaler.fit_transform(X)
    assert Z == [[-1.0, -1.0], [1.0, 1.0], [0.0, 0.0]]
    assert scaler.data_min_ == [1.0, 10.0] and scaler.data_max_ == [3.0, 20.0]
    assert scaler.inverse_transform(Z) == X
    assert MinMaxScaler().fit(X).transform([[4.0, 10.0]]) == [[1.5, 0.0]]  # extrapolates, no clipping


def test_min_max_scaler_constant_column_maps_to_middle():
    X = [[5.0, 1.0], [5.0, 2.0]]
    assert MinMaxScaler().fit_transform(X) == [[0.5, 0.0], [0.5, 1.0]]
    scaler = MinMaxScaler(feature_range=(-1, 1)).fit(X)
    assert scaler.transform([[7.0, 1.5]]) == [[0.0, 0.0]]
    assert scaler.inverse_transform([[0.3, 0.0]]) == [[5.0, 1.5]]


def test_min_max_scaler_errors():
    with pytest.raises(RuntimeError, match="not fitted yet"):
        MinMaxScaler().transform([[1.0]])
    with pytest.raises(RuntimeError, match="not fitted yet"):
        MinMaxScaler().inverse_transform([[1.0]])
    scaler = MinMaxScaler().fit([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(ValueError, match="X has 3 features but the scaler was fitted on 2"):
        scaler.transform([[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match="lo < hi"):
        MinMaxScaler(feature_range=(1, 0))
    with pytest.raises(ValueError, match="X is empty"):
        MinMaxScaler().fit([])
    with pytest.raises(TypeError, match=r"X\[1\]\[0\] must be a real number, got str"):
        MinMaxScaler().fit([[1.0], ["a"]])
    with pytest.raises(ValueError, match=r"X\[1\] has 1 features but X\[0\] has 2"):
        MinMaxScaler().fit([[1.0, 2.0], [3.0]])
    with pytest.raises(ValueError, match="X must be 2-D"):
        MinMaxScaler().fit([1.0, 2.0])


@pytest.mark.skipif(np is None, reason="numpy is not installed")
def test_min_max_scaler_and_split_accept_numpy():
    X = np.array([[0.0, 2.0], [4.0, 6.0]])
    assert MinMaxScaler().fit_transform(X) == [[0.0, 0.0], [1.0, 1.0]]
    Xtr, Xte, ytr, yte = train_test_split(np.arange(20).reshape(10, 2), np.arange(10), test_size=0.3, seed=0)
    assert len(Xtr) == 7 and len(Xte) == 3
    assert all(isinstance(row, list) for row in Xtr)
    assert sorted(ytr + yte) == list(range(10))
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        MinMaxScaler().fit(np.array([1.0, 2.0, 3.0]))


# -- train_test_split -----------------------------------------------------------------------------

def test_train_test_split_sizes_disjoint_and_aligned():
    X = [[float(i)] for i in range(10)]
    y = list(range(10))
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, seed=1)
    assert (len(Xtr), len(Xte)) == (7, 3)  # ceil(0.25 * 10) = 3
    assert sorted(ytr + yte) == y
    assert all(row == [float(label)] for row, label in zip(Xtr + Xte, ytr + yte))
    assert train_test_split(X, y, test_size=0.25, seed=1) == (Xtr, Xte, ytr, yte)
    _, Xte2, _, _ = train_test_split(X, y, test_size=4, seed=1)
    assert len(Xte2) == 4


def test_train_test_split_without_shuffle_takes_the_last_samples():
    Xtr, Xte, ytr, yte = train_test_split([[i] for i in range(5)], list("abcde"), test_size=2, shuffle=False)
    assert ytr == ["a", "b", "c"] and yte == ["d", "e"]


def test_train_test_split_validation():
    with pytest.raises(ValueError, match="X has 3 samples but y has 2"):
        train_test_split([[1], [2], [3]], [1, 2])
    with pytest.raises(ValueError, match=r"a fractional test_size must be in \(0, 1\), got 1.5"):
        train_test_split([[1], [2]], [1, 2], test_size=1.5)
    with pytest.raises(ValueError, match="both parts must be non-empty"):
        train_test_split([[1], [2]], [1, 2], test_size=2)
    with pytest.raises(ValueError, match="at least 2 samples"):
        train_test_split([[1]], [1])


def test_train_test_split_numpy_integer_test_size_is_a_count():
    """issue 13: numpy.int64(3) was taken as a fraction."""
    numpy = pytest.importorskip("numpy", reason="numpy integers need numpy")
    X, y = [[i] for i in range(10)], list(range(10))
    ours = train_test_split(X, y, test_size=numpy.int64(3), seed=0)
    assert len(ours[1]) == 3 and len(ours[0]) == 7
    assert ours == train_test_split(X, y, test_size=3, seed=0)
    with pytest.raises(ValueError, match="both parts must be non-empty"):
        train_test_split(X, y, test_size=numpy.int32(10))


SPELLINGS = [(make_moons, 100), (make_circles, 100), (make_xor, 100), (make_spiral, 300)]


@pytest.mark.parametrize("make, default_n", SPELLINGS, ids=lambda v: getattr(v, "__name__", str(v)))
def test_generators_accept_sklearn_spellings_identically(make, default_n):
    assert make(n_samples=37, random_state=5) == make(37, seed=5)
    assert make(n_samples=37, seed=5) == make(37, random_state=5) == make(37, seed=5)
    assert len(make(random_state=1)[0]) == default_n
    assert make(random_state=1) == make(default_n, seed=1)


@pytest.mark.parametrize("make", [m for m, _ in SPELLINGS], ids=lambda m: m.__name__)
def test_generators_refuse_both_spellings_at_once(make):
    with pytest.raises(TypeError, match=rf"{make.__name__}\(\): got both n= and n_samples="):
        make(20, n_samples=20)
    with pytest.raises(TypeError, match=rf"{make.__name__}\(\): got both seed= and random_state="):
        make(20, seed=1, random_state=1)


def test_train_test_split_accepts_random_state_identically():
    X, y = [[i] for i in range(12)], list(range(12))
    assert train_test_split(X, y, random_state=4) == train_test_split(X, y, seed=4)
    assert train_test_split(X, y, random_state=4) != train_test_split(X, y, seed=5)
    with pytest.raises(TypeError, match=r"train_test_split\(\): got both seed= and random_state="):
        train_test_split(X, y, seed=4, random_state=4)
