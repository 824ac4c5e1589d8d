"""Layer 1 of the hierarchical spectral learner (SPEC section 3, items 0-4).

The fit is three passes over the samples, each a sum of BLAS-3 products over
batches:

1. column moments of ``X`` (preprocessing);
2. the Gram matrix of ``[1, x, Z(x)]`` and its product with ``y``: the
   low-degree (degree <= 2 Hermite) part of the target, removed by least
   squares ("deflation");
3. the spectral matrix ``C = (1/n) sum r (Z Z^T - I)`` of the residual ``r``,
   accumulated per cross-validation fold so that layer 1 can be refitted
   without each fold at no extra cost.

Then an eigendecomposition ranks components by ``|eigenvalue|`` and, for
``n_components='auto'``, a cross-validated readout error picks how many to
keep.
"""

from dataclasses import dataclass

import numpy as np
from scipy import linalg, optimize
from sklearn.utils import check_random_state

from ._hermite import (
    low_degree_design,
    low_degree_part,
    n_hermite_features,
    quadratic_features,
    sym_to_vec,
    vec_to_sym,
)
from ._memory import MemoryBudgetError, available_memory_bytes, format_bytes
from ._passes import (
    Standardizer,
    batch_slices,
    grouped_gram,
    column_moments,
    resolve_batch_size,
    symmetrize_upper,
    syrk_accumulate,
    weighted_hermite_gram,
)
from ._readout import CalibrationAccumulator, ReadoutAccumulator, path_predictions

#: Rows on which each fold's readout is trained during component selection.
CV_READOUT_MAX_SAMPLES = 30_000


def _semicircle_median():
    """Median of ``|t|`` under the semicircle law on ``[-1, 1]``."""

    def cdf_minus_half(t):
        return (2.0 / np.pi) * (t * np.sqrt(1.0 - t * t) + np.arcsin(t)) - 0.5

    return optimize.brentq(cdf_minus_half, 0.0, 1.0)


#: The bulk edge of a semicircle is its median |eigenvalue| divided by this.
SEMICIRCLE_MEDIAN = _semicircle_median()


@dataclass
class Layer1Fit:
    """What layer 1 learned; the estimators copy it into fitted attributes."""

    standardizer: Standardizer
    y_mean: float
    y_scale: float
    deflation: str
    low_degree_coef: np.ndarray  # [intercept, linear (d), Hermite (D)] or None
    low_degree_penalty: float  # ridge penalty chosen by cross-validation
    low_degree_gram: np.ndarray  # per-sample Gram of [1, x, Z] (least squares)
    y_scaled: np.ndarray  # the centred and scaled training target (not stored)
    spectrum: np.ndarray  # all eigenvalues of C, by decreasing |value|
    eigenvectors: np.ndarray  # (D, n_kept) columns, same order
    n_components: int
    noise_edge: float
    cv_errors: np.ndarray  # (max_components + 1,) or None
    cv_errors_se: np.ndarray
    residual: np.ndarray  # training residual on the scaled target (not stored)

    @property
    def components(self):
        d = self.standardizer.mean.shape[0]
        vectors = self.eigenvectors[:, : self.n_components].T
        return vec_to_sym(vectors, d)


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


def resolve_deflation(deflate, n_features, n_folds):
    """'least-squares', 'moment' or 'none' from the user's ``deflate``.

    True means least squares unless its per-fold Gram matrices would take more
    than a quarter of the available memory; then the moment estimate, which
    needs no Gram matrix.
    """
    if deflate is False:
        return "none"
    if deflate is True:
        n_coef = 1 + n_features + n_hermite_features(n_features)
        available = available_memory_bytes()
        if available is not None and 8 * n_coef**2 * (n_folds + 2) > available / 4:
            return "moment"
        return "least-squares"
    return deflate


#: Ridge penalties (per sample, on unit-variance features) among which
#: cross-validation picks the one for the low-degree part.
LOW_DEGREE_RIDGE_GRID = np.r_[0.0, np.logspace(-6, 3, 19)]


