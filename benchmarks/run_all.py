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

Exits with status 1 if a suite failed (the others still run, and the page
says which failed).
"""

import argparse
import csv
import datetime
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field

from _common import default_output_dir, machine_info, write_text_atomic

HERE = os.path.dirname(os.path.abspath(__file__))


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

    def command(self, quick):
        args = ["--quick"] if quick and self.has_quick else self.full_args
        return " ".join(["python", f"benchmarks/{self.script}", *args])


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
        "D, same process; for both solvers. Skipped cells: Z would not fit in half the "
        "available memory.",
        ["bench_roofline.csv"],
    ),
    Suite(
        "time_to_accuracy", "bench_time_to_accuracy.py", "Time to accuracy",
        "Default dataset of the command line (d = 30, p = 5, gamma = 1); fresh training "
        "sets of growing size, one fixed test set. Smallest fit time (s) reaching each "
        "test NMSE within the memory and time budgets per fit (last columns); then every "
        "fit, with the size at which each learner stopped and why.",
        ["bench_time_to_accuracy_thresholds.csv", "bench_time_to_accuracy.csv"],
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
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    lines = []
    for line in process.stdout:
        print(line, end="", flush=True)
        lines.append(line)
    code = process.wait()
    seconds = time.perf_counter() - start
    output = "".join(lines)
    if suite.log_file and code == 0:
        write_text_atomic(output, os.path.join(output_dir, suite.log_file))
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
    """A CSV file as a markdown table; one wide row is shown as quantity | value."""
    with open(path, newline="") as source:
        rows = list(csv.reader(source))
    if not rows:
        return "(empty file)"
    header, body = rows[0], rows[1:]
    if len(body) == 1 and len(header) > 6:
        return markdown_table(["quantity", "value"], list(zip(header, body[0])))
    return markdown_table(header, body)


def modified_utc(path):
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
                    parts += ["", f"Output ({modified_utc(path)}):", "", "```", log.read().rstrip(),
                              "```"]
                files.append(suite.log_file)
        if not files:
            parts += ["", "No results yet."]
    return "\n".join(parts) + "\n"


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
    failed = [name for name, (code, _) in outcomes.items() if code != 0]
    if failed:
        print(f"failed suites: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
