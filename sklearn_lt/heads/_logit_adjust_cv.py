"""Post-hoc logit adjustment with its strength (Menon et al.'s tau) chosen on training folds."""

import warnings

import numpy as np
from sklearn.utils._param_validation import Hidden, StrOptions

from ..utils._deprecation import DEPRECATED, is_set, renamed_value
from ..utils._docstring import Substitution
from ..utils._docstring_entries import ADJUSTED_ESTIMATOR, SEARCH_CV_DOCS
from ._cv import PostHocCV, check_grid
from ._logit_adjust import (
    LogitAdjustedClassifier,
    _adjusted_intercept,
    _fit_base,
    logit_adjustment_sweep,
)

__all__ = ["LogitAdjustedClassifierCV"]


@Substitution(SEARCH_CV_DOCS, estimator=ADJUSTED_ESTIMATOR)
class LogitAdjustedClassifierCV(PostHocCV):
    """Post-hoc logit adjustment with its strength chosen by cross-validation.

    As :class:`TauNormClassifierCV` for tau-normalisation: each fold fits the
    base classifier once on its training part, every adjustment (Menon et
    al.'s tau) is scored on its validation part from the same base logits
    (:func:`~sklearn_lt.heads.logit_adjustment_sweep`, the priors of the
    fold's training counts), then the base is refitted on all the data and
    adjusted with the best, exactly as :class:`LogitAdjustedClassifier` with
    that adjustment would. A base wrapped in
    :class:`~sklearn.frozen.FrozenEstimator` is never fitted.

    Read more in the :ref:`User Guide <retraining>`.

    Parameters
    ----------
    %(estimator)s
    adjustments : array-like of float, default=None
        The candidates, in order; ``None`` is ``np.linspace(0, 2, 21)``.
        Named ``taus`` before 0.2.
    %(cv)s
    %(scoring)s
    %(random_state)s
    %(device)s
    %(thresholds)s
    taus : array-like of float
        Deprecated alias of ``adjustments``, used when given.

        .. deprecated:: 0.2
           Renamed ``adjustments``; ``taus`` will be removed in 0.3.

    Attributes
    ----------
    adjustment_ : float
        The chosen adjustment: the best mean validation score; ties go to the
        first of ``adjustments``. ``cv_results_`` holds the candidates as
        ``param_adjustment`` and, under its name before 0.2, ``param_tau``
        (deprecated, removed in 0.3).
    %(search_attributes)s
    classes_, class_counts_, coef_, intercept_, n_features_in_
        As in :class:`LogitAdjustedClassifier`.

    See Also
    --------
    LogitAdjustedClassifier : A fixed adjustment.

    References
    ----------
    %(menon2021)s

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_lt import LogitAdjustedClassifierCV
    >>> rng = np.random.RandomState(0)
    >>> y = np.repeat([0, 1, 2], [200, 40, 10])
    >>> X = rng.normal(size=(len(y), 4)) + 1.5 * np.eye(4)[y]
    >>> clf = LogitAdjustedClassifierCV(LogisticRegression(), adjustments=[0, 0.5, 1], cv=3)
    >>> clf = clf.fit(X, y)
    >>> log_prior = np.log(np.bincount(y) / len(y))
    >>> shift = clf.intercept_ - clf.estimator_.intercept_  # -adjustment_ * log pi_j
    >>> bool(np.allclose(shift, -clf.adjustment_ * log_prior))
    True
    """

    _parameter_constraints = {
        **PostHocCV._parameter_constraints,
        "adjustments": ["array-like", None],
        "taus": ["array-like", None, Hidden(StrOptions({DEPRECATED}))],
    }
    _fixed_head = LogitAdjustedClassifier

    def __init__(
        self,
        estimator=None,
        *,
        adjustments=None,
        cv=5,
        scoring=None,
        random_state=None,
        device=None,
        many_threshold=None,
        few_threshold=None,
        taus=DEPRECATED,
    ):
        self.estimator = estimator
        self.adjustments = adjustments
        self.cv = cv
        self.scoring = scoring
        self.random_state = random_state
        self.device = device
        self.many_threshold = many_threshold
        self.few_threshold = few_threshold
        self.taus = taus

    @property
    def tau_(self):
        """The chosen adjustment under its name before 0.2.

        .. deprecated:: 0.2
           Renamed ``adjustment_``; ``tau_`` will be removed in 0.3.
        """
        adjustment = self.adjustment_  # AttributeError before fit, as any fitted attribute
        warnings.warn(
            "LogitAdjustedClassifierCV's 'tau_' was renamed 'adjustment_' in 0.2 and will be "
            "removed in 0.3: read adjustment_ instead.",
            FutureWarning,
            stacklevel=2,
        )
        return adjustment

    def _fit(self, X, y_encoded, counts, groups=None):
        fitted = super()._fit(X, y_encoded, counts, groups)
        results = fitted.attributes["cv_results_"]
        results["param_tau"] = results["param_adjustment"].copy()  # the name before 0.2
        return fitted

    def _candidates(self):
        adjustments = renamed_value(
            type(self).__name__, "taus", self.taus, "adjustments", self.adjustments, stacklevel=7
        )
        # A negative adjustment moves the other way: still a candidate. Errors
        # name the parameter given.
        name = "taus" if is_set(self.taus) else "adjustments"
        grid = check_grid(adjustments, name, default=np.linspace(0, 2, 21))
        return {"adjustment": grid}

    def _candidate_params(self, params):
        # The head a scorer gets speaks the caller's names: old ones for old code.
        name = "tau" if is_set(self.taus) else "adjustment"
        return {"estimator": self.estimator, name: params["adjustment"]}

    def _fit_base(self, X, y_encoded, counts):
        # Every fold and the final fit seed the default base alike.
        return _fit_base(self.estimator, X, y_encoded, counts, self.random_state)

    def _adjusted(self, base, adjustment, scale):
        return base.coef, _adjusted_intercept(base.intercept, base.counts.counts, adjustment)

    def _sweep(self, base, X, adjustments, scale):
        return logit_adjustment_sweep(
            base.coef, base.intercept, X, base.counts.counts, adjustments
        )
