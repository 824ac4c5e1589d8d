"""The one-pass statistics of the readout: closed-form CV and the joint fit."""

import numpy as np
import pytest

from sklearn_hierspectral._hermite import low_degree_design, low_degree_part, sym_to_vec
from sklearn_hierspectral._layer2 import (
    cross_validated_errors,
    readout_statistics,
    solve_joint,
    solve_residual_readout,
)
from sklearn_hierspectral._passes import row_uniforms
from sklearn_hierspectral._preprocessing import Standardizer
from sklearn_hierspectral._readout import n_design_columns, quadratic_design
from sklearn_hierspectral._spectral import BatchPreparer, Samples

D_FEATURES = 4
IDENTITY = Standardizer(mean=np.zeros(D_FEATURES), scale=np.ones(D_FEATURES))


def _problem(n=900, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, D_FEATURES))
    y = X[:, 0] * X[:, 1] + 0.5 * (X[:, 2] ** 2 - 1) ** 2 + 0.3 * rng.standard_normal(n)
    low_coef = 0.1 * rng.standard_normal(1 + D_FEATURES + 10)
    return X, y, low_coef


def _random_directions(rng, k):
    vectors = np.linalg.qr(rng.standard_normal((10, k)))[0]
    return vectors


@pytest.mark.parametrize("joint", [True, False])
@pytest.mark.parametrize("batch_size", [64, 1000])
def test_cross_validation_statistics_equal_explicit_held_out_errors(joint, batch_size):
    X, y, low_coef = _problem()
    n, n_folds, k_max, alpha, seed = X.shape[0], 3, 3, 1e-3, 7
    rng = np.random.default_rng(1)
    fold_vectors = [_random_directions(rng, k_max) for _ in range(n_folds)]
    preparer = BatchPreparer(IDENTITY, 0.0, 1.0, low_coef, n_folds, 5)
    samples = Samples(X, y, batch_size, preparer)
    folds = (row_uniforms(0, n, 5) * n_folds).astype(np.intp)
    sizes = np.bincount(folds, minlength=n_folds)
    stats = readout_statistics(
        samples, fold_vectors[0] if joint else None, fold_vectors, joint=joint,
        fold_sizes=sizes, subsample_seed=seed,
    )
    errors, standard_errors = cross_validated_errors(stats, k_max, alpha)

    # The same by hand: train on the subsample outside each fold, score on it.
    residual = y - low_degree_part(X, low_coef)
    Z = low_degree_design(X, np.empty((n, 15)))[:, 1 + D_FEATURES :]
    rates = np.minimum(1.0, 30_000 / (n - sizes))
    uniforms = row_uniforms(0, n, seed)
    fold_errors = np.zeros((n_folds, k_max + 1))
    for fold in range(n_folds):
        design = quadratic_design(Z @ fold_vectors[fold])
        train = (uniforms < rates[fold]) & (folds != fold)
        held = folds == fold
        for k in range(k_max + 1):
            columns = n_design_columns(k)
            A = design[train, :columns]
            gram = A.T @ A / train.sum() + alpha * np.diag(np.r_[0.0, np.ones(columns - 1)])
            coef = np.linalg.solve(gram, A.T @ residual[train] / train.sum())
            fold_errors[fold, k] = np.mean((residual[held] - design[held, :columns] @ coef) ** 2)
    weights = sizes / n
    np.testing.assert_allclose(errors, weights @ fold_errors, rtol=1e-8)
    spread = weights @ (fold_errors - errors) ** 2
    np.testing.assert_allclose(standard_errors, np.sqrt(spread / (n_folds - 1)), rtol=1e-6)


def test_joint_solution_is_least_squares_on_both_designs():
    X, y, _ = _problem(seed=2)
    n, k = X.shape[0], 2
    rng = np.random.default_rng(3)
    vectors = _random_directions(rng, k)
    preparer = BatchPreparer(IDENTITY, 0.0, 1.0, np.zeros(15), 2, 0)
    samples = Samples(X, y, 128, preparer)
    final = readout_statistics(samples, vectors, None, joint=True)["final"]
    F = low_degree_design(X, np.empty((n, 15)))
    low_gram, low_rhs = F.T @ F / n, F.T @ y / n
    low_coef, readout = solve_joint(final, k, low_gram, low_rhs, 0.0, 0.0, n)
    H = F[:, 1 + D_FEATURES :] @ vectors
    full = np.hstack([F, quadratic_design(H)[:, 1:]])
    expected = np.linalg.lstsq(full, y, rcond=None)[0]
    np.testing.assert_allclose(low_coef, expected[:15], atol=1e-8)
    np.testing.assert_allclose(readout.coef[1:], expected[15:], atol=1e-8)
    assert readout.coef[0] == 0.0
    # A prefix of the statistics serves fewer components.
    low_coef_1, readout_1 = solve_joint(final, 1, low_gram, low_rhs, 0.0, 0.0, n)
    expected_1 = np.linalg.lstsq(full[:, : 15 + 2], y, rcond=None)[0]
    np.testing.assert_allclose(readout_1.coef[1:], expected_1[15:], atol=1e-8)


def test_residual_readout_is_ridge_on_the_residual():
    X, y, low_coef = _problem(seed=4)
    n, k, alpha = X.shape[0], 2, 1e-2
    vectors = _random_directions(np.random.default_rng(5), k)
    preparer = BatchPreparer(IDENTITY, 0.0, 1.0, low_coef, 2, 0)
    final = readout_statistics(Samples(X, y, 100, preparer), vectors, None, joint=False)["final"]
    readout = solve_residual_readout(final, k, alpha)
    residual = y - low_degree_part(X, low_coef)
    Z = low_degree_design(X, np.empty((n, 15)))[:, 1 + D_FEATURES :]
    design = quadratic_design(Z @ vectors)
    gram = design.T @ design / n + alpha * np.diag(np.r_[0.0, np.ones(design.shape[1] - 1)])
    np.testing.assert_allclose(readout.coef, np.linalg.solve(gram, design.T @ residual / n), atol=1e-10)


def test_empty_folds_are_skipped():
    # Two rows and five folds: most folds hold nothing; errors stay finite.
    X, y, low_coef = _problem(n=2, seed=6)
    preparer = BatchPreparer(IDENTITY, 0.0, 1.0, low_coef, 5, 0)
    vectors = [_random_directions(np.random.default_rng(f), 1) for f in range(5)]
    sizes = np.bincount((row_uniforms(0, 2, 0) * 5).astype(np.intp), minlength=5)
    stats = readout_statistics(
        Samples(X, y, 10, preparer), None, vectors, joint=False, fold_sizes=sizes
    )
    errors, standard_errors = cross_validated_errors(stats, 1, 1e-4)
    assert np.all(np.isfinite(errors)) and np.all(np.isfinite(standard_errors))


def test_vector_form_directions_match_matrix_form():
    # The features from Hermite columns and from x agree (both code paths).
    rng = np.random.default_rng(8)
    A = rng.standard_normal((D_FEATURES, D_FEATURES))
    A = A + A.T
    vector = sym_to_vec(A)
    X = rng.standard_normal((5, D_FEATURES))
    Z = low_degree_design(X, np.empty((5, 15)))[:, 1 + D_FEATURES :]
    expected = (np.einsum("ni,ij,nj->n", X, A, X) - np.trace(A)) / np.sqrt(2)
    np.testing.assert_allclose(Z @ vector, expected, atol=1e-12)
