"""Layer 2: readouts from learned quadratic features to the residual target.

Two heads (SPEC section 3, item 5), both linear in the same design
``[1, h_j, h_j h_i (i < j), h_j^2 - 1]``:

* ``'quadratic'``: ridge regression on the design;
* ``'moment'``: the published head, ``B = (1/2n) sum r (h h^T - I)`` and
  ``s = h^T B h - tr B = sum_j B_jj (h_j^2 - 1) + 2 sum_{i<j} B_ij h_i h_j``,
  followed by an affine least-squares calibration. Its statistics are the
  design's products with ``r``, so it needs no Gram matrix.

The design columns are ordered component by component, so the design of the
first ``k`` components is a prefix of the design of the first ``k + 1``: one
set of statistics serves every ``k`` when the number of components is chosen
by cross-validation, and one matrix product predicts for all of them.

An optional univariate polynomial of degree ``link_degree`` fitted on the
readout output (link calibration) approximates a non-identity link.
"""

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import linalg
from scipy.linalg import lapack

from ._hermite import (
    quadratic_features,
    sym_to_vec,
)
from ._krylov import symmetric_eigh
from ._passes import symmetrize_upper, syrk_accumulate


def n_design_columns(n_components):
    """Columns of the quadratic design of ``n_components`` features."""
    return 1 + n_components * (n_components + 3) // 2


def quadratic_design(H):
    """``[1, h_0, h_0^2 - 1, h_1, h_1 h_0, h_1^2 - 1, ...]`` for each row of ``H``.

    Parameters
    ----------
    H : ndarray of shape (n_samples, k)

    Returns
    -------
    design : ndarray of shape (n_samples, 1 + k (k + 3) / 2)
    """
    n_samples, k = H.shape
    design = np.empty((n_samples, n_design_columns(k)), dtype=H.dtype)
    design[:, 0] = 1.0
    column = 1
    for j in range(k):
        design[:, column] = H[:, j]
        np.multiply(H[:, :j], H[:, j : j + 1], out=design[:, column + 1 : column + 1 + j])
        design[:, column + 1 + j] = H[:, j] ** 2 - 1.0
        column += j + 2
    return design


def quadratic_design_t(HT, out=None):
    """Transposed :func:`quadratic_design`: ``(1 + k (k + 3) / 2, n)`` from ``H^T``.

    One contiguous row per design column, the layout of the passes: rows
    are written as whole blocks, and the result feeds
    :func:`~sklearn_hierspectral._passes.syrk_accumulate_columns` and
    matrix products without a copy.

    Parameters
    ----------
    HT : ndarray of shape (k, n_samples)
    out : ndarray of shape (1 + k (k + 3) / 2, n_samples), default=None

    Returns
    -------
    design_t : ndarray of shape (1 + k (k + 3) / 2, n_samples)
    """
    k, n_samples = HT.shape
    if out is None:
        out = np.empty((n_design_columns(k), n_samples), dtype=HT.dtype)
    out[0] = 1.0
    row = 1
    for j in range(k):
        out[row] = HT[j]
        np.multiply(HT[:j], HT[j], out=out[row + 1 : row + 1 + j])
        np.multiply(HT[j], HT[j], out=out[row + 1 + j])
        out[row + 1 + j] -= 1.0
        row += j + 2
    return out


def _pair_columns(k):
    """Design columns of ``h_i h_j`` (i < j) and of ``h_j^2 - 1``, per ``j``."""
    offdiag_i, offdiag_j, offdiag_col, diag_col = [], [], [], []
    column = 1
    for j in range(k):
        for i in range(j):
            offdiag_i.append(i)
            offdiag_j.append(j)
            offdiag_col.append(column + 1 + i)
        diag_col.append(column + 1 + j)
        column += j + 2
    return (
        np.asarray(offdiag_i, dtype=np.intp),
        np.asarray(offdiag_j, dtype=np.intp),
        np.asarray(offdiag_col, dtype=np.intp),
        np.asarray(diag_col, dtype=np.intp),
    )


