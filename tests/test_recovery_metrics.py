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


# ---------------------------------------------------------------------------
# Principal cosines, matching, feature overlap and the recovery report.
# ---------------------------------------------------------------------------
import pandas as pd  # noqa: E402
from sklearn.linear_model import Ridge  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from sklearn_hierspectral import (  # noqa: E402
    HierarchicalSpectralRegressor,
    HierarchicalSpectralTransformer,
    make_kernel_ridge_baseline,
)
from sklearn_hierspectral._hermite import quadratic_features  # noqa: E402
from sklearn_hierspectral._recovery import (  # noqa: E402
    DirectionMatching,
    RecoveryReport,
    canonical_correlations,
    feature_overlap,
    learned_features,
    learned_input_matrices,
    match_directions,
    principal_cosines,
    recovery_cos2,
    recovery_report,
)

# Sampling tolerance of the feature overlap at N_OVERLAP test inputs: its bias
# for unrelated features is about k / n (here < 3e-4) and its standard error of
# the same order, so 0.01 leaves a wide margin.
N_OVERLAP = 20_000
OVERLAP_ATOL = 0.01


def _rotation(k, seed):
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((k, k)))
    return q


def _combine(coefficients, matrices):
    return np.einsum("ab,bij->aij", np.atleast_2d(coefficients), matrices)


# --------------------------------------------------------- principal cosines
def test_principal_cosines_identical_and_orthogonal_spans():
    basis = _orthonormal_matrices(7, seed=20)
    assert_allclose(principal_cosines(basis[:3], basis[:3]), np.ones(3), atol=1e-12)
    assert_allclose(principal_cosines(basis[:3], basis[3:]), np.zeros(3), atol=1e-12)


def test_principal_cosines_rotated_permuted_sign_flipped_basis():
    true = _orthonormal_matrices(4, seed=21)
    rotated = _combine(_rotation(4, 22), true)
    assert_allclose(principal_cosines(rotated, true), np.ones(4), atol=1e-12)
    flipped = true[[2, 0, 3, 1]] * np.array([-1.0, 3.0, -0.5, 1.0])[:, None, None]
    assert_allclose(principal_cosines(flipped, true), np.ones(4), atol=1e-12)


def test_principal_cosines_partial_span_known_angles():
    u1, u2, u3, u4 = _orthonormal_matrices(4, seed=23)
    theta, phi = 0.4, 1.1
    learned = np.stack([u1, u2])
    true = np.stack([u1, np.cos(theta) * u2 + np.sin(theta) * u3])
    assert_allclose(principal_cosines(learned, true), [1.0, np.cos(theta)], atol=1e-12)
    # One learned direction against a 2-d true span: one cosine, its projection.
    tilted = np.cos(phi) * u1 + np.sin(phi) * u4
    assert_allclose(principal_cosines(tilted[None], true), [np.cos(phi)], atol=1e-12)


def test_principal_cosines_sum_matches_direction_cos2_and_is_basis_free():
    rng = np.random.default_rng(24)
    true = _orthonormal_matrices(3, seed=25)
    learned = rng.standard_normal((4, D_FEATURES, D_FEATURES))
    learned = learned + np.swapaxes(learned, 1, 2)
    cosines = principal_cosines(learned, true)
    assert cosines.shape == (3,)
    assert np.all(np.diff(cosines) <= 1e-12) and np.all((cosines >= 0) & (cosines <= 1))
    # sum_j cos^2(theta_j) = ||P_L Q_T||_F^2 = sum_i direction_cos2_i.
    assert_allclose(np.sum(cosines**2), direction_cos2(learned, true).sum(), atol=1e-12)
    # Another orthonormal basis of the same true span: the per-direction values
    # change, the principal cosines do not.
    other = _combine(_rotation(3, 26), true)
    assert_allclose(principal_cosines(learned, other), cosines, atol=1e-12)
    assert not np.allclose(direction_cos2(learned, other), direction_cos2(learned, true))


