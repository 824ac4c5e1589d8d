import sys
import warnings

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.linear_model import Ridge  # noqa: E402
from sklearn.model_selection import learning_curve  # noqa: E402

from sklearn_hierspectral._dataset import HierarchicalTargetDataset  # noqa: E402
from sklearn_hierspectral._display import ScalingLawDisplay  # noqa: E402
from sklearn_hierspectral._powerlaw import PowerLawFit  # noqa: E402

SIZES = [30, 100, 300, 1000, 3000, 10000]
LAWS = {"spectral": (6.0, -0.5), "kernel ridge": (2.0, -0.2), "random features": (1.5, -0.12)}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def dataset():
    return HierarchicalTargetDataset(n_features=10, random_state=0)


@pytest.fixture
def results():
    """A study in the runner's format; kernel ridge is skipped at n = 10000."""
    rng = np.random.default_rng(0)
    rows = []
    for name, (prefactor, exponent) in LAWS.items():
        for n in SIZES:
            for repeat in range(5):
                skipped = name == "kernel ridge" and n == 10000
                rows.append(
                    {
                        "estimator": name,
                        "n_samples": n,
                        "repeat": repeat,
                        "test_nmse": np.nan
                        if skipped
                        else prefactor * n**exponent * rng.lognormal(sigma=0.1),
                        "fit_seconds": 0.1,
                        "predict_seconds": 0.01,
                        "n_components": np.nan,
                        "n_recovered": np.nan,
                        "status": "skipped" if skipped else "ok",
                        "reason": "memory budget" if skipped else "",
                    }
                )
    return pd.DataFrame(rows)


def test_from_study_lines_and_slopes(results, dataset):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        display = ScalingLawDisplay.from_study(results, dataset=dataset)
    ax = display.ax_
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert display.figure_ is ax.figure
    assert list(display.lines_) == list(LAWS)
    assert set(display.bands_) == set(LAWS) == set(display.fit_lines_)
    for name, (_, exponent) in LAWS.items():
        fit = display.fits[name]
        assert isinstance(fit, PowerLawFit)
        assert fit.exponent_ci[0] < exponent < fit.exponent_ci[1]
        label = display.lines_[name].get_label()
        assert label.startswith(name) and f"slope {fit.exponent:.2f}" in label
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert sum("slope" in text for text in legend) == len(LAWS) + 1  # + theory
    assert ax.get_xlabel() == "Training samples $n$"
    assert ax.get_ylabel() == "Test NMSE"


def test_median_line_and_minmax_band(results):
    display = ScalingLawDisplay.from_study(results, fit=False)
    rows = results[results["estimator"] == "spectral"]
    grouped = rows.groupby("n_samples")["test_nmse"]
    line = display.lines_["spectral"]
    np.testing.assert_allclose(line.get_xdata(), SIZES)
    np.testing.assert_allclose(line.get_ydata(), grouped.median())
    band = display.bands_["spectral"].get_paths()[0].vertices
    assert band[:, 1].min() == pytest.approx(grouped.min().min())
    assert band[:, 1].max() == pytest.approx(grouped.max().max())
    assert display.fits is None and display.fit_lines_ == {}
    assert "slope" not in line.get_label()


def test_mean_and_iqr(results):
    display = ScalingLawDisplay.from_study(results, center="mean", band="iqr", fit=False)
    rows = results[results["estimator"] == "spectral"]
    np.testing.assert_allclose(
        display.lines_["spectral"].get_ydata(),
        rows.groupby("n_samples")["test_nmse"].mean(),
    )
    top = display.bands_["spectral"].get_paths()[0].vertices[:, 1].max()
    assert top == pytest.approx(rows.groupby("n_samples")["test_nmse"].quantile(0.75).max())
    with pytest.raises(ValueError, match="center"):
        ScalingLawDisplay.from_study(results, center="mode")
    with pytest.raises(ValueError, match="band"):
        ScalingLawDisplay.from_study(results, band="std")


def test_skipped_rows_are_ignored(results):
    # A skipped cell with a bogus error must not reach the plot or the fit.
    results.loc[results["status"] == "skipped", "test_nmse"] = 1e6
    display = ScalingLawDisplay.from_study(results)
    assert max(display.lines_["kernel ridge"].get_xdata()) == 3000
    assert display.fits["kernel ridge"].n_points == 25
    assert display.fits["kernel ridge"].n_range == (30.0, 3000.0)
    assert max(display.lines_["spectral"].get_xdata()) == 10000