def moment_matrix(design_rhs, n_samples, k):
    """``B = (1/2n) sum r (h h^T - I)`` from the design's products with ``r``."""
    offdiag_i, offdiag_j, offdiag_col, diag_col = _pair_columns(k)
    B = np.zeros((k, k))
    B[offdiag_i, offdiag_j] = design_rhs[offdiag_col]
    B[offdiag_j, offdiag_i] = design_rhs[offdiag_col]
    B[np.arange(k), np.arange(k)] = design_rhs[diag_col]
    return B / (2.0 * n_samples)


def moment_design_coef(B):
    """Design weights that compute ``h^T B h - tr B``."""
    k = B.shape[0]
    offdiag_i, offdiag_j, offdiag_col, diag_col = _pair_columns(k)
    coef = np.zeros(n_design_columns(k))
    coef[offdiag_col] = 2.0 * B[offdiag_i, offdiag_j]
    coef[diag_col] = np.diag(B)
    return coef


@dataclass
class Readout:
    """A fitted second layer on the first ``n_components`` learned features.

    ``coef`` weighs the quadratic design; ``calibration``, when set, is a
    polynomial (lowest degree first) of the standardised design output.
    """

    kind: str
    n_components: int
    coef: np.ndarray
    calibration: np.ndarray = None
    output_mean: float = 0.0
    output_scale: float = 1.0
    # Range of the standardised training outputs: a polynomial calibration
    # is only trusted there, and held constant beyond it.
    output_low: float = -np.inf
    output_high: float = np.inf
    baseline: float = 0.0  # mean residual of the training rows

    def calibrate(self, output):
        if self.calibration is None:
            return output
        u = (output - self.output_mean) / self.output_scale
        u = np.clip(u, self.output_low, self.output_high)
        return np.polynomial.polynomial.polyval(u, self.calibration)

    def predict(self, H):
        design = quadratic_design(H[:, : self.n_components])
        return self.calibrate(design @ self.coef)


def path_predictions(readouts, H):
    """Predictions of nested readouts, from one design and one product.

    Parameters
    ----------
    readouts : list of Readout
        Readouts on prefixes of the columns of ``H``.
    H : ndarray of shape (n_samples, k_max)

    Returns
    -------
    predictions : ndarray of shape (n_samples, len(readouts))
    """
    design = quadratic_design(H[:, : max(r.n_components for r in readouts)])
    weights = np.zeros((design.shape[1], len(readouts)))
    for index, readout in enumerate(readouts):
        weights[: readout.coef.size, index] = readout.coef
    outputs = design @ weights
    for index, readout in enumerate(readouts):
        outputs[:, index] = readout.calibrate(outputs[:, index])
    return outputs


class ReadoutAccumulator:
    """Additive statistics of a readout on up to ``max_components`` features.

    ``update`` takes batches; ``solve`` returns a readout for each requested
    number of components from the same statistics.
    """

    def __init__(self, kind, max_components):
        self.kind = kind
        self.max_components = max_components
        self.n_samples = 0
        size = n_design_columns(max_components)
        self.rhs = np.zeros(size)
        self.gram = np.zeros((size, size), order="F") if kind == "quadratic" else None

    def __add__(self, other):
        total = ReadoutAccumulator(self.kind, self.max_components)
        total.n_samples = self.n_samples + other.n_samples
        total.rhs = self.rhs + other.rhs
        if self.gram is not None:
            total.gram = np.asfortranarray(self.gram + other.gram)
        return total

    def update(self, H, r):
        design = quadratic_design(H[:, : self.max_components])
        self.n_samples += design.shape[0]
        self.rhs += design.T @ r
        if self.gram is not None:
            syrk_accumulate(self.gram, design)

    def solve(self, n_components_list, alpha):
        """Readouts on the first ``k`` features for each ``k`` requested."""
        if self.n_samples == 0:
            raise ValueError("The readout has seen no samples.")
        n = self.n_samples
        gram = symmetrize_upper(self.gram) / n if self.gram is not None else None
        readouts = []
        for k in n_components_list:
            size = n_design_columns(k)
            if self.kind == "quadratic":
                # No penalty on the intercept: it absorbs the residual's mean.
                penalty = alpha * np.r_[0.0, np.ones(size - 1)]
                system = gram[:size, :size] + np.diag(penalty)
                coef = _solve_symmetric(system, self.rhs[:size] / n)
            else:
                coef = moment_design_coef(moment_matrix(self.rhs, n, k))
            readouts.append(Readout(self.kind, int(k), coef))
        return readouts


