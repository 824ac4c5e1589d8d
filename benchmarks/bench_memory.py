"""Peak memory of a fit against n: the input plus a constant.

Each fit runs in a fresh Python process (a new address space, so that every
peak is its own) that draws ``HierarchicalTargetDataset(d, random_state=0)
.sample(n, random_state=1)`` and fits ``HierarchicalSpectralRegressor``. It
reads ``/proc/self/status`` before the fit (VmRSS, and VmHWM, the peak so far,
which includes drawing the data), then resets the peak to the current RSS
(``/proc/self/clear_refs``) so that VmHWM after the fit is the fit's own peak.
``extra_MB`` = peak during fit - RSS when the fit started: what the fit needs
beyond the data it was given. If it stays flat while ``input_MB`` grows, the
fit's memory is the input plus a constant. The last line gives the slope of
``extra_MB`` against ``input_MB`` over the larger half of the grid (0 when
bounded by a constant; below one batch of rows, up to 16,384, the batch
buffers still grow with n).

Usage::

    python benchmarks/bench_memory.py                    # d = 30, n = 1e4 .. 1e6
    python benchmarks/bench_memory.py --solver matrix-free --n-features 50
    python benchmarks/bench_memory.py --quick            # smoke run, a few seconds

Prints one row per n and writes ``benchmarks/results/bench_memory.csv``
(``results/quick/`` with ``--quick``).
"""

import argparse
import os

import numpy as np
from _common import (
    child_peak_rss,
    default_output_dir,
    format_table,
    machine_info,
    write_csv_atomic,
)

DEFAULT_N_SAMPLES = (10_000, 30_000, 100_000, 300_000, 1_000_000)
QUICK = {"n_features": 10, "n_samples": [2000, 8000, 32000]}


def int_list(text):
    return [int(float(item)) for item in text.split(",") if item.strip()]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-features", type=int, default=30)
    parser.add_argument("--n-samples", type=int_list, default=list(DEFAULT_N_SAMPLES),
                        metavar="N,N,...")
    parser.add_argument("--solver", choices=("auto", "dense", "matrix-free"), default="auto")
    parser.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK}")
    parser.add_argument("--output", default=None, help="folder of the CSV (default: results/)")
    args = parser.parse_args(argv)
    if args.quick:
        vars(args).update(QUICK)
    output = args.output or default_output_dir(args.quick)
    path = os.path.join(output, "bench_memory.csv")

    machine = machine_info()
    print(f"{machine['cpu']}, {machine['cores']}, {machine['memory']}", flush=True)
    rows = []
    for n_samples in sorted(args.n_samples):
        child = child_peak_rss(args.n_features, n_samples, solver=args.solver)
        if child["peak_reset"]:
            extra = child["peak_rss_after_fit_MB"] - child["rss_before_fit_MB"]
        else:
            # The kernel refused the reset: the peak after fit may still be data
            # generation's, so this difference is only a lower bound.
            extra = child["peak_rss_after_fit_MB"] - child["peak_rss_before_fit_MB"]
        row = {
            "n_features": args.n_features,
            "n_samples": n_samples,
            "solver": child["solver"],
            "input_MB": round(child["input_MB"], 1),
            "rss_before_fit_MB": round(child["rss_before_fit_MB"], 1),
            "peak_rss_before_fit_MB": round(child["peak_rss_before_fit_MB"], 1),
            "peak_rss_after_fit_MB": round(child["peak_rss_after_fit_MB"], 1),
            "extra_MB": round(extra, 1),
            "peak_reset": child["peak_reset"],
        }
        print("  ".join(f"{key}={value}" for key, value in row.items()), flush=True)
        rows.append(row)
        write_csv_atomic(rows, path)  # after every fit: keep what was measured

    print()
    print(format_table(rows))
    if not all(row["peak_reset"] for row in rows):
        print("\nVmHWM could not be reset: extra_MB = peak after - peak before (a lower bound).")
    # The larger half of the grid: the fit's batch buffers grow with n until n
    # exceeds one batch (up to 16,384 rows, ~64 MB), and only then is the
    # extra memory the constant this benchmark is about.
    upper = rows[len(rows) // 2 :] if len(rows) >= 4 else rows[-2:]
    if len(upper) >= 2:
        inputs = np.array([row["input_MB"] for row in upper])
        extras = np.array([row["extra_MB"] for row in upper])
        slope, intercept = np.polyfit(inputs, extras, 1)
        print(
            f"\nn >= {upper[0]['n_samples']:,}: extra_MB ~ {intercept:.1f} MB + {slope:.3f} x "
            f"input_MB (input {inputs.min():.1f} -> {inputs.max():.1f} MB, extra "
            f"{extras.min():.1f} -> {extras.max():.1f} MB); a slope near 0 means the "
            "fit needs the input plus a constant"
        )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
