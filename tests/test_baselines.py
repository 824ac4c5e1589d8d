"""Tests of the kernel ridge and random-feature baselines."""

import re
import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.kernel_approximation import Nystroem, PolynomialCountSketch, RBFSampler
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, cross_validate, learning_curve
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_hierspectral import _baselines
from sklearn_hierspectral._baselines import (
    KernelMemoryGuard,
    MedianHeuristicScaler,
    MemoryBudgetError,
    make_kernel_ridge_baseline,
    make_random_features_baseline,
)

FEATURE_STEP = {
    "rff": ("rbfsampler", RBFSampler),
    "nystroem": ("nystroem", Nystroem),
    "poly_sketch": ("polynomialcountsketch", PolynomialCountSketch),
}


def smooth_problem(n_samples, seed):
    """A smooth function of 3 inputs with a little noise."""
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n_samples, 3))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1] * X[:, 2] + 0.3 * X[:, 2] ** 2
    return X, y + 0.05 * rng.standard_normal(n_samples)


def brute_force_median_sq_distance(X):
    n = X.shape[0]
    values = [
        float(np.sum((X[i] - X[j]) ** 2)) for i in range(n) for j in range(i + 1, n)
    ]
    return float(np.median(values))


# ------------------------------------------------------------ estimator checks
# ------------------------------------------------------------ median heuristic
def test_median_heuristic_matches_brute_force():
    X = np.random.RandomState(0).standard_normal((101, 4)) * [1.0, 2.0, 0.5, 3.0]
    scaler = MedianHeuristicScaler().fit(X)
    expected = brute_force_median_sq_distance(X)
    assert scaler.median_sq_distance_ == pytest.approx(expected, rel=1e-12)
    assert scaler.scale_ == pytest.approx(np.sqrt(expected), rel=1e-12)
    Xt = scaler.transform(X)
    np.testing.assert_allclose(Xt, X / np.sqrt(expected))
    # After scaling, the median squared distance is 1.
    assert brute_force_median_sq_distance(Xt) == pytest.approx(1.0)
    np.testing.assert_allclose(scaler.inverse_transform(Xt), X)


def test_median_heuristic_subsample_is_seeded_and_close():
    X = np.random.RandomState(1).standard_normal((3000, 5))
    a = MedianHeuristicScaler(max_samples=400, random_state=0).fit(X)
    b = MedianHeuristicScaler(max_samples=400, random_state=0).fit(X)
    c = MedianHeuristicScaler(max_samples=400, random_state=1).fit(X)
    assert a.median_sq_distance_ == b.median_sq_distance_
    assert a.median_sq_distance_ != c.median_sq_distance_
    # The population median of ||x - x'||^2 ~ 2 chi2_5 is 2 * 4.35.
    full = MedianHeuristicScaler(max_samples=3000).fit(X).median_sq_distance_
    assert a.median_sq_distance_ == pytest.approx(full, rel=0.05)
    assert full == pytest.approx(2 * 4.3515, rel=0.05)


def test_median_heuristic_sparse_float32_and_degenerate_inputs():
    X = np.random.RandomState(2).standard_normal((50, 3))
    X[X < 0.3] = 0.0
    dense = MedianHeuristicScaler().fit(X)
    for fmt in ("csr", "csc"):
        sparse = MedianHeuristicScaler().fit(sp.csr_matrix(X).asformat(fmt))
        assert sparse.median_sq_distance_ == pytest.approx(dense.median_sq_distance_)
        Xt = sparse.transform(sp.csr_matrix(X).asformat(fmt))
        assert sp.issparse(Xt)
        np.testing.assert_allclose(Xt.toarray(), dense.transform(X))

    X32 = X.astype(np.float32)
    assert MedianHeuristicScaler().fit(X32).transform(X32).dtype == np.float32

    # Most rows equal: the median over the positive distances is used.
    X_dup = np.zeros((10, 2))
    X_dup[0] = [3.0, 4.0]
    X_dup[1] = [0.0, 1.0]
    scaler = MedianHeuristicScaler().fit(X_dup)
    positive = [25.0] * 8 + [1.0] * 8 + [18.0]
    assert scaler.median_sq_distance_ == pytest.approx(np.median(positive))
    # All rows equal: nothing to scale by.
    constant = MedianHeuristicScaler().fit(np.ones((5, 2)))
    assert constant.median_sq_distance_ == 0.0
    assert constant.scale_ == 1.0


