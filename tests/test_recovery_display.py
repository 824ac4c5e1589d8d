"""Tests of RecoveryDisplay and SpectrumDisplay (Agg backend)."""

import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from sklearn_hierspectral import (  # noqa: E402
    HierarchicalSpectralRegressor,
    HierarchicalTargetDataset,
    make_kernel_ridge_baseline,
)
from sklearn_hierspectral._display import RecoveryDisplay, SpectrumDisplay  # noqa: E402
from sklearn_hierspectral._recovery import match_directions, recovery_cos2  # noqa: E402

SIZES = [100, 300, 1000, 3000, 10000]
# Per size, the cos^2 of the three directions in each of 3 repeats: direction i
# crosses 0.5 later the weaker it is.
COS2 = {
    100: [[0.3, 0.0, 0.1], [0.4, 0.1, 0.0], [0.2, 0.2, 0.0]],
    300: [[0.6, 0.1, 0.1], [0.7, 0.2, 0.1], [0.5, 0.1, 0.0]],
    1000: [[0.9, 0.6, 0.2], [0.8, 0.4, 0.1], [0.9, 0.7, 0.3]],
    3000: [[1.0, 0.8, 0.6], [0.9, 0.9, 0.4], [1.0, 0.8, 0.7]],
    10000: [[1.0, 0.9, 0.9], [1.0, 1.0, 0.8], [1.0, 0.9, 0.9]],
}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def dataset():
    return HierarchicalTargetDataset(n_features=10, n_latent=3, random_state=0)


@pytest.fixture
def study():
    """Tidy recovery table, with a baseline whose cos2 is missing."""
    rows = []
    for n, runs in COS2.items():
        for repeat, values in enumerate(runs):
            for direction, cos2 in enumerate(values):
                rows.append(
                    {"estimator": "spectral", "n_samples": n, "repeat": repeat,
                     "direction": direction, "cos2": cos2, "status": "ok"}
                )
                rows.append(
                    {"estimator": "kernel", "n_samples": n, "repeat": repeat,
                     "direction": direction, "cos2": np.nan, "status": "ok"}
                )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def fitted(dataset):
    X, y = dataset.sample(20_000, random_state=1)
    model = HierarchicalSpectralRegressor(n_components=8, random_state=0).fit(X, y)
    return X, y, model


