"""Layer 2: the quadratic and moment heads and the link calibration."""

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from sklearn_hierspectral._readout import (
    _solve_ridge_system,
    CalibrationAccumulator,
    ReadoutAccumulator,
    moment_design_coef,
    moment_matrix,
    n_design_columns,
    path_predictions,
    quadratic_design,
)


def _observed(calibration, H):
    stats = calibration.fresh()
    stats.observe(H)
    return stats


def _fit(kind, H, r, ks, alpha=0.0, link_degree=1, batch=50):
    acc = ReadoutAccumulator(kind, max(ks))
    for start in range(0, len(r), batch):
        part = ReadoutAccumulator(kind, max(ks))
        part.update(H[start : start + batch], r[start : start + batch])
        acc = acc + part
    readouts = acc.solve(ks, alpha)
    calibration = CalibrationAccumulator(readouts, link_degree)
    if calibration.needed:
        # Statistics of separate batches add up, as they do across Dask chunks.
        seen = sum(
            (_observed(calibration, H[start : start + batch]) for start in range(0, len(r), batch)),
            calibration.fresh(),
        )
        calibration.finish_observing(seen)
        stats = calibration.fresh()
        for start in range(0, len(r), batch):
            stats.update(H[start : start + batch], r[start : start + batch])
        calibration.solve(stats)
    return readouts


def test_design_columns_and_prefix_property():
    rng = np.random.default_rng(0)
    H = rng.standard_normal((7, 3))
    design = quadratic_design(H)
    assert design.shape == (7, n_design_columns(3)) == (7, 10)
    h0, h1, h2 = H.T
    expected = np.column_stack(
        [np.ones(7), h0, h0**2 - 1, h1, h1 * h0, h1**2 - 1, h2, h2 * h0, h2 * h1, h2**2 - 1]
    )
    np.testing.assert_allclose(design, expected)
    for k in range(4):
        np.testing.assert_array_equal(quadratic_design(H[:, :k]), design[:, : n_design_columns(k)])


def test_moment_head_matches_published_formula():
    rng = np.random.default_rng(1)
    n, k = 300, 4
    H = rng.standard_normal((n, k))
    r = rng.standard_normal(n)
    design = quadratic_design(H)
    B = moment_matrix(design.T @ r, n, k)
    expected_B = ((H * r[:, None]).T @ H - r.sum() * np.eye(k)) / (2 * n)
    np.testing.assert_allclose(B, expected_B, atol=1e-12)
    s_direct = np.einsum("ni,ij,nj->n", H, B, H) - np.trace(B)
    np.testing.assert_allclose(design @ moment_design_coef(B), s_direct, atol=1e-12)


def test_quadratic_head_is_ridge_on_the_design():
    rng = np.random.default_rng(2)
    n = 400
    H = rng.standard_normal((n, 3))
    r = quadratic_design(H) @ rng.standard_normal(10) + 0.1 * rng.standard_normal(n)
    alpha = 0.01
    (readout,) = _fit("quadratic", H, r, [3], alpha=alpha)
    # Our penalty is per sample and spares the intercept column; sklearn's
    # Ridge penalises the summed loss and fits the intercept unpenalised.
    design = quadratic_design(H)[:, 1:]
    ridge = Ridge(alpha=alpha * n).fit(design, r)
    np.testing.assert_allclose(readout.predict(H), ridge.predict(design), atol=1e-4)


def test_path_predictions_equal_each_readout():
    rng = np.random.default_rng(3)
    H = rng.standard_normal((500, 4))
    r = H[:, 0] * H[:, 1] + np.tanh(H[:, 2]) + 0.1 * rng.standard_normal(500)
    for kind, degree in [("quadratic", 1), ("quadratic", 3), ("moment", 1)]:
        readouts = _fit(kind, H, r, [1, 2, 3, 4], link_degree=degree)
        path = path_predictions(readouts, H)
        for index, readout in enumerate(readouts):
            np.testing.assert_allclose(path[:, index], readout.predict(H), atol=1e-10)


def test_moment_head_is_calibrated_affinely():
    rng = np.random.default_rng(4)
    H = rng.standard_normal((20_000, 2))
    r = 3.0 * (H[:, 0] ** 2 - 1) + 0.5
    (readout,) = _fit("moment", H, r, [2], batch=4096)
    assert readout.calibration.shape == (2,)
    residual = r - readout.predict(H)
    assert np.mean(residual**2) < 0.01 * np.var(r)


def test_link_calibration_captures_a_cubic_link():
    rng = np.random.default_rng(5)
    H = rng.standard_normal((20_000, 2))
    s = 0.5 * (H[:, 0] ** 2 - 1) - 0.3 * (H[:, 1] ** 2 - 1)
    r = s**3 + s
    errors = {}
    for degree in (1, 3):
        (readout,) = _fit("quadratic", H, r, [2], link_degree=degree, batch=4096)
        errors[degree] = np.mean((r - readout.predict(H)) ** 2) / np.var(r)
    assert errors[3] < 0.05 < errors[1]


def test_solve_without_samples_raises():
    with pytest.raises(ValueError, match="no samples"):
        ReadoutAccumulator("quadratic", 2).solve([1], 0.0)


def test_ridge_system_solution_well_conditioned_and_singular():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((40, 60))
    system, rhs = A @ A.T / 60, rng.standard_normal(40)
    np.testing.assert_allclose(_solve_ridge_system(system, rhs), np.linalg.solve(system, rhs),
                               rtol=1e-10)
    # Rank 5 of 40: the Cholesky route is refused and the solution is the
    # minimum-norm one, not a blow-up along the null directions.
    B = rng.standard_normal((40, 5))
    singular = B @ B.T
    rhs = singular @ rng.standard_normal(40)
    np.testing.assert_allclose(_solve_ridge_system(singular, rhs), np.linalg.pinv(singular) @ rhs,
                               atol=1e-8)
