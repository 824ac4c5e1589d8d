"""Layer 1 of the hierarchical spectral learner (SPEC section 3, items 0-4).

The fit is a few passes over the samples, each a sum of BLAS-3 products over
batches (:func:`~sklearn_hierspectral._passes.run_pass`, in memory or on
Dask chunks):

1. moments of ``X`` and ``y`` (preprocessing);
2. the Gram matrix of ``[1, x, Z(x)]`` and its product with ``y``, per fold:
   the low-degree (degree <= 2 Hermite) part of the target, removed by ridge
   least squares with a cross-validated penalty ("deflation");
3. the spectral matrix ``C = (1/n) sum r (Z Z^T - I)`` of the residual ``r``,
   accumulated per cross-validation fold so that layer 1 can be refitted
   without each fold at no extra cost;
4. under ``n_components='auto'``, one pass training every fold's readout and
   one scoring it on the held-out fold.

Between passes: a finite-size correction and an eigendecomposition rank the
components by ``|eigenvalue|``. Folds and subsamples are drawn per row from
the row index (:func:`~sklearn_hierspectral._passes.row_uniforms`), so the
fit does not depend on how the rows are batched or chunked.
"""

from dataclasses import dataclass

import numpy as np
from scipy import linalg
from sklearn.utils import check_random_state

from ._hermite import (
    low_degree_design_t,
    low_degree_part,
    n_hermite_features,
    quadratic_features,
    sym_to_vec,
    vec_to_sym,
)
from ._memory import available_memory_bytes, check_allocation
from ._preprocessing import Standardizer, make_standardizer, target_scaling
from ._passes import (
    map_in_threads,
    resolve_batch_size,
    row_uniforms,
    run_pass,
    single_blas_thread,
    sort_by_group,
    symmetrize_upper,
    syrk_accumulate_columns,
    weighted_hermite_gram,
)
from ._krylov import block_krylov_eigsh, symmetric_eigh
from ._layer2 import CV_READOUT_MAX_SAMPLES, cross_validated_errors, readout_statistics
from ._readout import CalibrationAccumulator, ReadoutAccumulator, path_predictions



@dataclass
class BatchPreparer:
    """Turns a raw batch into what every pass needs; small and picklable, so
    that Dask workers get it without the data."""

    standardizer: Standardizer
    y_mean: float
    y_scale: float
    low_coef: np.ndarray
    n_folds: int
    fold_seed: int
    # Precision of the heavy products within a batch (sums across batches
    # are float64): float32 for precision='mixed', float64 for 'double'.
    product_dtype: type = np.float64

    def __call__(self, start, X_batch, y_batch):
        # float32 input stays float32 through the heavy products (measured:
        # components agree with the float64 fit to cos^2 > 0.9999).
        dtype = np.float32 if X_batch.dtype == np.float32 else np.float64
        Xpre = self.standardizer.apply(X_batch, dtype)
        y_scaled = (np.asarray(y_batch, dtype=np.float64) - self.y_mean) / self.y_scale
        residual = y_scaled
        if self.low_coef is not None:
            residual = y_scaled - low_degree_part(Xpre, self.low_coef)
        folds = (row_uniforms(start, Xpre.shape[0], self.fold_seed) * self.n_folds).astype(
            np.intp
        )
        return Xpre, y_scaled, residual, folds


class Samples:
    """The training data with the preprocessing learned so far.

    ``run(batch_fn, init_fn)`` is one pass: ``batch_fn(stats, start, Xpre,
    y_scaled, residual, folds)`` sees preprocessed batches.
    """

    def __init__(self, X, y, batch_size, preparer):
        self.X = X
        self.y = y
        self.batch_size = batch_size
        self.preparer = preparer

    @property
    def n_samples(self):
        return self.X.shape[0]

    @property
    def n_features(self):
        return self.X.shape[1]

    def run(self, batch_fn, init_fn):
        preparer = self.preparer

        def on_batch(stats, start, X_batch, y_batch):
            batch_fn(stats, start, *preparer(start, X_batch, y_batch))

        return run_pass([self.X, self.y], on_batch, init_fn, self.batch_size)


@dataclass
class Layer1Fit:
    """What layer 1 learned; the estimators copy it into fitted attributes."""

    samples: Samples  # the data and preprocessing, for the regressor's passes
    deflation: str
    solver: str
    low_degree_penalty: float  # ridge penalty chosen by cross-validation
    low_degree_gram: np.ndarray  # per-sample Gram of [1, x, Z] (least squares)
    low_degree_rhs: np.ndarray  # per-sample [1, x, Z]^T y (least squares)
    spectrum: np.ndarray  # all eigenvalues of C, by decreasing |value|
    eigenvectors: np.ndarray  # (D, n_kept) columns, same order
    n_components: int
    noise_edge: float
    cv_errors: np.ndarray  # (max_components + 1,) or None
    cv_errors_se: np.ndarray
    readout_statistics: dict = None  # final design statistics (see _layer2)
    n_iter: int = None  # block products of the matrix-free solver

    @property
    def standardizer(self):
        return self.samples.preparer.standardizer

    @property
    def y_mean(self):
        return self.samples.preparer.y_mean

    @property
    def y_scale(self):
        return self.samples.preparer.y_scale

    @property
    def low_degree_coef(self):
        return self.samples.preparer.low_coef

    @property
    def components(self):
        d = self.standardizer.mean.shape[0]
        vectors = self.eigenvectors[:, : self.n_components].T
        return vec_to_sym(vectors, d)


