"""Unit tests of the preprocessing: batched moments, standardiser, target scaling.

Values computed by hand, bit-for-bit agreement with the plain formulas on
ordinary data, data at the edges of the float range, and the per-column,
relative tests of constancy.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sklearn_hierspectral._passes import N_LANES, _lane_bounds, batch_slices
from sklearn_hierspectral._preprocessing import (
    Standardizer,
    column_moments,
    make_standardizer,
    target_scaling,
    vector_moments,
)

EPS = np.finfo(np.float64).eps


@pytest.fixture(autouse=True)
def no_floating_point_warnings():
    # Overflow and underflow are handled, not merely tolerated: nothing warns.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


@pytest.fixture(scope="module")
def X():
    rng = np.random.default_rng(0)
    return rng.standard_normal((1000, 5)) * [1.0, 2.0, 0.5, 3.0, 1.0] + [0.0, 1.0, -4.0, 10.0, 0.5]


def batched_sum(values, batch_size, batch_sum):
    """``sum(batch_sum(batch))`` in the order of a pass: batches within each
    lane, then the lanes' totals in lane order."""
    bounds = _lane_bounds(len(values), N_LANES)
    total = 0.0
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        lane_total = 0.0
        for rows in batch_slices(hi - lo, batch_size):
            lane_total = lane_total + batch_sum(values[lo + rows.start : lo + rows.stop])
        total = total + lane_total
    return total


def plain_column_moments(X, batch_size):
    """The formulas before the moments were made scale-free, batch by batch."""
    total = batched_sum(X, batch_size, lambda b: np.asarray(b, dtype=np.float64).sum(axis=0))
    mean = total / len(X)

    def products(batch):
        centred = np.asarray(batch, dtype=np.float64) - mean
        return centred.T @ centred

    return mean, batched_sum(X, batch_size, products) / len(X)


# ----------------------------------------------------------------- by hand
def test_column_moments_by_hand():
    X = np.array([[1.0, 2.0], [3.0, 6.0], [5.0, 10.0]])
    mean, cov = column_moments(X, batch_size=2)
    assert_allclose(mean, [3.0, 6.0], rtol=1e-15)
    # Deviations (-2, 0, 2) and (-4, 0, 4): population (co)variances.
    assert_allclose(cov, [[8 / 3, 16 / 3], [16 / 3, 32 / 3]], rtol=1e-15)


def test_vector_moments_by_hand():
    mean, std = vector_moments(np.array([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]), 3)
    assert (mean, std) == (5.0, 2.0)
    assert isinstance(mean, float) and isinstance(std, float)


def test_standardizer_apply_and_linear_map_by_hand():
    standardizer = Standardizer(mean=np.array([1.0, -2.0]), scale=np.array([2.0, 4.0]))
    assert_allclose(standardizer.apply([[3.0, 2.0]]), [[1.0, 1.0]])
    assert_allclose(standardizer.linear_map(), np.diag([0.5, 0.25]))
    assert standardizer.apply(np.ones((1, 2)), np.float32).dtype == np.float32
    whitening = Standardizer(mean=np.zeros(2), scale=np.ones(2), matrix=np.array([[1.0, 1.0], [0.0, 2.0]]))
    assert_allclose(whitening.apply([[1.0, 1.0]]), [[1.0, 3.0]])
    assert whitening.linear_map() is whitening.matrix


# ---------------------------------------------------- ordinary data: bit for bit
@pytest.mark.parametrize("batch_size", [1000, 64, 7])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_ordinary_data_gives_the_plain_moments_bit_for_bit(X, batch_size, dtype):
    # Scaling by powers of two is exact: the overflow-safe moments are those of
    # the plain formulas, not merely close to them.
    X = X.astype(dtype)
    mean, cov = column_moments(X, batch_size)
    expected_mean, expected_cov = plain_column_moments(X, batch_size)
    assert_array_equal(mean, expected_mean)
    assert_array_equal(cov, expected_cov)
    standardizer = make_standardizer(X, False, batch_size)
    assert_array_equal(standardizer.mean, expected_mean)
    assert_array_equal(standardizer.scale, np.sqrt(np.diag(expected_cov)))


@pytest.mark.parametrize("batch_size", [1000, 64])
def test_ordinary_target_gives_the_plain_moments_bit_for_bit(X, batch_size):
    y = X[:, 3] * 7.0
    mean = float(batched_sum(y, batch_size, lambda b: np.sum(b, dtype=np.float64))) / 1000
    squares = float(batched_sum(y, batch_size, lambda b: np.sum((b - mean) ** 2)))
    assert vector_moments(y, batch_size) == (mean, float(np.sqrt(squares / 1000)))
    assert target_scaling(y, batch_size) == (mean, float(np.sqrt(squares / 1000)))


