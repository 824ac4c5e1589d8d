"""Command line: ``python -m sklearn_hierspectral`` runs a scaling study.

With no arguments it runs the default study (SPEC section 5): the layer-wise
spectral learner against exact kernel ridge (RBF and polynomial kernels) and
random-feature ridge (random Fourier features, Nystroem) on an embedded
default hierarchical target, prints the errors and the fitted scaling
exponents next to the theory's, and writes ``results.csv``, ``summary.json``
and ``scaling.png`` into an output folder.

While the study runs, every finished cell is saved to ``results.partial.csv``
in the output folder (rewritten atomically, so it is always complete). An
interrupted run (Ctrl-C, SIGTERM, a crash) can be continued with
``--resume``: cells already present with the same configuration (a
fingerprint of the dataset, seed, test-set size and estimator) are not run
again. A resume never drops earlier cells: one whose options would not
reproduce some of them (another seed, dataset or estimator setting, fewer
estimators, sizes or repeats) is refused with exit status 2. More sizes or
repeats extend the study. The partial file is removed once the final files
are written.
"""

import argparse
import hashlib
import json
import math
import os
import platform
import signal
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np

PROG = "python -m sklearn_hierspectral"

#: The embedded default dataset: d = 30, p = round(30^0.5) = 5 latent features,
#: weights decaying as i^-1, identity link, no noise. Its theory predicts
#: thresholds n_i = d^2 i^2 = 900, 3600, ..., 22500 and NMSE ~ n^-1/2.
DEFAULT_DATASET = {
    "n_features": 30,
    "n_latent": None,
    "latent_exponent": 0.5,
    "decay": 1.0,
    "link": "identity",
    "noise": 0.0,
}
#: Training-set sizes of the default study: log-spaced (factor ~2.1) over a factor 33,
#: alpha = log n / log d from 2.35 to 3.4.
DEFAULT_SIZES = (3000, 6500, 14000, 30000, 65000, 100000)
DEFAULT_REPEATS = 2
DEFAULT_TEST_SIZE = 5000
DEFAULT_ESTIMATORS = ("spectral", "krr-rbf", "krr-poly", "rff", "nystroem")
#: Exact kernel ridge is O(n^2) memory and O(n^3) time: 8,000 samples need a
#: 0.5 GB kernel matrix and a few tens of seconds per fit on 2 cores.
DEFAULT_KRR_MAX_SAMPLES = 8000
#: Random features per random-feature baseline (Nystroem landmarks).
DEFAULT_RF_COMPONENTS = 1000
DEFAULT_OUTPUT = "hierspectral_study"
DEFAULT_N_JOBS = 2
OUTPUT_FILES = ("results.csv", "summary.json", "scaling.png")
#: Cells finished so far, with the fingerprint of their configuration; exists
#: only while a study runs or after it was interrupted.
PARTIAL_FILE = "results.partial.csv"
#: Statuses of saved cells that --resume reuses; 'error' cells are run again
#: (an error may have been caused by the interruption itself).
RESUMABLE_STATUSES = ("ok", "skipped")
LINKS = ("identity", "tanh", "quadratic")

_PLOT_INSTALL_HINT = 'pip install "sklearn_hierspectral[plot]"'


# ---------------------------------------------------------------- registry
def _spectral(options):
    from ._regressor import HierarchicalSpectralRegressor

    return HierarchicalSpectralRegressor(random_state=options.seed)


def _krr(kernel):
    def factory(options):
        from ._baselines import make_kernel_ridge_baseline

        kwargs = {"degree": 4} if kernel == "poly" else {}
        return make_kernel_ridge_baseline(
            kernel, gamma="median", random_state=options.seed, **kwargs
        )

    return factory


def _random_features(method):
    def factory(options):
        from ._baselines import make_random_features_baseline

        kwargs = {"degree": 4} if method == "poly_sketch" else {}
        return make_random_features_baseline(
            method,
            n_components=options.rf_components,
            gamma="median",
            random_state=options.seed,
            **kwargs,
        )

    return factory


#: name -> (factory(options) -> estimator, description, is exact kernel ridge)
ESTIMATORS = {
    "spectral": (
        _spectral,
        "HierarchicalSpectralRegressor (layer-wise spectral learner)",
        False,
    ),
    "krr-rbf": (_krr("rbf"), "exact kernel ridge, RBF kernel, median gamma", True),
    "krr-poly": (
        _krr("poly"),
        "exact kernel ridge, polynomial kernel of degree 4",
        True,
    ),
    "rff": (_random_features("rff"), "random Fourier features + ridge", False),
    "nystroem": (_random_features("nystroem"), "Nystroem (RBF) + ridge", False),
    "poly-sketch": (
        _random_features("poly_sketch"),
        "polynomial count sketch (degree 4) + ridge",
        False,
    ),
}


