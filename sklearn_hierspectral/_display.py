"""Scaling-law plots: error against sample size on log-log axes, with theory."""

import functools
import numbers
import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ._powerlaw import PowerLawFit, fit_power_law
from ._validation import as_real_array, check_bool, check_results_table, check_study_table
from ._recovery import (
    RECOVERY_THRESHOLD,
    _locate_quadratic_step,
    match_directions,
    recovery_cos2,
)

_CENTERS = ("median", "mean")
_BANDS = ("minmax", "iqr", None)
_SCORINGS = ("r2", "neg_mean_squared_error", "neg_root_mean_squared_error")
# Points of the dense grid on which the step-like theory curve is drawn.
_THEORY_GRID_POINTS = 2048


def _import_pyplot(display_name="ScalingLawDisplay"):
    """Import pyplot lazily, with an error that says how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"{display_name} needs matplotlib, which is not installed. Install "
            'it with: pip install "sklearn_hierspectral[plot]"'
        ) from exc
    return plt


def _check_ax(ax):
    """``ax`` must be None or a matplotlib Axes (checked before drawing)."""
    if ax is None:
        return
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise TypeError(
            f"ax must be a matplotlib Axes or None; got {type(ax).__name__}."
        )
    if getattr(ax, "name", "rectilinear") != "rectilinear":
        raise TypeError(
            f"ax must be a rectilinear (2-D Cartesian) Axes, for log-scaled axes; "
            f"got a {ax.name!r} projection."
        )


def _keyword_errors_as_type_errors(plot):
    """matplotlib answers a misspelt keyword in ``*_kwargs`` (``colour``) with
    an AttributeError; a wrong argument is a TypeError in Python's terms."""

    @functools.wraps(plot)
    def wrapper(*args, **kwargs):
        try:
            return plot(*args, **kwargs)
        except AttributeError as error:
            if "unexpected keyword argument" not in str(error):
                raise
            raise TypeError(
                f"{error}; check the keyword arguments passed to plot (line_kwargs, "
                "band_kwargs, theory_kwargs, hist_kwargs), which go to matplotlib."
            ) from error

    return wrapper


def _finite_thresholds(dataset):
    """The dataset's per-direction thresholds that are finite: an infinite
    one is a direction the theory never recovers, with no place on an axis."""
    thresholds = np.asarray(dataset.threshold_samples(), dtype=float)
    return np.where(np.isfinite(thresholds), thresholds, np.nan)


def _has_alpha_scale(dataset):
    """alpha = log n / log d needs d >= 2 (log 1 = 0)."""
    return dataset is not None and int(dataset.n_features) >= 2


#: What the theory overlays read from a dataset.
_THEORY_ATTRIBUTES = ("n_features", "predicted_error", "threshold_samples")


def _check_dataset(dataset, attributes=_THEORY_ATTRIBUTES):
    """``dataset`` must be None or look like a HierarchicalTargetDataset."""
    if dataset is None:
        return
    missing = [name for name in attributes if not hasattr(dataset, name)]
    if missing:
        raise TypeError(
            "dataset must be a HierarchicalTargetDataset (or None); got "
            f"{type(dataset).__name__}, which has no {', '.join(missing)}."
        )


def _merge(defaults, overrides):
    return {**defaults, **(overrides or {})}


def _positive_finite(n, errors):
    keep = np.isfinite(errors) & (errors > 0) & np.isfinite(n) & (n > 0)
    return n[keep], errors[keep], int(np.count_nonzero(~keep))


def _summarise(n, errors, center, band):
    """Per distinct ``n``: the centre line and the band bounds."""
    sizes, inverse = np.unique(n, return_inverse=True)
    groups = [errors[inverse == k] for k in range(sizes.size)]
    if center == "median":
        middle = np.array([np.median(g) for g in groups])
    else:
        middle = np.array([np.mean(g) for g in groups])
    if band == "minmax":
        low = np.array([g.min() for g in groups])
        high = np.array([g.max() for g in groups])
    elif band == "iqr":
        low = np.array([np.percentile(g, 25) for g in groups])
        high = np.array([np.percentile(g, 75) for g in groups])
    else:
        low = high = None
    return sizes, middle, low, high


def _compute_fits(n_samples, errors, n_range, fit_params):
    """``fit_power_law`` for each estimator; None (with a warning) when it fails."""
    params = _merge({"random_state": 0}, fit_params)
    fits = {}
    for name in n_samples:
        try:
            fits[name] = fit_power_law(
                n_samples[name], errors[name], n_range=n_range, **params
            )
        except ValueError as exc:
            warnings.warn(
                f"No power-law fit for estimator {name!r}: {exc}",
                UserWarning,
                stacklevel=3,
            )
            fits[name] = None
    return fits


