"""Check a finished HTML build of doc/ (run by .ci/run after sphinx-build).

Sphinx with -W fails on warnings and on an example that raises, but not on an
example that silently draws nothing, nor on an API page that autosummary did
not write. This script fails (exit code 1, one line per problem) when

* an example of ``examples/`` was not rendered into ``doc/auto_examples/``,
* a rendered example has no figure ``images/sphx_glr_<name>_001.png``,
* a public name of ``sklearn_hierspectral.__all__`` has no page in the HTML
  API reference (``_build/html/generated/sklearn_hierspectral.<name>.html``).

Usage: ``python .ci/check_docs.py [HTML_DIR]`` (default ``doc/_build/html``).
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "doc"
# Same rule as sphinx_gallery_conf["ignore_pattern"] in doc/conf.py: helper
# modules (leading underscore) are not examples.
IGNORED = re.compile(r"^(__init__|_.*)\.py$")


def check_gallery():
    problems = []
    sources = sorted(p.stem for p in (ROOT / "examples").glob("*.py") if not IGNORED.match(p.name))
    gallery = DOC / "auto_examples"
    rendered = sorted(p.stem for p in gallery.glob("*.py"))
    if not rendered:
        problems.append(f"no example was rendered into {gallery}")
    for name in sorted(set(sources) - set(rendered)):
        problems.append(f"examples/{name}.py was not rendered into doc/auto_examples/")
    for name in rendered:
        figure = gallery / "images" / f"sphx_glr_{name}_001.png"
        if not figure.is_file() or figure.stat().st_size == 0:
            problems.append(f"example {name}.py rendered no figure ({figure.relative_to(ROOT)})")
    return problems, len(rendered)


def check_api_pages(html):
    import sklearn_hierspectral

    problems = []
    public = [name for name in sklearn_hierspectral.__all__ if not name.startswith("__")]
    for name in public:
        page = html / "generated" / f"sklearn_hierspectral.{name}.html"
        if not page.is_file():
            problems.append(f"public name {name} has no API page ({page})")
    return problems, len(public)


def main(argv):
    html = Path(argv[1]).resolve() if len(argv) > 1 else DOC / "_build" / "html"
    if not (html / "index.html").is_file():
        print(f"check_docs: {html} holds no HTML build (no index.html)")
        return 1
    gallery_problems, n_examples = check_gallery()
    api_problems, n_public = check_api_pages(html)
    problems = gallery_problems + api_problems
    for problem in problems:
        print(f"check_docs: {problem}")
    if problems:
        return 1
    print(f"check_docs: {n_examples} examples each rendered a figure; "
          f"{n_public} public names each have an API page")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
