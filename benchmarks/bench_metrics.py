"""Shot accuracy and the shot scorers against numpy ``bincount`` one-liners (issue #22).

The baseline of ``shot_accuracy(y_true, y_pred, counts)`` (validation, label
lookup, per-class accuracy, the four splits) is the one-liner a user would
write for the same four numbers::

    acc = np.bincount(y[y == p], minlength=C) / np.bincount(y, minlength=C)
    [acc[split == s].mean() for s in ("many", "medium", "few")] + [acc.mean()]

with ``split`` precomputed. The scorers run on a fitted estimator whose
``predict`` returns fixed predictions (so that only the scoring is timed):
one ``make_shot_scorer("few")`` against scikit-learn's ``make_scorer`` of the
one-liner's few-shot mean, and the four ``shot_scorers()`` through
scikit-learn's multi-metric scoring (``check_scoring`` of the dict) against
the four one-liner scorers through the same. Labels: long-tailed integers
(``make_labels``), predictions right 60% of the time, else uniform.

Sizes: iNaturalist 2018's training set (437,513 labels, 8,142 classes; goal
within 2x) and ImageNet-LT's test set (50,000 labels, 1,000 classes; no goal:
a fixed cost of about 0.5 ms of argument checks weighs more there).
"""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import check_scoring, make_scorer

from benchmarks._harness import Case, main, make_labels
from sklearn_lt._counts import SPLITS
from sklearn_lt.metrics import make_shot_scorer, shot_accuracy, shot_scorers, shot_splits


class FixedPredictions(ClassifierMixin, BaseEstimator):
    """A fitted classifier that predicts stored labels and records its training counts."""

    def __init__(self, y_pred, counts):
        self.y_pred = y_pred
        self.counts = counts
        self.classes_ = np.arange(len(counts))
        self.class_counts_ = counts

    def fit(self, X, y):
        return self

    def predict(self, X):
        return self.y_pred


def _problem(n, c):
    y = make_labels(n, c)
    rng = np.random.default_rng(1)
    y_pred = np.where(rng.random(n) < 0.6, y, rng.integers(0, c, n))
    counts = np.bincount(make_labels(n, c, seed=2), minlength=c)  # training counts
    return y, y_pred, counts


def _one_liner(y, p, n_classes, splits, split=None):
    acc = np.bincount(y[y == p], minlength=n_classes) / np.bincount(y, minlength=n_classes)
    if split is not None:
        return acc.mean() if split == "all" else acc[splits == split].mean()
    return [acc[splits == s].mean() for s in SPLITS] + [acc.mean()]


def _accuracy_setup(n, c):
    y, y_pred, counts = _problem(n, c)
    splits = shot_splits(counts)
    return (lambda: shot_accuracy(y, y_pred, counts),
            lambda: _one_liner(y, y_pred, c, splits))


def _scorer_setup(n, c, multimetric):
    y, y_pred, counts = _problem(n, c)
    splits = shot_splits(counts)
    estimator = FixedPredictions(y_pred, counts)
    if multimetric:
        theirs = {s: make_scorer(_one_liner, n_classes=c, splits=splits, split=s)
                  for s in (*SPLITS, "all")}
        ours, theirs = (check_scoring(estimator, scoring=shot_scorers()),
                        check_scoring(estimator, scoring=theirs))
    else:
        ours = make_shot_scorer("few")
        theirs = make_scorer(_one_liner, n_classes=c, splits=splits, split="few")
    return lambda: ours(estimator, None, y), lambda: theirs(estimator, None, y)


def cases(quick, device):
    sizes = [(10_000, 100)] if quick else [(437_513, 8_142), (50_000, 1_000)]
    out = []
    for n, c in sizes:
        size, goal = {"N": n, "C": c}, (2.0 if n > 100_000 else None)  # the goal: iNat size
        out += [
            Case("shot_accuracy(y_true, y_pred, counts)", size,
                 "bincount(y[y == p]) / bincount(y), split means",
                 lambda n=n, c=c: _accuracy_setup(n, c), goal=goal),
            Case("make_shot_scorer('few')(est, X, y)", size,
                 "make_scorer(bincount one-liner, few)",
                 lambda n=n, c=c: _scorer_setup(n, c, False), goal=goal),
            Case("shot_scorers(), 4 splits, multi-metric", size,
                 "4 make_scorer(bincount one-liner), multi-metric",
                 lambda n=n, c=c: _scorer_setup(n, c, True), goal=goal),
        ]
    return out


if __name__ == "__main__":
    main(cases)
