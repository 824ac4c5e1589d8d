"""Every example of the gallery runs end to end, in fast mode.

Each script runs in a fresh interpreter (as sphinx-gallery or a user would run
it) with ``SKLEARN_HIERSPECTRAL_FAST=1``, which shrinks its sizes so that it
takes 10 to 30 seconds, and the non-interactive Agg backend; the test checks
that it exits cleanly and leaves at least one figure.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("plot_*.py"))

pytestmark = pytest.mark.skipif(
    not EXAMPLES, reason="no examples/ folder (not a source checkout)"
)

# Runs the example as __main__ and fails if it drew no figure. plt.show() is a
# no-op under Agg, so the figures are still open at the end.
DRIVER = """
import runpy, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
runpy.run_path(sys.argv[1], run_name="__main__")
if not plt.get_fignums():
    sys.exit("the example drew no figure")
"""


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_example_runs_in_fast_mode(path, tmp_path):
    pytest.importorskip("matplotlib")
    env = dict(os.environ, MPLBACKEND="Agg", SKLEARN_HIERSPECTRAL_FAST="1")
    completed = subprocess.run(
        [sys.executable, "-c", DRIVER, str(path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, (
        f"{path.name} failed (exit {completed.returncode}).\n"
        f"--- stdout ---\n{completed.stdout[-3000:]}\n"
        f"--- stderr ---\n{completed.stderr[-5000:]}"
    )


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_example_is_a_gallery_script(path):
    source = path.read_text()
    # A reST docstring whose first lines are a title with over- and underline.
    match = re.match(r'"""\n(=+)\n(.+)\n(=+)\n', source)
    assert match, f"{path.name} must start with a docstring holding a reST title"
    overline, title, underline = match.groups()
    assert overline == underline and len(overline) >= len(title.rstrip())
    assert "\n# %%\n" in source, f"{path.name} has no '# %%' section"
    assert "SKLEARN_HIERSPECTRAL_FAST" in source, f"{path.name} has no fast mode"


def test_gallery_header():
    header = (EXAMPLES_DIR / "README.txt").read_text().splitlines()
    title = header.index("Examples")
    assert re.fullmatch(r"=+", header[title + 1])
    assert len(header[title + 1]) >= len("Examples")