class ScalingLawDisplay:
    """Error against training-set size on log-log axes, with the theory overlay.

    One line per estimator: the median (or mean) error over repeats at each
    sample size, with markers, and a shaded band over the repeats (min-max by
    default, or the interquartile range). Each estimator's fitted power law
    (see :func:`fit_power_law`) is drawn as a dashed line over the range it was
    fitted on, and its exponent, with its confidence interval, is in the
    legend. Given a dataset, the theory of SPEC section 4 is drawn too: the
    predicted error (a staircase, one step per recovered direction), a
    reference line with the predicted exponent, the per-direction recovery
    thresholds as vertical dotted lines, and a top axis in
    ``alpha = log n / log d``.

    Build it with :meth:`from_study` (from the DataFrame of
    :func:`scaling_study`) or :meth:`from_learning_curve` (from
    :func:`sklearn.model_selection.learning_curve`); the constructor takes the
    raw errors for other sources. All parameters are stored as attributes.

    Parameters
    ----------
    n_samples : dict of str to array-like of shape (n_points,)
        Per estimator name, the training-set size of each run; a size appears
        once per repeat.
    errors : dict of str to array-like of shape (n_points,)
        Per estimator name, the error of each run (same keys and lengths as
        ``n_samples``). Non-finite and non-positive errors, which log axes
        cannot show, are left out with a warning.
    fits : dict of str to PowerLawFit or None, default=None
        Fitted power law per estimator, shown in the legend and as a dashed
        line; a missing key or a None value draws no fit.
    dataset : HierarchicalTargetDataset, default=None
        Source of the theory overlay. Any object with ``n_features``,
        ``predicted_error(n)``, ``predicted_exponent()`` and
        ``threshold_samples()`` will do.
    error_name : str, default="Test NMSE"
        Label of the y axis.

    Attributes
    ----------
    lines_ : dict of str to matplotlib Line2D
        The centre line of each estimator.
    bands_ : dict of str to matplotlib PolyCollection
        The band over repeats of each estimator (empty when ``band=None``).
    fit_lines_ : dict of str to matplotlib Line2D
        The fitted power law of each estimator that has one.
    theory_line_ : matplotlib Line2D or None
        The predicted error; masked where the prediction is 0, which a log
        axis cannot show (every direction recovered).
    reference_line_ : matplotlib Line2D or None
        A line of slope ``dataset.predicted_exponent()`` through the predicted
        error at the first threshold, spanning the scaling window (at least a
        decade).
    thresholds_ : matplotlib LineCollection or None
        Vertical lines at ``dataset.threshold_samples()``.
    alpha_axis_ : matplotlib SecondaryAxis or None
        The top axis in ``alpha = log n / log d``.
    ax_ : matplotlib Axes
        Axes with the plot.
    figure_ : matplotlib Figure
        Figure containing the plot.

    See Also
    --------
    fit_power_law : The power-law fit behind the slopes in the legend.
    scaling_study : Produces the DataFrame that :meth:`from_study` reads.
    sklearn.model_selection.LearningCurveDisplay : Learning curves on linear
        axes.

    References
    ----------
    .. [1] "Scaling Laws from Sequential Feature Recovery: A Solvable
       Hierarchical Model", arXiv:2605.14567, 2026.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")  # non-interactive backend, for this example
    >>> import numpy as np
    >>> from sklearn_hierspectral._display import ScalingLawDisplay
    >>> from sklearn_hierspectral._powerlaw import fit_power_law
    >>> n = np.repeat([100, 300, 1000, 3000], 3)
    >>> errors = 2.0 * n**-0.5 * np.tile([0.9, 1.0, 1.1], 4)
    >>> display = ScalingLawDisplay(
    ...     n_samples={"ridge": n}, errors={"ridge": errors},
    ...     fits={"ridge": fit_power_law(n, errors, random_state=0)},
    ... )
    >>> display.plot()
    <...ScalingLawDisplay object at ...>
    >>> display.lines_["ridge"].get_label()
    'ridge (slope -0.50 [-0.54, -0.46])'
    """

    def __init__(
        self, *, n_samples, errors, fits=None, dataset=None, error_name="Test NMSE"
    ):
        self.n_samples = n_samples
        self.errors = errors
        self.fits = fits
        self.dataset = dataset
        self.error_name = error_name

    # ------------------------------------------------------------------ plot
    @_keyword_errors_as_type_errors
    def plot(
        self,
        ax=None,
        *,
        center="median",
        band="minmax",
        show_fits=True,
        show_theory=True,
        alpha_axis=True,
        line_kwargs=None,
        band_kwargs=None,
        theory_kwargs=None,
        legend=True,
    ):
        """Draw the scaling law.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; when None, a new 8 x 4.5 inch figure with the
            constrained layout, which makes room for the legend. Its x and y
            scales are set to log.
        center : {"median", "mean"}, default="median"
            Statistic over the repeats at each sample size drawn as the line.
            The median is robust to a failed repeat.
        band : {"minmax", "iqr"} or None, default="minmax"
            Band over the repeats: their full range, or their interquartile
            range; no band when None.
        show_fits : bool, default=True
            Draw each estimator's fitted power law as a dashed line.
        show_theory : bool, default=True
            Draw the theory overlay (only when ``dataset`` is given).
        alpha_axis : bool, default=True
            Add a top axis in ``alpha = log n / log d`` (only when ``dataset``
            is given).
        line_kwargs : dict, default=None
            Keyword arguments of ``ax.plot`` for every estimator's line.
        band_kwargs : dict, default=None
            Keyword arguments of ``ax.fill_between`` for the bands.
        theory_kwargs : dict, default=None
            Keyword arguments of ``ax.plot`` for the predicted error curve.
        legend : bool or dict, default=True
            Draw a legend, by default outside the axes on the right; a dict
            gives keyword arguments of ``ax.legend`` (e.g. ``{"loc": "best"}``
            to draw it inside).

        Returns
        -------
        display : ScalingLawDisplay
            The display, with ``ax_``, ``figure_`` and the artists set.
        """
        plt = _import_pyplot()
        for name, flag in (
            ("show_fits", show_fits), ("show_theory", show_theory), ("alpha_axis", alpha_axis)
        ):
            check_bool(name, flag)
        _check_ax(ax)
        _check_dataset(self.dataset)
        for name, value in (("n_samples", self.n_samples), ("errors", self.errors)):
            if not isinstance(value, Mapping):
                raise TypeError(
                    f"{name} must be a dict mapping estimator names to arrays; got "
                    f"{type(value).__name__}."
                )
        if center not in _CENTERS:
            raise ValueError(f"center must be one of {_CENTERS}; got {center!r}.")
        if band not in _BANDS:
            raise ValueError(f"band must be one of {_BANDS}; got {band!r}.")
        if set(self.n_samples) != set(self.errors):
            raise ValueError(
                "n_samples and errors must have the same estimator names; got "
                f"{sorted(self.n_samples)} and {sorted(self.errors)}."
            )
        if ax is None:
            # Wide, with a layout engine that makes room for the legend.
            _, ax = plt.subplots(figsize=(8.0, 4.5), layout="constrained")
        ax.set_xscale("log")
        ax.set_yscale("log")
        fits = self.fits or {}
        if not isinstance(fits, Mapping) or not all(
            fit is None or isinstance(fit, PowerLawFit) for fit in fits.values()
        ):
            raise TypeError(
                "fits must be None or a dict mapping estimator names to PowerLawFit "
                "(or None), as fit_power_law returns them."
            )

        self.lines_, self.bands_, self.fit_lines_ = {}, {}, {}
        data_n = []
        for name in self.n_samples:
            n = as_real_array(f"n_samples[{name!r}]", self.n_samples[name]).ravel()
            errors = as_real_array(f"errors[{name!r}]", self.errors[name]).ravel()
            if n.shape != errors.shape:
                raise ValueError(
                    f"Estimator {name!r} has {n.size} sample sizes but "
                    f"{errors.size} errors."
                )
            bad = ~np.isfinite(n) | (n <= 0)
            if np.any(bad):
                raise ValueError(
                    f"n_samples of estimator {name!r} must be positive and finite "
                    f"(sample sizes); got {n[bad][0]:g}."
                )
            n, errors, n_dropped = _positive_finite(n, errors)
            if n_dropped:
                warnings.warn(
                    f"{n_dropped} non-finite or non-positive error(s) of "
                    f"estimator {name!r} cannot be shown on log axes; left out.",
                    UserWarning,
                    stacklevel=2,
                )
            if n.size == 0:
                continue
            data_n.append(n)
            sizes, middle, low, high = _summarise(n, errors, center, band)
            fit = fits.get(name)
            label = str(name) if fit is None else f"{name} ({_slope_label(fit)})"
            line_defaults = {"marker": "o", "markersize": 4, "label": label}
            (line,) = ax.plot(sizes, middle, **_merge(line_defaults, line_kwargs))
            self.lines_[name] = line
            color = line.get_color()
            if band is not None:
                band_defaults = {"color": color, "alpha": 0.2, "linewidth": 0}
                self.bands_[name] = ax.fill_between(
                    sizes, low, high, **_merge(band_defaults, band_kwargs)
                )
            if show_fits and fit is not None:
                grid = np.geomspace(*fit.n_range, 64)
                (self.fit_lines_[name],) = ax.plot(
                    grid,
                    fit.predict(grid),
                    color=color,
                    linestyle="--",
                    linewidth=1.0,
                    alpha=0.8,
                )

        self.theory_line_ = self.reference_line_ = self.thresholds_ = None
        self.alpha_axis_ = None
        if self.dataset is not None and show_theory:
            self._plot_theory(ax, data_n, theory_kwargs)
        if _has_alpha_scale(self.dataset) and alpha_axis:
            self.alpha_axis_ = _add_alpha_axis(ax, self.dataset.n_features)

        ax.set_xlabel("Training samples $n$")
        ax.set_ylabel(self.error_name)
        ax.grid(True, which="major", alpha=0.3)
        if legend:
            # Outside the axes: with several estimators and the theory
            # entries, any corner inside would hide curves.
            legend_defaults = {
                "fontsize": "small",
                "loc": "upper left",
                "bbox_to_anchor": (1.02, 1.0),
                "borderaxespad": 0.0,
            }
            overrides = legend if isinstance(legend, dict) else None
            ax.legend(**_merge(legend_defaults, overrides))
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    def _plot_theory(self, ax, data_n, theory_kwargs):
        dataset = self.dataset
        thresholds = _finite_thresholds(dataset)
        thresholds = np.sort(thresholds[np.isfinite(thresholds)])
        # Cover both the data and the thresholds, with a margin on each side.
        extent = np.concatenate([thresholds, *data_n])
        grid = np.geomspace(extent.min() / 2.0, extent.max() * 2.0, _THEORY_GRID_POINTS)
        predicted = np.asarray(dataset.predicted_error(grid), dtype=float)
        # A prediction of 0 (all directions recovered) has no place on a log
        # axis: mask it, so the curve stops at the last threshold.
        predicted = np.where(predicted > 0, predicted, np.nan)
        theory_defaults = {
            "color": "black",
            "linewidth": 1.5,
            "drawstyle": "steps-post",
            "label": "theory: predicted error",
        }
        (self.theory_line_,) = ax.plot(
            grid, predicted, **_merge(theory_defaults, theory_kwargs)
        )

        exponent = float(dataset.predicted_exponent())
        first, last = thresholds[0], thresholds[-1]
        last = max(last, 10.0 * first)
        anchor = float(np.asarray(dataset.predicted_error(first)))
        if not anchor > 0:  # every direction recovered at once
            anchor = 1.0
        span = np.array([first, last])
        (self.reference_line_,) = ax.plot(
            span,
            anchor * (span / first) ** exponent,
            color="black",
            linestyle=":",
            linewidth=1.5,
            label=f"theory slope {exponent:.2f}",
        )
        self.thresholds_ = ax.vlines(
            thresholds,
            0,
            1,
            transform=ax.get_xaxis_transform(),
            colors="grey",
            linestyles=(0, (1, 3)),
            linewidth=0.8,
            label="recovery thresholds $n_i$",
        )

    # ------------------------------------------------------------ builders
    @classmethod
    def from_study(
        cls,
        results,
        *,
        dataset=None,
        fit=True,
        n_range=None,
        fit_params=None,
        ax=None,
        center="median",
        band="minmax",
        show_fits=True,
        show_theory=True,
        alpha_axis=True,
        line_kwargs=None,
        band_kwargs=None,
        theory_kwargs=None,
        legend=True,
    ):
        """Plot the results of a scaling study.

        Parameters
        ----------
        results : pandas DataFrame
            Tidy results, one row per (estimator, n_samples, repeat), as
            returned by :func:`scaling_study`: columns ``estimator``,
            ``n_samples`` and ``test_nmse`` are used, and only the rows whose
            ``status`` is ``'ok'`` (all rows when there is no ``status``
            column). Estimators appear in the order of their first row.
        dataset : HierarchicalTargetDataset, default=None
            The study's dataset, for the theory overlay and the top
            ``alpha`` axis.
        fit : bool, default=True
            Fit a power law per estimator with :func:`fit_power_law` and put
            its exponent in the legend. An estimator with fewer than 2
            distinct sample sizes in ``n_range`` gets no fit (with a warning).
        n_range : tuple (low, high), default=None
            Fit only ``low <= n <= high``, e.g. the scaling window
            ``tuple(d ** a for a in dataset.scaling_window())``. Lines show
            every sample size regardless.
        fit_params : dict, default=None
            Further keyword arguments of :func:`fit_power_law` (``floor``,
            ``n_bootstrap``, ``confidence_level``, ``random_state``). The
            bootstrap is seeded with ``random_state=0`` unless given here, so
            that the legend is reproducible.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        center, band, show_fits, show_theory, alpha_axis, line_kwargs, \
band_kwargs, theory_kwargs, legend
            See :meth:`plot`.

        Returns
        -------
        display : ScalingLawDisplay
            With the fits in ``fits`` (dict of estimator name to PowerLawFit or
            None).

        See Also
        --------
        ScalingLawDisplay.from_learning_curve : The same plot from the output
            of :func:`sklearn.model_selection.learning_curve`.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")  # non-interactive backend, for this example
        >>> import numpy as np
        >>> import pandas as pd
        >>> from sklearn_hierspectral._dataset import HierarchicalTargetDataset
        >>> from sklearn_hierspectral._display import ScalingLawDisplay
        >>> dataset = HierarchicalTargetDataset(n_features=10, random_state=0)
        >>> rng = np.random.default_rng(0)
        >>> n = np.repeat([50, 100, 300, 1000, 3000], 3)
        >>> results = pd.DataFrame({
        ...     "estimator": "spectral", "n_samples": n,
        ...     "repeat": np.tile([0, 1, 2], 5),
        ...     "test_nmse": 5 * n**-0.5 * rng.lognormal(sigma=0.1, size=n.size),
        ...     "status": "ok",
        ... })
        >>> display = ScalingLawDisplay.from_study(results, dataset=dataset)
        >>> round(display.fits["spectral"].exponent, 1)
        -0.5
        >>> display.ax_.get_xscale(), display.ax_.get_yscale()
        ('log', 'log')
        """
        results = check_study_table(results)
        fit = check_bool("fit", fit)
        names = [str(name) for name in pd.unique(results["estimator"])]
        if "status" in results.columns:
            results = results[results["status"] == "ok"]
        n_samples, errors = {}, {}
        for name in names:
            rows = results[results["estimator"].astype(str) == name]
            n = rows["n_samples"].to_numpy(dtype=float)
            e = rows["test_nmse"].to_numpy(dtype=float)
            n, e, n_dropped = _positive_finite(n, e)
            if n_dropped:
                warnings.warn(
                    f"{n_dropped} 'ok' row(s) of estimator {name!r} have a "
                    "non-finite or non-positive test_nmse; left out.",
                    UserWarning,
                    stacklevel=2,
                )
            if n.size == 0:
                warnings.warn(
                    f"Estimator {name!r} has no usable 'ok' rows; not drawn.",
                    UserWarning,
                    stacklevel=2,
                )
                continue
            n_samples[name], errors[name] = n, e
        fits = _compute_fits(n_samples, errors, n_range, fit_params) if fit else None
        display = cls(
            n_samples=n_samples, errors=errors, fits=fits, dataset=dataset
        )
        return display.plot(
            ax=ax,
            center=center,
            band=band,
            show_fits=show_fits,
            show_theory=show_theory,
            alpha_axis=alpha_axis,
            line_kwargs=line_kwargs,
            band_kwargs=band_kwargs,
            theory_kwargs=theory_kwargs,
            legend=legend,
        )

    @classmethod
    def from_learning_curve(
        cls,
        train_sizes,
        test_scores,
        *,
        scoring="r2",
        y_variance=None,
        estimator_name="estimator",
        dataset=None,
        fit=True,
        n_range=None,
        fit_params=None,
        ax=None,
        center="median",
        band="minmax",
        show_fits=True,
        show_theory=True,
        alpha_axis=True,
        line_kwargs=None,
        band_kwargs=None,
        theory_kwargs=None,
        legend=True,
    ):
        """Plot the output of :func:`sklearn.model_selection.learning_curve`.

        The scores are turned into a normalised MSE (NMSE): ``1 - R^2`` for
        ``scoring='r2'`` (normalised by each test fold's own variance), and
        ``MSE / y_variance`` for the (root) mean squared error scorers. The
        folds play the role of repeats; they share training points, so the
        bootstrap intervals of the fit are optimistic.

        Parameters
        ----------
        train_sizes : array-like of shape (n_sizes,)
            Absolute training-set sizes, the first output of
            ``learning_curve``.
        test_scores : array-like of shape (n_sizes, n_folds)
            Test scores, the third output of ``learning_curve``.
        scoring : {"r2", "neg_mean_squared_error", \
"neg_root_mean_squared_error"}, default="r2"
            The scorer the scores come from. ``"r2"`` is also what
            ``learning_curve`` uses for a regressor when ``scoring=None``.
        y_variance : float, default=None
            Variance of the target, e.g. ``np.var(y)``; needed by the mean
            squared error scorers.
        estimator_name : str, default="estimator"
            Name in the legend.
        dataset, fit, n_range, fit_params, ax, center, band, show_fits, \
show_theory, alpha_axis, line_kwargs, band_kwargs, theory_kwargs, legend
            See :meth:`from_study` and :meth:`plot`.

        Returns
        -------
        display : ScalingLawDisplay

        See Also
        --------
        ScalingLawDisplay.from_study : The same plot from a scaling study.
        sklearn.model_selection.learning_curve : Produces the inputs.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")  # non-interactive backend, for this example
        >>> from sklearn.datasets import make_regression
        >>> from sklearn.linear_model import Ridge
        >>> from sklearn.model_selection import learning_curve
        >>> from sklearn_hierspectral._display import ScalingLawDisplay
        >>> X, y = make_regression(400, 20, noise=10.0, random_state=0)
        >>> sizes, _, test_scores = learning_curve(
        ...     Ridge(), X, y, train_sizes=[40, 80, 160, 320], cv=5)
        >>> display = ScalingLawDisplay.from_learning_curve(
        ...     sizes, test_scores, estimator_name="ridge")
        >>> list(display.lines_)
        ['ridge']
        """
        if scoring not in _SCORINGS:
            raise ValueError(f"scoring must be one of {_SCORINGS}; got {scoring!r}.")
        fit = check_bool("fit", fit)
        try:
            train_sizes = as_real_array("train_sizes", train_sizes)
            scores = as_real_array("test_scores", test_scores)
        except (TypeError, ValueError):
            raise TypeError(
                "train_sizes and test_scores must be arrays of numbers, the first and "
                "third outputs of sklearn.model_selection.learning_curve."
            ) from None
        bad = ~np.isfinite(train_sizes) | (train_sizes <= 0)
        if np.any(bad):
            raise ValueError(
                "train_sizes must be positive, finite training-set sizes (absolute, "
                f"as learning_curve returns them); got {train_sizes[bad][0]:g}."
            )
        if scores.ndim == 1:
            scores = scores[:, np.newaxis]
        if train_sizes.ndim != 1 or scores.ndim != 2 or (
            scores.shape[0] != train_sizes.shape[0]
        ):
            raise ValueError(
                "test_scores must have shape (n_sizes, n_folds) with n_sizes = "
                f"len(train_sizes); got train_sizes of shape {train_sizes.shape} "
                f"and test_scores of shape {scores.shape}."
            )
        if scoring == "r2":
            nmse = 1.0 - scores
        else:
            if (
                isinstance(y_variance, bool)
                or not isinstance(y_variance, numbers.Real)
                or not np.isfinite(y_variance)
                or y_variance <= 0
            ):
                raise ValueError(
                    f"scoring={scoring!r} needs the target variance to normalise "
                    f"the MSE; pass y_variance=np.var(y) (got {y_variance!r})."
                )
            # Overflowing ratios become inf, which the plot leaves out with a
            # warning that says so (as for any non-finite error).
            with np.errstate(over="ignore"):
                mse = -scores if scoring == "neg_mean_squared_error" else scores**2
                nmse = mse / y_variance
        n = np.repeat(train_sizes, scores.shape[1])
        n_samples = {estimator_name: n}
        errors = {estimator_name: nmse.ravel()}
        fits = _compute_fits(n_samples, errors, n_range, fit_params) if fit else None
        display = cls(n_samples=n_samples, errors=errors, fits=fits, dataset=dataset)
        return display.plot(
            ax=ax,
            center=center,
            band=band,
            show_fits=show_fits,
            show_theory=show_theory,
            alpha_axis=alpha_axis,
            line_kwargs=line_kwargs,
            band_kwargs=band_kwargs,
            theory_kwargs=theory_kwargs,
            legend=legend,
        )


