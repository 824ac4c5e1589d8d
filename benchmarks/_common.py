"""Helpers shared by the benchmark scripts of this folder.

Not a benchmark itself: timing (best of repeats), an atomic CSV writer, a
plain-text table printer, a description of the machine, the peak resident
memory of a fit in a fresh child process, and a runner that calls a function
in a forked child with a time limit. The scripts import it as ``_common``
(they are run as ``python benchmarks/<script>.py``, which puts this folder on
``sys.path``).
"""

import csv
import datetime
import json
import multiprocessing
import os
import platform
import subprocess
import sys
import tempfile
import time

#: Where the scripts write their CSV files, and where quick (smoke) runs write
#: theirs: a separate folder, so that a smoke run never replaces a measurement.
RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
QUICK_RESULTS_DIR = os.path.join(RESULTS_DIR, "quick")


def default_output_dir(quick):
    return QUICK_RESULTS_DIR if quick else RESULTS_DIR


def best_time(function, repeats, max_total_seconds=None):
    """Smallest wall time of ``repeats`` calls of ``function()``.

    The minimum, not the mean: other processes only ever add time. With
    ``max_total_seconds`` the repeats stop early once that much time has been
    spent (always at least one call), so that large cells of a grid do not
    take ``repeats`` times their already long fit.
    """
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
        if max_total_seconds is not None and sum(times) >= max_total_seconds:
            break
    return min(times)


def round_significant(value, digits=4):
    """``value`` to ``digits`` significant digits: 0.000123 stays readable."""
    return float(f"{value:.{digits}g}")


#: Column of every results CSV saying when it was written (see write_csv_atomic).
MEASURED_COLUMN = "measured_utc"


def write_csv_atomic(rows, path):
    """Write ``rows`` (dicts) to ``path`` through a temporary file + os.replace.

    A reader (or an interrupted run) never sees a half-written file. Columns
    are the union of the rows' keys, in order of first appearance, then
    ``measured_utc``: when the file was written, kept in the file itself
    because a checkout gives every file the time of the checkout.
    """
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rows = [{**row, MEASURED_COLUMN: stamp} for row in rows]
    fieldnames = []
    for row in rows:
        fieldnames.extend(key for key in row if key not in fieldnames)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", dir=folder, delete=False, suffix=".tmp", newline=""
    ) as tmp:
        writer = csv.DictWriter(tmp, fieldnames=fieldnames, restval="")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp.name, path)
    return path


def write_text_atomic(text, path):
    """Write ``text`` to ``path`` through a temporary file + os.replace."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=folder, delete=False, suffix=".tmp") as tmp:
        tmp.write(text)
    os.replace(tmp.name, path)
    return path


def format_table(rows, columns=None):
    """Rows (dicts) as a plain-text table with aligned columns."""
    if not rows:
        return "(no rows)"
    if columns is None:
        columns = []
        for row in rows:
            columns.extend(key for key in row if key not in columns)
    cells = [[str(row.get(column, "")) for column in columns] for row in rows]
    widths = [
        max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)
    ]
    lines = ["  ".join(column.ljust(width) for column, width in zip(columns, widths))]
    lines.append("  ".join("-" * width for width in widths))
    lines.extend(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths)) for line in cells
    )
    return "\n".join(lines)


# ------------------------------------------------------------------ machine
def cpu_model():
    """The CPU's model name from /proc/cpuinfo (the platform's name elsewhere)."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def total_memory_gb():
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024 / 1e9
    except (OSError, ValueError):
        pass
    return float("nan")


def blas_libraries():
    """The BLAS/OpenMP libraries loaded by numpy and scipy, as threadpoolctl sees them."""
    import numpy  # noqa: F401  (loads numpy's BLAS)
    import scipy.linalg  # noqa: F401  (scipy may bring its own)
    from threadpoolctl import threadpool_info

    return [
        {
            "api": lib.get("internal_api"),
            "version": lib.get("version"),
            "threads": lib.get("num_threads"),
            "architecture": lib.get("architecture"),
        }
        for lib in threadpool_info()
    ]


def blas_description():
    """One line: e.g. 'openblas 0.3.31 (SkylakeX, 2 threads)', one entry per library."""
    parts = []
    for lib in blas_libraries():
        details = ", ".join(
            str(item)
            for item in (
                lib["architecture"],
                f"{lib['threads']} thread{'' if lib['threads'] == 1 else 's'}",
            )
            if item is not None
        )
        parts.append(f"{lib['api']} {lib['version'] or ''} ({details})".replace("  ", " "))
    # numpy and scipy often load the same library twice; say it once.
    return "; ".join(dict.fromkeys(parts)) or "none found"


