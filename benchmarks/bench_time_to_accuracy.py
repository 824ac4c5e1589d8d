"""Time to accuracy: the shortest fit that reaches a test error, per learner.

On the default dataset of the command line (``python -m sklearn_hierspectral``:
d = 30, p = 5 latent features, gamma = 1, identity link, no noise), each
learner of the default study -- the spectral learner, exact kernel ridge with
the RBF and the degree-4 polynomial kernel, random Fourier features and
Nystroem (1,000 features), configured exactly as the command line configures
them -- is fitted on a growing grid of training sizes, each a fresh sample,
and scored on one fixed test set of 5,000 points (NMSE = mean squared error /
variance of the test targets). For each threshold (0.5, 0.3, 0.15 by
default) the table gives the smallest fit time at which a learner reached it,
or 'not reached', and the ratio 'fastest baseline / spectral'.

Budgets (command-line options): a fit may use ``--memory-budget-gb`` of
memory (default 16, two thirds of a 24 GiB machine) and take
``--time-budget`` seconds (default 600).
Exact kernel ridge grows as n^2 in memory: the baselines' memory guard is
given the budget (minus the training data) and refuses, before allocating,
a fit that would exceed it (``MemoryBudgetError``); the spectral learner,
whose memory is the data plus a constant, is refused when the data plus
0.5 GB exceeds it. Every fit runs in a fresh forked process, killed at the
time budget (plus 60 s for drawing the data and predicting); a fit that
finishes but took longer than the budget does not count. A learner stops
growing at its first refused, killed or failed fit, when the fit time
extrapolated from its last two fits (log-log slope, clipped to [1, 3])
exceeds the time budget, or when it has reached every threshold.

Usage::

    python benchmarks/bench_time_to_accuracy.py          # n = 1,000 .. 1,024,000 (15 minutes or more)
    python benchmarks/bench_time_to_accuracy.py --time-budget 120 --memory-budget-gb 4
    python benchmarks/bench_time_to_accuracy.py --learners spectral,rff --sizes 2000,8000,32000
    python benchmarks/bench_time_to_accuracy.py --quick      # smoke run, well under a minute

Prints every fit as it finishes, then the time-to-accuracy table and why each
learner stopped. Writes ``benchmarks/results/bench_time_to_accuracy.csv``
(every fit) and ``benchmarks/results/bench_time_to_accuracy_thresholds.csv``
(the table), under ``results/quick/`` with ``--quick``.
"""

import argparse
import math
import os
import time
from types import SimpleNamespace

import numpy as np
from _common import (
    default_output_dir,
    format_table,
    machine_info,
    round_significant,
    run_in_child,
    write_csv_atomic,
)

from sklearn_hierspectral import HierarchicalTargetDataset, MemoryBudgetError
from sklearn_hierspectral._cli import (
    DEFAULT_DATASET,
    DEFAULT_RF_COMPONENTS,
    DEFAULT_TEST_SIZE,
    ESTIMATORS,
)

DEFAULT_LEARNERS = ("spectral", "krr-rbf", "krr-poly", "rff", "nystroem")
BASELINES_NOTE = "every learner but 'spectral' counts as a baseline"
DEFAULT_THRESHOLDS = (0.5, 0.3, 0.15)
#: Fresh training sets of 1,000 * 2^(k/2) samples: steps of sqrt(2) keep the
#: time of the fit that first reaches a threshold within about 1.4-3x of the
#: best possible (fit times grow like n to n^3 from one size to the next).
DEFAULT_SIZES = tuple(int(round(1000 * 2 ** (k / 2))) for k in range(21))
#: Memory of the spectral fit beyond its training data (batch buffers and the
#: per-fold D x D matrices at d = 30; measured ~0.2 GB by bench_memory.py).
SPECTRAL_OVERHEAD_BYTES = 0.5e9
#: Time allowed to a child, beyond the fit, to draw its data and predict.
CHILD_SLACK_SECONDS = 60.0
QUICK = {
    "sizes": [500, 1000, 2000],
    "test_size": 1000,
    "rf_components": 200,
    "time_budget": 60.0,
    "memory_budget_gb": 2.0,
    # Loose thresholds that tiny fits reach, so that the smoke run goes
    # through the ratio as well as through 'not reached'.
    "thresholds": [1.0, 0.95, 0.5],
}


def make_dataset(config):
    return HierarchicalTargetDataset(**DEFAULT_DATASET, random_state=config["seed"])


