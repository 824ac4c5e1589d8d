"""Tests of the SPEC section 4 predictions, against values computed by hand."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from sklearn_hierspectral import _theory


# ---------------------------------------------------------------- thresholds
def test_threshold_exponents_gamma_zero():
    # d = 16, p = 4: eps = log 4 / log 16 = 1/2, so every alpha_i = 2 + 1/2.
    alphas = _theory.threshold_exponents(16, 4, 0.0)
    assert alphas.shape == (4,)
    assert_allclose(alphas, [2.5, 2.5, 2.5, 2.5], rtol=1e-14)
    # n_i = 16^2.5 = 4^5 = 1024 for all i.
    assert_allclose(_theory.threshold_samples(16, 4, 0.0), [1024.0] * 4, rtol=1e-12)


def test_threshold_exponents_small_gamma():
    # d = 16, p = 4, gamma = 1/4: eps = 1/2, (1 - 2 gamma) eps = 1/4,
    # 2 gamma log(i)/log(16) = log_16(i) / 2:
    #   i=1: 0, i=2: 1/8, i=3: log_16(3)/2 = 0.19812..., i=4: 1/4.
    # alpha_i = 2.25 + those.
    alphas = _theory.threshold_exponents(16, 4, 0.25)
    expected = [2.25, 2.375, 2.25 + 0.5 * np.log(3) / np.log(16), 2.5]
    assert_allclose(alphas, expected, rtol=1e-14)
    assert_allclose(alphas[2], 2.448120, atol=1e-6)
    # n_i = 16^2.25 * i^(2 gamma) = 512 sqrt(i).
    assert_allclose(
        _theory.threshold_samples(16, 4, 0.25), 512.0 * np.sqrt([1, 2, 3, 4]), rtol=1e-12
    )


def test_small_gamma_is_continuous_with_gamma_zero():
    # As gamma -> 0 the middle regime tends to 2 + eps for every direction.
    assert_allclose(
        _theory.threshold_exponents(16, 4, 1e-12),
        _theory.threshold_exponents(16, 4, 0.0),
        atol=1e-10,
    )


@pytest.mark.parametrize(
    "decay, expected_n",
    [
        # gamma >= 1/2: alpha_i = 2 + 2 gamma log10(i) at d = 10, so
        # n_i = 10^2 * i^(2 gamma).
        (0.5, [100.0, 200.0, 300.0, 400.0]),  # 100 i
        (1.0, [100.0, 400.0, 900.0, 1600.0]),  # 100 i^2
        (2.0, [100.0, 1600.0, 8100.0, 25600.0]),  # 100 i^4
    ],
)
def test_threshold_large_gamma(decay, expected_n):
    alphas = _theory.threshold_exponents(10, 4, decay)
    expected_alpha = 2.0 + 2.0 * decay * np.log10([1, 2, 3, 4])
    assert_allclose(alphas, expected_alpha, rtol=1e-14)
    # gamma = 1: alpha = 2, 2.60206, 2.95424, 3.20412 (2 + 2 log10 i).
    if decay == 1.0:
        assert_allclose(alphas, [2.0, 2.60206, 2.95424, 3.20412], atol=1e-5)
    n = _theory.threshold_samples(10, 4, decay)
    assert_allclose(n, expected_n, rtol=1e-12)
    # threshold_samples is d^alpha.
    assert_allclose(n, 10.0**alphas, rtol=1e-14)


def test_threshold_regime_boundary_at_one_half():
    # Just below 1/2 the middle formula applies, whose eps term vanishes at 1/2:
    # the two regimes agree there (continuity), and the latent count matters
    # only below 1/2.
    below = _theory.threshold_exponents(10, 4, 0.5 - 1e-12)
    at = _theory.threshold_exponents(10, 4, 0.5)
    assert_allclose(below, at, atol=1e-10)
    # Below 1/2 eps enters: gamma = 1/4, d = 10, p = 4 -> alpha_1 = 2 + log10(4)/2.
    assert_allclose(
        _theory.threshold_exponents(10, 4, 0.25)[0], 2 + 0.5 * np.log10(4), rtol=1e-14
    )
    # Above 1/2 it does not: alpha_1 = 2 whatever p.
    assert _theory.threshold_exponents(10, 7, 0.75)[0] == pytest.approx(2.0)


def test_thresholds_non_decreasing_and_hermite_degree():
    for decay in (0.0, 0.1, 0.5, 1.3):
        alphas = _theory.threshold_exponents(30, 5, decay)
        assert np.all(np.diff(alphas) >= 0)
    # q replaces 2: the whole curve shifts by q - 2.
    assert_allclose(
        _theory.threshold_exponents(10, 4, 1.0, hermite_degree=3),
        _theory.threshold_exponents(10, 4, 1.0) + 1.0,
        rtol=1e-14,
    )


def test_scaling_window():
    lo, hi = _theory.scaling_window(10, 4, 1.0)
    assert lo == pytest.approx(2.0)
    assert hi == pytest.approx(2.0 + 2.0 * np.log10(4))
    assert isinstance(lo, float) and isinstance(hi, float)


def test_sample_exponent():
    assert _theory.sample_exponent(1000, 10) == pytest.approx(3.0)
    assert_allclose(_theory.sample_exponent([16, 256, 4096], 16), [1.0, 2.0, 3.0])


# ---------------------------------------------------- predicted recovered count
def test_predicted_n_recovered_large_gamma_by_hand():
    # d = 10, p = 3, gamma = 1: n_i = 100 i^2 = 100, 400, 900.
    # m = floor(10^((log10 n - 2) / 2)) = floor(sqrt(n) / 10), clipped to [0, 3].
    cases = {
        1: 0,
        99: 0,
        100: 1,  # exactly n_1
        101: 1,
        399: 1,
        400: 2,  # exactly n_2
        401: 2,
        899: 2,
        900: 3,  # exactly n_3
        901: 3,
        10_000: 3,  # floor(10) = 10 clipped at p = 3
        10**12: 3,
    }
    for n, m in cases.items():
        got = _theory.predicted_n_recovered(n, 10, 3, 1.0)
        assert got == m, (n, got, m)
        assert isinstance(got, int)


@pytest.mark.parametrize(
    "d, p, decay", [(16, 4, 0.0), (16, 4, 0.25), (10, 5, 0.5), (30, 5, 1.0), (7, 6, 2.5)]
)
def test_predicted_n_recovered_at_and_around_each_threshold(d, p, decay):
    thresholds = _theory.threshold_samples(d, p, decay)
    for i, n_i in enumerate(thresholds, start=1):
        # At n = n_i direction i counts. With equal thresholds (gamma = 0) every
        # direction sharing n_i counts too.
        expected_at = int(np.sum(thresholds <= n_i * (1 + 1e-12)))
        assert _theory.predicted_n_recovered(n_i, d, p, decay) == expected_at >= i
        # Just above: unchanged unless the next threshold is also crossed.
        assert _theory.predicted_n_recovered(n_i * (1 + 1e-6), d, p, decay) == int(
            np.sum(thresholds <= n_i * (1 + 1e-6))
        )
        # Just below: direction i is not yet recovered.
        below = _theory.predicted_n_recovered(n_i * (1 - 1e-6), d, p, decay)
        assert below == int(np.sum(thresholds < n_i * (1 - 1e-6))) <= i - 1


def test_predicted_n_recovered_gamma_zero_all_at_once():
    # d = 16, p = 4, gamma = 0: nothing below 1024, everything from 1024 on.
    assert _theory.predicted_n_recovered(1023, 16, 4, 0.0) == 0
    assert _theory.predicted_n_recovered(1024, 16, 4, 0.0) == 4
    assert _theory.predicted_n_recovered(10**9, 16, 4, 0.0) == 4


def test_predicted_n_recovered_small_gamma_by_hand():
    # d = 16, p = 4, gamma = 1/4: n_i = 512 sqrt(i) = 512, 724.08, 886.81, 1024.
    assert _theory.predicted_n_recovered(511, 16, 4, 0.25) == 0
    assert _theory.predicted_n_recovered(512, 16, 4, 0.25) == 1
    assert _theory.predicted_n_recovered(724, 16, 4, 0.25) == 1
    assert _theory.predicted_n_recovered(725, 16, 4, 0.25) == 2
    assert _theory.predicted_n_recovered(886, 16, 4, 0.25) == 2
    assert _theory.predicted_n_recovered(887, 16, 4, 0.25) == 3
    assert _theory.predicted_n_recovered(1023, 16, 4, 0.25) == 3
    assert _theory.predicted_n_recovered(1024, 16, 4, 0.25) == 4
    assert _theory.predicted_n_recovered(10**6, 16, 4, 0.25) == 4


def test_predicted_n_recovered_vectorised():
    n = np.array([[50, 100, 400], [899, 900, 10**7]])
    m = _theory.predicted_n_recovered(n, 10, 3, 1.0)
    assert m.shape == (2, 3)
    assert np.issubdtype(m.dtype, np.integer)
    assert m.tolist() == [[0, 1, 2], [2, 3, 3]]
    assert _theory.predicted_n_recovered([1023, 1024], 16, 4, 0.0).tolist() == [0, 4]


@pytest.mark.parametrize("decay", [1e10, 1e200, 1e308, np.float64(1e308)])
def test_huge_decay_is_the_limit_of_one_direction(decay):
    # 2 * decay overflows from 8.9e307 on; the limit gamma -> inf is direction 1
    # at alpha_1 = 2 (n = d^2 = 100 at d = 10) and the others out of reach.
    # (Underflow to 0 of j^(-2 gamma) is that limit, not an error.)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        alphas = _theory.threshold_exponents(10, 3, decay)
        assert alphas[0] == 2.0
        assert np.all(alphas[1:] > 1e9) and np.all(np.diff(alphas) >= 0)
        assert not np.any(np.isnan(alphas))
        # Just below n_1 nothing is recovered (the closed form
        # d^((alpha - alpha_1) / (2 gamma)) rounds to 1 on both sides of n_1).
        assert _theory.predicted_n_recovered([99, 100, 10**300], 10, 3, decay).tolist() == [
            0, 1, 1,
        ]
        # All the variance is in direction 1: j^(-2 gamma) = 0 for j > 1.
        assert_allclose(_theory.tail_error([0, 1, 3], 3, decay), [1.0, 0.0, 0.0])
        assert_allclose(_theory.predicted_error([99, 100], 10, 3, decay), [1.0, 0.0])
        assert _theory.scaling_window(10, 3, decay)[0] == 2.0
        assert _theory.predicted_exponent(decay) == pytest.approx(-1.0)


def test_threshold_out_of_float_range_is_infinite_samples():
    # alpha_2 = 2 + 2 * 1e308 * log 3 / log 2 overflows: no finite n reaches it.
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        n = _theory.threshold_samples(2, 2, 1e308)
    assert n[0] == 4.0 and n[1] == np.inf


# -------------------------------------------------------------- predicted error
def test_tail_error_by_hand():
    # gamma = 1, p = 3: S = 1 + 1/4 + 1/9 = 49/36.
    # R(0) = 1, R(1) = (1/4 + 1/9) / S = 13/49, R(2) = (1/9) / S = 4/49, R(3) = 0.
    assert _theory.tail_error(0, 3, 1.0) == pytest.approx(1.0)
    assert _theory.tail_error(1, 3, 1.0) == pytest.approx(13 / 49)
    assert _theory.tail_error(2, 3, 1.0) == pytest.approx(4 / 49)
    assert _theory.tail_error(3, 3, 1.0) == pytest.approx(0.0, abs=1e-15)
    assert_allclose(_theory.tail_error([0, 1, 2, 3], 3, 1.0), [1, 13 / 49, 4 / 49, 0])
    # gamma = 0: each direction carries 1/p of the variance.
    assert_allclose(_theory.tail_error(np.arange(6), 5, 0.0), [1, 0.8, 0.6, 0.4, 0.2, 0])
    # gamma = 1/4, p = 4: weights j^-1/2 = 1, .70711, .57735, .5, S = 2.78446;
    # R(2) = (.57735 + .5) / 2.78446 = .38692.
    assert _theory.tail_error(2, 4, 0.25) == pytest.approx(0.386916, abs=1e-6)


def test_predicted_error_by_hand():
    # d = 10, p = 3, gamma = 1, thresholds 100, 400, 900 (see above).
    assert _theory.predicted_error(99, 10, 3, 1.0) == pytest.approx(1.0)
    assert _theory.predicted_error(100, 10, 3, 1.0) == pytest.approx(13 / 49)
    assert _theory.predicted_error(400, 10, 3, 1.0) == pytest.approx(4 / 49)
    assert _theory.predicted_error(900, 10, 3, 1.0) == pytest.approx(0.0, abs=1e-15)
    errs = _theory.predicted_error(np.array([99, 100, 400, 900]), 10, 3, 1.0)
    assert errs.shape == (4,)
    assert_allclose(errs, [1, 13 / 49, 4 / 49, 0], atol=1e-15)
    # Non-increasing in n.
    n = np.logspace(1, 5, 60)
    assert np.all(np.diff(_theory.predicted_error(n, 30, 5, 1.0)) <= 0)
    # gamma = 0: 1 then 0.
    assert _theory.predicted_error(1023, 16, 4, 0.0) == pytest.approx(1.0)
    assert _theory.predicted_error(1024, 16, 4, 0.0) == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize(
    "decay, exponent",
    [
        (1.0, -0.5),  # -(1 - 1/2)
        (2.0, -0.75),  # -(1 - 1/4)
        (0.75, -1.0 / 3.0),  # -(1 - 2/3)
        (0.5, 0.0),
        (0.25, -1.0),
        (0.0, -1.0),
    ],
)
def test_predicted_exponent(decay, exponent):
    assert _theory.predicted_exponent(decay) == pytest.approx(exponent, abs=1e-15)


def test_predicted_exponent_matches_the_staircase_slope():
    # For gamma > 1/2 and a large p, R(m) ~ m^(1 - 2 gamma) with m ~ n^(1/(2 gamma)),
    # so log R against log n has slope -(1 - 1/(2 gamma)) inside the window.
    d, p, decay = 1000, 10**4, 1.0
    # alpha from 3 to 4: m = floor(sqrt(n) / d) from 31 to 1000, well below p.
    n = np.logspace(9, 12, 25)
    err = _theory.predicted_error(n, d, p, decay)
    slope = np.polyfit(np.log(n), np.log(err), 1)[0]
    assert slope == pytest.approx(_theory.predicted_exponent(decay), abs=0.03)


# -------------------------------------------------------------- bad arguments
@pytest.mark.parametrize(
    "args, match",
    [
        ((1, 3, 1.0), "n_features >= 2"),
        ((0, 3, 1.0), "n_features >= 2"),
        ((10.0, 3, 1.0), "n_features"),
        ((10, 0, 1.0), "n_latent"),
        ((10, 2.5, 1.0), "n_latent"),
        ((10, 3, -0.5), "decay"),
        ((10, 3, np.nan), "decay"),
        ((10, 3, np.inf), "decay"),
        ((10, 3, "1"), "decay"),
    ],
)
def test_bad_arguments_raise(args, match):
    for func in (_theory.threshold_exponents, _theory.threshold_samples, _theory.scaling_window):
        with pytest.raises(ValueError, match=match):
            func(*args)
    for func in (_theory.predicted_n_recovered, _theory.predicted_error):
        with pytest.raises(ValueError, match=match):
            func(1000, *args)


@pytest.mark.parametrize("n", [0, -5, [10, 0], np.nan, [10, np.nan]])
def test_nonpositive_sample_size_raises(n):
    with pytest.raises(ValueError, match="positive"):
        _theory.sample_exponent(n, 10)
    with pytest.raises(ValueError, match="positive"):
        _theory.predicted_n_recovered(n, 10, 3, 1.0)
    with pytest.raises(ValueError, match="positive"):
        _theory.predicted_error(n, 10, 3, 1.0)


@pytest.mark.parametrize("d", [1, 0, -3])
def test_sample_exponent_rejects_degenerate_dimension(d):
    # log d <= 0 would give inf, nan or a sign flip.
    with pytest.raises(ValueError, match="n_features"):
        _theory.sample_exponent(100, d)


@pytest.mark.parametrize("m", [-1, 4, 1.5, [0, 5]])
def test_tail_error_rejects_out_of_range_counts(m):
    with pytest.raises(ValueError, match="n_recovered"):
        _theory.tail_error(m, 3, 1.0)


def test_tail_error_rejects_bad_decay_and_latent():
    with pytest.raises(ValueError, match="decay"):
        _theory.tail_error(1, 3, -1.0)
    with pytest.raises(ValueError, match="n_latent"):
        _theory.tail_error(0, 0, 1.0)


@pytest.mark.parametrize("decay", [-0.1, np.nan, np.inf, "1", None])
def test_predicted_exponent_bad_decay(decay):
    with pytest.raises(ValueError, match="decay"):
        _theory.predicted_exponent(decay)
