"""Post-hoc logit adjustment with tau chosen on training folds."""

import numpy as np

from ..utils._docstring import Substitution
from ..utils._docstring_entries import SEARCH_CV_DOCS
from ._cv import PostHocCV, check_grid
from ._logit_adjust import (
    _ESTIMATOR_DOC,
    LogitAdjustedClassifier,
    _adjusted_intercept,
    _fit_base,
    logit_adjustment_sweep,
)

__all__ = ["LogitAdjustedClassifierCV"]


@Substitution(SEARCH_CV_DOCS, estimator=_ESTIMATOR_DOC)
class LogitAdjustedClassifierCV(PostHocCV):
    """Post-hoc logit adjustment with tau chosen by cross-validation.

    As :class:`TauNormClassifierCV` for tau-normalisation: each fold fits the
    base classifier once on its training part, every tau is scored on its
    validation part from the same base logits
    (:func:`~sklearn_lt.heads.logit_adjustment_sweep`, the priors of the
    fold's training counts), then the base is refitted on all the data and
    adjusted with the best tau, exactly as :class:`LogitAdjustedClassifier`
    with that tau would. A base wrapped in
    :class:`~sklearn.frozen.FrozenEstimator` is never fitted.

    Parameters
    ----------
    %(estimator)s
    taus : array-like of float, default=None
        The candidates, in order; ``None`` is ``np.linspace(0, 2, 21)``.
    %(cv)s
    %(scoring)s
    %(random_state)s
    %(device)s
    %(thresholds)s

    Attributes
    ----------
    tau_ : float
        The chosen tau: the best mean validation score; ties go to the first
        of ``taus``.
    %(search_attributes)s
    classes_, class_counts_, coef_, intercept_, n_features_in_
        As in :class:`LogitAdjustedClassifier`.

    See Also
    --------
    LogitAdjustedClassifier : A fixed tau.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_lt import LogitAdjustedClassifierCV
    >>> rng = np.random.RandomState(0)
    >>> y = np.repeat([0, 1, 2], [200, 40, 10])
    >>> X = rng.normal(size=(len(y), 4)) + 1.5 * np.eye(4)[y]
    >>> clf = LogitAdjustedClassifierCV(LogisticRegression(), taus=[0, 0.5, 1], cv=3)
    >>> clf = clf.fit(X, y)
    >>> log_prior = np.log(np.bincount(y) / len(y))
    >>> shift = clf.intercept_ - clf.estimator_.intercept_  # -tau_ * log pi_j
    >>> bool(np.allclose(shift, -clf.tau_ * log_prior))
    True
    """

    _parameter_constraints = {**PostHocCV._parameter_constraints, "taus": ["array-like", None]}
    _fixed_head = LogitAdjustedClassifier

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

    def _candidates(self):
        # A negative tau moves the adjustment the other way: still a candidate.
        return {"tau": check_grid(self.taus, "taus", default=np.linspace(0, 2, 21), negative=True)}

    def _fit_base(self, X, y_encoded, counts):
        # Every fold and the final fit seed the default base alike.
        return _fit_base(self.estimator, X, y_encoded, counts, self.random_state)

    def _adjusted(self, base, tau, scale):
        return base.coef, _adjusted_intercept(base.intercept, base.counts.counts, tau)

    def _sweep(self, base, X, taus, scale):
        return logit_adjustment_sweep(base.coef, base.intercept, X, base.counts.counts, taus)
