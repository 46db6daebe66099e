"""What the heads' built-in searches (tau, LORT's smoothing and length) share."""

import warnings

import numpy as np
from scipy.stats import rankdata
from sklearn.utils import Bunch

from ..metrics import shot_accuracy
from ..metrics._counts import SPLITS, UndefinedSplitWarning, check_thresholds

__all__ = [
    "SPLIT_SCORES",
    "check_split_scoring",
    "cv_folds",
    "search_results",
    "split_scores",
]

# Scorings computed from predictions here (no scorer object needed).
SPLIT_SCORES = ("all",) + SPLITS


def cv_folds(cv, labels):
    """The ``(train, test)`` index pairs of ``cv`` (an int gives stratified folds)."""
    from sklearn.model_selection import check_cv

    splitter = check_cv(cv, labels, classifier=True)
    return list(splitter.split(np.zeros((len(labels), 1)), labels))


def check_split_scoring(scoring, many_threshold, few_threshold):
    """``"all"`` or a split name (scored here from predictions), else a scorer callable."""
    from sklearn.metrics import get_scorer

    check_thresholds(many_threshold, few_threshold)
    if scoring is None:
        return "all"
    if isinstance(scoring, str):
        return scoring if scoring in SPLIT_SCORES else get_scorer(scoring)
    return scoring


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


def search_results(candidates, scores, scoring):
    """``cv_results_`` and the best candidate, as ``GridSearchCV`` reports them.

    Parameters
    ----------
    candidates : dict of str to array-like of shape (n_candidates,)
        The value of each searched parameter for every candidate.
    scores : ndarray of shape (n_candidates, n_splits)
        Validation scores; NaN where a fold's score is undefined (a shot split
        absent from that validation fold). Such folds are left out of the
        means, with one warning.
    scoring : str or callable
        Named in messages.

    Returns
    -------
    Bunch
        ``cv_results`` (``param_<name>``, ``params``, ``split{k}_test_score``,
        ``mean_test_score``, ``std_test_score``, ``rank_test_score``),
        ``best_index`` (ties go to the first candidate) and ``best_score``.
    """
    undefined = np.isnan(scores)
    # A split scored here is NaN only without a class of the split; a scorer
    # of the caller's may return NaN for any reason of its own.
    split = isinstance(scoring, str) and scoring in SPLITS
    if undefined.all():
        what = next(iter(candidates)) if len(candidates) == 1 else "candidate"
        why = (
            "no validation fold has a class in that split. Lower the thresholds, use "
            "fewer folds, or choose another scoring."
            if split
            else "the scorer returned NaN on every validation fold. Check the scorer "
            "(a shot-split scorer returns NaN where a fold has no class of its split)."
        )
        raise ValueError(f"Every {what} scored NaN with scoring={scoring!r}: {why}")
    if undefined.any():
        bad = np.flatnonzero(undefined.any(axis=0)).tolist()
        why = "no class of that split in the fold" if split else "the scorer returned NaN"
        warnings.warn(
            f"With scoring={scoring!r}, validation folds {bad} scored NaN ({why}); "
            "the mean score of each candidate is taken over the other folds.",
            UndefinedSplitWarning,
            stacklevel=4,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows
            mean, std = np.nanmean(scores, axis=1), np.nanstd(scores, axis=1)
    else:
        mean, std = scores.mean(axis=1), scores.std(axis=1)
    # Rank as GridSearchCV does: NaN last, ties share the lowest rank.
    filled = np.where(np.isnan(mean), -np.inf, mean)
    best_index = int(np.argmax(filled))
    names = list(candidates)
    values = {name: np.asarray(candidates[name]) for name in names}
    results = {f"param_{name}": values[name].copy() for name in names}
    results["params"] = [
        {name: values[name][i].item() for name in names} for i in range(len(mean))
    ]
    for k in range(scores.shape[1]):
        results[f"split{k}_test_score"] = scores[:, k]
    results.update(
        mean_test_score=mean,
        std_test_score=std,
        rank_test_score=rankdata(-filled, method="min").astype(np.int32),
    )
    return Bunch(cv_results=results, best_index=best_index, best_score=float(mean[best_index]))
