"""Tests of the scaling-study runner and its summary."""

import time
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sklearn_hierspectral._baselines import (
    MemoryBudgetError,
    make_kernel_ridge_baseline,
)
from sklearn_hierspectral._dataset import HierarchicalTargetDataset
from sklearn_hierspectral._display import RecoveryDisplay
from sklearn_hierspectral._recovery import recovery_cos2
from sklearn_hierspectral._regressor import HierarchicalSpectralRegressor
from sklearn_hierspectral._study import (
    RECOVERY_COLUMNS,
    STUDY_COLUMNS,
    recovery_study,
    scaling_study,
    summarize_study,
)

TIMING = ["fit_seconds", "predict_seconds"]


@pytest.fixture(autouse=True)
def single_blas_thread():
    # Tiny matrices: a multi-threaded BLAS only adds overhead, and on a busy
    # machine its spinning threads slow small problems down a lot.
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="module")
def dataset():
    return HierarchicalTargetDataset(n_features=6, random_state=0)


class Fingerprint(RegressorMixin, BaseEstimator):
    """Predicts a constant that identifies its training sample."""

    def fit(self, X, y):
        self.value_ = float(X[0, 0] + 10 * X.shape[0])
        return self

    def predict(self, X):
        return np.full(X.shape[0], self.value_)


class SleepAbove(RegressorMixin, BaseEstimator):
    """Mean predictor whose fit sleeps when there are many samples."""

    def __init__(self, threshold=300, seconds=0.3):
        self.threshold = threshold
        self.seconds = seconds

    def fit(self, X, y):
        if X.shape[0] >= self.threshold:
            time.sleep(self.seconds)
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        return np.full(X.shape[0], self.mean_)


class Failing(RegressorMixin, BaseEstimator):
    def __init__(self, exception="value"):
        self.exception = exception

    def fit(self, X, y):
        if self.exception == "memory":
            raise MemoryError("cannot allocate 1 PB")
        raise ValueError("this estimator always fails")

    def predict(self, X):  # pragma: no cover - never fitted
        return np.zeros(X.shape[0])


def quick_study(dataset, estimators=None, **kwargs):
    params = dict(n_repeats=2, test_size=400, progress=False)
    params.update(kwargs)
    if estimators is None:
        estimators = {"ridge": Ridge(), "dummy": DummyRegressor()}
    sizes = params.pop("train_sizes", [100, 200])
    return scaling_study(estimators, dataset, sizes, **params)


def without_timings(frame):
    return frame.drop(columns=TIMING)


# ------------------------------------------------------------------ table
def test_columns_dtypes_and_rows(dataset):
    results = quick_study(dataset, train_sizes=[200, 100, 400])
    assert list(results.columns) == list(STUDY_COLUMNS)
    assert len(results) == 2 * 3 * 2
    assert pd.api.types.is_string_dtype(results["estimator"])
    assert pd.api.types.is_string_dtype(results["status"])
    assert pd.api.types.is_string_dtype(results["reason"])
    for column in ("n_samples", "repeat"):
        assert pd.api.types.is_integer_dtype(results[column])
    for column in (
        "test_nmse", "fit_seconds", "predict_seconds", "n_components",
        "n_recovered", "alpha",
    ):
        assert pd.api.types.is_float_dtype(results[column]), column
    # Sorted by estimator (given order), size, repeat.
    assert list(pd.unique(results["estimator"])) == ["ridge", "dummy"]
    ridge = results[results["estimator"] == "ridge"]
    assert list(ridge["n_samples"]) == [100, 100, 200, 200, 400, 400]
    assert list(ridge["repeat"]) == [0, 1] * 3
    assert set(results["status"]) == {"ok"}
    assert set(results["reason"]) == {""}
    assert np.all(results["test_nmse"] > 0)
    assert np.all(results["fit_seconds"] >= 0)
    np.testing.assert_allclose(
        results["alpha"], np.log(results["n_samples"]) / np.log(6)
    )
    # The dummy regressor predicts the training mean: NMSE close to 1.
    dummy = results[results["estimator"] == "dummy"]["test_nmse"]
    assert np.all((dummy > 0.95) & (dummy < 1.2))


def test_theory_in_attrs(dataset):
    results = quick_study(dataset)
    assert results.attrs["predicted_exponent"] == dataset.predicted_exponent()
    assert results.attrs["predicted_n_recovered"] == {
        100: dataset.predicted_n_recovered(100),
        200: dataset.predicted_n_recovered(200),
    }
    assert results.attrs["n_repeats"] == 2


