"""Preprocessing of inputs and target: batched moments, standardisation.

The learner works in standardised coordinates (SPEC section 3, item 0): each
column centred and scaled (or the inputs fully whitened), and the target
centred and scaled. The statistics come from batched passes, so that they
work on data larger than memory and on Dask arrays.

Every statistic here is scale-free: the moments are accumulated on each
column divided by a power of two close to its largest magnitude, which is
exact, so that data of scale 1e-300 or 1e300 neither underflows nor
overflows, and ordinary data gives bit for bit the moments of the plain
formulas. Whether a column (or the target) is constant is decided relative
to its own magnitude, never to 1 or to the other columns.
"""

import warnings
from dataclasses import dataclass

import numpy as np

from ._krylov import symmetric_eigh
from ._passes import run_pass

_EPS = np.finfo(np.float64).eps

#: A column (or target) whose standard deviation is at most this many units
#: in the last place of its mean varies only by rounding: it is constant.
#: Exactly equal values are recognised as constant whatever the sample size.
CONSTANT_ULPS = 8.0

#: Relative floor on the eigenvalues of the correlation matrix when whitening:
#: directions below it are linear dependencies between columns, dropped.
WHITENING_FLOOR = 1e-12


@dataclass
class Standardizer:
    """Affine map from raw inputs to the learner's coordinates.

    ``x_pre = (x - mean) @ matrix`` when ``matrix`` is given (full whitening),
    else ``(x - mean) / scale`` column by column.

    Attributes
    ----------
    mean : ndarray of shape (n_features,)
        Column means; the exact value of a constant column.
    scale : ndarray of shape (n_features,)
        Column standard deviations; ``max(1, |mean|)`` for a constant column,
        so that its rounding residue stays far below 1 in ``x_pre``.
    matrix : ndarray of shape (n_features, n_features) or None
        ``diag(1 / scale) @ R^(-1/2)``, with ``R`` the correlation matrix of
        the columns (pseudo-inverse square root: dependent directions and
        constant columns are mapped to 0), when whitening.
    """

    mean: np.ndarray
    scale: np.ndarray
    matrix: np.ndarray = None

    def apply(self, X_batch, dtype=np.float64):
        centred = np.asarray(X_batch, dtype=dtype) - self.mean.astype(dtype, copy=False)
        if self.matrix is not None:
            return centred @ self.matrix.astype(dtype, copy=False)
        centred /= self.scale.astype(dtype, copy=False)
        return centred

    def linear_map(self):
        """``S`` with ``x_pre = S^T (x - mean)``, as a (d, d) matrix."""
        if self.matrix is not None:
            return self.matrix
        return np.diag(1.0 / self.scale)


class _Range:
    """Smallest and largest value of each column, as a pass statistic.

    :func:`run_pass` combines the statistics of Dask chunks with ``+``; for a
    range ``+`` is the union (minimum of the minima, maximum of the maxima),
    associative and commutative like a sum, so the tree reduction is exact.
    """

    def __init__(self, shape=()):
        self.low = np.full(shape, np.inf)
        self.high = np.full(shape, -np.inf)

    def update(self, batch):
        np.minimum(self.low, batch.min(axis=0), out=self.low)
        np.maximum(self.high, batch.max(axis=0), out=self.high)

    def __add__(self, other):
        union = _Range(self.low.shape)
        np.minimum(self.low, other.low, out=union.low)
        np.maximum(self.high, other.high, out=union.high)
        return union


def _power_of_two_scale(low, high):
    """Powers of two ``s`` with ``max(|low|, |high|) / s`` below 4.

    The ratio is in ``[1/2, 1)`` except at the ends of the float range, where
    the exponent is clipped so that ``s`` and ``1 / s`` are both normal
    numbers; all-zero columns get ``s = 1``. Dividing by a power of two is
    exact, so moments of ``x / s`` scaled back are bit-identical to those of
    ``x`` wherever the latter neither overflow nor underflow.
    """
    _, exponent = np.frexp(np.maximum(np.abs(low), np.abs(high)))
    return np.ldexp(1.0, np.clip(exponent, -1021, 1022))


