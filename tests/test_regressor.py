"""HierarchicalSpectralRegressor and HierarchicalSpectralTransformer."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import GridSearchCV, learning_curve
from sklearn.pipeline import make_pipeline

from sklearn_hierspectral import (
    HierarchicalSpectralRegressor,
    HierarchicalSpectralTransformer,
    HierarchicalTargetDataset,
)
from sklearn_hierspectral._recovery import recovery_cos2

ESTIMATORS = [HierarchicalSpectralRegressor, HierarchicalSpectralTransformer]


def nmse(y_true, y_pred):
    return np.mean((y_true - y_pred) ** 2) / np.var(y_true)


@pytest.fixture(scope="module")
def small_problem():
    dataset = HierarchicalTargetDataset(10, n_latent=3, decay=1.0, random_state=0)
    X, y = dataset.sample(30_000, random_state=1)
    X_test, y_test = dataset.sample(5_000, random_state=2)
    return dataset, X, y, X_test, y_test


# ----------------------------------------------------------------- validation
@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_components": -1}, "n_components"),
        ({"n_components": "all"}, "n_components"),
        ({"n_components": 1.5}, "n_components"),
        ({"max_components": 0}, "max_components"),
        ({"deflate": "ridge"}, "deflate"),
        ({"whiten": "yes"}, "whiten"),
        ({"cv": 1}, "cv"),
        ({"readout": "linear"}, "readout"),
        ({"alpha": -1.0}, "alpha"),
        ({"link_degree": 0}, "link_degree"),
        ({"solver": "lanczos"}, "solver"),
        ({"batch_size": 0}, "batch_size"),
        ({"random_state": "seed"}, "random_state"),
    ],
)
def test_invalid_parameters_name_the_parameter(Estimator, params, match):
    X = np.random.default_rng(0).standard_normal((50, 3))
    y = X[:, 0]
    with pytest.raises(ValueError, match=match):
        Estimator(**params).fit(X, y)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_too_many_components_says_how_many_are_possible(Estimator):
    X = np.random.default_rng(0).standard_normal((50, 3))
    with pytest.raises(ValueError, match=r"n_components=7 .* D = d\(d\+1\)/2 = 6"):
        Estimator(n_components=7).fit(X, X[:, 0])


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_too_few_samples_for_the_folds(Estimator):
    X = np.random.default_rng(0).standard_normal((4, 3))
    with pytest.raises(ValueError, match="at least 5 samples; got 4"):
        Estimator().fit(X, X[:, 0])


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_sparse_input_is_refused_by_name(Estimator):
    scipy_sparse = pytest.importorskip("scipy.sparse")
    X = scipy_sparse.random(50, 3, density=0.5, format="csr", random_state=0)
    with pytest.raises(TypeError, match="[Ss]parse"):
        Estimator().fit(X, np.arange(50.0))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_non_finite_input_is_refused(Estimator):
    X = np.random.default_rng(0).standard_normal((50, 3))
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Estimator().fit(X, np.arange(50.0))


# ------------------------------------------------------ pandas and composition
def test_pandas_feature_names_round_trip(small_problem):
    _, X, y, X_test, _ = small_problem
    columns = [f"x{i}" for i in range(X.shape[1])]
    frame = pd.DataFrame(X[:3000], columns=columns)
    model = HierarchicalSpectralRegressor(n_components=2, random_state=0).fit(frame, y[:3000])
    np.testing.assert_array_equal(model.feature_names_in_, columns)
    renamed = pd.DataFrame(X_test[:10], columns=[c.upper() for c in columns])
    with pytest.raises(ValueError, match="feature names"):
        model.predict(renamed)
    layer1 = HierarchicalSpectralTransformer(n_components=2, random_state=0)
    layer1.set_output(transform="pandas")
    out = layer1.fit_transform(frame, y[:3000])
    assert list(out.columns) == [
        "hierarchicalspectraltransformer0",
        "hierarchicalspectraltransformer1",
    ]


def test_transformer_in_a_pipeline_with_any_readout(small_problem):
    _, X, y, X_test, y_test = small_problem
    pipe = make_pipeline(
        HierarchicalSpectralTransformer(n_components=3, random_state=0),
        RidgeCV(),
    )
    pipe.fit(X, y)
    assert pipe.predict(X_test).shape == y_test.shape
    assert recovery_cos2(pipe, small_problem[0]) is not None


def test_grid_search_and_learning_curve_run_unchanged(small_problem):
    _, X, y, _, _ = small_problem
    search = GridSearchCV(
        HierarchicalSpectralRegressor(random_state=0),
        {"n_components": [1, 3], "readout": ["quadratic", "moment"]},
        cv=3,
    ).fit(X[:6000], y[:6000])
    assert search.best_params_["n_components"] == 3
    sizes, _, test_scores = learning_curve(
        HierarchicalSpectralRegressor(random_state=0),
        X[:9000],
        y[:9000],
        train_sizes=[0.2, 1.0],
        cv=3,
    )
    assert test_scores.shape == (2, 3)
    # More data, better scores: the point of a scaling study.
    assert test_scores[1].mean() > test_scores[0].mean()


# -------------------------------------------------------------------- learning
def test_learns_the_hierarchical_target(small_problem):
    dataset, X, y, X_test, y_test = small_problem
    model = HierarchicalSpectralRegressor(random_state=0).fit(X, y)
    cos2 = recovery_cos2(model, dataset)
    assert nmse(y_test, model.predict(X_test)) < 0.15
    assert np.all(cos2 > 0.85)
    assert model.n_components_ >= 3


def test_deflation_helps_at_finite_dimension(small_problem):
    _, X, y, X_test, y_test = small_problem
    errors = {}
    for deflate in (True, False):
        model = HierarchicalSpectralRegressor(n_components=3, deflate=deflate, random_state=0)
        errors[deflate] = nmse(y_test, model.fit(X, y).predict(X_test))
    assert errors[True] < errors[False]


def test_components_are_symmetric_orthonormal_and_ranked(small_problem):
    _, X, y, _, _ = small_problem
    model = HierarchicalSpectralRegressor(n_components=4, random_state=0).fit(X, y)
    A = model.components_
    np.testing.assert_allclose(A, np.swapaxes(A, 1, 2))
    gram = np.einsum("kij,lij->kl", A, A)
    np.testing.assert_allclose(gram, np.eye(4), atol=1e-10)
    assert np.all(np.diff(np.abs(model.eigenvalues_)) <= 0)
    np.testing.assert_array_equal(model.eigenvalues_, model.spectrum_[:4])
    assert model.transform(X[:5]).shape == (5, 4)


def test_input_space_components_give_the_same_features():
    rng = np.random.default_rng(3)
    dataset = HierarchicalTargetDataset(6, n_latent=2, random_state=3)
    X, y = dataset.sample(5000, random_state=4)
    X = 3.0 * X + 1.0  # scale and offset, undone by the preprocessing
    model = HierarchicalSpectralTransformer(n_components=2, random_state=0).fit(X, y)
    X_new = 3.0 * rng.standard_normal((20, 6)) + 1.0
    centred = X_new - model.mean_
    forms = model.input_space_components()
    traces = np.trace(model.components_, axis1=1, axis2=2)
    expected = (np.einsum("ni,kij,nj->nk", centred, forms, centred) - traces) / np.sqrt(2)
    np.testing.assert_allclose(model.transform(X_new), expected, atol=1e-10)


def test_pure_noise_predicts_no_worse_than_the_mean():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((20_000, 20))
    y = rng.standard_normal(20_000)
    X_test, y_test = rng.standard_normal((5000, 20)), rng.standard_normal(5000)
    model = HierarchicalSpectralRegressor(random_state=0).fit(X, y)
    assert model.n_components_ == 0
    # Measured 1.0000 to 1.0005 over 10 seeds (least squares without the
    # cross-validated penalty gave up to 1.018).
    assert nmse(y_test, model.predict(X_test)) <= 1.01


def test_moment_readout_with_link_calibration_on_tanh():
    dataset = HierarchicalTargetDataset(8, n_latent=2, link="tanh", random_state=6)
    X, y = dataset.sample(20_000, random_state=7)
    X_test, y_test = dataset.sample(4000, random_state=8)
    errors = {}
    for degree in (1, 5):
        model = HierarchicalSpectralRegressor(
            n_components=2, readout="moment", link_degree=degree, random_state=0
        ).fit(X, y)
        assert model.link_coef_.shape == (degree + 1,)
        errors[degree] = nmse(y_test, model.predict(X_test))
    assert errors[5] < errors[1]


# ----------------------------------------------------------- reproducibility
def test_same_random_state_same_model_and_batch_size_invariance(small_problem):
    _, X, y, X_test, _ = small_problem
    first = HierarchicalSpectralRegressor(random_state=3).fit(X[:8000], y[:8000])
    second = clone(first).fit(X[:8000], y[:8000])
    np.testing.assert_array_equal(first.predict(X_test), second.predict(X_test))
    # Other batches change only the rounding: float64 products to 1e-8, the
    # default float32 products (summed in float64) to float32 rounding.
    double = clone(first).set_params(precision="double").fit(X[:8000], y[:8000])
    batched = clone(double).set_params(batch_size=333).fit(X[:8000], y[:8000])
    assert batched.n_components_ == double.n_components_
    np.testing.assert_allclose(batched.predict(X_test), double.predict(X_test), atol=1e-8)
    batched = clone(first).set_params(batch_size=333).fit(X[:8000], y[:8000])
    assert batched.n_components_ == first.n_components_
    np.testing.assert_allclose(batched.predict(X_test), first.predict(X_test), atol=1e-4)
    restored = pickle.loads(pickle.dumps(first))
    np.testing.assert_array_equal(restored.predict(X_test), first.predict(X_test))


def test_float32_input_gives_close_finite_predictions(small_problem):
    _, X, y, X_test, _ = small_problem
    model64 = HierarchicalSpectralRegressor(n_components=3, random_state=0).fit(X[:8000], y[:8000])
    model32 = HierarchicalSpectralRegressor(n_components=3, random_state=0).fit(
        X[:8000].astype(np.float32), y[:8000].astype(np.float32)
    )
    pred = model32.predict(X_test.astype(np.float32))
    assert np.all(np.isfinite(pred))
    np.testing.assert_allclose(pred, model64.predict(X_test), atol=1e-3)


def test_constant_target_is_predicted_exactly():
    X = np.random.default_rng(9).standard_normal((200, 4))
    y = np.full(200, 2.5)
    model = HierarchicalSpectralRegressor(random_state=0).fit(X, y)
    np.testing.assert_allclose(model.predict(X), 2.5)
    assert model.n_components_ == 0


def test_issue_benchmark_d30_alpha_3_5():
    # The reference point of SPEC section 3: d = 30, p = 5, gamma = 1, identity
    # link, no noise, n = 147,885 (alpha = 3.5). The issue asks NMSE <= 0.15
    # and cos^2 >= 0.85 for the three strongest directions; measured values
    # over several targets are in benchmarks/README.md.
    dataset = HierarchicalTargetDataset(30, n_latent=5, decay=1.0, random_state=11)
    X, y = dataset.sample(147_885, random_state=12)
    X_test, y_test = dataset.sample(5000, random_state=13)
    model = HierarchicalSpectralRegressor(random_state=0).fit(X, y)
    assert nmse(y_test, model.predict(X_test)) <= 0.15
    assert np.all(recovery_cos2(model, dataset)[:3] >= 0.85)


def test_mixed_precision_matches_double_precision():
    # float32 products within batches, float64 sums across them: the fit must
    # agree with the all-float64 one far below the statistical error.
    dataset = HierarchicalTargetDataset(12, random_state=3)
    X, y = dataset.sample(30_000, random_state=4)
    X_test, _ = dataset.sample(2_000, random_state=5)
    fits = {
        precision: HierarchicalSpectralRegressor(
            n_components=4, precision=precision, random_state=0
        ).fit(X, y)
        for precision in ("mixed", "double")
    }
    mixed, double = fits["mixed"], fits["double"]
    overlap = np.einsum("kij,kij->k", mixed.components_, double.components_) ** 2
    assert np.all(overlap > 0.9999)
    pred_mixed, pred_double = mixed.predict(X_test), double.predict(X_test)
    assert np.max(np.abs(pred_mixed - pred_double)) < 1e-4 * np.std(pred_double)