def test_same_seed_same_table(dataset):
    first = quick_study(dataset, random_state=3)
    second = quick_study(dataset, random_state=3)
    pd.testing.assert_frame_equal(without_timings(first), without_timings(second))
    other = quick_study(dataset, random_state=4)
    assert not np.allclose(first["test_nmse"], other["test_nmse"])


def test_paired_samples_and_fresh_repeats(dataset):
    results = quick_study(
        dataset, {"a": Fingerprint(), "b": Fingerprint()}, n_repeats=3
    )
    a = results[results["estimator"] == "a"]["test_nmse"].to_numpy()
    b = results[results["estimator"] == "b"]["test_nmse"].to_numpy()
    # Same training sample for every estimator of a (size, repeat) ...
    np.testing.assert_array_equal(a, b)
    # ... and a fresh one for every repeat and size.
    assert len(np.unique(a)) == len(a)


def test_adding_a_size_keeps_the_other_cells(dataset):
    small = quick_study(dataset, train_sizes=[100, 200])
    large = quick_study(dataset, train_sizes=[100, 150, 200])
    large = large[large["n_samples"] != 150].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        without_timings(small), without_timings(large), check_like=True
    )


def test_n_jobs_does_not_change_the_table(dataset):
    estimators = {
        "spectral": HierarchicalSpectralRegressor(random_state=0),
        "ridge": Ridge(),
    }
    sequential = quick_study(dataset, estimators, n_jobs=1)
    parallel = quick_study(dataset, estimators, n_jobs=2)
    pd.testing.assert_frame_equal(
        without_timings(sequential), without_timings(parallel)
    )


@pytest.mark.parametrize("backend", ["threading", "loky"])
def test_joblib_backends(dataset, backend):
    reference = quick_study(dataset, n_jobs=1)
    as_argument = quick_study(dataset, n_jobs=2, backend=backend)
    pd.testing.assert_frame_equal(
        without_timings(reference), without_timings(as_argument)
    )
    with joblib.parallel_config(backend=backend, n_jobs=2):
        in_context = quick_study(dataset)
    pd.testing.assert_frame_equal(
        without_timings(reference), without_timings(in_context)
    )


def test_dask_backend(dataset):
    distributed = pytest.importorskip("distributed")
    reference = quick_study(dataset, n_jobs=1)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster, distributed.Client(cluster):
        results = quick_study(dataset, backend="dask")
    pd.testing.assert_frame_equal(without_timings(reference), without_timings(results))


def test_backend_without_generator_output(dataset):
    reference = quick_study(dataset, {"ridge": Ridge()}, n_jobs=1)
    results = quick_study(
        dataset, {"ridge": Ridge()}, n_jobs=2, backend="multiprocessing"
    )
    pd.testing.assert_frame_equal(without_timings(reference), without_timings(results))


# ------------------------------------------------------------------ learned features
def test_components_and_recovery_columns(dataset):
    estimators = {
        "spectral": HierarchicalSpectralRegressor(random_state=0),
        "piped": make_pipeline(
            StandardScaler(), HierarchicalSpectralRegressor(random_state=0)
        ),
        "ridge": Ridge(),
    }
    results = quick_study(dataset, estimators, train_sizes=[300, 600], n_repeats=1)
    for name in ("spectral", "piped"):
        rows = results[results["estimator"] == name]
        assert rows["n_components"].notna().all()
        assert rows["n_recovered"].notna().all()
        assert np.all(rows["n_recovered"] >= 0)
        assert np.all(rows["n_recovered"] <= dataset.n_latent)
        assert np.all(rows["n_recovered"] == np.floor(rows["n_recovered"]))
    ridge = results[results["estimator"] == "ridge"]
    assert ridge["n_components"].isna().all()
    assert ridge["n_recovered"].isna().all()
    spectral = results[results["estimator"] == "spectral"]
    # The spectral learner beats a linear model on this degree-4 target.
    assert spectral["test_nmse"].iloc[-1] < ridge["test_nmse"].iloc[-1]