# ---------------------------------------------------------------- parsing
class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line (no usage block) and exit 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _int_at_least(minimum):
    def parse(text):
        try:
            value = float(text.replace("_", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected an integer, got {text!r}"
            ) from None
        if not math.isfinite(value) or not value.is_integer():
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}")
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f"expected an integer >= {minimum}, got {text!r}"
            )
        return int(value)

    parse.__name__ = "integer"
    return parse


def _float_at_least(minimum, strict=False):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a number, got {text!r}"
            ) from None
        if not math.isfinite(value) or value < minimum or (strict and value == minimum):
            relation = ">" if strict else ">="
            raise argparse.ArgumentTypeError(
                f"expected a finite number {relation} {minimum:g}, got {text!r}"
            )
        return value

    parse.__name__ = "number"
    return parse


#: More workers than this many per core is surely a typo: loky starts every
#: worker process at once.
_MAX_JOBS_PER_CORE = 8


def _n_jobs(text):
    value = _int_at_least(-(2**31))(text)
    if value == 0:
        raise argparse.ArgumentTypeError(
            "expected a positive number of workers or -1 (all cores), got 0"
        )
    cores = os.cpu_count() or 1
    if value > _MAX_JOBS_PER_CORE * cores:
        raise argparse.ArgumentTypeError(
            f"{value} workers on {cores} core(s) would start {value} processes; "
            f"use at most {_MAX_JOBS_PER_CORE * cores}, or -1 for one per core"
        )
    return value


def _seed(text):
    value = _int_at_least(0)(text)
    if value >= 2**32:
        raise argparse.ArgumentTypeError(
            f"expected an integer in [0, 2**32 - 1] (scikit-learn's seeds), got {text!r}"
        )
    return value


_parse_size = _int_at_least(10)


def _sizes(text):
    items = [item.strip() for item in text.split(",")]
    if not any(items):
        raise argparse.ArgumentTypeError("expected a comma-separated list of sizes")
    sizes = []
    for item in items:
        if not item:
            raise argparse.ArgumentTypeError(f"empty size in {text!r}")
        try:
            sizes.append(_parse_size(item))
        except argparse.ArgumentTypeError as exc:
            raise argparse.ArgumentTypeError(
                f"every size must be an integer >= 10; {exc}"
            ) from None
    return sizes


def _estimator_names(text):
    names = [item.strip() for item in text.split(",") if item.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected a comma-separated list of names")
    if names == ["all"]:
        return list(ESTIMATORS)
    unknown = [name for name in names if name not in ESTIMATORS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown estimator(s) {', '.join(unknown)}; choose from "
            f"{', '.join(ESTIMATORS)} (or 'all')"
        )
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"estimator listed twice in {text!r}")
    return names


