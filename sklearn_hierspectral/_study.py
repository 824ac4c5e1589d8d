"""Scaling studies: test error against training-set size, for several estimators.

:func:`scaling_study` fits every estimator on fresh samples of a
:class:`~sklearn_hierspectral.HierarchicalTargetDataset` at every training-set
size and repeat, scores it on one fixed test set, and returns a tidy
DataFrame; :func:`summarize_study` turns that table into fitted scaling
exponents next to the theory's.

Each cell (estimator, size, repeat) is an independent task for joblib. A cell
receives seeds, not arrays: it draws its own training sample (and the shared
test set) from them, so that nothing large is shipped to the workers and the
table does not depend on ``n_jobs`` or on the backend.
"""

import math
import numbers
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Mapping

from contextlib import nullcontext

import joblib
import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state
from threadpoolctl import threadpool_limits

from ._dataset import _seed_sequence
from ._memory import MemoryBudgetError
from ._recovery import RECOVERY_THRESHOLD, n_recovered, recovery_cos2
from ._validation import check_study_table

__all__ = ["recovery_study", "scaling_study", "summarize_study"]

#: Columns of the table returned by :func:`scaling_study`, in order.
STUDY_COLUMNS = (
    "estimator",
    "n_samples",
    "repeat",
    "test_nmse",
    "fit_seconds",
    "predict_seconds",
    "n_components",
    "n_recovered",
    "status",
    "reason",
    "alpha",
)

# Spawn keys under the study's root seed: one for the test set, and one per
# (n_samples, repeat) for the training samples. Keying by the size itself, not
# by its position in ``train_sizes``, keeps a cell's sample unchanged when
# sizes are added to or removed from a study.
_TEST_KEY = 0
_TRAIN_KEY = 1


# --------------------------------------------------------------- validation
def _check_estimators(estimators):
    if not isinstance(estimators, Mapping) or len(estimators) == 0:
        raise ValueError(
            "estimators must be a non-empty dict mapping names to unfitted "
            f"estimators; got {type(estimators).__name__}."
        )
    checked = {}
    for name, estimator in estimators.items():
        if not isinstance(name, str) or not name:
            raise ValueError(
                f"estimator names must be non-empty strings; got {name!r}."
            )
        if not (hasattr(estimator, "fit") and hasattr(estimator, "predict")):
            raise TypeError(
                f"estimators[{name!r}] must have fit and predict methods; got "
                f"{type(estimator).__name__}."
            )
        # clone() fails early, in the caller's process, on non-estimators.
        clone(estimator)
        checked[name] = estimator
    return checked


def _check_positive_int(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}.")
    return int(value)


#: More cells than this is a typo (n_repeats=10**9), not a study: the cell
#: list alone would exhaust the memory before the first fit.
MAX_CELLS = 10**6


def _check_n_cells(n_sizes, n_repeats, n_estimators=1):
    n_cells = n_sizes * n_repeats * n_estimators
    if n_cells > MAX_CELLS:
        raise ValueError(
            f"The study has {n_sizes} size(s) x {n_repeats} repeat(s) x {n_estimators} "
            f"estimator(s) = {n_cells:,} cells, more than {MAX_CELLS:,}; use fewer "
            "repeats (3 to 10 give stable medians)."
        )
    return n_cells


def _check_parallel(n_jobs, backend, n_cells):
    """Validated ``n_jobs`` (at most one worker per cell) and ``backend``."""
    if n_jobs is not None:
        if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0:
            raise ValueError(
                f"n_jobs must be None, a positive integer or a negative one (-1 for "
                f"all cores); got {n_jobs!r}."
            )
        # joblib would start every worker asked for, even with fewer cells:
        # n_jobs=1000 took 117 s to run 2 cells.
        if n_jobs > 0:
            n_jobs = int(min(n_jobs, max(n_cells, 1)))
    if backend is not None and not isinstance(backend, str):
        from joblib.parallel import ParallelBackendBase

        if not isinstance(backend, ParallelBackendBase):
            raise TypeError(
                "backend must be None, the name of a joblib backend ('loky', "
                "'threading', 'dask', ...) or a joblib backend instance; got "
                f"{type(backend).__name__}."
            )
    return n_jobs


def _check_train_sizes(train_sizes):
    try:
        if isinstance(train_sizes, (str, bytes)):
            raise TypeError  # a string iterates into characters, not sizes
        sizes = list(train_sizes)
    except TypeError:
        raise TypeError(
            f"train_sizes must be a sequence of integers; got {train_sizes!r}."
        ) from None
    if not sizes:
        raise ValueError("train_sizes must contain at least one size.")
    checked = []
    for size in sizes:
        if isinstance(size, (float, np.floating)) and float(size).is_integer():
            size = int(size)
        checked.append(_check_positive_int("every train size", size, minimum=2))
    if len(set(checked)) != len(checked):
        duplicates = sorted({s for s in checked if checked.count(s) > 1})
        raise ValueError(
            f"train_sizes contains duplicates {duplicates}; use n_repeats for "
            "several runs at one size."
        )
    return sorted(checked)


def _check_skip(skip, names):
    if skip is None or callable(skip):
        return skip
    if isinstance(skip, Mapping):
        unknown = sorted(set(skip) - set(names))
        if unknown:
            raise ValueError(
                f"skip names unknown estimator(s) {unknown}; the estimators are "
                f"{list(names)}."
            )
        for name, limit in skip.items():
            if limit is not None and (
                isinstance(limit, bool) or not isinstance(limit, numbers.Real)
            ):
                raise TypeError(
                    f"skip[{name!r}] must be a maximum number of samples or None; "
                    f"got {limit!r}."
                )
        return dict(skip)
    raise TypeError(
        "skip must be None, a callable (name, n_samples) -> reason or None, or a "
        f"dict mapping estimator names to a maximum n_samples; got {skip!r}."
    )


