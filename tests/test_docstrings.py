"""Every public docstring against its signature (numpydoc validation), as scikit-learn's suite.

The public API is every class and function named in the ``__all__`` of the
package and of its public subpackages, and the public methods and properties
that those classes define (inherited ones count where the package defines
them: scikit-learn's ``get_params`` is scikit-learn's to check). Docstrings
assembled by :class:`~sklearn_lt.utils.Substitution` are checked as assembled:
numpydoc reads ``__doc__``.
"""

import importlib
import inspect
import io
import re
from pathlib import Path

import numpydoc.validate as numpydoc_validation
import pytest

PUBLIC_MODULES = [
    "sklearn_lt",
    "sklearn_lt.backbone",
    "sklearn_lt.datasets",
    "sklearn_lt.heads",
    "sklearn_lt.metrics",
    "sklearn_lt.plotting",
    "sklearn_lt.sampling",
    "sklearn_lt.study",
    "sklearn_lt.utils",
]

# The contract enforced: numpydoc's checks that a docstring matches its object
# (every parameter documented, none unknown, in the signature's order, with the
# space before the colon that makes numpydoc read name and type apart; a Returns
# or Yields section where the object returns or yields) and that Sphinx renders
# it as written (a docstring with a summary, known sections in numpydoc's order,
# reST directives that parse, no tabs).
#
# Left out, as style rather than contract: the wording of summaries (SS02-SS06:
# "Class with the largest logit." names what a method gives), punctuation and
# capitals of descriptions (PR05, PR08, PR09, RT04, RT05, SA02, SA03), a
# description for each entry (PR07, RT03, SA04: parameters that share one
# description are listed together above it, e.g. ``coef``/``intercept``), a type
# for each parameter (PR04: the skorch arguments that ``BackboneEmbedder``
# passes through keep skorch's documentation), named return values (RT02), blank
# lines (GL01-GL03), and the sections a one-line helper need not have (ES01,
# SA01, EX01; every head's examples run as doctests elsewhere in the suite).
ENFORCED = {
    "GL05",  # tabs at the start of a line
    "GL06",  # unknown section
    "GL07",  # sections in the wrong order
    "GL08",  # no docstring
    "GL09",  # deprecation warning after the extended summary
    "GL10",  # reST directive without its two colons
    "SS01",  # no summary line
    "PR01",  # a parameter of the signature not documented
    "PR02",  # a documented parameter not in the signature
    "PR03",  # parameters documented in another order than the signature's
    "PR06",  # "integer"/"string"/"boolean" for int/str/bool
    "PR10",  # "name: type" (parsed as one unknown name)
    "RT01",  # returns a value, no Returns section
    "YD01",  # yields, no Yields section
}

# Methods that implement a hook of torch or skorch (``forward``, ``train_step``,
# ``on_train_begin``, ...): their arguments and return value are the
# framework's contract, documented there. The estimator methods that users call
# are checked even where a framework defines them too.
ESTIMATOR_METHODS = {
    "fit",
    "partial_fit",
    "predict",
    "predict_proba",
    "predict_log_proba",
    "decision_function",
    "score",
    "transform",
    "fit_transform",
}


def _framework_hook(klass, name):
    if name in ESTIMATOR_METHODS:
        return False
    return any(
        name in vars(base)
        for base in klass.__mro__[1:]
        if base.__module__.split(".")[0] in ("torch", "skorch")
    )


def _defined_here(member):
    function = member.fget if isinstance(member, property) else member
    function = inspect.unwrap(getattr(function, "__func__", function))
    return getattr(function, "__module__", "").startswith("sklearn_lt")


def _public_objects():
    """``(import path, object, is_property)`` of each public class, method and function."""
    seen = set()
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            # Constants (e.g. TABLE1_METHODS) have no docstring of their own;
            # a name exported twice (sklearn_lt and sklearn_lt.heads) is checked once.
            if not (inspect.isclass(obj) or inspect.isfunction(obj)) or id(obj) in seen:
                continue
            seen.add(id(obj))
            path = f"{module_name}.{name}"
            yield path, obj, False
            if not inspect.isclass(obj):
                continue
            for attribute in sorted(dir(obj)):
                if attribute.startswith("_") or _framework_hook(obj, attribute):
                    continue
                static = inspect.getattr_static(obj, attribute)
                member = static if isinstance(static, property) else getattr(obj, attribute)
                if not (callable(member) or isinstance(member, property)):
                    continue
                if _defined_here(member):
                    yield f"{path}.{attribute}", member, isinstance(member, property)


PUBLIC_OBJECTS = list(_public_objects())


def test_the_public_api_is_found():
    paths = {path for path, _, _ in PUBLIC_OBJECTS}
    # A class, its methods, a function and a Substitution-assembled docstring.
    assert {
        "sklearn_lt.TauNormClassifier",
        "sklearn_lt.TauNormClassifier.predict",
        "sklearn_lt.SoftmaxClassifier",
        "sklearn_lt.metrics.shot_accuracy",
    } <= paths
    assert len(PUBLIC_OBJECTS) > 200


def _errors(path, is_property):
    result = numpydoc_validation.validate(path)
    for code, message in result["errors"]:
        # A property documents an attribute (GL08: often in the class's
        # Attributes section instead) and has no parameters (PR02, RT01).
        if is_property and code in ("GL08", "PR02", "RT01"):
            continue
        if code in ENFORCED:
            yield f"{code}: {message}"


