"""The one search behind every CV head: folds, scoring, search results, refit.

A CV head chooses among candidates of one method (the tau of tau-normalisation
or of logit adjustment, LORT's smoothing and stopping epoch) on held-out folds
of the training data, then refits with the best, as
:class:`~sklearn.linear_model.RidgeCV` chooses its alpha. Every candidate is a
linear head ``X @ coef.T + intercept`` grown from a base classifier, so each
fold fits the base once and walks all its candidates from it (RidgeCV scores
every alpha from one decomposition). :class:`SearchCV` holds what the heads
share (the parameters, the fold loop, scoring, ``cv_results_``, the refit and
the fitted attributes); a head gives only its candidate path.
"""

import warnings
from numbers import Real

import numpy as np
import torch
from scipy.stats import rankdata
from sklearn.base import _fit_context
from sklearn.frozen import FrozenEstimator
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import HasMethods, Interval

from .._counts import (
    FEW_THRESHOLD,
    MANY_THRESHOLD,
    SPLITS,
    ClassCounts,
    UndefinedSplitWarning,
    check_thresholds,
)
from ..utils import to_numpy
from ._base import FittedLinear, LazyRows, LinearHead, chunked_argmax, row_chunks
from ._linear_base import fit_base_classifier
from ._modules import feature_scale
from ._scoring import split_scores

__all__ = [
    "SPLIT_SCORES",
    "PostHocCV",
    "SearchCV",
    "check_grid",
    "check_split_scoring",
    "cv_folds",
    "search_results",
]

# Scorings computed from predictions here (no scorer object needed).
SPLIT_SCORES = ("all",) + SPLITS

def cv_folds(cv, labels, groups=None):
    """The ``(train, test)`` index pairs of ``cv`` (an int gives stratified folds)."""
    from sklearn.model_selection import check_cv

    splitter = check_cv(cv, labels, classifier=True)
    groups = None if groups is None else to_numpy(groups)
    return list(splitter.split(np.zeros((len(labels), 1)), labels, groups))


def check_split_scoring(scoring, many_threshold, few_threshold):
    """The scoring and the split thresholds that a search scores with.

    Returns ``"all"`` or a split name (scored here from predictions), else a
    scorer callable; and the thresholds by name, ``None`` meaning the
    default of :class:`ClassCounts` and of the metrics (100 and 20).
    """
    from sklearn.metrics import get_scorer

    thresholds = {
        "many_threshold": MANY_THRESHOLD if many_threshold is None else many_threshold,
        "few_threshold": FEW_THRESHOLD if few_threshold is None else few_threshold,
    }
    check_thresholds(**thresholds)
    if scoring is None:
        return "all", thresholds
    if isinstance(scoring, str):
        return (scoring if scoring in SPLIT_SCORES else get_scorer(scoring)), thresholds
    return scoring, thresholds


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


