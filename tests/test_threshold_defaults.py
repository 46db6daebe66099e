"""``many_threshold=None`` / ``few_threshold=None``: ClassCounts' defaults, said alike (#26).

Every metric, scorer and Display that defaults its thresholds to ``None`` reads
``None`` as the defaults of :class:`~sklearn_lt.ClassCounts` (100 and 20), and
its docstring says so in the same words.
"""

import inspect
import re

import numpy as np
import pytest

import sklearn_lt.metrics
import sklearn_lt.plotting
from sklearn_lt import ClassCounts, NCMClassifier
from sklearn_lt.metrics import make_shot_scorer, shot_accuracy, shot_splits

SAID = (
    "``None`` means the defaults of ClassCounts, 100 and 20, or the thresholds of a "
    "ClassCounts given as ``class_counts``."
)


def _with_none_thresholds():
    """``{name: callable}``: public functions, classes and from_* methods whose
    ``few_threshold`` defaults to None, in the metrics and the Displays."""
    found = {}
    for module in (sklearn_lt.metrics, sklearn_lt.plotting):
        for name in module.__all__:
            obj = getattr(module, name)
            candidates = {name: obj}
            if inspect.isclass(obj):
                candidates.update(
                    {f"{name}.{m}": getattr(obj, m) for m in vars(obj) if m.startswith("from_")}
                )
            for label, candidate in candidates.items():
                try:
                    parameters = inspect.signature(candidate).parameters
                except (TypeError, ValueError):
                    continue
                if "few_threshold" in parameters and parameters["few_threshold"].default is None:
                    found[label] = candidate
    return found


CALLABLES = _with_none_thresholds()


def test_the_metrics_and_displays_are_found():
    assert {"shot_splits", "shot_accuracy", "make_shot_scorer", "shot_scorers"} <= set(CALLABLES)
    assert {"ShotAccuracyDisplay.from_estimators", "WeightNormDisplay"} <= set(CALLABLES)


@pytest.mark.parametrize("name", sorted(CALLABLES))
def test_none_thresholds_are_documented_in_the_same_words(name):
    doc = inspect.getdoc(CALLABLES[name])
    if "As in :func:`make_shot_scorer`" in doc:  # shot_scorers refers to its one scorer
        doc = inspect.getdoc(make_shot_scorer)
    doc = re.sub(r":class:`~?[\w.]*ClassCounts`", "ClassCounts", doc)
    assert SAID in " ".join(doc.split()), name


COUNTS = {0: 150, 1: 101, 2: 100, 3: 20, 4: 19, 5: 5}


def test_none_thresholds_are_the_class_counts_defaults():
    default = ClassCounts(list(COUNTS), list(COUNTS.values()))
    assert (default.many_threshold, default.few_threshold) == (100, 20)
    explicit = {"many_threshold": 100, "few_threshold": 20}
    np.testing.assert_array_equal(shot_splits(COUNTS), shot_splits(COUNTS, **explicit))
    np.testing.assert_array_equal(shot_splits(COUNTS), default.splits())
    y_true = np.array([0, 1, 2, 3, 4, 5, 5, 0])
    y_pred = np.array([0, 1, 0, 3, 0, 5, 4, 0])
    none = shot_accuracy(y_true, y_pred, COUNTS, warn_for=())
    given = shot_accuracy(y_true, y_pred, COUNTS, warn_for=(), **explicit)
    assert {s: none[s] for s in ("many", "medium", "few", "all")} == {
        s: given[s] for s in ("many", "medium", "few", "all")
    }
    assert repr(make_shot_scorer("few")) == repr(make_shot_scorer("few", **explicit))
    X = np.repeat(np.arange(6.0), list(COUNTS.values()))[:, None] + [0.0, 1.0]
    y = np.repeat(list(COUNTS), list(COUNTS.values()))
    clf = NCMClassifier().fit(X, y)
    assert make_shot_scorer("few")(clf, X, y) == make_shot_scorer("few", **explicit)(clf, X, y)
