import dataclasses
import re

import numpy as np
import pytest

from sklearn_hierspectral._powerlaw import PowerLawFit, fit_power_law

SIZES = np.array([100, 200, 500, 1000, 2000, 5000, 10000, 20000])


def _synthetic(seed=0, exponent=-0.5, prefactor=3.0, sigma=0.1, repeats=5, floor=0.0):
    rng = np.random.default_rng(seed)
    n = np.repeat(SIZES, repeats)
    errors = (prefactor * n**exponent + floor) * rng.lognormal(sigma=sigma, size=n.size)
    return n, errors


def test_recovers_known_exponent():
    n, errors = _synthetic()
    fit = fit_power_law(n, errors, random_state=0)
    assert isinstance(fit, PowerLawFit)
    low, high = fit.exponent_ci
    assert low < -0.5 < high
    assert high - low < 0.05
    assert fit.exponent == pytest.approx(-0.5, abs=0.03)
    assert fit.prefactor_ci[0] < 3.0 < fit.prefactor_ci[1]
    assert fit.floor is None and fit.floor_ci is None
    assert fit.n_points == n.size
    assert fit.n_sizes == SIZES.size
    assert fit.n_range == (100.0, 20000.0)
    assert fit.n_bootstrap == 1000


def test_point_estimate_is_ordinary_least_squares():
    n, errors = _synthetic(seed=3)
    fit = fit_power_law(n, errors, n_bootstrap=0)
    slope, intercept = np.polyfit(np.log(n), np.log(errors), 1)
    assert fit.exponent == pytest.approx(slope)
    assert fit.prefactor == pytest.approx(np.exp(intercept))
    assert fit.exponent_ci is None and fit.prefactor_ci is None
    assert "no CI" in str(fit)


def test_interval_coverage_is_close_to_nominal():
    hits = 0
    for seed in range(30):
        n, errors = _synthetic(seed=seed, sigma=0.3)
        low, high = fit_power_law(n, errors, n_bootstrap=400, random_state=seed).exponent_ci
        hits += low < -0.5 < high
    # 95% nominal; the within-size bootstrap is a little narrow with 5 repeats.
    assert hits >= 24


def test_one_repeat_per_size_resamples_pairs():
    rng = np.random.default_rng(1)
    n = np.geomspace(100, 1e5, 12).astype(int)
    errors = 3.0 * n**-0.5 * rng.lognormal(sigma=0.1, size=n.size)
    fit = fit_power_law(n, errors, random_state=0)
    low, high = fit.exponent_ci
    assert low < -0.5 < high
    assert 0 < high - low < 0.15


def test_floor_is_recovered():
    n, errors = _synthetic(exponent=-0.8, prefactor=5.0, sigma=0.05, floor=0.01)
    fit = fit_power_law(n, errors, floor=True, n_bootstrap=200, random_state=0)
    assert fit.floor_ci[0] < 0.01 < fit.floor_ci[1]
    assert fit.exponent_ci[0] < -0.8 < fit.exponent_ci[1]
    assert fit.predict(1e9) == pytest.approx(0.01, rel=0.1)
    assert "floor" in str(fit)
    # Without the floor the law looks shallower than it is.
    plain = fit_power_law(n, errors, random_state=0)
    assert plain.exponent_ci[0] > -0.8


def test_floor_of_a_pure_power_law_is_small():
    n, errors = _synthetic(sigma=0.05)
    fit = fit_power_law(n, errors, floor=True, n_bootstrap=100, random_state=0)
    # Within noise of 0, and the interval reaches the bound.
    assert 0.0 <= fit.floor < 0.1 * errors.min()
    assert fit.floor_ci[0] == 0.0
    assert fit.exponent == pytest.approx(-0.5, abs=0.05)


def test_n_range_restricts_the_fit():
    n = np.repeat(SIZES, 3)
    # Slope -1 up to n = 1000, flat afterwards.
    errors = np.where(n <= 1000, 10.0 / n, 0.01) * np.tile([0.95, 1.0, 1.05], SIZES.size)
    fit = fit_power_law(n, errors, n_range=(None, 1000), random_state=0)
    assert fit.exponent == pytest.approx(-1.0, abs=1e-8)
    assert fit.n_range == (100.0, 1000.0)
    assert fit.n_points == 12
    assert fit.n_sizes == 4
    fit_all = fit_power_law(n, errors, random_state=0)
    assert fit_all.exponent > -0.8
    fit_mid = fit_power_law(n, errors, n_range=(150, 1500), random_state=0)
    assert fit_mid.n_range == (200.0, 1000.0)


def test_bootstrap_is_reproducible():
    n, errors = _synthetic()
    a = fit_power_law(n, errors, random_state=42)
    b = fit_power_law(n, errors, random_state=42)
    c = fit_power_law(n, errors, random_state=43)
    assert a == b
    assert a.exponent_ci != c.exponent_ci
    assert a.exponent == c.exponent
    d = fit_power_law(n, errors, random_state=np.random.RandomState(42))
    assert d.exponent_ci == a.exponent_ci
    fa = fit_power_law(n, errors, floor=True, n_bootstrap=30, random_state=0)
    fb = fit_power_law(n, errors, floor=True, n_bootstrap=30, random_state=0)
    assert fa == fb