class SearchCV(LinearHead):
    """Base class of the CV heads: candidates scored on folds, the best one refitted.

    Each fold fits the base classifier on its training part (``_fit_base``)
    and scores every candidate grown from it on its validation part; then the
    base is refitted on all the data and the best candidate grown from it
    (``_refit``). A subclass extends ``_parameter_constraints`` with its own
    parameters and gives its candidate path:

    - ``_candidates()``: the searched values, ``{name: ndarray}`` with one
      entry per candidate, in order (``cv_results_``'s ``param_<name>``);
    - ``_visit_candidates(base, X_train, candidates, visit)``: calls
      ``visit(i, coef, intercept)`` with the weights of every candidate ``i``
      grown from a fold's base (fitted on ``X_train``);
    - ``_predict_candidates(base, X_train, X, rows, candidates)``: the class
      index that every candidate predicts for the rows ``rows`` of ``X``,
      shape ``(n_candidates, len(rows))``. By default from
      ``_visit_candidates``; the post-hoc heads sweep all candidates from
      one product instead;
    - ``_fixed_head`` and ``_candidate_params(params)``: the head that a
      candidate is (given to a callable ``scoring``) and its parameters;
    - ``_refit(base, X, best)``: the weights of the chosen candidate from the
      base fitted on all the data, and the attributes that name it.

    Validation rows are scored chunk by chunk, gathered from ``X`` (no copy
    of the fold, never ``n_samples x n_classes`` logits).
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit"]), None],
        "cv": ["cv_object"],
        "scoring": [str, callable, None],
        "device": [str, torch.device, None],
        "random_state": ["random_state"],
        "many_threshold": [Interval(Real, 0, None, closed="left"), None],
        "few_threshold": [Interval(Real, 0, None, closed="left"), None],
    }

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, groups=None):
        """Choose a candidate on cross-validation folds of ``X``, then refit on all of it.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)
            Frozen features (float32 or float64; other dtypes become float).
        y : array-like or torch.Tensor of shape (n_samples,)
            Class labels; at least two classes.
        groups : array-like or torch.Tensor of shape (n_samples,), default=None
            Group labels of the rows, passed to the splitter as
            ``cv.split(X, y, groups)``. With a group splitter
            (:class:`~sklearn.model_selection.GroupKFold`,
            :class:`~sklearn.model_selection.StratifiedGroupKFold`, ...) the
            rows of one group, e.g. augmented views of one image, stay in one
            fold: no candidate is scored on a view of an image it was trained
            on. Other splitters ignore it, as in
            :func:`~sklearn.model_selection.cross_validate`.

        Returns
        -------
        self : object
            The fitted head.
        """
        return self._fit_and_set(X, y, groups=groups)

    def _fit(self, X, y_encoded, counts, groups=None):
        candidates = self._candidates()
        scoring, thresholds = check_split_scoring(
            self.scoring, self.many_threshold, self.few_threshold
        )
        labels = counts.classes[y_encoded]
        folds = cv_folds(self.cv, labels, groups)
        scores = np.empty((_count(candidates), len(folds)))
        with warnings.catch_warnings():
            # A split scorer would warn for every candidate of a fold without
            # its split; search_results warns once instead.
            warnings.simplefilter("ignore", UndefinedSplitWarning)
            for k, (train, test) in enumerate(folds):
                fold_counts = ClassCounts.from_labels(labels[train])
                X_train = self._training_rows(X, train)
                # The fold's base, fitted once, as the fixed head would (same seed).
                base = self._fit_base(X_train, fold_counts.positions(labels[train]), fold_counts)
                rows = torch.as_tensor(test, device=X.device)
                scores[:, k] = self._score_fold(
                    base, X_train, X, rows, labels[test], candidates, scoring, thresholds
                )
                del base  # before the next fold's
        results = search_results(candidates, scores, scoring)
        best = {name: values[results.best_index].item() for name, values in candidates.items()}
        final = self._fit_base(X, y_encoded, counts)
        coef, intercept, chosen = self._refit(final, X, best)
        attributes = {
            "estimator_": final.estimator,
            **chosen,
            "best_index_": results.best_index,
            "best_score_": results.best_score,
            "cv_results_": results.cv_results,
            "n_splits_": len(folds),
        }
        return FittedLinear(coef, intercept, final.counts, attributes)

    def _score_fold(self, base, X_train, X, rows, y_test, candidates, scoring, thresholds):
        """Validation score of every candidate grown from one fold's ``base``."""
        if isinstance(scoring, str):  # "all" or a split: from the predictions
            indices = self._predict_candidates(base, X_train, X, rows, candidates)
            return split_scores(
                y_test,
                base.counts.classes[indices],
                base.counts,
                scoring,
                **thresholds,
            )
        X_test = to_numpy(X[rows])  # the scorer's own input: numpy rows
        scores = np.empty(_count(candidates))

        def visit(i, coef, intercept):
            params = {name: values[i].item() for name, values in candidates.items()}
            head = self._fixed_head.from_weights(
                to_numpy(coef),
                to_numpy(intercept),
                classes=base.counts.classes,
                class_counts=base.counts.counts,
                **self._candidate_params(params),
            )
            scores[i] = scoring(head, X_test, y_test)

        self._visit_candidates(base, X_train, candidates, visit)
        return scores

    # ------------------------------------------------------ the candidate path
    def _training_rows(self, X, train):
        """A fold's training part of ``X``, read in place (a :class:`LazyRows`)."""
        return LazyRows(X, train)

    def _fit_base(self, X, y_encoded, counts):
        """The base classifier fitted on ``X``, seeded as the fixed head seeds it."""
        return fit_base_classifier(
            self.estimator, X, y_encoded, counts, random_state=check_random_state(self.random_state)
        )

    def _predict_candidates(self, base, X_train, X, rows, candidates):
        indices = np.empty((_count(candidates), len(rows)), dtype=np.int64)

        def visit(i, coef, intercept):
            index = chunked_argmax(
                X, lambda block: torch.addmm(intercept, block, coef.T), len(coef), rows=rows
            )
            indices[i] = to_numpy(index)

        self._visit_candidates(base, X_train, candidates, visit)
        return indices

    def _candidate_params(self, params):
        """The ``_fixed_head``'s parameters for the candidate of searched values ``params``."""
        return {"estimator": self.estimator, **params}

    def _candidates(self):  # pragma: no cover
        raise NotImplementedError

    def _visit_candidates(self, base, X_train, candidates, visit):  # pragma: no cover
        raise NotImplementedError

    def _refit(self, base, X, best):  # pragma: no cover
        raise NotImplementedError


