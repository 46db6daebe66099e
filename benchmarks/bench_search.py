"""The README's search over tau: stage one trained once per fold, not once per candidate.

``GridSearchCV(Pipeline([("feat", BackboneEmbedder()), ("clf",
TauNormClassifier())], memory=folder), {"clf__tau": [0.0, 0.5, 1.0]},
scoring=shot_scorers(), refit="all")`` on digits-LT: ``memory`` makes
scikit-learn's pipeline cache each fold's fitted embedder, so the three
candidates share it. Against its baseline in the same run:

* ``tau search, Pipeline(memory)``: the search above, with a fresh cache
  folder at each call, against **one cross-validated embedder fit**
  (``cross_validate`` of the same pipeline with one tau, same folds and
  scorers). It trains ``n_folds + 1`` embedders (the refit), the baseline
  ``n_folds``. Goal: at most 1.5x (full sizes; at the quick sizes the
  stage-two fits outweigh the tiny embedders, and no goal is set).
* ``tau search, no memory``: the same search without the cache, which
  trains ``3 x n_folds + 1`` embedders (no goal).

The full sizes use the README's defaults (``BackboneEmbedder()``: 30 epochs,
5 folds); ``--quick`` 2 epochs of a narrow network and 3 folds. A call takes
minutes: one value of each.
"""

import tempfile

from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_validate
from sklearn.pipeline import Pipeline

from benchmarks._harness import Case, main
from sklearn_lt import BackboneEmbedder, TauNormClassifier
from sklearn_lt.datasets import load_digits_lt
from sklearn_lt.metrics import shot_scorers

TAUS = [0.0, 0.5, 1.0]


def _setup(cached, quick):
    data = load_digits_lt(random_state=0)
    X, y = data.X_train, data.y_train
    many, few = data.shot_thresholds
    scoring = shot_scorers(many_threshold=many, few_threshold=few)
    cv = StratifiedKFold(3 if quick else 5, shuffle=True, random_state=0)
    small = {"max_epochs": 2, "module__width": 4} if quick else {}

    def pipeline(memory=None):
        embedder = BackboneEmbedder(input_shape=(1, 8, 8), random_state=0, **small)
        head = TauNormClassifier(tau=0.7, random_state=0)
        return Pipeline([("feat", embedder), ("clf", head)], memory=memory)

    def search():
        with tempfile.TemporaryDirectory() as folder:  # a cold cache at every call
            GridSearchCV(pipeline(folder if cached else None), {"clf__tau": TAUS},
                         scoring=scoring, refit="all", cv=cv).fit(X, y)

    return search, lambda: cross_validate(pipeline(), X, y, cv=cv, scoring=scoring)


def cases(quick, device):
    size = {"folds": 3 if quick else 5, "candidates": len(TAUS)}
    baseline = f"cross-validated embedder fit ({size['folds']} fits)"
    return [
        Case("tau search, Pipeline(memory)", size, baseline, lambda: _setup(True, quick),
             goal=None if quick else 1.5),
        Case("tau search, no memory", size, baseline, lambda: _setup(False, quick)),
    ]


if __name__ == "__main__":
    main(cases, processes=1, values=1, warmups=0, loops=1)