def test_median_gamma_convention_in_kernel_ridge():
    """gamma='median' is exp(-||x - x'||^2 / m) on standardised inputs."""
    X, y = smooth_problem(120, seed=3)
    X_test, _ = smooth_problem(30, seed=4)
    pipe = make_kernel_ridge_baseline(alpha=1e-2).fit(X, y)

    Z = StandardScaler().fit(X)
    m = brute_force_median_sq_distance(Z.transform(X))
    assert pipe.named_steps["medianheuristicscaler"].median_sq_distance_ == (
        pytest.approx(m)
    )
    reference = KernelRidge(alpha=1e-2, kernel="rbf", gamma=1.0 / m)
    reference.fit(Z.transform(X), y)
    np.testing.assert_allclose(
        pipe.predict(X_test), reference.predict(Z.transform(X_test)), rtol=1e-6
    )


# --------------------------------------------------------------- factories
def test_kernel_ridge_pipeline_structure():
    pipe = make_kernel_ridge_baseline()
    assert isinstance(pipe, Pipeline)
    assert list(pipe.named_steps) == [
        "kernelmemoryguard",
        "standardscaler",
        "medianheuristicscaler",
        "kernelridge",
    ]
    krr = pipe.named_steps["kernelridge"]
    assert (krr.kernel, krr.gamma, krr.degree, krr.coef0, krr.alpha) == (
        "rbf",
        1.0,
        4,
        1.0,
        1.0,
    )
    assert pipe.named_steps["kernelmemoryguard"].method == "kernel_ridge"

    poly = make_kernel_ridge_baseline("poly", gamma=0.1, degree=3, alpha=0.5)
    assert poly.named_steps["medianheuristicscaler"] == "passthrough"
    krr = poly.named_steps["kernelridge"]
    assert (krr.kernel, krr.gamma, krr.degree, krr.alpha) == ("poly", 0.1, 3, 0.5)
    default_gamma = make_kernel_ridge_baseline(gamma=None)
    assert default_gamma.named_steps["kernelridge"].gamma is None

    with pytest.raises(InvalidParameterError, match="kernel"):
        make_kernel_ridge_baseline("linear")
    with pytest.raises(InvalidParameterError, match="gamma"):
        make_kernel_ridge_baseline(gamma="mean")


@pytest.mark.parametrize("method", ["rff", "nystroem", "poly_sketch"])
def test_random_features_pipeline_structure(method):
    pipe = make_random_features_baseline(
        method, n_components=50, degree=3, alpha=0.1, random_state=7
    )
    name, cls = FEATURE_STEP[method]
    assert list(pipe.named_steps) == [
        "kernelmemoryguard",
        "standardscaler",
        "medianheuristicscaler",
        name,
        "ridge",
    ]
    feature_map = pipe.named_steps[name]
    assert isinstance(feature_map, cls)
    assert feature_map.n_components == 50
    assert feature_map.random_state == 7
    assert feature_map.gamma == 1.0
    assert isinstance(pipe.named_steps["medianheuristicscaler"], MedianHeuristicScaler)
    if method == "nystroem":
        assert feature_map.kernel == "rbf"
    if method == "poly_sketch":
        assert (feature_map.degree, feature_map.coef0) == (3, 1.0)
    guard = pipe.named_steps["kernelmemoryguard"]
    assert (guard.method, guard.n_components, guard.degree) == (method, 50, 3)
    assert isinstance(pipe.named_steps["ridge"], Ridge)
    assert pipe.named_steps["ridge"].alpha == 0.1

    numeric = make_random_features_baseline(method, gamma=0.2)
    assert numeric.named_steps["medianheuristicscaler"] == "passthrough"
    assert numeric.named_steps[name].gamma == 0.2


