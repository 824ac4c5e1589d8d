"""Degree-2 Hermite features and the symmetric-matrix <-> vector isometry.

Conventions (SPEC section 2). For ``x`` in ``R^d`` the degree-2 Hermite feature
map ``Z(x)`` lives in ``R^D`` with ``D = d (d + 1) / 2`` and is ordered row by
row over the upper triangle ``(i, j), i <= j``:

* ``Z_ii = (x_i^2 - 1) / sqrt(2)``
* ``Z_ij = x_i x_j`` for ``i < j``.

Under ``x ~ N(0, I_d)`` the coordinates of ``Z`` are centred, have unit variance
and are uncorrelated. A symmetric matrix ``A`` is mapped to the vector ``a``
with ``a_ii = A_ii`` and ``a_ij = sqrt(2) A_ij``, so that
``<a, Z(x)> = (x^T A x - tr A) / sqrt(2)`` and ``||a|| = ||A||_F``.

This module only imports numpy: it is the bottom floor of the package.
"""

import numpy as np

_INV_SQRT2 = 1.0 / np.sqrt(2.0)
_SQRT2 = np.sqrt(2.0)


def n_hermite_features(n_features):
    """Number ``D = d (d + 1) / 2`` of degree-2 Hermite features of ``d`` inputs."""
    return n_features * (n_features + 1) // 2


def hermite_features(X, *, out=None, row_scale=None):
    """Degree-2 Hermite features ``Z(x)`` of each row of ``X``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, d)
        Inputs, assumed standardised.
    out : ndarray of shape (n_samples, D), default=None
        Buffer to write into; reused across batches by the passes so that no
        memory is allocated per batch.
    row_scale : ndarray of shape (n_samples,), default=None
        If given, row ``mu`` of the result is multiplied by ``row_scale[mu]``;
        fused into the construction so it costs no extra pass over memory.

    Returns
    -------
    Z : ndarray of shape (n_samples, D)
    """
    n_samples, d = X.shape
    if out is None:
        out = np.empty((n_samples, n_hermite_features(d)), dtype=X.dtype)
    if row_scale is None:
        left = X
    else:
        left = X * row_scale[:, None]
    # One contiguous column block per row i of the upper triangle: d vectorised
    # products instead of a fancy-indexed gather, which is several times slower.
    offset = 0
    for i in range(d):
        width = d - i
        block = out[:, offset : offset + width]
        np.multiply(left[:, i : i + 1], X[:, i:], out=block)
        if row_scale is None:
            block[:, 0] -= 1.0
        else:
            block[:, 0] -= row_scale
        block[:, 0] *= _INV_SQRT2
        offset += width
    return out


def hermite_features_t(XT, *, out=None, row_scale=None):
    """Transposed degree-2 Hermite features: ``Z(X)^T``, of shape ``(D, n)``.

    The layout the passes use: each feature is a contiguous row, written by
    one vectorised product of two contiguous rows of ``XT``, about five
    times faster than the row-major :func:`hermite_features`, and its
    transpose is the Fortran-ordered ``n x D`` matrix that BLAS ``syrk``
    and ``gemm`` read without a copy.

    Parameters
    ----------
    XT : ndarray of shape (d, n_samples), C-contiguous
        Transposed standardised inputs.
    out : ndarray of shape (D, n_samples), default=None
        C-contiguous buffer to write into.
    row_scale : ndarray of shape (n_samples,), default=None
        If given, sample ``mu`` (column ``mu``) is multiplied by
        ``row_scale[mu]``, fused into the construction.

    Returns
    -------
    ZT : ndarray of shape (D, n_samples)
    """
    d, n_samples = XT.shape
    if out is None:
        out = np.empty((n_hermite_features(d), n_samples), dtype=XT.dtype)
    left = XT if row_scale is None else XT * row_scale
    inv_sqrt2 = out.dtype.type(_INV_SQRT2)
    offset = 0
    for i in range(d):
        width = d - i
        block = out[offset : offset + width]
        np.multiply(left[i : i + 1], XT[i:], out=block)
        if row_scale is None:
            block[0] -= 1.0
        else:
            block[0] -= row_scale
        block[0] *= inv_sqrt2
        offset += width
    return out


