"""The one search behind the post-hoc heads' CV variants (tau-norm, logit adjustment).

A post-hoc rule turns a fitted base classifier into a rebalanced one with no
training (tau-normalisation rescales its rows, logit adjustment shifts its
bias). Choosing its strength ``tau`` by cross-validation then costs one base
fit per fold: every tau is scored on the fold's validation part from the same
base logits (``_sweep``), as :class:`~sklearn.linear_model.RidgeCV` scores
every alpha from one decomposition.
"""

import warnings
from numbers import Real

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator
from sklearn.utils._param_validation import HasMethods, Interval

from ..metrics import ClassCounts
from ..metrics._counts import UndefinedSplitWarning
from ..utils import to_numpy
from ._base import FittedLinear, LinearHead, row_chunks
from ._cv import check_split_scoring, cv_folds, search_results, split_scores
from ._modules import feature_scale

__all__ = ["PostHocCV", "POSTHOC_CV_DOCS"]

# Shared parameter and attribute descriptions of the CV variants.
POSTHOC_CV_DOCS = {
    "cv": """cv : int, cross-validation generator or iterable, default=5
        As in :func:`~sklearn.model_selection.check_cv` (an int gives
        stratified folds).""",
    "scoring": """scoring : str, callable or None, default=None
        What "best" means:

        - ``None`` or ``"all"``: mean per-class (balanced) accuracy on the
          validation fold, computed from the logits (numpy or torch alike);
        - ``"many"``, ``"medium"``, ``"few"``: the accuracy of that shot split
          (see :func:`sklearn_lt.metrics.shot_accuracy`), classes split by the
          fold's training counts with ``many_threshold``/``few_threshold``;
        - any other scikit-learn scorer name, or a callable
          ``scorer(estimator, X, y)`` (e.g. from
          :func:`sklearn_lt.metrics.make_shot_scorer`): called once per tau
          and fold, on numpy data, with the fixed-tau head holding that
          fold's weights (nothing is refitted).""",
    "random_state": """random_state : int, RandomState instance or None, default=None
        Seeds the default base of every fold and of the final fit, as the
        fixed-tau head does. Folds are not shuffled (pass a shuffling
        splitter as ``cv`` for that).""",
    "device": """device : str or torch.device, default=None
        Where to compute; ``None`` uses the input's device.""",
    "thresholds": """many_threshold : float >= 0, default=100
    few_threshold : float >= 0, default=20
        Split thresholds for ``scoring="many"|"medium"|"few"``.""",
    "search_attributes": """tau_ : float
        The chosen tau: the best mean validation score; ties go to the first
        of ``taus``. A fold whose score is undefined (a shot split without
        any class in that validation fold, with an
        :class:`~sklearn_lt.metrics.UndefinedSplitWarning`) is left out of the
        means, where ``GridSearchCV`` would give NaN.
    best_score_ : float
        Its mean validation score.
    best_index_ : int
        Its position in ``taus``.
    cv_results_ : dict of ndarray
        As in :class:`~sklearn.model_selection.GridSearchCV`: ``param_tau``,
        ``params``, ``split{k}_test_score``, ``mean_test_score``,
        ``std_test_score`` and ``rank_test_score``.
    n_splits_ : int
    estimator_ : estimator
        The base classifier fitted on all the data.""",
}