def build_parser():
    """The argument parser of ``python -m sklearn_hierspectral``."""
    estimator_help = "; ".join(
        f"{name}: {description}" for name, (_, description, _) in ESTIMATORS.items()
    )
    parser = _Parser(
        prog=PROG,
        description=(
            "Run a scaling study: test error against training-set size of the "
            "layer-wise spectral learner and shallow kernel baselines on a "
            "hierarchical target, with power-law fits next to the theory's "
            "exponent. Without arguments, the default study (about 1 minute "
            "on 2 cores) writes results.csv, summary.json and scaling.png into "
            f"./{DEFAULT_OUTPUT}/."
        ),
        epilog=(
            "Exit status: 0 on success, 1 when the study ran but no fit "
            "succeeded or an output could not be written, 2 on invalid "
            "arguments or an output folder that would be overwritten, 130 when "
            f"interrupted (the finished cells stay in {PARTIAL_FILE}; rerun the "
            "same command with --resume to continue). Example: "
            f"{PROG} --n-features 20 --sizes 2000,8000,32000 --repeats 3 "
            "--estimators spectral,rff --output study_d20"
        ),
    )
    data = parser.add_argument_group("dataset (the hierarchical target)")
    data.add_argument(
        "--n-features", type=_int_at_least(2), default=DEFAULT_DATASET["n_features"],
        metavar="D", help="input dimension d (default: %(default)s)",
    )
    data.add_argument(
        "--n-latent", type=_int_at_least(1), default=None, metavar="P",
        help="number p of latent features (default: round(d ** latent-exponent))",
    )
    data.add_argument(
        "--latent-exponent", type=_float_at_least(0.0), default=None, metavar="EPS",
        help="eps in p = round(d ** eps), instead of --n-latent (default: "
        f"{DEFAULT_DATASET['latent_exponent']})",
    )
    data.add_argument(
        "--decay", type=_float_at_least(0.0), default=DEFAULT_DATASET["decay"],
        metavar="GAMMA",
        help="power-law decay gamma >= 0 of the latent weights (default: "
        "%(default)s; theory exponent -(1 - 1/(2 gamma)) for gamma > 1/2)",
    )
    data.add_argument(
        "--link", choices=LINKS, default=DEFAULT_DATASET["link"],
        help="output link (default: %(default)s)",
    )
    data.add_argument(
        "--noise", type=_float_at_least(0.0), default=DEFAULT_DATASET["noise"],
        metavar="SIGMA", help="label noise standard deviation (default: %(default)s)",
    )
    study = parser.add_argument_group("study")
    study.add_argument(
        "--sizes", type=_sizes, default=list(DEFAULT_SIZES), metavar="N,N,...",
        help="comma-separated training-set sizes, at least two distinct, each >= 10 "
        f"(default: {','.join(map(str, DEFAULT_SIZES))})",
    )
    study.add_argument(
        "--repeats", type=_int_at_least(1), default=DEFAULT_REPEATS, metavar="R",
        help="fresh training samples per size (default: %(default)s)",
    )
    study.add_argument(
        "--test-size", type=_int_at_least(10), default=DEFAULT_TEST_SIZE,
        metavar="N", help="size of the fixed test set (default: %(default)s)",
    )
    study.add_argument(
        "--estimators", type=_estimator_names, default=list(DEFAULT_ESTIMATORS),
        metavar="NAME,...",
        help=f"comma-separated estimators, or 'all' (default: "
        f"{','.join(DEFAULT_ESTIMATORS)}). {estimator_help}.",
    )
    study.add_argument(
        "--krr-max-samples", type=_int_at_least(0), default=DEFAULT_KRR_MAX_SAMPLES,
        metavar="N",
        help="skip exact kernel ridge above N training samples (O(n^2) memory, "
        "O(n^3) time); 0 for no limit (default: %(default)s)",
    )
    study.add_argument(
        "--rf-components", type=_int_at_least(1), default=DEFAULT_RF_COMPONENTS,
        metavar="M",
        help="random features (Nystroem landmarks) of the random-feature "
        "baselines (default: %(default)s)",
    )
    study.add_argument(
        "--max-fit-seconds", type=_float_at_least(0.0, strict=True), default=None,
        metavar="S",
        help="skip an estimator's larger sizes once one of its fits took longer "
        "than S seconds (default: no limit)",
    )
    study.add_argument(
        "--n-jobs", type=_n_jobs, default=DEFAULT_N_JOBS, metavar="J",
        help="parallel workers (joblib; -1 for all cores; default: %(default)s)",
    )
    study.add_argument(
        "--seed", type=_seed, default=0,
        help="seed of the target, the samples and the estimators "
        "(default: %(default)s)",
    )
    output = parser.add_argument_group("output")
    output.add_argument(
        "--output", "-o", default=DEFAULT_OUTPUT, metavar="FOLDER",
        help="output folder; must not exist or be empty unless --overwrite "
        "(default: %(default)s)",
    )
    output.add_argument(
        "--overwrite", action="store_true",
        help="replace the results in an existing, non-empty output folder",
    )
    output.add_argument(
        "--resume", action="store_true",
        help="continue an interrupted (or extend a finished) study in --output: "
        "cells already done with the same configuration are not run again",
    )
    output.add_argument(
        "--no-plot", action="store_true", help="do not draw scaling.png"
    )
    output.add_argument(
        "--quiet", "-q", action="store_true",
        help="print nothing but errors (no progress bar, no table)",
    )
    return parser


def _validate(parser, options):
    """Cross-field checks; returns the dataset (or exits 2 via parser.error)."""
    from ._dataset import HierarchicalTargetDataset

    if len(set(options.sizes)) != len(options.sizes):
        parser.error(f"argument --sizes: duplicate size in {options.sizes}")
    if len(options.sizes) < 2:
        parser.error(
            "argument --sizes: a scaling law needs at least two distinct sizes"
        )
    options.sizes = sorted(options.sizes)
    from ._study import MAX_CELLS

    n_cells = len(options.sizes) * options.repeats * len(options.estimators)
    if n_cells > MAX_CELLS:
        parser.error(
            f"argument --repeats: {len(options.sizes)} size(s) x {options.repeats} "
            f"repeat(s) x {len(options.estimators)} estimator(s) make {n_cells:,} "
            f"cells, more than {MAX_CELLS:,}; use fewer repeats"
        )
    if options.n_latent is not None and options.latent_exponent is not None:
        parser.error("give either --n-latent or --latent-exponent, not both")
    if options.latent_exponent is None:
        options.latent_exponent = DEFAULT_DATASET["latent_exponent"]
    try:
        dataset = HierarchicalTargetDataset(
            options.n_features,
            n_latent=options.n_latent,
            latent_exponent=options.latent_exponent,
            decay=options.decay,
            link=options.link,
            noise=options.noise,
            random_state=options.seed,
        )
    except (ValueError, TypeError) as exc:
        parser.error(str(exc))
    _check_dataset_usable(parser, options, dataset)
    exact = [name for name in options.estimators if ESTIMATORS[name][2]]
    if exact and options.krr_max_samples and options.krr_max_samples < min(
        options.sizes
    ):
        parser.error(
            f"--krr-max-samples {options.krr_max_samples} is below every size, so "
            f"{', '.join(exact)} would never run; raise it or drop them from "
            "--estimators"
        )
    output = Path(options.output)
    if options.resume and options.overwrite:
        parser.error("give either --resume or --overwrite, not both")
    if output.exists() and not output.is_dir():
        parser.error(f"--output {str(output)!r} exists and is not a folder")
    options.previous_cells = None
    if output.is_dir() and any(output.iterdir()):
        if options.resume:
            try:
                options.previous_cells = _load_previous_cells(output)
            except ValueError as exc:
                parser.error(str(exc))
            foreign = _foreign_cells(options, dataset, options.previous_cells)
            if foreign:
                parser.error(
                    f"--resume: {str(output)!r} holds {foreign}, which this run would "
                    "not reproduce, so its results would be replaced without them. "
                    "Resume with the options of the earlier run, choose another "
                    "--output for a different study, or pass --overwrite (instead of "
                    "--resume) to replace the earlier results"
                )
        elif not options.overwrite:
            if (output / PARTIAL_FILE).exists():
                parser.error(
                    f"output folder {str(output)!r} holds an interrupted study "
                    f"({PARTIAL_FILE}); pass --resume to continue it, --overwrite "
                    "to start over, or choose another --output"
                )
            parser.error(
                f"output folder {str(output)!r} exists and is not empty; pass "
                "--overwrite to replace its results, --resume to extend them, or "
                "choose another --output"
            )
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        parser.error(f"cannot create the output folder {str(output)!r}: {exc}")
    return dataset


