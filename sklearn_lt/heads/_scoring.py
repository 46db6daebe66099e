"""Scores of candidate predictions on one long-tail split, shared by the searches.

Early stopping on ``X_val`` (:mod:`._trained`) and the CV heads (:mod:`._cv`)
score every candidate's predictions the same way.
"""

import numpy as np

from ..metrics import shot_accuracy

__all__ = ["split_scores"]


def split_scores(y_true, predictions, counts, split, *, many_threshold, few_threshold):
    """The accuracy of ``split`` (or ``"all"``, balanced accuracy) of each prediction.

    ``counts`` are the training counts of the fold (a :class:`ClassCounts`); a
    validation class missing from them (absent from the fold's training
    part) counts 0 training samples.
    """
    counts = counts.reindex(np.union1d(counts.classes, y_true))
    return [
        shot_accuracy(
            y_true,
            y_pred,
            counts.counts,
            classes=counts.classes,
            many_threshold=many_threshold,
            few_threshold=few_threshold,
            warn_for=(),
        )[split]
        for y_pred in predictions
    ]
