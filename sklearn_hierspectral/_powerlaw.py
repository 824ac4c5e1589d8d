"""Power-law fits of error against sample size, with bootstrap intervals.

A scaling law is a straight line on log-log axes, ``error ~ prefactor *
n^exponent``, possibly bent at large ``n`` by an irreducible error (a
*floor*). :func:`fit_power_law` fits either form and attaches percentile
bootstrap confidence intervals obtained by resampling the repeats of each
sample size.
"""

import numbers
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares
from sklearn.utils import check_random_state

from ._memory import check_allocation

# Bootstrap replicates are computed in chunks of at most this many
# (replicate, point) entries, to bound the memory of the vectorised fit.
_CHUNK_ELEMENTS = 2**22
# Starting floors, as fractions of the smallest error, of the floor fit.
_FLOOR_STARTS = (0.0, 0.5, 0.9)


@dataclass(frozen=True)
class PowerLawFit:
    """Result of :func:`fit_power_law`: ``error ~ prefactor * n^exponent + floor``.

    Parameters
    ----------
    exponent : float
        Fitted exponent (the slope on log-log axes; negative when the error
        decreases with ``n``).
    prefactor : float
        Fitted prefactor, the error extrapolated to ``n = 1`` (without floor).
    floor : float or None
        Fitted irreducible error, ``>= 0``; None when the fit had no floor.
    exponent_ci : tuple of float or None
        ``(low, high)`` percentile bootstrap interval of the exponent; None
        when ``n_bootstrap=0``.
    prefactor_ci : tuple of float or None
        Same for the prefactor.
    floor_ci : tuple of float or None
        Same for the floor; None without floor.
    n_range : tuple of float
        ``(min n, max n)`` of the points actually fitted.
    n_points : int
        Number of ``(n, error)`` points fitted, repeats included.
    n_sizes : int
        Number of distinct sample sizes fitted.
    confidence_level : float
        Confidence level of the intervals.
    n_bootstrap : int
        Number of bootstrap replicates that gave a fit (those whose resample
        had too few distinct sample sizes are left out).

    See Also
    --------
    fit_power_law : Build a PowerLawFit from errors measured at several ``n``.

    Examples
    --------
    >>> from sklearn_hierspectral._powerlaw import PowerLawFit
    >>> fit = PowerLawFit(exponent=-0.5, prefactor=2.0, floor=None,
    ...                   exponent_ci=(-0.6, -0.4), prefactor_ci=(1.5, 2.5),
    ...                   floor_ci=None, n_range=(10.0, 1000.0), n_points=15,
    ...                   n_sizes=3, confidence_level=0.95, n_bootstrap=1000)
    >>> float(fit.predict(100))
    0.2
    >>> print(fit)
    exponent -0.5 [-0.6, -0.4], prefactor 2 [1.5, 2.5] (95% CI; 15 points, n in [10, 1000])
    """

    exponent: float
    prefactor: float
    floor: float | None
    exponent_ci: tuple | None
    prefactor_ci: tuple | None
    floor_ci: tuple | None
    n_range: tuple
    n_points: int
    n_sizes: int
    confidence_level: float
    n_bootstrap: int

    def predict(self, n_samples):
        """Error predicted by the fitted law at ``n_samples``.

        Parameters
        ----------
        n_samples : float or array-like of float
            Positive sample sizes.

        Returns
        -------
        error : float or ndarray
            ``prefactor * n^exponent (+ floor)``, a float for a scalar input.

        Raises
        ------
        TypeError
            If ``n_samples`` is not a number or an array of numbers (bools,
            strings and None are not sample sizes).
        ValueError
            If a sample size is not positive.
        """
        n = _check_sample_sizes(n_samples)
        if np.any(~(n > 0)):
            raise ValueError("n_samples must be positive to evaluate a power law.")
        error = self.prefactor * n**self.exponent
        if self.floor is not None:
            error = error + self.floor
        return float(error) if error.ndim == 0 else error

    def __str__(self):
        def interval(ci):
            return "" if ci is None else f" [{ci[0]:.3g}, {ci[1]:.3g}]"

        parts = [
            f"exponent {self.exponent:.3g}{interval(self.exponent_ci)}",
            f"prefactor {self.prefactor:.3g}{interval(self.prefactor_ci)}",
        ]
        if self.floor is not None:
            parts.append(f"floor {self.floor:.3g}{interval(self.floor_ci)}")
        ci = (
            f"{100 * self.confidence_level:.3g}% CI; "
            if self.exponent_ci is not None
            else "no CI; "
        )
        low, high = self.n_range
        return (
            ", ".join(parts)
            + f" ({ci}{self.n_points} points, n in [{low:.6g}, {high:.6g}])"
        )


