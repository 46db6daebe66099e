"""Consistency of the documentation with the package (no Sphinx needed).

- every public name (``__all__``) of every public module is in the API
  reference, ``docs/api.rst``;
- every name the API reference lists exists;
- every gallery example the docs link to exists, and every example has a
  title.
"""

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
API = ROOT / "docs" / "api.rst"
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"

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
