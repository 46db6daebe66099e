"""The README's search over tau: stage one trained once per fold, not once per candidate.

``GridSearchCV(Pipeline([("feat", BackboneEmbedder()), ("clf",
TauNormClassifier())], memory=folder), {"clf__tau": [0.0, 0.5, 1.0]},
scoring=shot_scorers(), refit="all")`` on digits-LT (issue #19 item 1):
``memory`` makes scikit-learn's pipeline cache each fold's fitted embedder,
so the three candidates share it. Against its baseline in the same run:

* ``tau search, Pipeline(memory)``: the search above, with a fresh cache
  folder at each call, against **one cross-validated embedder fit**
  (``cross_validate`` of the same pipeline with one tau, same folds and
  scorers). It trains ``n_folds + 1`` embedders (the refit), the baseline
  ``n_folds``. Goal: at most 1.5x (full sizes; at the quick sizes the
  stage-two fits outweigh the tiny embedders, and no goal is set).
* ``tau search, no memory``: the same search without the cache, which
  trains ``3 x n_folds + 1`` embedders (reported; the issue measured 474 s).

Each row records ``embedder_fits``, the training runs counted by a callback.
The full sizes use the README's defaults (``BackboneEmbedder()``: 30
epochs, 5 folds); ``--quick`` 2 epochs of a narrow network and 3 folds.

``run(quick=False)`` returns the rows; ``python benchmarks/bench_search.py``
prints them.
"""

import sys
import tempfile
from pathlib import Path

from skorch.callbacks import Callback

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_validate  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402

from benchmarks._common import compare, format_table, row, timeit  # noqa: E402
from sklearn_lt import BackboneEmbedder, TauNormClassifier  # noqa: E402
from sklearn_lt.datasets import load_digits_lt  # noqa: E402
from sklearn_lt.metrics import shot_scorers  # noqa: E402

GOAL = 1.5
TAUS = [0.0, 0.5, 1.0]


class CountRuns(Callback):
    """Counts the embedders' training runs (a class attribute: searches clone callbacks)."""

    runs = 0

    def on_train_begin(self, net, **kwargs):
        type(self).runs += 1


def _pipeline(quick, memory=None):
    small = {"max_epochs": 2, "module__width": 4} if quick else {}
    embedder = BackboneEmbedder(
        input_shape=(1, 8, 8), random_state=0, callbacks=[CountRuns()], **small
    )
    head = TauNormClassifier(tau=0.7, random_state=0)
    return Pipeline([("feat", embedder), ("clf", head)], memory=memory)


def run(quick=False):
    """Benchmark rows (``benchmark, size, seconds, baseline, baseline_seconds, ratio``)."""
    data = load_digits_lt(random_state=0)
    X, y = data.X_train, data.y_train
    many, few = data.shot_thresholds
    scoring = shot_scorers(many_threshold=many, few_threshold=few)
    n_folds = 3 if quick else 5
    cv = StratifiedKFold(n_folds, shuffle=True, random_state=0)

    fits = {}  # embedder training runs of each case's last call

    def search(memory, case):
        CountRuns.runs = 0
        GridSearchCV(
            _pipeline(quick, memory), {"clf__tau": TAUS}, scoring=scoring, refit="all", cv=cv
        ).fit(X, y)
        fits[case] = CountRuns.runs

    def cached_search():
        with tempfile.TemporaryDirectory() as folder:  # a cold cache at every call
            search(folder, "cached")

    def cross_validated_fit():
        CountRuns.runs = 0
        cross_validate(_pipeline(quick), X, y, cv=cv, scoring=scoring)
        fits["baseline"] = CountRuns.runs

    # One call of each takes tens of seconds at full size: best of 2, no warm-up.
    repeat, warmup = (1, 1) if quick else (2, 0)
    cached_t, base_t = compare(
        cached_search, cross_validated_fit, repeat=repeat, warmup=warmup
    )
    uncached_t = timeit(lambda: search(None, "uncached"), repeat=1, warmup=0)
    size = {"N": len(y), "folds": n_folds, "candidates": len(TAUS)}
    baseline = f"cross-validated embedder fit ({n_folds} fits)"
    return [
        row(
            "tau search, Pipeline(memory)",
            size,
            cached_t,
            baseline,
            base_t,
            goal=None if quick else GOAL,
            embedder_fits=fits["cached"],
            baseline_embedder_fits=fits["baseline"],
        ),
        row(
            "tau search, no memory",
            size,
            uncached_t,
            baseline,
            base_t,
            embedder_fits=fits["uncached"],
            baseline_embedder_fits=fits["baseline"],
        ),
    ]


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv)))
