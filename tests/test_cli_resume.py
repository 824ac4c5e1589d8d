"""The command line's file writing: interruption, --resume, no silent overwrite.

An interrupted study leaves no half-written file: the finished cells are in
``results.partial.csv`` (rewritten atomically after each cell), and
``--resume`` continues from them, running only the missing cells.
"""

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from sklearn_hierspectral import _study
from sklearn_hierspectral._cli import OUTPUT_FILES, PARTIAL_FILE, main

# 3 sizes x 2 repeats x 2 estimators = 12 cells, a few seconds in all.
STUDY = [
    "--n-features", "6",
    "--sizes", "200,400,800",
    "--repeats", "2",
    "--estimators", "spectral,rff",
    "--rf-components", "50",
    "--test-size", "300",
    "--n-jobs", "1",
    "--no-plot",
]
N_CELLS = 12
COMPARED = ["estimator", "n_samples", "repeat", "test_nmse", "n_components",
            "n_recovered", "status", "reason"]


@pytest.fixture(autouse=True)
def single_blas_thread():
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def run(capsys, *args):
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def one_line_error(err):
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def no_temporary_files(folder):
    return not [path.name for path in folder.iterdir() if path.name.startswith(".")]


def read(path):
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    output = tmp_path_factory.mktemp("full") / "study"
    with threadpool_limits(limits=1, user_api="blas"):
        assert main([*STUDY, "--output", str(output), "--quiet"]) == 0
    return read(output / "results.csv")


class CellCounter:
    """Wraps the study's cell function (in-process, n_jobs=1): counts calls and
    raises KeyboardInterrupt (Ctrl-C) on call number ``interrupt_at``."""

    def __init__(self, monkeypatch, interrupt_at=None, fail=None):
        self.calls = []
        self.interrupt_at = interrupt_at
        self.fail = fail
        original = _study._run_cell

        def cell(name, estimator, dataset, n_samples, repeat, *args):
            self.calls.append((name, n_samples, repeat))
            if len(self.calls) == self.interrupt_at:
                raise KeyboardInterrupt
            if self.fail and self.fail(name, n_samples, repeat):
                row = original(name, estimator, dataset, 2, repeat, *args)
                row["n_samples"] = n_samples  # an 'error' row, as a broken fit gives
                return row
            return original(name, estimator, dataset, n_samples, repeat, *args)

        monkeypatch.setattr(_study, "_run_cell", cell)


def interrupt_after(monkeypatch, capsys, output, n_done, extra=()):
    CellCounter(monkeypatch, interrupt_at=n_done + 1)
    status, out, err = run(capsys, *STUDY, *extra, "--output", str(output))
    monkeypatch.undo()
    return status, out, err


def test_interrupt_leaves_only_complete_files(tmp_path, capsys, monkeypatch):
    output = tmp_path / "study"
    status, out, err = interrupt_after(monkeypatch, capsys, output, n_done=5)
    assert status == 130
    assert "--resume" in err and PARTIAL_FILE in err
    # No final file, no temporary file: only the partial table, complete.
    assert sorted(path.name for path in output.iterdir()) == [PARTIAL_FILE]
    partial = read(output / PARTIAL_FILE)
    assert len(partial) == 5
    assert set(partial["status"]) == {"ok"}
    assert partial["config"].str.fullmatch(r"[0-9a-f]{16}").all()


def test_existing_interrupted_study_is_not_overwritten_silently(tmp_path, capsys, monkeypatch):
    output = tmp_path / "study"
    interrupt_after(monkeypatch, capsys, output, n_done=3)
    before = (output / PARTIAL_FILE).read_bytes()
    status, _, err = run(capsys, *STUDY, "--output", str(output))
    assert status == 2
    line = one_line_error(err)
    assert "--resume" in line and "--overwrite" in line and "interrupted" in line
    assert (output / PARTIAL_FILE).read_bytes() == before


def test_resume_runs_only_the_missing_cells(tmp_path, capsys, monkeypatch, uninterrupted):
    output = tmp_path / "study"
    interrupt_after(monkeypatch, capsys, output, n_done=5)
    counter = CellCounter(monkeypatch)
    status, out, err = run(capsys, *STUDY, "--output", str(output), "--resume")
    assert status == 0, err
    assert len(counter.calls) == N_CELLS - 5
    assert "Resumed 5 cell(s)" in out
    # The partial file is gone; the folder holds the usual outputs only.
    assert sorted(path.name for path in output.iterdir()) == sorted(
        set(OUTPUT_FILES) - {"scaling.png"}
    )
    # Seeds are keyed by size and repeat: the resumed table equals an
    # uninterrupted run's, bit for bit (timings aside).
    resumed = read(output / "results.csv")
    pd.testing.assert_frame_equal(resumed[COMPARED], uninterrupted[COMPARED])
    summary = json.loads((output / "summary.json").read_text())
    assert summary["resume"] == {"resumed": True, "resumed_cells": 5, "run_cells": N_CELLS - 5}
    assert set(summary["config"]["fingerprints"]) == {"spectral", "rff"}