# ------------------------------------------------------------ the float range
@pytest.mark.parametrize("factor", [1e300, 1e-300, 1e200, 1e-200])
def test_moments_do_not_overflow_or_underflow(X, factor):
    # Squares of 1e300 overflow and squares of 1e-300 underflow; the moments of
    # X * factor are those of X times factor all the same.
    standardizer = make_standardizer(X * factor, False, 128)
    assert_allclose(standardizer.mean, X.mean(axis=0) * factor, rtol=1e-13)
    if factor > 1e-300:
        assert_allclose(standardizer.scale, X.std(axis=0) * factor, rtol=1e-13)
    mean, std = vector_moments(X[:, 1] * factor, 128)
    assert mean == pytest.approx(X[:, 1].mean() * factor, rel=1e-13)
    assert std == pytest.approx(X[:, 1].std() * factor, rel=1e-12)


def test_covariance_beyond_the_float_range_is_inf_not_nan(X):
    mean, cov = column_moments(X * 1e300, 100)
    assert np.all(np.isfinite(mean))
    assert np.all(np.isposinf(np.diag(cov)))
    assert not np.any(np.isnan(cov))


def test_sums_that_overflow_are_redone_on_scaled_values():
    # n * 1e308 overflows the plain sum; the mean and spread do not.
    rng = np.random.default_rng(1)
    u = rng.uniform(0.5, 1.5, size=(5000, 2))
    X = u * [1e308, 1.0]
    standardizer = make_standardizer(X, False, 512)
    assert_allclose(standardizer.mean, u.mean(axis=0) * [1e308, 1.0], rtol=1e-13)
    assert_allclose(standardizer.scale, u.std(axis=0) * [1e308, 1.0], rtol=1e-12)
    mean, std = vector_moments(X[:, 0], 512)
    assert mean == pytest.approx(u[:, 0].mean() * 1e308, rel=1e-13)
    assert std == pytest.approx(u[:, 0].std() * 1e308, rel=1e-12)


def test_deviations_beyond_the_float_range_are_refused_with_a_rescaling():
    # Mean 0.85e308: the rows at -1.7e308 are 2.55e308 away, which no float holds.
    column = np.where(np.arange(400) % 4 == 0, -1.7e308, 1.7e308)
    X = np.c_[np.arange(400.0), column]
    with pytest.raises(ValueError, match=r"column 1 of X .*overflows float64.*divide it by 1e308"):
        make_standardizer(X, False, 100)
    with pytest.raises(ValueError, match=r"values of y .*overflows float64.*divide it by 1e308"):
        target_scaling(column, 100)


def test_spread_below_the_normal_range_is_refused_with_a_rescaling():
    rng = np.random.default_rng(2)
    X = np.c_[rng.standard_normal(300), rng.standard_normal(300) * 1e-310]
    with pytest.raises(ValueError, match=r"column 1 of X .*smallest normal.*multiply it by 1e3"):
        make_standardizer(X, False, 100)
    with pytest.raises(ValueError, match=r"values of y .*smallest normal.*multiply it by 1e3"):
        target_scaling(X[:, 1], 100)


def test_float32_spread_below_its_normal_range_suggests_float64():
    rng = np.random.default_rng(3)
    X = (rng.standard_normal((300, 2)) * [1.0, 1e-40]).astype(np.float32)
    assert np.any(X[:, 1] != X[0, 1])
    with pytest.raises(ValueError, match=r"column 1 of X .*float32.*or pass X as float64"):
        make_standardizer(X, False, 100)
    # Well inside the float32 range, tiny columns are fine.
    tiny = (rng.standard_normal((300, 2)) * [1.0, 1e-15]).astype(np.float32)
    scale = make_standardizer(tiny, False, 100).scale
    assert_allclose(scale, tiny.astype(np.float64).std(axis=0), rtol=1e-12)


# --------------------------------------------------------------- constancy
def test_constant_columns_are_exact_and_relative():
    n = 4000
    rng = np.random.default_rng(4)
    ulp_noise = np.where(np.arange(n) % 2 == 0, 0.0, np.spacing(1e10))
    X = np.c_[
        np.full(n, 3.7),  # the sum of 4000 copies rounds: the mean must not
        np.full(n, -1e200),  # constant and huge
        np.zeros(n),
        1e10 + ulp_noise,  # one ulp of spread: constant up to rounding
        rng.standard_normal(n) * 1e-150,  # tiny but varying: not constant
        rng.standard_normal(n) + 1e10,  # offset, spread 1e-10 of it: not constant
    ]
    # Varying by rounding only: constant, and the user is told (X + 1e15
    # dropped every column without a word).
    with pytest.warns(UserWarning, match=r"column 3 of X vary .* treated as constant \(1 col"):
        standardizer = make_standardizer(X, False, 512)
    assert standardizer.mean[0] == 3.7 and standardizer.mean[1] == -1e200
    assert standardizer.mean[2] == 0.0
    assert_array_equal(standardizer.scale[:4], [3.7, 1e200, 1.0, standardizer.mean[3]])
    assert_allclose(standardizer.scale[4:], X[:, 4:].std(axis=0), rtol=1e-6)
    # The constant columns map to (about) 0, whatever their magnitude.
    X_pre = standardizer.apply(X)
    assert_array_equal(X_pre[:, :3], 0.0)
    assert np.max(np.abs(X_pre[:, 3])) <= 1e-15
    assert_allclose(X_pre[:, 4:].std(axis=0), 1.0, rtol=1e-6)


