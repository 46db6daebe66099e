"""Consistency of the documentation with the package (no Sphinx needed).

- every public name (``__all__``) of every public module is in the API
  reference, ``docs/api.rst``;
- every name the API reference lists exists;
- every gallery example the docs link to exists, and every example has a
  title and code lines that fit the gallery's width;
- the README's Python snippet runs, warnings as errors; every extra of
  pyproject.toml is named where installing is explained;
- MathJax's ``\\text{}`` holds no backslash escape (it would print it).

On the built HTML (``bash docs/build.sh``; CI builds the docs before the
tests, elsewhere these tests skip until the docs are built):

- every internal link and anchor resolves;
- no page loads a script, style or image from the network;
- every formula is typeset by the packaged MathJax, in headless Chromium
  (Debian's ``chromium``; skipped where it is not installed, except on CI:
  ``.ci/run`` installs it as root).
"""

import ast
import html
import importlib
import os
import posixpath
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
API = ROOT / "docs" / "api.rst"
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"
BUILT = DOCS / "_build" / "html"
GALLERY_WIDTH = 79  # characters of code a gallery code block shows without scrolling

PUBLIC_MODULES = [
    "sklearn_lt",
    "sklearn_lt.sampling",
    "sklearn_lt.heads",
    "sklearn_lt.metrics",
    "sklearn_lt.plotting",
    "sklearn_lt.backbone",
    "sklearn_lt.datasets",
]

pytestmark = pytest.mark.skipif(not API.exists(), reason="docs/api.rst not present")


def _documented():
    """``{full dotted name}`` of every autosummary entry of docs/api.rst."""
    names, module, in_autosummary = set(), None, False
    for line in API.read_text().splitlines():
        match = re.match(r"\.\. currentmodule:: (\S+)", line.strip())
        if match:
            module = match.group(1)
            continue
        if line.startswith(".. autosummary::"):
            in_autosummary = True
            continue
        if in_autosummary:
            stripped = line.strip()
            if not line.startswith(" ") and stripped:
                in_autosummary = False
            elif stripped and not stripped.startswith(":"):
                names.add(f"{module}.{stripped}")
    return names


def _resolve(dotted):
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _importable(module):
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def test_api_reference_entries_exist():
    missing = []
    for dotted in sorted(_documented()):
        try:
            _resolve(dotted)
        except (ImportError, AttributeError):
            missing.append(dotted)
    assert not missing, f"docs/api.rst lists names that do not exist: {missing}"


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_public_name_is_in_the_api_reference(module_name):
    module = _importable(module_name)
    if module is None or not hasattr(module, "__all__"):
        pytest.skip(f"{module_name} is not importable or has no __all__")
    documented = [_resolve(d) for d in _documented()]
    undocumented = [
        name
        for name in module.__all__
        if not any(getattr(module, name) is obj for obj in documented)
    ]
    assert not undocumented, (
        f"public names of {module_name} missing from docs/api.rst: {undocumented}"
    )


def test_linked_examples_exist():
    linked = set()
    for page in list(DOCS.rglob("*.rst")) + list(DOCS.rglob("*.md")):
        if "_build" in page.parts or "auto_examples" in page.parts:
            continue
        linked.update(re.findall(r"sphx_glr_auto_examples_(\w+)\.py", page.read_text()))
    missing = sorted(name for name in linked if not (EXAMPLES / f"{name}.py").exists())
    assert not missing, f"the docs link to examples that do not exist: {missing}"


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("plot_*.py")), ids=lambda p: p.name)
def test_example_has_a_title(example):
    docstring = ast.get_docstring(ast.parse(example.read_text()))
    assert docstring, f"{example.name} has no docstring"
    lines = [line for line in docstring.splitlines() if line.strip()]
    # an overlined or underlined title, as sphinx-gallery expects
    title_at = 1 if set(lines[0]) == {"="} else 0
    title, underline = lines[title_at], lines[title_at + 1]
    assert set(underline) == {"="} and len(underline) >= len(title), (
        f"{example.name}: the title must be underlined with '=' at least as long as it"
    )


