"""Layer 1: the passes, the deflation, the spectral matrix and the choice of k."""

import numpy as np
import pytest

from sklearn_hierspectral import HierarchicalTargetDataset
from sklearn_hierspectral._hermite import (
    hermite_features,
    low_degree_design,
    low_degree_part,
    sym_to_vec,
    vec_to_sym,
)
from sklearn_hierspectral._krylov import block_krylov_eigsh, symmetric_eigh
from sklearn_hierspectral._preprocessing import Standardizer
from sklearn_hierspectral._passes import (
    row_uniforms,
    resolve_batch_size,
    symmetrize_upper,
    syrk_accumulate,
    syrk_accumulate_columns,
    weighted_hermite_gram,
)
from sklearn_hierspectral._spectral import (
    LOW_DEGREE_RIDGE_GRID,
    BatchPreparer,
    Samples,
    fit_layer1,
    correct_finite_size,
    fit_low_degree,
    noise_edge,
    one_standard_error_choice,
    ranked_eigh,
    sandwich_operator,
    spectral_matrices,
)

IDENTITY = Standardizer(mean=np.zeros(4), scale=np.ones(4))


def _samples(X, y, n_folds, batch_size, low_coef=None, seed=0):
    """Training data with identity preprocessing, so statistics are checkable."""
    preparer = BatchPreparer(IDENTITY, 0.0, 1.0, low_coef, n_folds, seed)
    return Samples(X, y, batch_size, preparer)


def _fold_ids(n, n_folds, seed=0):
    return (row_uniforms(0, n, seed) * n_folds).astype(np.intp)