@pytest.mark.parametrize(
    "path, is_property",
    [(path, is_property) for path, _, is_property in PUBLIC_OBJECTS],
    ids=[path for path, _, _ in PUBLIC_OBJECTS],
)
def test_docstring(path, is_property):
    errors = list(_errors(path, is_property))
    assert not errors, f"{path}:\n" + "\n".join(errors)


def test_the_validation_fails_on_a_bad_docstring():
    # The contract can fail: an undocumented and an unknown parameter, a
    # missing Returns section.
    result = numpydoc_validation.validate(f"{__name__}._badly_documented")
    codes = {code for code, _ in result["errors"]} & ENFORCED
    assert codes == {"PR01", "PR02", "RT01"}


def _badly_documented(x, y):
    """Add two numbers.

    Parameters
    ----------
    x : float
        The first.
    z : float
        Not a parameter.
    """
    return x + y


def test_a_shared_entry_reads_the_same_at_any_depth():
    # One DocEntry fills a class's Parameters and a method's (indented 4
    # columns further); numpydoc reads the same name, type and description.
    from numpydoc.docscrape import FunctionDoc

    from sklearn_lt.utils._docstring import DocEntry, Substitution

    shared = {"tau": DocEntry("tau", "float", "Strength of\nthe rule.", default="1.0")}

    @Substitution(shared)
    class Head:
        """A head.

        Parameters
        ----------
        %(tau)s
        """

        @Substitution(shared, tau=shared["tau"].override(default="None"))
        def sweep(self, tau=None):
            """Sweep.

            Parameters
            ----------
            %(tau)s
                Here, ``None`` sweeps.
            """

    (in_class,) = FunctionDoc(Head, role="class")["Parameters"]
    (in_method,) = FunctionDoc(Head.sweep)["Parameters"]
    assert (in_class.name, in_class.type) == ("tau", "float, default=1.0")
    assert (in_method.name, in_method.type) == ("tau", "float, default=None")
    assert in_class.desc == ["Strength of", "the rule."]
    assert in_method.desc == ["Strength of", "the rule.", "Here, ``None`` sweeps."]


def _heads():
    import sklearn_lt.heads

    classes = [getattr(sklearn_lt.heads, name) for name in sklearn_lt.heads.__all__]
    return [c for c in classes if inspect.isclass(c) and c.__name__.endswith(("Classifier", "CV"))]


HEADS = _heads()
USER_GUIDE = Path(__file__).parents[1] / "docs" / "user_guide"


@pytest.mark.parametrize("head", HEADS, ids=[h.__name__ for h in HEADS])
def test_every_head_links_its_guide_and_cites_its_papers(head):
    from numpydoc.docscrape import ClassDoc

    labels = {
        label
        for page in USER_GUIDE.glob("*.rst")
        for label in re.findall(r"^\.\. _([\w-]+):$", page.read_text(), re.MULTILINE)
    }
    linked = re.findall(r"Read more in the :ref:`User Guide <([\w-]+)>`\.", head.__doc__)
    assert linked and set(linked) <= labels, linked
    doc = ClassDoc(head)
    assert any(line.lstrip().startswith(".. [") for line in doc["References"])
    # Measured accuracies belong in Notes, not in what a parameter means.
    for parameter in doc["Parameters"]:
        assert not re.search(r"\b0\.\d{3}\b", " ".join(parameter.desc)), parameter.name


def _rst_problems(docstring):
    """docutils' warnings on a docstring as numpydoc hands it to Sphinx.

    Sphinx's own roles and directives (``:class:``, ``.. plot::``) are unknown
    to plain docutils: those messages are left out, the structure is checked.
    """
    docutils_core = pytest.importorskip("docutils.core")
    from numpydoc.docscrape_sphinx import SphinxDocString

    stream = io.StringIO()
    docutils_core.publish_doctree(
        str(SphinxDocString(docstring)),
        settings_overrides={"warning_stream": stream, "report_level": 2, "halt_level": 5},
    )
    unknown = ("Unknown interpreted text role", "Unknown directive", "No role entry",
               "No directive entry", "Trying ")
    return [line for line in stream.getvalue().splitlines()
            if re.search(r"\((WARNING|ERROR|SEVERE)/", line) and not line.endswith(unknown)
            and not any(u in line for u in unknown)]


@pytest.mark.parametrize(
    "path, obj",
    [(path, obj) for path, obj, is_property in PUBLIC_OBJECTS if not is_property],
    ids=[path for path, _, is_property in PUBLIC_OBJECTS if not is_property],
)
def test_docstring_renders_without_warnings(path, obj):
    # The docs build treats warnings as errors: a list that runs into the
    # text after it (a shared entry with text of its own under it) failed it.
    problems = _rst_problems(inspect.getdoc(obj) or "")
    assert not problems, f"{path}:\n" + "\n".join(problems)


def test_the_rendering_check_fails_on_a_list_run_into_text():
    bad = "Summary.\n\nParameters\n----------\nx : int\n    - a\n    - b\n    More text.\n"
    assert any("Bullet list ends without a blank line" in p for p in _rst_problems(bad))
    assert not _rst_problems(bad.replace("    More", "\n    More"))