def test_random_features_factory_validates_arguments():
    with pytest.raises(InvalidParameterError, match="method"):
        make_random_features_baseline("fastfood")
    with pytest.raises(InvalidParameterError, match="n_components"):
        make_random_features_baseline(n_components=0)


FACTORIES = [
    pytest.param(
        lambda **kw: make_kernel_ridge_baseline(**kw), "kernelridge", id="krr-rbf"
    ),
    pytest.param(
        lambda **kw: make_kernel_ridge_baseline("poly", **kw),
        "kernelridge",
        id="krr-poly",
    ),
    pytest.param(
        lambda **kw: make_random_features_baseline(
            "rff", n_components=100, random_state=0, **kw
        ),
        "ridge",
        id="rff",
    ),
    pytest.param(
        lambda **kw: make_random_features_baseline(
            "nystroem", n_components=30, random_state=0, **kw
        ),
        "ridge",
        id="nystroem",
    ),
    pytest.param(
        lambda **kw: make_random_features_baseline(
            "poly_sketch", n_components=100, random_state=0, **kw
        ),
        "ridge",
        id="poly_sketch",
    ),
]


@pytest.mark.parametrize("factory, last", FACTORIES)
def test_pipeline_in_model_selection_tools(factory, last):
    X, y = smooth_problem(150, seed=5)
    pipe = factory()

    cloned = clone(pipe)
    assert cloned.get_params().keys() == pipe.get_params().keys()
    assert f"{last}__alpha" in pipe.get_params()

    search = GridSearchCV(pipe, {f"{last}__alpha": [1e-3, 1e-1]}, cv=3)
    search.fit(X, y)
    assert search.best_params_[f"{last}__alpha"] in (1e-3, 1e-1)

    sizes, train_scores, test_scores = learning_curve(
        pipe, X, y, train_sizes=[40, 75], cv=2
    )
    assert list(sizes) == [40, 75]
    assert np.all(np.isfinite(test_scores))

    result = cross_validate(pipe, X, y, cv=2, return_estimator=True)
    assert len(result["estimator"]) == 2
    assert np.all(np.isfinite(result["test_score"]))
    # cross_validate fits clones: the pipeline itself stays unfitted.
    assert not hasattr(pipe.named_steps["kernelmemoryguard"], "n_samples_fit_")


@pytest.mark.parametrize(
    "factory, min_r2",
    [
        # A noiseless smooth target wants a small penalty, not the default.
        (lambda: make_kernel_ridge_baseline(alpha=1e-3), 0.97),
        (lambda: make_kernel_ridge_baseline("poly", alpha=1.0), 0.97),
        (lambda: make_random_features_baseline("rff", random_state=0), 0.95),
        (
            lambda: make_random_features_baseline(
                "nystroem", n_components=300, random_state=0
            ),
            0.97,
        ),
        (
            lambda: make_random_features_baseline(
                "poly_sketch", n_components=2000, alpha=1.0, random_state=0
            ),
            0.9,
        ),
    ],
    ids=["krr-rbf", "krr-poly", "rff", "nystroem", "poly_sketch"],
)
def test_baselines_learn_a_smooth_function(factory, min_r2):
    X, y = smooth_problem(800, seed=6)
    X_test, y_test = smooth_problem(400, seed=7)
    assert factory().fit(X, y).score(X_test, y_test) > min_r2


def test_feature_names_pass_through_the_preprocessing():
    pd = pytest.importorskip("pandas")
    X, y = smooth_problem(60, seed=8)
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    pipe = make_kernel_ridge_baseline().set_output(transform="pandas").fit(df, y)
    assert list(pipe[:-1].get_feature_names_out()) == ["a", "b", "c"]
    assert list(pipe[:-1].transform(df).columns) == ["a", "b", "c"]
    for name in ("medianheuristicscaler", "kernelmemoryguard"):
        assert list(pipe.named_steps[name].feature_names_in_) == ["a", "b", "c"]
    rf = make_random_features_baseline("rff", n_components=5, random_state=0).fit(df, y)
    assert rf[:-1].get_feature_names_out().shape == (5,)


