"""Scaling-law plots: error against sample size on log-log axes, with theory."""

import warnings

import numpy as np
import pandas as pd

from ._powerlaw import fit_power_law

_CENTERS = ("median", "mean")
_BANDS = ("minmax", "iqr", None)
_SCORINGS = ("r2", "neg_mean_squared_error", "neg_root_mean_squared_error")
# Points of the dense grid on which the step-like theory curve is drawn.
_THEORY_GRID_POINTS = 2048


def _import_pyplot():
    """Import pyplot lazily, with an error that says how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "ScalingLawDisplay needs matplotlib, which is not installed. Install "
            'it with: pip install "sklearn_hierspectral[plot]"'
        ) from exc
    return plt


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

        self.lines_, self.bands_, self.fit_lines_ = {}, {}, {}
        data_n = []
        for name in self.n_samples:
            n = np.asarray(self.n_samples[name], dtype=float).ravel()
            errors = np.asarray(self.errors[name], dtype=float).ravel()
            if n.shape != errors.shape:
                raise ValueError(
                    f"Estimator {name!r} has {n.size} sample sizes but "
                    f"{errors.size} errors."
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
        if self.dataset is not None and alpha_axis:
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
        thresholds = np.sort(np.asarray(dataset.threshold_samples(), dtype=float))
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
        if not isinstance(results, pd.DataFrame):
            results = pd.DataFrame(results)
        missing = {"estimator", "n_samples", "test_nmse"} - set(results.columns)
        if missing:
            raise ValueError(
                f"results lacks the column(s) {sorted(missing)}; expected the "
                "DataFrame of scaling_study."
            )
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
        train_sizes = np.asarray(train_sizes, dtype=float)
        scores = np.asarray(test_scores, dtype=float)
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
            if y_variance is None or not np.isfinite(y_variance) or y_variance <= 0:
                raise ValueError(
                    f"scoring={scoring!r} needs the target variance to normalise "
                    f"the MSE; pass y_variance=np.var(y) (got {y_variance!r})."
                )
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
