"""Sphinx configuration of the sklearn-lt documentation.

Build (warnings are errors, the gallery executes every example)::

    sphinx-build -W --keep-going -b html docs docs/_build/html

or ``docs/build.sh``. Neither the build nor the built pages need the network:
intersphinx is off unless ``SKLEARN_LT_INTERSPHINX=1``, and MathJax comes from
the ``docs`` extra (django-static-mathjax, which packages MathJax 3) and is
copied into the pages' ``_static/mathjax``.
"""

import importlib.util
import logging
import os
import re
import sys
import warnings
from pathlib import Path

import matplotlib
from sphinx.util.fileutil import copy_asset

matplotlib.use("Agg")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE / "sphinxext"))

import sklearn_lt  # noqa: E402

# -- Project ---------------------------------------------------------------
project = "sklearn-lt"
author = "sklearn-lt developers"
copyright = "2025, sklearn-lt developers"
version = release = sklearn_lt.__version__

# -- General ---------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "viewcode_fixes",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]
if os.environ.get("SKLEARN_LT_INTERSPHINX") == "1":
    # Off by default: fetching the inventories needs the network, and a
    # failed fetch is a warning, which -W turns into an error.
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "sklearn": ("https://scikit-learn.org/stable", None),
        "imblearn": ("https://imbalanced-learn.org/stable", None),
        "torch": ("https://docs.pytorch.org/docs/stable", None),
        "skorch": ("https://skorch.readthedocs.io/en/stable", None),
    }

templates_path = ["_templates"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = [
    "_build",
    "Thumbs.db",
    ".DS_Store",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "auto_examples/*.md5",
    "auto_examples/*.codeobj.json",
]
default_role = "literal"
pygments_style = "sphinx"
add_module_names = False

# -- autodoc / autosummary / numpydoc -------------------------------------
autosummary_generate = True
# The API tables show each docstring's first sentence; "Kang et al. 2020, eq. 3"
# must not end it.
import sphinx.ext.autosummary as _autosummary  # noqa: E402

_autosummary.WELL_KNOWN_ABBREVIATIONS = (
    *_autosummary.WELL_KNOWN_ABBREVIATIONS,
    " eq.",
    "(eq.",
    " Eq.",
    " Fig.",
    " sec.",
)
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- MathJax ---------------------------------------------------------------
# The browser build of MathJax 3 from a Python package (no CDN: the pages
# render their formulas offline). The entry point and what it loads on demand
# (TeX extensions, CHTML fonts, the menu and its accessibility parts) are
# copied to _static/mathjax when the build finishes.
_mathjax_package = importlib.util.find_spec("mathjax")
MATHJAX_DIR = (
    Path(_mathjax_package.submodule_search_locations[0]) / "static" / "mathjax" / "es5"
    if _mathjax_package is not None
    else None
)
MATHJAX_PARTS = ("tex-chtml.js", "input/tex/extensions", "output/chtml", "ui", "a11y", "sre")
if MATHJAX_DIR is None or not (MATHJAX_DIR / "tex-chtml.js").is_file():
    raise RuntimeError(
        "MathJax for the docs comes from the django-static-mathjax package: install "
        'the docs extra, pip install -e ".[docs]".'
    )
mathjax_path = "mathjax/tex-chtml.js"


def _copy_mathjax(app, exception):
    if exception is None and app.builder.format == "html":
        target = Path(app.outdir) / "_static" / "mathjax"
        for part in MATHJAX_PARTS:
            source = MATHJAX_DIR / part
            copy_asset(source, target / part if source.is_dir() else target)


# -- sphinx-gallery --------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(HERE.parent / "examples"),
    "gallery_dirs": str(HERE / "auto_examples"),
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py|/_",
    "doc_module": ("sklearn_lt",),
    "backreferences_dir": str(HERE / "gen_modules" / "backreferences"),
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "remove_config_comments": True,
    "within_subsection_order": "gallery_order.ExampleOrder",
    "download_all_examples": False,
    "show_memory": False,
    "min_reported_time": 1,
    # No sg_execution_times pages: their sortable table loads jQuery and
    # DataTables from CDNs (each example page shows its own running time).
    "write_computation_times": False,
    # Examples print what they want to show; no repr of a cell's last value.
    "capture_repr": (),
    # Every example must run: an error fails the build.
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
}

# Examples are timed and must stay laptop-friendly: one thread each.
os.environ.setdefault("OMP_NUM_THREADS", "1")
warnings.filterwarnings("ignore", category=DeprecationWarning, module="skorch")
warnings.filterwarnings(
    "ignore",
    category=UserWarning,
    message="Matplotlib is currently using agg",
)

# -- HTML ------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-lt {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_sidebars = {"index": [], "changelog": []}
html_show_sourcelink = False

# -- Pages owned by other parts of the project ------------------------------
# docs/benchmarks.md (benchmark results) and docs/accelerate.md (multi-GPU
# stage one) are written next to the code they describe. Until one exists,
# its toctree entry and :doc: links are dropped instead of failing the build.
OPTIONAL_PAGES = ("benchmarks", "accelerate")


def _drop_missing_optional_pages(app, docname, source):
    missing = [p for p in OPTIONAL_PAGES if not (HERE / f"{p}.md").exists()]
    if not missing:
        return
    text = source[0]
    for page in missing:
        # a toctree line holding just the page name
        text = re.sub(rf"(?m)^\s+(?:\.\./)*{page}\s*$\n", "", text)
        # :doc:`Title <../page>` or :doc:`page` -> the title in italics
        text = re.sub(rf":doc:`([^`<]*?)\s*<(?:\.\./)*{page}>`", r"*\1*", text)
        text = re.sub(rf":doc:`(?:\.\./)*{page}`", f"*{page}*", text)
    source[0] = text


# Methods every estimator inherits from scikit-learn for metadata routing and
# output containers (get_metadata_routing, set_*_request, set_output) point into
# scikit-learn's own documentation, and torch.nn.Module's methods into torch's:
# they are documented there, not here.
def _skip_foreign_members(app, what, name, obj, skip, options):
    if name in ("get_metadata_routing", "set_output") or re.fullmatch(r"set_\w+_request", name):
        return True
    module = getattr(obj, "__module__", None) or ""
    if module.startswith("torch."):
        return True
    return None


def setup(app):
    # myst-parser logs its whole configuration at every build: keep its
    # warnings, drop that one informational line.
    logging.getLogger("sphinx.myst_parser.sphinx_ext.main").setLevel(logging.WARNING)
    app.connect("build-finished", _copy_mathjax)
    app.connect("source-read", _drop_missing_optional_pages)
    app.connect("autodoc-skip-member", _skip_foreign_members)
