"""Fit time and memory of the spectral learner against its unavoidable product.

The reference is one float64 product ``Z^T (y * Z)`` with ``Z`` the n x D
degree-2 Hermite features (``D = d(d+1)/2``), measured in the same process:
the fit must form the spectral matrix, which is a product of that shape.

Usage::

    python benchmarks/bench_fit.py                       # d = 30, n = 147,885
    python benchmarks/bench_fit.py --n-features 20 --n-samples 50000 --repeats 2
    python benchmarks/bench_fit.py --quick               # smoke run: d = 10, n = 5,000

Prints a table and writes ``benchmarks/results/bench_fit.csv`` (with
``--quick``, ``benchmarks/results/quick/bench_fit.csv``). The memory
column is the peak of numpy allocations during ``fit`` beyond the input arrays
(tracemalloc, measured in a separate fit so that tracing does not slow the
timed ones), and the peak resident set size of a child process that only
generates the data and fits.
"""

import argparse
import os
import tracemalloc

from _common import best_time, child_peak_rss, default_output_dir, machine_info, write_csv_atomic

from sklearn_hierspectral import HierarchicalSpectralRegressor, HierarchicalTargetDataset
from sklearn_hierspectral._hermite import hermite_features
from sklearn_hierspectral._recovery import recovery_cos2

#: Smoke configuration: the whole script in a few seconds.
QUICK = {"n_features": 10, "n_samples": 5000, "repeats": 1}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-features", type=int, default=30)
    parser.add_argument("--n-samples", type=int, default=147_885)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK}")
    parser.add_argument("--output", default=None, help="folder of the CSV (default: results/)")
    args = parser.parse_args(argv)
    if args.quick:
        vars(args).update(QUICK)
    output = args.output or default_output_dir(args.quick)

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
    child = child_peak_rss(args.n_features, args.n_samples)
    # The whole child's peak: the fit's own peak (the child resets VmHWM before
    # fit) or data generation's, whichever is larger.
    child_peak = max(child["peak_rss_before_fit_MB"], child["peak_rss_after_fit_MB"])

    machine = machine_info()
    row = {
        "n_features": args.n_features,
        "n_samples": args.n_samples,
        "fit_seconds": round(fit_seconds, 3),
        "reference_product_seconds": round(reference_seconds, 3),
        "fit_over_reference": round(fit_seconds / reference_seconds, 2),
        "fit_peak_numpy_MB_beyond_input": round(traced_peak / 1e6, 1),
        "child_peak_rss_MB": round(child_peak, 1),
        "child_rss_before_fit_MB": round(child["peak_rss_before_fit_MB"], 1),
        "test_nmse": round(nmse, 4),
        "n_components": model.n_components_,
        "cos2": " ".join(f"{c:.3f}" for c in cos2),
        "blas": machine["blas"],
        "machine": f"{machine['cpu']}, {machine['cores']}",
    }
    width = max(len(key) for key in row)
    for key, value in row.items():
        print(f"{key:<{width}}  {value}")
    path = write_csv_atomic([row], os.path.join(output, "bench_fit.csv"))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