def _slope_label(fit):
    label = f"slope {fit.exponent:.2f}"
    if fit.exponent_ci is not None:
        low, high = fit.exponent_ci
        label += f" [{low:.2f}, {high:.2f}]"
    if fit.floor is not None:
        label += f", floor {fit.floor:.2g}"
    return label


def _add_alpha_axis(ax, n_features):
    """Top axis in ``alpha = log n / log d``, ticks evenly spaced in alpha."""
    from matplotlib.ticker import (
        AutoMinorLocator,
        MaxNLocator,
        NullFormatter,
        ScalarFormatter,
    )

    log_d = np.log(n_features)

    def to_alpha(n):
        n = np.asarray(n, dtype=float)
        return np.log(np.maximum(n, np.finfo(float).tiny)) / log_d

    def to_n(alpha):
        return np.exp(np.asarray(alpha, dtype=float) * log_d)

    secondary = ax.secondary_xaxis("top", functions=(to_alpha, to_n))
    secondary.xaxis.set_major_locator(MaxNLocator(steps=[1, 2, 2.5, 5, 10]))
    secondary.xaxis.set_minor_locator(AutoMinorLocator())
    secondary.xaxis.set_major_formatter(ScalarFormatter())
    secondary.xaxis.set_minor_formatter(NullFormatter())
    secondary.set_xlabel(rf"$\alpha = \log n / \log d$  ($d = {n_features}$)")
    return secondary