def test_principal_cosines_shapes_and_errors():
    true = _orthonormal_matrices(2, seed=27)
    assert principal_cosines(np.zeros((0, D_FEATURES, D_FEATURES)), true).shape == (0,)
    extra = _orthonormal_matrices(6, seed=28)
    assert principal_cosines(extra, true).shape == (2,)
    with pytest.raises(ValueError, match="same size"):
        principal_cosines(np.zeros((1, 3, 3)), true)
    with pytest.raises(ValueError, match="shape"):
        principal_cosines(np.zeros((3, 3)), true)


# --------------------------------------------------------------- matching
def test_match_recovers_permutation_signs_and_scale():
    true = _orthonormal_matrices(5, seed=30)
    permutation = np.array([3, 0, 4, 2, 1])
    signs = np.array([-1.0, 1.0, -1.0, 1.0, -1.0])
    learned = true[permutation] * (signs * [0.2, 1.0, 7.0, 1.0, 3.0])[:, None, None]
    matching = match_directions(learned, true)
    assert isinstance(matching, DirectionMatching)
    assert_allclose(matching.true_index, np.arange(5))
    # learned[k] = true[permutation[k]]: true j is matched to argsort(permutation)[j].
    assert_allclose(matching.learned_index, np.argsort(permutation))
    assert_allclose(matching.cosine, signs[np.argsort(permutation)], atol=1e-12)
    assert_allclose(matching.cos2, np.ones(5), atol=1e-12)
    assert_allclose(matching.component_of_direction(), np.argsort(permutation))
    assert_allclose(match_directions(learned, true, criterion="abs").learned_index,
                    np.argsort(permutation))


def test_match_is_optimal_where_greedy_is_not():
    t1, t2, u3 = _orthonormal_matrices(3, seed=31)
    learned = np.stack([0.8 * t1 + 0.6 * t2, np.sqrt(0.5) * (t1 + u3)])
    # cos^2 table: learned 0 -> (0.64, 0.36), learned 1 -> (0.5, 0). Greedy takes
    # (0, t1) = 0.64 and is left with 0; the optimum pairs 0-t2, 1-t1 = 0.86.
    matching = match_directions(learned, np.stack([t1, t2]))
    assert_allclose(matching.learned_index, [1, 0])
    assert_allclose(matching.cos2, [0.5, 0.36], atol=1e-12)


def test_match_with_surplus_on_either_side():
    basis = _orthonormal_matrices(6, seed=32)
    true = basis[:3]
    learned = np.stack([basis[4], -basis[2], basis[5], basis[0]])  # 2 spurious
    matching = match_directions(learned, true)
    assert len(matching.true_index) == 3
    # true 0 and 2 find their copies (learned 3 and 1); true 1 has none, so it
    # gets a spurious component with cos^2 0.
    assert matching.component_of_direction()[0] == 3
    assert matching.component_of_direction()[2] == 1
    assert matching.component_of_direction()[1] in (0, 2)
    assert_allclose(matching.cos2_of_direction(), [1.0, 0.0, 1.0], atol=1e-12)
    assert_allclose(matching.cosine[[0, 2]], [1.0, -1.0], atol=1e-12)
    # Fewer learned components than directions: some directions stay unmatched.
    few = match_directions(true[[2]], true)
    assert_allclose(few.component_of_direction(), [-1, -1, 0])
    assert_allclose(few.cos2_of_direction(), [0.0, 0.0, 1.0], atol=1e-12)
    none = match_directions(np.zeros((0, D_FEATURES, D_FEATURES)), true)
    assert none.true_index.size == 0 and none.n_true == 3
    with pytest.raises(ValueError, match="criterion"):
        match_directions(true, true, criterion="l1")


# ----------------------------------------------------------- feature overlap
@pytest.fixture(scope="module")
def overlap_data():
    dataset = HierarchicalTargetDataset(8, n_latent=3, random_state=40)
    X, _ = dataset.sample(N_OVERLAP, random_state=41)
    return dataset, X, dataset.latent_features(X)