def test_resume_twice_after_two_interruptions(tmp_path, capsys, monkeypatch, uninterrupted):
    output = tmp_path / "study"
    interrupt_after(monkeypatch, capsys, output, n_done=2)
    counter = CellCounter(monkeypatch, interrupt_at=4)
    status, _, err = run(capsys, *STUDY, "--output", str(output), "--resume")
    monkeypatch.undo()
    assert status == 130 and "--resume" in err
    assert len(read(output / PARTIAL_FILE)) == 2 + 3
    counter = CellCounter(monkeypatch)
    assert run(capsys, *STUDY, "--output", str(output), "--resume")[0] == 0
    assert len(counter.calls) == N_CELLS - 5
    resumed = read(output / "results.csv")
    pd.testing.assert_frame_equal(resumed[COMPARED], uninterrupted[COMPARED])


@pytest.mark.parametrize(
    "change, message",
    [
        (("--rf-components", "60"), r"cell\(s\) of rff made with other options"),
        (("--seed", "3"), r"cell\(s\) of rff, spectral made with other options"),
        (("--estimators", "spectral"), r"cell\(s\) of estimator\(s\) rff not in --estimators"),
        (("--sizes", "200,400"), r"cell\(s\) at sizes or repeats not in --sizes"),
    ],
)
def test_resume_refuses_options_that_would_drop_cells(
    tmp_path, capsys, monkeypatch, change, message
):
    # A resumed run writes its own cells only: earlier cells it would not
    # reproduce would vanish from results.csv. Refused, files untouched.
    output = tmp_path / "study"
    interrupt_after(monkeypatch, capsys, output, n_done=6)
    before = {path.name: path.read_bytes() for path in output.iterdir()}
    counter = CellCounter(monkeypatch)
    argv = list(STUDY)
    if change[0] in argv:
        argv[argv.index(change[0]) + 1] = change[1]
    else:
        argv += list(change)
    status, _, err = run(capsys, *argv, "--output", str(output), "--resume")
    assert status == 2
    assert re.search(message, err), err
    assert "--overwrite" in err and "Traceback" not in err
    assert counter.calls == []
    assert {path.name: path.read_bytes() for path in output.iterdir()} == before


def test_resume_of_a_finished_study_with_another_seed_is_refused(tmp_path, capsys):
    output = tmp_path / "study"
    assert run(capsys, *STUDY, "--output", str(output))[0] == 0
    before = (output / "results.csv").read_bytes()
    status, _, err = run(capsys, *STUDY, "--seed", "9", "--output", str(output), "--resume")
    assert status == 2 and "made with other options" in err
    assert (output / "results.csv").read_bytes() == before


def test_resume_reruns_error_cells(tmp_path, capsys, monkeypatch):
    output = tmp_path / "study"
    counter = CellCounter(
        monkeypatch, interrupt_at=7, fail=lambda name, n, repeat: name == "spectral" and n == 800
    )
    status, _, _ = run(capsys, *STUDY, "--output", str(output))
    monkeypatch.undo()
    assert status == 130
    partial = read(output / PARTIAL_FILE)
    n_errors = int((partial["status"] == "error").sum())
    assert n_errors >= 1
    counter = CellCounter(monkeypatch)
    assert run(capsys, *STUDY, "--output", str(output), "--resume")[0] == 0
    assert len(counter.calls) == N_CELLS - 6 + n_errors
    assert set(read(output / "results.csv")["status"]) == {"ok"}


def test_resume_extends_a_finished_study(tmp_path, capsys, monkeypatch, uninterrupted):
    output = tmp_path / "study"
    assert run(capsys, *STUDY, "--output", str(output), "--quiet")[0] == 0
    counter = CellCounter(monkeypatch)
    # Same study: nothing to run, same results.
    assert run(capsys, *STUDY, "--output", str(output), "--resume", "--quiet")[0] == 0
    assert counter.calls == []
    pd.testing.assert_frame_equal(read(output / "results.csv")[COMPARED], uninterrupted[COMPARED])
    # One more size: only its cells run.
    extended = [*STUDY]
    extended[extended.index("--sizes") + 1] = "200,400,800,1600"
    assert run(capsys, *extended, "--output", str(output), "--resume", "--quiet")[0] == 0
    assert sorted(set(counter.calls)) == sorted(
        (name, 1600, repeat) for name in ("spectral", "rff") for repeat in (0, 1)
    )
    assert len(read(output / "results.csv")) == N_CELLS + 4


