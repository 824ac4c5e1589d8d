"""Run every benchmark of this folder and regenerate the markdown results page.

Each suite runs in its own process (so that timings and peak memory are not
affected by the suites before it), with its output shown as it comes. Then
``benchmarks/results/RESULTS.md`` is rewritten (atomically) from the CSV files
the suites wrote: a description of the machine (CPU model from
/proc/cpuinfo, cores, memory, BLAS as threadpoolctl reports it, versions,
commit, date) and one table per CSV, with the command that produced it.
``bench_accuracy.py`` writes no CSV: its printed output is kept in
``results/bench_accuracy.log`` and shown as it is.

With ``--quick`` every suite that has a smoke configuration runs it, writing
into ``benchmarks/results/quick/`` (``RESULTS.md`` included), so that a smoke
run never replaces a measurement; ``bench_scale.py`` and
``bench_accuracy.py`` have none and are skipped.

Usage::

    python benchmarks/run_all.py                        # everything: several hours
    python benchmarks/run_all.py --quick                # smoke run, about a minute
    python benchmarks/run_all.py --suites fit,memory    # some suites only
    python benchmarks/run_all.py --report-only          # RESULTS.md from the CSVs already there

In the full configuration (not ``--quick``) it also rewrites the README's
performance table, between the markers ``README_START`` and ``README_END``:
one line per suite with its headline figures read from the same CSVs, the
command that produced them and the machine they were measured on.

Exits with status 1 if a suite failed (the others still run, and the page
says which failed).
"""

import argparse
import csv
import datetime
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field

from _common import MEASURED_COLUMN, default_output_dir, machine_info, write_text_atomic

HERE = os.path.dirname(os.path.abspath(__file__))
README = os.path.join(os.path.dirname(HERE), "README.md")
README_START = "<!-- performance table: written by python benchmarks/run_all.py, do not edit -->"
README_END = "<!-- end of performance table -->"
#: First line of a suite's kept output: when it ran.
LOG_STAMP = "measured "


@dataclass
class Suite:
    name: str
    script: str
    title: str
    description: str
    csv_files: list = field(default_factory=list)
    has_quick: bool = True
    full_args: list = field(default_factory=list)
    log_file: str = None  # for a suite that only prints
    env: dict = field(default_factory=dict)  # environment variables the suite runs with

    def command(self, quick):
        args = ["--quick"] if quick and self.has_quick else self.full_args
        prefix = [f"{key}={value}" for key, value in self.env.items()]
        return " ".join([*prefix, "python", f"benchmarks/{self.script}", *args])


#: OpenBLAS's SkylakeX (AVX-512) kernels, which it picks on this repository's
#: AMD EPYC machines, crash (segmentation fault in a copy kernel) in a
#: two-thread Cholesky factorisation of n >= 16,000 (n = 15,000 works):
#: ``numpy.linalg.cholesky`` and ``scipy.linalg.solve(..., assume_a='pos')``
#: alike, so exact kernel ridge dies at 16,000 samples. The Zen (AVX2)
#: kernels do not, and run the fit and its reference product as fast
#: (measured: fit 1.31 s vs 1.34 s, reference 0.75 s vs 0.80 s at d = 30,
#: n = 147,885), so the suite that fits kernel ridge that far uses them on
#: x86-64.
KERNEL_RIDGE_SAFE_BLAS = {"OPENBLAS_CORETYPE": "Zen"} if platform.machine() == "x86_64" else {}


