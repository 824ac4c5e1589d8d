"""Tests of the hierarchical target (SPEC section 2) and its dataset object."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sklearn_hierspectral import (
    HierarchicalTargetDataset,
    make_hierarchical_regression,
)
from sklearn_hierspectral import _theory
from sklearn_hierspectral._hermite import sym_to_vec


def _naive_s(dataset, X):
    """s(x) = sum_i b_i (h_i(x)^2 - 1), h_i = (x^T A_i x - tr A_i) / sqrt(2)."""
    X = np.asarray(X, dtype=np.float64)
    A = dataset.latent_matrices
    H = (np.einsum("ni,kij,nj->nk", X, A, X) - np.trace(A, axis1=1, axis2=2)) / np.sqrt(2)
    return (H**2 - 1.0) @ dataset.weights


def _se_check(samples, target, n_se=5.0):
    """|mean(samples) - target| < n_se standard errors, columnwise.

    se = std(samples) / sqrt(n); at 5 se the two-sided Gaussian tail is ~6e-7
    per column, so with the fixed seeds below a failure means a real bias.
    """
    samples = np.asarray(samples)
    n = samples.shape[0]
    mean = samples.mean(axis=0)
    se = samples.std(axis=0) / np.sqrt(n)
    assert np.all(np.abs(mean - target) < n_se * se), (mean, target, se)


# ------------------------------------------------------------------ structure
def test_shapes():
    ds = HierarchicalTargetDataset(7, n_latent=4, random_state=0)
    D = 7 * 8 // 2
    assert ds.n_latent == 4
    assert ds.latent_matrices.shape == (4, 7, 7)
    assert ds.latent_directions.shape == (4, D)
    assert ds.weights.shape == (4,)
    X, y = ds.sample(25, random_state=0)
    assert X.shape == (25, 7) and y.shape == (25,)
    assert X.dtype == np.float64 and y.dtype == np.float64
    assert ds.latent_features(X).shape == (25, 4)
    assert ds.target(X).shape == (25,)


@pytest.mark.parametrize("d, p", [(6, 3), (3, 6), (12, 10)])
def test_latent_matrices_symmetric_and_frobenius_orthonormal(d, p):
    # (3, 6): p = D, the latent matrices are a basis of all symmetric 3x3 matrices.
    ds = HierarchicalTargetDataset(d, n_latent=p, random_state=1)
    A = ds.latent_matrices
    assert_allclose(A, np.swapaxes(A, 1, 2), atol=0)
    gram = np.einsum("aij,bij->ab", A, A)
    assert_allclose(gram, np.eye(p), atol=1e-12)
    # The vector form is the same thing through the isometry.
    assert_allclose(sym_to_vec(A), ds.latent_directions, atol=1e-14)
    assert_allclose(ds.latent_directions @ ds.latent_directions.T, np.eye(p), atol=1e-12)


@pytest.mark.parametrize("decay", [0.0, 0.3, 0.5, 1.0, 2.0])
def test_weights_follow_power_law(decay):
    p = 6
    ds = HierarchicalTargetDataset(10, n_latent=p, decay=decay, random_state=2)
    i = np.arange(1, p + 1)
    expected_abs = i ** (-decay) / np.sqrt(2.0 * np.sum(i ** (-2.0 * decay)))
    assert_allclose(np.abs(ds.weights), expected_abs, rtol=1e-14)
    assert set(np.sign(ds.weights)) <= {-1.0, 1.0}
    # |b| non-increasing (strictly decreasing when gamma > 0).
    diffs = np.diff(np.abs(ds.weights))
    assert np.all(diffs < 0) if decay > 0 else np.allclose(diffs, 0)
    # Normalisation: 2 sum b_i^2 = 1 (Var s = 1 for independent Gaussian h_i).
    assert 2.0 * np.sum(ds.weights**2) == pytest.approx(1.0)


def test_weight_signs_are_random():
    # 20 seeds x 5 signs: all equal would have probability 2^-99.
    signs = np.concatenate(
        [np.sign(HierarchicalTargetDataset(10, n_latent=5, random_state=s).weights) for s in range(20)]
    )
    assert np.any(signs > 0) and np.any(signs < 0)


@pytest.mark.parametrize(
    "d, eps, expected",
    [(30, 0.5, 5), (10, 0.5, 3), (12, 0.5, 3), (20, 0.5, 4), (16, 0.5, 4), (20, 0.7, 8), (9, 0.0, 1)],
)
def test_default_n_latent(d, eps, expected):
    # round(30^.5 = 5.48) = 5, round(10^.5 = 3.16) = 3, round(12^.5 = 3.46) = 3,
    # round(20^.5 = 4.47) = 4, 16^.5 = 4, round(20^.7 = 8.14) = 8, 9^0 = 1.
    ds = HierarchicalTargetDataset(d, latent_exponent=eps, random_state=0)
    assert ds.n_latent == expected
    assert ds.latent_matrices.shape[0] == expected


def test_defaults():
    ds = HierarchicalTargetDataset(random_state=0)
    assert ds.n_features == 30 and ds.n_latent == 5
    assert ds.decay == 1.0 and ds.link == "identity" and ds.noise == 0.0
    X, y = ds.sample(10, random_state=0)
    assert_allclose(y, ds.target(X), rtol=1e-14)


# ------------------------------------------------------------------ statistics
def test_inputs_are_standard_gaussian():
    # se(mean) = 1/sqrt(n) = .0032; se of E[x_i x_j] is sqrt(Var(x_i x_j)/n),
    # Var = 1 off the diagonal and 2 on it; _se_check uses the empirical se.
    ds = HierarchicalTargetDataset(5, random_state=3)
    X, _ = ds.sample(100_000, random_state=4)
    _se_check(X, 0.0)
    prods = (X[:, :, None] * X[:, None, :]).reshape(len(X), -1)
    _se_check(prods, np.eye(5).ravel())


def test_latent_features_are_white():
    # h_i = <a_i, Z(x)> with orthonormal a_i and white Z: mean 0, E h_i h_j = delta_ij.
    # Each moment is checked within 5 empirical standard errors (n = 100,000;
    # se(E h_i^2) ~ sqrt(Var(h^2)/n) ~ 0.01). A feature missing the trace
    # correction would have mean tr(A)/sqrt(2) and variance 1 + tr(A)^2/2;
    # without the 1/sqrt(2) the variance would be 2.
    ds = HierarchicalTargetDataset(8, n_latent=4, random_state=5)
    # Make the trace check bite: the latent matrices here have non-zero traces.
    assert np.max(np.abs(np.trace(ds.latent_matrices, axis1=1, axis2=2))) > 0.1
    X, _ = ds.sample(100_000, random_state=6)
    H = ds.latent_features(X)
    _se_check(H, 0.0)
    prods = (H[:, :, None] * H[:, None, :]).reshape(len(H), -1)
    _se_check(prods, np.eye(4).ravel())


def test_latent_features_match_naive():
    ds = HierarchicalTargetDataset(6, n_latent=3, random_state=7)
    X, _ = ds.sample(20, random_state=8)
    A = ds.latent_matrices
    expected = np.array(
        [[(x @ A[k] @ x - np.trace(A[k])) / np.sqrt(2) for k in range(3)] for x in X]
    )
    assert_allclose(ds.latent_features(X), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "link, g",
    [
        ("identity", lambda s: s),
        ("tanh", np.tanh),
        ("quadratic", lambda s: s**2 + s - 1.0),
        (np.sin, np.sin),
        (lambda s: 3.0 * s - s**3, lambda s: 3.0 * s - s**3),
    ],
)
def test_target_is_link_of_second_layer(link, g):
    ds = HierarchicalTargetDataset(6, n_latent=3, link=link, random_state=9)
    X, y = ds.sample(300, random_state=10)
    s = _naive_s(ds, X)
    assert np.std(s) > 0.1  # a non-trivial range of s
    assert_allclose(y, g(s), rtol=1e-10, atol=1e-10)
    assert_allclose(ds.target(X), g(s), rtol=1e-10, atol=1e-10)
    assert_allclose(ds.second_layer(X), s, rtol=1e-10, atol=1e-10)


def test_quadratic_link_hand_value():
    # g(s) = s^2 + s - 1: g(0) = -1, g(1) = 1, g(-2) = 1.
    ds = HierarchicalTargetDataset(4, n_latent=2, link="quadratic", random_state=0)
    assert_allclose(ds._link(np.array([0.0, 1.0, -2.0])), [-1.0, 1.0, 1.0])


@pytest.mark.parametrize("noise", [0.3, 2.0])
def test_noise_has_requested_std(noise):
    # y - g(s(x)) is exactly the noise. For n Gaussian draws the sample std has
    # se ~ sigma / sqrt(2 n) (~0.0022 sigma at n = 100,000); we allow 5 se.
    # The mean has se sigma / sqrt(n) and the correlation with the clean target
    # se ~ 1 / sqrt(n): 5 se each.
    n = 100_000
    ds = HierarchicalTargetDataset(6, n_latent=3, noise=noise, random_state=11)
    X, y = ds.sample(n, random_state=12)
    resid = y - ds.target(X)
    assert abs(resid.std() - noise) < 5 * noise / np.sqrt(2 * n)
    assert abs(resid.mean()) < 5 * noise / np.sqrt(n)
    assert abs(np.corrcoef(resid, ds.target(X))[0, 1]) < 5 / np.sqrt(n)
    # Gaussian: fourth standardised moment 3 (se ~ sqrt(96 / n) ~ 0.031).
    kurt = np.mean((resid / resid.std()) ** 4)
    assert abs(kurt - 3.0) < 5 * np.sqrt(96.0 / n)


def test_no_noise_means_exact_target():
    ds = HierarchicalTargetDataset(6, n_latent=3, noise=0.0, random_state=13)
    X, y = ds.sample(50, random_state=0)
    assert_array_equal(y, ds.target(X))


# ------------------------------------------------------------ reproducibility
def test_same_random_state_same_target_and_samples():
    a = HierarchicalTargetDataset(8, n_latent=3, noise=0.5, random_state=42)
    b = HierarchicalTargetDataset(8, n_latent=3, noise=0.5, random_state=42)
    assert_array_equal(a.latent_matrices, b.latent_matrices)
    assert_array_equal(a.weights, b.weights)
    Xa, ya = a.sample(40, random_state=7)
    Xb, yb = b.sample(40, random_state=7)
    assert_array_equal(Xa, Xb)
    assert_array_equal(ya, yb)
    # A seeded draw is a pure function of the seed: repeating it repeats it.
    Xa2, ya2 = a.sample(40, random_state=7)
    assert_array_equal(Xa, Xa2)
    assert_array_equal(ya, ya2)
    # A different sample seed gives different inputs.
    Xc, _ = a.sample(40, random_state=8)
    assert not np.allclose(Xa, Xc)


def test_unseeded_samples_are_fresh_but_reproducible():
    a = HierarchicalTargetDataset(5, n_latent=2, noise=0.1, random_state=3)
    b = HierarchicalTargetDataset(5, n_latent=2, noise=0.1, random_state=3)
    Xa1, ya1 = a.sample(30)
    Xa2, ya2 = a.sample(30)
    assert not np.allclose(Xa1, Xa2)
    assert not np.allclose(ya1, ya2)
    # A seeded draw in between does not disturb the dataset's own stream.
    b.sample(30)
    b.sample(30, random_state=123)
    Xb1, yb1 = HierarchicalTargetDataset(5, n_latent=2, noise=0.1, random_state=3).sample(30)
    assert_array_equal(Xa1, Xb1)
    assert_array_equal(ya1, yb1)
    Xb2, yb2 = b.sample(30)
    assert_array_equal(Xa2, Xb2)
    assert_array_equal(ya2, yb2)


def test_different_random_state_different_target():
    a = HierarchicalTargetDataset(8, n_latent=3, random_state=0)
    b = HierarchicalTargetDataset(8, n_latent=3, random_state=1)
    assert not np.allclose(a.latent_matrices, b.latent_matrices)
    X, _ = a.sample(50, random_state=0)
    assert not np.allclose(a.target(X), b.target(X))


@pytest.mark.parametrize(
    "make_state",
    [lambda: 5, lambda: np.random.RandomState(5), lambda: np.random.default_rng(5)],
)
def test_random_state_kinds_are_reproducible(make_state):
    a = HierarchicalTargetDataset(6, n_latent=2, random_state=make_state())
    b = HierarchicalTargetDataset(6, n_latent=2, random_state=make_state())
    assert_array_equal(a.latent_matrices, b.latent_matrices)
    assert_array_equal(a.sample(10)[0], b.sample(10)[0])
    assert_array_equal(
        a.sample(10, random_state=make_state())[0], b.sample(10, random_state=make_state())[0]
    )


def test_random_state_none_gives_valid_dataset():
    a = HierarchicalTargetDataset(6, n_latent=2)
    b = HierarchicalTargetDataset(6, n_latent=2)
    assert_allclose(np.einsum("aij,bij->ab", a.latent_matrices, a.latent_matrices), np.eye(2), atol=1e-12)
    assert not np.allclose(a.latent_matrices, b.latent_matrices)


# -------------------------------------------------------------------- dtypes
def test_float32_sampling():
    ds = HierarchicalTargetDataset(6, n_latent=3, noise=0.1, random_state=0)
    X, y = ds.sample(200, random_state=1, dtype=np.float32)
    assert X.dtype == np.float32 and y.dtype == np.float32
    assert ds.latent_features(X).dtype == np.float32
    # Same values up to float32 precision as the float64 target of the same inputs
    # (the noise makes y differ from target, so compare the clean parts).
    assert_allclose(ds.target(X), ds.target(X.astype(np.float64)), rtol=1e-4, atol=1e-4)
    X32, y32 = HierarchicalTargetDataset(6, n_latent=3, link=np.tanh, random_state=0).sample(
        20, random_state=1, dtype=np.float32
    )
    assert y32.dtype == np.float32


def test_integer_input_to_target_is_accepted():
    ds = HierarchicalTargetDataset(3, n_latent=2, random_state=0)
    X = np.array([[1, 0, -1], [2, 1, 0]])
    assert_allclose(ds.target(X), ds.target(X.astype(float)))


def test_target_rejects_wrong_width():
    ds = HierarchicalTargetDataset(4, n_latent=2, random_state=0)
    with pytest.raises(ValueError, match=r"\(n_samples, 4\)"):
        ds.target(np.zeros((3, 5)))
    with pytest.raises(ValueError, match=r"\(n_samples, 4\)"):
        ds.latent_features(np.zeros(4))


# ------------------------------------------------------------- invalid input
def test_too_many_latent_features():
    # d = 3: D = 6 symmetric dimensions.
    with pytest.raises(ValueError, match=r"D = d\(d\+1\)/2 = 6"):
        HierarchicalTargetDataset(3, n_latent=7, random_state=0)
    # Via the default rule: round(2^2) = 4 > D = 3.
    with pytest.raises(ValueError, match=r"round\(n_features \*\* latent_exponent\) = 4.*= 3"):
        HierarchicalTargetDataset(2, latent_exponent=2.0, random_state=0)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"decay": -0.5}, ValueError, "decay"),
        ({"decay": np.nan}, ValueError, "decay"),
        ({"decay": "1"}, TypeError, "decay"),
        ({"noise": -0.1}, ValueError, "noise"),
        ({"noise": np.inf}, ValueError, "noise"),
        ({"latent_exponent": -0.5}, ValueError, "latent_exponent"),
        ({"link": "relu"}, ValueError, "link"),
        ({"link": 3}, ValueError, "link"),
        ({"link": lambda s: 1.0}, ValueError, "callable link"),
        ({"link": lambda s: np.stack([s, s])}, ValueError, "callable link"),
        ({"n_features": 30.0}, TypeError, "n_features"),
        ({"n_features": "30"}, TypeError, "n_features"),
        ({"n_features": True}, TypeError, "n_features"),
        ({"n_features": 0}, ValueError, "n_features"),
        ({"n_latent": 0}, ValueError, "n_latent"),
        ({"n_latent": 2.5}, TypeError, "n_latent"),
        ({"random_state": "seed"}, TypeError, "random_state"),
        ({"random_state": 1.5}, TypeError, "random_state"),
        ({"random_state": True}, TypeError, "random_state"),
        ({"random_state": -1}, ValueError, "random_state"),
    ],
)
def test_invalid_parameters(kwargs, exc, match):
    params = {"n_features": 5, "random_state": 0}
    params.update(kwargs)
    n_features = params.pop("n_features")
    with pytest.raises(exc, match=match):
        HierarchicalTargetDataset(n_features, **params)


@pytest.mark.parametrize(
    "args, kwargs, exc, match",
    [
        ((0,), {}, ValueError, "n_samples"),
        ((-3,), {}, ValueError, "n_samples"),
        ((2.5,), {}, TypeError, "n_samples"),
        ((10,), {"dtype": np.int64}, ValueError, "dtype"),
        ((10,), {"dtype": np.float16}, ValueError, "dtype"),
        ((10,), {"dtype": "not-a-dtype"}, TypeError, "not-a-dtype"),
        ((10,), {"random_state": "seed"}, TypeError, "random_state"),
        ((10,), {"random_state": -2}, ValueError, "random_state"),
    ],
)
def test_invalid_sample_arguments(args, kwargs, exc, match):
    ds = HierarchicalTargetDataset(4, n_latent=2, random_state=0)
    with pytest.raises(exc, match=match):
        ds.sample(*args, **kwargs)


# -------------------------------------------------------------------- theory
@pytest.mark.parametrize("d, p, decay", [(10, 3, 1.0), (16, 4, 0.25), (16, 4, 0.0), (30, 5, 0.5)])
def test_theory_methods_delegate_to_theory(d, p, decay):
    ds = HierarchicalTargetDataset(d, n_latent=p, decay=decay, random_state=0)
    assert_allclose(ds.threshold_exponents(), _theory.threshold_exponents(d, p, decay))
    assert_allclose(ds.threshold_samples(), _theory.threshold_samples(d, p, decay))
    assert ds.scaling_window() == _theory.scaling_window(d, p, decay)
    assert ds.predicted_exponent() == _theory.predicted_exponent(decay)
    n = np.unique(np.round(np.logspace(1, 5, 30)).astype(int))
    assert_array_equal(ds.predicted_n_recovered(n), _theory.predicted_n_recovered(n, d, p, decay))
    assert_allclose(ds.predicted_error(n), _theory.predicted_error(n, d, p, decay))
    assert_allclose(ds.sample_exponent(n), _theory.sample_exponent(n, d))
    for n_i in ds.threshold_samples():
        assert ds.predicted_n_recovered(n_i) == _theory.predicted_n_recovered(n_i, d, p, decay)


def test_theory_methods_hand_values():
    # d = 10, p = 3, gamma = 1: n_i = 100 i^2; R = 1, 13/49, 4/49, 0 (see test_theory).
    ds = HierarchicalTargetDataset(10, n_latent=3, decay=1.0, random_state=0)
    assert_allclose(ds.threshold_samples(), [100.0, 400.0, 900.0], rtol=1e-12)
    assert ds.predicted_n_recovered(399) == 1
    assert ds.predicted_n_recovered(400) == 2
    assert ds.predicted_error(400) == pytest.approx(4 / 49)
    assert ds.predicted_exponent() == -0.5
    assert ds.scaling_window() == pytest.approx((2.0, 2.0 + 2.0 * np.log10(3)))


def test_theory_methods_use_the_resolved_n_latent():
    ds = HierarchicalTargetDataset(30, decay=1.0, random_state=0)  # p = 5
    assert ds.threshold_exponents().shape == (5,)
    assert ds.predicted_n_recovered(10**12) == 5


# ------------------------------------------------------------ function form
def test_make_hierarchical_regression_shapes_and_dataset():
    X, y = make_hierarchical_regression(120, 7, random_state=0)
    assert X.shape == (120, 7) and y.shape == (120,)
    X, y, ds = make_hierarchical_regression(
        120, 7, n_latent=4, decay=0.5, link="tanh", return_dataset=True, random_state=0
    )
    assert isinstance(ds, HierarchicalTargetDataset)
    assert ds.n_features == 7 and ds.n_latent == 4
    assert ds.decay == 0.5 and ds.link == "tanh" and ds.noise == 0.0
    assert_allclose(y, ds.target(X), rtol=1e-12)
    assert_allclose(y, np.tanh(_naive_s(ds, X)), rtol=1e-10, atol=1e-12)
    # Default n_latent = round(7^0.5) = 3; latent_exponent is forwarded.
    assert make_hierarchical_regression(10, 7, return_dataset=True, random_state=0)[2].n_latent == 3
    ds2 = make_hierarchical_regression(10, 20, latent_exponent=0.7, return_dataset=True, random_state=0)[2]
    assert ds2.n_latent == 8


def test_make_hierarchical_regression_noise():
    # se of the residual std ~ sigma / sqrt(2 n) = 0.0025 at n = 40,000; 5 se.
    n, noise = 40_000, 0.5
    X, y, ds = make_hierarchical_regression(
        n, 5, n_latent=2, noise=noise, return_dataset=True, random_state=1
    )
    resid = y - ds.target(X)
    assert abs(resid.std() - noise) < 5 * noise / np.sqrt(2 * n)


def test_make_hierarchical_regression_reproducible():
    a = make_hierarchical_regression(50, 6, noise=0.2, return_dataset=True, random_state=3)
    b = make_hierarchical_regression(50, 6, noise=0.2, return_dataset=True, random_state=3)
    assert_array_equal(a[0], b[0])
    assert_array_equal(a[1], b[1])
    assert_array_equal(a[2].latent_matrices, b[2].latent_matrices)
    c = make_hierarchical_regression(50, 6, noise=0.2, return_dataset=True, random_state=4)
    assert not np.allclose(a[0], c[0])
    assert not np.allclose(a[2].latent_matrices, c[2].latent_matrices)
    # RandomState and Generator seeds are reproducible too.
    for make in (np.random.RandomState, np.random.default_rng):
        Xa, ya = make_hierarchical_regression(20, 4, random_state=make(9))
        Xb, yb = make_hierarchical_regression(20, 4, random_state=make(9))
        assert_array_equal(Xa, Xb)
        assert_array_equal(ya, yb)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"n_samples": 0}, ValueError, "n_samples"),
        ({"n_features": 2.0}, TypeError, "n_features"),
        ({"decay": -1.0}, ValueError, "decay"),
        ({"link": "cubic"}, ValueError, "link"),
        ({"random_state": "x"}, TypeError, "random_state"),
        ({"n_features": 3, "n_latent": 7}, ValueError, "= 6"),
    ],
)
def test_make_hierarchical_regression_invalid(kwargs, exc, match):
    params = {"n_samples": 10, "n_features": 4, "random_state": 0}
    params.update(kwargs)
    with pytest.raises(exc, match=match):
        make_hierarchical_regression(**params)