def _check_dataset_usable(parser, options, dataset):
    """Fail fast (exit 2) on a dataset the study could not use at all: samples
    that would not fit in memory, targets that overflow, an undefined theory."""
    from ._memory import available_memory

    available, source = available_memory()
    if available is not None:
        from ._memory import ALLOCATION_FRACTION, format_bytes

        for option, n in (("--sizes", max(options.sizes)), ("--test-size", options.test_size)):
            needed = dataset._sample_bytes(n, 8)
            if needed > ALLOCATION_FRACTION * available:
                parser.error(
                    f"argument {option}: a sample of {n:,} rows of {dataset.n_features} "
                    f"features needs about {format_bytes(needed)}, but only "
                    f"{format_bytes(available)} is available ({source}); use smaller sizes"
                )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            dataset.sample(16, random_state=options.seed)
            dataset.predicted_exponent()
            for n in options.sizes:
                dataset.predicted_error(n)
                dataset.predicted_n_recovered(n)
            dataset.threshold_samples()
    except (ValueError, TypeError, ArithmeticError) as exc:
        parser.error(f"the dataset cannot be used: {' '.join(str(exc).split())}")


# ---------------------------------------------------------------- resume
def _load_previous_cells(output):
    """Cells saved by an earlier run in ``output``, with their fingerprints.

    From ``results.partial.csv`` when a run was interrupted; else from a
    finished run's ``results.csv``, whose fingerprints are in ``summary.json``.
    Returns a DataFrame with the study's columns and ``config``, or raises
    ValueError when there is nothing to resume or the files are unreadable.
    """
    import pandas as pd

    from ._study import STUDY_COLUMNS, _completed_rows

    columns = list(STUDY_COLUMNS[:-1])
    partial = output / PARTIAL_FILE
    try:
        if partial.exists():
            cells = pd.read_csv(partial, keep_default_na=False, na_values=[""])
            source = partial
        elif (output / "results.csv").exists() and (output / "summary.json").exists():
            source = output / "results.csv"
            summary = json.loads((output / "summary.json").read_text())
            config = summary.get("config") if isinstance(summary, dict) else None
            fingerprints = config.get("fingerprints") if isinstance(config, dict) else None
            if not isinstance(fingerprints, dict) or not all(
                isinstance(value, str) for value in fingerprints.values()
            ):
                raise ValueError(
                    "summary.json has no config.fingerprints mapping estimator names "
                    "to their fingerprints"
                )
            cells = pd.read_csv(source, keep_default_na=False, na_values=[""])
            cells["config"] = cells["estimator"].astype(str).map(fingerprints).fillna("")
        else:
            raise ValueError(
                f"--resume: nothing to resume in {str(output)!r} (no {PARTIAL_FILE}, "
                "and no results.csv with its summary.json); pass --overwrite to "
                "start over, or choose another --output"
            )
    except (OSError, ValueError, KeyError, pd.errors.ParserError) as exc:
        if isinstance(exc, ValueError) and str(exc).startswith("--resume"):
            raise
        raise ValueError(
            f"--resume: cannot read the earlier results in {str(output)!r} "
            f"({type(exc).__name__}: {' '.join(str(exc).split())}); pass --overwrite "
            "to start over"
        ) from None
    missing = [column for column in columns + ["config"] if column not in cells.columns]
    if missing:
        raise ValueError(
            f"--resume: {source.name} in {str(output)!r} lacks the column(s) "
            f"{', '.join(missing)}; pass --overwrite to start over"
        )
    cells = cells[columns + ["config"]].copy()
    for text in ("estimator", "status", "reason", "config"):
        column = cells[text].astype(object)
        cells[text] = column.where(column.notna(), "").astype(str)
    try:
        # The checks of scaling_study's completed rows, before any fit: a
        # damaged file must not cost a study and then fail at the end.
        _completed_rows(cells[columns])
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"--resume: {source.name} in {str(output)!r} is damaged "
            f"({' '.join(str(exc).split())}); pass --overwrite to start over"
        ) from None
    return cells