SUITES = [
    Suite(
        "fit", "bench_fit.py", "Fit time and memory against the reference product",
        "One fit (d = 30, n = 147,885 by default) against one float64 product Z^T (y * Z) "
        "of the Hermite features, same process.",
        ["bench_fit.csv"],
    ),
    Suite(
        "roofline", "bench_roofline.py", "Roofline: fit time / reference product",
        "fit_over_reference = fit time / one float64 product Z^T (y * Z) of the same n and "
        "D, same process; for both solvers. Where Z and y * Z would not fit in half the "
        "available memory, the reference is summed over blocks of rows (see the note).",
        ["bench_roofline.csv"],
        full_args=["--n-samples", "10000,100000,1000000", "--repeats", "2",
                   "--max-seconds-per-timing", "60"],
    ),
    Suite(
        "time_to_accuracy", "bench_time_to_accuracy.py", "Time to accuracy",
        "Default dataset of the command line (d = 30, p = 5, gamma = 1); fresh training "
        "sets of growing size, one fixed test set. Smallest fit time (s) reaching each "
        "test NMSE within the memory and time budgets per fit (last columns); then every "
        "fit, with the size at which each learner stopped and why.",
        ["bench_time_to_accuracy_thresholds.csv", "bench_time_to_accuracy.csv"],
        env=KERNEL_RIDGE_SAFE_BLAS,
    ),
    Suite(
        "separation", "bench_separation.py", "Separation: spectral at 27,000 vs RBF kernel ridge at 12,000",
        "Default dataset of the command line; both fits in one process, best of 2; "
        "kernel_over_spectral_time is the ratio of their fit times.",
        ["bench_separation.csv"],
    ),
    Suite(
        "memory", "bench_memory.py", "Peak memory against n",
        "Each fit in a fresh process; extra_MB = peak RSS during fit - RSS when the fit "
        "started. Flat extra_MB while input_MB grows: the input plus a constant.",
        ["bench_memory.csv"],
    ),
    Suite(
        "threads", "bench_threads.py", "BLAS threads",
        "Fit and reference product with 1 and 2 BLAS threads (threadpoolctl); speed-ups "
        "relative to 1 thread.",
        ["bench_threads.csv"],
    ),
    Suite(
        "scale", "bench_scale.py", "Scale checks",
        "A d = 120 matrix-free fit, 10^6 samples in memory and a Dask fit on 2,000,000 "
        "samples, each in its own process.",
        ["bench_scale_large-d.csv", "bench_scale_many-samples.csv", "bench_scale_dask.csv"],
        has_quick=False,
    ),
    Suite(
        "accuracy", "bench_accuracy.py", "Accuracy on the reference settings",
        "Test NMSE and cos^2 per direction on several targets, pure noise, and the "
        "finite-size correction on and off (printed output).",
        has_quick=False, log_file="bench_accuracy.log",
    ),
]
SUITE_NAMES = [suite.name for suite in SUITES]


def run_suite(suite, quick, output_dir):
    """Run one suite, echoing its output; returns (exit code, seconds, output)."""
    command = [sys.executable, os.path.join(HERE, suite.script)] + (
        ["--quick"] if quick else suite.full_args
    )
    print(f"\n=== {suite.name}: {suite.command(quick)}", flush=True)
    start = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
        env={**os.environ, **suite.env},
    )
    lines = []
    for line in process.stdout:
        print(line, end="", flush=True)
        lines.append(line)
    code = process.wait()
    seconds = time.perf_counter() - start
    output = "".join(lines)
    if suite.log_file and code == 0:
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        write_text_atomic(f"{LOG_STAMP}{stamp}\n{output}", os.path.join(output_dir, suite.log_file))
    return code, seconds, output


# ------------------------------------------------------------------ markdown
def escape(value):
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(header, rows):
    lines = ["| " + " | ".join(escape(cell) for cell in header) + " |"]
    lines.append("|" + "|".join("---" for _ in header) + "|")
    lines.extend("| " + " | ".join(escape(cell) for cell in row) + " |" for row in rows)
    return "\n".join(lines)


def csv_as_markdown(path):
    """A CSV file as a markdown table; one wide row is shown as quantity | value.

    The ``measured_utc`` column is left out: the page gives it once per file.
    """
    with open(path, newline="") as source:
        rows = list(csv.reader(source))
    if not rows:
        return "(empty file)"
    if MEASURED_COLUMN in rows[0]:
        drop = rows[0].index(MEASURED_COLUMN)
        rows = [row[:drop] + row[drop + 1:] for row in rows]
    header, body = rows[0], rows[1:]
    if len(body) == 1 and len(header) > 6:
        return markdown_table(["quantity", "value"], list(zip(header, body[0])))
    return markdown_table(header, body)


