"""Tests of the per-direction recovery metric cos^2 (SPEC section 4)."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from sklearn_hierspectral import HierarchicalTargetDataset
from sklearn_hierspectral._hermite import vec_to_sym
from sklearn_hierspectral._recovery import (
    RECOVERY_THRESHOLD,
    direction_cos2,
    n_recovered,
)

D_FEATURES = 5  # d; D = 15


def _orthonormal_matrices(n, seed=0, d=D_FEATURES):
    """n Frobenius-orthonormal symmetric d x d matrices (via the isometry)."""
    D = d * (d + 1) // 2
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((D, D)))
    return vec_to_sym(q[:, :n].T, d)


def test_identical_spans_give_one():
    true = _orthonormal_matrices(4)
    assert_allclose(direction_cos2(true, true), np.ones(4), atol=1e-12)


def test_orthogonal_spans_give_zero():
    basis = _orthonormal_matrices(7, seed=1)
    learned, true = basis[:3], basis[3:]
    assert_allclose(direction_cos2(learned, true), np.zeros(4), atol=1e-12)


def test_diagonal_versus_off_diagonal_is_zero():
    # diag(1, 0, ..) and the symmetric off-diagonal unit E_01 are Frobenius-orthogonal.
    d = 3
    diag = np.zeros((1, d, d))
    diag[0, 0, 0] = 1.0
    off = np.zeros((1, d, d))
    off[0, 0, 1] = off[0, 1, 0] = 1.0
    assert_allclose(direction_cos2(diag, off), [0.0], atol=1e-15)
    assert_allclose(direction_cos2(off, diag), [0.0], atol=1e-15)


def test_rotated_and_rescaled_basis_of_same_span_gives_one():
    true = _orthonormal_matrices(4, seed=2)
    rng = np.random.default_rng(3)
    rotation, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    rotated = np.einsum("ab,bij->aij", rotation, true)
    assert_allclose(direction_cos2(rotated, true), np.ones(4), atol=1e-12)
    # Any invertible mixing, not only a rotation: only the span matters.
    mixing = rng.standard_normal((4, 4)) + 4 * np.eye(4)
    mixed = np.einsum("ab,bij->aij", mixing, true)
    assert_allclose(direction_cos2(mixed, true), np.ones(4), atol=1e-10)
    # And each rotated direction lies in the true span the other way round.
    assert_allclose(direction_cos2(true, rotated), np.ones(4), atol=1e-12)


def test_permuted_and_sign_flipped_directions_give_one():
    true = _orthonormal_matrices(5, seed=4)
    learned = true[[3, 0, 4, 2, 1]] * np.array([-1.0, 1.0, -1.0, -2.5, 0.3])[:, None, None]
    assert_allclose(direction_cos2(learned, true), np.ones(5), atol=1e-12)


def test_partial_span_gives_known_fraction():
    basis = _orthonormal_matrices(4, seed=5)
    u1, u2, u3, u4 = basis
    learned = np.stack([u1, u2])
    theta = 0.3
    true = np.stack(
        [
            u1,  # inside: 1
            u3,  # orthogonal: 0
            (u1 + u2 + u3) / np.sqrt(3.0),  # two of three equal parts: 2/3
            np.cos(theta) * u2 + np.sin(theta) * u4,  # cos^2(theta)
            5.0 * (u1 - u3),  # the scale of a true direction does not matter: 1/2
        ]
    )
    expected = [1.0, 0.0, 2.0 / 3.0, np.cos(theta) ** 2, 0.5]
    assert_allclose(direction_cos2(learned, true), expected, atol=1e-12)


def test_extra_learned_components_still_give_one():
    basis = _orthonormal_matrices(9, seed=6)
    true = basis[:3]
    learned = basis[[8, 1, 5, 0, 2, 7]]  # the true span plus 3 spurious directions
    assert_allclose(direction_cos2(learned, true), np.ones(3), atol=1e-12)


def test_redundant_learned_components_are_not_double_counted():
    # A rank-1 learned set given three times. Summing squared projections on the
    # raw learned vectors would give 1/2 + 1/2 + 2 = 3 (clipped to 1) for
    # (u1 + u2)/sqrt(2), whose true cos^2 is 1/2.
    u1, u2 = _orthonormal_matrices(2, seed=7)
    learned = np.stack([u1, u1, 2.0 * u1])
    true = np.stack([u1, u2, (u1 + u2) / np.sqrt(2.0)])
    assert_allclose(direction_cos2(learned, true), [1.0, 0.0, 0.5], atol=1e-12)


def test_non_orthogonal_learned_basis():
    # learned = {u1, u1 + u2}: span{u1, u2}; true u2 must give 1, not its
    # projection on the raw (non-orthonormal) vectors.
    u1, u2, u3 = _orthonormal_matrices(3, seed=8)
    learned = np.stack([u1, u1 + u2])
    true = np.stack([u2, u3, (u2 + u3) / np.sqrt(2.0)])
    assert_allclose(direction_cos2(learned, true), [1.0, 0.0, 0.5], atol=1e-12)


def test_no_learned_components_gives_zero():
    true = _orthonormal_matrices(3, seed=9)
    out = direction_cos2(np.zeros((0, D_FEATURES, D_FEATURES)), true)
    assert out.shape == (3,)
    assert_allclose(out, 0.0)
    # All-zero learned matrices span nothing either.
    assert_allclose(direction_cos2(np.zeros((2, D_FEATURES, D_FEATURES)), true), 0.0)


def test_values_in_unit_interval_for_random_spans():
    rng = np.random.default_rng(10)
    true = _orthonormal_matrices(4, seed=11)
    learned = rng.standard_normal((6, D_FEATURES, D_FEATURES))
    learned = learned + np.swapaxes(learned, 1, 2)
    cos2 = direction_cos2(learned, true)
    assert cos2.shape == (4,)
    assert np.all((cos2 >= 0) & (cos2 <= 1))
    # Sum over an orthonormal true set = squared Frobenius norm of the projector
    # restricted to it, at most min(k, p) = 4 and here strictly between 0 and 4.
    assert 0 < cos2.sum() < 4


def test_against_dataset_latent_matrices():
    ds = HierarchicalTargetDataset(8, n_latent=4, random_state=0)
    A = ds.latent_matrices
    assert_allclose(direction_cos2(A[:2], A), [1.0, 1.0, 0.0, 0.0], atol=1e-12)
    assert_allclose(direction_cos2(A[::-1], A), np.ones(4), atol=1e-12)


def test_n_recovered_counts_with_threshold():
    assert RECOVERY_THRESHOLD == 0.5
    cos2 = np.array([0.9, 0.5, 0.51, 0.1, 1.0])
    # Strictly above 0.5 (SPEC: recovered at cos^2 > 0.5): 0.9, 0.51, 1.0.
    assert n_recovered(cos2) == 3
    assert isinstance(n_recovered(cos2), int)
    assert n_recovered(cos2, threshold=0.05) == 5
    assert n_recovered(cos2, threshold=0.95) == 1
    assert n_recovered(cos2, threshold=1.0) == 0
    assert n_recovered([]) == 0
    assert n_recovered([0.2, 0.7]) == 1


def test_n_recovered_of_partial_span():
    basis = _orthonormal_matrices(4, seed=12)
    u1, u2, u3, u4 = basis
    learned = np.stack([u1, u2])
    true = np.stack([u1, 0.8 * u2 + 0.6 * u3, 0.6 * u2 + 0.8 * u4, u3])
    cos2 = direction_cos2(learned, true)
    assert_allclose(cos2, [1.0, 0.64, 0.36, 0.0], atol=1e-12)
    assert n_recovered(cos2) == 2


@pytest.mark.parametrize("d", [1, 2, 6])
def test_shapes_for_various_dimensions(d):
    D = d * (d + 1) // 2
    basis = _orthonormal_matrices(D, seed=13, d=d)
    assert_allclose(direction_cos2(basis, basis), np.ones(D), atol=1e-12)