@pytest.mark.parametrize(
    "setup, args, words",
    [
        (None, ["--resume", "--overwrite"], ["--resume", "--overwrite"]),
        ("notes", ["--resume"], ["nothing to resume", "--overwrite"]),
        ("corrupt", ["--resume"], ["cannot read", "--overwrite"]),
        ("columns", ["--resume"], ["lacks the column", "--overwrite"]),
        ("notes", [], ["not empty", "--overwrite", "--resume"]),
    ],
)
def test_bad_resume_situations_exit_2_with_one_line(tmp_path, capsys, setup, args, words):
    output = tmp_path / "study"
    output.mkdir()
    if setup == "notes":
        (output / "notes.txt").write_text("mine")
    elif setup == "corrupt":
        (output / PARTIAL_FILE).write_bytes(b'estimator,n_samples\n"unterminated,1\n\x00\xff')
    elif setup == "columns":
        (output / PARTIAL_FILE).write_text("estimator,n_samples\nspectral,200\n")
    before = {path.name: path.read_bytes() for path in output.iterdir()}
    status, _, err = run(capsys, *STUDY, *args, "--output", str(output))
    assert status == 2
    line = one_line_error(err)
    for word in words:
        assert word in line, line
    assert {path.name: path.read_bytes() for path in output.iterdir()} == before


def test_overwrite_discards_an_interrupted_study(tmp_path, capsys, monkeypatch):
    output = tmp_path / "study"
    interrupt_after(monkeypatch, capsys, output, n_done=3)
    counter = CellCounter(monkeypatch)
    status, _, _ = run(capsys, *STUDY, "--output", str(output), "--overwrite", "--quiet")
    assert status == 0
    assert len(counter.calls) == N_CELLS
    assert not (output / PARTIAL_FILE).exists()
    assert json.loads((output / "summary.json").read_text())["resume"]["resumed"] is False


def test_stale_temporary_files_are_removed_on_resume(tmp_path, capsys, monkeypatch):
    output = tmp_path / "study"
    interrupt_after(monkeypatch, capsys, output, n_done=3)
    # What a SIGKILL in the middle of a write leaves behind.
    stale = output / f".{PARTIAL_FILE}.abc123.tmp"
    stale.write_text("estimator,n_sam")
    assert run(capsys, *STUDY, "--output", str(output), "--resume", "--quiet")[0] == 0
    assert no_temporary_files(output)


@pytest.mark.parametrize(
    "args, words",
    [
        (["--seed", str(2**32)], ["--seed", "2**32"]),
        (["--n-jobs", "100000"], ["--n-jobs", "at most"]),
        (["--test-size", str(10**13)], ["--test-size", "available"]),
        (["--sizes", f"200,{10**13}"], ["--sizes", "available"]),
        (["--n-features", "100000"], ["n_features", "available"]),
        (["--noise", "1e308"], ["dataset cannot be used", "noise"]),
        (["--latent-exponent", "1e308"], ["latent_exponent"]),
        (["--sizes", "200,1e400"], ["--sizes"]),
        (["--decay", "inf"], ["--decay"]),
    ],
)
def test_more_bad_arguments_exit_2_with_one_line(tmp_path, capsys, args, words):
    output = tmp_path / "never"
    status, _, err = run(capsys, *STUDY, *args, "--output", str(output))
    assert status == 2
    line = one_line_error(err)
    for word in words:
        assert word in line, line
    assert not output.exists()


# ---------------------------------------------------------------- real signals
_SLOW_STUDY = textwrap.dedent(
    """
    import sys, time
    from sklearn_hierspectral import _cli, _study

    original = _study._run_cell

    def slow_cell(*args):
        time.sleep(0.4)
        return original(*args)

    _study._run_cell = slow_cell
    sys.exit(_cli.main(sys.argv[1:]))
    """
)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_killed_by_a_signal_then_resumed(tmp_path, capsys, monkeypatch, signum, uninterrupted):
    output = tmp_path / "study"
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-c", _SLOW_STUDY, *STUDY, "--output", str(output), "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    partial = output / PARTIAL_FILE
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if partial.exists() and len(read(partial)) >= 2:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the study ended before it could be interrupted"
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    assert no_temporary_files(output)
    assert not (output / "results.csv").exists()
    done = len(read(partial))
    assert 2 <= done < N_CELLS

    counter = CellCounter(monkeypatch)
    status, out, err = run(capsys, *STUDY, "--output", str(output), "--resume")
    assert status == 0, err
    assert len(counter.calls) == N_CELLS - done
    assert f"Resumed {done} cell(s)" in out
    resumed = read(output / "results.csv")
    pd.testing.assert_frame_equal(resumed[COMPARED], uninterrupted[COMPARED])