class PostHocCV(LinearHead):
    """Base class: a post-hoc rule's ``tau`` chosen on training folds.

    Subclasses give the fixed-tau head (``_fixed_head``), how the base is
    fitted (``_base``), the rule (``_adjusted``: the head's weights at a tau,
    for features of RMS row norm ``scale``) and its sweep over many taus from
    one product (``_sweep``). Validation rows are scored chunk by chunk,
    gathered from ``X`` (no copy of the fold, no fold x C logits).
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit"]), None],
        "taus": ["array-like", None],
        "cv": ["cv_object"],
        "scoring": [str, callable, None],
        "random_state": ["random_state"],
        "device": [str, torch.device, None],
        "many_threshold": [Interval(Real, 0, None, closed="left")],
        "few_threshold": [Interval(Real, 0, None, closed="left")],
    }
    # Whether a negative tau means anything for the rule.
    _negative_taus = False

    def __init__(
        self,
        estimator=None,
        *,
        taus=None,
        cv=5,
        scoring=None,
        random_state=None,
        device=None,
        many_threshold=100,
        few_threshold=20,
    ):
        self.estimator = estimator
        self.taus = taus
        self.cv = cv
        self.scoring = scoring
        self.random_state = random_state
        self.device = device
        self.many_threshold = many_threshold
        self.few_threshold = few_threshold

    def _check_taus(self):
        taus = np.linspace(0, 2, 21) if self.taus is None else self.taus
        taus = np.asarray(taus, dtype=np.float64).reshape(-1)
        negative = not self._negative_taus and np.any(taus < 0)
        if taus.size == 0 or not np.all(np.isfinite(taus)) or negative:
            what = "finite values" if self._negative_taus else "finite values >= 0"
            raise ValueError(f"taus must be a non-empty list of {what}, got {taus}.")
        return taus

    def _fit(self, X, y_encoded, counts):
        taus = self._check_taus()
        scoring = check_split_scoring(self.scoring, self.many_threshold, self.few_threshold)
        labels = counts.classes[y_encoded]
        folds = cv_folds(self.cv, labels)
        # A frozen base is never fitted: every fold reads the same weights.
        frozen = isinstance(self.estimator, FrozenEstimator)
        scores = np.empty((len(taus), len(folds)))
        with warnings.catch_warnings():
            # A split scorer would warn for every tau of a fold without its
            # split; search_results warns once instead.
            warnings.simplefilter("ignore", UndefinedSplitWarning)
            for k, (train, test) in enumerate(folds):
                fold_counts = ClassCounts.from_labels(labels[train])
                X_train = X if frozen else X[torch.as_tensor(train, device=X.device)]
                # The fold's base, fitted once, as the fixed-tau head would (same seed).
                base = self._base(X_train, fold_counts.positions(labels[train]), fold_counts)
                scale = feature_scale(X_train)
                del X_train
                rows = torch.as_tensor(test, device=X.device)
                scores[:, k] = self._score_fold(base, taus, X, rows, labels[test], scoring, scale)
        results = search_results({"tau": taus}, scores, scoring)
        tau = float(taus[results.best_index])
        final = self._base(X, y_encoded, counts)
        scale = feature_scale(X)
        coef, intercept = self._adjusted(final, tau, scale)
        attributes = {
            "estimator_": final.estimator,
            "tau_": tau,
            "best_index_": results.best_index,
            "best_score_": results.best_score,
            "cv_results_": results.cv_results,
            "n_splits_": len(folds),
        }
        return FittedLinear(coef, intercept, final.counts, attributes)

    def _score_fold(self, base, taus, X, test, y_test, scoring, scale):
        """Validation score of every tau for one fold's base, on the rows ``test`` of ``X``."""
        if not isinstance(scoring, str):
            X_numpy = to_numpy(X[test])  # the scorer's own input: numpy rows
            scores = []
            for tau in taus:
                coef, intercept = self._adjusted(base, float(tau), scale)
                head = self._fixed_head.from_weights(
                    to_numpy(coef),
                    to_numpy(intercept),
                    classes=base.counts.classes,
                    class_counts=base.counts.counts,
                    estimator=self.estimator,
                    tau=float(tau),
                )
                scores.append(scoring(head, X_numpy, y_test))
            return scores
        indices = np.empty((len(taus), len(test)), dtype=np.int64)
        for where, block in row_chunks(X, len(base.counts), rows=test):
            indices[:, where] = self._sweep(base, block, taus, scale)
        predictions = base.counts.classes[indices]
        return split_scores(
            y_test,
            predictions,
            base.counts,
            scoring,
            many_threshold=self.many_threshold,
            few_threshold=self.few_threshold,
        )
