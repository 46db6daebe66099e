"""tau-normalisation with tau chosen by cross-validation, fitting the base once per fold."""

import numpy as np
import torch

from ..utils._docstring import Substitution
from ..utils._docstring_entries import SEARCH_CV_DOCS
from ._cv import PostHocCV, check_grid
from ._tau import TauNormClassifier, tau_normalize, tau_sweep

__all__ = ["TauNormClassifierCV"]


@Substitution(SEARCH_CV_DOCS)
class TauNormClassifierCV(PostHocCV):
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

    Read more in the :ref:`User Guide <choosing-tau>`.

    Parameters
    ----------
    %(estimator)s
    taus : array-like of float >= 0, default=None
        The candidates, in order; ``None`` is ``np.linspace(0, 2, 21)``, the
        sweep of the official code.
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
    classes_ : ndarray of shape (n_classes,)
    class_counts_ : ndarray of shape (n_classes,)
    coef_ : ndarray or torch.Tensor of shape (n_classes, n_features)
        ``w_j / (s ||w_j||)**tau_``, as in :class:`TauNormClassifier`.
    intercept_ : ndarray or torch.Tensor of shape (n_classes,)
        Zeros (the bias is dropped).
    n_features_in_ : int

    See Also
    --------
    TauNormClassifier : A fixed tau.

    References
    ----------
    %(kang2020)s

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

    _parameter_constraints = {**PostHocCV._parameter_constraints, "taus": ["array-like", None]}
    _fixed_head = TauNormClassifier

    def __init__(
        self,
        estimator=None,
        *,
        taus=None,
        cv=5,
        scoring=None,
        random_state=None,
        device=None,
        many_threshold=None,
        few_threshold=None,
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
        return {"tau": check_grid(self.taus, "taus", default=np.linspace(0, 2, 21), low=0)}

    def _adjusted(self, base, tau, scale):
        coef = tau_normalize(base.coef, tau, scale=scale)
        return coef, torch.zeros_like(coef[:, 0])

    def _sweep(self, base, X, taus, scale):
        return tau_sweep(base.coef, X, taus, scale=scale)
