"""Fitting on Dask arrays, on a LocalCluster the tests start themselves."""

import numpy as np
import pytest

from sklearn_hierspectral import (
    HierarchicalSpectralRegressor,
    HierarchicalSpectralTransformer,
    HierarchicalTargetDataset,
)
from sklearn_hierspectral._passes import run_pass

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("dask.distributed")


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def data():
    dataset = HierarchicalTargetDataset(10, random_state=0)
    # Uneven chunks on purpose: the last chunk is shorter.
    X_lazy, y_lazy = dataset.to_dask(25_000, chunk_size=7_000, random_state=1)
    X, y = dataset.sample_chunks(25_000, chunk_size=7_000, random_state=1)
    return dataset, X_lazy, y_lazy, X, y


def test_lazy_data_equals_eager_data(client, data):
    dataset, X_lazy, y_lazy, X, y = data
    assert X_lazy.chunks[0] == (7000, 7000, 7000, 4000)
    np.testing.assert_array_equal(X_lazy.compute(), X)
    np.testing.assert_array_equal(y_lazy.compute(), y)
    other, _ = dataset.to_dask(25_000, chunk_size=7_000, random_state=2)
    assert not np.allclose(other[:100].compute(), X[:100])
    X32, _ = dataset.to_dask(100, chunk_size=40, random_state=1, dtype=np.float32)
    assert X32.dtype == np.float32


def test_run_pass_on_chunks_equals_in_memory(client):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1003, 3))

    def add(stats, start, X_batch):
        stats["sum"] += X_batch.sum(axis=0)
        stats["weighted"] += np.arange(start, start + len(X_batch)) @ X_batch

    def init():
        return {"sum": np.zeros(3), "weighted": np.zeros(3)}

    expected = run_pass([X], add, init, batch_size=100)
    got = run_pass([da.from_array(X, chunks=(250, 2))], add, init, batch_size=64)
    np.testing.assert_allclose(got["sum"], expected["sum"], rtol=1e-12)
    np.testing.assert_allclose(got["weighted"], expected["weighted"], rtol=1e-12)


@pytest.mark.parametrize("Estimator", [HierarchicalSpectralRegressor, HierarchicalSpectralTransformer])
def test_dask_fit_equals_in_memory_fit(client, data, Estimator):
    dataset, X_lazy, y_lazy, X, y = data
    # float64 products: the chunks and the batches round alike, to 1e-9.
    on_dask = Estimator(random_state=0, precision="double").fit(X_lazy, y_lazy)
    in_memory = Estimator(random_state=0, precision="double").fit(X, y)
    assert on_dask.n_components_ == in_memory.n_components_ > 0
    np.testing.assert_allclose(on_dask.components_, in_memory.components_, atol=1e-9)
    np.testing.assert_allclose(on_dask.spectrum_, in_memory.spectrum_, atol=1e-10)
    X_test, _ = dataset.sample(500, random_state=3)
    if Estimator is HierarchicalSpectralRegressor:
        np.testing.assert_allclose(on_dask.predict(X_test), in_memory.predict(X_test), atol=1e-9)
        lazy = on_dask.predict(da.from_array(X_test, chunks=(200, 10)))
        assert isinstance(lazy, da.Array)
        np.testing.assert_allclose(lazy.compute(), in_memory.predict(X_test), atol=1e-9)
    lazy_features = on_dask.transform(da.from_array(X_test, chunks=(200, 5)))
    np.testing.assert_allclose(lazy_features.compute(), in_memory.transform(X_test), atol=1e-9)
    # float32 products (the default) round per batch and per chunk: equal up
    # to float32 rounding.
    mixed_dask = Estimator(random_state=0).fit(X_lazy, y_lazy)
    mixed_memory = Estimator(random_state=0).fit(X, y)
    assert mixed_dask.n_components_ == mixed_memory.n_components_
    np.testing.assert_allclose(mixed_dask.components_, mixed_memory.components_, atol=1e-5)


def test_dask_input_errors_are_clear(client):
    X = da.from_array(np.ones((20, 3)), chunks=10)
    with pytest.raises(ValueError, match="different numbers of rows"):
        HierarchicalSpectralRegressor().fit(X, da.ones(19, chunks=10))
    bad = da.from_array(np.r_[np.ones((19, 3)), [[np.nan, 1.0, 1.0]]], chunks=10)
    with pytest.raises(ValueError, match="NaN or infinity"):
        HierarchicalSpectralRegressor().fit(bad, da.ones(20, chunks=10))
    unknown = X[X[:, 0] > 0]
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        HierarchicalSpectralRegressor().fit(unknown, da.ones(20, chunks=10))