# ====================================================================== recovery
_RECOVERY_KINDS = ("directions", "staircase")
_RECOVERY_CENTERS = ("mean", "median")
_RECOVERY_BANDS = ("minmax", "iqr", "std", None)
_X_SCALES = ("n_samples", "alpha")

#: A histogram of a spectrum with more bins than this is a typo (bins=10**9
#: was killed for its memory); D = d(d+1)/2 eigenvalues need far fewer.
_MAX_BINS = 100_000


def _direction_colors(n_directions):
    """One colour per latent direction, the same in every recovery display.

    The qualitative ``tab10`` cycle up to 10 directions, then ``viridis``
    (ordered like the weights, strongest first).
    """
    from matplotlib import colormaps

    if n_directions <= 10:
        cmap = colormaps["tab10"]
        return [cmap(i) for i in range(n_directions)]
    cmap = colormaps["viridis"]
    return [cmap(v) for v in np.linspace(0.0, 0.9, n_directions)]


def _summarise_runs(n, values, center, band):
    """Per distinct ``n``: centre and band bounds of each column of ``values``.

    ``values`` has shape (n_runs, n_columns); returns ``sizes`` and three
    arrays of shape (n_sizes, n_columns) (``low`` and ``high`` None without a
    band).
    """
    sizes, inverse = np.unique(n, return_inverse=True)
    groups = [values[inverse == k] for k in range(sizes.size)]
    average = np.mean if center == "mean" else np.median
    middle = np.array([average(g, axis=0) for g in groups])
    if band == "minmax":
        low = np.array([g.min(axis=0) for g in groups])
        high = np.array([g.max(axis=0) for g in groups])
    elif band == "iqr":
        low = np.array([np.percentile(g, 25, axis=0) for g in groups])
        high = np.array([np.percentile(g, 75, axis=0) for g in groups])
    elif band == "std":
        spread = np.array([g.std(axis=0) for g in groups])
        low, high = middle - spread, middle + spread
    else:
        low = high = None
    return sizes, middle, low, high


def _legend_outside(ax, legend, handles=None):
    """The legend outside the axes on the right, as ScalingLawDisplay draws it."""
    if not legend:
        return None
    defaults = {
        "fontsize": "small",
        "loc": "upper left",
        "bbox_to_anchor": (1.02, 1.0),
        "borderaxespad": 0.0,
    }
    overrides = legend if isinstance(legend, dict) else None
    if handles is None:
        return ax.legend(**_merge(defaults, overrides))
    return ax.legend(handles=handles, **_merge(defaults, overrides))