def test_recovery_threshold(dataset):
    estimators = {"spectral": HierarchicalSpectralRegressor(random_state=0)}
    lax = quick_study(dataset, estimators, n_repeats=1, recovery_threshold=0.0)
    strict = quick_study(dataset, estimators, n_repeats=1, recovery_threshold=0.999)
    assert np.all(lax["n_recovered"] >= strict["n_recovered"])
    with pytest.raises(ValueError, match="recovery_threshold"):
        quick_study(dataset, estimators, recovery_threshold=1.5)


# ------------------------------------------------------------------ skips
def test_skip_dict(dataset):
    results = quick_study(
        dataset, train_sizes=[100, 200, 400], skip={"ridge": 200}
    )
    ridge = results[results["estimator"] == "ridge"]
    skipped = ridge[ridge["n_samples"] == 400]
    assert set(skipped["status"]) == {"skipped"}
    assert skipped["test_nmse"].isna().all()
    assert all("400" in reason and "ridge" in reason for reason in skipped["reason"])
    assert set(ridge[ridge["n_samples"] <= 200]["status"]) == {"ok"}
    assert set(results[results["estimator"] == "dummy"]["status"]) == {"ok"}


def test_skip_callable(dataset):
    calls = []

    def skip(name, n_samples):
        calls.append((name, n_samples))
        return "too big for the test" if name == "dummy" and n_samples > 100 else None

    results = quick_study(dataset, skip=skip)
    dummy = results[(results["estimator"] == "dummy") & (results["n_samples"] == 200)]
    assert set(dummy["status"]) == {"skipped"}
    assert set(dummy["reason"]) == {"too big for the test"}
    assert (results["status"] == "ok").sum() == 6
    assert ("ridge", 200) in calls


def test_skip_validation(dataset):
    with pytest.raises(ValueError, match="unknown estimator"):
        quick_study(dataset, skip={"typo": 100})
    with pytest.raises(TypeError, match="skip"):
        quick_study(dataset, skip=[100])


def test_memory_budget_error_is_a_skip(dataset):
    estimators = {"krr": make_kernel_ridge_baseline(), "ridge": Ridge()}
    # 100 samples need 100^2 x 27.5 bytes = 275 kB for kernel ridge.
    results = quick_study(dataset, estimators, max_memory_bytes=1e5)
    krr = results[results["estimator"] == "krr"]
    assert set(krr["status"]) == {"skipped"}
    assert all(
        reason.startswith(MemoryBudgetError.__name__) for reason in krr["reason"]
    )
    assert krr["test_nmse"].isna().all()
    assert set(results[results["estimator"] == "ridge"]["status"]) == {"ok"}
    # With room enough, the same pipeline runs.
    results = quick_study(dataset, estimators, max_memory_bytes=1e9)
    assert set(results["status"]) == {"ok"}


def test_memory_error_is_a_skip(dataset):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a skip is not worth a warning
        results = quick_study(dataset, {"big": Failing("memory"), "ridge": Ridge()})
    big = results[results["estimator"] == "big"]
    assert set(big["status"]) == {"skipped"}
    assert set(big["reason"]) == {"MemoryError: cannot allocate 1 PB"}


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_max_fit_seconds_skips_larger_sizes(dataset, n_jobs):
    estimators = {"slow": SleepAbove(threshold=200, seconds=0.3), "ridge": Ridge()}
    results = quick_study(
        dataset,
        estimators,
        train_sizes=[100, 200, 400, 800],
        max_fit_seconds=0.15,
        n_jobs=n_jobs,
        backend="threading",
    )
    slow = results[results["estimator"] == "slow"]
    # 200 ran (and was slow); everything above it is skipped.
    assert set(slow[slow["n_samples"] <= 200]["status"]) == {"ok"}
    above = slow[slow["n_samples"] > 200]
    assert set(above["status"]) == {"skipped"}
    assert all(
        "n_samples=200" in reason and "max_fit_seconds" in reason
        for reason in above["reason"]
    )
    assert set(results[results["estimator"] == "ridge"]["status"]) == {"ok"}


