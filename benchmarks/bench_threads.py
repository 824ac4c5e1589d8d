"""Speed-up of the fit and of its reference product with more BLAS threads.

For each thread count (1 and 2 by default), under
``threadpoolctl.threadpool_limits(threads, user_api='blas')``, times the fit
of :class:`HierarchicalSpectralRegressor` and the reference product
``Z^T (y * Z)`` of the degree-2 Hermite features (as in ``bench_fit.py``),
both best of ``--repeats``, on the same data in the same process. The
speed-up columns compare each with its own time on the first thread count,
so that the fit's parallel efficiency can be read against that of a pure
BLAS-3 product.

The fit limits BLAS to one thread by itself when a pass is small (fewer than
2e9 flops, ``n (1 + d + D)^2``; see ``sklearn_hierspectral._passes``): the
column ``fit_single_threaded_by_package`` says when this applies, and then
its speed-up is 1 by design. ``blas_threads_seen`` is what threadpoolctl
reports inside the limit (a limit above the library's maximum is capped).

Usage::

    python benchmarks/bench_threads.py                  # d = 30, n = 147,885
    python benchmarks/bench_threads.py --threads 1,2,4 --n-samples 300000
    python benchmarks/bench_threads.py --quick          # smoke run, a few seconds

Prints one row per (n, threads) and writes ``benchmarks/results/bench_threads.csv``
(``results/quick/`` with ``--quick``).
"""

import argparse
import os

from _common import (
    best_time,
    default_output_dir,
    format_table,
    machine_info,
    round_significant,
    write_csv_atomic,
)
from threadpoolctl import threadpool_info, threadpool_limits

from sklearn_hierspectral import HierarchicalSpectralRegressor, HierarchicalTargetDataset
from sklearn_hierspectral._hermite import hermite_features, n_hermite_features

#: The package's own threshold (``_passes._SINGLE_THREAD_FLOPS``), repeated
#: here so that the benchmark does not break when that private name moves.
PACKAGE_SINGLE_THREAD_FLOPS = 2e9
QUICK = {"n_features": 10, "n_samples": [5000], "repeats": 2}


def int_list(text):
    return [int(float(item)) for item in text.split(",") if item.strip()]


def blas_threads_seen():
    counts = {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}
    return "/".join(str(count) for count in sorted(counts))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-features", type=int, default=30)
    parser.add_argument("--n-samples", type=int_list, default=[147_885], metavar="N,N,...")
    parser.add_argument("--threads", type=int_list, default=[1, 2], metavar="T,T,...")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many (default 3)")
    parser.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK}")
    parser.add_argument("--output", default=None, help="folder of the CSV (default: results/)")
    args = parser.parse_args(argv)
    if args.quick:
        vars(args).update(QUICK)
    output = args.output or default_output_dir(args.quick)
    path = os.path.join(output, "bench_threads.csv")

    machine = machine_info()
    print(f"{machine['cpu']}, {machine['cores']}; BLAS: {machine['blas']}", flush=True)
    d = args.n_features
    n_columns = 1 + d + n_hermite_features(d)
    dataset = HierarchicalTargetDataset(d, random_state=0)
    rows = []
    for n_samples in args.n_samples:
        X, y = dataset.sample(n_samples, random_state=1)
        Z = hermite_features(X)
        first_fit = first_reference = None
        for threads in args.threads:
            with threadpool_limits(limits=threads, user_api="blas"):
                seen = blas_threads_seen()
                fit_seconds = best_time(
                    lambda: HierarchicalSpectralRegressor(random_state=0).fit(X, y), args.repeats
                )
                reference_seconds = best_time(lambda: Z.T @ (y[:, None] * Z), args.repeats)
            first_fit = first_fit or fit_seconds
            first_reference = first_reference or reference_seconds
            row = {
                "n_features": d,
                "n_samples": n_samples,
                "threads": threads,
                "blas_threads_seen": seen,
                "fit_seconds": round_significant(fit_seconds),
                "fit_speedup": round_significant(first_fit / fit_seconds, 3),
                "reference_seconds": round_significant(reference_seconds),
                "reference_speedup": round_significant(first_reference / reference_seconds, 3),
                "fit_over_reference": round_significant(fit_seconds / reference_seconds, 3),
                "fit_single_threaded_by_package": float(n_samples) * n_columns**2
                < PACKAGE_SINGLE_THREAD_FLOPS,
            }
            print("  ".join(f"{key}={value}" for key, value in row.items()), flush=True)
            rows.append(row)
            write_csv_atomic(rows, path)  # after every row: keep what was measured
        Z = None  # freed before the next size draws its data

    print()
    print(format_table(rows))
    print(f"\nspeed-ups are relative to {args.threads[0]} thread(s); wrote {path}")


if __name__ == "__main__":
    main()