def _run_fingerprints(options, dataset):
    """Fingerprint of each estimator of this run (see :func:`_fingerprint`)."""
    return {
        name: _fingerprint(options, dataset, name, ESTIMATORS[name][0](options))
        for name in options.estimators
    }


def _foreign_cells(options, dataset, previous):
    """Describe the earlier cells that are not part of this run, or ''.

    A resumed run writes only its own cells into results.csv: earlier cells
    of another configuration (seed, dataset, estimator settings), of an
    estimator, a size or a repeat that this run does not have, would be lost.
    """
    if previous is None or previous.empty:
        return ""
    fingerprints = _run_fingerprints(options, dataset)
    names = previous["estimator"].astype(str)
    other_config = names.isin(list(fingerprints)) & (previous["config"] != names.map(fingerprints))
    other_estimator = ~names.isin(list(fingerprints))
    other_cell = ~previous["n_samples"].isin(options.sizes) | (
        previous["repeat"] >= options.repeats
    )
    parts = []
    if other_config.any():
        changed = sorted(set(names[other_config]))
        parts.append(
            f"{int(other_config.sum())} cell(s) of {', '.join(changed)} made with other "
            "options (dataset, --seed, --test-size or the estimator's settings)"
        )
    if other_estimator.any():
        parts.append(
            f"{int(other_estimator.sum())} cell(s) of estimator(s) "
            f"{', '.join(sorted(set(names[other_estimator])))} not in --estimators"
        )
    rest = other_cell & ~other_config & ~other_estimator
    if rest.any():
        parts.append(
            f"{int(rest.sum())} cell(s) at sizes or repeats not in --sizes/--repeats"
        )
    return "; ".join(parts)


def _fingerprint(options, dataset, name, estimator):
    """Hash of everything a cell's result depends on (not n_jobs, not timing
    limits): the dataset, the seed, the test set size, the estimator."""
    from . import __version__

    config = {
        "dataset": repr(dataset),
        "n_latent": dataset.n_latent,
        "latent_exponent": dataset.latent_exponent,
        "link": options.link,
        "seed": options.seed,
        "test_size": options.test_size,
        "estimator": name,
        "estimator_repr": repr(estimator),
        "version": __version__,
    }
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class _PartialLog:
    """Saves finished cells to ``results.partial.csv``, atomically, as they come.

    Earlier cells with another fingerprint are kept (never lost by a resume
    with a changed option); a cell run again replaces its older row.
    """

    def __init__(self, path, previous, fingerprints):
        self.path = path
        self.fingerprints = fingerprints
        self.rows = {}
        if previous is not None:
            for row in previous.to_dict("records"):
                self.rows[self._key(row, row["config"])] = row

    @staticmethod
    def _key(row, config):
        return (str(row["estimator"]), int(row["n_samples"]), int(row["repeat"]), config)

    def add(self, row):
        config = self.fingerprints[row["estimator"]]
        self.rows[self._key(row, config)] = {**row, "config": config}
        self.write()

    def write(self):
        import pandas as pd

        from ._study import STUDY_COLUMNS

        frame = pd.DataFrame(
            list(self.rows.values()), columns=list(STUDY_COLUMNS[:-1]) + ["config"]
        )
        _atomic_write(self.path, lambda handle: frame.to_csv(handle, index=False))


def _resumable(previous, fingerprints):
    """The earlier cells that this run can reuse, as scaling_study's rows."""
    if previous is None or previous.empty:
        return None
    keep = previous["status"].isin(RESUMABLE_STATUSES) & (
        previous["config"] == previous["estimator"].astype(str).map(fingerprints)
    )
    return previous[keep].drop(columns="config")


