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
from threadpoolctl import threadpool_limits

from ._dataset import _seed_sequence
from ._recovery import RECOVERY_THRESHOLD, n_recovered, recovery_cos2

__all__ = ["scaling_study", "summarize_study"]

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


def _check_train_sizes(train_sizes):
    try:
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
        variance = float(np.var(y_test))
        mse = float(np.mean((y_pred - y_test) ** 2))
        row["test_nmse"] = mse / variance if variance > 0 else math.nan
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

    progress_bar = _make_progress(progress, len(to_run))
    # Smallest size at which each estimator's fit went over the time cap.
    slow = {}

    def over_cap(name, n):
        return name in slow and n > slow[name][0]

    withheld = []

    def tasks():
        for name, n, repeat in to_run:
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
                _parallel_results(parallel_kwargs, tasks()),
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
        Bootstrap replicates of the confidence interval.
    random_state : int, RandomState instance or None, default=0
        Seeds the bootstrap.

    Returns
    -------
    summary : pandas.DataFrame
        One row per estimator (in order of appearance), indexed by name, with
        columns

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
    from ._powerlaw import fit_power_law

    if not isinstance(results, pd.DataFrame):
        results = pd.DataFrame(results)
    missing = {"estimator", "n_samples", "test_nmse"} - set(results.columns)
    if missing:
        raise ValueError(
            f"results lacks the column(s) {sorted(missing)}; expected the "
            "DataFrame of scaling_study."
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
        ok = ok[np.isfinite(ok["test_nmse"].to_numpy(float)) & (ok["test_nmse"] > 0)]
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
            try:
                fit = fit_power_law(
                    ok["n_samples"].to_numpy(float),
                    ok["test_nmse"].to_numpy(float),
                    n_range=n_range,
                    n_bootstrap=n_bootstrap,
                    random_state=random_state,
                )
            except ValueError:
                fit = None  # fewer than two sizes to fit
            if fit is not None:
                record["exponent"] = fit.exponent
                record["prefactor"] = fit.prefactor
                if fit.exponent_ci is not None:
                    record["exponent_low"], record["exponent_high"] = fit.exponent_ci
        records.append(record)
    summary = pd.DataFrame.from_records(records).set_index("estimator")
    summary["n_max"] = summary["n_max"].astype(np.int64)
    return summary
