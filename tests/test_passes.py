"""Passes over samples: lanes, threads and the independence of the result from them."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from threadpoolctl import threadpool_limits

from sklearn_hierspectral import HierarchicalSpectralRegressor, HierarchicalTargetDataset
from sklearn_hierspectral._passes import (
    N_LANES,
    _lane_bounds,
    current_blas_threads,
    map_in_threads,
    run_pass,
)


@pytest.mark.parametrize("n_samples, batch_size", [(0, 10), (5, 10), (10, 10), (95, 10), (1000, 7)])
def test_lanes_cover_the_rows_on_batch_boundaries(n_samples, batch_size):
    bounds = _lane_bounds(n_samples, batch_size, N_LANES)
    assert bounds[0] == 0 and bounds[-1] == n_samples
    assert len(bounds) - 1 <= N_LANES
    assert all(lo < hi for lo, hi in zip(bounds[:-1], bounds[1:]))
    assert all(cut % batch_size == 0 for cut in bounds[:-1])


def test_run_pass_sees_every_row_once_with_its_offset():
    values = np.arange(1003, dtype=np.float64)

    def add(stats, start, batch):
        assert_array_equal(batch, values[start : start + batch.size])
        stats["sum"] += batch.sum()
        stats["seen"][start : start + batch.size] += 1

    stats = run_pass([values], add, lambda: {"sum": 0.0, "seen": np.zeros(values.size)}, 100)
    assert stats["sum"] == values.sum()
    assert_array_equal(stats["seen"], 1)


def test_map_in_threads_keeps_the_order():
    assert map_in_threads(lambda x: x * x, range(7)) == [x * x for x in range(7)]


def test_lanes_limit_blas_to_one_thread_inside_and_restore_it():
    before = current_blas_threads()
    seen = map_in_threads(lambda _: current_blas_threads(), range(2))
    if before > 1:
        assert seen == [1, 1]
    assert current_blas_threads() == before


def test_fit_is_bit_identical_with_one_thread_or_several():
    # Large enough to run its passes in parallel lanes (over 2e9 flops per pass).
    dataset = HierarchicalTargetDataset(20, random_state=0)
    X, y = dataset.sample(40_000, random_state=1)
    X_test, _ = dataset.sample(500, random_state=2)
    threaded = HierarchicalSpectralRegressor(random_state=0).fit(X, y)
    with threadpool_limits(1, user_api="blas"):
        sequential = HierarchicalSpectralRegressor(random_state=0).fit(X, y)
    assert_array_equal(threaded.components_, sequential.components_)
    assert_array_equal(threaded.predict(X_test), sequential.predict(X_test))