def test_weighted_hermite_gram_matches_naive_sum_per_group():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((57, 4))
    w = rng.standard_normal(57)
    groups = rng.integers(0, 3, 57)
    Z = hermite_features(X)
    accs = [np.zeros((10, 10), order="F") for _ in range(3)]
    weighted_hermite_gram(X, w, np.empty(57 * 10), accs, groups)
    for g in range(3):
        rows = groups == g
        expected = Z[rows].T @ (w[rows, None] * Z[rows])
        np.testing.assert_allclose(symmetrize_upper(accs[g]), expected, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_symmetric_products_of_rows_and_of_columns(dtype):
    rng = np.random.default_rng(1)
    F = rng.standard_normal((40, 6)).astype(dtype)
    by_rows = syrk_accumulate(np.zeros((6, 6), order="F"), F, 2.0)
    by_columns = syrk_accumulate_columns(np.zeros((6, 6), order="F"), np.ascontiguousarray(F.T), 2.0)
    expected = 2.0 * F.astype(np.float64).T @ F
    tol = 1e-12 if dtype == np.float64 else 1e-4
    for acc in (by_rows, by_columns):
        assert acc.dtype == np.float64
        np.testing.assert_allclose(symmetrize_upper(acc), expected, atol=tol)


def test_resolve_batch_size_bounds_the_buffer():
    assert resolve_batch_size(123, 10) == 123
    rows = resolve_batch_size(None, 496)
    assert 64 <= rows <= 32768 and rows * 496 * 8 <= 2**26 + 496 * 8
    rows32 = resolve_batch_size(None, 496, itemsize=4)
    assert rows32 > rows and rows32 * 496 * 4 <= 2**26 + 496 * 4


def test_low_degree_part_equals_design_product():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((30, 4))
    coef = rng.standard_normal(1 + 4 + 10)
    F = low_degree_design(X, np.empty((30, 15)))
    np.testing.assert_allclose(low_degree_part(X, coef), F @ coef, atol=1e-12)


def test_low_degree_fit_is_least_squares_when_signal_is_strong():
    # y is exactly of degree 2 plus small noise: GCV must pick a
    # negligible penalty and the fit must match ordinary least squares.
    rng = np.random.default_rng(3)
    n = 3000
    X = rng.standard_normal((n, 4))
    F = low_degree_design(X, np.empty((n, 15)))
    true = rng.standard_normal(15)
    y = F @ true + 0.01 * rng.standard_normal(n)
    coef, penalty, _, _ = fit_low_degree(_samples(X, y, 5, 512), "least-squares")
    assert penalty <= 1e-4
    expected = np.linalg.lstsq(F, y, rcond=None)[0]
    np.testing.assert_allclose(coef, expected, atol=1e-4)


def test_low_degree_fit_shrinks_on_pure_noise():
    rng = np.random.default_rng(4)
    n = 2000
    X = rng.standard_normal((n, 4))
    y = rng.standard_normal(n)
    coef, penalty, _, _ = fit_low_degree(_samples(X, y, 5, 512), "least-squares")
    assert penalty >= 1.0
    # Unpenalised least squares would fit about 15 / 2000 of the variance.
    fitted = low_degree_part(X, coef)
    assert np.var(fitted) < 0.25 * 15 / n


def test_low_degree_penalty_minimises_gcv_computed_by_hand():
    rng = np.random.default_rng(11)
    n = 400
    X = rng.standard_normal((n, 4))
    F = low_degree_design(X, np.empty((n, 15)))
    y = 0.3 * F[:, 5] + rng.standard_normal(n)
    coef, penalty, gram, _ = fit_low_degree(_samples(X, y, 5, 64), "least-squares")
    np.testing.assert_allclose(gram, F.T @ F / n, atol=1e-12)
    scores = []
    for lam in LOW_DEGREE_RIDGE_GRID:
        hat = F @ np.linalg.solve(F.T @ F / n + lam * np.eye(15), F.T / n)
        residual = y - hat @ y
        scores.append(np.mean(residual**2) / (1 - np.trace(hat) / n) ** 2)
    assert penalty == LOW_DEGREE_RIDGE_GRID[int(np.argmin(scores))]
    expected = np.linalg.solve(F.T @ F / n + penalty * np.eye(15), F.T @ y / n)
    np.testing.assert_allclose(coef, expected, atol=1e-10)


def test_low_degree_ridge_grid_starts_at_zero():
    assert LOW_DEGREE_RIDGE_GRID[0] == 0.0
    assert np.all(np.diff(LOW_DEGREE_RIDGE_GRID) > 0)


def test_moment_deflation_is_the_sample_moment():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((500, 4))
    y = rng.standard_normal(500)
    coef, penalty, _, _ = fit_low_degree(_samples(X, y, 3, 128), "moment")
    F = low_degree_design(X, np.empty((500, 15)))
    np.testing.assert_allclose(coef, F.T @ y / 500, atol=1e-12)
    assert penalty == 0.0


def test_spectral_matrix_matches_definition_and_folds_add_up():
    rng = np.random.default_rng(6)
    n = 400
    X = rng.standard_normal((n, 4))
    y = rng.standard_normal(n)
    coef = rng.standard_normal(15) * 0.1
    folds = _fold_ids(n, 3)
    mats, sums, sizes = spectral_matrices(_samples(X, y, 3, 64, low_coef=coef), 3)
    Z = hermite_features(X)
    F = low_degree_design(X, np.empty((n, 15)))
    r = y - F @ coef
    C_naive = (Z.T @ (r[:, None] * Z) - r.sum() * np.eye(10)) / n
    C = sum(mats) / n - sums.sum() / n * np.eye(10)
    np.testing.assert_allclose(C, C_naive, atol=1e-12)
    np.testing.assert_allclose(sums, np.bincount(folds, weights=r), atol=1e-12)
    np.testing.assert_array_equal(sizes, np.bincount(folds))
    for fold in range(3):
        rows = folds == fold
        expected = Z[rows].T @ (r[rows, None] * Z[rows])
        np.testing.assert_allclose(mats[fold], expected, atol=1e-11)


def test_row_uniforms_do_not_depend_on_batching():
    whole = row_uniforms(0, 1000, seed=7)
    pieces = np.concatenate([row_uniforms(s, 100, seed=7) for s in range(0, 1000, 100)])
    np.testing.assert_array_equal(whole, pieces)
    assert 0.0 <= whole.min() and whole.max() < 1.0
    # Roughly uniform: each decile holds 100 +- 3 sd (sd = 9.5) of 1000 rows.
    counts = np.bincount((whole * 10).astype(int), minlength=10)
    assert np.all(np.abs(counts - 100) < 30)
    assert not np.array_equal(whole, row_uniforms(0, 1000, seed=8))


def test_ranked_eigh_orders_by_magnitude_with_fixed_signs():
    rng = np.random.default_rng(7)
    Q = np.linalg.qr(rng.standard_normal((5, 5)))[0]
    values = np.array([0.1, -3.0, 2.0, -0.5, 1.0])
    M = (Q * values) @ Q.T
    eigvals, eigvecs = ranked_eigh(M)
    np.testing.assert_allclose(eigvals, [-3.0, 2.0, 1.0, -0.5, 0.1], atol=1e-12)
    # The largest entry of each vector is positive, so -M gives the same vectors.
    biggest = eigvecs[np.argmax(np.abs(eigvecs), axis=0), np.arange(5)]
    assert np.all(biggest > 0)
    np.testing.assert_allclose(np.abs(eigvecs.T @ Q[:, [1, 2, 4, 3, 0]]), np.eye(5), atol=1e-10)


def test_ranked_eigh_survives_failing_lapack_drivers(monkeypatch):
    # syevr (MRRR) can stop with "Internal Error" on degenerate spectra, and
    # syevd may fail to converge; the next driver must take over.
    from scipy import linalg

    rng = np.random.default_rng(3)
    A = rng.standard_normal((40, 40))
    M = A + A.T
    reference_vals, reference_vecs = ranked_eigh(M, 3)
    real_eigh = linalg.eigh
    failing = set()

    def eigh(matrix, *args, driver=None, **kwargs):
        if driver in failing:
            raise linalg.LinAlgError("Internal Error.")
        return real_eigh(matrix, *args, driver=driver, **kwargs)

    monkeypatch.setattr(linalg, "eigh", eigh)
    for drivers in ({"evr"}, {"evr", "evd"}):
        failing = drivers
        vals, vecs = ranked_eigh(M, 3)
        np.testing.assert_allclose(vals, reference_vals, rtol=1e-10)
        np.testing.assert_allclose(vecs, reference_vecs, atol=1e-8)
    failing = {"evd"}
    T = M[:8, :8]
    vals, vecs = symmetric_eigh(T)
    np.testing.assert_allclose(vals, np.linalg.eigvalsh(T), rtol=1e-10)


def test_ranked_eigh_of_a_few_equals_the_full_decomposition():
    rng = np.random.default_rng(12)
    A = rng.standard_normal((60, 60))
    M = A + A.T
    M += 30.0 * np.outer(A[0], A[0]) / (A[0] @ A[0]) - 40.0 * np.outer(A[1], A[1]) / (A[1] @ A[1])
    all_vals, all_vecs = ranked_eigh(M)
    few_vals, few_vecs = ranked_eigh(M, 5)
    np.testing.assert_allclose(few_vals, all_vals[:5], atol=1e-10)
    np.testing.assert_allclose(few_vecs, all_vecs[:, :5], atol=1e-8)


def test_noise_edge_of_a_wigner_matrix_and_with_spikes_removed():
    # A Wigner matrix of size 400 with entry variance 1/400 has its edge at 2.
    rng = np.random.default_rng(8)
    A = rng.standard_normal((400, 400)) / np.sqrt(400)
    W = (A + A.T) / np.sqrt(2)
    eigvals = np.linalg.eigvalsh(W)
    assert noise_edge(np.sum(eigvals**2), [], 400) == pytest.approx(2.0, rel=0.05)
    assert np.max(np.abs(eigvals)) == pytest.approx(2.0, rel=0.05)
    # Two spikes added and removed again by the top values: the same edge.
    u = np.linalg.qr(rng.standard_normal((400, 2)))[0]
    spiked = np.linalg.eigvalsh(W + 10 * np.outer(u[:, 0], u[:, 0]) - 8 * np.outer(u[:, 1], u[:, 1]))
    top = np.sort(np.abs(spiked))[::-1][:2]
    assert noise_edge(np.sum(spiked**2), top, 400) == pytest.approx(2.0, rel=0.05)


@pytest.mark.parametrize(
    "errors, ses, expected",
    [
        ([1.0, 0.5, 0.4, 0.39], [0.01, 0.01, 0.01, 0.005], 3),  # gain > 1 SE
        ([1.0, 0.5, 0.4, 0.395], [0.01, 0.01, 0.01, 0.01], 2),  # within 1 SE of best
        ([1.0, 1.001, 1.002], [0.01, 0.01, 0.01], 0),  # noise: nothing helps
    ],
)
def test_one_standard_error_choice(errors, ses, expected):
    assert one_standard_error_choice(np.array(errors), np.array(ses)) == expected


def _layer1(X, y, **params):
    defaults = dict(
        n_components="auto", max_components=6, deflate=True, whiten=False, cv=5,
        readout="quadratic", alpha=1e-4, link_degree=1, batch_size=None, random_state=0,
    )
    defaults.update(params)
    return fit_layer1(X, y, **defaults)


def test_single_spike_is_found_with_its_sign():
    # y = b (h^2 - 1) with one latent direction: C has the spike 2 b a a^T.
    dataset = HierarchicalTargetDataset(8, n_latent=1, random_state=0)
    X, y = dataset.sample(40_000, random_state=1)
    fit = _layer1(X, y, n_components=1)
    learned = sym_to_vec(fit.components[0])
    true = dataset.latent_directions[0]
    # At d = 8 the fourth moments of Gaussian Hermite features bias the spike
    # (measured cos^2 0.87 here; 0.67 without deflation), so 0.8 is the bar.
    assert (learned @ true) ** 2 > 0.8
    assert np.sign(fit.spectrum[0]) == np.sign(dataset.weights[0])
    assert abs(fit.spectrum[0]) > 2 * fit.noise_edge
    # After the finite-size correction the spike sits near 2 b on the scaled
    # target (measured 0.941 against 2 b / y_scale = 0.882 at this small d).
    assert fit.spectrum[0] == pytest.approx(2 * dataset.weights[0] / fit.y_scale, rel=0.1)


def test_population_operator_of_one_deflated_feature():
    # Gaussian fourth cumulants: for r = (h^2 - 1) minus its degree-2 part
    # 2 (x^T A^2 x - tr A^2), E[r (Z Z^T - I)] = 2 a a^T + 4 (V -> A V A).
    rng = np.random.default_rng(11)
    d, n = 4, 1_000_000
    a = rng.standard_normal(10)
    a /= np.linalg.norm(a)
    A = vec_to_sym(a, d)
    X = rng.standard_normal((n, d))
    h = (np.einsum("ni,ij,nj->n", X, A, X) - np.trace(A)) / np.sqrt(2)
    A2 = A @ A
    r = h**2 - 1 - 2 * (np.einsum("ni,ij,nj->n", X, A2, X) - np.trace(A2))
    Z = hermite_features(X)
    C = (Z.T @ (r[:, None] * Z) - r.sum() * np.eye(10)) / n
    spike = 2 * np.outer(a, a)
    expected = spike + 4 * sandwich_operator(A)
    error = np.linalg.norm(C - expected) / np.linalg.norm(expected)
    without_sandwich = np.linalg.norm(C - spike) / np.linalg.norm(expected)
    # r has heavy tails (eighth moments of x enter the variance of C): the
    # Monte Carlo error measured here is 2.7 %; without the A V A term the
    # discrepancy is 69 %.
    assert error < 0.05
    assert without_sandwich > 5 * error


def test_finite_size_correction_removes_most_of_the_operator():
    # Population matrix of one deflated feature at d = 30: the one-step
    # correction (eigenvector of the uncorrected matrix, weight from its
    # eigenvalue) leaves 9 % of the A V A operator (measured) and an almost
    # exact top eigenvector.
    d = 30
    rng = np.random.default_rng(0)
    a = rng.standard_normal(d * (d + 1) // 2)
    a /= np.linalg.norm(a)
    A = vec_to_sym(a, d)
    spike = 2 * np.outer(a, a)
    full = spike + 4 * sandwich_operator(A)
    correction, n_steps = correct_finite_size(full, d, 3, edge=0.05)
    corrected = full - correction
    assert n_steps == 1  # what is left of the cloud is below twice the edge
    before = np.linalg.norm(full - spike)
    after = np.linalg.norm(corrected - spike)
    assert after < 0.15 * before
    eigvals, eigvecs = np.linalg.eigh(corrected)
    top = eigvecs[:, np.argmax(np.abs(eigvals))]
    assert (top @ a) ** 2 > 0.999


def test_auto_follows_the_number_of_strong_directions():
    dataset = HierarchicalTargetDataset(10, n_latent=3, decay=0.0, random_state=2)
    X, y = dataset.sample(30_000, random_state=3)
    fit = _layer1(X, y)
    assert fit.n_components >= 3
    assert fit.cv_errors[fit.n_components] < 0.5 * fit.cv_errors[0]


def test_auto_picks_nothing_on_pure_noise():
    rng = np.random.default_rng(9)
    X = rng.standard_normal((6000, 10))
    y = rng.standard_normal(6000)
    fit = _layer1(X, y)
    assert fit.n_components == 0
    assert fit.low_degree_penalty >= 1.0


def _cos2_in_original_coordinates(fit, mixing, true):
    # x_pre = S^T (x_mixed - mean) with x_mixed = mixing^T x, so the learned form
    # in the original coordinates is mixing S A S^T mixing^T.
    S = fit.standardizer.linear_map()
    learned = sym_to_vec(mixing @ S @ fit.components[0] @ S.T @ mixing.T)
    return (learned @ true) ** 2 / (learned @ learned)


def test_whitening_undoes_a_linear_mixing():
    rng = np.random.default_rng(10)
    dataset = HierarchicalTargetDataset(8, n_latent=1, random_state=0)
    X, y = dataset.sample(40_000, random_state=1)
    mixing = np.eye(8) + 0.5 * rng.standard_normal((8, 8))
    true = dataset.latent_directions[0]
    plain = _cos2_in_original_coordinates(_layer1(X, y, n_components=1), np.eye(8), true)
    whitened = _cos2_in_original_coordinates(
        _layer1(X @ mixing, y, n_components=1, whiten=True), mixing, true
    )
    scaled_only = _cos2_in_original_coordinates(
        _layer1(X @ mixing, y, n_components=1), mixing, true
    )
    # Measured: 0.963 plain, 0.967 whitened, 0.32 with per-column scaling only.
    assert whitened == pytest.approx(plain, abs=0.02)
    assert scaled_only < plain - 0.3


def test_matrix_free_solver_agrees_with_dense_at_d40():
    # The check: cos^2 >= 0.99 per leading component at d = 40.
    dataset = HierarchicalTargetDataset(40, random_state=3)
    X, y = dataset.sample(30_000, random_state=4)
    dense = _layer1(X, y, n_components=6, solver="dense")
    free = _layer1(X, y, n_components=6, solver="matrix-free")
    assert free.solver == "matrix-free" and dense.solver == "dense"
    for k in range(3):
        overlap = np.sum(dense.components[k] * free.components[k]) ** 2
        assert overlap >= 0.99
    # The edges differ a little (exact tr(C^2) against its Hutchinson estimate),
    # and with them the finite-size corrections: 0.1 % measured.
    np.testing.assert_allclose(free.spectrum[:3], dense.spectrum[:3], rtol=5e-3)


def test_matrix_free_auto_follows_dense_auto():
    dataset = HierarchicalTargetDataset(12, n_latent=3, decay=0.5, random_state=5)
    X, y = dataset.sample(20_000, random_state=6)
    # Without the finite-size correction the two solvers score the folds on
    # the same operators, the matrix-free one within the Krylov subspace and
    # tolerance it stops at (measured: errors within 1 %).
    dense = _layer1(X, y, solver="dense", finite_size_correction=False)
    free = _layer1(X, y, solver="matrix-free", finite_size_correction=False)
    assert abs(free.n_components - dense.n_components) <= 1
    np.testing.assert_allclose(free.cv_errors, dense.cv_errors, rtol=0.02)
    # With it, the noise edge that decides which spikes are corrected is exact
    # for the dense solver and a Hutchinson estimate for the matrix-free one
    # (measured 0.376 and 0.422 here), so the corrections may differ.
    dense = _layer1(X, y, solver="dense")
    free = _layer1(X, y, solver="matrix-free")
    assert abs(free.n_components - dense.n_components) <= 2
    assert free.noise_edge == pytest.approx(dense.noise_edge, rel=0.2)


def test_matrix_free_picks_nothing_on_pure_noise():
    rng = np.random.default_rng(12)
    X = rng.standard_normal((6000, 10))
    y = rng.standard_normal(6000)
    assert _layer1(X, y, solver="matrix-free").n_components == 0


def test_block_krylov_finds_both_ends_of_the_spectrum():
    rng = np.random.default_rng(13)
    Q = np.linalg.qr(rng.standard_normal((200, 200)))[0]
    values = np.r_[5.0, -4.0, 3.0, rng.uniform(-1, 1, 197)]
    M = (Q * values) @ Q.T
    result = block_krylov_eigsh(lambda V: M @ V, 200, 3, random_state=rng)
    assert result.converged
    np.testing.assert_allclose(result.values, [5.0, -4.0, 3.0], rtol=1e-6)
    np.testing.assert_allclose(np.abs(result.vectors.T @ Q[:, :3]), np.eye(3), atol=1e-4)


@pytest.mark.parametrize("solver", ["dense", "matrix-free"])
def test_float32_input_stays_accurate(solver):
    dataset = HierarchicalTargetDataset(16, random_state=7)
    X, y = dataset.sample(30_000, random_state=8)
    fit64 = _layer1(X, y, n_components=4, solver=solver)
    fit32 = _layer1(X.astype(np.float32), y, n_components=4, solver=solver)
    for k in range(4):
        assert np.sum(fit64.components[k] * fit32.components[k]) ** 2 > 0.999
    np.testing.assert_allclose(fit32.spectrum[:4], fit64.spectrum[:4], rtol=1e-3)
