"""Roofline of the fit: its time over that of the product it cannot avoid.

Every fit of :class:`HierarchicalSpectralRegressor` must form (dense solver)
or apply (matrix-free solver) the spectral matrix ``(1/n) sum r Z Z^T`` of the
degree-2 Hermite features ``Z`` (``n x D``, ``D = d(d+1)/2``). The reference
is therefore one float64 product ``Z^T (y * Z)`` of the same ``n`` and ``D``,
timed in the same process (as in ``bench_fit.py``); ``fit / reference`` is how
many such products the fit costs. Measured for each ``d`` and ``n`` of a grid
and for ``solver='dense'`` and ``solver='matrix-free'``.

When ``Z`` and ``y * Z`` together would take more than half of the memory
available, the reference is the same product summed over blocks of rows (the
note column says so); a cell is skipped, and the table says so, only when
the data themselves would take more than half of it.

For the matrix-free solver the table also gives ``n_iter_``, the number of
block products (passes over the samples) its Krylov solver made, and
``len(spectrum_)``, the dimension of the Krylov subspace; its own roofline
(fit time over ``n_iter_`` bare block products) is measured by
``bench_scale.py large-d``.

Usage::

    python benchmarks/bench_roofline.py                 # d in 20,30,50; n in 1e4..1e6 (hours)
    python benchmarks/bench_roofline.py --n-features 30 --n-samples 10000,100000
    python benchmarks/bench_roofline.py --quick         # smoke run, a few seconds

Prints one row per (d, n, solver) and writes ``benchmarks/results/bench_roofline.csv``
(``results/quick/`` with ``--quick``).
"""

import argparse
import os
import time

import numpy as np

from _common import (
    available_memory_bytes,
    best_time,
    default_output_dir,
    format_table,
    machine_info,
    round_significant,
    write_csv_atomic,
)

from sklearn_hierspectral import HierarchicalSpectralRegressor, HierarchicalTargetDataset
from sklearn_hierspectral._hermite import hermite_features, n_hermite_features

SOLVERS = ("dense", "matrix-free")
DEFAULT_N_FEATURES = (20, 30, 50)
DEFAULT_N_SAMPLES = (10_000, 30_000, 100_000, 300_000, 1_000_000)
QUICK = {"n_features": [8, 12], "n_samples": [2000, 6000], "repeats": 1}


def int_list(text):
    return [int(float(item)) for item in text.split(",") if item.strip()]


def measure_cell(dataset, n_samples, solvers, repeats, max_seconds_per_timing):
    """Rows of one (d, n) cell: each solver's fit against the reference product."""
    X, y = dataset.sample(n_samples, random_state=1)
    fits = {}
    for solver in solvers:
        model = HierarchicalSpectralRegressor(solver=solver, random_state=0)
        seconds = best_time(lambda: model.fit(X, y), repeats, max_seconds_per_timing)
        fits[solver] = (seconds, model)
    reference, note = time_reference(X, y, repeats, max_seconds_per_timing)
    rows = []
    for solver, (seconds, model) in fits.items():
        rows.append(
            {
                "n_features": dataset.n_features,
                "n_samples": n_samples,
                "D": n_hermite_features(dataset.n_features),
                "solver": solver,
                "fit_seconds": round_significant(seconds),
                "reference_seconds": round_significant(reference),
                "fit_over_reference": round_significant(seconds / reference, 3),
                "n_components": model.n_components_,
                "krylov_dimension": len(model.spectrum_) if solver == "matrix-free" else "",
                "n_iter": model.n_iter_ if solver == "matrix-free" else "",
                "note": note,
            }
        )
    return rows