@dataclass
class _Moments:
    """First two moments of the columns of ``X`` (or of a vector), scale-free.

    The population covariance is ``scaled_cov * outer(unit, unit)``; it is
    kept factored because for data of scale 1e200 it does not fit in a float.
    """

    mean: np.ndarray
    unit: np.ndarray  # a power of two per column, near its largest magnitude
    scaled_cov: np.ndarray  # covariance of X / unit: entries below 64 in size
    low: np.ndarray
    high: np.ndarray

    @property
    def exactly_constant(self):
        return self.low == self.high

    def std(self):
        """Standard deviations (``inf`` where they overflow a float)."""
        # sqrt(c * unit^2) = sqrt(c) * unit exactly: unit is a power of two.
        variance = self.scaled_cov if self.scaled_cov.ndim == 0 else np.diagonal(self.scaled_cov)
        with np.errstate(over="ignore"):
            return np.sqrt(variance) * self.unit


def _moments(X, batch_size):
    """Mean, range and scaled covariance of a 2-D ``X`` (or a 1-D vector), in
    two passes: the mean first, then centred products, so that large offsets
    do not cancel. A third pass runs only when the plain sum overflows."""
    vector = X.ndim == 1
    shape = () if vector else X.shape[1]
    n_samples = X.shape[0]

    def add_sum(stats, start, X_batch):
        # An overflow of the sum (values near the top of the float range)
        # is detected below and the sum redone on scaled values.
        with np.errstate(over="ignore", invalid="ignore"):
            if vector:
                # Summed before any conversion: np.sum(float32, dtype=float64)
                # and the sum of a float64 copy may round differently.
                stats[0] += float(np.sum(X_batch, dtype=np.float64))
                X_batch = np.asarray(X_batch, dtype=np.float64)
            else:
                X_batch = np.asarray(X_batch, dtype=np.float64)
                stats[0] += X_batch.sum(axis=0)
        stats[1].update(X_batch)

    def init_sum():
        return [0.0 if vector else np.zeros(shape), _Range(shape)]

    # Adding the lanes' sums may overflow too (handled as above).
    with np.errstate(over="ignore", invalid="ignore"):
        total, value_range = run_pass([X], add_sum, init_sum, batch_size)
    # Only reachable when the caller's validation skipped the finiteness
    # check (scikit-learn's assume_finite=True); the range holds them, and
    # the centred products below would be NaN.
    if not (np.all(np.isfinite(value_range.low)) and np.all(np.isfinite(value_range.high))):
        name = "y" if vector else "X"
        raise ValueError(
            f"Input {name} contains NaN or infinity (not checked under "
            "scikit-learn's assume_finite=True); remove or impute those rows."
        )
    unit = _power_of_two_scale(value_range.low, value_range.high)
    inverse = 1.0 / unit
    with np.errstate(over="ignore", invalid="ignore"):
        mean = np.asarray(total / n_samples, dtype=np.float64)
    overflowed = ~np.isfinite(mean)
    if np.any(overflowed):
        # Values near the top of the float range: sum x / unit instead, whose
        # terms are below 4 in size (no overflow below 4e307 samples), and
        # scale the mean back.
        def add_scaled_sum(stats, start, X_batch):
            stats[0] += np.sum(np.asarray(X_batch, dtype=np.float64) * inverse, axis=0)

        scaled_total = run_pass([X], add_scaled_sum, lambda: [np.zeros(shape)], batch_size)[0]
        mean = np.where(overflowed, scaled_total / n_samples * unit, mean)
    # The mean of equal values is that value; the division above may round it.
    constant = value_range.low == value_range.high
    mean = np.where(constant, value_range.low, mean)
    shift = mean * inverse

    # (x / unit - mean / unit) is exactly (x - mean) / unit, and cannot
    # overflow; its products are exactly those of (x - mean) over unit^2.
    def add_products(stats, start, X_batch):
        centred = np.asarray(X_batch, dtype=np.float64) * inverse - shift
        if vector:
            stats[0] += float(np.sum(centred**2))
        else:
            stats[0] += centred.T @ centred

    def init_products():
        return [0.0 if vector else np.zeros((shape, shape))]

    products = run_pass([X], add_products, init_products, batch_size)[0]
    return _Moments(
        mean=mean,
        unit=unit,
        scaled_cov=np.asarray(products, dtype=np.float64) / n_samples,
        low=value_range.low,
        high=value_range.high,
    )