def _count(candidates):
    """The number of candidates in ``{name: values}`` (one value per candidate)."""
    return len(next(iter(candidates.values())))


def check_grid(values, name, *, default=None, low=-np.inf, high=np.inf):
    """``values`` (``None``: ``default``) as a non-empty float64 array, each in ``[low, high)``.

    NaN and infinities are refused whatever the bounds.
    """
    values = np.asarray(default if values is None else values, dtype=np.float64).reshape(-1)
    # NaN fails every comparison: test for the good values, not the bad.
    if values.size == 0 or not np.all(np.isfinite(values) & (values >= low) & (values < high)):
        if np.isfinite(high):
            what = f"values in [{low:g}, {high:g}) (no NaN)"
        else:
            what = "finite values" + ("" if low == -np.inf else f" >= {low:g}")
        raise ValueError(f"{name} must be a non-empty list of {what}, got {values}.")
    return values


class PostHocCV(SearchCV):
    """Base class: the strength of a post-hoc rule chosen on training folds.

    A post-hoc rule turns a fitted base classifier into a rebalanced one with
    no training (tau-normalisation rescales its rows, logit adjustment shifts
    its bias); its candidates are the values of one parameter. Subclasses
    give the rule (``_adjusted``: the head's weights at one value, for
    features of RMS row norm ``scale``) and its sweep over many values from
    one product per chunk of rows (``_sweep``).
    """

    def _training_rows(self, X, train):
        # A frozen base is never fitted: every fold reads the same weights,
        # and the fold's rows need no copy.
        return X if isinstance(self.estimator, FrozenEstimator) else LazyRows(X, train)

    def _visit_candidates(self, base, X_train, candidates, visit):
        scale = feature_scale(X_train)
        (values,) = candidates.values()
        for i, value in enumerate(values):
            visit(i, *self._adjusted(base, float(value), scale))

    def _predict_candidates(self, base, X_train, X, rows, candidates):
        scale = feature_scale(X_train)
        (values,) = candidates.values()
        indices = np.empty((len(values), len(rows)), dtype=np.int64)
        for where, block in row_chunks(X, len(base.counts), rows=rows):
            indices[:, where] = self._sweep(base, block, values, scale)
        return indices

    def _refit(self, base, X, best):
        ((name, value),) = best.items()
        coef, intercept = self._adjusted(base, value, feature_scale(X))
        return coef, intercept, {f"{name}_": value}
