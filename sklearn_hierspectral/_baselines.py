"""Shallow kernel baselines: kernel ridge and random-feature ridge pipelines.

The factories return plain :class:`sklearn.pipeline.Pipeline` objects so that
``GridSearchCV``, ``learning_curve``, ``cross_validate`` and ``clone`` take them
as they are. Two small public transformers make the pipelines work:

- :class:`MedianHeuristicScaler` implements ``gamma='median'``: it divides the
  inputs by the square root of the median pairwise squared distance of the
  training data, so that a kernel with ``gamma=1`` downstream has the bandwidth
  of the median heuristic.
- :class:`KernelMemoryGuard` is an identity transformer that refuses, before
  anything large is allocated, a fit (or a prediction) whose kernel or
  random-feature matrices would not fit in memory. It raises
  :class:`MemoryBudgetError`.
"""

import math
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from scipy.spatial.distance import pdist
from sklearn.base import (
    BaseEstimator,
    OneToOneFeatureMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.kernel_approximation import Nystroem, PolynomialCountSketch, RBFSampler
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.random import sample_without_replacement
from sklearn.utils.validation import FLOAT_DTYPES, check_is_fitted

from ._memory import MemoryBudgetError
from ._validation import IntegerInterval, validate_data
from ._memory import available_memory as _available_memory_bytes
from ._memory import format_bytes as _format_gb

__all__ = [
    "KernelMemoryGuard",
    "MedianHeuristicScaler",
    "MemoryBudgetError",
    "make_kernel_ridge_baseline",
    "make_random_features_baseline",
]

_GIB = 2.0**30

# ---------------------------------------------------------------------------
# Memory model.
#
# Peak *additional* bytes that the estimator after the guard allocates, as a
# function of the matrix sizes. The constants come from reading the code paths
# of scikit-learn (kernel_ridge.py, kernel_approximation.py, linear_model/
# _ridge.py) and scipy.linalg.solve, and were checked against the measured
# peak resident memory (scikit-learn 1.9.1, scipy 1.17, numpy 2.4, Linux):
#
# kernel ridge fit, per entry of the n x n kernel matrix K:
#   K itself (itemsize s) + a float64 upcast of K when s != 8 (y is float64)
#   + 2 x 8 bytes: scipy.linalg.solve(K, y, assume_a='pos', overwrite_a=False)
#     holds two float64 n x n buffers besides K (measured: 3.06-3.13 n^2 x 8
#     bytes in total for float64)
#   + 1 byte: the boolean mask of its finiteness check.
#   -> 25 bytes/entry for float64, 29 for float32.
# kernel ridge predict, per entry of the n_test x n_fit kernel: the kernel and
#   one temporary of the same size (numpy's temporary elision usually saves it;
#   it is counted anyway), or its float64 upcast for float32: 16 bytes.
# Ridge on random features: a centred copy of the n x m feature matrix, and a
#   Gram system of size min(n, m) solved like kernel ridge (see above).
# RBFSampler: one n x m matrix (transformed in place).
# Nystroem (m' = min(n, m) landmarks): the n x m' kernel to the landmarks and
#   the n x m' output (plus the temporary of euclidean_distances), and at fit
#   the m' x m' landmark kernel and its SVD factors (~6 float64 m'^2 arrays).
# PolynomialCountSketch (always float64/complex128): n x degree x m real count
#   sketches (8 degree), their complex FFT (16 degree), the complex product over
#   degrees (16) -> (24 degree + 16) bytes per entry of the n x m output, which
#   then stays a view on a complex buffer.
# Every estimate is multiplied by _SAFETY_FACTOR for allocator overheads and
# small temporaries that are not modelled.
# ---------------------------------------------------------------------------
_SAFETY_FACTOR = 1.1
_NYSTROEM_FIT_BYTES_PER_LANDMARK_PAIR = 48.0
_KERNEL_PREDICT_BYTES_PER_ENTRY = 16.0

# KernelMemoryGuard.transform refuses inputs more than this many times larger
# than the training data. Standardised, they stay about as large, and a
# polynomial kernel raises their inner products with the training rows to its
# degree: 1e100 overflows at degree 4, while 1e30 gives 1e120, far from it. No
# model of the training data says anything useful that far out anyway.
_MAX_EXTRAPOLATION = 1e30

# Passed through unchanged; other sparse formats are converted to CSR.
_GUARD_SPARSE_FORMATS = ("csr", "csc", "coo")

_METHOD_DESCRIPTIONS = {
    "kernel_ridge": "KernelRidge",
    "rff": "RBFSampler + Ridge",
    "nystroem": "Nystroem + Ridge",
    "poly_sketch": "PolynomialCountSketch + Ridge",
}


# ---------------------------------------------------------------- byte models
def _gram_bytes_per_entry(itemsize):
    """Bytes per entry of a square system solved by scipy.linalg.solve."""
    upcast = 0 if itemsize == 8 else 8
    return itemsize + upcast + 2 * 8 + 1


def _estimate_bytes(
    method,
    n_rows,
    *,
    itemsize=8,
    n_components=100,
    degree=2,
    n_samples_fit=None,
    predict=False,
):
    """Estimated peak additional bytes of a fit or a prediction on n_rows rows.

    See the comment block at the top of this module for the derivation.
    """
    n = float(n_rows)
    s = float(itemsize)
    if method == "kernel_ridge":
        if predict:
            raw = n * float(n_samples_fit) * _KERNEL_PREDICT_BYTES_PER_ENTRY
        else:
            raw = n * n * _gram_bytes_per_entry(itemsize)
        return _with_margin(raw)

    m = float(n_components)
    if method == "nystroem":
        # Nystroem uses at most as many landmarks as training samples.
        n_fit = n if n_samples_fit is None else float(n_samples_fit)
        m = min(m, n_fit)
        features = 2.5 * s * n * m
        if predict:
            raw = features
        else:
            raw = (
                features
                + _NYSTROEM_FIT_BYTES_PER_LANDMARK_PAIR * m * m
                + _gram_bytes_per_entry(itemsize) * min(n, m) ** 2
            )
    elif method == "rff":
        if predict:
            raw = 1.5 * s * n * m
        else:
            raw = 2.5 * s * n * m + _gram_bytes_per_entry(itemsize) * min(n, m) ** 2
    elif method == "poly_sketch":
        sketch = (24.0 * degree + 16.0) * n * m
        if predict:
            raw = sketch
        else:
            raw = sketch + 8.0 * n * m + _gram_bytes_per_entry(8) * min(n, m) ** 2
    else:  # pragma: no cover - guarded by parameter validation
        raise ValueError(f"Unknown method {method!r}.")
    return _with_margin(raw)


def _with_margin(raw_bytes):
    # round() first so that e.g. 1.1 * 25e6 is 27500000, not 27500001.
    return int(math.ceil(round(_SAFETY_FACTOR * raw_bytes, 3)))


def _largest_fitting_rows(budget, estimate, upper):
    """Largest n in [0, upper] with estimate(n) <= budget (estimate increasing)."""
    lo, hi = 0, int(upper)
    if estimate(hi) <= budget:
        return hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if estimate(mid) <= budget:
            lo = mid
        else:
            hi = mid
    return lo


def _itemsize(X):
    dtype = getattr(X, "dtype", None)
    if dtype is not None and dtype == np.float32:
        return 4
    return 8


#: Varying columns whose largest magnitude is below this have squares under
#: the smallest normal float64 (2.2e-308): a variance or a squared distance
#: of them is zero or subnormal, and the column is lost.
_TINY_COLUMN = 1e-150


def _squares_limit(n_terms):
    """Largest magnitude whose squares, ``n_terms`` of them summed, stay finite.

    A difference of two values is at most twice the larger one, hence the
    factor 0.5.
    """
    return 0.5 * np.sqrt(np.finfo(np.float64).max / max(n_terms, 1))


def _largest_magnitude(X):
    """max |X| as a float, without allocating a copy of X."""
    if sp.issparse(X):
        if not X.nnz:
            return 0.0
        data = X.data
    else:
        if X.size == 0:
            return 0.0
        data = X
    return max(abs(float(data.max())), abs(float(data.min())))


def _check_target_squares(y):
    """Refuse a numeric y whose squared deviations overflow float64.

    Ridge centres y and sums its squares; KernelRidge solves with it and its
    ``score`` sums squared residuals: beyond this bound they overflow and the
    fit returns NaN (or scipy refuses the non-finite system with a message
    that does not mention y). Anything that is not a 1-D or 2-D numeric
    array is left to the final estimator's own validation.
    """
    if y is None or sp.issparse(y):
        return
    try:
        values = np.asarray(y)
    except (TypeError, ValueError):
        return
    if values.ndim not in (1, 2) or values.dtype.kind not in "iuf" or not values.size:
        return
    finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
    if not finite.size:
        return  # NaN or inf only: the final estimator says so
    largest = _largest_magnitude(finite)
    if largest > _squares_limit(values.shape[0]):
        decade = int(np.floor(np.log10(largest)))
        raise ValueError(
            f"y has values up to {largest:.3g}: the sums of their squared "
            "deviations from the mean, which Ridge and KernelRidge compute, can "
            "overflow float64 and the fit return NaN. Rescale y (divide it by "
            f"1e{decade}) before fitting."
        )


def _check_squares_representable(X):
    """Refuse X whose squares over- or underflow float64 (see KernelMemoryGuard)."""
    if sp.issparse(X):
        values = np.abs(X.data) if X.nnz else np.zeros(1)
        largest, column = float(values.max()), None
        varying_tiny = np.zeros(0, dtype=bool)
    else:
        if X.size == 0:
            return
        # From the column maxima and minima: no |X| copy of the whole input.
        highs, lows = X.max(axis=0), X.min(axis=0)
        magnitude = np.maximum(np.abs(highs), np.abs(lows)).astype(np.float64)
        column = int(np.argmax(magnitude))
        largest = float(magnitude[column])
        varying = highs != lows
        varying_tiny = varying & (magnitude < _TINY_COLUMN)
    # n x^2 must stay below the float64 maximum (StandardScaler's variance
    # sums n squares; a kernel sums d of them).
    limit = _squares_limit(max(X.shape[0], X.shape[1]))
    where = "" if column is None else f" (column {column})"
    if largest > limit:
        decade = int(np.floor(np.log10(largest)))
        raise ValueError(
            f"X has values up to {largest:.3g}{where}: their squares, which kernel "
            "methods and the standardisation compute, overflow float64 and the "
            f"column would be lost. Rescale X (divide it by 1e{decade}) before fitting."
        )
    if np.any(varying_tiny):
        column = int(np.flatnonzero(varying_tiny)[0])
        size = float(np.abs(X[:, column]).max())
        decade = -int(np.floor(np.log10(size)))
        raise ValueError(
            f"Column {column} of X varies but its values are at most {size:.3g}: their "
            "squares underflow float64 and the kernel would see a constant column. "
            f"Rescale X (multiply it by 1e{decade}) before fitting."
        )


class KernelMemoryGuard(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Identity transformer that refuses fits which would run out of memory.

    Placed first in a pipeline that ends in a kernel method, it estimates
    from the number of samples how many bytes the kernel step's fit will
    allocate (the kernel matrix of kernel ridge, the random-feature matrix of
    a random features model, with the copies the solvers really make) and
    raises :class:`MemoryBudgetError` *before* any of it is allocated (nor
    any copy of the input by the steps in between) when that is more than
    the available memory. :meth:`transform` does the same check for a
    prediction (kernel ridge needs an ``n_test x n_fit`` kernel) and then
    returns its input unchanged.

    At ``fit`` it also refuses, with a ValueError that says how to rescale,
    inputs on which every kernel method silently fails: values so large
    that their squares (in squared distances, inner products or a
    standardisation's variance) overflow float64, or varying columns so
    small that those squares underflow to zero, and a numeric target ``y``
    (which a pipeline passes to its steps' ``fit``) whose sum of squared
    deviations from its mean overflows float64. At :meth:`transform` it
    refuses inputs whose squares overflow float64, and inputs more than
    ``1e30`` times larger than the largest training value (``max_abs_``),
    whose kernel with the training data overflows. NaN or infinite inputs
    get scikit-learn's usual error.

    The memory model, in bytes, for ``n`` rows, ``m = n_components`` and
    itemsize ``s`` (4 for float32 input, 8 otherwise), everything multiplied by
    a safety factor of 1.1:

    ================  ======================================  ====================
    method            fit                                     transform
    ================  ======================================  ====================
    'kernel_ridge'    ``c(s) n^2``                            ``16 n n_fit``
    'rff'             ``2.5 s n m + c(s) min(n, m)^2``        ``1.5 s n m``
    'nystroem'        ``2.5 s n m' + (48 + c(s)) m'^2``       ``2.5 s n m'``
    'poly_sketch'     ``(24 deg + 24) n m + 25 min(n, m)^2``  ``(24 deg + 16) n m``
    ================  ======================================  ====================

    Here ``c(s) = s + 8 [s != 8] + 17`` bytes per entry of a square system
    solved by :func:`scipy.linalg.solve` (the matrix, a float64 upcast for
    float32, two float64 working copies and a finiteness mask: 25 bytes for
    float64, as measured for :class:`~sklearn.kernel_ridge.KernelRidge`),
    ``m' = min(m, n_fit)`` (the Nystroem landmarks), and ``deg`` the degree of
    the polynomial count sketch, which always works in float64 and complex128.
    The estimates were checked against measured peak resident memory; they are
    upper bounds of the *additional* memory, since the input is already
    allocated when the guard runs.

    Parameters
    ----------
    method : {'kernel_ridge', 'rff', 'nystroem', 'poly_sketch'}, \
            default='kernel_ridge'
        The estimator that follows the guard: exact kernel ridge regression,
        or ridge regression on :class:`~sklearn.kernel_approximation.RBFSampler`,
        :class:`~sklearn.kernel_approximation.Nystroem` or
        :class:`~sklearn.kernel_approximation.PolynomialCountSketch` features.
    n_components : int, default=100
        Number of random features or landmarks of the feature map. Ignored
        when ``method='kernel_ridge'``.
    degree : int, default=2
        Degree of the polynomial count sketch. Used only when
        ``method='poly_sketch'``.
    max_memory_bytes : float, default=None
        Memory budget in bytes. None reads the memory available right now:
        ``MemAvailable`` of ``/proc/meminfo``, falling back to
        ``os.sysconf('SC_AVPHYS_PAGES') * os.sysconf('SC_PAGE_SIZE')`` (then to
        psutil if installed), capped by the room left under a cgroup memory
        limit. If none of these can be read, no check is made.

    Attributes
    ----------
    n_samples_fit_ : int
        Number of training samples seen in :meth:`fit`.
    required_bytes_ : int
        Estimated peak additional bytes of the next step's fit.
    budget_bytes_ : int or None
        The budget it was checked against, None if it could not be determined.
    max_abs_ : float
        Largest absolute value of the training data; :meth:`transform`
        refuses inputs more than 1e30 times larger.
    n_features_in_ : int
        Number of features seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    MemoryBudgetError : The error raised when the budget is exceeded.
    make_kernel_ridge_baseline : Kernel ridge pipeline that includes this guard.
    make_random_features_baseline : Random-feature pipeline that includes it.

    Notes
    -----
    The check compares one fit with the memory free at that moment. When
    several fits run at once (``n_jobs`` in ``GridSearchCV`` or
    ``cross_validate``, several Dask workers on a host), each sees the same free
    memory: pass ``max_memory_bytes`` equal to the free memory divided by the
    number of concurrent fits.

    References
    ----------
    .. [1] C. E. Rasmussen and C. K. I. Williams, "Gaussian Processes for
       Machine Learning", MIT Press, 2006, section 8.1 (the ``O(n^2)`` memory
       and ``O(n^3)`` time of exact kernel methods).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_hierspectral._baselines import (
    ...     KernelMemoryGuard, MemoryBudgetError)
    >>> X = np.random.RandomState(0).standard_normal((1000, 3))
    >>> guard = KernelMemoryGuard(max_memory_bytes=1e9).fit(X)
    >>> guard.required_bytes_
    27500000
    >>> np.shares_memory(guard.transform(X), X)
    True
    >>> try:
    ...     KernelMemoryGuard(max_memory_bytes=1e6).fit(X)
    ... except MemoryBudgetError as exc:
    ...     print(exc.required_bytes, exc.available_bytes)
    27500000 1000000
    """

    _parameter_constraints: dict = {
        "method": [StrOptions(set(_METHOD_DESCRIPTIONS))],
        "n_components": [IntegerInterval(Integral, 1, None, closed="left")],
        "degree": [IntegerInterval(Integral, 1, None, closed="left")],
        "max_memory_bytes": [Interval(Real, 0, None, closed="left"), None],
    }

    def __init__(
        self, method="kernel_ridge", *, n_components=100, degree=2,
        max_memory_bytes=None,
    ):
        self.method = method
        self.n_components = n_components
        self.degree = degree
        self.max_memory_bytes = max_memory_bytes

    def _budget(self):
        if self.max_memory_bytes is not None:
            return int(self.max_memory_bytes), "max_memory_bytes"
        return _available_memory_bytes()

    def _estimate(self, n_rows, itemsize, predict):
        return _estimate_bytes(
            self.method,
            n_rows,
            itemsize=itemsize,
            n_components=self.n_components,
            degree=self.degree,
            n_samples_fit=getattr(self, "n_samples_fit_", None) if predict else None,
            predict=predict,
        )

    def _refuse(self, n_rows, itemsize, required, budget, source, predict):
        what = _METHOD_DESCRIPTIONS[self.method]
        if self.method == "kernel_ridge":
            if predict:
                size = f"its {n_rows:,} x {self.n_samples_fit_:,} test kernel matrix"
            else:
                size = (
                    f"its {n_rows:,} x {n_rows:,} kernel matrix and the copies "
                    "the Cholesky solver makes"
                )
        else:
            m = self.n_components
            if self.method == "nystroem":
                m = min(m, n_rows if not predict else self.n_samples_fit_)
            size = f"its {n_rows:,} x {m:,} feature matrix and the copies made of it"
        action = "predict on" if predict else "fit on"
        message = (
            f"{what} would need about {_format_gb(required)} to {action} "
            f"{n_rows:,} samples ({size}), but only {_format_gb(budget)} is "
            f"available ({source}). "
        )
        fits = _largest_fitting_rows(
            budget, lambda k: self._estimate(k, itemsize, predict), n_rows
        )
        if predict:
            message += (
                f"Predict in batches of at most {fits:,} rows"
                + (
                    ", or fit on fewer samples."
                    if self.method == "kernel_ridge"
                    else ", or use fewer n_components."
                )
            )
        elif self.method == "kernel_ridge":
            message += (
                f"Fit on at most {fits:,} samples, or use an approximation whose "
                "memory grows like n_samples * n_components, e.g. "
                "make_random_features_baseline(method='nystroem')."
            )
        else:
            message += (
                f"Fit on at most {fits:,} samples at n_components="
                f"{self.n_components}, or use fewer n_components."
            )
        message += (
            " If more memory really is available, raise max_memory_bytes "
            "(the 'kernelmemoryguard__max_memory_bytes' parameter of the "
            "baseline pipelines)."
        )
        raise MemoryBudgetError(
            message, required_bytes=int(required), available_bytes=int(budget)
        )

    def _check(self, n_rows, itemsize, predict):
        required = self._estimate(n_rows, itemsize, predict)
        budget, source = self._budget()
        if budget is not None and required > budget:
            self._refuse(n_rows, itemsize, required, budget, source, predict)
        return required, budget

    def _fit(self, X, y):
        X = validate_data(self, X, accept_sparse=_GUARD_SPARSE_FORMATS)
        _check_squares_representable(X)
        _check_target_squares(y)
        required, budget = self._check(X.shape[0], _itemsize(X), predict=False)
        self.n_samples_fit_ = X.shape[0]
        self.max_abs_ = _largest_magnitude(X)
        self.required_bytes_ = required
        self.budget_bytes_ = budget
        return X

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check that the next step's fit on X fits in memory.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_targets), \
                default=None
            Target of the pipeline, only checked: a numeric y whose squares
            overflow float64 is refused. Not validated when None.

        Returns
        -------
        self : object
            The fitted guard.

        Raises
        ------
        MemoryBudgetError
            If the estimated peak memory exceeds the budget.
        ValueError
            If the squares of X or of y overflow float64, or the squares of a
            varying column of X underflow.
        """
        self._fit(X, y)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Check the fit memory of the next step on X, then return X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_targets), \
                default=None
            Target of the pipeline, only checked: a numeric y whose squares
            overflow float64 is refused. Not validated when None.

        Returns
        -------
        X_out : {ndarray, sparse matrix} of shape (n_samples, n_features)
            The validated input, not copied when it already is a numeric
            array.

        Raises
        ------
        MemoryBudgetError
            If the estimated peak memory exceeds the budget.
        ValueError
            If the squares of X or of y overflow float64, or the squares of a
            varying column of X underflow.
        """
        return self._fit(X, y)

    def transform(self, X):
        """Check the prediction memory of the next step on X, then return X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to pass through.

        Returns
        -------
        X_out : {ndarray, sparse matrix} of shape (n_samples, n_features)
            The validated input, not copied when it already is a numeric
            array.

        Raises
        ------
        MemoryBudgetError
            If predicting on X at once would exceed the budget.
        ValueError
            If X has values more than 1e30 times the largest training value,
            or values whose squares overflow float64.
        """
        check_is_fitted(self)
        X = validate_data(
            self, X, accept_sparse=_GUARD_SPARSE_FORMATS, reset=False
        )
        self._check_scale(X)
        self._check(X.shape[0], _itemsize(X), predict=True)
        return X

    def _check_scale(self, X):
        """Refuse X whose kernel with the training data would overflow."""
        largest = _largest_magnitude(X)
        # A training set of zeros gives no scale to compare with; the
        # absolute bound below still applies.
        if self.max_abs_ > 0.0 and largest > _MAX_EXTRAPOLATION * self.max_abs_:
            raise ValueError(
                f"X has values up to {largest:.3g}, more than 1e30 times the "
                f"largest training value {self.max_abs_:.3g}: the kernel of such "
                "inputs overflows. Predict on inputs of the training data's scale."
            )
        if largest > _squares_limit(max(X.shape)):
            decade = int(np.floor(np.log10(largest)))
            raise ValueError(
                f"X has values up to {largest:.3g}: their squares, which the "
                "standardisation and the kernel compute, overflow float64. "
                f"Rescale X (divide it by 1e{decade}) and refit on data rescaled "
                "the same way."
            )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def _rescale(X, scale, *, divide):
    """``X / scale`` (``divide``) or ``X * scale``, in the dtype of X.

    Multiplies by the factor in X's dtype when it is a normal number there
    (the fast path); otherwise (the reciprocal of a scale of 1e-310, or a
    scale beyond the float32 range) computes in float64, dividing, and casts
    back. Raises a ValueError when the result overflows X's dtype.
    """
    dtype = X.dtype
    info = np.finfo(dtype)
    with np.errstate(over="ignore", under="ignore", divide="ignore"):
        factor = dtype.type(1.0 / scale if divide else scale)
    with np.errstate(over="ignore", under="ignore"):
        if np.isfinite(factor) and abs(factor) >= info.tiny:
            out = X * factor
        elif sp.issparse(X):
            # scipy divides a sparse matrix by a scalar through its
            # reciprocal, which is what overflows here: divide the values.
            out = X.copy()
            wide = X.data.astype(np.float64, copy=False)
            out.data = (wide / scale if divide else wide * scale).astype(dtype)
        else:
            wide = X.astype(np.float64, copy=False)
            out = (wide / scale if divide else wide * scale).astype(dtype, copy=False)
    values = out.data if sp.issparse(out) else out
    if not np.all(np.isfinite(values)):
        largest = _largest_magnitude(X)
        if divide:
            operation = "X / scale_"
            expected = "transform expects data on the scale of the training data"
        else:
            operation = "X * scale_"
            expected = "inverse_transform expects the output of transform"
        raise ValueError(
            f"X has values up to {largest:.3g}, too large for this scaler's "
            f"scale_={scale:.3g}: {operation} overflows {dtype}. Rescale X so "
            f"that |{operation}| stays below {float(info.max):.3g}; {expected}."
        )
    return out


class MedianHeuristicScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Scale inputs by the median heuristic of their pairwise distances.

    ``fit`` computes ``m``, the median of the squared Euclidean distances
    ``||x_i - x_j||^2`` over all pairs ``i < j`` of (a random subsample of at
    most ``max_samples``) training rows, and ``transform`` returns
    ``X / sqrt(m)``. A downstream kernel with ``gamma=1`` then computes

    - RBF: ``exp(-||x - x'||^2 / m)``, i.e. ``gamma = 1 / m``;
    - polynomial: ``(<x, x'> / m + coef0) ** degree``.

    This is the "median heuristic" with the convention ``gamma = 1 / median``
    of the squared distances (some authors use ``1 / (2 median)``, i.e. a
    Gaussian width ``sigma`` equal to the median distance; multiply the
    downstream ``gamma`` by 0.5 to get that). The downstream ``gamma`` becomes a
    dimensionless multiplier of the heuristic, convenient to tune in a grid
    search.

    The cost is ``O(min(n, max_samples)^2 n_features)``, independent of the
    number ``n`` of training rows once it exceeds ``max_samples``.

    Parameters
    ----------
    max_samples : int, default=2000
        Maximal number of training rows used to compute the median. With more
        rows a subsample of this size, drawn without replacement, is used.
    random_state : int, RandomState instance or None, default=None
        Draws the subsample when the training set has more than
        ``max_samples`` rows. Pass an int for reproducible output across
        multiple function calls.

    Attributes
    ----------
    median_sq_distance_ : float
        The median squared pairwise distance ``m``. When more than half the
        pairs coincide (``m = 0``), the median over the pairs at positive
        distance is used instead; when all rows of the subsample coincide it is
        0. It is computed on ``X`` divided by a power of two near ``max |X|``
        and scaled back, so it is ``inf`` (or 0) only when ``m`` itself
        is beyond the float range (rows 1e154, or 1e-162, apart); ``scale_``
        is exact even then.
    scale_ : float
        ``sqrt(median_sq_distance_)``, the number X is divided by; 1.0 when
        ``median_sq_distance_`` is 0.
    n_features_in_ : int
        Number of features seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    make_kernel_ridge_baseline : Kernel ridge pipeline using this scaler for
        ``gamma='median'``.
    make_random_features_baseline : Random-feature pipeline using it.
    sklearn.preprocessing.StandardScaler : Per-feature standardisation, applied
        before this scaler in the baselines.

    References
    ----------
    .. [1] B. Schölkopf and A. J. Smola, "Learning with Kernels", MIT Press,
       2002.
    .. [2] A. Gretton, K. M. Borgwardt, M. J. Rasch, B. Schölkopf and A. Smola,
       "A Kernel Two-Sample Test", Journal of Machine Learning Research 13,
       723-773, 2012.
    .. [3] D. Garreau, W. Jitkrittum and M. Kanagawa, "Large sample analysis of
       the median heuristic", arXiv:1707.07269, 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_hierspectral._baselines import MedianHeuristicScaler
    >>> X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    >>> scaler = MedianHeuristicScaler().fit(X)
    >>> scaler.median_sq_distance_  # squared distances 1, 4 and 5
    4.0
    >>> scaler.scale_
    2.0
    >>> scaler.transform(X)
    array([[0. , 0. ],
           [0.5, 0. ],
           [0. , 1. ]])
    """

    _parameter_constraints: dict = {
        "max_samples": [IntegerInterval(Integral, 2, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, *, max_samples=2000, random_state=None):
        self.max_samples = max_samples
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Compute the median squared pairwise distance of the training rows.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data, at least two rows.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted scaler.
        """
        X = validate_data(
            self, X, accept_sparse=("csr", "csc"), dtype=FLOAT_DTYPES,
            ensure_min_samples=2,
        )
        n_samples = X.shape[0]
        if n_samples > self.max_samples:
            rng = check_random_state(self.random_state)
            rows = np.sort(
                sample_without_replacement(
                    n_samples, self.max_samples, random_state=rng
                )
            )
            X_sub = X[rows]
        else:
            X_sub = X
        if sp.issparse(X_sub):
            X_sub = X_sub.toarray()
        X_sub = np.asarray(X_sub, dtype=np.float64)
        if not np.all(np.isfinite(X_sub)):
            raise ValueError("X contains NaN or infinity.")
        # Distances of X / unit, with unit a power of two near max |X| (exact),
        # so that squares of values near 1e200 or 1e-200 neither overflow nor
        # underflow; the scale is unit * sqrt(median), always representable.
        largest = float(np.max(np.abs(X_sub), initial=0.0))
        unit = 2.0 ** math.floor(math.log2(largest)) if largest > 0.0 else 1.0
        sq_distances = pdist(X_sub / unit, "sqeuclidean")
        median = float(np.median(sq_distances))
        if median <= 0.0:
            positive = sq_distances[sq_distances > 0]
            median = float(np.median(positive)) if positive.size else 0.0
        with np.errstate(over="ignore", under="ignore"):
            self.median_sq_distance_ = float(np.float64(median) * unit * unit)
        scale = unit * math.sqrt(median) if median > 0.0 else 1.0
        if not math.isfinite(scale):
            raise ValueError(
                "The median distance between the rows of X overflows float64 (values "
                "near the float limit of 1.8e308). Rescale X (divide it by its largest "
                "magnitude) before fitting."
            )
        self.scale_ = scale
        return self

    def transform(self, X):
        """Divide X by ``scale_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to scale.

        Returns
        -------
        X_new : {ndarray, sparse matrix} of shape (n_samples, n_features)
            ``X / scale_``, with the dtype (float32 or float64) of X.

        Raises
        ------
        ValueError
            If ``X / scale_`` overflows the dtype of X.
        """
        check_is_fitted(self)
        X = validate_data(
            self, X, accept_sparse=("csr", "csc"), dtype=FLOAT_DTYPES, reset=False
        )
        return _rescale(X, self.scale_, divide=True)

    def inverse_transform(self, X):
        """Multiply X by ``scale_``, undoing :meth:`transform`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Scaled data.

        Returns
        -------
        X_original : {ndarray, sparse matrix} of shape (n_samples, n_features)
            ``X * scale_``, with the dtype (float32 or float64) of X.

        Raises
        ------
        ValueError
            If ``X * scale_`` overflows the dtype of X.
        """
        check_is_fitted(self)
        X = validate_data(
            self, X, accept_sparse=("csr", "csc"), dtype=FLOAT_DTYPES, reset=False
        )
        return _rescale(X, self.scale_, divide=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


# ------------------------------------------------------------------ factories
@validate_params(
    {
        "kernel": [StrOptions({"rbf", "poly"})],
        "gamma": [
            StrOptions({"median"}),
            Interval(Real, 0, None, closed="neither"),
            None,
        ],
        "degree": [IntegerInterval(Integral, 1, None, closed="left")],
        "coef0": [Interval(Real, None, None, closed="neither")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "max_memory_bytes": [Interval(Real, 0, None, closed="left"), None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_kernel_ridge_baseline(
    kernel="rbf",
    *,
    gamma="median",
    degree=4,
    coef0=1.0,
    alpha=1.0,
    max_memory_bytes=None,
    random_state=None,
):
    """Exact kernel ridge regression on standardised inputs, as a Pipeline.

    The pipeline has four steps, named as :func:`~sklearn.pipeline.make_pipeline`
    would name them::

        kernelmemoryguard      KernelMemoryGuard(method='kernel_ridge')
        standardscaler         StandardScaler()
        medianheuristicscaler  MedianHeuristicScaler() if gamma='median',
                               else 'passthrough'
        kernelridge            KernelRidge(kernel=kernel, ...)

    so that, e.g., ``GridSearchCV(pipe, {"kernelridge__alpha": [...]})`` works.

    Parameters
    ----------
    kernel : {'rbf', 'poly'}, default='rbf'
        ``'rbf'``: ``exp(-gamma ||x - x'||^2)``. ``'poly'``:
        ``(gamma <x, x'> + coef0) ** degree``; degree 4 is the polynomial
        degree of the hierarchical target.
    gamma : 'median', float or None, default='median'
        ``'median'``: the median heuristic computed on the training data at fit
        time (:class:`MedianHeuristicScaler`): inputs are divided by
        ``sqrt(m)``, ``m`` the median squared pairwise distance of the
        standardised training rows, and the kernel uses ``gamma=1``. The RBF
        kernel is then ``exp(-||x - x'||^2 / m)`` and the polynomial kernel
        ``(<x, x'> / m + coef0) ** degree``, on standardised ``x``. For
        standardised Gaussian inputs ``m`` is close to ``2 n_features``, so for
        'poly' this is about half of scikit-learn's default ``1 / n_features``;
        it is used for 'poly' too so that the kernel is the same as that of
        ``make_random_features_baseline(method='poly_sketch')`` (whose
        :class:`~sklearn.kernel_approximation.PolynomialCountSketch` has no
        ``1 / n_features`` option). With 'median', ``kernelridge__gamma`` is a
        multiplier of the heuristic. A float is used as is on the standardised
        inputs; None means ``1 / n_features`` (scikit-learn's default).
    degree : int, default=4
        Degree of the polynomial kernel. Ignored by 'rbf'.
    coef0 : float, default=1.0
        Constant term of the polynomial kernel. Ignored by 'rbf'.
    alpha : float, default=1.0
        Ridge penalty of :class:`~sklearn.kernel_ridge.KernelRidge`
        (scikit-learn's default). A small penalty makes the exact fit
        interpolate: on the default target (d = 30, n = 4,000) the test NMSE
        was 0.905 with 1.0 and 1.12, worse than the mean, with 1e-3.
    max_memory_bytes : float, default=None
        Memory budget of the :class:`KernelMemoryGuard`; None reads the memory
        available at fit time.
    random_state : int, RandomState instance or None, default=None
        Seeds the subsample of :class:`MedianHeuristicScaler` when there are
        more than 2000 training rows.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        The unfitted pipeline. Its fit raises :class:`MemoryBudgetError` before
        allocating the ``n x n`` kernel matrix (about 27.5 bytes per entry
        with the solver's copies) when it would not fit in memory.

    See Also
    --------
    make_random_features_baseline : Approximate kernel ridge, with memory
        ``O(n_samples * n_components)``.
    MedianHeuristicScaler : The ``gamma='median'`` step.
    KernelMemoryGuard : The memory check.
    sklearn.kernel_ridge.KernelRidge : The regressor.

    References
    ----------
    .. [1] B. Schölkopf and A. J. Smola, "Learning with Kernels", MIT Press,
       2002.
    .. [2] K. P. Murphy, "Machine Learning: A Probabilistic Perspective", MIT
       Press, 2012, chapter 14.4.3.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_hierspectral._baselines import make_kernel_ridge_baseline
    >>> rng = np.random.RandomState(0)
    >>> X = rng.standard_normal((300, 3))
    >>> y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2]
    >>> # A noiseless smooth target wants a small penalty, not the default.
    >>> model = make_kernel_ridge_baseline(alpha=1e-3)
    >>> print(*model.named_steps)
    kernelmemoryguard standardscaler medianheuristicscaler kernelridge
    >>> X_test = rng.standard_normal((200, 3))
    >>> y_test = np.sin(X_test[:, 0]) + X_test[:, 1] * X_test[:, 2]
    >>> r2 = model.fit(X, y).score(X_test, y_test)
    >>> bool(r2 > 0.9)
    True
    """
    if gamma == "median":
        median_step = MedianHeuristicScaler(random_state=random_state)
        kernel_gamma = 1.0
    else:
        median_step = "passthrough"
        kernel_gamma = None if gamma is None else float(gamma)
    return Pipeline(
        [
            (
                "kernelmemoryguard",
                KernelMemoryGuard(
                    method="kernel_ridge", max_memory_bytes=max_memory_bytes
                ),
            ),
            ("standardscaler", StandardScaler()),
            ("medianheuristicscaler", median_step),
            (
                "kernelridge",
                KernelRidge(
                    alpha=alpha,
                    kernel=kernel,
                    gamma=kernel_gamma,
                    degree=degree,
                    coef0=coef0,
                ),
            ),
        ]
    )


_FEATURE_STEPS = {
    "rff": "rbfsampler",
    "nystroem": "nystroem",
    "poly_sketch": "polynomialcountsketch",
}


@validate_params(
    {
        "method": [StrOptions(set(_FEATURE_STEPS))],
        "n_components": [IntegerInterval(Integral, 1, None, closed="left")],
        "gamma": [StrOptions({"median"}), Interval(Real, 0, None, closed="neither")],
        "degree": [IntegerInterval(Integral, 1, None, closed="left")],
        "coef0": [Interval(Real, None, None, closed="neither")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "max_memory_bytes": [Interval(Real, 0, None, closed="left"), None],
    },
    prefer_skip_nested_validation=True,
)
def make_random_features_baseline(
    method="rff",
    *,
    n_components=1000,
    gamma="median",
    degree=4,
    coef0=1.0,
    alpha=1e-3,
    random_state=None,
    max_memory_bytes=None,
):
    """Ridge regression on random kernel features of standardised inputs.

    The pipeline has five steps, named as :func:`~sklearn.pipeline.make_pipeline`
    would name them::

        kernelmemoryguard      KernelMemoryGuard(method=method, ...)
        standardscaler         StandardScaler()
        medianheuristicscaler  MedianHeuristicScaler() if gamma='median',
                               else 'passthrough'
        <feature map>          'rbfsampler':  RBFSampler        (method='rff')
                               'nystroem':    Nystroem(kernel='rbf')
                               'polynomialcountsketch':
                                              PolynomialCountSketch
                                              (method='poly_sketch')
        ridge                  Ridge(alpha=alpha)

    e.g. ``GridSearchCV(pipe, {"ridge__alpha": [...],
    "rbfsampler__n_components": [...]})``. If you change ``n_components`` or
    ``degree`` of the feature map by ``set_params``, set the same value on
    ``kernelmemoryguard`` so that its memory estimate follows.

    Parameters
    ----------
    method : {'rff', 'nystroem', 'poly_sketch'}, default='rff'
        ``'rff'``: random Fourier features of the RBF kernel
        (:class:`~sklearn.kernel_approximation.RBFSampler`). ``'nystroem'``:
        Nystroem approximation of the RBF kernel on ``n_components`` training
        rows (:class:`~sklearn.kernel_approximation.Nystroem`). ``'poly_sketch'``:
        tensor sketch of the polynomial kernel
        ``(gamma <x, x'> + coef0) ** degree``
        (:class:`~sklearn.kernel_approximation.PolynomialCountSketch`).
    n_components : int, default=1000
        Number of random features (landmarks for Nystroem, which uses at most
        as many as there are training samples).
    gamma : 'median' or float, default='median'
        ``'median'``: the median heuristic computed on the training data at fit
        time (:class:`MedianHeuristicScaler`); the inputs are divided by
        ``sqrt(m)``, ``m`` the median squared pairwise distance of the
        standardised training rows, and the feature map uses ``gamma=1``, so it
        approximates ``exp(-||x - x'||^2 / m)`` ('rff', 'nystroem') or
        ``(<x, x'> / m + coef0) ** degree`` ('poly_sketch'): the kernels of
        :func:`make_kernel_ridge_baseline` with the same arguments. A float is
        the kernel's ``gamma`` on the standardised inputs.
    degree : int, default=4
        Degree of the polynomial kernel ('poly_sketch' only).
    coef0 : float, default=1.0
        Constant term of the polynomial kernel ('poly_sketch' only; >= 0,
        since the sketch uses its square root).
    alpha : float, default=1e-3
        Penalty of the :class:`~sklearn.linear_model.Ridge` readout.
    random_state : int, RandomState instance or None, default=None
        Seeds the random features and the subsample of
        :class:`MedianHeuristicScaler`. Pass an int for reproducible results.
    max_memory_bytes : float, default=None
        Memory budget of the :class:`KernelMemoryGuard`; None reads the memory
        available at fit time.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        The unfitted pipeline. Its fit raises :class:`MemoryBudgetError` before
        allocating the ``n x n_components`` feature matrix when it (with the
        copies made of it) would not fit in memory.

    See Also
    --------
    make_kernel_ridge_baseline : The exact kernel method these approximate.
    MedianHeuristicScaler : The ``gamma='median'`` step.
    KernelMemoryGuard : The memory check.

    References
    ----------
    .. [1] A. Rahimi and B. Recht, "Random Features for Large-Scale Kernel
       Machines", Advances in Neural Information Processing Systems 20, 2007.
    .. [2] C. K. I. Williams and M. Seeger, "Using the Nystroem method to speed
       up kernel machines", Advances in Neural Information Processing Systems
       13, 2001.
    .. [3] N. Pham and R. Pagh, "Fast and scalable polynomial kernels via
       explicit feature maps", KDD 2013.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_hierspectral._baselines import make_random_features_baseline
    >>> rng = np.random.RandomState(0)
    >>> X = rng.standard_normal((500, 3))
    >>> y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2]
    >>> model = make_random_features_baseline(
    ...     "nystroem", n_components=200, random_state=0)
    >>> print(*model.named_steps)
    kernelmemoryguard standardscaler medianheuristicscaler nystroem ridge
    >>> X_test = rng.standard_normal((200, 3))
    >>> y_test = np.sin(X_test[:, 0]) + X_test[:, 1] * X_test[:, 2]
    >>> r2 = model.fit(X, y).score(X_test, y_test)
    >>> bool(r2 > 0.9)
    True
    """
    if method == "poly_sketch" and coef0 < 0:
        # The count sketch appends sqrt(coef0) as a feature: NaN for coef0 < 0,
        # which Ridge then reported as NaN in the user's X.
        raise ValueError(
            f"coef0 must be >= 0 for method='poly_sketch' (the sketch uses "
            f"sqrt(coef0)); got {coef0}."
        )
    if gamma == "median":
        median_step = MedianHeuristicScaler(random_state=random_state)
        map_gamma = 1.0
    else:
        median_step = "passthrough"
        map_gamma = float(gamma)
    if method == "rff":
        feature_map = RBFSampler(
            gamma=map_gamma, n_components=n_components, random_state=random_state
        )
    elif method == "nystroem":
        feature_map = Nystroem(
            kernel="rbf",
            gamma=map_gamma,
            n_components=n_components,
            random_state=random_state,
        )
    else:
        feature_map = PolynomialCountSketch(
            gamma=map_gamma,
            degree=degree,
            coef0=coef0,
            n_components=n_components,
            random_state=random_state,
        )
    return Pipeline(
        [
            (
                "kernelmemoryguard",
                KernelMemoryGuard(
                    method=method,
                    n_components=n_components,
                    degree=degree,
                    max_memory_bytes=max_memory_bytes,
                ),
            ),
            ("standardscaler", StandardScaler()),
            ("medianheuristicscaler", median_step),
            (_FEATURE_STEPS[method], feature_map),
            ("ridge", Ridge(alpha=alpha)),
        ]
    )