class RecoveryDisplay:
    """Sequential recovery of latent directions as the sample size grows.

    Two kinds of plot, from the same runs (one run = one fitted estimator, at
    a training-set size, for a repeat):

    * ``kind="directions"``: each latent direction's ``cos^2`` with the
      learned span against ``n`` (log axis) or ``alpha = log n / log d``; a
      line per direction (mean over repeats, by default) with a band over the
      repeats, each direction's predicted threshold ``n_i`` as a vertical
      dashed line in the direction's colour, and the recovery threshold
      ``cos^2 = 0.5`` as a horizontal dotted line;
    * ``kind="staircase"``: the number of recovered directions
      (``cos^2 > threshold``) against ``n`` or ``alpha``, with the theory's
      ``m(alpha)`` (``dataset.predicted_n_recovered`` on a dense grid) drawn
      as steps.

    Directions are numbered as the dataset's (0-based, by decreasing
    ``|weight|``; direction ``i`` is the theory's ``i + 1``) and keep their
    colour across both kinds and :class:`SpectrumDisplay`.

    Build it with :meth:`from_study` (from a tidy table) or
    :meth:`from_estimators` (from fitted estimators); the constructor takes
    arrays. All parameters are stored as attributes.

    Parameters
    ----------
    n_samples : array-like of shape (n_runs,)
        Training-set size of each run; a size appears once per repeat.
    cos2 : array-like of shape (n_runs, n_directions), default=None
        Per run, each direction's ``cos^2`` with the learned span. Needed by
        ``kind="directions"``.
    n_recovered : array-like of shape (n_runs,), default=None
        Per run, the number of recovered directions; computed from ``cos2``
        and ``threshold`` when None.
    dataset : HierarchicalTargetDataset, default=None
        Source of the theory: ``weights`` (legend), ``threshold_samples()``
        (per-direction thresholds), ``predicted_n_recovered(n)`` (staircase)
        and ``n_features`` (``alpha``).
    threshold : float, default=0.5
        A direction counts as recovered when its ``cos^2 > threshold``.
    directions : array-like of int of shape (n_directions,), default=None
        Which of the dataset's directions the columns of ``cos2`` are;
        ``0, 1, ...`` when None.

    Attributes
    ----------
    kind_ : str
        The kind last plotted.
    lines_ : dict of int to matplotlib Line2D
        Per direction, its ``cos^2`` line (``kind="directions"``).
    bands_ : dict of int to matplotlib PolyCollection
        Per direction, its band over repeats (``kind="directions"``).
    threshold_lines_ : dict of int to matplotlib Line2D
        Per direction, the vertical line at its predicted threshold.
    recovery_line_ : matplotlib Line2D or None
        The horizontal line at ``cos^2 = threshold``.
    count_line_ : matplotlib Line2D or None
        The measured number of recovered directions (``kind="staircase"``).
    count_band_ : matplotlib PolyCollection or None
        Its band over repeats.
    theory_line_ : matplotlib Line2D or None
        The theory's ``m(alpha)`` as steps (``kind="staircase"``).
    alpha_axis_ : matplotlib SecondaryAxis or None
        The top axis in ``alpha`` when ``x="n_samples"``.
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    See Also
    --------
    SpectrumDisplay : The layer-1 spectrum behind one point of these curves.
    ScalingLawDisplay : The error these recoveries bring down.
    recovery_report : All recovery metrics of one fitted estimator.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")  # non-interactive backend, for this example
    >>> import numpy as np
    >>> from sklearn_hierspectral import HierarchicalTargetDataset
    >>> from sklearn_hierspectral._display import RecoveryDisplay
    >>> dataset = HierarchicalTargetDataset(n_features=10, n_latent=3, random_state=0)
    >>> n = np.repeat([100, 1000, 10000], 2)
    >>> cos2 = np.array([[0.1, 0.0, 0.0], [0.2, 0.1, 0.0], [0.8, 0.3, 0.1],
    ...                  [0.9, 0.6, 0.2], [1.0, 0.9, 0.8], [1.0, 0.9, 0.7]])
    >>> display = RecoveryDisplay(n_samples=n, cos2=cos2, dataset=dataset).plot()
    >>> sorted(display.lines_), sorted(display.threshold_lines_)
    ([0, 1, 2], [0, 1, 2])
    >>> display.plot(kind="staircase").count_line_.get_ydata()
    array([0. , 1.5, 3. ])
    """

    def __init__(
        self,
        *,
        n_samples,
        cos2=None,
        n_recovered=None,
        dataset=None,
        threshold=RECOVERY_THRESHOLD,
        directions=None,
    ):
        self.n_samples = n_samples
        self.cos2 = cos2
        self.n_recovered = n_recovered
        self.dataset = dataset
        self.threshold = threshold
        self.directions = directions

    # ------------------------------------------------------------------ plot
    @_keyword_errors_as_type_errors
    def plot(
        self,
        ax=None,
        *,
        kind="directions",
        x="n_samples",
        center="mean",
        band="minmax",
        show_thresholds=True,
        show_theory=True,
        alpha_axis=True,
        line_kwargs=None,
        band_kwargs=None,
        theory_kwargs=None,
        legend=True,
    ):
        """Draw the per-direction curves or the recovered-count staircase.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; when None, a new 8 x 4.5 inch figure with the
            constrained layout (room for the legend on the right).
        kind : {"directions", "staircase"}, default="directions"
            Per-direction ``cos^2``, or the number of recovered directions.
        x : {"n_samples", "alpha"}, default="n_samples"
            Horizontal axis: ``n`` on a log scale, or ``alpha = log n / log d``
            on a linear one (needs ``dataset``).
        center : {"mean", "median"}, default="mean"
            Statistic over the repeats at each size drawn as the line.
        band : {"minmax", "iqr", "std"} or None, default="minmax"
            Band over the repeats: their range, their interquartile range, or
            the mean plus or minus one standard deviation; none when None.
        show_thresholds : bool, default=True
            ``kind="directions"``: mark each direction's predicted threshold
            (needs ``dataset``) and the line ``cos^2 = threshold``.
        show_theory : bool, default=True
            ``kind="staircase"``: draw the theory's ``m(alpha)`` (needs
            ``dataset``).
        alpha_axis : bool, default=True
            With ``x="n_samples"`` and a dataset, add a top axis in ``alpha``.
        line_kwargs : dict, default=None
            Keyword arguments of ``ax.plot`` for the measured lines.
        band_kwargs : dict, default=None
            Keyword arguments of ``ax.fill_between`` for the bands.
        theory_kwargs : dict, default=None
            Keyword arguments of ``ax.plot`` for the theory staircase.
        legend : bool or dict, default=True
            Draw a legend outside the axes on the right; a dict gives keyword
            arguments of ``ax.legend``.

        Returns
        -------
        display : RecoveryDisplay
        """
        plt = _import_pyplot("RecoveryDisplay")
        for name, flag in (
            ("show_thresholds", show_thresholds), ("show_theory", show_theory),
            ("alpha_axis", alpha_axis),
        ):
            check_bool(name, flag)
        _check_ax(ax)
        _check_dataset(
            self.dataset, ("n_features", "n_latent", "threshold_samples", "weights")
        )
        if kind not in _RECOVERY_KINDS:
            raise ValueError(f"kind must be one of {_RECOVERY_KINDS}; got {kind!r}.")
        if x not in _X_SCALES:
            raise ValueError(f"x must be one of {_X_SCALES}; got {x!r}.")
        if center not in _RECOVERY_CENTERS:
            raise ValueError(
                f"center must be one of {_RECOVERY_CENTERS}; got {center!r}."
            )
        if band not in _RECOVERY_BANDS:
            raise ValueError(f"band must be one of {_RECOVERY_BANDS}; got {band!r}.")
        if x == "alpha" and self.dataset is None:
            raise ValueError(
                "x='alpha' needs the dataset (its n_features gives log d)."
            )
        if x == "alpha" and not _has_alpha_scale(self.dataset):
            raise ValueError(
                "x='alpha' needs n_features >= 2: alpha = log n / log d and log 1 = 0."
            )
        threshold = self.threshold
        if (
            isinstance(threshold, (bool, np.bool_))
            or not isinstance(threshold, numbers.Real)
            or not 0.0 <= threshold < 1.0
        ):
            raise ValueError(
                f"threshold must be a number in [0, 1) (a cos^2 level); got {threshold!r}."
            )
        n, cos2, counts, directions = self._checked_runs(kind)
        if ax is None:
            _, ax = plt.subplots(figsize=(8.0, 4.5), layout="constrained")
        if x == "n_samples":
            ax.set_xscale("log")

        self.kind_ = kind
        self.lines_, self.bands_, self.threshold_lines_ = {}, {}, {}
        self.recovery_line_ = self.count_line_ = self.count_band_ = None
        self.theory_line_ = self.alpha_axis_ = None
        extra_handles = []
        if kind == "directions":
            extra_handles = self._plot_directions(
                ax, n, cos2, directions, x, center, band, show_thresholds,
                line_kwargs, band_kwargs,
            )
        else:
            self._plot_staircase(
                ax, n, counts, x, center, band, show_theory,
                line_kwargs, band_kwargs, theory_kwargs,
            )

        if x == "n_samples":
            ax.set_xlabel("Training samples $n$")
            if _has_alpha_scale(self.dataset) and alpha_axis:
                self.alpha_axis_ = _add_alpha_axis(ax, self.dataset.n_features)
        else:
            ax.set_xlabel(
                rf"$\alpha = \log n / \log d$  ($d = {self.dataset.n_features}$)"
            )
        ax.grid(True, which="major", alpha=0.3)
        handles = None
        if extra_handles:
            handles = ax.get_legend_handles_labels()[0] + extra_handles
        _legend_outside(ax, legend, handles)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    def _checked_runs(self, kind):
        n = as_real_array("n_samples", self.n_samples).ravel()
        if n.size == 0:
            raise ValueError("There are no runs to plot (n_samples is empty).")
        if np.any(~np.isfinite(n) | (n <= 0)):
            raise ValueError("n_samples must be positive and finite.")
        cos2 = directions = None
        if self.cos2 is not None:
            cos2 = as_real_array("cos2", self.cos2)
            if cos2.ndim == 1:
                cos2 = cos2[:, np.newaxis]
            if cos2.ndim != 2 or cos2.shape[0] != n.size:
                raise ValueError(
                    "cos2 must have shape (n_runs, n_directions) with n_runs = "
                    f"len(n_samples) = {n.size}; got {cos2.shape}."
                )
            # A squared cosine: NaN marks a missing value, anything else must
            # lie in [0, 1] (a few ulps beyond are rounding).
            outside = np.isfinite(cos2) & ((cos2 < -1e-9) | (cos2 > 1.0 + 1e-9))
            if np.any(outside) or np.any(np.isinf(cos2)):
                value = cos2[outside | np.isinf(cos2)][0]
                raise ValueError(
                    f"cos2 holds squared cosines, which lie in [0, 1]; got {value:g}. "
                    "Pass recovery_cos2 values (or NaN for a missing run)."
                )
            cos2 = np.clip(cos2, 0.0, 1.0)
            if self.directions is None:
                directions = np.arange(cos2.shape[1])
            else:
                directions = self._checked_directions(cos2.shape[1])
        if kind == "directions" and cos2 is None:
            raise ValueError(
                "kind='directions' needs the per-direction cos2; only "
                "kind='staircase' can be drawn from recovered counts alone."
            )
        if self.n_recovered is not None:
            counts = as_real_array("n_recovered", self.n_recovered).ravel()
            if counts.size != n.size:
                raise ValueError(
                    f"n_recovered has {counts.size} entries but n_samples has {n.size}."
                )
            if not np.all(np.isfinite(counts) & (counts >= 0) & (counts <= 1e9)):
                raise ValueError(
                    "n_recovered must hold counts of recovered directions: finite "
                    "numbers >= 0."
                )
        elif cos2 is not None:
            counts = np.sum(cos2 > self.threshold, axis=1).astype(float)
        else:
            raise ValueError("Give cos2 or n_recovered.")
        return n, cos2, counts, directions

    def _checked_directions(self, n_columns):
        """Indices of the true directions of the columns of cos2, checked
        before they size a colour table (an index of 10**12 did)."""
        values = as_real_array("directions", self.directions).ravel()
        if values.size != n_columns:
            raise ValueError(
                f"directions has {values.size} entries but cos2 has {n_columns} columns."
            )
        limit = int(self.dataset.n_latent) if self.dataset is not None else 10_000
        valid = np.isfinite(values) & (values == np.round(values)) & (values >= 0)
        valid &= values < limit
        if not np.all(valid):
            where = (
                f"the dataset's n_latent = {limit}" if self.dataset is not None
                else f"{limit} without a dataset"
            )
            raise ValueError(
                "directions must be integer indices of true directions, >= 0 and below "
                f"{where}; got {values[~valid][0]!r}."
            )
        return values.astype(int)

    def _to_x(self, n, x):
        if x == "n_samples":
            return np.asarray(n, dtype=float)
        return np.log(n) / np.log(self.dataset.n_features)

    def _n_directions_total(self, directions):
        if self.dataset is not None:
            return int(self.dataset.n_latent)
        return int(directions.max()) + 1 if directions.size else 0

    def _plot_directions(
        self, ax, n, cos2, directions, x, center, band, show_thresholds,
        line_kwargs, band_kwargs,
    ):
        from matplotlib.lines import Line2D

        sizes, middle, low, high = _summarise_runs(n, cos2, center, band)
        xs = self._to_x(sizes, x)
        colors = _direction_colors(
            max(self._n_directions_total(directions), directions.max(initial=-1) + 1)
        )
        dataset = self.dataset
        weights = thresholds = None
        if dataset is not None:
            weights = np.asarray(dataset.weights, dtype=float)
            thresholds = _finite_thresholds(dataset)
        for column, direction in enumerate(directions):
            color = colors[direction]
            label = f"direction {direction}"
            if weights is not None and direction < weights.size:
                label += f" ($b = {weights[direction]:+.2f}$)"
            defaults = {"marker": "o", "markersize": 4, "color": color, "label": label}
            (line,) = ax.plot(xs, middle[:, column], **_merge(defaults, line_kwargs))
            self.lines_[int(direction)] = line
            if band is not None:
                band_defaults = {"color": line.get_color(), "alpha": 0.18, "linewidth": 0}
                self.bands_[int(direction)] = ax.fill_between(
                    xs,
                    np.clip(low[:, column], 0.0, 1.0),
                    np.clip(high[:, column], 0.0, 1.0),
                    **_merge(band_defaults, band_kwargs),
                )
            if (
                show_thresholds
                and thresholds is not None
                and direction < thresholds.size
                and np.isfinite(thresholds[direction])
            ):
                position = self._to_x(thresholds[direction], x)
                self.threshold_lines_[int(direction)] = ax.axvline(
                    position,
                    color=line.get_color(),
                    linestyle="--",
                    linewidth=1.2,
                    alpha=0.9,
                    label=f"_threshold of direction {direction}",
                )
        extra = []
        if show_thresholds:
            self.recovery_line_ = ax.axhline(
                self.threshold,
                color="0.3",
                linestyle=":",
                linewidth=1.2,
                label=rf"recovered: $\cos^2 > {self.threshold:g}$",
            )
            if self.threshold_lines_:
                symbol = "n_i" if x == "n_samples" else r"\alpha_i"
                extra.append(
                    Line2D(
                        [], [], color="0.3", linestyle="--", linewidth=1.2,
                        label=f"theory: threshold ${symbol}$ (direction's colour)",
                    )
                )
        ax.set_ylim(-0.03, 1.03)
        ax.set_ylabel(r"$\cos^2$(true direction, learned span)")
        return extra

    def _plot_staircase(
        self, ax, n, counts, x, center, band, show_theory,
        line_kwargs, band_kwargs, theory_kwargs,
    ):
        from matplotlib.ticker import MaxNLocator

        sizes, middle, low, high = _summarise_runs(n, counts[:, None], center, band)
        xs = self._to_x(sizes, x)
        n_repeats = int(np.max(np.unique(n, return_counts=True)[1]))
        plural = "s" if n_repeats > 1 else ""
        label = f"measured ({center} over {n_repeats} repeat{plural})"
        defaults = {"marker": "o", "markersize": 5, "color": "C0", "label": label}
        (self.count_line_,) = ax.plot(xs, middle[:, 0], **_merge(defaults, line_kwargs))
        if band is not None:
            band_defaults = {
                "color": self.count_line_.get_color(), "alpha": 0.2, "linewidth": 0
            }
            self.count_band_ = ax.fill_between(
                xs, low[:, 0], high[:, 0], **_merge(band_defaults, band_kwargs)
            )
        top = np.nanmax(counts) if counts.size else 0
        dataset = self.dataset
        if dataset is not None and show_theory:
            thresholds = _finite_thresholds(dataset)
            thresholds = thresholds[np.isfinite(thresholds)]
            extent = np.concatenate([n, thresholds])
            grid = np.geomspace(extent.min() / 1.5, extent.max() * 1.5, _THEORY_GRID_POINTS)
            # The exact jump positions, so that every step sits where it should.
            grid = np.unique(np.concatenate([grid, thresholds]))
            predicted = np.asarray(dataset.predicted_n_recovered(grid), dtype=float)
            theory_defaults = {
                "color": "black",
                "linewidth": 1.5,
                "drawstyle": "steps-post",
                "label": r"theory: $m(\alpha)$",
            }
            (self.theory_line_,) = ax.plot(
                self._to_x(grid, x), predicted, **_merge(theory_defaults, theory_kwargs)
            )
            top = max(top, dataset.n_latent)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylim(-0.2, top + 0.4)
        ax.set_ylabel(rf"Directions recovered ($\cos^2 > {self.threshold:g}$)")

    # ------------------------------------------------------------ builders
    @classmethod
    def from_study(
        cls,
        results,
        *,
        dataset=None,
        estimator=None,
        threshold=RECOVERY_THRESHOLD,
        kind="directions",
        ax=None,
        **plot_kwargs,
    ):
        """Plot a recovery study from its tidy table.

        Parameters
        ----------
        results : pandas DataFrame
            Either one row per (n_samples, repeat, direction) with columns
            ``n_samples``, ``repeat``, ``direction`` (the dataset's 0-based
            index) and ``cos2``; or, for ``kind="staircase"`` only, one row
            per (n_samples, repeat) with an ``n_recovered`` column (the table
            of :func:`scaling_study`). Only rows whose ``status`` is ``'ok'``
            are used (all rows without a ``status`` column); rows with a
            missing ``cos2`` (or ``n_recovered``) are left out, so baselines
            without learned features drop out by themselves. Without a
            ``repeat`` column, the rows of a size are taken as its repeats in
            order.
        dataset : HierarchicalTargetDataset, default=None
            Source of the theory.
        estimator : str, default=None
            With an ``estimator`` column: the estimator to plot. May be
            omitted when a single estimator has recovery values.
        threshold : float, default=0.5
            Recovery threshold on ``cos2`` (ignored when the counts come from
            an ``n_recovered`` column, which already used the study's).
        kind : {"directions", "staircase"}, default="directions"
        ax : matplotlib Axes, default=None
        **plot_kwargs
            Further keyword arguments of :meth:`plot`.

        Returns
        -------
        display : RecoveryDisplay

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")  # non-interactive backend, for this example
        >>> import pandas as pd
        >>> from sklearn_hierspectral._display import RecoveryDisplay
        >>> results = pd.DataFrame({
        ...     "n_samples": [100, 100, 1000, 1000, 10000, 10000],
        ...     "repeat": 0,
        ...     "direction": [0, 1, 0, 1, 0, 1],
        ...     "cos2": [0.2, 0.0, 0.9, 0.3, 1.0, 0.8],
        ... })
        >>> display = RecoveryDisplay.from_study(results, kind="staircase")
        >>> display.count_line_.get_ydata()
        array([0., 1., 2.])
        """
        results = check_results_table(results, "recovery_study")
        rows = results
        if "status" in rows.columns:
            rows = rows[rows["status"] == "ok"]
        has_directions = {"direction", "cos2"} <= set(rows.columns)
        value_column = "cos2" if has_directions else "n_recovered"
        if "n_samples" not in rows.columns or value_column not in rows.columns:
            raise ValueError(
                "results needs the columns n_samples, direction and cos2 (one row "
                "per size, repeat and direction), or n_samples and n_recovered "
                f"(staircase only); got {sorted(results.columns)}."
            )
        rows = rows[np.isfinite(rows[value_column].to_numpy(dtype=float))]
        if "estimator" in rows.columns:
            names = [str(name) for name in pd.unique(rows["estimator"])]
            if estimator is None:
                if len(names) != 1:
                    raise ValueError(
                        "results has recovery values for several estimators "
                        f"{names}; choose one with estimator=."
                    )
                estimator = names[0]
            rows = rows[rows["estimator"].astype(str) == str(estimator)]
        if rows.empty:
            raise ValueError(
                "results has no usable rows"
                + ("" if estimator is None else f" for estimator {estimator!r}")
                + "."
            )
        rows = rows.copy()
        if "repeat" not in rows.columns:
            keys = ["n_samples", "direction"] if has_directions else ["n_samples"]
            rows["repeat"] = rows.groupby(keys).cumcount()
        if has_directions:
            wide = rows.pivot_table(
                index=["n_samples", "repeat"],
                columns="direction",
                values="cos2",
                aggfunc="mean",
            )
            incomplete = wide.isna().any(axis=1)
            if incomplete.any():
                warnings.warn(
                    f"{int(incomplete.sum())} run(s) lack some directions' cos2; "
                    "left out.",
                    UserWarning,
                    stacklevel=2,
                )
                wide = wide[~incomplete]
            display = cls(
                n_samples=wide.index.get_level_values("n_samples").to_numpy(float),
                cos2=wide.to_numpy(float),
                dataset=dataset,
                threshold=threshold,
                directions=wide.columns.to_numpy(int),
            )
        else:
            display = cls(
                n_samples=rows["n_samples"].to_numpy(float),
                n_recovered=rows["n_recovered"].to_numpy(float),
                dataset=dataset,
                threshold=threshold,
            )
        return display.plot(ax=ax, kind=kind, **plot_kwargs)

    @classmethod
    def from_estimators(
        cls,
        estimators,
        n_samples,
        dataset,
        *,
        threshold=RECOVERY_THRESHOLD,
        kind="directions",
        ax=None,
        **plot_kwargs,
    ):
        """Plot the recovery of fitted estimators against their training sizes.

        Parameters
        ----------
        estimators : list of fitted estimators
            Each a :class:`HierarchicalSpectralRegressor`, a
            :class:`HierarchicalSpectralTransformer` or a Pipeline with one,
            trained on samples of ``dataset``.
        n_samples : array-like of shape (len(estimators),)
            Training-set size of each; repeated sizes are repeats.
        dataset : HierarchicalTargetDataset
            The dataset that generated the training samples.
        threshold : float, default=0.5
        kind : {"directions", "staircase"}, default="directions"
        ax : matplotlib Axes, default=None
        **plot_kwargs
            Further keyword arguments of :meth:`plot`.

        Returns
        -------
        display : RecoveryDisplay
        """
        n_samples = np.asarray(n_samples, dtype=float).ravel()
        estimators = list(estimators)
        if not estimators:
            raise ValueError(
                "from_estimators needs at least one fitted estimator; got none."
            )
        if len(estimators) != n_samples.size:
            raise ValueError(
                f"Got {len(estimators)} estimators but {n_samples.size} sample sizes."
            )
        cos2 = []
        for estimator in estimators:
            values = recovery_cos2(estimator, dataset)
            if values is None:
                raise ValueError(
                    f"{type(estimator).__name__} has no learned quadratic features."
                )
            cos2.append(values)
        display = cls(
            n_samples=n_samples,
            cos2=np.array(cos2).reshape(n_samples.size, -1),
            dataset=dataset,
            threshold=threshold,
        )
        return display.plot(ax=ax, kind=kind, **plot_kwargs)