def test_theory_overlay(results, dataset):
    display = ScalingLawDisplay.from_study(results, dataset=dataset)
    x = np.asarray(display.theory_line_.get_xdata())
    y = np.asarray(display.theory_line_.get_ydata())
    predicted = dataset.predicted_error(x)
    # Masked where the prediction is 0; the prediction elsewhere.
    assert np.all(np.isnan(y[predicted == 0]))
    np.testing.assert_allclose(y[predicted > 0], predicted[predicted > 0])
    assert np.isnan(y).any() and (y[~np.isnan(y)] > 0).all()
    assert x.min() < min(SIZES) and x.max() > max(SIZES)
    # Reference line with the predicted slope.
    rx, ry = (np.asarray(a, dtype=float) for a in display.reference_line_.get_data())
    slope = np.diff(np.log(ry)) / np.diff(np.log(rx))
    assert slope[0] == pytest.approx(dataset.predicted_exponent())
    assert f"{dataset.predicted_exponent():.2f}" in display.reference_line_.get_label()
    # One vertical line per direction, at the thresholds.
    segments = display.thresholds_.get_segments()
    assert len(segments) == dataset.n_latent
    np.testing.assert_allclose(
        sorted(segment[0, 0] for segment in segments), dataset.threshold_samples()
    )
    # Top axis in alpha = log n / log d.
    assert display.alpha_axis_ is not None
    assert "alpha" in display.alpha_axis_.get_xlabel()
    display.figure_.canvas.draw()
    labels = [t.get_text() for t in display.alpha_axis_.xaxis.get_ticklabels()]
    assert "2.0" in labels


def test_no_theory_without_dataset(results, dataset):
    display = ScalingLawDisplay.from_study(results)
    assert display.theory_line_ is None and display.reference_line_ is None
    assert display.thresholds_ is None and display.alpha_axis_ is None
    display = ScalingLawDisplay.from_study(
        results, dataset=dataset, show_theory=False, alpha_axis=False
    )
    assert display.theory_line_ is None and display.alpha_axis_ is None


def test_given_axes_and_options(results):
    fig, ax = plt.subplots()
    display = ScalingLawDisplay.from_study(
        results,
        ax=ax,
        n_range=(100, 3000),
        fit_params={"n_bootstrap": 50},
        line_kwargs={"linewidth": 3},
        legend={"loc": "best"},
    )
    assert display.ax_ is ax and display.figure_ is fig
    assert display.fits["spectral"].n_range == (100.0, 3000.0)
    assert display.fits["spectral"].n_bootstrap == 50
    assert display.lines_["spectral"].get_linewidth() == 3
    display = ScalingLawDisplay.from_study(results, legend=False, show_fits=False)
    assert display.ax_.get_legend() is None and display.fit_lines_ == {}


def test_fits_are_reproducible(results):
    a = ScalingLawDisplay.from_study(results).fits
    b = ScalingLawDisplay.from_study(results).fits
    assert a == b


def test_estimator_without_enough_sizes_gets_no_fit(results):
    extra = pd.DataFrame(
        {"estimator": "tiny", "n_samples": [100, 100], "repeat": [0, 1],
         "test_nmse": [0.5, 0.6], "status": "ok"}
    )
    with pytest.warns(UserWarning, match="No power-law fit for estimator 'tiny'"):
        display = ScalingLawDisplay.from_study(pd.concat([results, extra]))
    assert display.fits["tiny"] is None
    assert display.lines_["tiny"].get_label() == "tiny"


def test_bad_ok_rows_and_empty_estimators_warn(results):
    results.loc[0, "test_nmse"] = np.nan
    extra = pd.DataFrame(
        {"estimator": "broken", "n_samples": [100], "repeat": [0],
         "test_nmse": [np.nan], "status": "skipped"}
    )
    with pytest.warns(UserWarning) as record:
        display = ScalingLawDisplay.from_study(pd.concat([results, extra]))
    messages = " ".join(str(w.message) for w in record)
    assert "1 'ok' row(s) of estimator 'spectral'" in messages
    assert "'broken' has no usable 'ok' rows" in messages
    assert "broken" not in display.lines_