def _check_optional_positive(name, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive number or None; got {value!r}.")
    if not value > 0:
        raise ValueError(f"{name} must be positive; got {value}.")
    return float(value)


def _static_skip_reason(skip, name, n_samples):
    """Reason the ``skip`` argument gives for not running a cell, or None."""
    if skip is None:
        return None
    if callable(skip):
        reason = skip(name, n_samples)
        if reason is None or reason is False:
            return None
        if reason is True:
            return f"skipped by the skip callable at n_samples={n_samples}"
        return str(reason)
    limit = skip.get(name)
    if limit is not None and n_samples > limit:
        return (
            f"n_samples={n_samples} is above the limit of {limit:g} samples that "
            f"skip sets for {name!r}"
        )
    return None


# --------------------------------------------------------------- the cells
def _final_estimator(estimator):
    """The estimator whose fitted attributes describe the model."""
    while True:
        if isinstance(estimator, Pipeline):
            estimator = estimator.steps[-1][1]
        elif hasattr(estimator, "best_estimator_"):
            estimator = estimator.best_estimator_
        else:
            return estimator


def _fitted_n_components(estimator):
    value = getattr(_final_estimator(estimator), "n_components_", None)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    return math.nan


def _fitted_n_recovered(estimator, dataset, threshold):
    try:
        cos2 = recovery_cos2(estimator, dataset)
    except AttributeError:
        # A dataset-like object without latent matrices: nothing to compare.
        return math.nan
    if cos2 is None:
        return math.nan
    return float(n_recovered(cos2, threshold=threshold))


def _set_memory_budget(estimator, max_memory_bytes):
    """Set every ``max_memory_bytes`` parameter of ``estimator`` (nested too)."""
    if max_memory_bytes is None or not hasattr(estimator, "get_params"):
        return estimator
    params = estimator.get_params(deep=True)
    updates = {
        key: max_memory_bytes
        for key in params
        if key == "max_memory_bytes" or key.endswith("__max_memory_bytes")
    }
    if updates:
        estimator.set_params(**updates)
    return estimator


class _SampleCache:
    """Per-process cache of the last drawn sample of each kind.

    The cells of one (size, repeat) share their training sample, and every cell
    shares the test set; drawing them once per worker process instead of once
    per cell saves the target evaluations. Keys include a token unique to the
    study, so two studies never share entries.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._entries = {}

    def get(self, slot, key, draw):
        with self._lock:
            entry = self._entries.get(slot)
            if entry is not None and entry[0] == key:
                return entry[1]
        value = draw()
        with self._lock:
            self._entries[slot] = (key, value)
        return value

    def clear(self):
        with self._lock:
            self._entries.clear()


_CACHE = _SampleCache()


def _one_line(text):
    return " ".join(str(text).split())


def _run_cell(
    name,
    estimator,
    dataset,
    n_samples,
    repeat,
    train_seed,
    test_seed,
    test_size,
    token,
    recovery_threshold,
    max_memory_bytes,
):
    """Fit and score one (estimator, n_samples, repeat) cell; never raises."""
    row = {
        "estimator": name,
        "n_samples": n_samples,
        "repeat": repeat,
        "test_nmse": math.nan,
        "fit_seconds": math.nan,
        "predict_seconds": math.nan,
        "n_components": math.nan,
        "n_recovered": math.nan,
        "status": "ok",
        "reason": "",
    }
    try:
        X_test, y_test = _CACHE.get(
            "test",
            (token, test_size),
            lambda: dataset.sample(test_size, random_state=test_seed),
        )
        X, y = _CACHE.get(
            "train",
            (token, n_samples, repeat),
            lambda: dataset.sample(n_samples, random_state=train_seed),
        )
        # Copies: an estimator that writes into its input must not alter the
        # sample the next estimator of this (size, repeat) receives.
        X, y = X.copy(), y.copy()
        model = _set_memory_budget(clone(estimator), max_memory_bytes)
        start = time.perf_counter()
        model.fit(X, y)
        row["fit_seconds"] = time.perf_counter() - start
        del X, y
        start = time.perf_counter()
        y_pred = np.asarray(model.predict(X_test), dtype=float).reshape(-1)
        row["predict_seconds"] = time.perf_counter() - start
        row["test_nmse"] = _test_nmse(y_pred, y_test)
        row["n_components"] = _fitted_n_components(model)
        row["n_recovered"] = _fitted_n_recovered(model, dataset, recovery_threshold)
    except MemoryError as exc:  # includes the baselines' MemoryBudgetError
        row.update(
            status="skipped",
            reason=_one_line(f"{type(exc).__name__}: {exc}"),
            test_nmse=math.nan,
            n_components=math.nan,
            n_recovered=math.nan,
        )
    except Exception as exc:
        row.update(
            status="error",
            reason=_one_line(f"{type(exc).__name__}: {exc}"),
            test_nmse=math.nan,
            n_components=math.nan,
            n_recovered=math.nan,
        )
    return row


def _test_nmse(y_pred, y_test):
    """NMSE of the predictions; a ValueError (an 'error' row, with the reason)
    instead of a NaN that would pass for a result."""
    if y_pred.shape != y_test.shape:
        raise ValueError(
            f"predict returned {y_pred.size} values for {y_test.size} test samples."
        )
    finite = np.isfinite(y_pred)
    if not np.all(finite):
        raise ValueError(
            f"predict returned {int(np.sum(~finite))} non-finite value(s) "
            f"(NaN or infinity) of {y_pred.size}."
        )
    with np.errstate(over="ignore", invalid="ignore"):
        variance = float(np.var(y_test))
    if not np.isfinite(variance):
        raise ValueError(
            "The variance of the test targets overflows float64 (values up to "
            f"{float(np.max(np.abs(y_test))):.3g}): the NMSE is undefined. Use a "
            "dataset with a smaller noise or link output."
        )
    if not variance > 0:
        raise ValueError("The test targets are constant: the NMSE is undefined.")
    with np.errstate(over="ignore", invalid="ignore"):
        nmse = float(np.mean((y_pred - y_test) ** 2)) / variance
    if not np.isfinite(nmse):
        raise ValueError(
            "The test NMSE overflows: the predictions are beyond 1e154 times the "
            "targets' spread."
        )
    return nmse


def _skipped_row(name, n_samples, repeat, reason):
    return {
        "estimator": name,
        "n_samples": n_samples,
        "repeat": repeat,
        "test_nmse": math.nan,
        "fit_seconds": math.nan,
        "predict_seconds": math.nan,
        "n_components": math.nan,
        "n_recovered": math.nan,
        "status": "skipped",
        "reason": reason,
    }


# --------------------------------------------------------------- progress
def _format_duration(seconds):
    seconds = int(seconds)
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


class _TextProgress:
    """Minimal progress line on stderr, for when tqdm is not installed."""

    def __init__(self, total, desc, stream):
        self.total = total
        self.done = 0
        self.desc = desc
        self.stream = stream
        self.start = time.perf_counter()
        self.postfix = ""
        self.interactive = bool(getattr(stream, "isatty", lambda: False)())
        self._last_reported = -1
        self._draw()

    def _line(self):
        percent = 100 * self.done // max(self.total, 1)
        elapsed = time.perf_counter() - self.start
        return (
            f"{self.desc}: {percent:3d}% {self.done}/{self.total} cells "
            f"[{_format_duration(elapsed)}]"
            + (f" {self.postfix}" if self.postfix else "")
        )

    def _draw(self, final=False):
        if self.interactive:
            self.stream.write("\r" + self._line().ljust(79) + ("\n" if final else ""))
            self.stream.flush()
            return
        # Not a terminal (a log file, CI): one line per tenth of the work.
        decile = 10 * self.done // max(self.total, 1)
        if decile != self._last_reported or final:
            if not (final and decile == self._last_reported):
                self.stream.write(self._line() + "\n")
                self.stream.flush()
            self._last_reported = decile

    def set_postfix_str(self, text):
        self.postfix = text

    def update(self, n=1):
        self.done += n
        self._draw()

    def close(self):
        self._draw(final=True)


class _NoProgress:
    def set_postfix_str(self, text):
        pass

    def update(self, n=1):
        pass

    def close(self):
        pass


def _make_progress(enabled, total, desc="scaling_study"):
    if not enabled:
        return _NoProgress()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _TextProgress(total, desc, sys.stderr)
    return tqdm(total=total, desc=desc, unit="cell", file=sys.stderr)


# --------------------------------------------------------------- the study
def _parallel_results(parallel_kwargs, tasks):
    """Run the tasks, yielding results as they finish when the backend can."""
    try:
        parallel = Parallel(return_as="generator_unordered", **parallel_kwargs)
    except ValueError:
        # Backends without generator output (e.g. 'multiprocessing').
        parallel = Parallel(return_as="list", **parallel_kwargs)
    return parallel(tasks)


def _blas_limit(n_jobs):
    """Context limiting BLAS threads when workers are threads of this process.

    Process-based backends (loky) already give each worker
    ``cpu_count // n_jobs`` BLAS threads. Threads share this process's BLAS
    pools, so ``n_jobs`` threads each running a multi-threaded BLAS would
    oversubscribe the cores, which slows small matrix operations down by
    orders of magnitude.
    """
    try:
        from joblib.parallel import get_active_backend

        active, _ = get_active_backend()
        n_workers = joblib.effective_n_jobs(n_jobs)
    except Exception:  # a backend that cannot start: let Parallel report it
        return nullcontext()
    if not getattr(active, "uses_threads", False) or n_workers <= 1:
        return nullcontext()
    limit = max(1, joblib.cpu_count() // n_workers)
    return threadpool_limits(limits=limit, user_api="blas")


def _theory_attrs(dataset, sizes):
    """Cheap theory of SPEC section 4, for ``DataFrame.attrs``."""
    attrs = {}
    for key, method in (
        ("predicted_exponent", "predicted_exponent"),
        ("scaling_window", "scaling_window"),
        ("threshold_samples", "threshold_samples"),
    ):
        getter = getattr(dataset, method, None)
        if getter is None:
            continue
        try:
            value = getter()
        except (ValueError, TypeError):
            continue
        attrs[key] = (
            np.asarray(value, dtype=float).tolist()
            if np.ndim(value)
            else float(value)
        )
    for key, method in (
        ("predicted_n_recovered", "predicted_n_recovered"),
        ("predicted_error", "predicted_error"),
    ):
        getter = getattr(dataset, method, None)
        if getter is None:
            continue
        try:
            attrs[key] = {int(n): getter(int(n)) for n in sizes}
        except (ValueError, TypeError):
            continue
    return attrs


def scaling_study(
    estimators,
    dataset,
    train_sizes,
    *,
    n_repeats=3,
    test_size=5000,
    n_jobs=None,
    backend=None,
    random_state=0,
    max_fit_seconds=None,
    max_memory_bytes=None,
    skip=None,
    progress=True,
    recovery_threshold=RECOVERY_THRESHOLD,
    completed=None,
    on_cell=None,
):
    """Measure test error against training-set size for several estimators.

    For every training-set size ``n`` and repeat ``r``, a fresh training
    sample of size ``n`` is drawn from ``dataset``; every estimator is cloned,
    fitted on that same sample (a paired comparison) and scored on one test
    set, fixed for the whole study. The score is the normalised test error
    ``NMSE = mean((y_pred - y)^2) / var(y)``, with the empirical variance of
    the test targets (SPEC section 2): 1 is the error of predicting the mean.

    Cells (estimator, size, repeat) run in parallel with joblib. Each cell
    gets seeds, not data: it draws its training sample and the test set itself
    (once per worker process), so that nothing large is shipped to workers and
    the table depends neither on ``n_jobs`` nor on the backend. The seeds
    derive from ``random_state`` through :class:`numpy.random.SeedSequence`,
    keyed by the size and the repeat.

    A cell that cannot run is recorded, not raised: status ``'skipped'`` when
    the estimator runs out of memory (:class:`MemoryError`, including the
    baselines' ``MemoryBudgetError``, raised before the allocation), when
    ``skip`` says so, or when ``max_fit_seconds`` rules it out; status
    ``'error'`` (with a warning) for any other exception.

    Read more in SPEC sections 4 and 5.

    Parameters
    ----------
    estimators : dict of str to estimator
        Unfitted scikit-learn regressors by name, e.g. a
        :class:`HierarchicalSpectralRegressor` and the baseline pipelines. Each
        cell fits a clone. Give them a fixed ``random_state`` for a
        reproducible table.
    dataset : HierarchicalTargetDataset
        The target. Its ``sample(n, random_state=...)`` draws the samples; its
        latent directions give ``n_recovered`` and its theory is attached to
        the result's ``attrs``.
    train_sizes : sequence of int
        Distinct training-set sizes, at least 2 each; they are run and
        reported in increasing order.
    n_repeats : int, default=3
        Fresh training samples per size.
    test_size : int, default=5000
        Size of the fixed test set.
    n_jobs : int, default=None
        Number of joblib workers; None means 1 unless in a
        :func:`joblib.parallel_config` context. -1 uses every core.
    backend : str or joblib backend instance, default=None
        joblib backend ('loky', 'threading', 'dask' with a running
        ``distributed.Client``, ...), set with :func:`joblib.parallel_config`
        for the duration of the study; None uses the one active in the
        caller's :func:`joblib.parallel_config` ('loky' by default).
    random_state : int, numpy SeedSequence or None, default=0
        Seeds the test set and the training samples. The same seed gives the
        same table (except for the timings). None draws fresh entropy.
    max_fit_seconds : float, default=None
        Time cap per fit: once an estimator's fit at some size took longer,
        its larger sizes are skipped, with the reason. Sizes are dispatched in
        increasing order so that they are not even started when possible;
        cells of larger sizes that ran concurrently with the slow fit are
        reported as skipped too, so that the rule does not depend on
        scheduling. None for no cap.
    max_memory_bytes : float, default=None
        Memory budget of each cell, set on every estimator parameter named
        ``max_memory_bytes`` (also nested, e.g. the baselines'
        ``kernelmemoryguard__max_memory_bytes``). None leaves the estimators'
        own setting: the baselines then compare with the memory free at fit
        time, which concurrent workers share, so with ``n_jobs > 1`` pass the
        free memory divided by ``n_jobs``.
    skip : callable or dict, default=None
        Cells not to run. A callable ``skip(name, n_samples)`` returns a
        reason (str) to skip, or None to run. A dict maps estimator names to
        the largest ``n_samples`` to run (e.g. ``{"krr": 12000}`` for the
        ``O(n^2)`` memory and ``O(n^3)`` time of exact kernel ridge).
    progress : bool, default=True
        Show a progress bar on stderr (tqdm when it is installed, else a
        plain text line).
    recovery_threshold : float, default=0.5
        A latent direction counts as recovered when its ``cos^2`` with the
        learned span exceeds this.
    completed : pandas.DataFrame or iterable of dict, default=None
        Cells already done, e.g. by an interrupted run of the same study with
        the same estimators, dataset, ``random_state`` and ``test_size``: rows
        of this function's table (``estimator``, ``n_samples``, ``repeat``
        and the result columns). Those cells are not run again and their rows
        are used as they are; rows of cells the study does not have are
        ignored. The caller is responsible for the configuration matching (the
        command line checks a fingerprint of it). Since every cell draws its
        samples from seeds keyed by its size and repeat, a resumed table
        equals an uninterrupted one.
    on_cell : callable, default=None
        Called in this process with each finished cell's row (a dict) as soon
        as it is done, e.g. to save progress; not called for resumed cells
        nor for cells that ``skip`` or the time cap rule out.

    Returns
    -------
    results : pandas.DataFrame
        One row per (estimator, n_samples, repeat), sorted by estimator (in
        the order of ``estimators``), size and repeat, with columns

        - ``estimator`` (str), ``n_samples`` (int), ``repeat`` (int);
        - ``test_nmse`` (float): the test NMSE, NaN unless ``status == 'ok'``;
        - ``fit_seconds``, ``predict_seconds`` (float): wall times;
        - ``n_components`` (float): the fitted ``n_components_`` of the
          estimator (of a Pipeline's last step), NaN when it has none;
        - ``n_recovered`` (float): latent directions with
          ``cos^2 > recovery_threshold``, NaN for estimators without learned
          quadratic features;
        - ``status`` (str): 'ok', 'skipped' or 'error';
        - ``reason`` (str): why a cell was skipped or failed, '' when ok;
        - ``alpha`` (float): ``log n / log d``, the sample size on the scale
          of the theory.

        ``results.attrs`` holds the study's settings and, where the dataset
        has them, the theory's predictions (``predicted_exponent``,
        ``scaling_window``, ``threshold_samples``, and per size
        ``predicted_n_recovered`` and ``predicted_error``).

    Warns
    -----
    UserWarning
        When cells fail with an error other than running out of memory (one
        warning per estimator and message).

    See Also
    --------
    summarize_study : Fitted exponents and errors per estimator.
    fit_power_law : The power-law fit with confidence intervals.
    ScalingLawDisplay.from_study : Plot the returned table with the theory.
    sklearn.model_selection.learning_curve : The same idea on cross-validation
        splits of one fixed sample.

    Notes
    -----
    With ``n_jobs > 1`` on the 'loky' backend, each worker's BLAS uses
    ``cpu_count // n_jobs`` threads, so that workers do not oversubscribe the
    cores. Fit times then depend on ``n_jobs``; the errors do not.

    Examples
    --------
    >>> from sklearn.linear_model import Ridge
    >>> from sklearn_hierspectral._dataset import HierarchicalTargetDataset
    >>> from sklearn_hierspectral._regressor import HierarchicalSpectralRegressor
    >>> from sklearn_hierspectral._study import scaling_study
    >>> dataset = HierarchicalTargetDataset(n_features=6, random_state=0)
    >>> results = scaling_study(
    ...     {"spectral": HierarchicalSpectralRegressor(random_state=0),
    ...      "ridge": Ridge()},
    ...     dataset, [400, 1600], n_repeats=2, test_size=1000, n_jobs=2,
    ...     progress=False)
    >>> results.shape
    (8, 11)
    >>> list(results.columns)  # doctest: +NORMALIZE_WHITESPACE
    ['estimator', 'n_samples', 'repeat', 'test_nmse', 'fit_seconds',
     'predict_seconds', 'n_components', 'n_recovered', 'status', 'reason',
     'alpha']
    >>> sorted(set(results["status"]))
    ['ok']
    >>> medians = results.groupby(["estimator", "n_samples"])["test_nmse"].median()
    >>> bool(medians["spectral", 1600] < medians["ridge", 1600])
    True
    """
    estimators = _check_estimators(estimators)
    if not hasattr(dataset, "sample"):
        raise TypeError(
            "dataset must have a sample(n_samples, random_state=...) method, like "
            f"HierarchicalTargetDataset; got {type(dataset).__name__}."
        )
    sizes = _check_train_sizes(train_sizes)
    n_repeats = _check_positive_int("n_repeats", n_repeats)
    test_size = _check_positive_int("test_size", test_size, minimum=2)
    max_fit_seconds = _check_optional_positive("max_fit_seconds", max_fit_seconds)
    max_memory_bytes = _check_optional_positive("max_memory_bytes", max_memory_bytes)
    skip = _check_skip(skip, estimators)
    if not isinstance(recovery_threshold, numbers.Real) or not (
        0.0 <= recovery_threshold < 1.0
    ):
        raise ValueError(
            f"recovery_threshold must be in [0, 1); got {recovery_threshold!r}."
        )
    names = list(estimators)
    n_jobs = _check_parallel(
        n_jobs, backend, _check_n_cells(len(sizes), n_repeats, len(names))
    )
    if on_cell is not None and not callable(on_cell):
        raise TypeError(
            f"on_cell must be a callable taking one row (a dict) or None; got "
            f"{type(on_cell).__name__}."
        )
    # Checked before any fit, so that a bad table does not end a long run.
    completed = None if completed is None else _completed_rows(completed)

    root = _seed_sequence(random_state)

    def child(*key):
        return np.random.SeedSequence(root.entropy, spawn_key=root.spawn_key + key)

    test_seed = child(_TEST_KEY)
    token = uuid.uuid4().hex

    # Cells in dispatch order. With a time cap, the sizes must come in
    # increasing order for the cap to save any time; without one, the largest
    # first balance the load of the workers better.
    order = sizes if max_fit_seconds is not None else sizes[::-1]
    rows = {}
    to_run = []
    for n in order:
        for repeat in range(n_repeats):
            for name in names:
                reason = _static_skip_reason(skip, name, n)
                if reason is not None:
                    rows[name, n, repeat] = _skipped_row(name, n, repeat, reason)
                else:
                    to_run.append((name, n, repeat))

    # Cells of an interrupted run: not run again. ``slow`` is the smallest size
    # at which each estimator's fit went over the time cap (resumed ones too).
    resumed, slow = _resume_cells(completed, to_run, rows, max_fit_seconds)
    progress_bar = _make_progress(progress, len(to_run) - len(resumed))

    def over_cap(name, n):
        return name in slow and n > slow[name][0]

    withheld = []

    def tasks():
        for name, n, repeat in to_run:
            if (name, n, repeat) in resumed:
                continue
            if over_cap(name, n):
                withheld.append((name, n, repeat))
                continue
            yield delayed(_run_cell)(
                name,
                estimators[name],
                dataset,
                n,
                repeat,
                child(_TRAIN_KEY, n, repeat),
                test_seed,
                test_size,
                token,
                float(recovery_threshold),
                max_memory_bytes,
            )

    parallel_kwargs = {"n_jobs": n_jobs, "batch_size": 1}
    if max_fit_seconds is not None:
        # Dispatch few cells ahead, so that a slow fit stops the larger sizes
        # of its estimator before they start.
        parallel_kwargs["pre_dispatch"] = "n_jobs"
    # The backend goes through parallel_config, which also registers the
    # optional ones ('dask', 'ray', ...) that Parallel(backend=...) does not.
    config = (
        joblib.parallel_config(backend=backend)
        if backend is not None
        else nullcontext()
    )
    try:
        with config, _blas_limit(n_jobs):
            _collect(
                _notify_cells(_parallel_results(parallel_kwargs, tasks()), on_cell),
                rows,
                slow,
                max_fit_seconds,
                progress_bar,
                withheld,
            )
    finally:
        # Cells that ran in this process (sequential and threading backends)
        # left their last samples here; do not keep them alive.
        _CACHE.clear()

    # The time cap, applied after the fact so that it does not depend on
    # which cells happened to run concurrently.
    for name, n, repeat in to_run:
        if over_cap(name, n):
            n_slow, seconds = slow[name]
            rows[name, n, repeat] = _skipped_row(
                name,
                n,
                repeat,
                f"the fit at n_samples={n_slow} took {seconds:.1f} s, more than "
                f"max_fit_seconds={max_fit_seconds:g}",
            )

    ordered = [
        rows[name, n, repeat]
        for name in names
        for n in sizes
        for repeat in range(n_repeats)
    ]
    results = _to_frame(ordered, getattr(dataset, "n_features", None))
    _warn_errors(results)

    results.attrs.update(
        {
            "dataset": repr(dataset),
            "n_features": getattr(dataset, "n_features", None),
            "train_sizes": sizes,
            "n_repeats": n_repeats,
            "test_size": test_size,
            "random_state": random_state
            if random_state is None or isinstance(random_state, numbers.Integral)
            else repr(random_state),
            "recovery_threshold": float(recovery_threshold),
            **_theory_attrs(dataset, sizes),
        }
    )
    return results


def _resume_cells(completed, to_run, rows, max_fit_seconds):
    """Put the rows of already completed cells into ``rows``.

    Returns the set of resumed cell keys (among ``to_run``) and the time-cap
    record ``{name: (n_samples, fit_seconds)}`` of the resumed fits.
    """
    resumed, slow = set(), {}
    if completed is None:
        return resumed, slow
    wanted = set(to_run)
    for row in completed:  # already cleaned by _completed_rows
        key = row["estimator"], row["n_samples"], row["repeat"]
        if key not in wanted:
            continue
        rows[key] = row
        resumed.add(key)
        seconds = row["fit_seconds"]
        if (
            max_fit_seconds is not None
            and row["status"] == "ok"
            and seconds > max_fit_seconds
            and (key[0] not in slow or key[1] < slow[key[0]][0])
        ):
            slow[key[0]] = (key[1], seconds)
    return resumed, slow


_CELL_STATUSES = ("ok", "skipped", "error")


def _completed_rows(completed):
    """Rows of ``completed`` (a DataFrame or dicts) as clean study-row dicts."""
    if isinstance(completed, pd.DataFrame):
        records = completed.to_dict("records")
    elif isinstance(completed, (str, bytes, Mapping)) or not hasattr(completed, "__iter__"):
        raise TypeError(
            "completed must be the DataFrame of an earlier scaling_study (or its rows "
            f"as an iterable of dicts); got {type(completed).__name__}. To resume from "
            "a CSV file, pass pandas.read_csv(path)."
        )
    else:
        records = list(completed)
        for record in records:
            if not isinstance(record, Mapping):
                raise TypeError(
                    "completed must hold rows as dicts (column -> value); got a "
                    f"{type(record).__name__}."
                )
    columns = STUDY_COLUMNS[:-1]  # everything but alpha, which is recomputed
    clean = []
    for index, record in enumerate(records):
        missing = [column for column in columns if column not in record]
        if missing:
            raise ValueError(
                f"completed rows must have the columns of scaling_study's table; "
                f"a row lacks {missing}."
            )
        row = {column: record[column] for column in columns}
        row["estimator"] = str(row["estimator"])
        try:
            for column in ("n_samples", "repeat"):
                value = float(row[column])
                if not value.is_integer():
                    raise ValueError
                row[column] = int(value)
            for column in (
                "test_nmse", "fit_seconds", "predict_seconds", "n_components",
                "n_recovered",
            ):
                value = row[column]
                row[column] = math.nan if value is None or value == "" else float(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"completed row {index} has a {column} of {row[column]!r}; the completed "
                "table must be one written by scaling_study (numbers in its numeric "
                "columns)."
            ) from None
        row["status"] = str(row["status"])
        if row["status"] not in _CELL_STATUSES:
            raise ValueError(
                f"completed row {index} has status {row['status']!r}; a cell's status "
                f"is one of {_CELL_STATUSES}."
            )
        if row["status"] == "ok" and not (
            math.isfinite(row["test_nmse"]) and row["test_nmse"] >= 0
        ):
            raise ValueError(
                f"completed row {index} is 'ok' with a test_nmse of {row['test_nmse']!r}; "
                "an ok cell has a finite NMSE >= 0 (drop the row to run it again)."
            )
        if row["n_samples"] < 1 or row["repeat"] < 0:
            raise ValueError(
                f"completed row {index} has n_samples={row['n_samples']} and "
                f"repeat={row['repeat']}; sizes are >= 1 and repeats >= 0."
            )
        reason = row["reason"]
        row["reason"] = "" if reason is None or (
            isinstance(reason, float) and math.isnan(reason)
        ) else str(reason)
        clean.append(row)
    return clean


def _notify_cells(results, on_cell):
    """Pass each finished row to ``on_cell`` (in this process), then on."""
    for row in results:
        if on_cell is not None:
            on_cell(dict(row))
        yield row


def _collect(results, rows, slow, max_fit_seconds, progress_bar, withheld):
    """Store finished cells and note fits that went over the time cap."""
    try:
        for row in results:
            key = row["estimator"], row["n_samples"], row["repeat"]
            rows[key] = row
            if (
                max_fit_seconds is not None
                and row["status"] == "ok"
                and row["fit_seconds"] > max_fit_seconds
            ):
                name, n = key[0], key[1]
                if name not in slow or n < slow[name][0]:
                    slow[name] = (n, row["fit_seconds"])
            progress_bar.set_postfix_str(f"{key[0]} n={key[1]}")
            progress_bar.update()
        # Cells never started because of the time cap count as done.
        progress_bar.update(len(withheld))
    finally:
        progress_bar.close()


def _to_frame(rows, n_features):
    frame = pd.DataFrame(rows, columns=list(STUDY_COLUMNS[:-1]))
    frame = frame.astype(
        {
            "estimator": str,
            "n_samples": np.int64,
            "repeat": np.int64,
            "test_nmse": np.float64,
            "fit_seconds": np.float64,
            "predict_seconds": np.float64,
            "n_components": np.float64,
            "n_recovered": np.float64,
            "status": str,
            "reason": str,
        }
    )
    if isinstance(n_features, numbers.Integral) and n_features >= 2:
        frame["alpha"] = np.log(frame["n_samples"].to_numpy(float)) / np.log(
            float(n_features)
        )
    else:
        frame["alpha"] = np.nan
    return frame.reset_index(drop=True)


def _warn_errors(results):
    errors = results[results["status"] == "error"]
    for (name, reason), group in errors.groupby(["estimator", "reason"], sort=False):
        cells = ", ".join(
            f"n_samples={n} repeat={r}"
            for n, r in zip(group["n_samples"], group["repeat"])
        )
        warnings.warn(
            f"scaling_study: estimator {name!r} failed in {len(group)} cell(s) "
            f"({cells}): {reason}",
            UserWarning,
            stacklevel=3,
        )


# --------------------------------------------------------------- summary
_SUMMARY_DTYPES = {
    "estimator": object,
    "exponent": np.float64,
    "exponent_low": np.float64,
    "exponent_high": np.float64,
    "prefactor": np.float64,
    "theory_exponent": np.float64,
    "n_max": np.int64,
    "nmse_at_n_max": np.float64,
    "n_recovered_at_n_max": np.float64,
    "predicted_n_recovered_at_n_max": np.float64,
    "n_ok": np.int64,
    "n_skipped": np.int64,
    "n_error": np.int64,
}


def summarize_study(
    results, dataset=None, n_range=None, *, n_bootstrap=1000, random_state=0
):
    """Per-estimator scaling exponents and errors of a scaling study.

    Fits ``test_nmse ~ prefactor * n^exponent`` on the 'ok' rows of each
    estimator with :func:`fit_power_law` (every repeat is a point; the
    interval is a percentile bootstrap over repeats) and reports it next to
    the error at the estimator's largest size and the theory's exponent.

    Parameters
    ----------
    results : pandas.DataFrame
        The table returned by :func:`scaling_study`.
    dataset : HierarchicalTargetDataset, default=None
        Source of the theory (exponent, predicted number recovered). When
        None, the values that :func:`scaling_study` stored in
        ``results.attrs`` are used, if any.
    n_range : tuple (low, high), default=None
        Fit only ``low <= n_samples <= high`` (either bound may be None), e.g.
        the theory's scaling window. All sizes when None.
    n_bootstrap : int, default=1000
        Bootstrap replicates of the confidence interval (0: no interval).
    random_state : int, RandomState instance or None, default=0
        Seeds the bootstrap.

    Returns
    -------
    summary : pandas.DataFrame
        One row per estimator (in order of appearance), indexed by name; a
        table without rows gives a summary without rows (with the same
        columns), as a ``groupby`` would. Columns:

        - ``exponent``, ``exponent_low``, ``exponent_high``: the fitted
          exponent and its 95% confidence interval (NaN when fewer than two
          sizes have 'ok' rows in ``n_range``);
        - ``prefactor``;
        - ``theory_exponent``: the theory's exponent (NaN if unknown);
        - ``n_max``: the largest size with an 'ok' row (0 if none);
        - ``nmse_at_n_max``: the median test NMSE over repeats at ``n_max``;
        - ``n_recovered_at_n_max``: the median number of recovered
          directions there (NaN for baselines);
        - ``predicted_n_recovered_at_n_max``: the theory's count there, for
          the estimators whose recovery is measured (NaN for the others);
        - ``n_ok``, ``n_skipped``, ``n_error``: numbers of cells by status.

    Raises
    ------
    ValueError
        If ``results`` lacks a required column, or ``n_range``,
        ``n_bootstrap`` or ``random_state`` is invalid.

    See Also
    --------
    scaling_study : Produces ``results``.
    fit_power_law : The fit behind the exponents.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from sklearn_hierspectral._study import summarize_study
    >>> n = np.repeat([1000, 4000, 16000], 2)
    >>> results = pd.DataFrame({
    ...     "estimator": "model", "n_samples": n, "repeat": [0, 1] * 3,
    ...     "test_nmse": 30 * n**-0.5 * np.tile([0.95, 1.05], 3),
    ...     "status": "ok"})
    >>> summary = summarize_study(results)
    >>> round(float(summary.loc["model", "exponent"]), 2)
    -0.5
    >>> int(summary.loc["model", "n_max"])
    16000
    """
    from ._powerlaw import _check_n_range, fit_power_law

    # Checked up front, not left to fit_power_law: it sees them only for the
    # estimators with two sizes or more, and a bad value must not read as
    # "too few sizes" (NaN exponents) or go unnoticed on a small table.
    low, high = _check_n_range(n_range)
    if (
        isinstance(n_bootstrap, bool)
        or not isinstance(n_bootstrap, numbers.Integral)
        or n_bootstrap < 0
    ):
        raise ValueError(
            "n_bootstrap must be a non-negative integer (0 for no confidence "
            f"interval); got {n_bootstrap!r}."
        )
    try:
        check_random_state(random_state)
    except ValueError:
        raise ValueError(
            "random_state must be None, an integer in [0, 2**32 - 1] or a "
            f"numpy.random.RandomState instance; got {random_state!r}."
        ) from None

    if dataset is not None and not (
        hasattr(dataset, "predicted_exponent") and hasattr(dataset, "predicted_n_recovered")
    ):
        raise TypeError(
            "dataset must be the HierarchicalTargetDataset of the study, or None "
            f"(then the theory is read from results.attrs); got {type(dataset).__name__}."
        )
    results = check_study_table(results)
    sizes = results["n_samples"].to_numpy(float)
    bad = ~np.isfinite(sizes) | (sizes <= 0)
    if np.any(bad):
        raise ValueError(
            f"results['n_samples'] must be positive sample sizes; got {sizes[bad][0]:g} "
            f"in {int(bad.sum())} row(s)."
        )
    status = (
        results["status"].astype(str)
        if "status" in results.columns
        else pd.Series("ok", index=results.index)
    )
    attrs = getattr(results, "attrs", {}) or {}
    theory_exponent = math.nan
    if dataset is not None and hasattr(dataset, "predicted_exponent"):
        theory_exponent = float(dataset.predicted_exponent())
    elif "predicted_exponent" in attrs:
        theory_exponent = float(attrs["predicted_exponent"])

    def predicted_recovered(n):
        if dataset is not None and hasattr(dataset, "predicted_n_recovered"):
            try:
                return float(dataset.predicted_n_recovered(int(n)))
            except (ValueError, TypeError):
                return math.nan
        table = attrs.get("predicted_n_recovered") or {}
        value = table.get(int(n))
        return math.nan if value is None else float(value)

    records = []
    names = [str(name) for name in pd.unique(results["estimator"])]
    for name in names:
        mine = results["estimator"].astype(str) == name
        ok = results[mine & (status == "ok")]
        ok = ok[np.isfinite(ok["test_nmse"].to_numpy(float))]
        negative = ok["test_nmse"].to_numpy(float) < 0
        if np.any(negative):
            raise ValueError(
                f"results has {int(negative.sum())} row(s) of {name!r} with a negative "
                "test_nmse; an NMSE is a ratio of squares, >= 0."
            )
        record = {
            "estimator": name,
            "exponent": math.nan,
            "exponent_low": math.nan,
            "exponent_high": math.nan,
            "prefactor": math.nan,
            "theory_exponent": theory_exponent,
            "n_max": 0,
            "nmse_at_n_max": math.nan,
            "n_recovered_at_n_max": math.nan,
            "predicted_n_recovered_at_n_max": math.nan,
            "n_ok": int(np.sum(mine & (status == "ok"))),
            "n_skipped": int(np.sum(mine & (status == "skipped"))),
            "n_error": int(np.sum(mine & (status == "error"))),
        }
        if len(ok):
            n_max = int(ok["n_samples"].max())
            at_max = ok[ok["n_samples"] == n_max]
            record["n_max"] = n_max
            record["nmse_at_n_max"] = float(at_max["test_nmse"].median())
            if "n_recovered" in ok.columns:
                recovered = at_max["n_recovered"].to_numpy(float)
                if np.any(np.isfinite(recovered)):
                    record["n_recovered_at_n_max"] = float(np.nanmedian(recovered))
                    record["predicted_n_recovered_at_n_max"] = predicted_recovered(
                        n_max
                    )
            # An exact fit (NMSE 0) counts for n_max but has no logarithm:
            # the power law is fitted on the positive errors.
            positive = ok[ok["test_nmse"] > 0]
            sizes = positive["n_samples"].to_numpy(float)
            # Fewer than two sizes in n_range: no exponent (NaN). Tested here
            # rather than by catching fit_power_law's ValueError, which would
            # hide every other error.
            n_sizes = np.unique(sizes[(sizes >= low) & (sizes <= high)]).size
            if n_sizes < 2:
                where = "" if n_range is None else f" in n_range={n_range!r}"
                warnings.warn(
                    f"No scaling exponent for {name!r}: it has {n_sizes} sample "
                    f"size(s) with a positive test NMSE{where}, and a power law needs "
                    "two. Its exponent is NaN.",
                    UserWarning,
                    stacklevel=2,
                )
            else:
                try:
                    fit = fit_power_law(
                        sizes,
                        positive["test_nmse"].to_numpy(float),
                        n_range=n_range,
                        n_bootstrap=n_bootstrap,
                        random_state=random_state,
                    )
                except MemoryBudgetError:
                    raise
                except ValueError as exc:
                    # The parameters were checked above and the errors are
                    # finite and positive: what is left is data no power law
                    # fits (a prefactor beyond the float range). One
                    # estimator's table must not sink the whole summary.
                    warnings.warn(
                        f"No scaling exponent for {name!r}: {exc}", UserWarning, stacklevel=2
                    )
                    fit = None
                if fit is not None:
                    record["exponent"] = fit.exponent
                    record["prefactor"] = fit.prefactor
                    if fit.exponent_ci is not None:
                        record["exponent_low"], record["exponent_high"] = fit.exponent_ci
        records.append(record)
    # Columns and dtypes given explicitly so that a table without rows gives
    # an empty summary of the same shape.
    summary = pd.DataFrame.from_records(records, columns=list(_SUMMARY_DTYPES))
    return summary.astype(_SUMMARY_DTYPES).set_index("estimator")


# --------------------------------------------------------------- recovery
#: Columns of the table returned by :func:`recovery_study`, in order.
RECOVERY_COLUMNS = (
    "n_samples",
    "repeat",
    "direction",
    "weight",
    "cos2",
    "recovered",
    "threshold_n",
    "alpha",
    "n_components",
    "n_recovered",
    "test_nmse",
    "fit_seconds",
    "status",
    "reason",
)


def _run_recovery_cell(
    estimator, dataset, n_samples, repeat, train_seed, test_seed, test_size, token
):
    """Fit one (n_samples, repeat) cell and measure its recovery; never raises.

    Returns a dict with the per-direction ``cos2`` (an array, None on
    failure) and the per-run values.
    """
    cell = {
        "n_samples": n_samples,
        "repeat": repeat,
        "cos2": None,
        "n_components": math.nan,
        "test_nmse": math.nan,
        "fit_seconds": math.nan,
        "status": "ok",
        "reason": "",
    }
    try:
        # The training sample is the one scaling_study draws for the same
        # random_state, size and repeat (same seed keys), so the two studies
        # are paired.
        X, y = _CACHE.get(
            "train",
            (token, n_samples, repeat),
            lambda: dataset.sample(n_samples, random_state=train_seed),
        )
        X, y = X.copy(), y.copy()
        model = clone(estimator)
        start = time.perf_counter()
        model.fit(X, y)
        cell["fit_seconds"] = time.perf_counter() - start
        del X, y
        cos2 = recovery_cos2(model, dataset)
        if cos2 is None:
            raise TypeError(
                f"{type(_final_estimator(model)).__name__} learns no quadratic "
                "features to compare with the latent directions; recovery_study "
                "needs a HierarchicalSpectralRegressor, a "
                "HierarchicalSpectralTransformer or a Pipeline containing one."
            )
        cell["cos2"] = np.asarray(cos2, dtype=float)
        cell["n_components"] = _fitted_n_components(model)
        if test_size is not None:
            X_test, y_test = _CACHE.get(
                "test",
                (token, test_size),
                lambda: dataset.sample(test_size, random_state=test_seed),
            )
            y_pred = np.asarray(model.predict(X_test), dtype=float).reshape(-1)
            try:
                cell["test_nmse"] = _test_nmse(y_pred, y_test)
            except ValueError as exc:
                # The recovery (cos2) stands; only the error is missing, and
                # the reason says why instead of a bare NaN.
                cell["reason"] = _one_line(f"no test NMSE: {exc}")
    except MemoryError as exc:
        cell.update(
            status="skipped",
            reason=_one_line(f"{type(exc).__name__}: {exc}"),
            cos2=None,
            n_components=math.nan,
            test_nmse=math.nan,
        )
    except Exception as exc:
        cell.update(
            status="error",
            reason=_one_line(f"{type(exc).__name__}: {exc}"),
            cos2=None,
            n_components=math.nan,
            test_nmse=math.nan,
        )
    return cell


def _recovery_frame(cells, dataset, threshold):
    """One row per (n_samples, repeat, direction), from the cells' results."""
    weights = np.asarray(dataset.weights, dtype=float)
    n_directions = weights.size
    try:
        threshold_n = np.asarray(dataset.threshold_samples(), dtype=float)
    except (AttributeError, ValueError, TypeError):
        threshold_n = np.full(n_directions, np.nan)
    n_cells = len(cells)
    cos2 = np.full((n_cells, n_directions), np.nan)
    for row, cell in enumerate(cells):
        if cell["cos2"] is not None:
            cos2[row] = cell["cos2"]
    ok = np.array([cell["cos2"] is not None for cell in cells], dtype=bool)
    recovered = np.where(np.isfinite(cos2), cos2 > threshold, False)
    n_recovered = np.where(ok, recovered.sum(axis=1), np.nan)

    def per_cell(key, dtype):
        values = np.array([cell[key] for cell in cells], dtype=dtype)
        return np.repeat(values, n_directions)

    n_samples = per_cell("n_samples", np.int64)
    n_features = getattr(dataset, "n_features", None)
    if isinstance(n_features, numbers.Integral) and n_features >= 2:
        alpha = np.log(n_samples.astype(float)) / np.log(float(n_features))
    else:
        alpha = np.full(n_samples.shape, np.nan)
    frame = pd.DataFrame(
        {
            "n_samples": n_samples,
            "repeat": per_cell("repeat", np.int64),
            "direction": np.tile(np.arange(n_directions, dtype=np.int64), n_cells),
            "weight": np.tile(weights, n_cells),
            "cos2": cos2.reshape(-1),
            "recovered": recovered.reshape(-1).astype(bool),
            "threshold_n": np.tile(threshold_n, n_cells),
            "alpha": alpha,
            "n_components": per_cell("n_components", np.float64),
            "n_recovered": np.repeat(n_recovered.astype(np.float64), n_directions),
            "test_nmse": per_cell("test_nmse", np.float64),
            "fit_seconds": per_cell("fit_seconds", np.float64),
            "status": per_cell("status", object).astype(str),
            "reason": per_cell("reason", object).astype(str),
        },
        columns=list(RECOVERY_COLUMNS),
    )
    return frame


def recovery_study(
    estimator,
    dataset,
    train_sizes,
    *,
    n_repeats=3,
    test_size=5000,
    n_jobs=None,
    backend=None,
    random_state=0,
    threshold=RECOVERY_THRESHOLD,
    progress=True,
):
    """Watch the latent directions being recovered as the sample size grows.

    For every training-set size ``n`` and repeat ``r``, the estimator is
    cloned and fitted on a fresh sample of size ``n`` from ``dataset``; then
    each latent direction's ``cos^2`` with the learned span
    (:func:`~sklearn_hierspectral.recovery_cos2`) is recorded, next to the
    theory's threshold for that direction (SPEC section 4). The result is a
    tidy table, one row per (size, repeat, direction), that
    :meth:`RecoveryDisplay.from_study` plots as per-direction curves or as
    the recovered-count staircase.

    The seeding is that of :func:`scaling_study`: the training sample of a
    (size, repeat) comes from a seed keyed by the size and the repeat under
    ``random_state``, and the test set from one fixed seed. So the table
    depends neither on ``n_jobs`` nor on the backend, and a recovery study
    and a scaling study with the same ``random_state`` fit on the very same
    samples (their ``n_recovered`` agree for an estimator with a fixed
    ``random_state``).

    A cell that cannot run is recorded, not raised: status ``'skipped'`` on
    :class:`MemoryError`, ``'error'`` (with a warning) on any other
    exception, including an estimator without learned quadratic features
    (a kernel baseline); its ``cos2`` is NaN.

    Parameters
    ----------
    estimator : estimator
        An unfitted :class:`HierarchicalSpectralRegressor`,
        :class:`HierarchicalSpectralTransformer` or a Pipeline containing
        one. Each cell fits a clone; give it a fixed ``random_state`` for a
        reproducible table.
    dataset : HierarchicalTargetDataset
        The target: its ``sample`` draws the samples, its
        ``latent_matrices`` are the true directions, its ``weights`` and
        ``threshold_samples()`` go into the table.
    train_sizes : sequence of int
        Distinct training-set sizes, at least 2 each; reported in increasing
        order.
    n_repeats : int, default=3
        Fresh training samples per size.
    test_size : int or None, default=5000
        Size of the fixed test set on which ``test_nmse`` is measured (the
        one :func:`scaling_study` uses for the same ``random_state`` and
        ``test_size``). None skips the scoring (``test_nmse`` is NaN).
    n_jobs : int, default=None
        Number of joblib workers; None means 1 unless in a
        :func:`joblib.parallel_config` context. -1 uses every core.
    backend : str or joblib backend instance, default=None
        joblib backend for the duration of the study, as in
        :func:`scaling_study`.
    random_state : int, numpy SeedSequence or None, default=0
        Seeds the training samples and the test set. The same seed gives the
        same table (except for ``fit_seconds``).
    threshold : float, default=0.5
        A direction counts as recovered when its ``cos^2 > threshold``.
    progress : bool, default=True
        Show a progress bar on stderr.

    Returns
    -------
    results : pandas.DataFrame
        One row per (n_samples, repeat, direction), sorted in that order, with
        columns

        - ``n_samples`` (int), ``repeat`` (int);
        - ``direction`` (int): the dataset's 0-based index of the direction,
          strongest first (direction ``i`` is the theory's ``i + 1``);
        - ``weight`` (float): its signed weight ``b_i``;
        - ``cos2`` (float): its squared cosine with the learned span, NaN
          unless ``status == 'ok'``;
        - ``recovered`` (bool): ``cos2 > threshold``;
        - ``threshold_n`` (float): the theory's sample size ``n_i`` at which
          it is recovered (asymptotic, up to constants);
        - ``alpha`` (float): ``log n / log d``;

        and, the same on every row of a (n_samples, repeat):

        - ``n_components`` (float): the fitted ``n_components_``;
        - ``n_recovered`` (float): the number of recovered directions;
        - ``test_nmse`` (float): the normalised test error (NaN when
          ``test_size`` is None, or when it is undefined, e.g. predictions
          that are not finite: ``reason`` then says why, and the recovery
          values stand);
        - ``fit_seconds`` (float);
        - ``status`` (str): 'ok', 'skipped' or 'error', and ``reason`` (str).

        ``results.attrs`` holds the study's settings and the theory's
        predictions (as in :func:`scaling_study`).

        ``RecoveryDisplay.from_study(results, dataset=dataset)`` plots it,
        with ``kind="directions"`` or ``kind="staircase"``; it counts the
        recovered directions from ``cos2`` with its own ``threshold``
        argument, so pass it the study's when it is not 0.5.

    Warns
    -----
    UserWarning
        When cells fail with an error other than running out of memory.

    See Also
    --------
    scaling_study : Test error of several estimators against the size.
    recovery_report : Every recovery metric of one fitted estimator.
    RecoveryDisplay.from_study : Plot the returned table.

    Notes
    -----
    This is a function of its own rather than an option of
    :func:`scaling_study` because its table has another grain (one row per
    direction, not per estimator) and it needs a single estimator with
    learned quadratic features, where a scaling study compares any
    regressors.

    Examples
    --------
    >>> from sklearn_hierspectral import (
    ...     HierarchicalSpectralRegressor, HierarchicalTargetDataset)
    >>> from sklearn_hierspectral._study import recovery_study
    >>> dataset = HierarchicalTargetDataset(n_features=8, n_latent=2, random_state=0)
    >>> results = recovery_study(
    ...     HierarchicalSpectralRegressor(n_components=4, random_state=0),
    ...     dataset, [200, 8000], n_repeats=2, test_size=None, progress=False)
    >>> results.shape
    (8, 14)
    >>> results.groupby("n_samples")["n_recovered"].min().to_dict()
    {200: 0.0, 8000: 2.0}
    """
    if isinstance(estimator, Mapping):
        raise TypeError(
            "recovery_study takes a single estimator; call it once per estimator "
            "(with the same random_state, the samples are the same)."
        )
    if not (hasattr(estimator, "fit") and hasattr(estimator, "get_params")):
        raise TypeError(
            "estimator must be an unfitted scikit-learn estimator, e.g. a "
            f"HierarchicalSpectralRegressor; got {type(estimator).__name__}."
        )
    clone(estimator)
    for attribute in ("sample", "latent_matrices", "weights"):
        if not hasattr(dataset, attribute):
            raise TypeError(
                f"dataset must have {attribute!r}, like HierarchicalTargetDataset; "
                f"got {type(dataset).__name__}."
            )
    sizes = _check_train_sizes(train_sizes)
    n_repeats = _check_positive_int("n_repeats", n_repeats)
    if test_size is not None:
        test_size = _check_positive_int("test_size", test_size, minimum=2)
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, numbers.Real)
        or not 0.0 <= threshold < 1.0
    ):
        raise ValueError(f"threshold must be in [0, 1); got {threshold!r}.")
    threshold = float(threshold)
    n_jobs = _check_parallel(n_jobs, backend, _check_n_cells(len(sizes), n_repeats))

    root = _seed_sequence(random_state)

    def child(*key):
        return np.random.SeedSequence(root.entropy, spawn_key=root.spawn_key + key)

    test_seed = child(_TEST_KEY)
    token = uuid.uuid4().hex
    # Largest sizes first: they take longest, so this balances the workers.
    to_run = [(n, repeat) for n in sizes[::-1] for repeat in range(n_repeats)]
    progress_bar = _make_progress(progress, len(to_run), desc="recovery_study")
    tasks = (
        delayed(_run_recovery_cell)(
            estimator,
            dataset,
            n,
            repeat,
            child(_TRAIN_KEY, n, repeat),
            test_seed,
            test_size,
            token,
        )
        for n, repeat in to_run
    )
    config = (
        joblib.parallel_config(backend=backend)
        if backend is not None
        else nullcontext()
    )
    cells = {}
    try:
        with config, _blas_limit(n_jobs):
            for cell in _parallel_results({"n_jobs": n_jobs, "batch_size": 1}, tasks):
                cells[cell["n_samples"], cell["repeat"]] = cell
                progress_bar.set_postfix_str(f"n={cell['n_samples']}")
                progress_bar.update()
    finally:
        progress_bar.close()
        _CACHE.clear()

    ordered = [cells[n, repeat] for n in sizes for repeat in range(n_repeats)]
    results = _recovery_frame(ordered, dataset, threshold)
    failed = [cell for cell in ordered if cell["status"] == "error"]
    by_reason = {}
    for cell in failed:
        by_reason.setdefault(cell["reason"], []).append(cell)
    for reason, group in by_reason.items():
        where = ", ".join(
            f"n_samples={c['n_samples']} repeat={c['repeat']}" for c in group
        )
        warnings.warn(
            f"recovery_study: {len(group)} cell(s) failed ({where}): {reason}",
            UserWarning,
            stacklevel=2,
        )
    results.attrs.update(
        {
            "dataset": repr(dataset),
            "n_features": getattr(dataset, "n_features", None),
            "train_sizes": sizes,
            "n_repeats": n_repeats,
            "test_size": test_size,
            "random_state": random_state
            if random_state is None or isinstance(random_state, numbers.Integral)
            else repr(random_state),
            "threshold": threshold,
            **_theory_attrs(dataset, sizes),
        }
    )
    return results
