"""Sphinx configuration of the sklearn_hierspectral documentation.

Build (from this folder; warnings are errors, as in CI)::

    python -m sphinx -W --keep-going -b html . _build/html

The example gallery runs every script of ``../examples`` in fast mode
(``SKLEARN_HIERSPECTRAL_FAST=1``, set below unless already set), so the
whole build takes two to three minutes on 2 cores. Export
``SKLEARN_HIERSPECTRAL_FAST=0`` for the full-size figures, or pass
``-D plot_gallery=0`` to skip running the examples.
"""

import os
import re
import shutil
import sys
import warnings
from pathlib import Path

# Examples read this to shrink their sizes. Set before sphinx-gallery imports
# and runs them (it executes them in this process).
os.environ.setdefault("SKLEARN_HIERSPECTRAL_FAST", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# Build from a source checkout even when the package is not installed.
sys.path.insert(0, str(ROOT))

import sklearn_hierspectral  # noqa: E402

# -- Project -----------------------------------------------------------------

project = "sklearn_hierspectral"
author = "The sklearn_hierspectral developers"
copyright = "2026, The sklearn_hierspectral developers"
release = sklearn_hierspectral.__version__
version = ".".join(release.split(".")[:2])

# -- General -----------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "matplotlib.sphinxext.plot_directive",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "README", "Makefile", "**.ipynb_checkpoints"]
source_suffix = {".rst": "restructuredtext"}
root_doc = "index"
language = "en"

# ``code`` in docstrings and pages is literal text, as in scikit-learn.
default_role = "literal"
pygments_style = "sphinx"

# Cross references to the scientific Python stack. Off by default because
# fetching the inventories needs the network, and a failed fetch is a warning
# (an error under -W). Opt in with SKLEARN_HIERSPECTRAL_INTERSPHINX=1.
if os.environ.get("SKLEARN_HIERSPECTRAL_INTERSPHINX", "0") == "1":
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "scipy": ("https://docs.scipy.org/doc/scipy", None),
        "sklearn": ("https://scikit-learn.org/stable", None),
        "pandas": ("https://pandas.pydata.org/docs", None),
        "matplotlib": ("https://matplotlib.org/stable", None),
        "joblib": ("https://joblib.readthedocs.io/en/stable", None),
        "dask": ("https://docs.dask.org/en/stable", None),
    }

# -- autodoc / autosummary / numpydoc ------------------------------------------

autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"
# The package's estimators inherit scikit-learn's methods (get_params,
# set_output, score, ...). Those are documented by scikit-learn, and their
# docstrings point at labels of scikit-learn's own documentation, which would
# be broken links here: inherited members are shown (the shared base class of
# the two estimators holds transform, ...) except those defined in
# scikit-learn (see _skip_sklearn_members below).
numpydoc_show_class_members = False
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- HTML ----------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"sklearn_hierspectral {release}"
html_static_path = ["_static"]
html_css_files = ["css/hierspectral.css"]
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "header_links_before_dropdown": 7,
    "secondary_sidebar_items": ["page-toc", "sg_download_links", "sg_launcher_links"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_sidebars = {
    "install": [],
    "quick_start": [],
    "changelog": [],
}

# -- matplotlib plot directive (figures of the quick start and user guide) ------

plot_include_source = True
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 100)]
plot_pre_code = ""

# -- Command-line help, included by the quick start ------------------------------


