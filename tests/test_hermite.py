"""Tests of the degree-2 Hermite features and the symmetric matrix <-> vector map."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from sklearn_hierspectral._hermite import (
    hermite_features,
    n_hermite_features,
    quadratic_features,
    sym_to_vec,
    vec_to_sym,
)


def _naive_Z(x):
    """SPEC section 2, written out: upper triangle row by row."""
    d = len(x)
    z = []
    for i in range(d):
        for j in range(i, d):
            if i == j:
                z.append((x[i] ** 2 - 1.0) / np.sqrt(2.0))
            else:
                z.append(x[i] * x[j])
    return np.array(z)


def _naive_vec(A):
    d = A.shape[0]
    a = []
    for i in range(d):
        for j in range(i, d):
            a.append(A[i, i] if i == j else np.sqrt(2.0) * A[i, j])
    return np.array(a)


def _random_sym(rng, d, k=None):
    shape = (d, d) if k is None else (k, d, d)
    M = rng.standard_normal(shape)
    return 0.5 * (M + np.swapaxes(M, -1, -2))


@pytest.mark.parametrize("d, D", [(1, 1), (2, 3), (3, 6), (5, 15), (30, 465)])
def test_n_hermite_features(d, D):
    assert n_hermite_features(d) == D


@pytest.mark.parametrize("d", [1, 2, 3, 5])
def test_hermite_features_match_definition_entry_by_entry(d):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((7, d))
    Z = hermite_features(X)
    assert Z.shape == (7, d * (d + 1) // 2)
    expected = np.stack([_naive_Z(x) for x in X])
    assert_allclose(Z, expected, rtol=1e-13, atol=1e-13)


def test_hermite_features_hand_values():
    # x = (1, 2, 3): Z = ((1-1)/r2, 1*2, 1*3, (4-1)/r2, 2*3, (9-1)/r2).
    r2 = np.sqrt(2.0)
    Z = hermite_features(np.array([[1.0, 2.0, 3.0]]))
    assert_allclose(Z[0], [0.0, 2.0, 3.0, 3.0 / r2, 6.0, 8.0 / r2], atol=1e-15)


def test_hermite_features_as_matrix_is_centred_outer_product():
    # SPEC: as a matrix, Z(x) is (x x^T - I) / sqrt(2).
    rng = np.random.default_rng(1)
    X = rng.standard_normal((4, 6))
    mats = vec_to_sym(hermite_features(X))
    expected = (X[:, :, None] * X[:, None, :] - np.eye(6)) / np.sqrt(2.0)
    assert_allclose(mats, expected, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("d", [1, 3, 8])
def test_inner_product_with_Z_is_centred_quadratic_form(d):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((11, d))
    A = _random_sym(rng, d)
    lhs = hermite_features(X) @ sym_to_vec(A)
    rhs = (np.einsum("ni,ij,nj->n", X, A, X) - np.trace(A)) / np.sqrt(2.0)
    assert_allclose(lhs, rhs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("d", [1, 2, 4, 7])
def test_sym_to_vec_matches_definition_and_round_trips(d):
    rng = np.random.default_rng(3)
    A = _random_sym(rng, d)
    a = sym_to_vec(A)
    assert a.shape == (d * (d + 1) // 2,)
    assert_allclose(a, _naive_vec(A), rtol=1e-14, atol=1e-14)
    back = vec_to_sym(a)
    assert_allclose(back, A, rtol=1e-14, atol=1e-14)
    assert_allclose(back, back.T, atol=0)
    # And the other way round: every vector is the image of a symmetric matrix.
    v = rng.standard_normal(d * (d + 1) // 2)
    assert_allclose(sym_to_vec(vec_to_sym(v)), v, rtol=1e-14, atol=1e-14)


def test_sym_to_vec_is_an_isometry():
    rng = np.random.default_rng(4)
    d = 6
    A, B = _random_sym(rng, d, k=2)
    a, b = sym_to_vec(A), sym_to_vec(B)
    assert_allclose(np.linalg.norm(a), np.linalg.norm(A, "fro"), rtol=1e-13)
    assert_allclose(a @ b, np.sum(A * B), rtol=1e-12)
    # The Frobenius inner product of symmetric matrices is tr(A B).
    assert_allclose(a @ b, np.trace(A @ B), rtol=1e-12)
    # A non-trivial check that off-diagonal entries carry the sqrt(2):
    E = np.zeros((d, d))
    E[0, 1] = E[1, 0] = 1.0  # ||E||_F = sqrt(2)
    assert_allclose(np.linalg.norm(sym_to_vec(E)), np.sqrt(2.0), rtol=1e-15)


def test_sym_to_vec_and_vec_to_sym_batched():
    rng = np.random.default_rng(5)
    d = 4
    A = _random_sym(rng, d, k=6).reshape(2, 3, d, d)
    a = sym_to_vec(A)
    assert a.shape == (2, 3, 10)
    for idx in np.ndindex(2, 3):
        assert_allclose(a[idx], _naive_vec(A[idx]), rtol=1e-14, atol=1e-14)
    assert_allclose(vec_to_sym(a), A, rtol=1e-14, atol=1e-14)
    assert vec_to_sym(a).shape == (2, 3, d, d)


@pytest.mark.parametrize("length", [2, 4, 5, 7, 9, 11])
def test_vec_to_sym_rejects_non_triangular_length(length):
    with pytest.raises(ValueError, match="not the upper triangle"):
        vec_to_sym(np.zeros(length))


def test_vec_to_sym_rejects_inconsistent_n_features():
    with pytest.raises(ValueError, match="length 6"):
        vec_to_sym(np.zeros(6), n_features=4)
    # The consistent value is accepted.
    assert vec_to_sym(np.zeros(6), n_features=3).shape == (3, 3)


def test_hermite_coordinates_are_white_under_standard_gaussian():
    # Under N(0, I) every coordinate of Z has mean 0 and variance 1 and distinct
    # coordinates are uncorrelated. Each check uses the empirical standard error
    # of the quantity it averages: se = std(sample of the summand) / sqrt(n), and
    # a margin of 5 se (two-sided tail ~6e-7 per check; ~65 checks here).
    # For scale: Var(Z_ii^2) = 14, Var(Z_ij^2) = 8, so se(variance) ~ 0.012 at
    # n = 1e5; a missing 1/sqrt(2) on the diagonal would give variance 2, and a
    # missing "-1" a mean of 1/sqrt(2), both hundreds of se away.
    rng = np.random.default_rng(6)
    n, d = 100_000, 4
    X = rng.standard_normal((n, d))
    Z = hermite_features(X)
    D = Z.shape[1]
    sqrt_n = np.sqrt(n)

    means = Z.mean(axis=0)
    se_means = Z.std(axis=0) / sqrt_n
    assert np.all(np.abs(means) < 5 * se_means), (means, se_means)

    sq = Z**2
    variances = sq.mean(axis=0)  # E Z^2, the mean being 0 by construction
    se_var = sq.std(axis=0) / sqrt_n
    assert np.all(np.abs(variances - 1.0) < 5 * se_var), (variances, se_var)

    for a in range(D):
        for b in range(a + 1, D):
            prod = Z[:, a] * Z[:, b]
            se = prod.std() / sqrt_n
            assert abs(prod.mean()) < 5 * se, (a, b, prod.mean(), se)


def test_row_scale_equals_scaling_rows_afterwards():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((9, 5))
    scale = rng.standard_normal(9)
    fused = hermite_features(X, row_scale=scale)
    assert_allclose(fused, scale[:, None] * hermite_features(X), rtol=1e-12, atol=1e-13)
    # The input is not modified.
    X_copy = X.copy()
    hermite_features(X, row_scale=scale)
    assert_allclose(X, X_copy, atol=0)


def test_out_buffer_is_written_and_returned():
    rng = np.random.default_rng(8)
    X1 = rng.standard_normal((6, 4))
    X2 = rng.standard_normal((6, 4))
    buf = np.full((6, 10), np.nan)
    Z1 = hermite_features(X1, out=buf)
    assert Z1 is buf
    assert_allclose(buf, np.stack([_naive_Z(x) for x in X1]), rtol=1e-13, atol=1e-13)
    # Reused for the next batch: the previous content must be fully overwritten.
    Z2 = hermite_features(X2, out=buf)
    assert Z2 is buf
    assert_allclose(buf, np.stack([_naive_Z(x) for x in X2]), rtol=1e-13, atol=1e-13)
    # Buffer and row scale together.
    scale = np.arange(1.0, 7.0)
    Z3 = hermite_features(X1, out=buf, row_scale=scale)
    assert Z3 is buf
    assert_allclose(buf, scale[:, None] * np.stack([_naive_Z(x) for x in X1]), rtol=1e-12)


def test_hermite_features_keeps_float32():
    rng = np.random.default_rng(9)
    X = rng.standard_normal((5, 3)).astype(np.float32)
    Z = hermite_features(X)
    assert Z.dtype == np.float32
    assert_allclose(Z, hermite_features(X.astype(np.float64)), rtol=1e-5, atol=1e-6)


def test_quadratic_features_match_naive_formula():
    rng = np.random.default_rng(10)
    n, d, k = 13, 5, 4
    X = rng.standard_normal((n, d))
    A = _random_sym(rng, d, k=k)
    H = quadratic_features(X, A)
    assert H.shape == (n, k)
    expected = np.empty((n, k))
    for mu in range(n):
        for i in range(k):
            expected[mu, i] = (X[mu] @ A[i] @ X[mu] - np.trace(A[i])) / np.sqrt(2.0)
    assert_allclose(H, expected, rtol=1e-12, atol=1e-12)
    # Consistent with the Hermite features: h_i = <a_i, Z(x)>.
    assert_allclose(H, hermite_features(X) @ sym_to_vec(A).T, rtol=1e-12, atol=1e-12)


def test_quadratic_features_single_matrix_and_identity():
    # A = I: h(x) = (||x||^2 - d) / sqrt(2).
    X = np.array([[1.0, 2.0], [0.0, 0.0], [3.0, -1.0]])
    H = quadratic_features(X, np.eye(2)[None])
    assert_allclose(H[:, 0], (np.array([5.0, 0.0, 10.0]) - 2.0) / np.sqrt(2.0))


def test_quadratic_features_with_no_matrices():
    X = np.ones((4, 3))
    H = quadratic_features(X, np.zeros((0, 3, 3)))
    assert H.shape == (4, 0)
    assert H.dtype == X.dtype
    H32 = quadratic_features(X.astype(np.float32), np.zeros((0, 3, 3), np.float32))
    assert H32.shape == (4, 0) and H32.dtype == np.float32


def test_quadratic_features_keeps_float32():
    rng = np.random.default_rng(11)
    X = rng.standard_normal((8, 4))
    A = _random_sym(rng, 4, k=3)
    H32 = quadratic_features(X.astype(np.float32), A.astype(np.float32))
    assert H32.dtype == np.float32
    assert_allclose(H32, quadratic_features(X, A), rtol=1e-4, atol=1e-5)