@pytest.mark.parametrize(
    "page", sorted((DOCS / "user_guide").glob("*.rst")), ids=lambda p: p.name
)
def test_user_guide_doctests(page):
    """The ``>>>`` examples of the user guide run and print what they show."""
    import doctest

    result = doctest.testfile(
        str(page),
        module_relative=False,
        optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS,
        verbose=False,
    )
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {page.name}"


def _readme_python():
    blocks = re.findall(r"^```python\n(.*?)^```", (ROOT / "README.md").read_text(), re.M | re.S)
    assert len(blocks) == 1, "the README has one Python snippet, run by the test below"
    return blocks[0]


def test_readme_snippet_runs_warning_free_and_deterministic():
    """The README's snippet, as a user pastes it: data, fit, a printed result, no warning."""
    run = [sys.executable, "-W", "error", "-c", _readme_python()]
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    runs = [subprocess.Popen(run, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=env, cwd=ROOT) for _ in range(2)]  # side by side: one thread each
    (out, err), (out_again, _) = (run.communicate(timeout=600) for run in runs)
    assert runs[0].returncode == 0, err[-3000:]
    assert err == ""
    assert "balanced test accuracy" in out
    assert out == out_again  # the same tau, the same score


def test_every_extra_is_named_where_installing_is_explained():
    tomllib = pytest.importorskip("tomllib", reason="reads pyproject.toml (Python 3.11)")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    pages = {"README.md": (ROOT / "README.md").read_text(),
             "docs/index.rst": (DOCS / "index.rst").read_text()}
    missing = [f"{page}: [{extra}]" for page, text in pages.items() for extra in extras
               if f"`[{extra}]`" not in text]
    assert not missing, f"extras of pyproject.toml not named: {missing}"


def _matches(pattern, files):
    """``"path: match"`` for every match of ``pattern`` in ``files`` (built pages left out)."""
    return [
        f"{path.relative_to(ROOT)}: {match}"
        for path in files
        if not {"_build", "auto_examples"} & set(path.parts)
        for match in re.findall(pattern, path.read_text())
    ]


def test_install_commands_install_from_the_clone():
    # The package is not on a package index: `pip install "sklearn-lt[...]"` finds nothing.
    pages = [ROOT / "README.md", *DOCS.rglob("*.rst"), *DOCS.rglob("*.md"),
             *EXAMPLES.glob("*.py")]
    wrong = _matches(r"pip\s+install\s+[\"']?sklearn-lt\[[^]]*\]", pages)
    assert not wrong, f"install from the clone (pip install -e \".[extra]\"): {wrong}"


def test_text_in_formulas_has_no_backslash_escapes():
    # MathJax 3 typesets \text{...} as plain text: `\text{weight\_decay}` shows "weight\_decay".
    sources = [*DOCS.rglob("*.rst"), *EXAMPLES.glob("*.py"), *(ROOT / "sklearn_lt").rglob("*.py")]
    escaped = _matches(r"\\text\{[^}]*\\[^}]*\}", sources)
    assert not escaped, f"write \\mathtt{{a\\_b}} (math mode) instead: {escaped}"


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("plot_*.py")), ids=lambda p: p.name)
def test_example_code_fits_the_gallery_width(example):
    source = example.read_text()
    docstring_end = ast.parse(source).body[0].end_lineno
    too_long = [
        number
        for number, line in enumerate(source.splitlines(), start=1)
        if number > docstring_end
        and not line.lstrip().startswith("#")  # text blocks are wrapped as text
        and len(line) > GALLERY_WIDTH
    ]
    assert not too_long, f"{example.name}: code lines {too_long} exceed {GALLERY_WIDTH} chars"


# -- the built pages ---------------------------------------------------------

