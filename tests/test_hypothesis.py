"""Property-based tests: random shapes, scales, dtypes and parameters.

Every call either raises a ValueError/TypeError whose message says what is
wrong, or returns finite outputs of the right shape. The search is
derandomized (the "ci" profile), so CI always runs the same examples; set
HYPOTHESIS_PROFILE=thorough for a longer, randomized search.

The scales of X and y range over 1e-12..1e12 here; the extreme scales
(1e+-300, values near the float limits) are covered by explicit tests in
test_reliability.py.
"""

import os
import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from threadpoolctl import threadpool_limits

from sklearn_hierspectral import (
    HierarchicalSpectralRegressor,
    HierarchicalSpectralTransformer,
    HierarchicalTargetDataset,
    fit_power_law,
)

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    max_examples=100,
    deadline=None,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much
    ],
)
settings.register_profile(
    "thorough",
    parent=settings.get_profile("ci"),
    derandomize=False,
    max_examples=500,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

#: Words a useful error message contains: what is wrong and what to pass.
USEFUL = re.compile(
    r"must|expect|at least|at most|minimum|needs|got|should|use |pass |"
    r"NaN|infinity|features|samples",
    re.IGNORECASE,
)


@pytest.fixture(autouse=True)
def single_blas_thread():
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def assert_useful(exc):
    message = str(exc)
    event(f"{type(exc).__name__}: {re.sub(r'[0-9]+', 'N', message)[:60]}")
    assert len(message) >= 20 and USEFUL.search(message), f"unhelpful message: {message!r}"


def _n_hermite(d):
    return d * (d + 1) // 2


@st.composite
def regression_data(draw):
    """X (n x d) of a random dtype and scale, and a target of random kind."""
    n = draw(st.integers(1, 200))
    d = draw(st.integers(1, 8))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    x_scale = 10.0 ** draw(st.floats(-12, 12))
    x_offset = draw(st.sampled_from([0.0, 1.0, -50.0]))
    dtype = draw(st.sampled_from([np.float64, np.float32, np.int64, np.float16]))
    X = x_offset + x_scale * rng.standard_normal((n, d))
    if draw(st.booleans()) and d > 1:
        X[:, -1] = X[:, 0]  # a duplicated column
    if draw(st.booleans()):
        X[:, 0] = x_offset  # a constant column
    if dtype is np.int64:
        X = np.round(X)
    if dtype is np.float16:
        X = np.clip(X, -60000.0, 60000.0)  # the float16 range
    X = X.astype(dtype)
    kind = draw(st.sampled_from(["quadratic", "noise", "constant", "linear"]))
    Z = np.asarray(X, dtype=float) / x_scale
    y = {
        "quadratic": Z[:, 0] * Z[:, -1] + Z[:, 0] ** 2,
        "noise": rng.standard_normal(n),
        "constant": np.full(n, 3.0),
        "linear": Z @ np.arange(1.0, d + 1),
    }[kind]
    y = y * 10.0 ** draw(st.floats(-12, 12)) + draw(st.sampled_from([0.0, 100.0]))
    if draw(st.booleans()):
        y = y.astype(np.float32)
    return X, y


@st.composite
def spectral_params(draw, d):
    D = _n_hermite(d)
    n_components = draw(st.one_of(st.just("auto"), st.integers(0, D + 1)))
    return {
        "n_components": n_components,
        "max_components": draw(st.integers(1, 6)),
        "deflate": draw(st.sampled_from([True, False, "least-squares", "moment"])),
        "finite_size_correction": draw(st.booleans()),
        "whiten": draw(st.booleans()),
        "cv": draw(st.integers(2, 6)),
        "readout": draw(st.sampled_from(["quadratic", "moment"])),
        "alpha": draw(st.sampled_from([0.0, 1e-4, 1.0])),
        "link_degree": draw(st.integers(1, 10)),
        "solver": draw(st.sampled_from(["auto", "dense", "matrix-free"])),
        "batch_size": draw(st.one_of(st.none(), st.integers(1, 64))),
        "random_state": draw(st.integers(0, 100)),
    }


@settings(max_examples=max(10, 2 * settings.default.max_examples))
@given(data=st.data())
def test_regressor_fit_predict_score(data):
    X, y = data.draw(regression_data())
    params = data.draw(spectral_params(X.shape[1]))
    model = HierarchicalSpectralRegressor(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model.fit(X, y)
        except (ValueError, TypeError) as exc:
            assert_useful(exc)
            return
        pred = model.predict(X)
        features = model.transform(X)
    event(f"fitted, n_components_={model.n_components_}, n>={10 ** int(np.log10(len(X)))}")
    assert pred.shape == (X.shape[0],)
    assert np.all(np.isfinite(pred)), (params, pred)
    assert features.shape == (X.shape[0], model.n_components_)
    assert np.all(np.isfinite(features))
    assert 0 <= model.n_components_ <= _n_hermite(X.shape[1])
    if isinstance(params["n_components"], int):
        assert model.n_components_ == params["n_components"]
    # A constant target is predicted as that constant.
    if np.ptp(np.asarray(y, dtype=float)) == 0:
        np.testing.assert_allclose(pred, float(y[0]), rtol=1e-4)


@settings(max_examples=max(10, settings.default.max_examples))
@given(data=st.data())
def test_transformer_fit_transform(data):
    X, y = data.draw(regression_data())
    params = data.draw(spectral_params(X.shape[1]))
    model = HierarchicalSpectralTransformer(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            H = model.fit_transform(X, y)
        except (ValueError, TypeError) as exc:
            assert_useful(exc)
            return
        # Other inputs of the same width, of another dtype, transform too.
        X_new = np.asarray(X, dtype=np.float64)[::-1] * 0.5
        H_new = model.transform(X_new)
    assert H.shape == (X.shape[0], model.n_components_)
    assert np.all(np.isfinite(H)) and np.all(np.isfinite(H_new))
    components = model.components_.reshape(model.n_components_, X.shape[1] ** 2)
    np.testing.assert_allclose(
        components @ components.T, np.eye(model.n_components_), atol=1e-6
    )


@settings(max_examples=max(10, settings.default.max_examples // 2))
@given(data=st.data())
def test_predict_rejects_a_wrong_width_or_non_finite_rows(data):
    X, y = data.draw(regression_data())
    assume(X.shape[0] >= 5)
    model = HierarchicalSpectralRegressor(n_components=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    d = X.shape[1]
    width = data.draw(st.integers(1, 8).map(lambda w: w if w < d else w + 1))
    with pytest.raises(ValueError, match="features"):
        model.predict(np.zeros((3, width)))
    bad = np.asarray(X[:3], dtype=float).copy()
    bad[data.draw(st.integers(0, 2)), 0] = data.draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    with pytest.raises(ValueError, match="NaN|infinity"):
        model.predict(bad)


@st.composite
def dataset_params(draw):
    d = draw(st.integers(1, 8))
    D = _n_hermite(d)
    return {
        "n_features": d,
        "n_latent": draw(st.one_of(st.none(), st.integers(1, D + 2))),
        "latent_exponent": draw(st.floats(0.0, 1.5)),
        "decay": draw(st.floats(0.0, 3.0)),
        "link": draw(st.sampled_from(["identity", "tanh", "quadratic", np.sin])),
        "noise": draw(st.sampled_from([0.0, 0.1, 2.0])),
        "random_state": draw(st.integers(0, 2**32)),
    }


@given(params=dataset_params(), n=st.integers(1, 200), seed=st.integers(0, 2**16),
       dtype=st.sampled_from([np.float64, np.float32]))
def test_dataset_samples_and_theory(params, n, seed, dtype):
    try:
        dataset = HierarchicalTargetDataset(**params)
    except (ValueError, TypeError) as exc:
        assert_useful(exc)
        assert params["n_latent"] is not None and params["n_latent"] > _n_hermite(
            params["n_features"]
        ) or params["n_latent"] is None
        return
    d, p = dataset.n_features, dataset.n_latent
    assert 1 <= p <= _n_hermite(d)
    X, y = dataset.sample(n, random_state=seed, dtype=dtype)
    assert X.shape == (n, d) and y.shape == (n,)
    assert X.dtype == dtype and y.dtype == dtype
    assert np.all(np.isfinite(X)) and np.all(np.isfinite(y))
    # The same seed gives the same sample; the noiseless target matches.
    X2, y2 = dataset.sample(n, random_state=seed, dtype=dtype)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    if dataset.noise == 0:
        np.testing.assert_allclose(dataset.target(X), y, rtol=1e-5, atol=1e-5)
    H = dataset.latent_features(X)
    assert H.shape == (n, p) and np.all(np.isfinite(H))
    matrices = dataset.latent_matrices.reshape(p, -1)
    np.testing.assert_allclose(matrices @ matrices.T, np.eye(p), atol=1e-10)
    if d >= 2:
        for value in (dataset.predicted_error(n), dataset.predicted_n_recovered(n)):
            assert np.isfinite(value)
        assert 0 <= dataset.predicted_n_recovered(n) <= p
        assert 0.0 <= dataset.predicted_error(n) <= 1.0
        assert np.all(np.diff(dataset.threshold_exponents()) >= 0)
    else:
        with pytest.raises(ValueError, match="n_features >= 2"):
            dataset.predicted_error(n)


@given(
    n_sizes=st.integers(1, 6),
    n_repeats=st.integers(1, 4),
    exponent=st.floats(-2.0, 0.5),
    log_scale=st.floats(-200, 200),
    noise=st.floats(0.0, 1.0),
    floor=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_fit_power_law(n_sizes, n_repeats, exponent, log_scale, noise, floor, seed):
    rng = np.random.default_rng(seed)
    n = np.repeat(np.unique(np.round(np.geomspace(50, 50_000, n_sizes))), n_repeats)
    errors = np.exp(log_scale) * n**exponent * rng.lognormal(0.0, noise, n.size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = fit_power_law(n, errors, floor=floor, n_bootstrap=50, random_state=seed)
        except (ValueError, TypeError) as exc:
            assert_useful(exc)
            assert np.unique(n).size < (3 if floor else 2)
            return
    assert np.isfinite(fit.exponent) and np.isfinite(fit.prefactor)
    if not floor and noise == 0:
        assert fit.exponent == pytest.approx(exponent, abs=1e-6)