def git_commit():
    try:
        here = os.path.dirname(os.path.abspath(__file__))
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True,
            text=True, check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        return commit + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine_info():
    """What a reader needs to compare timings: CPU, cores, memory, BLAS, versions, date."""
    import numpy
    import scipy
    import sklearn

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(),
        "cores": f"{os.cpu_count()} logical, {usable} usable by this process",
        "memory": f"{total_memory_gb():.1f} GB",
        "blas": blas_description(),
        "python": platform.python_version(),
        "numpy / scipy / scikit-learn": f"{numpy.__version__} / {scipy.__version__} / "
        f"{sklearn.__version__}",
        "os": f"{platform.system()} {platform.release()} {platform.machine()}",
        "commit": git_commit(),
    }


def available_memory_bytes():
    """Memory a new allocation can use now (the package's own reading), or None."""
    from sklearn_hierspectral._memory import available_memory_bytes as available

    return available()


# ------------------------------------------------------------- child memory
_CHILD_FIT_CODE = """
import json, sys
import numpy as np
from sklearn_hierspectral import HierarchicalSpectralRegressor, HierarchicalTargetDataset

def status_mb(key):
    with open('/proc/self/status') as status:
        for line in status:
            if line.startswith(key + ':'):
                return int(line.split()[1]) / 1024
    return float('nan')

def reset_peak():
    # Writing 5 to clear_refs sets VmHWM back to the current RSS (Linux >= 4.0),
    # so the peak read after fit is the fit's own and not data generation's.
    try:
        with open('/proc/self/clear_refs', 'w') as clear_refs:
            clear_refs.write('5')
        return True
    except OSError:
        return False

config = json.loads(sys.argv[1])
dataset = HierarchicalTargetDataset(config['n_features'], random_state=0)
X, y = dataset.sample(config['n_samples'], random_state=1)
model = HierarchicalSpectralRegressor(random_state=0, **config['params'])
out = {
    'input_MB': (X.nbytes + y.nbytes) / 1e6,
    'peak_rss_before_fit_MB': status_mb('VmHWM'),
    'rss_before_fit_MB': status_mb('VmRSS'),
}
out['peak_reset'] = reset_peak()
model.fit(X, y)
out['peak_rss_after_fit_MB'] = status_mb('VmHWM')
out['solver'] = model.solver_
print(json.dumps(out))
"""


def child_peak_rss(n_features, n_samples, **params):
    """Memory of a fit in a fresh process that only generates the data and fits.

    The child draws ``HierarchicalTargetDataset(n_features, random_state=0)
    .sample(n_samples, random_state=1)`` and fits
    ``HierarchicalSpectralRegressor(random_state=0, **params)``. Returns a dict
    (MB): ``input_MB`` (X and y), ``rss_before_fit_MB`` (VmRSS when fit
    starts), ``peak_rss_before_fit_MB`` (VmHWM then, which includes data
    generation), ``peak_rss_after_fit_MB`` (VmHWM after fit; the peak during
    fit alone when ``peak_reset`` is True, i.e. the kernel let the script
    reset the peak before fit), ``peak_reset``, ``solver``.
    """
    # A new interpreter (exec), and VmHWM, not ru_maxrss: after fork + exec,
    # Linux keeps the parent's ru_maxrss, while VmHWM belongs to the new
    # address space.
    config = {"n_features": n_features, "n_samples": n_samples, "params": params}
    completed = subprocess.run(
        [sys.executable, "-c", _CHILD_FIT_CODE, json.dumps(config)],
        capture_output=True, text=True,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"child fit (d={n_features}, n={n_samples}) failed with exit code "
            f"{completed.returncode}:\n{completed.stderr[-2000:]}"
        )
    return json.loads(completed.stdout.strip().splitlines()[-1])


# ------------------------------------------------------- child with a deadline
def _child_entry(connection, function, args):
    try:
        connection.send(("ok", function(*args)))
    except BaseException as exc:  # reported to the parent, which decides
        connection.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        connection.close()


def run_in_child(function, args=(), timeout=None):
    """Call ``function(*args)`` in a forked child; kill it after ``timeout`` s.

    Returns ``(status, value)``: ``('ok', result)``, ``('error', message)``
    when it raised (the exception's type name starts the message),
    ``('timeout', None)`` when it was killed at the deadline, or
    ``('crashed', exit code)`` when it died without answering (e.g. killed by
    the kernel for lack of memory). A fresh process per call keeps one fit's
    memory (and a runaway fit) from affecting the next. The parent should
    hold no large arrays: the child starts as a copy of it.
    """
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child_entry, args=(sender, function, args), daemon=True)
    child.start()
    sender.close()
    status, value = "timeout", None
    try:
        if receiver.poll(timeout):
            try:
                status, value = receiver.recv()
            except EOFError:  # the child died without answering
                status = "crashed"
    finally:
        if status == "timeout" and child.is_alive():
            child.kill()
        child.join()
        receiver.close()
    if status == "crashed":
        value = child.exitcode
    return status, value