def _solve_symmetric(system, rhs):
    """Solve a small symmetric positive semi-definite system robustly."""
    try:
        return linalg.solve(system, rhs, assume_a="pos", check_finite=False)
    except (linalg.LinAlgError, ValueError):
        return linalg.lstsq(system, rhs, check_finite=False)[0]


class CalibrationAccumulator:
    """Least-squares fit of a polynomial of each readout's output to ``r``.

    The moment head always gets at least an affine calibration; the quadratic
    head, already a least-squares fit, only when ``degree > 1``. Outputs are
    standardised (a first pass: ``observe``) before forming powers, so that
    degree 5 stays well conditioned. The per-pass statistics are
    :class:`CalibrationStatistics`, which add up across batches and chunks.
    """

    def __init__(self, readouts, degree):
        self.readouts = readouts
        self.degrees = [
            max(degree, 1) if readout.kind == "moment" else degree for readout in readouts
        ]
        self.active = [readout.kind == "moment" or degree > 1 for readout in readouts]

    @property
    def needed(self):
        return any(self.active)

    def fresh(self):
        return CalibrationStatistics(self.readouts, self.degrees, self.active)

    def finish_observing(self, stats):
        count = max(stats.count, 1)
        means = stats.sums / count
        variances = np.maximum(stats.sq_sums / count - means**2, 0.0)
        for index, readout in enumerate(self.readouts):
            if not self.active[index]:
                continue
            readout.output_mean = means[index]
            readout.output_scale = np.sqrt(variances[index]) if variances[index] > 1e-24 else 1.0
            readout.output_low = (stats.lows[index] - means[index]) / readout.output_scale
            readout.output_high = (stats.highs[index] - means[index]) / readout.output_scale
            n_coef = self.degrees[index] + 1
            if stats.count < 10 * n_coef:
                warnings.warn(
                    f"The link calibration fits a polynomial of degree "
                    f"{self.degrees[index]} on {int(stats.count)} samples (fewer than 10 per "
                    "coefficient): it may overfit. Use a smaller link_degree or more "
                    "samples; outside the range of the training outputs it is held constant.",
                    UserWarning,
                    stacklevel=2,
                )

    def solve(self, stats):
        for index, readout in enumerate(self.readouts):
            if not self.active[index]:
                continue
            gram = stats.grams[index]
            ridge = 1e-10 * max(np.trace(gram), 1e-300) * np.eye(gram.shape[0])
            calibration = _solve_symmetric(gram + ridge, stats.rhs[index])
            if not np.all(np.isfinite(calibration)):
                raise ValueError(
                    f"The link calibration of degree {self.degrees[index]} has no finite "
                    "solution: the readout's outputs are too heavy-tailed for their "
                    "powers. Use a smaller link_degree (1 disables the calibration)."
                )
            readout.calibration = calibration
        return self.readouts