def _write_cli_help():
    """``python -m sklearn_hierspectral --help``, rendered 88 columns wide."""
    from sklearn_hierspectral._cli import build_parser

    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "88"
    try:
        text = build_parser().format_help()
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous
    path = HERE / "generated" / "cli_help.txt"
    path.parent.mkdir(exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


_write_cli_help()

# -- sphinx-gallery ------------------------------------------------------------

EXAMPLES_DIR = ROOT / "examples"
GALLERY_HEADER_NAMES = ("GALLERY_HEADER.rst", "README.txt", "README.rst")
#: Used only when ``examples/`` has no gallery header (or does not exist yet):
#: the same text should be committed as ``examples/GALLERY_HEADER.rst``.
GALLERY_HEADER_FALLBACK = """\
.. _general_examples:

Examples
========

Each example draws data from a hierarchical target, fits the layer-wise
spectral learner (and, where relevant, the kernel baselines) at several
training-set sizes, and plots what the theory predicts next to what is
measured. Every script runs on a laptop: set the environment variable
``SKLEARN_HIERSPECTRAL_FAST=1`` for a quick run at reduced sizes (the
documentation is built that way), or leave it unset for the sizes of the
figures discussed in the :ref:`user guide <user_guide>`.
"""


def _gallery_source():
    """The examples folder sphinx-gallery reads, relative to this folder.

    ``../examples`` when it has a gallery header. Otherwise (a folder that is
    still being written, or absent from a fresh clone) the scripts are copied
    to ``_build/gallery_source`` next to a generated header, so that the build
    does not fail on the missing file.
    """
    if any((EXAMPLES_DIR / name).is_file() for name in GALLERY_HEADER_NAMES):
        return os.path.relpath(EXAMPLES_DIR, HERE)
    staging = HERE / "_build" / "gallery_source"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    if EXAMPLES_DIR.is_dir():
        for path in EXAMPLES_DIR.iterdir():
            if path.is_file() and path.suffix == ".py":
                shutil.copy2(path, staging / path.name)
            elif path.is_file() and path.suffix in (".csv", ".json", ".txt"):
                shutil.copy2(path, staging / path.name)
    (staging / "GALLERY_HEADER.rst").write_text(GALLERY_HEADER_FALLBACK)
    print(
        "[conf.py] examples/ has no GALLERY_HEADER.rst (or README.txt): the "
        "gallery is built from a copy with a generated header."
    )
    return os.path.relpath(staging, HERE)


sphinx_gallery_conf = {
    "examples_dirs": _gallery_source(),
    "gallery_dirs": "auto_examples",
    # Every script is an example and is executed (not only plot_*.py); a
    # helper module for the examples may be named with a leading underscore.
    "filename_pattern": re.escape(os.sep),
    "ignore_pattern": r"(__init__|[\\/]_[^\\/]*)\.py$",
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("sklearn_hierspectral",),
    "reference_url": {"sklearn_hierspectral": None},
    "backreferences_dir": os.path.join("generated", "backreferences"),
    "inspect_global_variables": False,
    # The default reset_modules closes the figures and restores matplotlib's
    # rcParams between examples (a callable here could not be pickled).
    "remove_config_comments": True,
    "download_all_examples": False,
    "show_memory": False,
    "min_reported_time": 5,
    # An example that raises fails the build (after all examples ran).
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
}

# plt.show() in the examples does nothing under Agg; do not warn about it.
warnings.filterwarnings("ignore", category=UserWarning, message=".*non-GUI backend.*")


# -- Consistency checks ----------------------------------------------------------


def _documented_names(api_file):
    """Names listed in the autosummary tables of ``api.rst``."""
    names = set()
    in_table = False
    for line in api_file.read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith(".. autosummary::"):
            in_table = True
            continue
        if in_table:
            if not stripped or stripped.startswith(":"):
                continue
            if line.startswith("   ") and re.fullmatch(r"~?[\w.]+", stripped):
                names.add(stripped.lstrip("~").rsplit(".", 1)[-1])
                continue
            in_table = False
    return names


def _check_api_reference(app):
    """Warn (an error under -W) when a public name is missing from api.rst."""
    from sphinx.util import logging

    logger = logging.getLogger("sklearn_hierspectral.conf")
    public = {name for name in sklearn_hierspectral.__all__ if not name.startswith("__")}
    documented = _documented_names(HERE / "api.rst")
    missing = sorted(public - documented)
    if missing:
        logger.warning(
            "api.rst does not list these names of sklearn_hierspectral.__all__: "
            + ", ".join(missing)
        )
    unknown = sorted(documented - public)
    if unknown:
        logger.warning(
            "api.rst lists names that are not in sklearn_hierspectral.__all__: "
            + ", ".join(unknown)
        )


#: Methods that scikit-learn's base classes and mixins add to every estimator.
_SKLEARN_GENERIC = re.compile(r"set_\w+_request|get_metadata_routing|set_output")


def _skip_sklearn_members(app, what, name, obj, skip, options):
    """Leave out the members scikit-learn documents (see autodoc options)."""
    if what != "class":
        return None
    module = getattr(obj, "__module__", None) or ""
    if _SKLEARN_GENERIC.fullmatch(name) or module.split(".")[0] == "sklearn":
        return True
    # Methods of built-in base classes (BaseException.add_note, ...).
    owner = getattr(obj, "__objclass__", None)
    if owner is not None and owner.__module__ == "builtins":
        return True
    return None


#: Docstrings written in scikit-learn's style use ``:term:`fit``` for the
#: entries of scikit-learn's glossary, which intersphinx would resolve. Without
#: the network (intersphinx off, see above) they are linked directly.
SKLEARN_GLOSSARY = "https://scikit-learn.org/stable/glossary.html#term-{}"


def _link_sklearn_glossary(app, env, node, contnode):
    """Resolve ``:term:`` references missing here to scikit-learn's glossary."""
    if node.get("refdomain") != "std" or node.get("reftype") != "term":
        return None
    target = node.get("reftarget", "")
    from docutils import nodes

    anchor = re.sub(r"[^a-z0-9]+", "-", target.lower()).strip("-")
    reference = nodes.reference(
        "", "", internal=False, refuri=SKLEARN_GLOSSARY.format(anchor),
        reftitle=f"scikit-learn glossary: {target}",
    )
    reference += contnode
    return reference


def setup(app):
    app.connect("builder-inited", _check_api_reference)
    app.connect("missing-reference", _link_sklearn_glossary)
    app.connect("autodoc-skip-member", _skip_sklearn_members)