def fit_low_degree(X, y_scaled, standardizer, method, batch_size, fold_ids, n_folds):
    """Coefficients of the degree <= 2 Hermite part of the scaled target.

    Least squares with a ridge penalty chosen by cross-validation over
    ``fold_ids``: each fold's Gram matrix, products with ``y`` and sum of
    ``y^2`` are accumulated in the same pass, so the held-out error of every
    penalty follows from these statistics without another pass. On a target
    with no low-degree part the penalty grows and the part shrinks to zero
    instead of adding ``(1 + d + D) / n`` of overfitted variance.

    Returns
    -------
    coef : ndarray of shape (1 + d + D,)
    penalty : float
        The chosen ridge penalty (0 for the moment estimate).
    gram : ndarray of shape (1 + d + D, 1 + d + D) or None
        Per-sample Gram matrix of ``[1, x, Z]`` (least squares only), kept for
        the regressor's joint final fit.
    """
    n_samples, d = X.shape
    n_coef = 1 + d + n_hermite_features(d)
    buffer = np.empty((min(batch_size, n_samples), n_coef))
    rhs = np.zeros((n_folds, n_coef))
    y_sq = np.zeros(n_folds)
    grams = None
    if method == "least-squares":
        grams = [np.zeros((n_coef, n_coef), order="F") for _ in range(n_folds)]
    for rows in batch_slices(n_samples, batch_size):
        F = low_degree_design(standardizer.apply(X[rows]), buffer[: rows.stop - rows.start])
        y_batch = y_scaled[rows]
        folds = fold_ids[rows]
        for fold in range(n_folds):
            mask = folds == fold
            rhs[fold] += F[mask].T @ y_batch[mask]
        y_sq += np.bincount(folds, weights=y_batch**2, minlength=n_folds)
        if grams is not None:
            grouped_gram(F, folds, grams)
    if grams is None:
        # Moment estimate: under N(0, I) the design has identity covariance.
        return rhs.sum(axis=0) / n_samples, 0.0, None
    grams = [symmetrize_upper(gram) for gram in grams]
    total_gram = sum(grams)
    total_rhs = rhs.sum(axis=0)
    fold_sizes = np.bincount(fold_ids, minlength=n_folds)
    held_out_sse = np.zeros(LOW_DEGREE_RIDGE_GRID.size)
    for fold in range(n_folds):
        n_train = n_samples - fold_sizes[fold]
        if n_train == 0:
            continue
        eigvals, eigvecs = linalg.eigh(
            (total_gram - grams[fold]) / n_train, check_finite=False, driver="evd"
        )
        projected = eigvecs.T @ ((total_rhs - rhs[fold]) / n_train)
        # Columns: coefficients for every penalty of the grid at once.
        coefs = eigvecs @ (projected[:, None] / _ridge_denominator(eigvals))
        held_out_sse += (
            y_sq[fold]
            - 2.0 * rhs[fold] @ coefs
            + np.einsum("ip,ij,jp->p", coefs, grams[fold], coefs)
        )
    penalty = float(LOW_DEGREE_RIDGE_GRID[np.argmin(held_out_sse)])
    eigvals, eigvecs = linalg.eigh(total_gram / n_samples, check_finite=False, driver="evd")
    denominator = _ridge_denominator(eigvals, np.array([penalty]))[:, 0]
    coef = eigvecs @ ((eigvecs.T @ (total_rhs / n_samples)) / denominator)
    return coef, penalty, total_gram / n_samples


def _ridge_denominator(eigvals, penalties=LOW_DEGREE_RIDGE_GRID):
    """``eigval + penalty``, floored so that a rank-deficient Gram (duplicated or
    constant columns, fewer samples than coefficients) gets a minimum-norm
    solution instead of a division by zero."""
    floor = 1e-10 * max(float(eigvals.max(initial=0.0)), np.finfo(float).tiny)
    kept = eigvals > floor
    denominator = np.maximum(eigvals, floor)[:, None] + penalties[None, :]
    return np.where(kept[:, None], denominator, np.inf)