# ====================================================================== spectrum
def _locate_spectral_step(estimator):
    """The fitted step of ``estimator`` with a layer-1 spectrum, or None."""
    found = _locate_quadratic_step(estimator)
    if found is None or not hasattr(found[1], "spectrum_"):
        return None
    return found[1]


def _spectrum_bins(eigenvalues, bins, edge):
    """Histogram bin edges; with an edge, ``+-edge`` are bin boundaries.

    A bin then never holds both bulk and outlier eigenvalues. The width is
    that of ``numpy.histogram_bin_edges(eigenvalues, bins)``, shrunk so that
    the edge is a whole number of bins from 0. An explicit sequence of bins is
    used as given.
    """
    base = np.histogram_bin_edges(eigenvalues, bins=bins)
    if edge is None or edge <= 0 or not isinstance(bins, (str, numbers.Integral)):
        return base
    width = float(np.min(np.diff(base)))
    if not width > 0:
        return base
    # An edge of 1e-320 against a width of 1: the ratios overflow, and so
    # many bins would be absurd anyway; numpy's bins then stand.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        width = edge / np.ceil(edge / width)
        low = np.floor(eigenvalues.min() / width - 1e-9)
        high = np.ceil(eigenvalues.max() / width + 1e-9)
    if not (np.isfinite(low) and np.isfinite(high) and width > 0):
        return base
    if high - low > 4 * base.size + 10:  # far more bins than asked: keep numpy's
        return base
    return width * np.arange(low, max(high, low + 1) + 1)