def test_error_row_and_warning(dataset):
    with pytest.warns(UserWarning, match="'broken' failed in 4 cell"):
        results = quick_study(dataset, {"broken": Failing(), "ridge": Ridge()})
    broken = results[results["estimator"] == "broken"]
    assert set(broken["status"]) == {"error"}
    assert set(broken["reason"]) == {"ValueError: this estimator always fails"}
    assert broken["test_nmse"].isna().all()
    assert set(results[results["estimator"] == "ridge"]["status"]) == {"ok"}


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"estimators": {}}, ValueError, "non-empty dict"),
        ({"estimators": {"x": object()}}, TypeError, "fit and predict"),
        ({"train_sizes": []}, ValueError, "at least one"),
        ({"train_sizes": [100, 100]}, ValueError, "duplicates"),
        ({"train_sizes": [1]}, ValueError, ">= 2"),
        ({"train_sizes": [10.5]}, TypeError, "integer"),
        ({"n_repeats": 0}, ValueError, "n_repeats"),
        ({"test_size": 1}, ValueError, "test_size"),
        ({"max_fit_seconds": 0}, ValueError, "max_fit_seconds"),
        ({"max_memory_bytes": -1}, ValueError, "max_memory_bytes"),
    ],
)
def test_invalid_arguments(dataset, kwargs, error, match):
    estimators = kwargs.pop("estimators", {"ridge": Ridge()})
    with pytest.raises(error, match=match):
        quick_study(dataset, estimators, **kwargs)


def test_dataset_must_sample():
    with pytest.raises(TypeError, match="sample"):
        scaling_study({"ridge": Ridge()}, object(), [100])