def test_missing_columns(results):
    with pytest.raises(ValueError, match=r"\['test_nmse'\]"):
        ScalingLawDisplay.from_study(results.drop(columns="test_nmse"))


def test_savefig(results, dataset, tmp_path):
    display = ScalingLawDisplay.from_study(results, dataset=dataset)
    path = tmp_path / "scaling.png"
    display.figure_.savefig(path)
    assert path.stat().st_size > 10_000


def _ridge_learning_curve(scoring):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((600, 20))
    y = X @ rng.standard_normal(20) + rng.standard_normal(600)
    sizes, _, test_scores = learning_curve(
        Ridge(alpha=1.0), X, y, train_sizes=[25, 50, 100, 200, 400], cv=5,
        scoring=scoring,
    )
    return sizes, test_scores, y


def test_from_learning_curve_r2():
    sizes, test_scores, _ = _ridge_learning_curve(None)  # R^2 by default
    display = ScalingLawDisplay.from_learning_curve(
        sizes, test_scores, estimator_name="ridge"
    )
    line = display.lines_["ridge"]
    np.testing.assert_allclose(line.get_xdata(), sizes)
    np.testing.assert_allclose(line.get_ydata(), np.median(1 - test_scores, axis=1))
    fit = display.fits["ridge"]
    assert fit.n_points == test_scores.size
    assert fit.exponent < 0
    assert "ridge (slope" in line.get_label()
    assert display.ax_.get_xscale() == "log"


def test_from_learning_curve_neg_mse(dataset):
    sizes, test_scores, y = _ridge_learning_curve("neg_mean_squared_error")
    display = ScalingLawDisplay.from_learning_curve(
        sizes, test_scores, scoring="neg_mean_squared_error",
        y_variance=np.var(y), dataset=dataset, estimator_name="ridge",
    )
    np.testing.assert_allclose(
        display.lines_["ridge"].get_ydata(), np.median(-test_scores, axis=1) / np.var(y)
    )
    assert display.theory_line_ is not None
    with pytest.raises(ValueError, match="y_variance=np.var"):
        ScalingLawDisplay.from_learning_curve(
            sizes, test_scores, scoring="neg_mean_squared_error"
        )
    rmse = ScalingLawDisplay.from_learning_curve(
        sizes, -np.sqrt(-test_scores), scoring="neg_root_mean_squared_error",
        y_variance=np.var(y), fit=False,
    )
    np.testing.assert_allclose(
        rmse.lines_["estimator"].get_ydata(), display.lines_["ridge"].get_ydata()
    )


def test_from_learning_curve_on_the_dataset(dataset):
    X, y = dataset.sample(400, random_state=0)
    sizes, _, test_scores = learning_curve(
        Ridge(), X, y, train_sizes=[40, 80, 160, 320], cv=5
    )
    display = ScalingLawDisplay.from_learning_curve(
        sizes, test_scores, dataset=dataset, estimator_name="ridge"
    )
    assert display.thresholds_ is not None and display.alpha_axis_ is not None


def test_from_learning_curve_bad_input():
    with pytest.raises(ValueError, match="shape"):
        ScalingLawDisplay.from_learning_curve([10, 20, 30], np.ones((2, 5)))
    with pytest.raises(ValueError, match="scoring"):
        ScalingLawDisplay.from_learning_curve([10, 20], np.ones((2, 5)), scoring="mae")


def test_constructor_and_plot():
    n = np.repeat([100, 1000], 2)
    display = ScalingLawDisplay(
        n_samples={"a": n}, errors={"a": [0.5, 0.6, 0.1, 0.12]}, error_name="MSE"
    )
    assert display.plot() is display
    assert display.ax_.get_ylabel() == "MSE"
    bad = ScalingLawDisplay(n_samples={"a": n}, errors={"b": [1, 1, 1, 1]})
    with pytest.raises(ValueError, match="same estimator names"):
        bad.plot()


def test_error_without_matplotlib(monkeypatch, results):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r'pip install "sklearn_hierspectral\[plot\]"'):
        ScalingLawDisplay.from_study(results)