def fit_and_score(learner, n_samples, config):
    """In a child process: draw a fresh training set, fit, score on the test set."""
    dataset = make_dataset(config)
    seed = config["seed"]
    # Distinct seed sequences: the test set, and one training set per size.
    X_test, y_test = dataset.sample(
        config["test_size"], random_state=np.random.default_rng([seed, 0, 0])
    )
    X, y = dataset.sample(n_samples, random_state=np.random.default_rng([seed, 1, n_samples]))
    options = SimpleNamespace(seed=seed, rf_components=config["rf_components"])
    estimator = ESTIMATORS[learner][0](options)
    if "kernelmemoryguard" in estimator.get_params():
        data_bytes = X.nbytes + y.nbytes + X_test.nbytes
        estimator.set_params(
            kernelmemoryguard__max_memory_bytes=max(config["memory_budget_bytes"] - data_bytes, 0)
        )
    try:
        start = time.perf_counter()
        estimator.fit(X, y)
        seconds = time.perf_counter() - start
        prediction = estimator.predict(X_test)
    except MemoryBudgetError as exc:
        return {"status": "over memory budget", "detail": str(exc).split(";")[0]}
    nmse = float(np.mean((prediction - y_test) ** 2) / np.var(y_test))
    return {"status": "ok", "fit_seconds": seconds, "test_nmse": nmse}


def predicted_seconds(history, n_next):
    """Fit time at ``n_next`` extrapolated from the last two successful fits."""
    if len(history) < 2:
        return None
    (n1, t1), (n2, t2) = history[-2:]
    if t2 < 0.5 or t1 <= 0:  # too short to extrapolate from: timer noise
        return None
    slope = min(max(math.log(t2 / t1) / math.log(n2 / n1), 1.0), 3.0)
    return t2 * (n_next / n2) ** slope


def run_learner(learner, config, thresholds):
    """Fit one learner on growing sizes; returns its rows and why it stopped."""
    d = DEFAULT_DATASET["n_features"]
    rows, history = [], []
    stop_reason = "largest size of the grid reached"
    for n_samples in config["sizes"]:
        row = {"learner": learner, "n_samples": n_samples, "fit_seconds": "", "test_nmse": ""}
        data_bytes = 8.0 * n_samples * (d + 1)
        forecast = predicted_seconds(history, n_samples)
        not_run = None
        if forecast is not None and forecast > config["time_budget"]:
            not_run = f"predicted {forecast:.0f} s > time budget"
        elif (
            learner == "spectral"
            and data_bytes + SPECTRAL_OVERHEAD_BYTES > config["memory_budget_bytes"]
        ):
            not_run = "training data + 0.5 GB > memory budget"
        if not_run:
            # A row for the size not run, so that the CSV says where and why it stopped.
            row["status"] = f"not run: {not_run}"
            rows.append(row)
            print(f"learner={learner}  n_samples={n_samples}  status={row['status']}", flush=True)
            stop_reason = f"n={n_samples:,} {row['status']}"
            break
        status, value = run_in_child(
            fit_and_score, (learner, n_samples, config),
            timeout=config["time_budget"] + CHILD_SLACK_SECONDS,
        )
        if status == "ok" and value["status"] == "ok":
            if value["fit_seconds"] > config["time_budget"]:
                row["status"] = "over time budget"
            else:
                row["status"] = "ok"
                history.append((n_samples, value["fit_seconds"]))
            row["fit_seconds"] = round_significant(value["fit_seconds"])
            # Six digits: the thresholds are compared with this value.
            row["test_nmse"] = round_significant(value["test_nmse"], 6)
        elif status == "ok":
            row["status"] = value["status"]
            row["detail"] = value.get("detail", "")
        elif status == "timeout":
            row["status"] = "killed at time budget"
        elif status == "crashed":
            row["status"] = f"child died (exit code {value})"
        else:
            row["status"] = "error"
            row["detail"] = value
        rows.append(row)
        print("  ".join(f"{key}={value}" for key, value in row.items() if value != ""), flush=True)
        if row["status"] != "ok":
            stop_reason = f"n={n_samples:,}: {row['status']}"
            break
        if all(row["test_nmse"] <= threshold for threshold in thresholds):
            stop_reason = "every threshold reached"
            break
    return rows, stop_reason


def time_to_reach(rows, learner, threshold):
    """Smallest fit time of ``learner`` with test NMSE <= threshold, or None."""
    times = [
        row["fit_seconds"]
        for row in rows
        if row["learner"] == learner and row["status"] == "ok" and row["test_nmse"] <= threshold
    ]
    return min(times) if times else None