# ------------------------------------------------------------------ progress
def test_progress_on_stderr(dataset, capsys):
    quick_study(dataset, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "8/8" in captured.err


def test_no_progress(dataset, capsys):
    quick_study(dataset, progress=False)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_text_progress_without_tqdm(dataset, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    quick_study(dataset, progress=True)
    err = capsys.readouterr().err
    assert "scaling_study" in err and "8/8 cells" in err


# ------------------------------------------------------------------ summary
def synthetic_results():
    n = np.repeat([1000, 4000, 16000, 64000], 3)
    rng = np.random.default_rng(0)
    good = 30 * n**-0.5 * rng.lognormal(sigma=0.05, size=n.size)
    flat = 0.9 * n**-0.02 * rng.lognormal(sigma=0.01, size=n.size)
    frame = pd.DataFrame(
        {
            "estimator": ["good"] * n.size + ["flat"] * n.size,
            "n_samples": np.concatenate([n, n]),
            "repeat": np.tile([0, 1, 2], 8),
            "test_nmse": np.concatenate([good, flat]),
            "n_recovered": np.concatenate(
                [np.full(n.size, 2.0), np.full(n.size, np.nan)]
            ),
            "status": "ok",
        }
    )
    # The flat estimator was skipped at the largest size.
    largest = (frame["estimator"] == "flat") & (frame["n_samples"] == 64000)
    frame.loc[largest, "status"] = "skipped"
    frame.loc[largest, "test_nmse"] = np.nan
    return frame


def test_summarize_study(dataset):
    summary = summarize_study(synthetic_results(), dataset, n_bootstrap=200)
    assert list(summary.index) == ["good", "flat"]
    for column in (
        "exponent", "exponent_low", "exponent_high", "prefactor", "theory_exponent",
        "n_max", "nmse_at_n_max", "n_recovered_at_n_max",
        "predicted_n_recovered_at_n_max", "n_ok", "n_skipped", "n_error",
    ):
        assert column in summary.columns
    good, flat = summary.loc["good"], summary.loc["flat"]
    assert good["exponent"] == pytest.approx(-0.5, abs=0.03)
    assert good["exponent_low"] < good["exponent"] < good["exponent_high"]
    assert flat["exponent"] == pytest.approx(-0.02, abs=0.03)
    assert good["theory_exponent"] == dataset.predicted_exponent()
    assert good["n_max"] == 64000 and flat["n_max"] == 16000
    assert flat["n_skipped"] == 3 and flat["n_ok"] == 9
    assert good["n_recovered_at_n_max"] == 2
    predicted = dataset.predicted_n_recovered(64000)
    assert good["predicted_n_recovered_at_n_max"] == predicted
    assert np.isnan(flat["n_recovered_at_n_max"])
    assert np.isnan(flat["predicted_n_recovered_at_n_max"])


def test_summarize_study_n_range_and_degenerate_cases():
    results = synthetic_results()
    summary = summarize_study(results, n_range=(4000, None), n_bootstrap=100)
    assert summary.loc["good", "exponent"] == pytest.approx(-0.5, abs=0.05)
    assert np.isnan(summary.loc["good", "theory_exponent"])  # no dataset, no attrs
    # A single size: no exponent, but the error at that size.
    one = results[results["n_samples"] == 1000]
    with pytest.warns(UserWarning, match=r"No scaling exponent for '(good|flat)': it has 1 sample"):
        summary = summarize_study(one, n_bootstrap=0)
    assert np.isnan(summary.loc["good", "exponent"])
    assert summary.loc["good", "nmse_at_n_max"] > 0
    # Nothing ran: n_max 0 and NaNs.
    none = results.assign(status="skipped", test_nmse=np.nan)
    summary = summarize_study(none, n_bootstrap=0)
    assert (summary["n_max"] == 0).all() and summary["nmse_at_n_max"].isna().all()
    with pytest.raises(ValueError, match="test_nmse"):
        summarize_study(results.drop(columns="test_nmse"))


def test_summarize_study_empty_table():
    empty = synthetic_results().iloc[:0]
    summary = summarize_study(empty)
    assert summary.empty and summary.index.name == "estimator"
    full = summarize_study(synthetic_results(), n_bootstrap=0)
    assert list(summary.columns) == list(full.columns)
    assert dict(summary.dtypes) == dict(full.dtypes)


def test_summarize_study_errors_are_not_too_few_sizes():
    # Only "fewer than two sizes" means a NaN exponent; a broken table or an
    # absurd n_bootstrap is an error, not a silent NaN.
    results = synthetic_results()
    with pytest.raises(ValueError, match=r"n_samples'\] must be positive sample sizes"):
        summarize_study(results.assign(n_samples=-results["n_samples"]), n_bootstrap=0)
    with pytest.raises(MemoryBudgetError):
        summarize_study(results, n_bootstrap=10**15)
    # n_range leaving one size: NaN exponent, no error.
    with pytest.warns(UserWarning, match=r"in n_range=\(None, 1000\)"):
        summary = summarize_study(results, n_range=(None, 1000), n_bootstrap=10)
    assert summary["exponent"].isna().all()


def test_summarize_study_keeps_exact_fits_for_n_max():
    # An NMSE of 0 at the largest size is a result (the error at n_max), not
    # a missing value; the exponent is fitted on the positive errors.
    results = synthetic_results()
    good = results["estimator"] == "good"
    n_top = results.loc[good, "n_samples"].max()
    exact = results.copy()
    exact.loc[good & (exact["n_samples"] == n_top), "test_nmse"] = 0.0
    summary = summarize_study(exact, n_bootstrap=0)
    assert summary.loc["good", "n_max"] == n_top
    assert summary.loc["good", "nmse_at_n_max"] == 0.0
    assert summary.loc["good", "exponent"] == pytest.approx(-0.5, abs=0.05)
    with pytest.raises(ValueError, match=r"negative test_nmse"):
        summarize_study(results.assign(test_nmse=-results["test_nmse"]), n_bootstrap=0)


@pytest.mark.parametrize(
    "results, dataset, error, match",
    [
        ("study.csv", None, TypeError, r"results must be the DataFrame .* got str"),
        (42, None, TypeError, r"got int"),
        ([1, 2, 3], None, ValueError, r"lacks the column"),
        (None, "not a dataset", TypeError, r"dataset must be the HierarchicalTargetDataset"),
        (None, 3.0, TypeError, r"got float"),
    ],
)
def test_summarize_study_refuses_wrong_types(results, dataset, error, match):
    table = synthetic_results() if results is None else results
    with pytest.raises(error, match=match):
        summarize_study(table, dataset=dataset, n_bootstrap=0)


def test_summarize_study_refuses_non_numeric_columns():
    results = synthetic_results()
    with pytest.raises(ValueError, match=r"results\['test_nmse'\] must hold numbers"):
        summarize_study(results.assign(test_nmse="0.1"), n_bootstrap=0)
    with pytest.raises(ValueError, match=r"results\['n_samples'\] must hold numbers"):
        summarize_study(results.assign(n_samples=results["n_samples"].astype(str)))


def test_summarize_a_real_study(dataset):
    estimators = {
        "spectral": HierarchicalSpectralRegressor(random_state=0),
        "ridge": Ridge(),
    }
    results = quick_study(dataset, estimators, train_sizes=[200, 400, 800])
    summary = summarize_study(results, n_bootstrap=100)  # theory from attrs
    assert summary.loc["spectral", "theory_exponent"] == dataset.predicted_exponent()
    assert summary.loc["spectral", "exponent"] < summary.loc["ridge", "exponent"]
    assert summary.loc["spectral", "n_max"] == 800


# ------------------------------------------------------------------ recovery study
def quick_recovery(dataset, estimator=None, **kwargs):
    params = dict(n_repeats=2, test_size=400, progress=False)
    params.update(kwargs)
    if estimator is None:
        estimator = HierarchicalSpectralRegressor(n_components=3, random_state=0)
    sizes = params.pop("train_sizes", [150, 600])
    return recovery_study(estimator, dataset, sizes, **params)


def test_recovery_study_columns_and_rows(dataset):
    results = quick_recovery(dataset, train_sizes=[600, 150], threshold=0.4)
    p = dataset.n_latent
    assert list(results.columns) == list(RECOVERY_COLUMNS)
    assert len(results) == 2 * 2 * p
    for column in ("n_samples", "repeat", "direction"):
        assert pd.api.types.is_integer_dtype(results[column]), column
    assert pd.api.types.is_bool_dtype(results["recovered"])
    for column in (
        "weight", "cos2", "threshold_n", "alpha", "n_components", "n_recovered",
        "test_nmse", "fit_seconds",
    ):
        assert pd.api.types.is_float_dtype(results[column]), column
    assert pd.api.types.is_string_dtype(results["status"])
    # Sorted by size, repeat, direction.
    assert list(results["n_samples"]) == [150] * 2 * p + [600] * 2 * p
    assert list(results["repeat"]) == ([0] * p + [1] * p) * 2
    assert list(results["direction"]) == list(range(p)) * 4
    # Per-direction columns follow the dataset, strongest first.
    np.testing.assert_array_equal(results["weight"], np.tile(dataset.weights, 4))
    np.testing.assert_allclose(
        results["threshold_n"], np.tile(dataset.threshold_samples(), 4)
    )
    np.testing.assert_allclose(
        results["alpha"], np.log(results["n_samples"]) / np.log(dataset.n_features)
    )
    assert set(results["status"]) == {"ok"}
    assert np.all((results["cos2"] >= 0) & (results["cos2"] <= 1))
    np.testing.assert_array_equal(results["recovered"], results["cos2"] > 0.4)
    # Per-run columns: constant within a run, n_recovered the count.
    runs = results.groupby(["n_samples", "repeat"])
    assert (runs["n_recovered"].nunique() == 1).all()
    assert (runs["test_nmse"].nunique() == 1).all()
    np.testing.assert_array_equal(
        runs["recovered"].sum().to_numpy(float), runs["n_recovered"].first()
    )
    assert np.all(results["n_components"] == 3)
    assert np.all(results["test_nmse"] > 0)
    assert results.attrs["threshold"] == 0.4
    assert results.attrs["predicted_exponent"] == dataset.predicted_exponent()


def test_recovery_study_reproducible(dataset):
    first = quick_recovery(dataset, random_state=3)
    second = quick_recovery(dataset, random_state=3)
    pd.testing.assert_frame_equal(
        first.drop(columns="fit_seconds"), second.drop(columns="fit_seconds")
    )
    other = quick_recovery(dataset, random_state=4)
    assert not np.allclose(first["cos2"], other["cos2"])


@pytest.mark.parametrize("backend", [None, "threading"])
def test_recovery_study_n_jobs_invariant(dataset, backend):
    sequential = quick_recovery(dataset, n_jobs=1)
    parallel = quick_recovery(dataset, n_jobs=2, backend=backend)
    pd.testing.assert_frame_equal(
        sequential.drop(columns="fit_seconds"), parallel.drop(columns="fit_seconds")
    )


def test_recovery_study_paired_with_scaling_study(dataset):
    # Same random_state: the same training samples and test set, so the same
    # fitted model, recovered count and test error as in a scaling study.
    estimator = HierarchicalSpectralRegressor(random_state=0)
    recovery = quick_recovery(dataset, estimator, train_sizes=[200, 800])
    scaling = quick_study(dataset, {"spectral": estimator}, train_sizes=[200, 800])
    runs = recovery.drop_duplicates(["n_samples", "repeat"]).reset_index(drop=True)
    np.testing.assert_array_equal(runs["n_samples"], scaling["n_samples"])
    np.testing.assert_array_equal(runs["n_recovered"], scaling["n_recovered"])
    np.testing.assert_array_equal(runs["n_components"], scaling["n_components"])
    np.testing.assert_allclose(runs["test_nmse"], scaling["test_nmse"])


def test_recovery_study_cos2_is_recovery_cos2(dataset):
    estimator = HierarchicalSpectralRegressor(n_components=2, random_state=0)
    results = quick_recovery(
        dataset, estimator, train_sizes=[500], n_repeats=1, random_state=7
    )
    # Redraw the cell's sample from the documented seed keys and refit.
    root = np.random.SeedSequence(7)
    seed = np.random.SeedSequence(root.entropy, spawn_key=(1, 500, 0))
    X, y = dataset.sample(500, random_state=seed)
    model = HierarchicalSpectralRegressor(n_components=2, random_state=0).fit(X, y)
    np.testing.assert_allclose(results["cos2"], recovery_cos2(model, dataset))


def test_recovery_study_without_test_set(dataset):
    results = quick_recovery(dataset, test_size=None, n_repeats=1)
    assert results["test_nmse"].isna().all()
    assert results["cos2"].notna().all()


def test_recovery_study_baseline_is_an_error_row(dataset):
    with pytest.warns(UserWarning, match="learns no quadratic features"):
        results = quick_recovery(dataset, Ridge(), n_repeats=1)
    assert set(results["status"]) == {"error"}
    assert results["cos2"].isna().all()
    assert results["n_recovered"].isna().all()
    assert not results["recovered"].any()


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"estimator": {"a": Ridge()}}, TypeError, "single estimator"),
        ({"estimator": "spectral"}, TypeError, "unfitted scikit-learn estimator"),
        ({"threshold": 1.0}, ValueError, "threshold"),
        ({"n_repeats": 0}, ValueError, "n_repeats"),
        ({"test_size": 1}, ValueError, "test_size"),
        ({"train_sizes": [100, 100]}, ValueError, "duplicates"),
    ],
)
def test_recovery_study_invalid_arguments(dataset, kwargs, error, match):
    with pytest.raises(error, match=match):
        quick_recovery(dataset, **kwargs)