class CalibrationStatistics:
    """Additive statistics of one calibration pass (see CalibrationAccumulator)."""

    def __init__(self, readouts, degrees, active):
        self.readouts = readouts
        self.degrees = degrees
        self.active = active
        self.count = 0
        self.sums = np.zeros(len(readouts))
        self.sq_sums = np.zeros(len(readouts))
        self.lows = np.full(len(readouts), np.inf)
        self.highs = np.full(len(readouts), -np.inf)
        self.grams = [np.zeros((g + 1, g + 1)) for g in degrees]
        self.rhs = [np.zeros(g + 1) for g in degrees]

    def __add__(self, other):
        total = CalibrationStatistics(self.readouts, self.degrees, self.active)
        total.count = self.count + other.count
        total.sums = self.sums + other.sums
        total.sq_sums = self.sq_sums + other.sq_sums
        total.lows = np.minimum(self.lows, other.lows)
        total.highs = np.maximum(self.highs, other.highs)
        total.grams = [a + b for a, b in zip(self.grams, other.grams)]
        total.rhs = [a + b for a, b in zip(self.rhs, other.rhs)]
        return total

    def _raw_outputs(self, H):
        return path_predictions(
            [Readout(r.kind, r.n_components, r.coef) for r in self.readouts], H
        )

    def observe(self, H):
        outputs = self._raw_outputs(H)
        self.sums += outputs.sum(axis=0)
        self.sq_sums += (outputs**2).sum(axis=0)
        if outputs.shape[0]:
            self.lows = np.minimum(self.lows, outputs.min(axis=0))
            self.highs = np.maximum(self.highs, outputs.max(axis=0))
        self.count += H.shape[0]

    def update(self, H, r):
        outputs = self._raw_outputs(H)
        for index, readout in enumerate(self.readouts):
            if not self.active[index]:
                continue
            u = (outputs[:, index] - readout.output_mean) / readout.output_scale
            powers = np.vander(u, self.degrees[index] + 1, increasing=True)
            self.grams[index] += powers.T @ powers
            self.rhs[index] += powers.T @ r


#: Below this reciprocal condition number a system is solved by its
#: eigenvalues (minimum norm), whose floor is the same relative 1e-12.
_CHOLESKY_MIN_RCOND = 1e-12


def _solve_ridge_system(system, rhs):
    """Solution of a symmetric PSD system; minimum-norm when near singular.

    Cholesky when the system is well conditioned (its reciprocal condition
    number, estimated by LAPACK ``pocon``, above 1e-12): the same solution
    as the eigendecomposition, several times faster (726 x 726: 12 ms
    against 72 ms). Otherwise the eigenvalues below 1e-12 of the largest are
    dropped, which gives the minimum-norm solution.
    """
    try:
        factor = linalg.cho_factor(system, check_finite=False)
        (pocon,) = lapack.get_lapack_funcs(("pocon",), (factor[0],))
        rcond, info = pocon(factor[0], np.linalg.norm(system, 1), uplo="L" if factor[1] else "U")
        if info == 0 and rcond > _CHOLESKY_MIN_RCOND:
            return linalg.cho_solve(factor, rhs, check_finite=False)
    except linalg.LinAlgError:
        pass
    eigvals, eigvecs = symmetric_eigh(system)
    floor = 1e-12 * max(float(eigvals.max(initial=0.0)), np.finfo(float).tiny)
    inverse = np.where(eigvals > floor, 1.0 / np.maximum(eigvals, floor), 0.0)
    return eigvecs @ (inverse * (eigvecs.T @ rhs))


def refit_low_degree(samples, readout, components, low_gram, low_penalty):
    """Refit the low-degree part on ``y - readout(h)`` (one backfitting step).

    Used where the joint fit does not apply (moment head, link calibration,
    moment deflation). ``[1, x, Z]^T w`` is formed from ``sum w x x^T``, so no
    ``n x D`` design is built. With ``low_gram`` None (moment deflation) the
    coefficients are the moment estimate ``(1/n) [1, x, Z]^T w``.
    """
    n_samples, d = samples.n_samples, samples.n_features

    def init():
        return {"total": 0.0, "linear": np.zeros(d), "outer": np.zeros((d, d))}

    def add_batch(stats, start, Xpre, y_scaled, residual, folds):
        w = y_scaled - readout.predict(quadratic_features(Xpre, components))
        stats["total"] += w.sum()
        stats["linear"] += Xpre.T @ w
        stats["outer"] += (Xpre * w[:, None]).T @ Xpre

    stats = samples.run(add_batch, init)
    hermite = sym_to_vec((stats["outer"] - stats["total"] * np.eye(d)) / np.sqrt(2.0))
    rhs = np.r_[stats["total"], stats["linear"], hermite] / n_samples
    if low_gram is None:
        return rhs
    system = low_gram.copy()
    system[np.diag_indices_from(system)] += np.r_[0.0, np.full(len(rhs) - 1, low_penalty)]
    return _solve_ridge_system(system, rhs)