def column_moments(X, batch_size):
    """Column means and (population) covariance of ``X``, in two passes.

    The mean first, then centred products, so that large offsets do not
    cancel. Both are accumulated on each column divided by a power of two near
    its largest magnitude (exact), so nothing overflows along the way; the
    returned covariance has ``inf`` entries only where the true covariance
    exceeds the float range (data of scale 1e155 or more).
    """
    moments = _moments(X, batch_size)
    with np.errstate(over="ignore"):
        cov = moments.scaled_cov * np.outer(moments.unit, moments.unit)
    return moments.mean, cov


def vector_moments(y, batch_size):
    """Mean and (population) standard deviation of a vector, in two passes.

    Overflow-safe like :func:`column_moments`: the deviations are squared
    after division by a power of two near ``max |y|``.
    """
    moments = _moments(y, batch_size)
    return float(moments.mean), float(moments.std())


def _numerically_constant(moments, std):
    """Exactly equal values, or a spread within rounding of the mean."""
    return moments.exactly_constant | (std <= CONSTANT_ULPS * _EPS * np.abs(moments.mean))


def _warn_rounding_constant(moments, std, constant, name):
    """Say so when varying values are treated as constant: their spread is
    within rounding of a large offset (X + 1e15), so the model ignores them."""
    dropped = np.flatnonzero(np.atleast_1d(constant & ~moments.exactly_constant))
    if dropped.size == 0:
        return
    j = dropped[0]
    label = name if moments.mean.ndim == 0 else f"column {j} of {name}"
    count = "" if moments.mean.ndim == 0 else f" ({dropped.size} column(s) in all)"
    warnings.warn(
        f"The values of {label} vary by a standard deviation of "
        f"{float(np.atleast_1d(std)[j]):.3g} around {float(np.atleast_1d(moments.mean)[j]):.6g}, "
        f"within {CONSTANT_ULPS:g} units of rounding of that offset: it is treated "
        f"as constant{count}. Subtract the offset (centre {name}) before fitting to "
        "use these variations.",
        UserWarning,
        stacklevel=4,
    )


