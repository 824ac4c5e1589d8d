"""The separation of issue 3: the spectral learner at ~27,000 samples against
exact RBF kernel ridge at 12,000, on the default dataset (d = 30, gamma = 1).

Both fits run in this process, on fresh samples from the same target, scored
on one fixed test set of 5,000 points; the ratio of their fit times is the
figure (the best of ``--repeats`` fits each).

Usage::

    python benchmarks/bench_separation.py                 # 27,000 vs 12,000
    python benchmarks/bench_separation.py --quick         # smoke run, tiny sizes

Prints a table and writes ``benchmarks/results/bench_separation.csv``.
"""

import argparse
import os

import _common

from sklearn_hierspectral import (
    HierarchicalSpectralRegressor,
    HierarchicalTargetDataset,
    make_kernel_ridge_baseline,
)
from sklearn_hierspectral._cli import DEFAULT_DATASET, DEFAULT_TEST_SIZE


def nmse(model, X, y):
    return 1.0 - model.score(X, y)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spectral-samples", type=int, default=27_000)
    parser.add_argument("--kernel-samples", type=int, default=12_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0, help="seed of the target")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check the script runs")
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.spectral_samples, args.kernel_samples, args.repeats = 3000, 1500, 1
    output = args.output or _common.default_output_dir(args.quick)

    dataset = HierarchicalTargetDataset(**DEFAULT_DATASET, random_state=args.seed)
    X_test, y_test = dataset.sample(DEFAULT_TEST_SIZE, random_state=2)
    X_spec, y_spec = dataset.sample(args.spectral_samples, random_state=11)
    X_kern, y_kern = dataset.sample(args.kernel_samples, random_state=12)

    spectral = HierarchicalSpectralRegressor(random_state=0)
    spectral_seconds = _common.best_time(lambda: spectral.fit(X_spec, y_spec), args.repeats)
    kernel = make_kernel_ridge_baseline()
    kernel_seconds = _common.best_time(lambda: kernel.fit(X_kern, y_kern), args.repeats)

    row = {
        "dataset": " ".join(f"{key}={value}" for key, value in DEFAULT_DATASET.items()),
        "spectral_samples": args.spectral_samples,
        "spectral_fit_seconds": _common.round_significant(spectral_seconds),
        "spectral_test_nmse": _common.round_significant(nmse(spectral, X_test, y_test)),
        "spectral_n_components": spectral.n_components_,
        "kernel_samples": args.kernel_samples,
        "kernel_fit_seconds": _common.round_significant(kernel_seconds),
        "kernel_test_nmse": _common.round_significant(nmse(kernel, X_test, y_test)),
        "kernel_over_spectral_time": _common.round_significant(kernel_seconds / spectral_seconds),
        "cpu": _common.cpu_model(),
        "blas": _common.blas_description(),
    }
    width = max(len(key) for key in row)
    for key, value in row.items():
        print(f"{key:<{width}}  {value}")
    path = os.path.join(output, "bench_separation.csv")
    os.makedirs(output, exist_ok=True)
    _common.write_csv_atomic([row], path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