def summarize(rows, learners, thresholds, budgets):
    """One row per threshold: each learner's time to reach it, the ratio, the budgets."""
    baselines = [learner for learner in learners if learner != "spectral"]
    table = []
    for threshold in thresholds:
        times = {learner: time_to_reach(rows, learner, threshold) for learner in learners}
        row = {"test_nmse_at_most": threshold}
        for learner in learners:
            row[f"{learner}_seconds"] = "not reached" if times[learner] is None else times[learner]
        spectral = times.get("spectral")
        reached = [times[b] for b in baselines if times[b] is not None]
        if "spectral" not in learners or not baselines:
            ratio = "n/a"
        elif spectral is None:
            ratio = "spectral not reached"
        elif reached:
            ratio = round_significant(min(reached) / spectral, 3)
        else:
            # Fit time grows with n, so a baseline that never got there would
            # have needed more than its longest fit: a lower bound.
            longest = [
                max((r["fit_seconds"] for r in rows if r["learner"] == b and r["status"] == "ok"),
                    default=0.0)
                for b in baselines
            ]
            ratio = f"> {min(longest) / spectral:.3g} (no baseline reached)"
        row["fastest_baseline_over_spectral"] = ratio
        row.update(budgets)
        table.append(row)
    return table


def float_list(text):
    return [float(item) for item in text.split(",") if item.strip()]


def int_list(text):
    return [int(float(item)) for item in text.split(",") if item.strip()]


def name_list(text):
    names = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [name for name in names if name not in ESTIMATORS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown learner(s) {unknown}; choose from {list(ESTIMATORS)}"
        )
    return names


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=name_list, default=list(DEFAULT_LEARNERS),
                        metavar="NAME,...", help=f"default: {','.join(DEFAULT_LEARNERS)}")
    parser.add_argument("--sizes", type=int_list, default=list(DEFAULT_SIZES), metavar="N,N,...")
    parser.add_argument("--thresholds", type=float_list, default=list(DEFAULT_THRESHOLDS),
                        metavar="NMSE,...")
    parser.add_argument("--test-size", type=int, default=DEFAULT_TEST_SIZE)
    parser.add_argument("--rf-components", type=int, default=DEFAULT_RF_COMPONENTS)
    parser.add_argument("--memory-budget-gb", type=float, default=16.0,
                        help="memory a fit may use (default 16)")
    parser.add_argument("--time-budget", type=float, default=600.0,
                        help="seconds a fit may take (default 600)")
    parser.add_argument("--seed", type=int, default=0, help="target, samples and learners")
    parser.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK}")
    parser.add_argument("--output", default=None, help="folder of the CSVs (default: results/)")
    args = parser.parse_args(argv)
    if args.quick:
        vars(args).update(QUICK)
    output = args.output or default_output_dir(args.quick)
    thresholds = sorted(args.thresholds, reverse=True)
    config = {
        "seed": args.seed,
        "sizes": sorted(args.sizes),
        "test_size": args.test_size,
        "rf_components": args.rf_components,
        "time_budget": args.time_budget,
        "memory_budget_bytes": args.memory_budget_gb * 1e9,
    }

    machine = machine_info()
    print(f"{machine['cpu']}, {machine['cores']}; BLAS: {machine['blas']}")
    print(
        f"dataset {DEFAULT_DATASET}, test set {args.test_size:,}; budgets per fit: "
        f"{args.memory_budget_gb:g} GB, {args.time_budget:g} s; {BASELINES_NOTE}",
        flush=True,
    )
    fits_path = os.path.join(output, "bench_time_to_accuracy.csv")
    table_path = os.path.join(output, "bench_time_to_accuracy_thresholds.csv")
    rows, stops = [], []
    for learner in args.learners:
        learner_rows, reason = run_learner(learner, config, thresholds)
        rows.extend(learner_rows)
        ok = [row for row in learner_rows if row["status"] == "ok"]
        last = ok[-1] if ok else {}
        stops.append({
            "learner": learner,
            "largest_n_fitted": last.get("n_samples", ""),
            "its_fit_seconds": last.get("fit_seconds", ""),
            "its_test_nmse": last.get("test_nmse", ""),
            "stopped_because": reason,
        })
        write_csv_atomic(rows, fits_path)  # after each learner: keep what was measured

    budgets = {"memory_budget_GB": args.memory_budget_gb, "time_budget_s": args.time_budget}
    table = summarize(rows, args.learners, thresholds, budgets)
    write_csv_atomic(table, table_path)
    print("\nSmallest fit time (s) reaching each test NMSE:")
    print(format_table(table))
    print("\nWhere each learner stopped:")
    print(format_table(stops))
    print(f"\nwrote {fits_path}\nwrote {table_path}")


if __name__ == "__main__":
    main()