def _check_representable(moments, std, constant, name, dtype):
    """Refuse data whose deviations or spread do not fit in ``dtype``, saying
    how to rescale it; silently, they would give inf or NaN downstream."""
    finfo = np.finfo(dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        deviation = np.maximum(moments.high - moments.mean, moments.mean - moments.low)
    too_large = ~np.isfinite(std) | ~(deviation <= finfo.max)
    too_small = ~constant & (std < finfo.tiny)
    for bad, problem in (
        (too_large, "overflows"),
        (too_small, "is below the smallest normal number of"),
    ):
        where = np.flatnonzero(np.atleast_1d(bad))
        if where.size == 0:
            continue
        j = where[0]
        label = name if moments.mean.ndim == 0 else f"column {j} of {name}"
        low, high = np.atleast_1d(moments.low)[j], np.atleast_1d(moments.high)[j]
        # The power of ten that brings the largest magnitude near 1.
        decade = int(np.floor(np.log10(max(abs(low), abs(high)))))
        advice = f"divide it by 1e{decade}" if decade > 0 else f"multiply it by 1e{-decade}"
        if dtype == np.float32:
            advice += f", or pass {name} as float64"
        raise ValueError(
            f"The values of {label} lie in [{low:.3g}, {high:.3g}]: their spread "
            f"{problem} {np.dtype(dtype).name}. Rescale {label} ({advice}) "
            "before fitting."
        )


def make_standardizer(X, whiten, batch_size):
    """Centre and scale (or whiten) from batched moments.

    Constant columns (exactly equal values, or a standard deviation within
    ``CONSTANT_ULPS`` units in the last place of the column's own mean) get
    scale ``max(1, |mean|)``, and a column of equal values is centred on
    exactly that value. Every test is per column and relative to that column,
    so columns of scale 1e-150 next to columns of scale 1e150 are all
    standardised.

    With ``whiten=True`` each column is standardised first and the correlation
    matrix is whitened (its pseudo-inverse square root), so that whitening
    does not depend on the units of the columns either.

    Parameters
    ----------
    X : ndarray or dask array of shape (n_samples, n_features)
        Validated, finite inputs (float64 or float32).
    whiten : bool
        Fully whiten instead of scaling each column.
    batch_size : int
        Rows per batch of the passes.

    Returns
    -------
    standardizer : Standardizer

    Raises
    ------
    ValueError
        If the spread of a column overflows (or is below the normal range of)
        the dtype of ``X``, saying by how much to rescale ``X``.
    """
    moments = _moments(X, batch_size)
    std = moments.std()
    constant = _numerically_constant(moments, std)
    dtype = np.float32 if X.dtype == np.float32 else np.float64
    _check_representable(moments, std, constant, "X", dtype)
    _warn_rounding_constant(moments, std, constant, "X")
    scale = np.where(constant, np.maximum(1.0, np.abs(moments.mean)), std)
    if not whiten:
        return Standardizer(mean=moments.mean, scale=scale)
    # The correlation from the scaled covariance: the powers of two cancel.
    inverse_root = np.zeros_like(std)
    kept = ~constant
    inverse_root[kept] = 1.0 / np.sqrt(np.diagonal(moments.scaled_cov)[kept])
    correlation = moments.scaled_cov * np.outer(inverse_root, inverse_root)
    eigvals, eigvecs = symmetric_eigh(correlation)
    independent = eigvals > WHITENING_FLOOR * max(eigvals.max(initial=0.0), 0.0)
    inv_sqrt = np.zeros_like(eigvals)
    inv_sqrt[independent] = 1.0 / np.sqrt(eigvals[independent])
    matrix = ((eigvecs * inv_sqrt) @ eigvecs.T) / scale[:, None]
    return Standardizer(mean=moments.mean, scale=scale, matrix=matrix)


def target_scaling(y, batch_size):
    """Mean and scale of the target.

    A constant target (exactly equal values, or a standard deviation within
    ``CONSTANT_ULPS`` units in the last place of its mean) gets its exact value
    as mean and scale ``max(1, |mean|)``, so the scaled target is (close to) 0
    at any magnitude; any other target, however small or large, is scaled by
    its standard deviation.

    Parameters
    ----------
    y : ndarray or dask array of shape (n_samples,)
        Validated, finite target.
    batch_size : int
        Rows per batch of the passes.

    Returns
    -------
    y_mean, y_scale : float

    Raises
    ------
    ValueError
        If the spread of ``y`` overflows (or is below the normal range of)
        float64, saying by how much to rescale ``y``.
    """
    moments = _moments(y, batch_size)
    std = moments.std()
    constant = bool(_numerically_constant(moments, std))
    _check_representable(moments, std, constant, "y", np.float64)
    _warn_rounding_constant(moments, std, constant, "y")
    y_mean = float(moments.mean)
    if constant:
        return y_mean, max(1.0, abs(y_mean))
    return y_mean, float(std)