class SpectrumDisplay:
    """Signed eigenvalue spectrum of the layer-1 spectral matrix.

    A histogram of all eigenvalues of ``C = (1/n) sum r (Z Z^T - I)`` (SPEC
    section 3), signed: latent directions with negative weights give negative
    spikes. The bars within the estimated bulk edge are grey, those of the
    outliers (``|eigenvalue| > edge``) red; the edge ``+-noise_edge_`` is
    drawn as two dashed lines and the kept components (the ``n_components_``
    of largest ``|eigenvalue|``) as a rug of ticks at the bottom.

    Given the dataset, each true direction ``i`` is drawn in its colour (the
    same as in :class:`RecoveryDisplay`):

    * a dotted vertical line at its population spike ``2 b_i / y_scale_``:
      the population value of ``C`` is ``2 sum_i b_i a_i a_i^T`` for the
      target as given, and the estimator divides ``y`` by ``y_scale_`` (its
      standard deviation) before forming ``C``. This is the large-``d``
      value; at small ``d`` the measured spikes are shifted (finite-size
      effects, and the inputs' standardisation, which is close to the
      identity for ``x ~ N(0, I)``);
    * a triangle at the top at the eigenvalue of the kept component matched
      to it one to one (:func:`match_directions`, between the estimator's
      components in input coordinates and the true matrices), filled when
      their ``cos^2`` exceeds 0.5, hollow otherwise; no triangle when there
      are fewer kept components than directions and it is unmatched.

    Build it with :meth:`from_estimator`; the constructor takes arrays. All
    parameters are stored as attributes.

    Parameters
    ----------
    eigenvalues : array-like of shape (D,)
        Signed eigenvalues, e.g. ``estimator.spectrum_``.
    noise_edge : float, default=None
        Estimated bulk edge (``estimator.noise_edge_``); no edge and no
        outliers when None.
    n_components : int, default=None
        Number of kept components, the ones of largest ``|eigenvalue|``; no
        rug when None.
    spikes : array-like of shape (p,), default=None
        Population position of each true direction's spike.
    matched_eigenvalues : array-like of shape (p,), default=None
        Eigenvalue of the component matched to each true direction, NaN when
        unmatched.
    matched_cos2 : array-like of shape (p,), default=None
        cos^2 of each true direction with its matched component.

    Attributes
    ----------
    bulk_bars_ : matplotlib BarContainer
        Histogram bars of the eigenvalues within the edge.
    outlier_bars_ : matplotlib BarContainer or None
        Bars of the outliers, stacked on the bulk's (None without an edge).
    edge_lines_ : tuple of two matplotlib Line2D, or None
        The lines at ``-noise_edge`` and ``+noise_edge``.
    kept_rug_ : matplotlib LineCollection or None
        Ticks at the kept components' eigenvalues.
    spike_lines_ : dict of int to matplotlib Line2D
        Per true direction, the line at its population spike.
    matched_markers_ : dict of int to matplotlib Line2D
        Per matched true direction, the triangle at its component's eigenvalue.
    n_outliers_ : int
        Number of eigenvalues beyond the edge.
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    See Also
    --------
    RecoveryDisplay : Recovery of the directions against the sample size.
    match_directions : The one-to-one matching behind the triangles.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")  # non-interactive backend, for this example
    >>> import numpy as np
    >>> from sklearn_hierspectral._display import SpectrumDisplay
    >>> rng = np.random.default_rng(0)
    >>> eigenvalues = np.concatenate([[1.5, -0.9], 0.1 * rng.standard_normal(50)])
    >>> display = SpectrumDisplay(
    ...     eigenvalues=eigenvalues, noise_edge=0.3, n_components=2,
    ...     spikes=[1.2, -0.7]).plot()
    >>> display.n_outliers_, sorted(display.spike_lines_)
    (2, [0, 1])
    """

    def __init__(
        self,
        *,
        eigenvalues,
        noise_edge=None,
        n_components=None,
        spikes=None,
        matched_eigenvalues=None,
        matched_cos2=None,
    ):
        self.eigenvalues = eigenvalues
        self.noise_edge = noise_edge
        self.n_components = n_components
        self.spikes = spikes
        self.matched_eigenvalues = matched_eigenvalues
        self.matched_cos2 = matched_cos2

    @_keyword_errors_as_type_errors
    def plot(
        self,
        ax=None,
        *,
        bins="auto",
        show_edge=True,
        show_components=True,
        show_directions=True,
        hist_kwargs=None,
        legend=True,
    ):
        """Draw the spectrum.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; when None, a new 9 x 4.5 inch figure with the
            constrained layout.
        bins : int, sequence or str, default="auto"
            Bins of the histogram, as in :func:`numpy.histogram_bin_edges`
            over all the eigenvalues. With the edge drawn, a number or a rule
            gives bins of about that width, narrowed so that ``+-edge`` are
            bin boundaries (no bar mixes bulk and outliers); a sequence is
            used as given.
        show_edge : bool, default=True
            Draw the bulk edge and colour the outliers.
        show_components : bool, default=True
            Draw the rug of kept components.
        show_directions : bool, default=True
            Draw the true directions' spikes and matched eigenvalues.
        hist_kwargs : dict, default=None
            Keyword arguments of ``ax.hist``.
        legend : bool or dict, default=True
            Legend outside the axes on the right; a dict gives keyword
            arguments of ``ax.legend``.

        Returns
        -------
        display : SpectrumDisplay
        """
        plt = _import_pyplot("SpectrumDisplay")
        for name, flag in (
            ("show_edge", show_edge), ("show_components", show_components),
            ("show_directions", show_directions),
        ):
            check_bool(name, flag)
        _check_ax(ax)
        from matplotlib.lines import Line2D

        eigenvalues = as_real_array("eigenvalues", self.eigenvalues).ravel()
        eigenvalues = eigenvalues[np.isfinite(eigenvalues)]
        if eigenvalues.size == 0:
            raise ValueError("There are no finite eigenvalues to plot.")
        self._check_spectrum_arguments(bins)
        with np.errstate(over="ignore"):
            spread = float(eigenvalues.max()) - float(eigenvalues.min())
        if not np.isfinite(spread):
            raise ValueError(
                f"The eigenvalues span [{eigenvalues.min():.3g}, {eigenvalues.max():.3g}], "
                "a range beyond the float limit that no histogram can bin; divide them "
                "by a common scale (e.g. their largest magnitude) before plotting."
            )
        if ax is None:
            _, ax = plt.subplots(figsize=(9.0, 4.5), layout="constrained")
        edge = self.noise_edge if show_edge else None
        if edge is not None and not (np.isfinite(edge) and edge >= 0):
            raise ValueError(f"noise_edge must be a finite number >= 0; got {edge!r}.")
        edges = _spectrum_bins(eigenvalues, bins, edge)
        hist_defaults = {"edgecolor": "white", "linewidth": 0.5}
        self.outlier_bars_ = self.edge_lines_ = self.kept_rug_ = None
        if edge is None:
            self.n_outliers_ = 0
            _, _, self.bulk_bars_ = ax.hist(
                eigenvalues,
                bins=edges,
                **_merge(
                    {**hist_defaults, "color": "0.6",
                     "label": f"eigenvalues ({eigenvalues.size})"},
                    hist_kwargs,
                ),
            )
        else:
            outlier = np.abs(eigenvalues) > edge
            self.n_outliers_ = int(np.sum(outlier))
            _, _, bars = ax.hist(
                [eigenvalues[~outlier], eigenvalues[outlier]],
                bins=edges,
                stacked=True,
                **_merge(
                    {
                        **hist_defaults,
                        "color": ["0.6", "tab:red"],
                        "label": [
                            f"bulk ({int(np.sum(~outlier))})",
                            rf"outliers $|\lambda| >$ edge ({self.n_outliers_})",
                        ],
                    },
                    hist_kwargs,
                ),
            )
            self.bulk_bars_, self.outlier_bars_ = bars
            style = {"color": "black", "linestyle": "--", "linewidth": 1.2}
            self.edge_lines_ = (
                ax.axvline(-edge, label=rf"bulk edge $\pm${edge:.3g}", **style),
                ax.axvline(edge, label="_bulk edge", **style),
            )

        if show_components and self.n_components:
            ranked = eigenvalues[np.argsort(-np.abs(eigenvalues), kind="stable")]
            kept = ranked[: int(self.n_components)]
            self.kept_rug_ = ax.vlines(
                kept,
                0.0,
                0.06,
                transform=ax.get_xaxis_transform(),
                colors="black",
                linewidth=1.5,
                zorder=3,
                label=f"kept components ({kept.size})",
            )

        self.spike_lines_, self.matched_markers_ = {}, {}
        extra_handles = []
        if show_directions and (
            self.spikes is not None or self.matched_eigenvalues is not None
        ):
            extra_handles = self._plot_directions(ax, Line2D)

        ax.set_xlabel(r"Eigenvalue $\lambda$ of the layer-1 matrix $C$ (signed)")
        ax.set_ylabel("Count")
        ax.grid(True, axis="y", alpha=0.3)
        handles = None
        if extra_handles:
            handles = ax.get_legend_handles_labels()[0] + extra_handles
        _legend_outside(ax, legend, handles)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    def _check_spectrum_arguments(self, bins):
        """Refuse, before drawing, what would fail deep in numpy or matplotlib."""
        n_components = self.n_components
        if n_components is not None and (
            isinstance(n_components, (bool, np.bool_))
            or not isinstance(n_components, numbers.Real)
            or not np.isfinite(n_components)
            or n_components < 0
            or n_components != int(n_components)
        ):
            raise ValueError(
                f"n_components must be None or an integer >= 0; got {n_components!r}."
            )
        if isinstance(bins, (bool, np.bool_)):
            raise TypeError(f"bins must be an int, a str or a sequence of edges; got {bins!r}.")
        if isinstance(bins, numbers.Integral) and not 1 <= bins <= _MAX_BINS:
            raise ValueError(f"bins must be between 1 and {_MAX_BINS:,}; got {bins}.")
        if not isinstance(bins, (str, numbers.Integral)):
            edges = as_real_array("bins", bins).ravel()
            if edges.size < 2 or edges.size > _MAX_BINS + 1:
                raise ValueError(
                    f"bins as a sequence needs 2 to {_MAX_BINS + 1:,} edges; got {edges.size}."
                )
        lengths = {}
        for name in ("spikes", "matched_eigenvalues", "matched_cos2"):
            value = getattr(self, name)
            if value is not None:
                lengths[name] = as_real_array(name, value).ravel().size
        if "matched_cos2" in lengths and "matched_eigenvalues" in lengths and (
            lengths["matched_cos2"] != lengths["matched_eigenvalues"]
        ):
            raise ValueError(
                "matched_cos2 and matched_eigenvalues must have one entry per true "
                f"direction; got {lengths['matched_cos2']} and "
                f"{lengths['matched_eigenvalues']}."
            )

    def _plot_directions(self, ax, Line2D):
        spikes = None if self.spikes is None else np.asarray(self.spikes, float).ravel()
        matched = (
            None
            if self.matched_eigenvalues is None
            else np.asarray(self.matched_eigenvalues, float).ravel()
        )
        cos2 = (
            None if self.matched_cos2 is None else np.asarray(self.matched_cos2, float)
        )
        n_directions = max(
            0 if spikes is None else spikes.size, 0 if matched is None else matched.size
        )
        colors = _direction_colors(n_directions)
        top = ax.get_xaxis_transform()
        any_marker = False
        for i in range(n_directions):
            color = colors[i]
            parts = []
            if spikes is not None and i < spikes.size:
                parts.append(f"spike {spikes[i]:+.2f}")
            has_match = matched is not None and i < matched.size and np.isfinite(matched[i])
            if has_match:
                match = rf"$\lambda$ {matched[i]:+.2f}"
                if cos2 is not None:
                    match += rf" ($\cos^2$ {cos2[i]:.2f})"
                parts.append(match)
            label = f"direction {i}: " + ", ".join(parts)
            if spikes is not None and i < spikes.size:
                self.spike_lines_[i] = ax.axvline(
                    spikes[i], color=color, linestyle=":", linewidth=1.8, label=label
                )
                label = f"_{label}"
            if has_match:
                good = cos2 is None or cos2[i] > RECOVERY_THRESHOLD
                (self.matched_markers_[i],) = ax.plot(
                    [matched[i]],
                    [0.96],
                    transform=top,
                    linestyle="none",
                    marker="v",
                    markersize=9,
                    markeredgecolor=color,
                    markerfacecolor=color if good else "none",
                    markeredgewidth=1.5,
                    clip_on=False,
                    zorder=4,
                    label=label,
                )
                any_marker = True
        extra = []
        if any_marker and spikes is not None:
            extra.append(
                Line2D(
                    [], [], linestyle="none", marker="v", markersize=8,
                    markeredgecolor="0.3", markerfacecolor="0.3",
                    label=r"matched component's $\lambda$" "\n"
                    r"(hollow: $\cos^2 \leq 0.5$)",
                )
            )
        if spikes is not None and self.spike_lines_:
            extra.insert(
                0,
                Line2D(
                    [], [], color="0.3", linestyle=":", linewidth=1.8,
                    label=r"population spike $2 b_i / \sigma_y$ (dotted)",
                ),
            )
        return extra

    @classmethod
    def from_estimator(
        cls,
        estimator,
        dataset=None,
        *,
        ax=None,
        bins="auto",
        show_edge=True,
        show_components=True,
        show_directions=True,
        hist_kwargs=None,
        legend=True,
    ):
        """Plot the layer-1 spectrum of a fitted estimator.

        Parameters
        ----------
        estimator : fitted estimator
            A :class:`HierarchicalSpectralRegressor`, a
            :class:`HierarchicalSpectralTransformer` or a Pipeline with one;
            its ``spectrum_``, ``noise_edge_``, ``n_components_``,
            ``eigenvalues_``, ``y_scale_`` and ``input_space_components()``
            are used.
        dataset : HierarchicalTargetDataset, default=None
            The dataset that generated the training samples; marks the true
            directions (population spikes ``2 b_i / y_scale_`` and the
            eigenvalues of the matched components).
        ax, bins, show_edge, show_components, show_directions, hist_kwargs, \
legend
            See :meth:`plot`.

        Returns
        -------
        display : SpectrumDisplay

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")  # non-interactive backend, for this example
        >>> from sklearn_hierspectral import (
        ...     HierarchicalSpectralRegressor, HierarchicalTargetDataset)
        >>> from sklearn_hierspectral._display import SpectrumDisplay
        >>> dataset = HierarchicalTargetDataset(n_features=8, n_latent=2, random_state=0)
        >>> X, y = dataset.sample(8000, random_state=1)
        >>> model = HierarchicalSpectralRegressor(n_components=4, random_state=0).fit(X, y)
        >>> display = SpectrumDisplay.from_estimator(model, dataset)
        >>> sorted(display.matched_markers_)
        [0, 1]
        """
        step = _locate_spectral_step(estimator)
        if step is None:
            raise ValueError(
                f"{type(estimator).__name__} has no layer-1 spectrum; pass a fitted "
                "HierarchicalSpectralRegressor, HierarchicalSpectralTransformer or a "
                "Pipeline containing one."
            )
        spikes = matched_eigenvalues = matched_cos2 = None
        _check_dataset(dataset, ("weights", "latent_matrices"))
        if dataset is not None:
            weights = np.asarray(dataset.weights, dtype=float)
            spikes = 2.0 * weights / float(step.y_scale_)
            matched_eigenvalues = np.full(weights.size, np.nan)
            matched_cos2 = np.zeros(weights.size)
            if step.n_components_ > 0:
                matching = match_directions(
                    step.input_space_components(), dataset.latent_matrices
                )
                eigenvalues = np.asarray(step.eigenvalues_, dtype=float)
                matched_eigenvalues[matching.true_index] = eigenvalues[
                    matching.learned_index
                ]
                matched_cos2[matching.true_index] = matching.cos2
        display = cls(
            eigenvalues=step.spectrum_,
            noise_edge=step.noise_edge_,
            n_components=step.n_components_,
            spikes=spikes,
            matched_eigenvalues=matched_eigenvalues,
            matched_cos2=matched_cos2,
        )
        return display.plot(
            ax=ax,
            bins=bins,
            show_edge=show_edge,
            show_components=show_components,
            show_directions=show_directions,
            hist_kwargs=hist_kwargs,
            legend=legend,
        )