def _legend_texts(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


# ------------------------------------------------------------- directions
def test_directions_lines_bands_thresholds(study, dataset):
    display = RecoveryDisplay.from_study(study, dataset=dataset)
    ax = display.ax_
    assert display.kind_ == "directions" and display.figure_ is ax.figure
    assert ax.get_xscale() == "log"
    assert sorted(display.lines_) == sorted(display.bands_) == [0, 1, 2]
    for direction, line in display.lines_.items():
        expected = [np.mean(np.array(COS2[n])[:, direction]) for n in SIZES]
        assert_allclose(line.get_xdata(), SIZES)
        assert_allclose(line.get_ydata(), expected)
    # Each direction's predicted threshold, in the direction's colour.
    thresholds = dataset.threshold_samples()
    assert sorted(display.threshold_lines_) == [0, 1, 2]
    for direction, vline in display.threshold_lines_.items():
        assert_allclose(vline.get_xdata(), [thresholds[direction]] * 2)
        assert to_rgba(vline.get_color()) == to_rgba(display.lines_[direction].get_color())
    assert_allclose(display.recovery_line_.get_ydata(), [0.5, 0.5])
    assert display.alpha_axis_ is not None
    texts = _legend_texts(ax)
    assert any(t.startswith("direction 0 ($b = +0.61$)") for t in texts)
    assert any("recovered" in t for t in texts) and any("threshold" in t for t in texts)
    assert len(texts) == 3 + 2  # directions, recovery line, threshold proxy
    assert ax.get_ylim() == pytest.approx((-0.03, 1.03))


def test_directions_against_alpha_median_and_bands(study, dataset):
    display = RecoveryDisplay.from_study(
        study, dataset=dataset, x="alpha", center="median", band="std"
    )
    ax = display.ax_
    assert ax.get_xscale() == "linear" and display.alpha_axis_ is None
    line = display.lines_[1]
    assert_allclose(line.get_xdata(), np.log(SIZES) / np.log(10))
    assert_allclose(line.get_ydata(), [np.median(np.array(COS2[n])[:, 1]) for n in SIZES])
    assert_allclose(
        display.threshold_lines_[2].get_xdata(), [dataset.threshold_exponents()[2]] * 2
    )
    assert "alpha" in ax.get_xlabel()
    plain = RecoveryDisplay.from_study(study, band=None, show_thresholds=False)
    assert plain.bands_ == {} and plain.threshold_lines_ == {}
    assert plain.recovery_line_ is None and plain.alpha_axis_ is None


def test_directions_without_dataset_have_no_thresholds(study):
    display = RecoveryDisplay.from_study(study)
    assert display.threshold_lines_ == {} and display.recovery_line_ is not None
    assert _legend_texts(display.ax_)[0] == "direction 0"
    with pytest.raises(ValueError, match="alpha"):
        RecoveryDisplay.from_study(study, x="alpha")


# -------------------------------------------------------------- staircase
def test_staircase_measured_and_theory(study, dataset):
    display = RecoveryDisplay.from_study(study, dataset=dataset, kind="staircase")
    expected = [np.mean(np.sum(np.array(COS2[n]) > 0.5, axis=1)) for n in SIZES]
    assert_allclose(display.count_line_.get_xdata(), SIZES)
    assert_allclose(display.count_line_.get_ydata(), expected)
    assert display.count_band_ is not None and display.lines_ == {}
    theory = display.theory_line_
    assert theory.get_drawstyle() == "steps-post"
    grid, steps = theory.get_xdata(), theory.get_ydata()
    assert_allclose(steps, dataset.predicted_n_recovered(grid))
    assert steps.min() == 0 and steps.max() == dataset.n_latent
    assert np.all(np.diff(steps) >= 0)
    # It jumps exactly at the thresholds.
    for i, n_i in enumerate(dataset.threshold_samples()):
        assert steps[np.searchsorted(grid, n_i)] == i + 1
    texts = _legend_texts(display.ax_)
    assert texts == ["measured (mean over 3 repeats)", r"theory: $m(\alpha)$"]
    alpha = RecoveryDisplay.from_study(study, dataset=dataset, kind="staircase", x="alpha")
    assert_allclose(alpha.theory_line_.get_xdata(), np.log(grid) / np.log(10))


def test_staircase_from_a_scaling_study_table(dataset):
    results = pd.DataFrame(
        {
            "estimator": ["spectral"] * 4 + ["kernel"] * 4,
            "n_samples": [100, 100, 1000, 1000] * 2,
            "repeat": [0, 1, 0, 1] * 2,
            "n_recovered": [0.0, 1.0, 2.0, 3.0] + [np.nan] * 4,
            "status": ["ok", "ok", "ok", "ok", "ok", "ok", "skipped", "ok"],
        }
    )
    display = RecoveryDisplay.from_study(results, dataset=dataset, kind="staircase")
    assert_allclose(display.count_line_.get_ydata(), [0.5, 2.5])
    with pytest.raises(ValueError, match="per-direction cos2"):
        RecoveryDisplay.from_study(results, dataset=dataset)


def test_study_table_selection_and_errors(study):
    other = study[study["estimator"] == "spectral"].assign(estimator="other")
    both = pd.concat([study, other])
    with pytest.raises(ValueError, match="estimator="):
        RecoveryDisplay.from_study(both)
    display = RecoveryDisplay.from_study(both, estimator="other")
    assert sorted(display.lines_) == [0, 1, 2]
    with pytest.raises(ValueError, match="no usable rows"):
        RecoveryDisplay.from_study(both, estimator="kernel")
    with pytest.raises(ValueError, match="columns"):
        RecoveryDisplay.from_study(pd.DataFrame({"n_samples": [1], "x": [0]}))
    with pytest.raises(ValueError, match="kind"):
        RecoveryDisplay.from_study(study, kind="steps")
    incomplete = study.drop(index=study.index[0])
    with pytest.warns(UserWarning, match="lack some directions"):
        RecoveryDisplay.from_study(incomplete)


def test_constructor_directions_subset_and_no_repeat_column(dataset):
    display = RecoveryDisplay(
        n_samples=[100, 1000], cos2=[[0.1], [0.9]], directions=[2], dataset=dataset
    ).plot()
    assert list(display.lines_) == [2] and list(display.threshold_lines_) == [2]
    table = pd.DataFrame({"n_samples": [10, 10, 10, 10], "direction": [0, 0, 1, 1],
                          "cos2": [0.2, 0.7, 0.6, 0.8]})
    shown = RecoveryDisplay.from_study(table, kind="staircase")
    # The rows of a size are its repeats in order: runs (0.2, 0.6) and (0.7, 0.8).
    assert_allclose(shown.count_line_.get_ydata(), [1.5])


def test_from_estimators(dataset):
    sizes = [500, 20_000]
    estimators = []
    for n in sizes:
        X, y = dataset.sample(n, random_state=n)
        estimators.append(
            HierarchicalSpectralRegressor(n_components=8, random_state=0).fit(X, y)
        )
    display = RecoveryDisplay.from_estimators(estimators, sizes, dataset)
    for direction, line in display.lines_.items():
        expected = [recovery_cos2(e, dataset)[direction] for e in estimators]
        assert_allclose(line.get_ydata(), expected)
    assert display.lines_[0].get_ydata()[-1] > 0.5
    with pytest.raises(ValueError, match="no learned quadratic features"):
        RecoveryDisplay.from_estimators([make_kernel_ridge_baseline()], [10], dataset)
    with pytest.raises(ValueError, match="sample sizes"):
        RecoveryDisplay.from_estimators(estimators, [10], dataset)


def test_given_axes_and_savefig(study, dataset, tmp_path):
    fig, (left, right) = plt.subplots(1, 2)
    a = RecoveryDisplay.from_study(study, dataset=dataset, ax=left, legend=False)
    b = RecoveryDisplay.from_study(study, dataset=dataset, ax=right, kind="staircase",
                                   legend={"loc": "lower right"})
    assert a.ax_ is left and b.ax_ is right and a.figure_ is fig
    assert left.get_legend() is None and right.get_legend() is not None
    path = tmp_path / "recovery.png"
    fig.savefig(path)
    assert path.stat().st_size > 0


# --------------------------------------------------------------- spectrum
def test_spectrum_from_estimator(fitted, dataset):
    _, _, model = fitted
    display = SpectrumDisplay.from_estimator(model, dataset)
    ax = display.ax_
    D = model.spectrum_.size
    # Every eigenvalue is in a bar, the outliers in the red ones.
    bulk = np.array([p.get_height() for p in display.bulk_bars_])
    total = np.array([p.get_height() + p.get_y() for p in display.outlier_bars_])
    assert total.sum() == D
    assert display.n_outliers_ == model.n_recovered_outliers_ == D - bulk.sum()
    assert display.n_outliers_ >= 3
    # The edge lines at -+noise_edge_, and they are bin boundaries.
    edge = model.noise_edge_
    assert_allclose([line.get_xdata()[0] for line in display.edge_lines_], [-edge, edge])
    lefts = np.array([p.get_x() for p in display.bulk_bars_])
    assert np.min(np.abs(lefts - edge)) < 1e-9 and np.min(np.abs(lefts + edge)) < 1e-9
    # The kept components as a rug.
    assert len(display.kept_rug_.get_segments()) == model.n_components_
    # Population spikes 2 b_i / y_scale_: signed, one per direction.
    spikes = [display.spike_lines_[i].get_xdata()[0] for i in range(3)]
    assert_allclose(spikes, 2 * dataset.weights / model.y_scale_)
    assert spikes[1] < 0
    # Triangles at the matched components' eigenvalues.
    matching = match_directions(model.input_space_components(), dataset.latent_matrices)
    for true, learned in zip(matching.true_index, matching.learned_index):
        marker = display.matched_markers_[true]
        assert_allclose(marker.get_xdata(), [model.eigenvalues_[learned]])
    texts = _legend_texts(ax)
    assert texts[0].startswith("bulk") and texts[1].startswith("outliers")
    assert any(t.startswith("bulk edge") for t in texts)
    assert "kept components (8)" in texts
    assert sum(t.startswith("direction") for t in texts) == 3
    assert any("population spike" in t for t in texts)
    assert any("matched" in t for t in texts)


def test_spectrum_without_dataset_and_through_a_pipeline(fitted, dataset):
    X, y, model = fitted
    pipeline = make_pipeline(StandardScaler(), HierarchicalSpectralRegressor(
        n_components=8, random_state=0)).fit(X, y)
    display = SpectrumDisplay.from_estimator(pipeline)
    assert display.spike_lines_ == {} and display.matched_markers_ == {}
    assert display.edge_lines_ is not None and display.outlier_bars_ is not None
    bare = SpectrumDisplay.from_estimator(model, dataset, show_edge=False,
                                          show_components=False, show_directions=False)
    assert bare.outlier_bars_ is None and bare.edge_lines_ is None
    assert bare.kept_rug_ is None and bare.spike_lines_ == {}
    assert sum(p.get_height() for p in bare.bulk_bars_) == model.spectrum_.size
    with pytest.raises(ValueError, match="no layer-1 spectrum"):
        SpectrumDisplay.from_estimator(make_kernel_ridge_baseline())


def test_spectrum_constructor_hollow_markers_and_bins():
    display = SpectrumDisplay(
        eigenvalues=[2.0, -1.0, 0.1, -0.1, 0.05], noise_edge=0.5, n_components=2,
        spikes=[1.5, -0.8], matched_eigenvalues=[2.0, np.nan], matched_cos2=[0.3, 0.0],
    ).plot(bins=[-1.5, 0.0, 2.5])
    assert display.n_outliers_ == 2
    assert list(display.matched_markers_) == [0]
    assert display.matched_markers_[0].get_markerfacecolor() == "none"  # cos2 <= 0.5
    assert len(display.bulk_bars_) == 2  # the given bins
    with pytest.raises(ValueError, match="noise_edge"):
        SpectrumDisplay(eigenvalues=[1.0], noise_edge=-1.0).plot()
    with pytest.raises(ValueError, match="finite"):
        SpectrumDisplay(eigenvalues=[np.nan]).plot()


@pytest.mark.parametrize("builder", ["recovery", "spectrum"])
def test_error_without_matplotlib(monkeypatch, builder):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r'pip install "sklearn_hierspectral\[plot\]"'):
        if builder == "recovery":
            RecoveryDisplay(n_samples=[1], cos2=[[0.5]]).plot()
        else:
            SpectrumDisplay(eigenvalues=[1.0]).plot()