def modified_utc(path):
    """When the CSV was written: its ``measured_utc`` column (the latest), or
    the file's modification time for a file written before that column."""
    with open(path, newline="") as source:
        if path.endswith(".log"):
            first = source.readline()
            stamps = [first[len(LOG_STAMP):].strip()] if first.startswith(LOG_STAMP) else []
        else:
            stamps = [row.get(MEASURED_COLUMN) for row in csv.DictReader(source)]
    stamps = [stamp for stamp in stamps if stamp]
    if stamps:
        return max(stamps)
    stamp = datetime.datetime.fromtimestamp(os.path.getmtime(path), datetime.timezone.utc)
    return stamp.strftime("%Y-%m-%d %H:%M UTC")


def results_page(suites, quick, output_dir, outcomes):
    """The markdown page: machine, then each suite's tables (or why there are none)."""
    machine = machine_info()
    mode = "`--quick` smoke configuration: tiny sizes, the figures only show that the " \
        "scripts run" if quick else "full configuration"
    parts = [
        "# Benchmark results",
        "",
        f"Generated by `python benchmarks/run_all.py{' --quick' if quick else ''}` on "
        f"{machine['date']} ({mode}). Each table comes from a CSV file of "
        f"`benchmarks/results/{'quick/' if quick else ''}`; rerun a suite with the command "
        "shown above its table.",
        "",
        "## Machine",
        "",
        markdown_table(["item", "value"], list(machine.items())),
    ]
    for suite in suites:
        parts += ["", f"## {suite.title}", "", f"`{suite.command(quick)}`", "", suite.description]
        outcome = outcomes.get(suite.name)
        if quick and not suite.has_quick:
            parts += ["", "Not run: this suite has no `--quick` configuration."]
            continue
        if outcome is not None and outcome[0] != 0:
            parts += ["", f"**This run failed** (exit code {outcome[0]}); tables below, if "
                      "any, are from an earlier run."]
        elif outcome is not None:
            parts += ["", f"Ran in {outcome[1]:.0f} s."]
        files = [name for name in suite.csv_files if os.path.exists(os.path.join(output_dir, name))]
        for name in files:
            path = os.path.join(output_dir, name)
            parts += [
                "", f"From `{name}`, written {modified_utc(path)}:", "", csv_as_markdown(path)
            ]
        if suite.log_file:
            path = os.path.join(output_dir, suite.log_file)
            if os.path.exists(path):
                with open(path) as log:
                    text = log.read()
                if text.startswith(LOG_STAMP):
                    text = text.split("\n", 1)[1] if "\n" in text else ""
                parts += ["", f"Output ({modified_utc(path)}):", "", "```", text.rstrip(), "```"]
                files.append(suite.log_file)
        if not files:
            parts += ["", "No results yet."]
    return "\n".join(parts) + "\n"


# ------------------------------------------------------------- README table
def read_csv(output_dir, name):
    path = os.path.join(output_dir, name)
    if not os.path.exists(path):
        return None
    with open(path, newline="") as source:
        return list(csv.DictReader(source))


def _fit_figures(rows):
    row = rows[0]
    return (
        f"d = {row['n_features']}, n = {int(row['n_samples']):,}: fit {row['fit_seconds']} s "
        f"against {row['reference_product_seconds']} s for one float64 `Z^T (y * Z)`: "
        f"**{row['fit_over_reference']}x**; test NMSE {row['test_nmse']}, cos^2 {row['cos2']}; "
        f"peak numpy allocations {row['fit_peak_numpy_MB_beyond_input']} MB beyond the input"
    )