def dense_memory_bytes(n_features, n_folds):
    """Memory of the dense solver: one D x D accumulator per fold, eigh work."""
    D = n_hermite_features(n_features)
    return 8 * D * D * (n_folds + 4)


def check_dense_memory(n_features, n_folds):
    needed = dense_memory_bytes(n_features, n_folds)
    available = available_memory_bytes()
    if available is not None and needed > 0.8 * available:
        D = n_hermite_features(n_features)
        raise MemoryBudgetError(
            f"The dense layer-1 solver needs {format_bytes(needed)} for "
            f"{n_folds} D x D matrices with D = d(d+1)/2 = {D}, but only "
            f"{format_bytes(available)} is available. Reduce n_features (for example "
            "with a projection before this step), use an integer n_components "
            "(one matrix instead of one per fold), or run on a larger machine.",
            required_bytes=needed,
            available_bytes=available,
        )


def spectral_matrices(X, y_scaled, standardizer, low_coef, fold_ids, n_folds, batch_size):
    """Per-fold sums ``sum r Z Z^T`` and ``sum r``, and the residual ``r``."""
    n_samples, d = X.shape
    D = n_hermite_features(d)
    accumulators = [np.zeros((D, D), order="F") for _ in range(n_folds)]
    residual_sums = np.zeros(n_folds)
    residual = np.empty(n_samples)
    buffer = np.empty((min(batch_size, n_samples), D))
    for rows in batch_slices(n_samples, batch_size):
        Xpre = standardizer.apply(X[rows])
        r = y_scaled[rows]
        if low_coef is not None:
            r = r - low_degree_part(Xpre, low_coef)
        residual[rows] = r
        groups = None if fold_ids is None else fold_ids[rows]
        weighted_hermite_gram(Xpre, r, buffer, accumulators, groups)
        if groups is None:
            residual_sums[0] += r.sum()
        else:
            residual_sums += np.bincount(groups, weights=r, minlength=n_folds)
    return [symmetrize_upper(acc) for acc in accumulators], residual_sums, residual


def ranked_eigh(matrix, n_keep=None):
    """Eigenpairs by decreasing ``|eigenvalue|``, signs fixed deterministically."""
    eigvals, eigvecs = linalg.eigh(matrix, check_finite=False, driver="evd")
    order = np.argsort(-np.abs(eigvals), kind="stable")
    if n_keep is not None:
        order = order[:n_keep]
    eigvals = eigvals[order]
    eigvecs = eigvecs[:, order]
    # Largest entry of each eigenvector positive, as sklearn's svd_flip does.
    signs = np.sign(eigvecs[np.argmax(np.abs(eigvecs), axis=0), np.arange(eigvecs.shape[1])])
    signs[signs == 0] = 1.0
    return eigvals, eigvecs * signs


def noise_edge(eigenvalues):
    """Bulk edge estimated from the median ``|eigenvalue|`` (semicircle fit).

    Robust to the few outlying spikes; at finite ``d`` the bulk is wider than
    a pure-noise null, which this estimate follows because it is measured on
    the spectrum itself. A diagnostic only: components are chosen by
    cross-validated error, not by this edge.
    """
    return float(np.median(np.abs(eigenvalues)) / SEMICIRCLE_MEDIAN)


#: A component counts as a genuine spike, whose finite-size operator is then
#: removed, when its |eigenvalue| exceeds this multiple of the noise edge.
SPIKE_EDGE_RATIO = 2.0


def sandwich_operator(A):
    """``D x D`` matrix of ``V -> A V A`` on symmetric matrices (vector form)."""
    d = A.shape[0]
    basis = vec_to_sym(np.eye(n_hermite_features(d)), d)
    return sym_to_vec(A @ basis @ A).T