# ------------------------------------------------------------- memory guard
def test_guard_refuses_kernel_ridge_before_fitting_with_helpful_message():
    X, y = smooth_problem(1000, seed=9)
    pipe = make_kernel_ridge_baseline(max_memory_bytes=1e6)
    with pytest.raises(MemoryBudgetError) as info:
        pipe.fit(X, y)
    error = info.value
    assert isinstance(error, MemoryError) and isinstance(error, ValueError)
    # 1000^2 entries x 25 bytes x 1.1.
    assert error.required_bytes == 27_500_000
    assert error.available_bytes == 1_000_000
    message = str(error)
    assert "26.2 MiB" in message and "1.0 MiB" in message
    assert "1,000 x 1,000 kernel matrix" in message
    assert "max_memory_bytes" in message
    assert "make_random_features_baseline(method='nystroem')" in message
    # The largest n with 27.5 n^2 <= 1e6 is 190.
    assert "at most 190 samples" in message
    # The kernel ridge step was never fitted.
    assert not hasattr(pipe.named_steps["kernelridge"], "dual_coef_")

    # 190 samples fit the same budget, 191 do not.
    make_kernel_ridge_baseline(max_memory_bytes=1e6).fit(X[:190], y[:190])
    with pytest.raises(MemoryBudgetError):
        make_kernel_ridge_baseline(max_memory_bytes=1e6).fit(X[:191], y[:191])


@pytest.mark.parametrize("method", ["rff", "nystroem", "poly_sketch"])
def test_guard_refuses_random_features_before_fitting(method):
    X, y = smooth_problem(500, seed=10)
    pipe = make_random_features_baseline(
        method, n_components=400, random_state=0, max_memory_bytes=1e5
    )
    with pytest.raises(MemoryBudgetError, match=r"fewer n_components") as info:
        pipe.fit(X, y)
    assert "feature matrix" in str(info.value)
    assert info.value.required_bytes > 1e5
    assert not hasattr(pipe.named_steps["ridge"], "coef_")