def time_reference(X, y, repeats, max_seconds_per_timing):
    """Best time of the float64 product ``Z^T (y * Z)``, and a note on how it ran.

    Built after the fits, so that the fits do not run with ``Z`` in memory.
    The product holds ``Z`` and ``y * Z`` at once; when the two would take
    more than half of the available memory (d = 50, n = 10^6: 20 GB), the
    same product is summed over blocks of rows, each block's ``Z`` built
    outside the timing: the same flops in products of the same BLAS-3 shape
    (``D x rows x D`` with thousands of rows), without swapping.
    """
    n_samples, d = X.shape
    D = n_hermite_features(d)
    available = available_memory_bytes()
    whole_bytes = 2 * 8.0 * n_samples * D
    if available is None or whole_bytes <= available / 2:
        Z = hermite_features(X)
        seconds = best_time(lambda: Z.T @ (y[:, None] * Z), repeats, max_seconds_per_timing)
        return seconds, ""
    block_rows = max(int(available / 8 / (2 * 8.0 * D)), 1000)
    blocks = [slice(start, start + block_rows) for start in range(0, n_samples, block_rows)]

    def blockwise():
        total, elapsed = np.zeros((D, D)), 0.0
        for block in blocks:
            Z = hermite_features(X[block])
            start = time.perf_counter()
            total += Z.T @ (y[block, None] * Z)
            elapsed += time.perf_counter() - start
        return elapsed

    seconds = min(blockwise() for _ in range(repeats))
    note = (
        f"reference summed over {len(blocks)} blocks of {block_rows:,} rows: "
        f"Z and y * Z whole would need {whole_bytes / 1e9:.1f} GB"
    )
    return seconds, note


def skipped_row(d, n_samples, solver, note):
    return {
        "n_features": d, "n_samples": n_samples, "D": n_hermite_features(d),
        "solver": solver, "fit_seconds": "", "reference_seconds": "",
        "fit_over_reference": "", "n_components": "", "krylov_dimension": "", "n_iter": "",
        "note": note,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-features", type=int_list, default=list(DEFAULT_N_FEATURES),
                        metavar="D,D,...")
    parser.add_argument("--n-samples", type=int_list, default=list(DEFAULT_N_SAMPLES),
                        metavar="N,N,...")
    parser.add_argument("--solvers", type=lambda text: text.split(","), default=list(SOLVERS))
    parser.add_argument("--repeats", type=int, default=3, help="best of this many (default 3)")
    parser.add_argument(
        "--max-seconds-per-timing", type=float, default=120.0,
        help="stop repeating a timing once it has taken this long (default 120)",
    )
    parser.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK}")
    parser.add_argument("--output", default=None, help="folder of the CSV (default: results/)")
    args = parser.parse_args(argv)
    if args.quick:
        vars(args).update(QUICK)
    unknown = set(args.solvers) - set(SOLVERS)
    if unknown:
        parser.error(f"unknown solver(s) {sorted(unknown)}; choose from {SOLVERS}")
    output = args.output or default_output_dir(args.quick)

    machine = machine_info()
    print(f"{machine['cpu']}, {machine['cores']}; BLAS: {machine['blas']}", flush=True)
    rows = []
    path = os.path.join(output, "bench_roofline.csv")
    for d in args.n_features:
        dataset = HierarchicalTargetDataset(d, random_state=0)
        for n_samples in args.n_samples:
            # The fit holds X and y, plus its batch buffers (a few hundred MB).
            data_bytes = 8.0 * n_samples * (d + 1)
            available = available_memory_bytes()
            if available is not None and data_bytes > available / 2:
                note = (
                    f"skipped: the data need {data_bytes / 1e9:.1f} GB, more than half of the "
                    f"{available / 1e9:.1f} GB available"
                )
                cell = [skipped_row(d, n_samples, solver, note) for solver in args.solvers]
            else:
                cell = measure_cell(
                    dataset, n_samples, args.solvers, args.repeats, args.max_seconds_per_timing
                )
            for row in cell:
                print(
                    "  ".join(f"{key}={value}" for key, value in row.items() if value != ""),
                    flush=True,
                )
            rows.extend(cell)
            # After every cell, so that an interrupted grid keeps what it measured.
            write_csv_atomic(rows, path)

    print()
    print(format_table(rows))
    print("\nfit_over_reference: fit time / one float64 product Z^T (y * Z), same n, D, process.")
    print("n_iter: passes (block products) of the matrix-free solver; its own roofline is in "
          "bench_scale.py large-d.")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