def correct_finite_size(C, n_features, max_steps, edge):
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

    Returns
    -------
    corrected : ndarray of shape (D, D)
    n_corrected : int
    """
    corrected = C.copy()
    for step in range(max_steps):
        eigvals, eigvecs = ranked_eigh(corrected, step + 1)
        value = eigvals[step]
        if not abs(value) > SPIKE_EDGE_RATIO * edge:
            return corrected, step
        A = vec_to_sym(eigvecs[:, step], n_features)
        A2 = A @ A
        weight = value / (2.0 * (1.0 + 2.0 * np.sum(A2 * A2)))
        corrected -= 4.0 * weight * sandwich_operator(A)
    return corrected, max_steps


def spectral_components(C, n_features, n_keep, finite_size_correction):
    """Noise edge, then the ranked eigenpairs of the (corrected) matrix."""
    edge = noise_edge(linalg.eigvalsh(C, check_finite=False, driver="evd"))
    if finite_size_correction:
        C, _ = correct_finite_size(C, n_features, n_keep, edge)
    eigvals, eigvecs = ranked_eigh(C)
    return eigvals, eigvecs[:, :n_keep], edge


def one_standard_error_choice(mean_errors, standard_errors):
    """Smallest ``k`` whose error is within one standard error of the best."""
    best = int(np.argmin(mean_errors))
    threshold = mean_errors[best] + standard_errors[best]
    return int(np.flatnonzero(mean_errors <= threshold)[0])


def select_n_components(
    X,
    standardizer,
    residual,
    fold_matrices,
    fold_residual_sums,
    fold_ids,
    *,
    max_components,
    readout,
    alpha,
    link_degree,
    batch_size,
    random_state,
    finite_size_correction,
):
    """Cross-validated readout error for ``k = 0 .. max_components``.

    Layer 1 is refitted without each held-out fold (its spectral matrix is the
    total minus the fold's share), the readout is trained on rows outside the
    fold and scored on the fold. Returns the mean squared errors, their
    standard errors and the ``k`` picked by the one-standard-error rule.
    """
    n_samples, d = X.shape
    n_folds = len(fold_matrices)
    total_matrix = sum(fold_matrices)
    total_residual = fold_residual_sums.sum()
    fold_sizes = np.bincount(fold_ids, minlength=n_folds)
    k_values = np.arange(max_components + 1)
    error_sums = np.zeros(max_components + 1)
    error_sq_sums = np.zeros(max_components + 1)
    rng = check_random_state(random_state)
    for fold in range(n_folds):
        n_train = n_samples - fold_sizes[fold]
        C_train = (total_matrix - fold_matrices[fold]) / n_train
        C_train[np.diag_indices_from(C_train)] -= (
            total_residual - fold_residual_sums[fold]
        ) / n_train
        _, vectors, _ = spectral_components(
            C_train, d, max_components, finite_size_correction
        )
        matrices = vec_to_sym(vectors.T, d)

        train_rows = np.flatnonzero(fold_ids != fold)
        if train_rows.size > CV_READOUT_MAX_SAMPLES:
            train_rows = np.sort(rng.choice(train_rows, CV_READOUT_MAX_SAMPLES, replace=False))
        readouts = fit_readouts(
            X, standardizer, residual, matrices, train_rows,
            readout=readout, n_components_list=k_values[1:], alpha=alpha,
            link_degree=link_degree, batch_size=batch_size,
        )
        baseline = residual[train_rows].mean()
        held_out = np.flatnonzero(fold_ids == fold)
        for chunk in batch_slices(held_out.size, batch_size):
            rows = held_out[chunk]
            H = quadratic_features(standardizer.apply(X[rows]), matrices)
            r = residual[rows]
            errors = np.empty((rows.size, max_components + 1))
            errors[:, 0] = (r - baseline) ** 2
            errors[:, 1:] = (r[:, None] - path_predictions(readouts, H)) ** 2
            error_sums += errors.sum(axis=0)
            error_sq_sums += (errors**2).sum(axis=0)
    mean_errors = error_sums / n_samples
    variances = np.maximum(error_sq_sums / n_samples - mean_errors**2, 0.0)
    standard_errors = np.sqrt(variances / n_samples)
    return mean_errors, standard_errors, one_standard_error_choice(mean_errors, standard_errors)


def fit_readouts(
    X, standardizer, residual, matrices, rows, *, readout, n_components_list,
    alpha, link_degree, batch_size,
):
    """Readouts on the first ``k`` learned features, for each ``k`` listed.

    ``rows`` selects the training rows (None: all of them).

    One pass accumulates the readout statistics of the largest ``k`` (smaller
    ones are prefixes); the calibration, when needed, takes two more passes
    over the same rows.
    """
    k_max = int(max(n_components_list))
    accumulator = ReadoutAccumulator(readout, k_max)

    def feature_batches():
        n_rows = X.shape[0] if rows is None else rows.size
        for chunk in batch_slices(n_rows, batch_size):
            batch_rows = chunk if rows is None else rows[chunk]
            yield (
                quadratic_features(standardizer.apply(X[batch_rows]), matrices[:k_max]),
                residual[batch_rows],
            )

    for H, r in feature_batches():
        accumulator.update(H, r)
    readouts = accumulator.solve(n_components_list, alpha)
    calibration = CalibrationAccumulator(readouts, link_degree)
    if calibration.needed:
        for H, _ in feature_batches():
            calibration.observe(H)
        calibration.finish_observing()
        for H, r in feature_batches():
            calibration.update(H, r)
        calibration.solve()
    return readouts


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
):
    """Fit layer 1 on validated ``X`` (n, d) and ``y`` (n,)."""
    n_samples, d = X.shape
    D = n_hermite_features(d)
    batch_size = resolve_batch_size(batch_size, 1 + d + D)
    auto = n_components == "auto"
    max_components = min(max_components, D) if auto else n_components
    n_folds = cv if auto else 1
    check_dense_memory(d, n_folds)

    standardizer = make_standardizer(X, whiten, batch_size)
    y_mean = float(np.mean(y))
    y_scale = float(np.std(y))
    if not np.isfinite(y_scale) or y_scale <= np.finfo(np.float64).eps * max(1.0, abs(y_mean)):
        y_scale = 1.0
    y_scaled = (np.asarray(y, dtype=np.float64) - y_mean) / y_scale

    rng = check_random_state(random_state)
    # Folds serve the penalty of the low-degree part and, under 'auto', the
    # number of components; a random assignment so that sorted data is safe.
    fold_ids = (rng.permutation(n_samples) % cv).astype(np.intp)
    deflation = resolve_deflation(deflate, d, cv)
    low_coef = low_penalty = low_gram = None
    if deflation != "none":
        low_coef, low_penalty, low_gram = fit_low_degree(
            X, y_scaled, standardizer, deflation, batch_size, fold_ids, cv
        )

    fold_matrices, fold_residual_sums, residual = spectral_matrices(
        X, y_scaled, standardizer, low_coef, fold_ids if auto else None, n_folds, batch_size
    )
    C = sum(fold_matrices) / n_samples
    C[np.diag_indices_from(C)] -= fold_residual_sums.sum() / n_samples
    spectrum, eigenvectors, edge = spectral_components(
        C, d, max_components, finite_size_correction
    )

    cv_errors = cv_errors_se = None
    if auto:
        cv_errors, cv_errors_se, n_components = select_n_components(
            X, standardizer, residual, fold_matrices, fold_residual_sums, fold_ids,
            max_components=max_components, readout=readout, alpha=alpha,
            link_degree=link_degree, batch_size=batch_size, random_state=rng,
            finite_size_correction=finite_size_correction,
        )
    return Layer1Fit(
        standardizer=standardizer,
        y_mean=y_mean,
        y_scale=y_scale,
        deflation=deflation,
        low_degree_coef=low_coef,
        low_degree_penalty=low_penalty,
        low_degree_gram=low_gram,
        y_scaled=y_scaled,
        spectrum=spectrum,
        eigenvectors=eigenvectors,
        n_components=int(n_components),
        noise_edge=edge,
        cv_errors=cv_errors,
        cv_errors_se=cv_errors_se,
        residual=residual,
    )