def low_degree_design_t(XT, out):
    """Transposed ``[1, x, Z(x)]`` of a batch, written into ``out`` (C order)."""
    d = XT.shape[0]
    out[0] = 1.0
    out[1 : 1 + d] = XT
    hermite_features_t(XT, out=out[1 + d :])
    return out


def _triu_weights(d, dtype=np.float64):
    """Per-coordinate factor mapping matrix entries to vector entries."""
    rows, cols = np.triu_indices(d)
    weights = np.where(rows == cols, 1.0, _SQRT2).astype(dtype)
    return rows, cols, weights


def sym_to_vec(matrices):
    """Map symmetric matrices to vectors isometrically (Frobenius -> Euclidean).

    Parameters
    ----------
    matrices : ndarray of shape (..., d, d)

    Returns
    -------
    vectors : ndarray of shape (..., D)
    """
    matrices = np.asarray(matrices)
    d = matrices.shape[-1]
    rows, cols, weights = _triu_weights(d, matrices.dtype)
    sym = 0.5 * (matrices + np.swapaxes(matrices, -1, -2))
    return sym[..., rows, cols] * weights


def vec_to_sym(vectors, n_features=None):
    """Inverse of :func:`sym_to_vec`.

    Parameters
    ----------
    vectors : ndarray of shape (..., D)
    n_features : int, default=None
        ``d``; inferred from ``D`` when not given.

    Returns
    -------
    matrices : ndarray of shape (..., d, d), symmetric
    """
    vectors = np.asarray(vectors)
    D = vectors.shape[-1]
    if n_features is None:
        n_features = int(round((np.sqrt(8 * D + 1) - 1) / 2))
    if n_hermite_features(n_features) != D:
        raise ValueError(
            f"A vector of length {D} is not the upper triangle of a square "
            "symmetric matrix."
        )
    rows, cols, weights = _triu_weights(n_features, vectors.dtype)
    out = np.zeros(vectors.shape[:-1] + (n_features, n_features), dtype=vectors.dtype)
    values = vectors / weights
    out[..., rows, cols] = values
    out[..., cols, rows] = values
    return out


def quadratic_features(X, matrices):
    """``h_k(x) = (x^T A_k x - tr A_k) / sqrt(2)`` for each row and matrix.

    One BLAS-3 product ``X @ [A_1 ... A_k]`` followed by a contraction with
    ``X``; the cost is ``O(n d^2 k)`` with ``O(n d k)`` temporary memory, so the
    caller batches over rows.

    Parameters
    ----------
    X : ndarray of shape (n_samples, d)
    matrices : ndarray of shape (k, d, d), symmetric

    Returns
    -------
    H : ndarray of shape (n_samples, k)
    """
    n_samples, d = X.shape
    k = matrices.shape[0]
    if k == 0:
        return np.zeros((n_samples, 0), dtype=X.dtype)
    stacked = np.ascontiguousarray(np.transpose(matrices, (1, 0, 2))).reshape(d, k * d)
    XA = (X @ stacked).reshape(n_samples, k, d)
    quad = np.einsum("nkd,nd->nk", XA, X, optimize=False)
    traces = np.trace(matrices, axis1=1, axis2=2)
    # Cast the constant: a numpy float64 scalar would promote float32 to float64.
    return (quad - traces) * quad.dtype.type(_INV_SQRT2)


def low_degree_design(Xpre, out):
    """``[1, x, Z(x)]`` of a batch, written into ``out``."""
    d = Xpre.shape[1]
    out[:, 0] = 1.0
    out[:, 1 : 1 + d] = Xpre
    hermite_features(Xpre, out=out[:, 1 + d :])
    return out


def low_degree_part(Xpre, coef):
    """Degree <= 2 part ``c_0 + <c_x, x> + <c_Z, Z(x)>`` without forming ``Z``."""
    d = Xpre.shape[1]
    B = vec_to_sym(coef[1 + d :], d)
    quad = quadratic_features(Xpre, B[None])[:, 0]
    return coef[0] + Xpre @ coef[1 : 1 + d] + quad