def test_confidence_level_widens_interval():
    n, errors = _synthetic()
    narrow = fit_power_law(n, errors, confidence_level=0.5, random_state=0)
    wide = fit_power_law(n, errors, confidence_level=0.99, random_state=0)
    assert wide.exponent_ci[0] < narrow.exponent_ci[0]
    assert wide.exponent_ci[1] > narrow.exponent_ci[1]
    assert "(99% CI" in str(wide)


def test_predict_str_and_frozen():
    n, errors = _synthetic()
    fit = fit_power_law(n, errors, random_state=0)
    assert isinstance(fit.predict(1000), float)
    grid = np.array([10.0, 1000.0])
    np.testing.assert_allclose(fit.predict(grid), fit.prefactor * grid**fit.exponent)
    text = str(fit)
    assert re.search(r"exponent -0\.\d+ \[-0\.\d+, -0\.\d+\]", text)
    assert "(95% CI" in text and "40 points" in text
    with pytest.raises(dataclasses.FrozenInstanceError):
        fit.exponent = 1.0
    with pytest.raises(ValueError, match="positive"):
        fit.predict(0)


def test_accepts_lists_and_pandas():
    pd = pytest.importorskip("pandas")
    n, errors = _synthetic()
    ref = fit_power_law(n, errors, random_state=0)
    assert fit_power_law(list(n), list(errors), random_state=0) == ref
    assert fit_power_law(pd.Series(n), pd.Series(errors), random_state=0) == ref


@pytest.mark.parametrize(
    "n, errors, kwargs, match",
    [
        ([1, 2, 3], [0.1, 0.0, 0.05], {}, r"errors must be positive.*errors\[1\]"),
        ([1, 0, 3], [0.1, 0.2, 0.05], {}, r"n_samples must be positive.*n_samples\[1\]"),
        ([1, 2, 3], [0.1, np.nan, 0.05], {}, r"errors contains 1 NaN"),
        ([1, np.inf, 3], [0.1, 0.2, 0.05], {}, r"n_samples contains 1 NaN or infinite"),
        ([1, 2, 3], [0.1, 0.2], {}, r"same length; got 3 and 2"),
        ([5, 5, 5], [0.1, 0.2, 0.3], {}, r"at least 2 distinct sample sizes; got 1"),
        ([1, 2, 3], [0.3, 0.2, 0.1], {"n_range": (10, 20)}, r"with 10 <= n <= 20; got 0"),
        ([1, 2], [0.3, 0.2], {"floor": True}, r"with a floor needs at least 3"),
        ([1, 2, 3], [0.3, 0.2, 0.1], {"n_range": (3, 1)}, r"low <= high"),
        ([1, 2, 3], [0.3, 0.2, 0.1], {"n_range": 5}, r"pair"),
        ([1, 2, 3], [0.3, 0.2, 0.1], {"confidence_level": 95}, r"confidence_level"),
        ([1, 2, 3], [0.3, 0.2, 0.1], {"n_bootstrap": -1}, r"n_bootstrap"),
        ([[1, 2, 3]], [[0.3, 0.2, 0.1]], {}, r"1-D"),
    ],
)
def test_bad_input(n, errors, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit_power_law(n, errors, **kwargs)


def test_exact_fit_warns_about_degenerate_interval():
    with pytest.warns(UserWarning, match="degenerate"):
        fit = fit_power_law([10, 100], [1.0, 0.1], random_state=0)
    assert fit.exponent == pytest.approx(-1.0)


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_out_of_range_seed_names_random_state(seed):
    n, errors = _synthetic()
    with pytest.raises(
        ValueError, match=r"random_state must be None, an int in \[0, 2\*\*32 - 1\]"
    ):
        fit_power_law(n, errors, random_state=seed)


@pytest.mark.parametrize("seed", ["a", 1.5, True])
def test_random_state_of_the_wrong_type(seed):
    n, errors = _synthetic()
    with pytest.raises(TypeError, match="random_state must be None, an int"):
        fit_power_law(n, errors, random_state=seed)


def test_accepts_a_generator_and_keeps_int_seeds():
    n, errors = _synthetic()
    a = fit_power_law(n, errors, random_state=np.random.default_rng(0))
    b = fit_power_law(n, errors, random_state=np.random.default_rng(0))
    assert a == b
    assert a.exponent_ci[0] < -0.5 < a.exponent_ci[1]
    floor = fit_power_law(
        n, errors, floor=True, n_bootstrap=20, random_state=np.random.default_rng(1)
    )
    assert floor.n_bootstrap == 20
    # An int seed draws from RandomState(seed), as before Generators were taken.
    assert fit_power_law(n, errors, random_state=3) == fit_power_law(
        n, errors, random_state=np.random.RandomState(3)
    )


@pytest.mark.parametrize(
    "value, match",
    [
        (None, "n_samples must be numbers"),
        ("a", "n_samples must be numbers"),
        (["1", 2], "n_samples must be numbers"),
        (True, "bools are not sample sizes"),
        ([True, False], "bools, which are not sample sizes"),
        (1 + 2j, "n_samples must be numbers"),
    ],
)
def test_predict_refuses_non_numbers(value, match):
    fit = fit_power_law(*_synthetic(), n_bootstrap=0)
    with pytest.raises(TypeError, match=match):
        fit.predict(value)