def test_overlap_of_the_true_features_is_one(overlap_data):
    dataset, X, H = overlap_data
    assert_allclose(feature_overlap(H, H), 1.0, atol=1e-10)
    # Any invertible affine map of the learned set, e.g. a rotated basis of the
    # same span of matrices: exactly 1 (the features are the same linear span).
    rotated = quadratic_features(X, _combine(_rotation(3, 42), dataset.latent_matrices))
    assert_allclose(feature_overlap(rotated, H), 1.0, atol=1e-10)
    mixed = H[:, ::-1] * [2.0, -1.0, 5.0] + 3.0
    assert_allclose(feature_overlap(mixed, H), 1.0, atol=1e-10)
    # The plain correlation version is ~1 too, for these decorrelated features.
    plain = feature_overlap(rotated, H, method="correlation")
    assert_allclose(plain, 1.0, atol=OVERLAP_ATOL)


def test_overlap_of_independent_or_orthogonal_features_is_zero(overlap_data):
    dataset, X, H = overlap_data
    noise = np.random.default_rng(43).standard_normal((N_OVERLAP, 3))
    assert feature_overlap(noise, H) < OVERLAP_ATOL
    assert feature_overlap(noise, H, method="correlation") < OVERLAP_ATOL
    # Quadratic features of matrices Frobenius-orthogonal to the latent ones:
    # uncorrelated with them under Gaussian inputs.
    D = dataset.latent_directions.shape[1]
    complement = np.linalg.svd(dataset.latent_directions, full_matrices=True)[2][3:]
    orthogonal = quadratic_features(X, vec_to_sym(complement[:4], 8))
    assert complement.shape == (D - 3, D)
    assert feature_overlap(orthogonal, H) < OVERLAP_ATOL
    assert feature_overlap(np.zeros((N_OVERLAP, 0)), H) == 0.0
    assert feature_overlap(np.ones((N_OVERLAP, 2)), H) == 0.0  # constant features


def test_overlap_of_partial_features_gives_known_fraction(overlap_data):
    dataset, X, H = overlap_data
    # One of three true features: rho = (1,), overlap 1/3 exactly.
    assert_allclose(feature_overlap(H[:, :1], H), 1.0 / 3.0, atol=1e-10)
    # A learned matrix at angle theta to A_1 (the rest orthogonal to the latent
    # span): rho^2 ~ cos^2(theta) by the Hermite isometry, overlap cos^2 / 3.
    theta = 0.6
    complement = np.linalg.svd(dataset.latent_directions, full_matrices=True)[2][3:]
    tilted = np.cos(theta) * dataset.latent_matrices[0] + np.sin(theta) * vec_to_sym(
        complement[0], 8
    )
    H_tilted = quadratic_features(X, tilted[None])
    expected = np.cos(theta) ** 2 / 3.0
    assert_allclose(feature_overlap(H_tilted, H), expected, atol=OVERLAP_ATOL)
    assert_allclose(canonical_correlations(H_tilted, H) ** 2, [np.cos(theta) ** 2],
                    atol=3 * OVERLAP_ATOL)


def test_overlap_estimates_mean_direction_cos2(overlap_data):
    dataset, X, H = overlap_data
    rng = np.random.default_rng(44)
    learned = rng.standard_normal((4, 8, 8))
    learned = learned + np.swapaxes(learned, 1, 2)
    learned += 6.0 * _combine(rng.standard_normal((4, 3)), dataset.latent_matrices)
    expected = direction_cos2(learned, dataset.latent_matrices).mean()
    assert 0.2 < expected < 0.95
    overlap = feature_overlap(quadratic_features(X, learned), H)
    assert_allclose(overlap, expected, atol=2 * OVERLAP_ATOL)


def test_overlap_redundant_features_cca_versus_correlation(overlap_data):
    _, _, H = overlap_data
    redundant = np.column_stack([H[:, 0], H[:, 0], -2.0 * H[:, 0]])
    # CCA counts the span once; the plain correlation counts each copy.
    assert_allclose(feature_overlap(redundant, H), 1.0 / 3.0, atol=1e-10)
    assert_allclose(feature_overlap(redundant, H, method="correlation"), 1.0,
                    atol=OVERLAP_ATOL)


def test_overlap_errors():
    with pytest.raises(ValueError, match="method"):
        feature_overlap(np.ones((5, 1)), np.ones((5, 1)), method="mutual")
    with pytest.raises(ValueError, match="same"):
        feature_overlap(np.ones((5, 1)), np.ones((4, 1)))
    with pytest.raises(ValueError, match="no columns"):
        feature_overlap(np.ones((5, 1)), np.ones((5, 0)))


