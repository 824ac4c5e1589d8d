"""Block Krylov eigensolver for the largest-magnitude eigenpairs of an operator.

The operator is only available through block products (one pass over the
samples each), so the solver keeps every product it asks for and projects
exactly: with ``V`` the orthonormal Krylov basis and ``W = C V`` the stored
products, the Rayleigh-Ritz matrix is ``V^T W``. No three-term recurrence,
hence no loss of orthogonality to repair; memory is ``2 D x (block x iters)``.
"""

from dataclasses import dataclass

import numpy as np
from scipy import linalg


@dataclass
class KrylovResult:
    """Ritz pairs by decreasing ``|value|`` and how they were obtained."""

    values: np.ndarray
    vectors: np.ndarray  # (D, n_keep)
    residuals: np.ndarray  # ||C v - value v|| per pair
    n_products: int  # block products (passes) used
    block_size: int
    converged: bool
    basis: np.ndarray  # (D, m) orthonormal Krylov basis
    projected: np.ndarray  # (m, m) V^T C V
    trace_sq: float  # Hutchinson estimate of tr(C^2) from the random first block


def _orthonormalize_against(block, basis):
    """Columns of ``block`` made orthonormal and orthogonal to ``basis``."""
    for _ in range(2):  # twice is enough (Kahan-Parlett)
        if basis is not None and basis.shape[1]:
            block = block - basis @ (basis.T @ block)
    q, r = linalg.qr(block, mode="economic")
    # Drop directions that were (numerically) already in the basis.
    keep = np.abs(np.diag(r)) > 1e-10 * max(np.abs(np.diag(r)).max(initial=0.0), 1e-300)
    return q[:, keep]


def symmetric_eigh(matrix):
    """All eigenpairs of a symmetric matrix: divide and conquer (``syevd``),
    falling back to the QR algorithm (``syev``) if it fails to converge."""
    try:
        return linalg.eigh(matrix, check_finite=False, driver="evd")
    except linalg.LinAlgError:
        return linalg.eigh(matrix, check_finite=False, driver="ev")


def block_krylov_eigsh(
    apply, dimension, n_keep, *, block_size=None, max_products=30, tol=1e-4, random_state
):
    """Largest-|value| eigenpairs of a symmetric operator given by block products.

    Parameters
    ----------
    apply : callable
        ``apply(V)`` returns ``C V`` for a ``(dimension, b)`` block ``V``.
    dimension : int
    n_keep : int
        Number of eigenpairs wanted.
    block_size : int, default=None
        Columns per product; ``n_keep + 10`` by default.
    max_products : int, default=30
        Largest number of block products (passes over the data).
    tol : float, default=1e-4
        Converged when every kept pair has ``||C v - value v|| <= tol * |value_1|``.
    random_state : numpy Generator or RandomState

    Returns
    -------
    KrylovResult
    """
    n_keep = min(n_keep, dimension)
    block_size = min(dimension, block_size or n_keep + 10)
    start = random_state.standard_normal((dimension, block_size))
    block = _orthonormalize_against(start, None)
    bases, products = [], []
    converged = False
    values = vectors = residuals = None
    for _ in range(max_products):
        bases.append(block)
        products.append(apply(block))
        V = np.hstack(bases)
        W = np.hstack(products)
        T = V.T @ W
        T = 0.5 * (T + T.T)
        theta, y = symmetric_eigh(T)
        order = np.argsort(-np.abs(theta), kind="stable")[:n_keep]
        values, coords = theta[order], y[:, order]
        vectors = V @ coords
        residuals = np.linalg.norm(W @ coords - vectors * values, axis=0)
        scale = max(abs(values[0]), np.finfo(float).tiny) if values.size else 1.0
        if V.shape[1] >= dimension or np.all(residuals <= tol * scale):
            converged = True
            break
        # Expand the Krylov space with the newest products.
        block = _orthonormalize_against(products[-1], V)
        if block.shape[1] == 0:
            converged = True
            break
    V = np.hstack(bases)
    T = V.T @ np.hstack(products)
    # Columns of the first block are uniform on the sphere: E||C q||^2 = tr(C^2) / D.
    trace_sq = dimension * float(np.mean(np.sum(products[0] ** 2, axis=0)))
    return KrylovResult(
        values=values,
        vectors=vectors,
        residuals=residuals,
        n_products=len(products),
        block_size=block_size,
        converged=converged,
        basis=V,
        projected=0.5 * (T + T.T),
        trace_sq=trace_sq,
    )
