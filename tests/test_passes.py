"""Passes over samples: lanes, threads and the independence of the result from them."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from threadpoolctl import threadpool_limits

from sklearn_hierspectral import HierarchicalSpectralRegressor, HierarchicalTargetDataset
from sklearn_hierspectral._passes import (
    N_LANES,
    _lane_bounds,
    batch_slices,
    current_blas_threads,
    map_in_threads,
    run_pass,
)


@pytest.mark.parametrize("n_samples", [0, 1, 5, 10, 95, 1000])
def test_lanes_split_the_rows_evenly(n_samples):
    bounds = _lane_bounds(n_samples, N_LANES)
    assert bounds[0] == 0 and bounds[-1] == n_samples
    assert len(bounds) - 1 == min(n_samples, N_LANES)
    sizes = np.diff(bounds)
    assert np.all(sizes > 0) or n_samples == 0
    assert sizes.size == 0 or np.ptp(sizes) <= 1


@pytest.mark.parametrize("n_samples, batch_size", [(0, 10), (5, 10), (10, 10), (95, 10), (1000, 7)])
def test_batches_are_as_few_as_allowed_and_even(n_samples, batch_size):
    slices = list(batch_slices(n_samples, batch_size))
    assert len(slices) == -(-n_samples // batch_size)
    sizes = [s.stop - s.start for s in slices]
    assert all(0 < size <= batch_size for size in sizes)
    assert max(sizes, default=0) - min(sizes, default=0) <= 1
    assert [s.start for s in slices[1:]] == [s.stop for s in slices[:-1]]
    assert sum(sizes) == n_samples


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