def _remove_stale_temporaries(output):
    """Temporary files of an earlier run killed while writing (SIGKILL)."""
    for name in OUTPUT_FILES + (PARTIAL_FILE,):
        for stale in output.glob(f".{name}.*.tmp"):
            try:
                stale.unlink()
            except OSError:
                pass


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that files are cleaned up the same way."""


def _on_sigterm(signum, frame):
    raise _Terminated()


def _count_resumed(results, completed):
    """Cells of ``results`` whose rows came from ``completed`` (a resumed cell
    that the time cap now rules out has another reason, and does not count)."""
    if completed is None or completed.empty:
        return 0
    keys = ["estimator", "n_samples", "repeat"]
    earlier = completed[keys + ["reason"]].astype({"n_samples": "int64", "repeat": "int64"})
    merged = results[keys + ["reason"]].merge(earlier, on=keys, suffixes=("", "_earlier"))
    return int((merged["reason"] == merged["reason_earlier"]).sum())


# ---------------------------------------------------------------- output
def _atomic_write(path, write, binary=False):
    """Write ``path`` through a temporary file in the same folder + os.replace."""
    path = Path(path)
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(
            descriptor, "wb" if binary else "w", **({} if binary else {"newline": ""})
        ) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates the file private (0600); give it the permissions
        # of a normally created file.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def _jsonable(value):
    """Plain JSON values: NaN and infinities become None, numpy scalars floats."""
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def _versions():
    import joblib
    import pandas
    import scipy
    import sklearn

    from . import __version__

    try:
        import matplotlib

        matplotlib_version = matplotlib.__version__
    except ImportError:
        matplotlib_version = None
    return {
        "sklearn_hierspectral": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "pandas": pandas.__version__,
        "joblib": joblib.__version__,
        "matplotlib": matplotlib_version,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
    }


def _save_plot(results, dataset, path):
    """Draw and save scaling.png; returns None, or why it was skipped."""
    missing = (
        f"matplotlib is not installed; install the plot extra: {_PLOT_INSTALL_HINT}"
    )
    try:
        import matplotlib  # noqa: F401

        # A bare Figure, not pyplot: no GUI backend, no global figure state.
        from matplotlib.figure import Figure
    except ImportError:
        return missing
    from ._display import ScalingLawDisplay

    figure = Figure(figsize=(8.0, 4.5), layout="constrained")
    try:
        ScalingLawDisplay.from_study(results, dataset=dataset, ax=figure.subplots())
    except ImportError:  # matplotlib only partly importable
        return missing
    _atomic_write(
        path,
        lambda handle: figure.savefig(handle, format="png", dpi=120),
        binary=True,
    )
    return None


# ---------------------------------------------------------------- report
def _fmt(value, spec=".3f", missing="-"):
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return missing
    return format(value, spec)


def _size_table(results, dataset):
    """Per estimator and size: median NMSE, components, recovered vs theory."""
    header = (
        f"{'estimator':<12} {'n_samples':>9} {'alpha':>5} {'NMSE':>7} "
        f"{'runs':>4} {'comp.':>5} {'recovered':>9} {'theory':>6} {'fit s':>6}"
    )
    lines = [header, "-" * len(header)]
    for (name, n), group in results.groupby(["estimator", "n_samples"], sort=False):
        ok = group[group["status"] == "ok"]
        runs = f"{len(ok)}/{len(group)}"
        if len(ok) == 0:
            status = ", ".join(sorted(set(group["status"])))
            lines.append(
                f"{name:<12} {n:>9,} {group['alpha'].iloc[0]:>5.2f} "
                f"{status:>7} {runs:>4}"
            )
            continue
        recovered = ok["n_recovered"].to_numpy(float)
        has_recovery = np.any(np.isfinite(recovered))
        theory = (
            f"{dataset.predicted_n_recovered(int(n))}/{dataset.n_latent}"
            if has_recovery
            else "-"
        )
        recovered_text = (
            f"{np.nanmedian(recovered):g}/{dataset.n_latent}" if has_recovery else "-"
        )
        components = ok["n_components"].to_numpy(float)
        components_text = (
            f"{np.nanmedian(components):g}" if np.any(np.isfinite(components)) else "-"
        )
        lines.append(
            f"{name:<12} {n:>9,} {ok['alpha'].iloc[0]:>5.2f} "
            f"{ok['test_nmse'].median():>7.3f} {runs:>4} {components_text:>5} "
            f"{recovered_text:>9} {theory:>6} {ok['fit_seconds'].median():>6.1f}"
        )
    return "\n".join(lines)


def _comparison(results, summary):
    """Spectral learner against the best baseline at the largest size."""
    if "spectral" not in summary.index:
        return None
    ok = results[results["status"] == "ok"]
    spectral = ok[ok["estimator"] == "spectral"]
    if spectral.empty:
        return None
    n = int(spectral["n_samples"].max())
    at_n = ok[(ok["n_samples"] == n)]
    medians = at_n.groupby("estimator")["test_nmse"].median()
    baselines = medians.drop("spectral", errors="ignore")
    if baselines.empty:
        return None
    best = str(baselines.idxmin())
    spectral_nmse = float(medians["spectral"])
    best_nmse = float(baselines.min())
    baseline_exponents = summary.drop(index="spectral")["exponent"].dropna()
    spectral_exponent = float(summary.loc["spectral", "exponent"])
    steeper = (
        bool(spectral_exponent < baseline_exponents.min())
        if len(baseline_exponents) and math.isfinite(spectral_exponent)
        else None
    )
    return {
        "n_samples": n,
        "spectral_nmse": spectral_nmse,
        "best_baseline": best,
        "best_baseline_nmse": best_nmse,
        "nmse_ratio": spectral_nmse / best_nmse if best_nmse > 0 else None,
        "spectral_exponent": spectral_exponent,
        "steepest_baseline_exponent": (
            float(baseline_exponents.min()) if len(baseline_exponents) else None
        ),
        "spectral_exponent_steeper": steeper,
    }


def _exponent_lines(summary, dataset):
    theory = dataset.predicted_exponent()
    lines = [
        f"Fitted exponents, test NMSE ~ n^e (95% bootstrap CI); theory: "
        f"e = {theory:.3f} (decay gamma = {dataset.decay:g})"
    ]
    for name, row in summary.iterrows():
        if math.isfinite(row["exponent"]):
            fit = (
                f"e = {row['exponent']:+.3f} "
                f"[{_fmt(row['exponent_low'], '+.3f')}, "
                f"{_fmt(row['exponent_high'], '+.3f')}]"
            )
        else:
            fit = "e = -  (fewer than 2 sizes ran)"
        largest = (
            f"NMSE {row['nmse_at_n_max']:.3f} at n = {int(row['n_max']):,}"
            if row["n_max"] > 0
            else "no successful fit"
        )
        lines.append(f"  {name:<12} {fit:<36} {largest}")
    return lines


def _skip_lines(results):
    lines = []
    failed = results[results["status"] != "ok"]
    for (name, status, reason), group in failed.groupby(
        ["estimator", "status", "reason"], sort=False
    ):
        sizes = ", ".join(f"{n:,}" for n in sorted(set(group["n_samples"])))
        lines.append(f"  {name} {status} at n = {sizes}: {reason}")
    return lines


class _WarningPrinter:
    """``warnings.showwarning`` replacement: one line each, no repeats."""

    def __init__(self):
        self.seen = set()

    def __call__(self, message, category, filename, lineno, file=None, line=None):
        text = " ".join(str(message).split())
        if text not in self.seen:
            self.seen.add(text)
            print(f"warning: {text}", file=sys.stderr)


# ---------------------------------------------------------------- main
def main(argv=None):
    """Run the command line; returns the exit status.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments without the program name; ``sys.argv[1:]`` when None.

    Returns
    -------
    status : int
        0 on success and for ``--help``; 1 when the study ran but no fit
        succeeded or an output could not be written; 2 on invalid arguments
        or an output folder that would be overwritten; 130 when interrupted.
    """
    parser = build_parser()
    try:
        options = parser.parse_args(argv)
        dataset = _validate(parser, options)
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    previous_handler = None
    if threading.current_thread() is threading.main_thread():
        previous_handler = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _run(options, dataset)
    except KeyboardInterrupt as exc:
        what = "terminated" if isinstance(exc, _Terminated) else "interrupted"
        partial = Path(options.output) / PARTIAL_FILE
        if partial.exists():
            print(
                f"{PROG}: {what}; the finished cells are saved in {partial}: rerun "
                "the same command with --resume to continue",
                file=sys.stderr,
            )
        else:
            print(f"{PROG}: {what}", file=sys.stderr)
        return 130
    except OSError as exc:  # e.g. the disk is full or the folder read-only
        print(f"{PROG}: error: cannot write the results: {exc}", file=sys.stderr)
        return 1
    finally:
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)


def _run(options, dataset):
    from ._study import scaling_study, summarize_study

    say = (lambda *args: None) if options.quiet else print
    output = Path(options.output)
    estimators = {
        name: ESTIMATORS[name][0](options) for name in options.estimators
    }
    fingerprints = _run_fingerprints(options, dataset)
    previous = getattr(options, "previous_cells", None)
    _remove_stale_temporaries(output)
    partial_path = output / PARTIAL_FILE
    if previous is None and partial_path.exists():
        partial_path.unlink()  # --overwrite: an older interrupted study
    completed = _resumable(previous, fingerprints)
    partial_log = _PartialLog(partial_path, previous, fingerprints)
    skip = None
    if options.krr_max_samples:
        limit = options.krr_max_samples

        def skip(name, n_samples):
            if ESTIMATORS[name][2] and n_samples > limit:
                return (
                    f"exact kernel ridge is limited to {limit:,} samples "
                    f"(O(n^2) memory, O(n^3) time; --krr-max-samples)"
                )
            return None

    say(
        f"Scaling study on {dataset!r}\n"
        f"sizes {', '.join(f'{n:,}' for n in options.sizes)} x {options.repeats} "
        f"repeat(s), test set {options.test_size:,}, estimators "
        f"{', '.join(options.estimators)}, n_jobs {options.n_jobs}"
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.showwarning = _WarningPrinter()
        if options.quiet:
            warnings.simplefilter("ignore")
        results = scaling_study(
            estimators,
            dataset,
            options.sizes,
            n_repeats=options.repeats,
            test_size=options.test_size,
            n_jobs=options.n_jobs,
            random_state=options.seed,
            max_fit_seconds=options.max_fit_seconds,
            skip=skip,
            progress=not options.quiet,
            completed=completed,
            on_cell=partial_log.add,
        )
        study_seconds = time.perf_counter() - start
        resumed_cells = _count_resumed(results, completed)
        summary = summarize_study(results, dataset)

        status = 0
        if not (results["status"] == "ok").any():
            print(
                f"{PROG}: error: no fit succeeded; see the reasons in results.csv",
                file=sys.stderr,
            )
            status = 1
        _atomic_write(
            output / "results.csv", lambda handle: results.to_csv(handle, index=False)
        )
        plot_path = output / "scaling.png"
        plot_note = None
        if options.no_plot:
            plot_note = "disabled by --no-plot"
        else:
            try:
                plot_note = _save_plot(results, dataset, plot_path)
            except Exception as exc:  # the CSV and JSON are still worth writing
                plot_note = f"plot failed: {type(exc).__name__}: {exc}"
                print(f"{PROG}: error: {plot_note}", file=sys.stderr)
                status = 1
        if plot_note is not None and plot_path.exists():
            plot_path.unlink()  # a stale plot of an earlier run (--overwrite)

    comparison = _comparison(results, summary)
    payload = {
        "config": {
            "dataset": {
                "n_features": dataset.n_features,
                "n_latent": dataset.n_latent,
                "latent_exponent": dataset.latent_exponent,
                "decay": dataset.decay,
                "link": options.link,
                "noise": dataset.noise,
                "random_state": options.seed,
            },
            "train_sizes": options.sizes,
            "n_repeats": options.repeats,
            "test_size": options.test_size,
            "seed": options.seed,
            "n_jobs": options.n_jobs,
            "krr_max_samples": options.krr_max_samples or None,
            "rf_components": options.rf_components,
            "max_fit_seconds": options.max_fit_seconds,
            "estimators": {
                name: {"description": ESTIMATORS[name][1], "repr": repr(estimator)}
                for name, estimator in estimators.items()
            },
            "fingerprints": fingerprints,
        },
        "resume": {
            "resumed": previous is not None,
            "resumed_cells": resumed_cells,
            "run_cells": int(len(results)) - resumed_cells,
        },
        "theory": {
            "predicted_exponent": dataset.predicted_exponent(),
            "threshold_samples": dataset.threshold_samples(),
            "scaling_window_alpha": dataset.scaling_window(),
            "predicted_n_recovered": {
                str(n): dataset.predicted_n_recovered(n) for n in options.sizes
            },
            "predicted_error": {
                str(n): dataset.predicted_error(n) for n in options.sizes
            },
        },
        "estimators": {
            name: {
                "exponent": row["exponent"],
                "exponent_ci": [row["exponent_low"], row["exponent_high"]],
                "prefactor": row["prefactor"],
                "theory_exponent": row["theory_exponent"],
                "n_max": int(row["n_max"]),
                "nmse_at_n_max": row["nmse_at_n_max"],
                "n_recovered_at_n_max": row["n_recovered_at_n_max"],
                "predicted_n_recovered_at_n_max": row[
                    "predicted_n_recovered_at_n_max"
                ],
                "n_ok": int(row["n_ok"]),
                "n_skipped": int(row["n_skipped"]),
                "n_error": int(row["n_error"]),
            }
            for name, row in summary.iterrows()
        },
        "comparison": comparison,
        "files": {
            "results": "results.csv",
            "plot": None if plot_note else "scaling.png",
            "plot_note": plot_note,
        },
        "study_seconds": study_seconds,
        "versions": _versions(),
    }
    _atomic_write(
        output / "summary.json",
        lambda handle: json.dump(_jsonable(payload), handle, indent=2, allow_nan=False),
    )
    # Every result is now in results.csv and summary.json.
    if partial_path.exists():
        partial_path.unlink()

    say("")
    if previous is not None:
        say(
            f"Resumed {resumed_cells} cell(s) from the earlier run in {output}/; "
            f"ran {len(results) - resumed_cells}."
        )
    say(_size_table(results, dataset))
    skipped = _skip_lines(results)
    if skipped:
        say("Not run:")
        for line in skipped:
            say(line)
    say("")
    for line in _exponent_lines(summary, dataset):
        say(line)
    if comparison is not None:
        ratio = comparison["nmse_ratio"]
        say(
            f"At n = {comparison['n_samples']:,}: spectral NMSE "
            f"{comparison['spectral_nmse']:.3f} vs best baseline "
            f"{comparison['best_baseline']} {comparison['best_baseline_nmse']:.3f}"
            + (f" (ratio {ratio:.2f})" if ratio is not None else "")
        )
    say("")
    written = ["results.csv", "summary.json"] + ([] if plot_note else ["scaling.png"])
    say(
        f"Wrote {', '.join(written)} to {output}/ "
        f"(study {study_seconds:.0f} s)"
    )
    if plot_note and not options.no_plot and status == 0:
        # Missing matplotlib: not an error, the CSV and JSON are complete.
        print(f"{PROG}: plot skipped: {plot_note}", file=sys.stderr)
    return status
