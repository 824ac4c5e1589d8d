"""Passes over samples: batches in, small additive statistics out.

Every sum over samples in the package goes through these helpers, so that
batching (bounded memory), the BLAS-3 kernels and the preprocessing of a batch
are written once.
"""

from dataclasses import dataclass

import numpy as np
from scipy.linalg.blas import dsyrk, ssyrk

from ._hermite import hermite_features

# Target size of the per-batch feature buffer: large enough for BLAS-3 to run
# at full speed, small enough to stay near the cache and bound memory.
_BUFFER_BYTES = 2**23
_MIN_BATCH = 64
_MAX_BATCH = 8192


def resolve_batch_size(batch_size, row_floats, itemsize=8):
    """Rows per batch: ``batch_size`` or one sized for a ~16 MB buffer."""
    if batch_size is not None:
        return int(batch_size)
    rows = _BUFFER_BYTES // max(1, row_floats * itemsize)
    return int(np.clip(rows, _MIN_BATCH, _MAX_BATCH))


def batch_slices(n_samples, batch_size):
    """Consecutive slices covering ``range(n_samples)``."""
    for start in range(0, n_samples, batch_size):
        yield slice(start, min(start + batch_size, n_samples))


@dataclass
class Standardizer:
    """Affine map from raw inputs to the learner's coordinates.

    ``x_pre = (x - mean) @ matrix`` when ``matrix`` is given (full whitening),
    else ``(x - mean) / scale`` column by column.
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


def column_moments(X, batch_size):
    """Column means and (population) covariance or variances of ``X``, batched.

    Returns the mean and the full covariance matrix; a two-pass algorithm
    (mean first, then centred products) so that large offsets do not cancel.
    """
    n_samples, n_features = X.shape
    total = np.zeros(n_features)
    for rows in batch_slices(n_samples, batch_size):
        total += np.asarray(X[rows], dtype=np.float64).sum(axis=0)
    mean = total / n_samples
    cov = np.zeros((n_features, n_features))
    for rows in batch_slices(n_samples, batch_size):
        centred = np.asarray(X[rows], dtype=np.float64) - mean
        cov += centred.T @ centred
    return mean, cov / n_samples


def syrk_accumulate(acc, rows, scale=1.0):
    """``acc += scale * rows^T rows`` on the upper triangle (BLAS syrk).

    ``acc`` must be Fortran-ordered; only its upper triangle is meaningful
    until :func:`symmetrize_upper` is called. Half the flops of a general
    product, and no temporary D x D matrix.
    """
    if rows.shape[0] == 0:
        return acc
    kernel = dsyrk if acc.dtype == np.float64 else ssyrk
    return kernel(scale, rows.T, beta=1.0, c=acc, trans=0, lower=0, overwrite_c=1)


def symmetrize_upper(acc):
    """Full symmetric matrix from the upper triangle of ``acc``."""
    upper = np.triu(acc)
    return upper + np.triu(upper, 1).T


def sort_by_group(keys, n_keys):
    """Row order grouping equal keys, and the bounds of each key's rows.

    Returns ``order`` and ``bounds`` (length ``n_keys + 1``): the rows with key
    ``g`` are ``order[bounds[g]:bounds[g + 1]]``.
    """
    order = np.argsort(keys, kind="stable")
    bounds = np.searchsorted(keys[order], np.arange(n_keys + 1))
    return order, bounds


def grouped_gram(rows, groups, accumulators):
    """``accumulators[g] += rows_g^T rows_g`` for the rows of each group ``g``."""
    if groups is None:
        syrk_accumulate(accumulators[0], rows)
        return
    order, bounds = sort_by_group(groups, len(accumulators))
    ordered = rows[order]
    for group, acc in enumerate(accumulators):
        syrk_accumulate(acc, ordered[bounds[group] : bounds[group + 1]])


def weighted_hermite_gram(Xpre, weights, buffer, accumulators, groups=None):
    """Add ``sum_mu w_mu Z_mu Z_mu^T`` of a batch to per-group accumulators.

    Signed weights are split by sign so that both halves are symmetric
    rank-k updates of ``sqrt|w| Z``: the weight is fused into the construction
    of the Hermite features, and the whole update costs half a general matrix
    product.

    Parameters
    ----------
    Xpre : ndarray of shape (b, d)
        Preprocessed inputs of the batch.
    weights : ndarray of shape (b,)
    buffer : ndarray of shape (>= b, D)
        Scratch space for the weighted features.
    accumulators : list of ndarray of shape (D, D), Fortran-ordered
        One per group; updated in place (upper triangles).
    groups : ndarray of shape (b,) of int, default=None
        Group (fold) of each row; all rows in group 0 when None.
    """
    negative = (weights < 0).astype(np.intp)
    keys = negative if groups is None else 2 * groups.astype(np.intp) + negative
    order, bounds = sort_by_group(keys, 2 * len(accumulators))
    W = hermite_features(
        Xpre[order],
        out=buffer[: Xpre.shape[0]],
        row_scale=np.sqrt(np.abs(weights[order])),
    )
    for group, acc in enumerate(accumulators):
        start, middle, stop = bounds[2 * group : 2 * group + 3]
        syrk_accumulate(acc, W[start:middle], 1.0)
        syrk_accumulate(acc, W[middle:stop], -1.0)