#: Largest memory the dense matrices (spectral or low-degree Gram) may take
#: before 'auto' switches to the matrix-free solver and the moment deflation.
DENSE_BUDGET_BYTES = 2**30


def _dense_budget():
    available = available_memory_bytes()
    if available is None:
        return DENSE_BUDGET_BYTES
    return min(DENSE_BUDGET_BYTES, available / 4)


def resolve_deflation(deflate, n_features, n_folds):
    """'least-squares', 'moment' or 'none' from the user's ``deflate``.

    True means least squares unless its per-fold Gram matrices would exceed
    the dense budget; then the moment estimate, which needs no Gram matrix
    and no ``n x D`` design.
    """
    if deflate is False:
        return "none"
    if deflate is True:
        n_coef = 1 + n_features + n_hermite_features(n_features)
        if 8 * n_coef**2 * (n_folds + 2) > _dense_budget():
            return "moment"
        return "least-squares"
    return deflate


def check_least_squares_deflation_memory(n_features, n_folds):
    """Refuse deflate='least-squares' before allocating its Gram matrices.

    The same count as :func:`resolve_deflation`: the Gram matrix of
    ``[1, x, Z]`` per fold of the joint readout, plus two for its
    eigendecomposition.
    """
    n_coef = 1 + n_features + n_hermite_features(n_features)
    check_allocation(
        8.0 * n_coef**2 * (n_folds + 2),
        "deflate='least-squares'",
        f"it holds Gram matrices of the {n_coef} low-degree features [1, x, Z] of "
        f"d = {n_features} inputs: use deflate='moment' (no Gram matrix) or "
        "deflate=True, which picks it when these do not fit",
    )


def resolve_solver(solver, n_features, n_folds):
    """'dense' or 'matrix-free': 'auto' picks dense when its matrices fit the budget."""
    if solver != "auto":
        return solver
    if dense_memory_bytes(n_features, n_folds) <= _dense_budget():
        return "dense"
    return "matrix-free"


#: Ridge penalties (per sample, on unit-variance features) among which
#: generalised cross-validation picks the one for the low-degree part.
LOW_DEGREE_RIDGE_GRID = np.r_[0.0, np.logspace(-6, 3, 19)]