def test_guard_refuses_huge_fit_with_the_real_budget_without_allocating():
    # A million samples: the kernel matrix alone would be 8 TB.
    rng = np.random.RandomState(11)
    X = rng.standard_normal((1_000_000, 2))
    y = X[:, 0]
    pipe = make_kernel_ridge_baseline(random_state=0)
    tracemalloc.start()
    try:
        with pytest.raises(MemoryBudgetError, match=r"TiB|GiB"):
            pipe.fit(X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Only copies of the 16 MB input were made, nothing of size n^2.
    assert peak < 200 * 2**20


def test_guard_checks_prediction_memory():
    X, y = smooth_problem(300, seed=12)
    pipe = make_kernel_ridge_baseline().fit(X, y)
    guard = pipe.named_steps["kernelmemoryguard"]
    assert guard.n_samples_fit_ == 300
    assert guard.required_bytes_ == _baselines._estimate_bytes("kernel_ridge", 300)
    pipe.set_params(kernelmemoryguard__max_memory_bytes=1e5)
    # 300 x 300 x 16 x 1.1 = 1.58 MB > 0.1 MB.
    with pytest.raises(MemoryBudgetError, match=r"batches of at most 18 rows"):
        pipe.predict(X)
    assert pipe.predict(X[:18]).shape == (18,)


def test_guard_does_not_trigger_normally():
    X, y = smooth_problem(200, seed=13)
    for pipe in (
        make_kernel_ridge_baseline(),
        make_random_features_baseline("poly_sketch", n_components=100, random_state=0),
    ):
        pipe.fit(X, y).predict(X)
        guard = pipe.named_steps["kernelmemoryguard"]
        assert guard.required_bytes_ > 0
        budget, _ = _baselines._available_memory_bytes()
        if budget is not None:
            assert guard.budget_bytes_ > guard.required_bytes_


def test_guard_is_an_identity_and_uses_the_itemsize():
    X = np.random.RandomState(14).standard_normal((100, 3))
    guard = KernelMemoryGuard(max_memory_bytes=1e9)
    assert guard.fit_transform(X) is X
    assert guard.transform(X) is X
    X32 = X.astype(np.float32)
    assert guard.fit(X32).required_bytes_ == _baselines._estimate_bytes(
        "kernel_ridge", 100, itemsize=4
    )
    assert guard.required_bytes_ > _baselines._estimate_bytes("kernel_ridge", 100)
    X_sparse = sp.csr_matrix(X)
    assert guard.fit_transform(X_sparse) is X_sparse


def test_memory_model_values():
    est = _baselines._estimate_bytes
    # Kernel ridge: 25 bytes per kernel entry (float64), 29 (float32), +10 %.
    assert est("kernel_ridge", 1000) == 27_500_000
    assert est("kernel_ridge", 1000, itemsize=4) == 31_900_000
    assert est("kernel_ridge", 10, n_samples_fit=1000, predict=True) == 176_000
    # RFF, n >= m: 2.5 x 8 n m + 25 m^2.
    assert est("rff", 1000, n_components=100) == round(1.1 * (20 * 1e5 + 25 * 1e4))
    # Nystroem never uses more landmarks than samples.
    assert est("nystroem", 50, n_components=1000) == est(
        "nystroem", 50, n_components=50
    )
    # Count sketch of degree 4: (24 x 4 + 16) bytes per output entry to predict.
    assert est("poly_sketch", 1000, n_components=100, degree=4, predict=True) == round(
        1.1 * 112 * 1e5
    )
    for method in ("kernel_ridge", "rff", "nystroem", "poly_sketch"):
        sizes = [est(method, n, n_components=100) for n in (10, 100, 1000)]
        assert sizes == sorted(sizes)


def test_error_message_reports_the_budget_source(monkeypatch):
    monkeypatch.setattr(
        _baselines, "_available_memory_bytes", lambda: (2 * 2**30, "MemAvailable")
    )
    guard = KernelMemoryGuard()
    with pytest.raises(MemoryBudgetError) as info:
        guard.fit(np.zeros((20_000, 1)))
    message = str(info.value)
    # 20000^2 x 27.5 bytes = 10.2 GiB.
    assert re.search(
        r"about 10\.2 GiB .* only 2\.0 GiB is available \(MemAvailable\)", message
    )


# ------------------------------------------------ overflow and invalid inputs
def _huge_target_problem():
    from sklearn_hierspectral import make_hierarchical_regression

    return make_hierarchical_regression(300, 5, random_state=0)


BASELINES = [
    pytest.param(lambda: make_kernel_ridge_baseline("rbf"), id="krr-rbf"),
    pytest.param(lambda: make_kernel_ridge_baseline("poly"), id="krr-poly"),
] + [
    pytest.param(
        lambda method=method: make_random_features_baseline(
            method, n_components=50, random_state=0
        ),
        id=method,
    )
    for method in ("rff", "nystroem", "poly_sketch")
]


@pytest.mark.parametrize("factory", BASELINES)
@pytest.mark.parametrize("target", ["sign", "scaled"])
def test_baselines_refuse_a_target_whose_squares_overflow(factory, target):
    X, y = _huge_target_problem()
    if target == "sign":
        y_huge = np.where(y > 0, 1.7e308, -1.7e308)
    else:
        y_huge = y * 1e307
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ValueError, match=r"Rescale y \(divide it by 1e30[78]\)"):
            factory().fit(X, y_huge)


def test_guard_checks_y_only_when_numeric():
    X, y = _huge_target_problem()
    guard = KernelMemoryGuard(max_memory_bytes=1e9)
    with pytest.raises(ValueError, match=r"y has values up to 1\.7e\+308"):
        guard.fit(X, np.full((300, 2), 1.7e308))
    with pytest.raises(ValueError, match=r"Rescale y"):
        guard.fit_transform(X, y * 1e300)
    # Targets of a normal scale, None, and non-numeric targets pass through:
    # the final estimator validates them.
    for target in (None, y * 1e100, y.astype(np.float32), np.array(["a"] * 300)):
        assert guard.fit_transform(X, target) is X