# ---------------------------------------------------------------- validation
def _check_sample_sizes(n_samples):
    """``n_samples`` as a float array, or a TypeError when it is not numbers."""
    expected = "n_samples must be numbers (a sample size or an array of them)"
    if isinstance(n_samples, (bool, np.bool_)):
        raise TypeError(
            f"{expected}; got {n_samples!r}, and bools are not sample sizes."
        )
    try:
        n = np.asarray(n_samples)
    except (TypeError, ValueError):
        raise TypeError(f"{expected}; got {n_samples!r}.") from None
    if n.dtype == bool:
        raise TypeError(f"{expected}; got bools, which are not sample sizes.")
    if not np.issubdtype(n.dtype, np.number) or n.dtype.kind == "c":
        raise TypeError(f"{expected}; got {n_samples!r} (dtype {n.dtype}).")
    return n.astype(float)


def _check_random_state(random_state):
    """The bootstrap's generator: check_random_state's, or a numpy Generator.

    Ints go through ``check_random_state`` so that their intervals stay
    those of earlier versions; its own error for a bad seed names no
    parameter, hence the checks here.
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or isinstance(random_state, np.random.RandomState):
        return check_random_state(random_state)
    accepted = (
        "random_state must be None, an int in [0, 2**32 - 1], a "
        "numpy.random.RandomState or a numpy.random.Generator"
    )
    if isinstance(random_state, (bool, np.bool_)) or not isinstance(
        random_state, numbers.Integral
    ):
        raise TypeError(f"{accepted}; got {random_state!r}.")
    if not 0 <= random_state < 2**32:
        raise ValueError(f"{accepted}; got {random_state!r}.")
    return check_random_state(int(random_state))


def _check_inputs(n_samples, errors):
    n = np.asarray(n_samples)
    e = np.asarray(errors)
    for name, values in (("n_samples", n), ("errors", e)):
        if values.ndim != 1:
            raise ValueError(
                f"{name} must be 1-D; got an array of shape {values.shape}."
            )
        if not (np.issubdtype(values.dtype, np.number) or values.dtype == bool):
            raise TypeError(f"{name} must be numeric; got dtype {values.dtype}.")
        if values.dtype.kind == "c":
            raise TypeError(f"{name} must hold real numbers; got complex values.")
    if n.shape != e.shape:
        raise ValueError(
            "n_samples and errors must have the same length; got "
            f"{n.shape[0]} and {e.shape[0]}."
        )
    n = n.astype(float)
    e = e.astype(float)
    for name, values in (("n_samples", n), ("errors", e)):
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise ValueError(
                f"{name} contains {bad.size} NaN or infinite value(s), first at "
                f"index {bad[0]} ({values[bad[0]]}); drop them before fitting."
            )
        bad = np.flatnonzero(values <= 0)
        if bad.size:
            raise ValueError(
                f"{name} must be positive for a fit on log-log axes; got "
                f"{bad.size} non-positive value(s), first {name}[{bad[0]}] = "
                f"{values[bad[0]]}."
            )
    return n, e


def _check_n_range(n_range):
    if n_range is None:
        return -np.inf, np.inf
    try:
        low, high = n_range
    except (TypeError, ValueError):
        raise ValueError(
            f"n_range must be None or a pair (low, high); got {n_range!r}."
        ) from None
    low = -np.inf if low is None else low
    high = np.inf if high is None else high
    for bound in (low, high):
        if isinstance(bound, bool) or not isinstance(bound, numbers.Real) or np.isnan(
            bound
        ):
            raise ValueError(
                f"n_range bounds must be numbers or None; got {n_range!r}."
            )
    if low > high:
        raise ValueError(f"n_range must have low <= high; got {n_range!r}.")
    return float(low), float(high)


# ---------------------------------------------------------------- the fits
def _ols(x, y):
    """Slope and intercept of ``y`` on ``x``."""
    slope, intercept = np.polyfit(x, y, 1)
    return float(slope), float(intercept)


def _ols_batch(X, Y):
    """Row-wise least-squares slopes and intercepts; NaN for constant rows."""
    xm = X.mean(axis=1, keepdims=True)
    ym = Y.mean(axis=1, keepdims=True)
    dx = X - xm
    sxx = np.einsum("ij,ij->i", dx, dx)
    sxy = np.einsum("ij,ij->i", dx, Y - ym)
    degenerate = sxx <= 1e-12 * X.shape[1] * np.max(np.abs(X)) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.where(degenerate, np.nan, sxy / np.where(degenerate, 1.0, sxx))
    intercept = ym[:, 0] - slope * xm[:, 0]
    return slope, intercept


def _floor_residuals(theta, x, y, scale):
    log_a, b, s = theta
    power = np.exp(np.clip(log_a + b * x, -700.0, 700.0))
    return np.log(power + s * scale) - y


def _floor_jacobian(theta, x, y, scale):
    log_a, b, s = theta
    power = np.exp(np.clip(log_a + b * x, -700.0, 700.0))
    model = power + s * scale
    return np.column_stack([power / model, power * x / model, scale / model])


def _fit_floor(x, y, scale, starts):
    """Least squares in log space of ``log(a n^b + c)``, ``c = s * scale >= 0``.

    Returns ``(log_a, b, s)`` of the best of the starting points, or None when
    every start failed.
    """
    best = None
    for x0 in starts:
        try:
            result = least_squares(
                _floor_residuals,
                x0,
                jac=_floor_jacobian,
                bounds=([-np.inf, -np.inf, 0.0], [np.inf, np.inf, np.inf]),
                args=(x, y, scale),
                method="trf",
                x_scale="jac",
            )
        except (ValueError, np.linalg.LinAlgError):  # pragma: no cover
            continue
        if np.all(np.isfinite(result.x)) and (best is None or result.cost < best.cost):
            best = result
    if best is None:
        return None
    theta = best.x.copy()
    # The trust-region solver stays strictly inside the bounds: a floor at
    # rounding distance from 0 is 0.
    if theta[2] < 1e-10:
        theta[2] = 0.0
    return theta


def _floor_starts(x, y, scale):
    """Starting points: OLS on ``log(error - c0)`` for a few floors ``c0``."""
    errors = np.exp(y)
    starts = []
    for fraction in _FLOOR_STARTS:
        slope, intercept = _ols(x, np.log(errors - fraction * scale))
        starts.append(np.array([intercept, slope, fraction]))
    return starts


# ---------------------------------------------------------------- bootstrap
def _bootstrap_indices(groups, n_points, n_bootstrap, rng):
    """Indices of ``n_bootstrap`` resamples, one row each.

    Within each distinct ``n`` the repeats are drawn with replacement; when
    every ``n`` has a single repeat, the ``(n, error)`` pairs are drawn instead.
    ``rng`` is a RandomState or a Generator.
    """
    draw = rng.integers if isinstance(rng, np.random.Generator) else rng.randint
    if all(len(group) == 1 for group in groups):
        return draw(0, n_points, size=(n_bootstrap, n_points))
    columns = []
    for group in groups:
        draws = draw(0, len(group), size=(n_bootstrap, len(group)))
        columns.append(group[draws])
    return np.concatenate(columns, axis=1)


def _percentile_interval(samples, confidence_level):
    tail = 100.0 * (1.0 - confidence_level) / 2.0
    low, high = np.percentile(samples, [tail, 100.0 - tail])
    return float(low), float(high)


def fit_power_law(
    n_samples,
    errors,
    *,
    floor=False,
    n_range=None,
    n_bootstrap=1000,
    confidence_level=0.95,
    random_state=None,
):
    """Fit ``errors ~ prefactor * n^exponent (+ floor)`` with bootstrap intervals.

    Without floor the fit is the ordinary least-squares line of ``log(error)``
    on ``log(n)``: every point (every repeat) has the same weight, so sample
    sizes with more repeats weigh more. With ``floor=True`` the model is
    ``log(prefactor * n^exponent + floor)`` with ``floor >= 0``, fitted by
    nonlinear least squares in log space (:func:`scipy.optimize.least_squares`
    with bounds, best of a few starting floors).

    The confidence intervals are percentile bootstrap intervals. Each replicate
    resamples, within each distinct ``n``, its repeats with replacement, and
    refits; sizes with a single repeat stay fixed in that scheme. When every
    ``n`` has a single repeat, the ``(n, error)`` pairs are resampled instead,
    and replicates with too few distinct ``n`` to fit are left out.

    Parameters
    ----------
    n_samples : array-like of shape (n_points,)
        Training-set sizes, positive; a size may appear several times (repeats).
    errors : array-like of shape (n_points,)
        Errors measured at ``n_samples``, positive (e.g. test NMSE).
    floor : bool, default=False
        Also fit a non-negative irreducible error. Needs at least 3 distinct
        sample sizes.
    n_range : tuple (low, high), default=None
        Fit only the points with ``low <= n <= high``; either bound may be
        None. All points when None.
    n_bootstrap : int, default=1000
        Number of bootstrap replicates; 0 skips the intervals (they are then
        None).
    confidence_level : float, default=0.95
        Confidence level of the intervals, in (0, 1).
    random_state : int, RandomState instance, Generator or None, default=None
        Seeds the bootstrap; pass an int for reproducible intervals. An int
        must lie in ``[0, 2**32 - 1]``.

    Returns
    -------
    fit : PowerLawFit
        Frozen dataclass with ``exponent``, ``prefactor``, ``floor``, their
        intervals ``exponent_ci``, ``prefactor_ci``, ``floor_ci``, the
        ``n_range`` and ``n_points`` fitted, and a ``predict(n)`` method.

    Raises
    ------
    ValueError
        When the inputs have different lengths, contain NaN, infinite or
        non-positive values, when fewer than 2 distinct sample sizes (3 with
        a floor) lie in ``n_range``, or when ``random_state`` is an int
        outside ``[0, 2**32 - 1]``.
    TypeError
        When ``random_state`` is not None, an int, a RandomState or a
        Generator.

    See Also
    --------
    PowerLawFit : The returned result.
    ScalingLawDisplay : Plots errors against ``n`` with these fits.

    References
    ----------
    .. [1] B. Efron and R. J. Tibshirani, "An Introduction to the Bootstrap",
       Chapman & Hall, 1993 (percentile intervals, chapter 13).
    .. [2] J. Kaplan et al., "Scaling Laws for Neural Language Models",
       arXiv:2001.08361, 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_hierspectral._powerlaw import fit_power_law
    >>> rng = np.random.default_rng(0)
    >>> n = np.repeat([100, 300, 1000, 3000, 10000], 5)
    >>> errors = 3.0 * n**-0.5 * rng.lognormal(sigma=0.1, size=n.size)
    >>> fit = fit_power_law(n, errors, random_state=0)
    >>> round(fit.exponent, 2)
    -0.5
    >>> low, high = fit.exponent_ci
    >>> bool(low < -0.5 < high)
    True
    >>> round(float(fit.predict(400)), 2)
    0.15
    """
    n, e = _check_inputs(n_samples, errors)
    low, high = _check_n_range(n_range)
    if not isinstance(floor, (bool, np.bool_)):
        raise TypeError(f"floor must be a bool; got {floor!r}.")
    if (
        isinstance(n_bootstrap, bool)
        or not isinstance(n_bootstrap, numbers.Integral)
        or n_bootstrap < 0
    ):
        raise ValueError(
            f"n_bootstrap must be a non-negative integer; got {n_bootstrap!r}."
        )
    if not isinstance(confidence_level, numbers.Real) or not (
        0.0 < confidence_level < 1.0
    ):
        raise ValueError(
            f"confidence_level must be in (0, 1); got {confidence_level!r}."
        )
    rng = _check_random_state(random_state)

    keep = (n >= low) & (n <= high)
    n, e = n[keep], e[keep]
    sizes, inverse = np.unique(n, return_inverse=True)
    min_sizes = 3 if floor else 2
    if sizes.size < min_sizes:
        where = "" if n_range is None else f" with {low:g} <= n <= {high:g}"
        raise ValueError(
            f"A power-law fit{' with a floor' if floor else ''} needs at least "
            f"{min_sizes} distinct sample sizes{where}; got {sizes.size}."
        )
    x, y = np.log(n), np.log(e)

    if floor:
        # Fitted on errors over their geometric mean, so that the floor's
        # starting points (errors minus fractions of the smallest) stay in
        # the normal float range for errors of 1e-320 or 1e300 alike;
        # prefactor and floor are scaled back below.
        log_unit = float(np.mean(y))
        y = y - log_unit
        scale = float(np.exp(np.min(y)))
        theta = _fit_floor(x, y, scale, _floor_starts(x, y, scale))
        if theta is None:  # pragma: no cover - least_squares is robust here
            raise RuntimeError("The floor fit did not converge from any start.")
        with np.errstate(over="ignore", under="ignore"):
            estimate = np.array(
                [theta[1], np.exp(theta[0] + log_unit), theta[2] * scale * np.exp(log_unit)]
            )
    else:
        slope, intercept = _ols(x, y)
        with np.errstate(over="ignore", under="ignore"):
            estimate = np.array([slope, np.exp(intercept)])
    if not np.all(np.isfinite(estimate)):
        raise ValueError(
            f"The fitted power law has exponent {estimate[0]:.4g} and a prefactor "
            "beyond the float range: the errors change by far more decades than the "
            "sample sizes, which no power law over this range describes. Check the "
            "errors, or restrict n_range."
        )

    intervals = [None, None, None]
    n_valid = 0
    if n_bootstrap > 0:
        groups = [np.flatnonzero(inverse == k) for k in range(sizes.size)]
        n_points = n.size
        # The resample indices (and the replicates' temporaries) are allocated
        # at once: refuse an absurd n_bootstrap before allocating.
        check_allocation(
            8.0 * n_bootstrap * (2.0 * n_points + 3.0),
            f"fit_power_law with n_bootstrap={n_bootstrap} on {n_points} points",
            "use fewer bootstrap replicates (1000 to 10000 give stable intervals)",
        )
        idx = _bootstrap_indices(groups, n_points, n_bootstrap, rng)
        if floor:
            replicates = np.full((n_bootstrap, 3), np.nan)
            for b in range(n_bootstrap):
                xb, yb = x[idx[b]], y[idx[b]]
                if np.unique(xb).size < 3:
                    continue
                theta_b = _fit_floor(xb, yb, scale, [theta])
                if theta_b is not None:
                    # A replicate whose prefactor overflows is left out below.
                    with np.errstate(over="ignore", under="ignore"):
                        replicates[b] = (
                            theta_b[1],
                            np.exp(theta_b[0] + log_unit),
                            theta_b[2] * scale * np.exp(log_unit),
                        )
        else:
            replicates = np.empty((n_bootstrap, 2))
            chunk = max(1, _CHUNK_ELEMENTS // n_points)
            for start in range(0, n_bootstrap, chunk):
                rows = idx[start : start + chunk]
                slope_b, intercept_b = _ols_batch(x[rows], y[rows])
                replicates[start : start + chunk, 0] = slope_b
                with np.errstate(over="ignore", under="ignore"):
                    replicates[start : start + chunk, 1] = np.exp(intercept_b)
        valid = np.all(np.isfinite(replicates), axis=1)
        n_valid = int(valid.sum())
        if all(len(group) == 1 for group in groups) and n.size <= min_sizes:
            warnings.warn(
                f"{n.size} points with one repeat each determine the "
                f"{min_sizes}-parameter fit exactly: the bootstrap cannot "
                "estimate its uncertainty and the intervals are degenerate.",
                UserWarning,
                stacklevel=2,
            )
        elif n_valid < max(2, n_bootstrap // 2):
            warnings.warn(
                f"Only {n_valid} of {n_bootstrap} bootstrap replicates could be "
                "fitted (too few distinct sample sizes per resample); the "
                "confidence intervals are unreliable. Measure more sample sizes "
                "or more repeats.",
                UserWarning,
                stacklevel=2,
            )
        if n_valid == 0:
            intervals = [(np.nan, np.nan)] * 3
        else:
            for k in range(replicates.shape[1]):
                intervals[k] = _percentile_interval(
                    replicates[valid, k], confidence_level
                )

    return PowerLawFit(
        exponent=float(estimate[0]),
        prefactor=float(estimate[1]),
        floor=float(estimate[2]) if floor else None,
        exponent_ci=intervals[0],
        prefactor_ci=intervals[1],
        floor_ci=intervals[2] if floor else None,
        n_range=(float(n.min()), float(n.max())),
        n_points=int(n.size),
        n_sizes=int(sizes.size),
        confidence_level=float(confidence_level),
        n_bootstrap=n_valid,
    )