def test_constancy_does_not_depend_on_the_other_columns():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((500, 3)) * [1e150, 1e-150, 1.0]
    scale = make_standardizer(X, False, 100).scale
    assert_allclose(scale, X.std(axis=0), rtol=1e-12)


@pytest.mark.parametrize("value", [0.0, 2.5, -1e-120, 1e50, 1e200, -1e308])
def test_constant_target(value):
    y = np.full(3000, value)
    assert target_scaling(y, 256) == (value, max(1.0, abs(value)))


@pytest.mark.parametrize("scale", [1e-150, 1e-100, 1.0, 1e100, 1e250])
def test_target_is_constant_only_relative_to_its_own_mean(scale):
    rng = np.random.default_rng(6)
    unit = rng.standard_normal(2000)
    y = unit * scale
    mean, y_scale = target_scaling(y, 256)
    assert y_scale == pytest.approx(unit.std() * scale, rel=1e-12)
    # Offset by a million times its spread, it still varies.
    mean, y_scale = target_scaling(y + 1e6 * scale, 256)
    assert y_scale == pytest.approx(unit.std() * scale, rel=1e-6)
    # Offset by 1e17 times its spread, it varies by rounding only: constant.
    mean, y_scale = target_scaling(y + 1e17 * scale, 256)
    assert mean == pytest.approx(1e17 * scale, rel=1e-12)
    assert y_scale == max(1.0, abs(mean))


# ---------------------------------------------------------------- whitening
def whitened_covariance(X, standardizer):
    X_pre = standardizer.apply(X)
    return X_pre.T @ X_pre / len(X)


def test_whitening_is_scale_free():
    rng = np.random.default_rng(7)
    mixed = rng.standard_normal((2000, 4)) @ rng.standard_normal((4, 4))
    for scales in ([1.0, 1.0, 1.0, 1.0], [1e3, 1e-3, 1.0, 1e2], [1e150, 1e-150, 1e100, 1e-100]):
        X = mixed * scales
        standardizer = make_standardizer(X, True, 256)
        assert_allclose(whitened_covariance(X, standardizer), np.eye(4), atol=1e-10)
        assert_allclose(standardizer.scale, X.std(axis=0), rtol=1e-12)
        # Standardise, then whiten the correlation matrix: the whitened inputs
        # do not depend on the units of the columns.
        reference = make_standardizer(mixed, True, 256)
        assert_allclose(standardizer.apply(X), reference.apply(mixed), atol=1e-10)


def test_whitening_drops_constant_and_dependent_directions():
    rng = np.random.default_rng(8)
    Z = rng.standard_normal((1000, 2))
    X = np.c_[Z[:, 0], 1e5 * Z[:, 0], Z[:, 1], np.full(1000, 7.0)]
    standardizer = make_standardizer(X, True, 256)
    cov = whitened_covariance(X, standardizer)
    # Rank 2 (two independent columns): a projector, and the constant column is 0.
    assert_allclose(cov @ cov, cov, atol=1e-10)
    assert np.trace(cov) == pytest.approx(2.0, abs=1e-10)
    assert_array_equal(standardizer.apply(X)[:, 3], 0.0)


def test_whitening_all_constant_columns():
    standardizer = make_standardizer(np.ones((50, 3)), True, 16)
    assert_array_equal(standardizer.matrix, 0.0)
    assert_array_equal(standardizer.apply(np.ones((2, 3))), 0.0)


# --------------------------------------------------------------------- Dask
def test_dask_moments_match_memory(X):
    da = pytest.importorskip("dask.array")
    X = np.c_[X * [1e300, 1e-300, 1.0, 1.0, 1.0], np.full(len(X), 3.7)]
    lazy = da.from_array(X, chunks=(150, -1))
    with warnings.catch_warnings():
        # Dask's own scheduler may warn about unrelated things (e.g. threads).
        warnings.simplefilter("ignore", DeprecationWarning)
        on_chunks = make_standardizer(lazy, False, 64)
        in_memory = make_standardizer(X, False, 64)
        y_chunks = target_scaling(lazy[:, 0], 64)
    assert_allclose(on_chunks.mean, in_memory.mean, rtol=1e-13)
    assert_allclose(on_chunks.scale, in_memory.scale, rtol=1e-13)
    # The range is a min/max union across chunks: constancy is exact there too.
    assert on_chunks.mean[-1] == 3.7 and on_chunks.scale[-1] == 3.7
    assert y_chunks == pytest.approx(target_scaling(X[:, 0], 64), rel=1e-13)
