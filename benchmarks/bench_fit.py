"""Fit time and memory of the spectral learner against its unavoidable product.

The reference is one float64 product ``Z^T (y * Z)`` with ``Z`` the n x D
degree-2 Hermite features (``D = d(d+1)/2``), measured in the same process:
the fit must form the spectral matrix, which is a product of that shape.

Usage::

    python benchmarks/bench_fit.py                       # d = 30, n = 147,885
    python benchmarks/bench_fit.py --n-features 20 --n-samples 50000 --repeats 2

Prints a table and writes ``benchmarks/results/bench_fit.csv``. The memory
column is the peak of numpy allocations during ``fit`` beyond the input arrays
(tracemalloc, measured in a separate fit so that tracing does not slow the
timed ones), and the peak resident set size of a child process that only
generates the data and fits.
"""

import argparse
import csv
import os
import platform
import subprocess
import sys
import tempfile
import time
import tracemalloc

from threadpoolctl import threadpool_info

from sklearn_hierspectral import HierarchicalSpectralRegressor, HierarchicalTargetDataset
from sklearn_hierspectral._hermite import hermite_features
from sklearn_hierspectral._recovery import recovery_cos2


def best_time(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def child_peak_rss(n_features, n_samples):
    """Peak RSS (MB) of a fresh process that generates the data and fits."""
    # VmHWM, not ru_maxrss: after fork + exec, Linux keeps the parent's
    # ru_maxrss, while VmHWM belongs to the new address space.
    code = (
        "from sklearn_hierspectral import HierarchicalSpectralRegressor, HierarchicalTargetDataset\n"
        "def hwm():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmHWM:'):\n"
        "            return int(line.split()[1]) / 1024\n"
        f"ds = HierarchicalTargetDataset({n_features}, random_state=0)\n"
        f"X, y = ds.sample({n_samples}, random_state=1)\n"
        "before = hwm()\n"
        "HierarchicalSpectralRegressor(random_state=0).fit(X, y)\n"
        "print(before, hwm())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), float(out[1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-features", type=int, default=30)
    parser.add_argument("--n-samples", type=int, default=147_885)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "results"))
    args = parser.parse_args(argv)

    dataset = HierarchicalTargetDataset(args.n_features, random_state=0)
    X, y = dataset.sample(args.n_samples, random_state=1)
    X_test, y_test = dataset.sample(5000, random_state=2)

    model = HierarchicalSpectralRegressor(random_state=0)
    fit_seconds = best_time(lambda: model.fit(X, y), args.repeats)
    nmse = 1.0 - model.score(X_test, y_test)
    cos2 = recovery_cos2(model, dataset)

    tracemalloc.start()
    HierarchicalSpectralRegressor(random_state=0).fit(X, y)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    Z = hermite_features(X)
    reference_seconds = best_time(lambda: Z.T @ (y[:, None] * Z), args.repeats)
    del Z
    rss_before, rss_after = child_peak_rss(args.n_features, args.n_samples)

    blas = [(lib["internal_api"], lib["num_threads"]) for lib in threadpool_info()]
    row = {
        "n_features": args.n_features,
        "n_samples": args.n_samples,
        "fit_seconds": round(fit_seconds, 3),
        "reference_product_seconds": round(reference_seconds, 3),
        "fit_over_reference": round(fit_seconds / reference_seconds, 2),
        "fit_peak_numpy_MB_beyond_input": round(traced_peak / 1e6, 1),
        "child_peak_rss_MB": round(rss_after, 1),
        "child_rss_before_fit_MB": round(rss_before, 1),
        "test_nmse": round(nmse, 4),
        "n_components": model.n_components_,
        "cos2": " ".join(f"{c:.3f}" for c in cos2),
        "blas": str(blas),
        "machine": f"{platform.machine()} {os.cpu_count()} cpus",
    }
    width = max(len(key) for key in row)
    for key, value in row.items():
        print(f"{key:<{width}}  {value}")
    os.makedirs(args.output, exist_ok=True)
    path = os.path.join(args.output, "bench_fit.csv")
    with tempfile.NamedTemporaryFile("w", dir=args.output, delete=False, suffix=".tmp") as tmp:
        writer = csv.DictWriter(tmp, fieldnames=list(row))
        writer.writeheader()
        writer.writerow(row)
    os.replace(tmp.name, path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
