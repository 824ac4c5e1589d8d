"""Scale checks: a large-d matrix-free fit, a 10^6-sample fit, and a Dask fit.

Usage::

    python benchmarks/bench_scale.py large-d      # d = 120, p = 11, n = 400,000
                                                  # (and its roofline: fit time over
                                                  # n_iter_ passes of bare block products)
    python benchmarks/bench_scale.py many-samples # d = 30, n = 1,000,000 in memory
    python benchmarks/bench_scale.py dask         # d = 30, n = 2,000,000 on 2 workers

Each case runs in a fresh process (so that the peak memory it reports is its
own: VmHWM of /proc/self/status) and prints one line of figures; the results
are also appended to ``benchmarks/results/bench_scale.csv``.
"""

import csv
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def _status_mb(key):
    """A memory line of /proc/self/status (e.g. VmHWM, the peak), in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb():
    return _status_mb("VmHWM")


def current_rss_mb():
    return _status_mb("VmRSS")


def large_d():
    from sklearn_hierspectral import HierarchicalSpectralRegressor, HierarchicalTargetDataset
    from sklearn_hierspectral._recovery import recovery_cos2

    dataset = HierarchicalTargetDataset(120, n_latent=11, decay=1.0, random_state=0)
    X, y = dataset.sample(400_000, random_state=1)
    X_test, y_test = dataset.sample(5000, random_state=2)
    input_mb = (X.nbytes + y.nbytes) / 1e6
    before = current_rss_mb()
    start = time.perf_counter()
    model = HierarchicalSpectralRegressor(random_state=0).fit(X, y)
    seconds = time.perf_counter() - start
    cos2 = recovery_cos2(model, dataset)
    reference = block_product_seconds(X, model.max_components + 5)
    return {
        "case": "large-d",
        "fit_seconds": round(seconds, 1),
        "n_iter": model.n_iter_,
        "block_products_seconds": round(reference, 2),
        "fit_over_n_iter_block_products": round(seconds / (model.n_iter_ * reference), 2),
        "solver": model.solver_,
        "deflation": model.deflation_,
        "n_components": model.n_components_,
        "peak_rss_beyond_inputs_MB": round(peak_rss_mb() - before, 1),
        "input_MB": round(input_mb, 1),
        "test_nmse": round(1 - model.score(X_test, y_test), 4),
        "cos2_top3": " ".join(f"{c:.3f}" for c in cos2[:3]),
    }


def block_product_seconds(X, block_size, batch_size=4096):
    """The matrix-free solver's own roofline: one pass of the products it needs.

    Each block product of the operator ``C[V]`` multiplies every batch of
    standardised inputs by the ``d x (block_size d)`` matrix of the block,
    ``X_b @ [A_1 ... A_k]``, and takes ``X_b^T @ S`` with ``S`` of the same
    shape: two float32 products (the default precision) per batch. Timed here
    bare, once over all rows (best of two).
    """
    d = X.shape[1]
    rng = np.random.default_rng(0)
    stacked = rng.standard_normal((d, block_size * d)).astype(np.float32)
    mean, scale = X.mean(axis=0), X.std(axis=0)

    def one_pass():
        for start in range(0, X.shape[0], batch_size):
            batch = ((X[start : start + batch_size] - mean) / scale).astype(np.float32)
            forms = batch @ stacked
            batch.T @ forms

    times = []
    for _ in range(2):
        begin = time.perf_counter()
        one_pass()
        times.append(time.perf_counter() - begin)
    return min(times)


def many_samples():
    from sklearn_hierspectral import HierarchicalSpectralRegressor, HierarchicalTargetDataset

    dataset = HierarchicalTargetDataset(30, random_state=0)
    X, y = dataset.sample(1_000_000, random_state=1)
    input_mb = (X.nbytes + y.nbytes) / 1e6
    before = current_rss_mb()
    start = time.perf_counter()
    model = HierarchicalSpectralRegressor(random_state=0).fit(X, y)
    seconds = time.perf_counter() - start
    return {
        "case": "many-samples",
        "fit_seconds": round(seconds, 1),
        "solver": model.solver_,
        "n_components": model.n_components_,
        "peak_rss_beyond_inputs_MB": round(peak_rss_mb() - before, 1),
        "input_MB": round(input_mb, 1),
    }


def on_dask():
    from dask.distributed import Client, LocalCluster

    from sklearn_hierspectral import HierarchicalSpectralRegressor, HierarchicalTargetDataset
    from sklearn_hierspectral._recovery import direction_cos2

    dataset = HierarchicalTargetDataset(30, random_state=0)
    n_samples, chunk = 2_000_000, 250_000
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, Client(cluster):
        X_lazy, y_lazy = dataset.to_dask(n_samples, chunk, random_state=1)
        start = time.perf_counter()
        on_cluster = HierarchicalSpectralRegressor(random_state=0).fit(X_lazy, y_lazy)
        dask_seconds = time.perf_counter() - start
    X, y = dataset.sample_chunks(n_samples, chunk, random_state=1)
    start = time.perf_counter()
    in_memory = HierarchicalSpectralRegressor(random_state=0).fit(X, y)
    memory_seconds = time.perf_counter() - start
    k = min(on_cluster.n_components_, in_memory.n_components_)
    per_component = [
        float(np.sum(on_cluster.components_[i] * in_memory.components_[i]) ** 2) for i in range(k)
    ]
    span = direction_cos2(on_cluster.components_, in_memory.components_)
    return {
        "case": "dask",
        "fit_seconds": round(dask_seconds, 1),
        "in_memory_fit_seconds": round(memory_seconds, 1),
        "n_components": f"{on_cluster.n_components_} vs {in_memory.n_components_}",
        "min_cos2_per_component": round(min(per_component), 6),
        "min_cos2_span": round(float(span.min()), 6),
    }


CASES = {"large-d": large_d, "many-samples": many_samples, "dask": on_dask}


def main(argv):
    names = argv or list(CASES)
    unknown = [name for name in names if name not in CASES]
    if unknown:
        sys.exit(f"unknown case(s) {unknown}; choose from {list(CASES)}")
    if len(names) > 1:
        # One process per case, so that each peak memory figure is its own.
        for name in names:
            subprocess.run([sys.executable, os.path.abspath(__file__), name], check=True)
        return
    output = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    os.makedirs(output, exist_ok=True)
    for name in names:
        row = CASES[name]()
        print("  ".join(f"{key}={value}" for key, value in row.items()), flush=True)
        path = os.path.join(output, f"bench_scale_{name}.csv")
        with tempfile.NamedTemporaryFile("w", dir=output, delete=False, suffix=".tmp") as tmp:
            writer = csv.DictWriter(tmp, fieldnames=list(row))
            writer.writeheader()
            writer.writerow(row)
        os.replace(tmp.name, path)


if __name__ == "__main__":
    main(sys.argv[1:])