needs_built_docs = pytest.mark.skipif(
    not (BUILT / "index.html").exists(),
    reason="docs not built: run `bash docs/build.sh` (CI builds them before the tests)",
)
CHROMIUM = next(
    (path for name in ("chromium", "chromium-browser") if (path := shutil.which(name))), None
)


def _built_pages():
    """``{path relative to the build: text}`` of every HTML page (not the theme's assets)."""
    return {
        page.relative_to(BUILT).as_posix(): page.read_text(errors="replace")
        for page in BUILT.rglob("*.html")
        if page.relative_to(BUILT).parts[0] != "_static"
    }


@needs_built_docs
def test_built_links_and_anchors_resolve():
    pages = _built_pages()
    anchors = {name: set(re.findall(r'\bid="([^"]+)"', text)) for name, text in pages.items()}
    broken = []
    for name, text in pages.items():
        for link in re.findall(r'\b(?:href|src)="([^"]+)"', text):
            link = html.unescape(link)
            if re.match(r"[a-z][a-z0-9+.-]*:|//", link):  # external, mailto:, data:
                continue
            path, _, anchor = link.partition("#")
            path = path.split("?")[0]
            target = name
            if path:
                target = posixpath.normpath(posixpath.join(posixpath.dirname(name), path))
            if not (BUILT / target).exists():
                broken.append(f"{name}: {link} (no such file)")
            elif anchor and target in anchors and anchor not in anchors[target]:
                broken.append(f"{name}: {link} (no such anchor)")
    assert not broken, "broken links in the built docs:\n" + "\n".join(broken)


@needs_built_docs
def test_built_pages_load_nothing_from_the_network():
    remote = r'"((?:https?:)?//[^"]+)"'
    resources = [
        # what a page fetches: scripts, images, frames, media, and the <link>s
        # that load (a <link> to another site is only a link)
        re.compile(rf"<(?:script|img|iframe|source|audio|video|embed)\b[^>]*?\bsrc={remote}"),
        re.compile(
            rf'<link\b(?=[^>]*\brel="(?:stylesheet|preload|modulepreload|icon)")[^>]*?'
            rf"\bhref={remote}"
        ),
    ]
    loaded = [
        f"{name}: {url}"
        for name, text in _built_pages().items()
        for pattern in resources
        for url in pattern.findall(text)
    ]
    assert not loaded, "pages load resources from the network:\n" + "\n".join(loaded)


def _math_pages():
    if not (BUILT / "index.html").exists():
        return []
    return sorted(
        name for name, text in _built_pages().items() if 'class="math notranslate' in text
    )


@needs_built_docs
def test_some_pages_have_formulas():
    assert len(_math_pages()) >= 5  # the user guide's method pages at least


@needs_built_docs
@pytest.mark.parametrize("page", _math_pages() or ["(docs not built)"])
def test_formulas_are_typeset_offline(page, tmp_path):
    """MathJax, served from the build itself, typesets every formula of the page.

    Chromium loads the page from disk with networking features off; after the
    page's scripts ran (virtual time), each Sphinx math element must hold a
    MathJax container, with no TeX error.
    """
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("CI runs this test: .ci/run installs chromium as root")
        pytest.skip("needs Debian's chromium: `sudo apt-get install chromium` enables it")
    n_formulas = (BUILT / page).read_text().count('class="math notranslate')
    profile = tmp_path / "profile"
    profile.mkdir()
    dom = subprocess.run(
        [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
            "--virtual-time-budget=20000", "--dump-dom", (BUILT / page).as_uri(),
        ],
        capture_output=True, text=True, timeout=180, check=True,
    ).stdout
    assert dom.count("<mjx-container") == n_formulas, (
        f"{page}: {dom.count('<mjx-container')} of {n_formulas} formulas typeset"
    )
    assert "<mjx-merror" not in dom, f"{page}: MathJax reports a TeX error"