def _roofline_figures(rows):
    parts = []
    for solver in ("dense", "matrix-free"):
        cells = [r for r in rows if r["solver"] == solver and r["fit_over_reference"]]
        if not cells:
            continue
        largest = max(cells, key=lambda r: (int(r["n_features"]), int(r["n_samples"])))
        ratios = [float(r["fit_over_reference"]) for r in cells]
        parts.append(
            f"{solver}: fit / reference {min(ratios):.3g}x to {max(ratios):.3g}x over "
            f"{len(cells)} cells (largest: d = {largest['n_features']}, "
            f"n = {int(largest['n_samples']):,}, {largest['fit_over_reference']}x)"
        )
    skipped = [r for r in rows if not r["fit_over_reference"]]
    if skipped:
        parts.append(f"{len(skipped)} cells skipped (see RESULTS.md)")
    return "; ".join(parts)


def _time_to_accuracy_figures(rows):
    parts = []
    for row in rows:
        learners = [key[: -len("_seconds")] for key in row if key.endswith("_seconds")
                    and key != "time_budget_s"]
        times = ", ".join(f"{name} {row[name + '_seconds']}" for name in learners)
        parts.append(
            f"NMSE <= {row['test_nmse_at_most']}: {times} (fastest baseline / spectral: "
            f"{row['fastest_baseline_over_spectral']})"
        )
    budget = rows[0]
    return "; ".join(parts) + (
        f"; budgets per fit {budget['memory_budget_GB']} GB, {budget['time_budget_s']} s"
    )


def _separation_figures(rows):
    row = rows[0]
    return (
        f"spectral at {int(row['spectral_samples']):,}: NMSE {row['spectral_test_nmse']} in "
        f"{row['spectral_fit_seconds']} s; exact RBF kernel ridge at "
        f"{int(row['kernel_samples']):,}: NMSE {row['kernel_test_nmse']} in "
        f"{row['kernel_fit_seconds']} s: **{row['kernel_over_spectral_time']}x** faster"
    )


def _memory_figures(rows):
    extra = [float(r["extra_MB"]) for r in rows]
    return (
        f"d = {rows[0]['n_features']}, n = {int(rows[0]['n_samples']):,} to "
        f"{int(rows[-1]['n_samples']):,} (input {rows[0]['input_MB']} to {rows[-1]['input_MB']} "
        f"MB): peak RSS during fit beyond its start {min(extra):.0f} to {max(extra):.0f} MB"
    )


def _threads_figures(rows):
    return "; ".join(
        f"{r['threads']} thread(s): fit {r['fit_seconds']} s (speed-up {r['fit_speedup']}), "
        f"reference {r['reference_seconds']} s (speed-up {r['reference_speedup']})"
        for r in rows
    )


def _scale_figures(output_dir):
    parts = []
    large = read_csv(output_dir, "bench_scale_large-d.csv")
    if large:
        r = large[-1]
        parts.append(
            f"d = 120, p = 11, n = 400,000: fit {r['fit_seconds']} s, {r['n_iter']} passes, "
            f"**{r['fit_over_n_iter_block_products']}x** its own roofline, peak RSS "
            f"{r['peak_rss_beyond_inputs_MB']} MB beyond the inputs, cos^2 of the top three "
            f"directions {r['cos2_top3']}"
        )
    many = read_csv(output_dir, "bench_scale_many-samples.csv")
    if many:
        r = many[-1]
        parts.append(
            f"d = 30, n = 1,000,000 in memory: peak RSS {r['peak_rss_beyond_inputs_MB']} MB "
            f"beyond the {r['input_MB']} MB of inputs"
        )
    dask = read_csv(output_dir, "bench_scale_dask.csv")
    if dask:
        r = dask[-1]
        parts.append(
            f"Dask, 2 workers, 2,000,000 lazily generated samples: min cos^2 with the "
            f"in-memory fit {r['min_cos2_per_component']}"
        )
    return "; ".join(parts)