# ---------------------------------------------------------------- the Python API
def test_scaling_study_completed_and_on_cell(monkeypatch):
    from sklearn.linear_model import Ridge

    from sklearn_hierspectral import (
        HierarchicalSpectralRegressor,
        HierarchicalTargetDataset,
        scaling_study,
    )

    dataset = HierarchicalTargetDataset(5, n_latent=2, random_state=0)
    estimators = {"spectral": HierarchicalSpectralRegressor(random_state=0), "ridge": Ridge()}
    kwargs = {"n_repeats": 2, "test_size": 200, "random_state": 3, "progress": False}
    full = scaling_study(estimators, dataset, [100, 200], **kwargs)
    seen = []
    earlier = full[full["n_samples"] == 100]
    counter = CellCounter(monkeypatch)
    resumed = scaling_study(
        estimators, dataset, [100, 200, 400], completed=earlier, on_cell=seen.append, **kwargs
    )
    # Only the cells not given ran, and each was reported once, as it finished.
    assert sorted(counter.calls) == sorted(
        (name, n, r) for name in estimators for n in (200, 400) for r in (0, 1)
    )
    assert sorted((row["estimator"], row["n_samples"], row["repeat"]) for row in seen) == sorted(
        counter.calls
    )
    columns = ["estimator", "n_samples", "repeat", "test_nmse", "n_components", "status"]
    pd.testing.assert_frame_equal(
        resumed[resumed["n_samples"] < 400][columns].reset_index(drop=True), full[columns]
    )
    # Rows of cells the study does not have are ignored; malformed rows refused.
    scaling_study(estimators, dataset, [200], completed=earlier, **kwargs)
    with pytest.raises(ValueError, match="columns"):
        scaling_study(estimators, dataset, [200], completed=[{"estimator": "ridge"}], **kwargs)


def test_resume_with_parallel_workers(tmp_path, capsys, uninterrupted):
    output = tmp_path / "study"
    first = [*STUDY]
    first[first.index("--sizes") + 1] = "200,400"
    parallel = ["--n-jobs", "2", "--quiet"]
    assert run(capsys, *first, *parallel, "--output", str(output))[0] == 0
    assert run(capsys, *STUDY, *parallel, "--output", str(output), "--resume")[0] == 0
    summary = json.loads((output / "summary.json").read_text())
    assert summary["resume"]["resumed_cells"] == 8
    resumed = read(output / "results.csv")
    pd.testing.assert_frame_equal(resumed[COMPARED], uninterrupted[COMPARED])


@pytest.mark.parametrize("summary", ["[]", "1", "NaN", '{"config": {"fingerprints": [1, 2]}}',
                                     '{"config": 3}'])
def test_resume_refuses_a_summary_of_the_wrong_shape(tmp_path, capsys, summary):
    output = tmp_path / "study"
    assert run(capsys, *STUDY, "--output", str(output))[0] == 0
    (output / "summary.json").write_text(summary)
    before = (output / "results.csv").read_bytes()
    status, _, err = run(capsys, *STUDY, "--output", str(output), "--resume")
    assert status == 2
    assert "cannot read the earlier results" in one_line_error(err)
    assert (output / "results.csv").read_bytes() == before


@pytest.mark.parametrize(
    "column, value, message",
    [
        ("repeat", "", r"repeat of nan"),
        ("repeat", "1.5", r"repeat of 1.5"),
        ("test_nmse", "abc", r"test_nmse of 'abc'"),
        ("test_nmse", "nan", r"'ok' with a test_nmse of nan"),
        ("test_nmse", "inf", r"'ok' with a test_nmse of inf"),
        ("test_nmse", "-5", r"'ok' with a test_nmse of -5"),
        ("n_components", "many", r"n_components of 'many'"),
    ],
)
def test_resume_refuses_a_damaged_partial_file_before_any_fit(
    tmp_path, capsys, monkeypatch, column, value, message
):
    output = tmp_path / "study"
    interrupt_after(monkeypatch, capsys, output, n_done=4)
    partial = pd.read_csv(output / PARTIAL_FILE, keep_default_na=False, dtype=str)
    partial.loc[1, column] = value
    partial.to_csv(output / PARTIAL_FILE, index=False)
    counter = CellCounter(monkeypatch)
    status, _, err = run(capsys, *STUDY, "--output", str(output), "--resume")
    assert status == 2, err
    assert "is damaged" in err and "--overwrite" in err and "Traceback" not in err
    assert re.search(message, err), err
    assert counter.calls == []
