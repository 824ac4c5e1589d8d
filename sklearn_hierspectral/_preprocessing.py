"""Preprocessing of inputs and target: batched moments, standardisation.

The learner works in standardised coordinates (SPEC section 3, item 0): each
column centred and scaled (or the inputs fully whitened), and the target
centred and scaled. The statistics come from batched passes, so that they
work on data larger than memory and on Dask arrays.
"""

from dataclasses import dataclass

import numpy as np
from scipy import linalg

from ._passes import run_pass


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
    """Column means and (population) covariance of ``X``, in two passes.

    The mean first, then centred products, so that large offsets do not
    cancel.
    """
    n_features = X.shape[1]

    def add_sum(stats, start, X_batch):
        stats[0] += np.asarray(X_batch, dtype=np.float64).sum(axis=0)

    total = run_pass([X], add_sum, lambda: [np.zeros(n_features)], batch_size)[0]
    mean = total / X.shape[0]

    def add_products(stats, start, X_batch):
        centred = np.asarray(X_batch, dtype=np.float64) - mean
        stats[0] += centred.T @ centred

    cov = run_pass([X], add_products, lambda: [np.zeros((n_features,) * 2)], batch_size)[0]
    return mean, cov / X.shape[0]


def vector_moments(y, batch_size):
    """Mean and (population) standard deviation of a vector, in two passes."""

    def add_sum(stats, start, y_batch):
        stats[0] += float(np.sum(y_batch, dtype=np.float64))

    mean = run_pass([y], add_sum, lambda: [0.0], batch_size)[0] / y.shape[0]

    def add_squares(stats, start, y_batch):
        stats[0] += float(np.sum((np.asarray(y_batch, dtype=np.float64) - mean) ** 2))

    variance = run_pass([y], add_squares, lambda: [0.0], batch_size)[0] / y.shape[0]
    return mean, float(np.sqrt(variance))


def make_standardizer(X, whiten, batch_size):
    """Centre and scale (or whiten) from batched moments; constant columns kept."""
    mean, cov = column_moments(X, batch_size)
    variances = np.diag(cov).copy()
    tiny = np.finfo(np.float64).eps * max(1.0, float(np.max(np.abs(mean), initial=0.0)) ** 2)
    if not whiten:
        scale = np.sqrt(variances)
        scale[variances <= tiny] = 1.0
        return Standardizer(mean=mean, scale=scale)
    eigvals, eigvecs = linalg.eigh(cov)
    floor = max(eigvals.max(initial=0.0), 0.0) * 1e-12 + tiny
    inv_sqrt = np.where(eigvals > floor, 1.0 / np.sqrt(np.maximum(eigvals, floor)), 0.0)
    matrix = (eigvecs * inv_sqrt) @ eigvecs.T
    return Standardizer(mean=mean, scale=np.sqrt(np.maximum(variances, tiny)), matrix=matrix)


def target_scaling(y, batch_size):
    """Mean and scale of the target; scale 1 for a constant target."""
    y_mean, y_scale = vector_moments(y, batch_size)
    if not np.isfinite(y_scale) or y_scale <= np.finfo(np.float64).eps * max(1.0, abs(y_mean)):
        y_scale = 1.0
    return y_mean, y_scale
