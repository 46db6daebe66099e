"""tau-normalisation with tau chosen by cross-validation, fitting the base once per fold."""

import warnings
from numbers import Real

import numpy as np
import torch
from scipy.stats import rankdata
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import get_scorer
from sklearn.model_selection import check_cv
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval

from ..metrics._shot import (
    SPLITS,
    UndefinedSplitWarning,
    _check_thresholds,
    shot_accuracy,
)
from ..utils import like_input
from ._base import LinearHead
from ._rebalance import _ESTIMATOR_DOC, TauNormClassifier, _RebalancingHead, tau_normalize

__all__ = ["TauNormClassifierCV"]

_SPLIT_SCORES = ("all",) + SPLITS


class TauNormClassifierCV(_RebalancingHead, LinearHead):
    """tau-normalised classifier with tau chosen by cross-validation.

    Kang et al. (2020) give no default tau: their script sweeps
    ``np.linspace(0, 2, 21)`` and reports the best on the test set. This head
    chooses tau on held-out folds of the *training* data instead, at little
    more than the cost of fitting the base classifier once per fold: in the
    spirit of :class:`~sklearn.linear_model.RidgeCV`, each fold fits the base
    (instance-balanced) linear classifier once on its training part, and
    every tau is scored on its validation part from the same base logits,
    using ``X @ (w_j / ||w_j||**tau) = (X @ w_j) / ||w_j||**tau``. Then the
    base is refitted on all the data and normalised with the best tau, exactly
    as :class:`TauNormClassifier` with that tau would.

    A base wrapped in :class:`~sklearn.frozen.FrozenEstimator` is not fitted
    at all: every fold reuses its weights.

    Parameters
    ----------"""
    __doc__ += (
        _ESTIMATOR_DOC
        + """
    taus : array-like of float >= 0, default=None
        The candidates, in order; ``None`` is ``np.linspace(0, 2, 21)``, the
        sweep of the official code.
    cv : int, cross-validation generator or iterable, default=5
        As in :func:`~sklearn.model_selection.check_cv` (an int gives
        stratified folds).
    scoring : str, callable or None, default=None
        What "best" means:

        - ``None`` or ``"all"``: mean per-class (balanced) accuracy on the
          validation fold, computed from the logits (numpy or torch alike);
        - ``"many"``, ``"medium"``, ``"few"``: the accuracy of that shot split
          (see :func:`sklearn_lt.metrics.shot_accuracy`), classes split by the
          fold's training counts with ``many_threshold``/``few_threshold``;
        - any other scikit-learn scorer name, or a callable
          ``scorer(estimator, X, y)`` (e.g. from
          :func:`sklearn_lt.metrics.make_shot_scorer`): called once per tau
          and fold with a :class:`TauNormClassifier` holding that fold's
          normalised weights (predictions cost a matrix product, but still
          nothing is refitted).
    random_state : int, RandomState instance or None, default=None
        Seeds the default ``SoftmaxClassifier`` of every fold and of the final
        fit, as :class:`TauNormClassifier` does. Folds are not shuffled
        (pass a shuffling splitter as ``cv`` for that).
    device : str or torch.device, default=None
        Where to compute; ``None`` uses the input's device.
    many_threshold : float >= 0, default=100
    few_threshold : float >= 0, default=20
        Split thresholds for ``scoring="many"|"medium"|"few"``.

    Attributes
    ----------
    tau_ : float
        The chosen tau: the best mean validation score; ties go to the first
        of ``taus`` (the smallest with the default sweep). A fold whose score
        is undefined (a shot split without any class in that validation
        fold, with an :class:`~sklearn_lt.metrics.UndefinedSplitWarning`) is
        left out of the means, where ``GridSearchCV`` would give NaN.
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
        The base classifier fitted on all the data.
    classes_ : ndarray of shape (n_classes,)
    class_counts_ : ndarray of shape (n_classes,)
    coef_ : ndarray or torch.Tensor of shape (n_classes, n_features)
        ``w_j / ||w_j||**tau_``.
    intercept_ : ndarray or torch.Tensor of shape (n_classes,)
        Zeros (the bias is dropped).
    n_features_in_ : int

    See Also
    --------
    TauNormClassifier : A fixed tau.

    Notes
    -----
    The validation logits of each tau are the fold's base logits divided by
    ``||w_j||**tau`` (in float64); :class:`TauNormClassifier` multiplies the
    features by the normalised weights instead. Both are exact in real arithmetic, so the
    predictions agree except on logits tied to within rounding.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_lt import TauNormClassifierCV
    >>> rng = np.random.RandomState(0)
    >>> y = np.repeat([0, 1, 2], [200, 40, 10])
    >>> X = rng.normal(size=(len(y), 4)) + 1.5 * np.eye(4)[y]
    >>> clf = TauNormClassifierCV(LogisticRegression(), cv=3).fit(X, y)
    >>> clf.cv_results_["mean_test_score"].shape
    (21,)
    >>> float(clf.tau_) in np.linspace(0, 2, 21)
    True
    """
    )

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

    # ------------------------------------------------------------ validation
    def _check_taus(self):
        taus = np.linspace(0, 2, 21) if self.taus is None else self.taus
        taus = np.asarray(taus, dtype=np.float64).reshape(-1)
        if taus.size == 0 or not np.all(np.isfinite(taus)) or np.any(taus < 0):
            raise ValueError(f"taus must be a non-empty list of finite values >= 0, got {taus}.")
        return taus

    def _check_scoring(self):
        """``None``/split name -> scored from logits here; else a scorer callable."""
        _check_thresholds(self.many_threshold, self.few_threshold)
        if self.scoring is None:
            return "all"
        if isinstance(self.scoring, str):
            return self.scoring if self.scoring in _SPLIT_SCORES else get_scorer(self.scoring)
        return self.scoring

    # ------------------------------------------------------------------- fit
    def _fit(self, X, y_encoded, class_counts, X_input):
        taus = self._check_taus()
        scoring = self._check_scoring()
        labels = self.classes_[y_encoded]
        cv = check_cv(self.cv, labels, classifier=True)
        folds = list(cv.split(X_input, labels))
        # A frozen base is never fitted: every fold reads the same weights.
        frozen = isinstance(self.estimator, FrozenEstimator)
        scores = np.empty((len(taus), len(folds)))
        with warnings.catch_warnings():
            # A split scorer would warn for every tau of a fold without its
            # split; _store_results warns once instead.
            warnings.simplefilter("ignore", UndefinedSplitWarning)
            for k, (train, test) in enumerate(folds):
                # The fold's base, fitted once, as TauNormClassifier.fit would
                # (same seed), without validating the rows of X again.
                fold = TauNormClassifier(
                    self.estimator, device=self.device, random_state=self.random_state
                )
                fold.classes_, y_train, fold.class_counts_ = np.unique(
                    labels[train], return_inverse=True, return_counts=True
                )
                X_train = X if frozen else X[torch.as_tensor(train, device=X.device)]
                coef, _, _ = fold._base_weights(
                    X_train, y_train, check_random_state(self.random_state)
                )
                scores[:, k] = self._score_fold(fold, coef, taus, X, X_input, labels, test, scoring)
        self._store_results(taus, scores, scoring)
        coef, _, _ = self._base_weights(X, y_encoded, check_random_state(self.random_state))
        return tau_normalize(coef, self.tau_), torch.zeros_like(coef[:, 0])

    def _score_fold(self, fold, coef, taus, X, X_input, labels, test, scoring):
        """Validation score of every tau for one fold's base weights ``coef``.

        ``fold`` holds the fold's ``classes_`` (those of its base) and the
        training counts ``class_counts_`` aligned with them.
        """
        fold_classes = fold.classes_
        X_test = X[torch.as_tensor(test, device=X.device)]
        y_test = labels[test]
        if not isinstance(scoring, str):
            X_test_input = like_input(X_test, X_input)
            heads = (self._fold_head(fold, coef, tau, X_input) for tau in taus)
            return [scoring(head, X_test_input, y_test) for head in heads]
        with torch.no_grad():
            base_logits = (X_test @ coef.T).to(torch.float64)
            norms = torch.linalg.vector_norm(coef.to(torch.float64), dim=1)
            norms = norms.clamp_min(torch.finfo(torch.float64).tiny)
            best = torch.stack([(base_logits / norms**tau).argmax(dim=1) for tau in taus])
        predictions = fold_classes[best.cpu().numpy()]
        # A validation class may be missing from the fold's training part
        # (then from a fitted base's classes): it counts 0 training samples.
        classes = np.union1d(fold_classes, y_test)
        counts = np.zeros(len(classes), dtype=np.int64)
        counts[np.searchsorted(classes, fold_classes)] = fold.class_counts_
        return [
            shot_accuracy(
                y_test,
                y_pred,
                counts,
                classes=classes,
                many_threshold=self.many_threshold,
                few_threshold=self.few_threshold,
                warn_for=(),
            )[scoring]
            for y_pred in predictions
        ]

    def _fold_head(self, fold, coef, tau, X_input):
        """A fitted :class:`TauNormClassifier` with one fold's weights, for a scorer."""
        head = TauNormClassifier(self.estimator, tau=tau, device=self.device)
        head.estimator_ = fold.estimator_
        head.classes_ = fold.classes_
        head.class_counts_ = fold.class_counts_
        head.n_features_in_ = self.n_features_in_
        head.coef_ = like_input(tau_normalize(coef, tau), X_input)
        head.intercept_ = like_input(torch.zeros_like(coef[:, 0]), X_input)
        return head

    def _store_results(self, taus, scores, scoring):
        undefined = np.isnan(scores)
        if undefined.all():
            raise ValueError(
                f"Every tau scored NaN with scoring={scoring!r}: no validation fold "
                "has a class in that split. Lower the thresholds, use fewer folds, "
                "or choose another scoring."
            )
        if undefined.any():
            bad = np.flatnonzero(undefined.any(axis=0)).tolist()
            warnings.warn(
                f"With scoring={scoring!r}, validation folds {bad} scored NaN (for a "
                "shot split: no class of that split in the fold); the mean score of "
                "each tau is taken over the other folds.",
                UndefinedSplitWarning,
                stacklevel=3,
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows
                mean, std = np.nanmean(scores, axis=1), np.nanstd(scores, axis=1)
        else:
            mean, std = scores.mean(axis=1), scores.std(axis=1)
        # Rank as GridSearchCV does: NaN last, ties share the lowest rank.
        filled = np.where(np.isnan(mean), -np.inf, mean)
        rank = rankdata(-filled, method="min").astype(np.int32)
        self.best_index_ = int(np.argmax(filled))
        self.tau_ = float(taus[self.best_index_])
        self.best_score_ = float(mean[self.best_index_])
        self.n_splits_ = scores.shape[1]
        results = {
            "param_tau": taus.copy(),
            "params": [{"tau": float(t)} for t in taus],
        }
        for k in range(scores.shape[1]):
            results[f"split{k}_test_score"] = scores[:, k]
        results.update(mean_test_score=mean, std_test_score=std, rank_test_score=rank)
        self.cv_results_ = results