def test_recovery_study_needs_latent_directions():
    class NoLatent:
        def sample(self, n, random_state=None):  # pragma: no cover
            raise AssertionError

    with pytest.raises(TypeError, match="latent_matrices"):
        recovery_study(
            HierarchicalSpectralRegressor(), NoLatent(), [100], progress=False
        )


@pytest.mark.parametrize("kind", ["directions", "staircase"])
def test_recovery_display_plots_the_table(dataset, kind):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = quick_recovery(dataset, n_repeats=2, train_sizes=[150, 600, 2400])
    display = RecoveryDisplay.from_study(results, dataset=dataset, kind=kind)
    runs = results.drop_duplicates(["n_samples", "repeat"])
    if kind == "directions":
        assert sorted(display.lines_) == list(range(dataset.n_latent))
        means = results.groupby(["direction", "n_samples"])["cos2"].mean()
        for direction, line in display.lines_.items():
            np.testing.assert_allclose(line.get_ydata(), means[direction].to_numpy())
    else:
        means = runs.groupby("n_samples")["n_recovered"].mean().to_numpy()
        np.testing.assert_allclose(display.count_line_.get_ydata(), means)
        assert display.theory_line_ is not None
    plt.close("all")


def test_recovery_study_real_run_recovers_strong_directions():
    # d = 10, gamma = 1: three latent directions, weights 0.61, 0.30, 0.20.
    dataset = HierarchicalTargetDataset(n_features=10, decay=1.0, random_state=0)
    results = recovery_study(
        HierarchicalSpectralRegressor(random_state=0),
        dataset,
        [100, 1000, 10_000],
        n_repeats=2,
        test_size=2000,
        n_jobs=2,
        progress=False,
    )
    cos2 = results.groupby(["n_samples", "direction"])["cos2"].mean().unstack()
    # Nothing at n = 100; the two strongest directions at the largest size.
    assert cos2.loc[100].max() < 0.5
    assert cos2.loc[10_000, 0] > 0.8 and cos2.loc[10_000, 1] > 0.8
    largest = results[results["n_samples"] == 10_000]
    assert largest["recovered"][largest["direction"] < 2].all()
    # Recovery order follows the weights at every size (mean over repeats).
    for n in cos2.index:
        assert cos2.loc[n, 0] + 0.05 >= cos2.loc[n, 1]
    nmse = results.groupby("n_samples")["test_nmse"].mean()
    assert nmse[10_000] < 0.3 < nmse[100]