# --------------------------------------------------------------- the report
@pytest.fixture(scope="module")
def fitted():
    """d = 10, p = 3, n = 20000: the three directions are recovered."""
    dataset = HierarchicalTargetDataset(10, n_latent=3, random_state=0)
    X, y = dataset.sample(20_000, random_state=1)
    model = HierarchicalSpectralRegressor(n_components=8, random_state=0).fit(X, y)
    return dataset, X, y, model


def test_report_on_a_fitted_regressor(fitted):
    dataset, _, _, model = fitted
    report = recovery_report(model, dataset, n_samples=20_000)
    assert isinstance(report, RecoveryReport)
    assert report.n_recovered == 3 and report.recovered.all()
    assert np.all(report.cos2 > 0.7)
    assert report.predicted_n_recovered == dataset.predicted_n_recovered(20_000) == 3
    assert report.n_samples == 20_000 and report.n_components == 8
    assert_allclose(report.cos2, recovery_cos2(model, dataset))
    assert_allclose(np.sum(report.principal_cosines**2), report.cos2.sum(), atol=1e-10)
    # The feature overlap measured on 5000 test inputs estimates mean(cos2).
    assert_allclose(report.feature_overlap, report.cos2.mean(), atol=0.03)
    # A single matched component carries at most what the whole span carries.
    assert np.all(report.matching.cos2_of_direction() <= report.cos2 + 1e-12)
    assert_allclose(report.weights, dataset.weights)
    assert_allclose(report.threshold_samples, dataset.threshold_samples())
    assert "n_recovered=3/3" in repr(report) and "theory: 3" in repr(report)


def test_report_frame(fitted):
    dataset, _, _, model = fitted
    frame = recovery_report(model, dataset).to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == [
        "direction", "weight", "cos2", "recovered", "threshold_n",
        "matched_component", "matched_cos2",
    ]
    assert frame["direction"].tolist() == [0, 1, 2]
    assert np.all(np.diff(np.abs(frame["weight"])) <= 0)  # by decreasing |weight|
    assert frame["recovered"].dtype == bool and frame["recovered"].all()
    assert_allclose(frame["threshold_n"], dataset.threshold_samples())
    assert set(frame["matched_component"]) <= set(range(8))


def test_report_threshold_test_inputs_and_no_n_samples(fitted):
    dataset, _, _, model = fitted
    strict = recovery_report(model, dataset, threshold=0.999, n_test=500)
    assert strict.n_recovered == 0 and not strict.recovered.any()
    assert strict.predicted_n_recovered is None and strict.n_samples is None
    X_test, _ = dataset.sample(3000, random_state=7)
    a = recovery_report(model, dataset, X_test=X_test)
    b = recovery_report(model, dataset, X_test=X_test)
    assert a.feature_overlap == b.feature_overlap
    # Drawn test inputs are seeded: the same report twice.
    assert recovery_report(model, dataset, n_test=800).feature_overlap == (
        recovery_report(model, dataset, n_test=800).feature_overlap
    )


def test_report_through_pipelines(fitted):
    dataset, X, y, model = fitted
    layer1 = make_pipeline(
        HierarchicalSpectralTransformer(n_components=8, random_state=0), Ridge()
    ).fit(X, y)
    X_test, _ = dataset.sample(2000, random_state=8)
    assert_allclose(learned_features(layer1, X_test), layer1[0].transform(X_test))
    report = recovery_report(layer1, dataset, X_test=X_test)
    assert report.n_recovered == 3 and report.n_components == 8
    scaled = make_pipeline(StandardScaler(), model).fit(X, y)
    H = learned_features(scaled, X_test)
    assert_allclose(H, scaled.transform(X_test))
    assert recovery_report(scaled, dataset, X_test=X_test).n_recovered == 3


def test_report_refuses_estimators_without_learned_features(fitted):
    dataset, X, y, _ = fitted
    baseline = make_kernel_ridge_baseline()
    assert learned_input_matrices(baseline) is None
    assert learned_features(baseline, X[:5]) is None
    with pytest.raises(ValueError, match="no learned quadratic features"):
        recovery_report(baseline, dataset)