def fit_low_degree(samples, method):
    """Coefficients of the degree <= 2 Hermite part of the scaled target.

    Least squares with a ridge penalty chosen by generalised
    cross-validation (GCV, the rotation-invariant form of leave-one-out):
    one pass accumulates the Gram matrix of ``[1, x, Z]``, its product with
    ``y`` and ``sum y^2``; one eigendecomposition then gives the training
    error and the effective number of parameters of every penalty of the
    grid. On a target with no low-degree part the penalty grows and the part
    shrinks to zero instead of adding ``(1 + d + D) / n`` of overfitted
    variance.

    Parameters
    ----------
    samples : Samples
        With the standardizer and target scaling set (no ``low_coef`` yet).
    method : {'least-squares', 'moment'}

    Returns
    -------
    coef : ndarray of shape (1 + d + D,)
    penalty : float
        The chosen ridge penalty (0 for the moment estimate).
    gram : ndarray of shape (1 + d + D, 1 + d + D) or None
        Per-sample Gram matrix of ``[1, x, Z]`` (least squares only), kept for
        the regressor's joint final fit.
    rhs : ndarray of shape (1 + d + D,) or None
        Per-sample ``[1, x, Z]^T y`` (least squares only), for the same.
    """
    n_samples, d = samples.n_samples, samples.n_features
    n_coef = 1 + d + n_hermite_features(d)

    if method != "least-squares":

        def add_moments(stats, start, Xpre, y_scaled, residual, folds):
            # (1/n) [1, x, Z]^T y from sum y x x^T: no n x D design is built.
            stats["total"] += y_scaled.sum()
            stats["linear"] += Xpre.T @ y_scaled
            stats["outer"] += (Xpre * y_scaled[:, None]).T @ Xpre

        moments = samples.run(
            add_moments,
            lambda: {"total": 0.0, "linear": np.zeros(d), "outer": np.zeros((d, d))},
        )
        hermite = sym_to_vec((moments["outer"] - moments["total"] * np.eye(d)) / np.sqrt(2.0))
        return np.r_[moments["total"], moments["linear"], hermite] / n_samples, 0.0, None, None

    def init():
        return {"gram": np.zeros((n_coef, n_coef), order="F"), "rhs": np.zeros(n_coef), "y_sq": 0.0}

    def add_batch(stats, start, Xpre, y_scaled, residual, folds):
        XT = np.ascontiguousarray(Xpre.T, dtype=samples.preparer.product_dtype)
        FT = low_degree_design_t(XT, np.empty((n_coef, Xpre.shape[0]), dtype=XT.dtype))
        syrk_accumulate_columns(stats["gram"], FT)
        stats["rhs"] += FT @ y_scaled.astype(FT.dtype, copy=False)
        stats["y_sq"] += float(y_scaled @ y_scaled)

    stats = samples.run(add_batch, init)
    gram = symmetrize_upper(stats["gram"]) / n_samples
    rhs = stats["rhs"] / n_samples
    with single_blas_thread():
        eigvals, eigvecs = symmetric_eigh(gram)
    projected = eigvecs.T @ rhs
    # Below the rounding of the products, a direction of the Gram matrix is
    # numerically null and gets no coefficient.
    relative_floor = 1e-6 if samples.preparer.product_dtype == np.float32 else 1e-10
    denominators = _ridge_denominator(eigvals, relative_floor=relative_floor)
    # Per-sample training error and effective parameters of every penalty.
    shrunk = projected[:, None] / denominators
    train_error = (
        stats["y_sq"] / n_samples
        - 2.0 * projected @ shrunk
        + np.einsum("i,ip->p", eigvals, shrunk**2)
    )
    effective = np.sum(eigvals[:, None] / denominators, axis=0)
    left = np.maximum(1.0 - effective / n_samples, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        gcv = np.where(left > 0, np.maximum(train_error, 0.0) / left**2, np.inf)
    best = int(np.argmin(gcv)) if np.isfinite(gcv).any() else len(gcv) - 1
    penalty = float(LOW_DEGREE_RIDGE_GRID[best])
    coef = eigvecs @ shrunk[:, best]
    return coef, penalty, gram, rhs


def _ridge_denominator(eigvals, penalties=LOW_DEGREE_RIDGE_GRID, relative_floor=1e-10):
    """``eigval + penalty``, floored so that a rank-deficient Gram (duplicated or
    constant columns, fewer samples than coefficients) gets a minimum-norm
    solution instead of a division by zero."""
    floor = relative_floor * max(float(eigvals.max(initial=0.0)), np.finfo(float).tiny)
    kept = eigvals > floor
    denominator = np.maximum(eigvals, floor)[:, None] + penalties[None, :]
    return np.where(kept[:, None], denominator, np.inf)


def dense_memory_bytes(n_features, n_folds):
    """Peak memory of the dense solver beyond the inputs.

    One ``D x D`` accumulator per fold, the spectral matrix, its correction
    and the eigensolver's copies (4 more); the finite-size correction's
    sandwich operator builds a ``(D, d, d)`` basis and two products of that
    size; the least-squares deflation holds the Gram matrix of
    ``[1, x, Z]``, its eigenvectors and the eigensolver's work (4 matrices).
    """
    D = n_hermite_features(n_features)
    n_coef = 1 + n_features + D
    spectral = 8 * D * D * (n_folds + 4)
    sandwich = 3 * 8 * D * n_features * n_features
    deflation = 4 * 8 * n_coef * n_coef
    return spectral + sandwich + deflation


def check_dense_memory(n_features, n_folds):
    D = n_hermite_features(n_features)
    check_allocation(
        dense_memory_bytes(n_features, n_folds),
        f"The dense layer-1 solver ({n_folds} D x D matrices with D = d(d+1)/2 = {D})",
        "reduce n_features (for example with a projection before this step), use an "
        "integer n_components (one matrix instead of one per fold), or run on a "
        "larger machine",
    )


def matrix_free_memory_bytes(n_features, n_folds, block_size):
    """Peak memory of the matrix-free solver beyond the inputs.

    Every block product is kept (the Krylov basis and, per fold, the images
    that score the folds of 'auto'): ``MATRIX_FREE_MAX_PASSES`` blocks of
    ``D x block_size`` vectors, ``n_folds + 2`` copies; each pass also holds
    ``n_folds x block_size`` matrices of ``d x d`` and the ``d x d`` moments
    of the preprocessing.
    """
    D = n_hermite_features(n_features)
    vectors = 8 * D * block_size * MATRIX_FREE_MAX_PASSES * (n_folds + 2)
    blocks = 8 * n_features * n_features * (block_size * (n_folds + 1) + 4)
    return vectors + blocks


def check_matrix_free_memory(n_features, n_folds, block_size):
    check_allocation(
        matrix_free_memory_bytes(n_features, n_folds, block_size),
        f"The matrix-free layer-1 solver (Krylov blocks of D = d(d+1)/2 = "
        f"{n_hermite_features(n_features)}-long vectors, d = {n_features})",
        "reduce n_features (for example with a projection before this step), use a "
        "smaller max_components or an integer n_components, or run on a larger "
        "machine",
    )


def spectral_matrices(samples, n_groups):
    """Per-group sums ``sum r Z Z^T``, ``sum r`` and row counts.

    With one group every row goes to it; with ``n_groups`` equal to the
    number of folds, each row goes to its fold's matrix.
    """
    D = n_hermite_features(samples.n_features)

    def init():
        return {
            "matrices": [np.zeros((D, D), order="F") for _ in range(n_groups)],
            "sums": np.zeros(n_groups),
            "sizes": np.zeros(n_groups),
        }

    def add_batch(stats, start, Xpre, y_scaled, residual, folds):
        groups = None if n_groups == 1 else folds
        Xp = Xpre.astype(samples.preparer.product_dtype, copy=False)
        buffer = np.empty(Xp.shape[0] * D, dtype=Xp.dtype)
        weighted_hermite_gram(Xp, residual, buffer, stats["matrices"], groups)
        if groups is None:
            stats["sums"][0] += residual.sum()
            stats["sizes"][0] += residual.size
        else:
            stats["sums"] += np.bincount(groups, weights=residual, minlength=n_groups)
            stats["sizes"] += np.bincount(groups, minlength=n_groups)

    stats = samples.run(add_batch, init)
    matrices = [symmetrize_upper(acc) for acc in stats["matrices"]]
    return matrices, stats["sums"], stats["sizes"]


def _spectral_matrix(matrix_sum, residual_sum, count):
    C = matrix_sum / count
    C[np.diag_indices_from(C)] -= residual_sum / count
    return C




def ranked_eigh(matrix, n_keep=None):
    """Eigenpairs by decreasing ``|eigenvalue|``, signs fixed deterministically.

    With ``n_keep`` much smaller than the dimension only the ``n_keep``
    eigenpairs at each end of the spectrum are computed (LAPACK ``syevr``
    on an index range), several times cheaper than the full decomposition;
    the largest magnitudes are among them.
    """
    size = matrix.shape[0]
    eigvals = None
    if n_keep is not None and 0 < 4 * n_keep < size:
        try:
            low_vals, low_vecs = linalg.eigh(
                matrix, check_finite=False, driver="evr", subset_by_index=[0, n_keep - 1]
            )
            high_vals, high_vecs = linalg.eigh(
                matrix, check_finite=False, driver="evr",
                subset_by_index=[size - n_keep, size - 1],
            )
            eigvals = np.r_[low_vals, high_vals]
            eigvecs = np.hstack([low_vecs, high_vecs])
        except linalg.LinAlgError:
            # syevr's MRRR can fail ("Internal Error") on degenerate spectra,
            # e.g. a matrix of subnormal entries; the full solver does not.
            eigvals = None
    if eigvals is None:
        eigvals, eigvecs = symmetric_eigh(matrix)
    order = np.argsort(-np.abs(eigvals), kind="stable")
    if n_keep is not None:
        order = order[:n_keep]
    eigvals = eigvals[order]
    eigvecs = eigvecs[:, order]
    # Largest entry of each eigenvector positive, as sklearn's svd_flip does.
    signs = np.sign(eigvecs[np.argmax(np.abs(eigvecs), axis=0), np.arange(eigvecs.shape[1])])
    signs[signs == 0] = 1.0
    return eigvals, eigvecs * signs


def noise_edge(trace_sq, top_values, dimension):
    """Bulk edge ``2 sqrt(mean lambda^2)`` of the spectrum without its top values.

    A semicircle of radius ``R`` has second moment ``R^2 / 4``; the mean is
    taken over the eigenvalues left after removing ``top_values`` (the
    spikes and the candidates for components), from ``tr(C^2)``, which both
    solvers know: exactly for the dense one, by a Hutchinson estimate from
    the random first block for the matrix-free one, so both use the same
    edge. At finite ``d`` the bulk is wider than a pure-noise null; this
    estimate follows it because it is measured on the spectrum itself.
    Measured against the semicircle fit of the median ``|eigenvalue|``:
    0.188 vs 0.181 (d = 30, n = 147,885) and 0.42 vs 0.37 (d = 40,
    n = 30,000). A diagnostic, and the threshold of the finite-size
    correction; components are chosen by cross-validated error.
    """
    top_values = np.asarray(top_values, dtype=float)
    n_top = min(top_values.size, dimension - 1)
    if n_top < 0 or dimension - n_top <= 0:
        return 0.0
    remaining = max(float(trace_sq) - float(np.sum(top_values[:n_top] ** 2)), 0.0)
    return 2.0 * np.sqrt(remaining / (dimension - n_top))


#: A component counts as a genuine spike, whose finite-size operator is then
#: removed, when its |eigenvalue| exceeds this multiple of the noise edge.
SPIKE_EDGE_RATIO = 2.0


def sandwich_operator(A, basis=None):
    """Matrix of ``V -> A V A`` on symmetric matrices (vector form).

    ``D x D`` in the full space, or ``m x m`` in the orthonormal ``basis``
    (``D x m``) of a subspace, where the matrix-free solver works.
    """
    d = A.shape[0]
    if basis is None:
        basis_matrices = vec_to_sym(np.eye(n_hermite_features(d)), d)
        return sym_to_vec(A @ basis_matrices @ A).T
    images = sym_to_vec(A @ vec_to_sym(basis.T, d) @ A)  # (m, D)
    return basis.T @ images.T


def correct_finite_size(C, n_features, max_steps, edge, basis=None, ranked=None):
    """Remove the finite-size operator of each clear spike from ``C``.

    For Gaussian inputs and one latent feature ``r = b (h^2 - 1)`` with its
    degree-2 part deflated, Gaussian fourth cumulants give the population
    spectral operator ``V -> 2 b <A, V> A + 4 b A V A``: besides the spike, the
    term ``4 b A V A`` has eigenvalues ``4 b lambda_i lambda_j`` (eigenvalues of
    ``A`` are of order ``1/sqrt(d)``), a cloud of spurious spikes of order
    ``b / d`` that outranks weaker true directions at moderate ``d`` and mixes
    with them. Each clear spike (``|eigenvalue| > SPIKE_EDGE_RATIO * edge``) is
    taken in turn, strongest first; its weight follows from its eigenvalue
    ``2 b (1 + 2 tr A^4)`` and its operator is subtracted before the next.

    Measured at d = 30, gamma = 1, n = 147,885 (three targets): the cos^2 of
    the third direction with the top five components rose from 0.82-0.88 to
    0.91-0.94, and the fourth direction entered the top five.

    Parameters
    ----------
    C : ndarray of shape (D, D) or (m, m)
        The spectral matrix, or its projection on ``basis``.
    n_features : int
    max_steps : int
    edge : float
        Noise edge of the spectrum.
    basis : ndarray of shape (D, m), default=None
        Orthonormal basis in which ``C`` is expressed (matrix-free solver).

    Returns
    -------
    correction : ndarray, same shape as ``C``
        The operator subtracted (``C - correction`` is the corrected matrix);
        the folds of ``n_components='auto'`` reuse it, since the clear spikes
        are the same with or without one fold.
    n_corrected : int
    """
    correction = np.zeros_like(C)
    for step in range(max_steps):
        if step == 0 and ranked is not None:
            eigvals, eigvecs = ranked
        else:
            eigvals, eigvecs = ranked_eigh(C - correction, step + 1)
        value = eigvals[step]
        if not abs(value) > SPIKE_EDGE_RATIO * edge:
            return correction, step
        vector = eigvecs[:, step] if basis is None else basis @ eigvecs[:, step]
        A = vec_to_sym(vector, n_features)
        A2 = A @ A
        weight = value / (2.0 * (1.0 + 2.0 * np.sum(A2 * A2)))
        correction += 4.0 * weight * sandwich_operator(A, basis)
    return correction, max_steps


def spectral_components(C, n_features, n_keep, correction=True, basis=None, edge=None):
    """Noise edge, finite-size correction, then the ranked eigenpairs.

    Parameters
    ----------
    C : ndarray
        The spectral matrix, or with ``basis`` its projection on that subspace.
    n_features, n_keep : int
    correction : bool or ndarray, default=True
        True finds the finite-size correction (:func:`correct_finite_size`),
        False applies none, an array is subtracted as it is (a fold reusing
        the full data's correction).
    basis : ndarray of shape (D, m), default=None
    edge : float, default=None
        Noise edge; computed from ``C`` when None (dense ``C`` only).

    Returns
    -------
    eigvals, eigvecs (mapped back to R^D), edge, correction (array or None)
    """
    if isinstance(correction, np.ndarray):
        eigvals, eigvecs = ranked_eigh(C - correction, n_keep)
    else:
        eigvals, eigvecs = ranked_eigh(C, n_keep)
        if edge is None:
            edge = noise_edge(np.sum(C * C), np.abs(eigvals[:n_keep]), C.shape[0])
        if correction:
            correction, n_corrected = correct_finite_size(
                C, n_features, n_keep, edge, basis, ranked=(eigvals, eigvecs)
            )
            if n_corrected:
                C = C - correction
                eigvals, eigvecs = ranked_eigh(C, n_keep)
        else:
            correction = None
        # The whole spectrum is a diagnostic (spectrum_): values only, cheap.
        spectrum = linalg.eigh(C, eigvals_only=True, check_finite=False)
        spectrum = spectrum[np.argsort(-np.abs(spectrum), kind="stable")]
        spectrum[: eigvals.size] = eigvals
        eigvals = spectrum
    eigvecs = eigvecs[:, :n_keep]
    if basis is not None:
        eigvecs = basis @ eigvecs
    return eigvals, eigvecs, edge, correction


#: Largest number of block products (passes) the matrix-free solver may use,
#: and the residual (relative to the top eigenvalue) at which it stops: the
#: spikes converge in a few passes; the bulk candidates behind them only
#: need to be good enough to be scored by cross-validation.
MATRIX_FREE_MAX_PASSES = 15
MATRIX_FREE_TOL = 1e-3


def operator_statistics(samples, vectors, n_groups):
    """One pass: per-group raw products ``sum r t (x x^T - I) / sqrt(2)``.

    ``t`` are the quadratic forms of the block ``vectors`` (``D x b``); the
    products are returned in vector form, unnormalised, with each group's
    residual sum and row count, so that the operator of any union of groups
    (all rows, or all but a held-out fold) follows without another pass.
    Cost ``4 n d^2 b`` flops; memory ``O(b d^2 + batch d b)``.
    """
    d = samples.n_features
    b = vectors.shape[1]
    matrices = vec_to_sym(vectors.T, d)

    def init():
        return {
            "outer": np.zeros((n_groups, b, d, d)),
            "weights": np.zeros((n_groups, b)),
            "sums": np.zeros(n_groups),
            "sizes": np.zeros(n_groups),
        }

    dtype = samples.preparer.product_dtype
    product_matrices = matrices.astype(dtype)

    def add_batch(stats, start, Xpre, y_scaled, residual, folds):
        Xp = Xpre.astype(dtype, copy=False)
        weighted = residual.astype(dtype)[:, None] * quadratic_features(Xp, product_matrices)
        if n_groups == 1:
            bounds = [0, Xp.shape[0]]
        else:
            # Rows sorted by fold: each fold's rows are one contiguous block.
            order, bounds = sort_by_group(folds, n_groups)
            Xp, weighted, residual = Xp[order], weighted[order], residual[order]
        for group in range(n_groups):
            Xg, Wg = Xp[bounds[group] : bounds[group + 1]], weighted[bounds[group] : bounds[group + 1]]
            # One product for the whole block: (d x rows) @ (rows x b d).
            scaled = (Wg[:, :, None] * Xg[:, None, :]).reshape(Xg.shape[0], b * d)
            stats["outer"][group] += (Xg.T @ scaled).reshape(d, b, d).transpose(1, 0, 2)
            stats["weights"][group] += Wg.sum(axis=0, dtype=np.float64)
            stats["sums"][group] += residual[bounds[group] : bounds[group + 1]].sum()
            stats["sizes"][group] += Xg.shape[0]

    stats = samples.run(add_batch, init)
    identity = np.eye(d)
    products = [
        sym_to_vec(
            (stats["outer"][g] - stats["weights"][g][:, None, None] * identity) / np.sqrt(2.0)
        ).T
        for g in range(n_groups)
    ]
    return products, stats["sums"], stats["sizes"]


class MatrixFreeOperator:
    """The spectral operator applied in passes, remembering every product.

    Each ``apply`` is one pass; the per-group products it stores give, after
    the Krylov solver has converged, the projection on the same subspace of
    the operator without any held-out fold (for ``n_components='auto'``).
    """

    def __init__(self, samples, n_groups):
        self.samples = samples
        self.n_groups = n_groups
        self.blocks = []  # (vectors, per-group products, sums, sizes)

    def apply(self, vectors):
        products, sums, sizes = operator_statistics(self.samples, vectors, self.n_groups)
        self.blocks.append((vectors, products, sums, sizes))
        return self._combine(range(self.n_groups), vectors, products, sums, sizes)

    @staticmethod
    def _combine(groups, vectors, products, sums, sizes):
        groups = list(groups)
        count = sum(sizes[g] for g in groups)
        total = sum(products[g] for g in groups)
        return total / count - (sum(sums[g] for g in groups) / count) * vectors

    def projected(self, basis, excluded=None):
        """``basis^T C basis`` for the rows outside fold ``excluded``."""
        groups = [g for g in range(self.n_groups) if g != excluded]
        images = np.hstack(
            [self._combine(groups, *block) for block in self.blocks]
        )
        T = basis.T @ images
        return 0.5 * (T + T.T)


def one_standard_error_choice(mean_errors, standard_errors):
    """Smallest ``k`` whose error is within one standard error of the best."""
    best = int(np.argmin(mean_errors))
    threshold = mean_errors[best] + standard_errors[best]
    return int(np.flatnonzero(mean_errors <= threshold)[0])


def select_n_components(
    samples,
    fold_components,
    fold_sizes,
    *,
    max_components,
    readout,
    alpha,
    link_degree,
    subsample_seed,
):
    """Cross-validated readout error for ``k = 0 .. max_components``.

    Layer 1 is refitted without each held-out fold (``fold_components(f)``
    gives the ranked learned matrices of the spectral operator without fold
    ``f``), the readout is trained on rows outside the fold (a subsample of at
    most ``CV_READOUT_MAX_SAMPLES``) and scored on the fold. Returns the mean
    squared errors, their standard errors and the ``k`` picked by the
    one-standard-error rule.
    """
    n_samples = samples.n_samples
    n_folds = len(fold_sizes)
    fold_matrices_1 = map_in_threads(fold_components, range(n_folds))
    rates = np.minimum(1.0, CV_READOUT_MAX_SAMPLES / np.maximum(n_samples - fold_sizes, 1))

    def training_rows(start, count, folds, fold):
        keep = row_uniforms(start, count, subsample_seed) < rates[fold]
        return keep & (folds != fold)

    k_values = list(range(1, max_components + 1))
    readouts = fit_readouts(
        samples,
        fold_matrices_1,
        training_rows,
        readout=readout,
        n_components_list=k_values,
        alpha=alpha,
        link_degree=link_degree,
    )
    baselines = [group_readouts[0].baseline for group_readouts in readouts]

    def init():
        return {"sums": np.zeros(max_components + 1), "squares": np.zeros(max_components + 1)}

    def add_batch(stats, start, Xpre, y_scaled, residual, folds):
        for fold in range(n_folds):
            rows = folds == fold
            if not rows.any():
                continue
            H = quadratic_features(Xpre[rows], fold_matrices_1[fold])
            r = residual[rows]
            errors = np.empty((r.size, max_components + 1))
            errors[:, 0] = (r - baselines[fold]) ** 2
            errors[:, 1:] = (r[:, None] - path_predictions(readouts[fold], H)) ** 2
            stats["sums"] += errors.sum(axis=0)
            stats["squares"] += (errors**2).sum(axis=0)

    stats = samples.run(add_batch, init)
    mean_errors = stats["sums"] / n_samples
    variances = np.maximum(stats["squares"] / n_samples - mean_errors**2, 0.0)
    standard_errors = np.sqrt(variances / n_samples)
    return mean_errors, standard_errors, one_standard_error_choice(mean_errors, standard_errors)


def fit_readouts(
    samples, matrices_per_group, row_selector, *, readout, n_components_list, alpha,
    link_degree,
):
    """Readouts on the first ``k`` learned features, per group of rows.

    Each group has its own learned matrices and its own rows
    (``row_selector(start, count, folds, group)`` returns a boolean mask, or
    ``row_selector`` is None for all rows). One pass accumulates every
    group's readout statistics for the largest ``k`` (smaller ones are
    prefixes); the calibration, when needed, takes two more passes.

    Returns
    -------
    readouts : list (per group) of list (per k) of Readout
        Each group's first readout carries ``baseline``, the mean residual of
        its rows (the prediction with no feature).
    """
    k_max = int(max(n_components_list))
    n_groups = len(matrices_per_group)

    def selected(start, Xpre, residual, folds, group):
        if row_selector is None:
            return Xpre, residual
        rows = row_selector(start, Xpre.shape[0], folds, group)
        return Xpre[rows], residual[rows]

    def init():
        return {
            "readouts": [ReadoutAccumulator(readout, k_max) for _ in range(n_groups)],
            "sums": np.zeros(n_groups),
        }

    def add_batch(stats, start, Xpre, y_scaled, residual, folds):
        for group, matrices in enumerate(matrices_per_group):
            Xg, rg = selected(start, Xpre, residual, folds, group)
            stats["readouts"][group].update(quadratic_features(Xg, matrices[:k_max]), rg)
            stats["sums"][group] += rg.sum()

    stats = samples.run(add_batch, init)
    results = []
    for group in range(n_groups):
        accumulator = stats["readouts"][group]
        fitted = accumulator.solve(n_components_list, alpha)
        fitted[0].baseline = stats["sums"][group] / max(accumulator.n_samples, 1)
        results.append(fitted)

    calibrations = [CalibrationAccumulator(fitted, link_degree) for fitted in results]
    if not any(calibration.needed for calibration in calibrations):
        return results

    def observe(stats, start, Xpre, y_scaled, residual, folds):
        for group, matrices in enumerate(matrices_per_group):
            Xg, _ = selected(start, Xpre, residual, folds, group)
            stats[group].observe(quadratic_features(Xg, matrices[:k_max]))

    observed = samples.run(observe, lambda: [c.fresh() for c in calibrations])
    for calibration, seen in zip(calibrations, observed):
        calibration.finish_observing(seen)

    def update(stats, start, Xpre, y_scaled, residual, folds):
        for group, matrices in enumerate(matrices_per_group):
            Xg, rg = selected(start, Xpre, residual, folds, group)
            stats[group].update(quadratic_features(Xg, matrices[:k_max]), rg)

    updated = samples.run(update, lambda: [c.fresh() for c in calibrations])
    for calibration, seen in zip(calibrations, updated):
        calibration.solve(seen)
    return results


def fit_layer1(
    X,
    y,
    *,
    n_components,
    max_components,
    deflate,
    whiten,
    cv,
    readout,
    alpha,
    link_degree,
    batch_size,
    random_state,
    finite_size_correction=True,
    solver="auto",
    final_readout=False,
    precision="mixed",
):
    """Fit layer 1 on validated ``X`` (n, d) and ``y`` (n,), in memory or Dask.

    With ``final_readout`` (the regressor) and the quadratic readout with the
    identity link, the statistics of the final readout are collected in the
    same pass as the cross-validation of ``n_components``
    (:func:`~sklearn_hierspectral._layer2.readout_statistics`), jointly with
    the low-degree part when it was fitted by least squares.
    """
    n_samples, d = X.shape
    D = n_hermite_features(d)
    auto = n_components == "auto"
    max_components = min(max_components, D) if auto else n_components
    n_groups = cv if auto else 1
    solver = resolve_solver(solver, d, n_groups)
    if solver == "dense":
        check_dense_memory(d, n_groups)
    else:
        check_matrix_free_memory(d, n_groups, max(max_components, 1) + 5)
    deflation = resolve_deflation(deflate, d, cv)
    if deflation == "least-squares":
        check_least_squares_deflation_memory(d, cv)
    wide_design = deflation == "least-squares" or solver == "dense"
    product_itemsize = 4 if precision == "mixed" else 8
    batch_size = resolve_batch_size(
        batch_size, 1 + d + D if wide_design else d * (max_components + 10), product_itemsize
    )

    standardizer = make_standardizer(X, whiten, batch_size)
    y_mean, y_scale = target_scaling(y, batch_size)
    rng = check_random_state(random_state)
    # Folds serve the penalty of the low-degree part and, under 'auto', the
    # number of components; drawn per row so that sorted data is safe.
    fold_seed, subsample_seed = (int(seed) for seed in rng.randint(0, 2**62, size=2, dtype=np.int64))
    product_dtype = np.float32 if precision == "mixed" else np.float64
    preparer = BatchPreparer(standardizer, y_mean, y_scale, None, cv, fold_seed, product_dtype)
    samples = Samples(X, y, batch_size, preparer)

    low_penalty = low_gram = low_rhs = None
    if deflation != "none":
        preparer.low_coef, low_penalty, low_gram, low_rhs = fit_low_degree(samples, deflation)

    n_iter = None
    if solver == "dense":
        fold_matrices, fold_residual_sums, fold_sizes = spectral_matrices(samples, n_groups)
        C = _spectral_matrix(sum(fold_matrices), fold_residual_sums.sum(), n_samples)
        with single_blas_thread():
            spectrum, eigenvectors, edge, correction = spectral_components(
                C, d, max_components, finite_size_correction
            )
        total_matrix, total_residual = sum(fold_matrices), fold_residual_sums.sum()

        def fold_components(fold):
            if n_samples == fold_sizes[fold]:
                # Every row is in this fold: nothing to learn without it.
                return np.zeros((D, max_components))
            C_train = _spectral_matrix(
                total_matrix - fold_matrices[fold],
                total_residual - fold_residual_sums[fold],
                n_samples - fold_sizes[fold],
            )
            _, vectors, _, _ = spectral_components(
                C_train, d, max_components,
                correction if correction is not None else False, edge=edge,
            )
            return vectors

    else:
        operator = MatrixFreeOperator(samples, n_groups)
        krylov = block_krylov_eigsh(
            operator.apply, D, max(max_components, 1),
            max_products=MATRIX_FREE_MAX_PASSES, tol=MATRIX_FREE_TOL,
            block_size=max(max_components, 1) + 5,
            random_state=np.random.default_rng(fold_seed),
        )
        basis = krylov.basis
        n_iter = krylov.n_products
        ritz = np.sort(np.abs(linalg.eigvalsh(krylov.projected)))[::-1]
        edge = noise_edge(krylov.trace_sq, ritz[: max(max_components, 1)], D)
        spectrum, eigenvectors, _, correction = spectral_components(
            krylov.projected, d, max_components, finite_size_correction, basis, edge
        )
        fold_sizes = operator.blocks[0][3]

        def fold_components(fold):
            if n_samples == fold_sizes[fold]:
                return np.zeros((D, max_components))
            _, vectors, _, _ = spectral_components(
                operator.projected(basis, excluded=fold), d, max_components,
                correction if correction is not None else False, basis, edge,
            )
            return vectors

    cv_errors = cv_errors_se = final_statistics = None
    one_pass = readout == "quadratic" and link_degree == 1
    joint = deflation == "least-squares"
    if auto and one_pass:
        # One small eigenproblem per fold: LAPACK is faster on one thread for
        # these sizes (single_blas_thread), so the folds share the cores.
        fold_vectors = map_in_threads(fold_components, range(n_groups))
        stats = readout_statistics(
            samples,
            eigenvectors[:, :max_components] if final_readout else None,
            fold_vectors,
            joint=joint,
            fold_sizes=fold_sizes,
            subsample_seed=subsample_seed,
        )
        with single_blas_thread():
            cv_errors, cv_errors_se = cross_validated_errors(stats, max_components, alpha)
        n_components = one_standard_error_choice(cv_errors, cv_errors_se)
        final_statistics = stats["final"]
    elif auto:
        cv_errors, cv_errors_se, n_components = select_n_components(
            samples, lambda fold: vec_to_sym(fold_components(fold).T, d), fold_sizes,
            max_components=max_components, readout=readout, alpha=alpha,
            link_degree=link_degree, subsample_seed=subsample_seed,
        )
    elif one_pass and final_readout and n_components > 0:
        final_statistics = readout_statistics(
            samples, eigenvectors[:, :n_components], None, joint=joint
        )["final"]
    return Layer1Fit(
        samples=samples,
        deflation=deflation,
        solver=solver,
        low_degree_penalty=low_penalty,
        low_degree_gram=low_gram,
        low_degree_rhs=low_rhs,
        spectrum=spectrum,
        eigenvectors=eigenvectors,
        n_components=int(n_components),
        noise_edge=edge,
        cv_errors=cv_errors,
        cv_errors_se=cv_errors_se,
        readout_statistics=final_statistics,
        n_iter=n_iter,
    )
