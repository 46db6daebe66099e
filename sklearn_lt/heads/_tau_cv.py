"""tau-normalisation with tau chosen by cross-validation, fitting the base once per fold."""

import warnings
from numbers import Real

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval

from ..metrics import ClassCounts
from ..metrics._counts import UndefinedSplitWarning
from ..utils import Substitution, to_numpy
from ._base import FittedLinear, LinearHead
from ._cv import check_split_scoring, cv_folds, search_results, split_scores
from ._linear_base import ESTIMATOR_DOC, fit_base_classifier
from ._rebalance import TauNormClassifier
from ._tau import tau_normalize, tau_sweep

__all__ = ["TauNormClassifierCV"]

@Substitution(estimator=ESTIMATOR_DOC)
class TauNormClassifierCV(LinearHead):
    """tau-normalised classifier with tau chosen by cross-validation.

    Kang et al. (2020) give no default tau: their script sweeps
    ``np.linspace(0, 2, 21)`` and reports the best on the test set. This head
    chooses tau on held-out folds of the *training* data instead, at little
    more than the cost of fitting the base classifier once per fold: in the
    spirit of :class:`~sklearn.linear_model.RidgeCV`, each fold fits the base
    (instance-balanced) linear classifier once on its training part, and
    every tau is scored on its validation part from the same base logits
    (:func:`~sklearn_lt.heads.tau_sweep`). Then the base is refitted on all
    the data and normalised with the best tau, exactly as
    :class:`TauNormClassifier` with that tau would.

    A base wrapped in :class:`~sklearn.frozen.FrozenEstimator` is not fitted
    at all: every fold reuses its weights.

    Parameters
    ----------
    %(estimator)s
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
          and fold, on numpy data, with a :class:`TauNormClassifier` holding
          that fold's normalised weights (nothing is refitted).
    random_state : int, RandomState instance or None, default=None
        Seeds the default base of every fold and of the final fit, as
        :class:`TauNormClassifier` does. Folds are not shuffled (pass a
        shuffling splitter as ``cv`` for that).
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

    def _check_taus(self):
        taus = np.linspace(0, 2, 21) if self.taus is None else self.taus
        taus = np.asarray(taus, dtype=np.float64).reshape(-1)
        if taus.size == 0 or not np.all(np.isfinite(taus)) or np.any(taus < 0):
            raise ValueError(f"taus must be a non-empty list of finite values >= 0, got {taus}.")
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
                y_train = fold_counts.positions(labels[train])
                # The fold's base, fitted once, as TauNormClassifier.fit would (same seed).
                base = fit_base_classifier(
                    self.estimator,
                    X_train,
                    y_train,
                    fold_counts,
                    random_state=check_random_state(self.random_state),
                )
                X_test = X[torch.as_tensor(test, device=X.device)]
                scores[:, k] = self._score_fold(base, taus, X_test, labels[test], scoring)
        results = search_results({"tau": taus}, scores, scoring)
        best_tau = float(taus[results.best_index])
        final = fit_base_classifier(
            self.estimator, X, y_encoded, counts, random_state=check_random_state(self.random_state)
        )
        coef = tau_normalize(final.coef, best_tau)
        attributes = {
            "estimator_": final.estimator,
            "tau_": best_tau,
            "best_index_": results.best_index,
            "best_score_": results.best_score,
            "cv_results_": results.cv_results,
            "n_splits_": len(folds),
        }
        return FittedLinear(coef, torch.zeros_like(coef[:, 0]), final.counts, attributes)

    def _score_fold(self, base, taus, X_test, y_test, scoring):
        """Validation score of every tau for one fold's base."""
        if not isinstance(scoring, str):
            heads = (
                TauNormClassifier.from_weights(
                    to_numpy(tau_normalize(base.coef, tau)),
                    np.zeros(len(base.counts), dtype=to_numpy(base.coef).dtype),
                    classes=base.counts.classes,
                    class_counts=base.counts.counts,
                    estimator=self.estimator,
                    tau=float(tau),
                )
                for tau in taus
            )
            X_numpy = to_numpy(X_test)
            return [scoring(head, X_numpy, y_test) for head in heads]
        predictions = base.counts.classes[tau_sweep(base.coef, X_test, taus)]
        return split_scores(
            y_test,
            predictions,
            base.counts,
            scoring,
            many_threshold=self.many_threshold,
            few_threshold=self.few_threshold,
        )