def test_guard_refuses_predictions_far_outside_the_training_data():
    X, y = _huge_target_problem()
    model = make_kernel_ridge_baseline("poly").fit(X, y)
    assert model.named_steps["kernelmemoryguard"].max_abs_ == np.abs(X).max()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(
            ValueError, match=r"more than 1e30 times the largest training value 3\.72"
        ):
            model.predict(X[:3] * 1e100)
        # Far but not that far: finite predictions.
        assert np.all(np.isfinite(model.predict(X[:3] * 1e20)))
    sketch = make_random_features_baseline(
        "poly_sketch", n_components=50, random_state=0
    ).fit(X, y)
    with pytest.raises(ValueError, match="Predict on inputs of the training data"):
        sketch.predict(X * 1e200)
    # Non-finite inputs keep scikit-learn's message.
    with pytest.raises(ValueError, match="Input X contains NaN"):
        model.predict(np.full((2, 5), np.nan))
    with pytest.raises(ValueError, match="Input X contains infinity"):
        model.predict(np.full((2, 5), np.inf))


def test_guard_applies_the_absolute_overflow_bound_at_transform():
    X = np.random.RandomState(0).standard_normal((300, 5))
    guard = KernelMemoryGuard(max_memory_bytes=1e9).fit(X * 1e150)
    with pytest.raises(ValueError, match=r"Rescale X \(divide it by 1e15[45]\)"):
        guard.transform(X[:3] * 1e154)
    # Sparse input is checked on its stored values.
    with pytest.raises(ValueError, match="more than 1e30 times"):
        KernelMemoryGuard(max_memory_bytes=1e9).fit(sp.csr_matrix(X)).transform(
            sp.csr_matrix(X * 1e40)
        )


@pytest.mark.parametrize("sparse", [None, sp.csr_matrix, sp.csc_matrix])
def test_median_scaler_divides_when_the_reciprocal_overflows(sparse):
    X, _ = _huge_target_problem()
    tiny = X * 1e-310
    scaler = MedianHeuristicScaler().fit(tiny)
    expected = MedianHeuristicScaler().fit(X).transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        Xt = scaler.transform(tiny if sparse is None else sparse(tiny))
    if sparse is not None:
        assert Xt.format == sparse(tiny).format
        Xt = Xt.toarray()
    assert np.all(np.isfinite(Xt))
    np.testing.assert_allclose(Xt, expected, rtol=1e-6, atol=1e-9)


def test_median_scaler_refuses_results_that_overflow():
    X, _ = _huge_target_problem()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(
            ValueError, match=r"too large for this scaler's scale_=.*X \* scale_ "
            r"overflows float64\. Rescale X"
        ):
            MedianHeuristicScaler().fit(X).inverse_transform(np.full((2, 5), 1e308))
        for data in (np.full((2, 5), 1e10), sp.csr_matrix(np.full((2, 5), 1e10))):
            with pytest.raises(
                ValueError, match=r"X / scale_ overflows float64\. Rescale X"
            ):
                MedianHeuristicScaler().fit(X * 1e-300).transform(data)
        X32 = X.astype(np.float32)
        scaler = MedianHeuristicScaler().fit(X32)
        assert scaler.transform(X32).dtype == np.float32
        with pytest.raises(ValueError, match="overflows float32"):
            scaler.inverse_transform(np.full((2, 5), 3e38, dtype=np.float32))
        # float32 data on a scale whose reciprocal float32 cannot hold.
        out = MedianHeuristicScaler().fit(X * 1e-300).transform(X32 * 1e-300)
        assert out.dtype == np.float32 and np.all(np.isfinite(out))


@pytest.mark.parametrize(
    "build, name",
    [
        (lambda: make_random_features_baseline(n_components=True), "n_components"),
        (lambda: make_random_features_baseline(degree=True), "degree"),
        (lambda: make_kernel_ridge_baseline(degree=True), "degree"),
        (lambda: KernelMemoryGuard(n_components=True).fit(np.eye(3)), "n_components"),
        (lambda: KernelMemoryGuard(degree=np.True_).fit(np.eye(3)), "degree"),
        (lambda: MedianHeuristicScaler(max_samples=True).fit(np.eye(3)), "max_samples"),
    ],
)
def test_integer_parameters_refuse_bools(build, name):
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
        build()