#: Suite name -> (CSV file, function of its rows giving the figures).
README_FIGURES = {
    "fit": ("bench_fit.csv", _fit_figures),
    "roofline": ("bench_roofline.csv", _roofline_figures),
    "time_to_accuracy": ("bench_time_to_accuracy_thresholds.csv", _time_to_accuracy_figures),
    "separation": ("bench_separation.csv", _separation_figures),
    "memory": ("bench_memory.csv", _memory_figures),
    "threads": ("bench_threads.csv", _threads_figures),
}


def readme_table(output_dir):
    """The README's performance table, from the CSVs of ``output_dir``."""
    machine = machine_info()
    lines = [
        f"Machine: {machine['cpu']}, {machine['cores']}, {machine['memory']}; BLAS "
        f"{machine['blas']}; numpy / scipy / scikit-learn "
        f"{machine['numpy / scipy / scikit-learn']}. Table written {machine['date']} at commit "
        f"{machine['commit']}; each row says when its CSV was written. All tables: "
        "`benchmarks/results/RESULTS.md`.",
        "",
        "| Suite | Figures | Command | Measured |",
        "|---|---|---|---|",
    ]
    for suite in SUITES:
        if suite.name == "scale":
            figures = _scale_figures(output_dir)
            written = [os.path.join(output_dir, name) for name in suite.csv_files]
            written = [path for path in written if os.path.exists(path)]
        elif suite.name in README_FIGURES:
            name, summarize = README_FIGURES[suite.name]
            rows = read_csv(output_dir, name)
            figures = summarize(rows) if rows else ""
            written = [os.path.join(output_dir, name)] if rows else []
        else:
            continue
        if not figures:
            figures, stamp = "not measured yet", ""
        else:
            stamp = max(modified_utc(path) for path in written)
        lines.append(
            f"| {escape(suite.title)} | {escape(figures)} | `{suite.command(False)}` | {stamp} |"
        )
    return "\n".join(lines)


def update_readme(output_dir, readme=README):
    """Replace the README's performance table; returns False without markers."""
    with open(readme) as source:
        text = source.read()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        return False
    body = readme_table(output_dir)
    text = text[: start + len(README_START)] + "\n" + body + "\n" + text[end:]
    write_text_atomic(text, readme)
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke configuration of every suite that has one")
    parser.add_argument(
        "--suites", type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
        default=SUITE_NAMES, metavar="NAME,...", help=f"default: {','.join(SUITE_NAMES)}",
    )
    parser.add_argument("--report-only", action="store_true",
                        help="do not run anything; rewrite RESULTS.md from the existing CSVs")
    args = parser.parse_args(argv)
    unknown = [name for name in args.suites if name not in SUITE_NAMES]
    if unknown:
        parser.error(f"unknown suite(s) {unknown}; choose from {SUITE_NAMES}")
    suites = [suite for suite in SUITES if suite.name in args.suites]
    output_dir = default_output_dir(args.quick)

    outcomes = {}
    if not args.report_only:
        for suite in suites:
            if args.quick and not suite.has_quick:
                print(f"\n=== {suite.name}: skipped (no --quick configuration)", flush=True)
                continue
            code, seconds, _ = run_suite(suite, args.quick, output_dir)
            outcomes[suite.name] = (code, seconds)
            if code != 0:
                print(f"=== {suite.name} failed with exit code {code}", flush=True)

    # Every suite appears on the page, run now or not, so that running a few
    # suites refreshes their tables without dropping the others'.
    page = results_page(SUITES, args.quick, output_dir, outcomes)
    path = write_text_atomic(page, os.path.join(output_dir, "RESULTS.md"))
    print(f"\nwrote {path}")
    if not args.quick:
        if update_readme(output_dir):
            print(f"updated the performance table of {README}")
        else:
            print(f"{README} has no performance-table markers; not updated")
    failed = [name for name, (code, _) in outcomes.items() if code != 0]
    if failed:
        print(f"failed suites: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
