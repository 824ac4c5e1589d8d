"""Tests of the command line, ``python -m sklearn_hierspectral``."""

import json
import subprocess
import sys

import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from sklearn_hierspectral._cli import OUTPUT_FILES, main
from sklearn_hierspectral._study import STUDY_COLUMNS

TINY = [
    "--n-features", "8",
    "--sizes", "300,600",
    "--repeats", "1",
    "--estimators", "spectral,rff",
    "--rf-components", "100",
    "--test-size", "500",
    "--n-jobs", "1",
]


@pytest.fixture(autouse=True)
def single_blas_thread():
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def run(capsys, *args):
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_one_line_error(err):
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "error" in lines[0]
    assert "Traceback" not in err


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One end-to-end run of the tiny configuration, shared by several tests."""
    output = tmp_path_factory.mktemp("cli") / "study"
    with threadpool_limits(limits=1, user_api="blas"):
        status = main([*TINY, "--output", str(output), "--quiet"])
    return status, output


def test_end_to_end_files(tiny_run):
    status, output = tiny_run
    assert status == 0
    assert sorted(path.name for path in output.iterdir()) == sorted(OUTPUT_FILES)

    results = pd.read_csv(output / "results.csv", keep_default_na=False)
    assert list(results.columns) == list(STUDY_COLUMNS)
    assert len(results) == 2 * 2
    assert set(results["estimator"]) == {"spectral", "rff"}
    assert set(results["status"]) == {"ok"}

    summary = json.loads((output / "summary.json").read_text())
    for key in ("config", "theory", "estimators", "comparison", "files", "versions"):
        assert key in summary
    assert summary["config"]["dataset"]["n_features"] == 8
    assert summary["config"]["train_sizes"] == [300, 600]
    assert summary["theory"]["predicted_exponent"] == pytest.approx(-0.5)
    assert set(summary["estimators"]) == {"spectral", "rff"}
    for entry in summary["estimators"].values():
        assert isinstance(entry["exponent"], float)
        assert len(entry["exponent_ci"]) == 2
    assert summary["versions"]["scikit-learn"]
    assert summary["files"]["plot"] == "scaling.png"

    png = (output / "scaling.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 1000


def test_default_table_output(tmp_path, capsys):
    status, out, err = run(
        capsys, *TINY, "--output", str(tmp_path / "out"), "--no-plot"
    )
    assert status == 0
    assert "Traceback" not in err
    assert "spectral" in out and "rff" in out
    assert "theory: e = -0.500" in out
    assert "best baseline rff" in out
    assert "results.csv" in out
    assert not (tmp_path / "out" / "scaling.png").exists()


def test_refuses_to_overwrite(tiny_run, capsys):
    _, output = tiny_run
    before = (output / "results.csv").read_bytes()
    status, out, err = run(capsys, *TINY, "--output", str(output))
    assert status == 2
    assert_one_line_error(err)
    assert "--overwrite" in err and "--output" in err
    assert (output / "results.csv").read_bytes() == before


def test_empty_existing_folder_is_fine(tmp_path, capsys):
    status, _, _ = run(capsys, *TINY, "--output", str(tmp_path), "--no-plot", "--quiet")
    assert status == 0
    assert (tmp_path / "results.csv").exists()


def test_overwrite(tmp_path, capsys):
    output = tmp_path / "study"
    output.mkdir()
    (output / "scaling.png").write_bytes(b"stale")
    (output / "notes.txt").write_text("mine")
    status, out, err = run(
        capsys, *TINY, "--output", str(output), "--overwrite", "--no-plot",
        "--seed", "1",
    )
    assert status == 0, err
    summary = json.loads((output / "summary.json").read_text())
    assert summary["config"]["seed"] == 1
    assert summary["files"]["plot"] is None
    # The stale plot of an earlier run is gone; other files are left alone.
    assert not (output / "scaling.png").exists()
    assert (output / "notes.txt").read_text() == "mine"
    # Files were written atomically: no temporary files left behind.
    assert not [path for path in output.iterdir() if path.name.startswith(".")]


def test_quiet(tmp_path, capsys):
    status, out, err = run(capsys, *TINY, "--output", str(tmp_path / "q"), "--quiet")
    assert status == 0
    assert out == ""
    assert err == ""


def test_without_matplotlib(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    output = tmp_path / "noplot"
    status, out, err = run(capsys, *TINY, "--output", str(output))
    assert status == 0
    assert (output / "results.csv").exists() and (output / "summary.json").exists()
    assert not (output / "scaling.png").exists()
    assert "plot skipped" in err and "sklearn_hierspectral[plot]" in err
    summary = json.loads((output / "summary.json").read_text())
    assert summary["files"]["plot"] is None
    assert "matplotlib" in summary["files"]["plot_note"]
    assert summary["versions"]["matplotlib"] is None


@pytest.mark.parametrize(
    "args",
    [
        ["--estimators", "spectral,svm"],
        ["--estimators", ""],
        ["--sizes=-300,600"],
        ["--sizes", "300,abc"],
        ["--sizes", "300,,600"],
        ["--sizes", "300"],
        ["--sizes", "300,300"],
        ["--sizes", "5,600"],
        ["--n-features", "ten"],
        ["--n-features", "1"],
        ["--decay", "-1"],
        ["--decay", "nan"],
        ["--noise", "-0.1"],
        ["--link", "relu"],
        ["--repeats", "0"],
        ["--repeats", "1000000000"],
        ["--n-jobs", "0"],
        ["--seed", "-1"],
        ["--max-fit-seconds", "0"],
        ["--n-features", "3", "--n-latent", "7"],
        ["--n-latent", "2", "--latent-exponent", "0.5"],
        ["--krr-max-samples", "100", "--estimators", "krr-rbf", "--sizes", "300,600"],
        ["--unknown-option"],
        ["positional"],
    ],
)
def test_bad_arguments(tmp_path, capsys, args):
    output = tmp_path / "never"
    status, out, err = run(capsys, *args, "--output", str(output))
    assert status == 2
    assert_one_line_error(err)
    assert not output.exists()


def test_output_is_a_file(tmp_path, capsys):
    target = tmp_path / "file.txt"
    target.write_text("x")
    status, _, err = run(capsys, *TINY, "--output", str(target))
    assert status == 2
    assert_one_line_error(err)


def test_help(capsys):
    status, out, _ = run(capsys, "--help")
    assert status == 0
    for option in (
        "--n-features", "--decay", "--n-latent", "--link", "--noise", "--sizes",
        "--repeats", "--estimators", "--n-jobs", "--seed", "--output",
        "--overwrite", "--no-plot", "--quiet",
    ):
        assert option in out
    for name in ("spectral", "krr-rbf", "krr-poly", "rff", "nystroem", "poly-sketch"):
        assert name in out


def test_python_dash_m(tmp_path):
    help_run = subprocess.run(
        [sys.executable, "-m", "sklearn_hierspectral", "--help"],
        capture_output=True, text=True, timeout=120,
    )
    assert help_run.returncode == 0
    assert "usage:" in help_run.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "sklearn_hierspectral", "--sizes", "1,x",
         "--output", str(tmp_path / "x")],
        capture_output=True, text=True, timeout=120,
    )
    assert bad.returncode == 2
    assert_one_line_error(bad.stderr)


class _AlwaysFails:
    def fit(self, X, y):
        raise RuntimeError("broken on purpose")

    def predict(self, X):  # pragma: no cover - never fitted
        raise RuntimeError("broken on purpose")

    def get_params(self, deep=True):
        return {}

    def set_params(self, **params):
        return self


def test_no_successful_fit_exits_1(tmp_path, capsys, monkeypatch):
    from sklearn_hierspectral import _cli

    monkeypatch.setitem(
        _cli.ESTIMATORS, "rff", (lambda options: _AlwaysFails(), "broken", False)
    )
    output = tmp_path / "failed"
    status, out, err = run(
        capsys, *TINY, "--estimators", "rff", "--output", str(output), "--no-plot"
    )
    assert status == 1
    assert "no fit succeeded" in err
    assert "broken on purpose" in err  # the study's warning, on one line
    results = pd.read_csv(output / "results.csv", keep_default_na=False)
    assert set(results["status"]) == {"error"}


def test_plot_failure_keeps_csv_and_json(tmp_path, capsys, monkeypatch):
    from sklearn_hierspectral import _cli

    def broken_plot(*args, **kwargs):
        raise RuntimeError("no canvas")

    monkeypatch.setattr(_cli, "_save_plot", broken_plot)
    output = tmp_path / "plotfail"
    status, out, err = run(capsys, *TINY, "--output", str(output))
    assert status == 1
    assert "no canvas" in err
    assert (output / "results.csv").exists()
    summary = json.loads((output / "summary.json").read_text())
    assert summary["files"]["plot"] is None
