"""Post-hoc logit adjustment (Menon et al. 2021), fixed or with tau chosen on training folds."""

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
from ._linear_base import fit_base_classifier
from ._losses import log_priors
from ._softmax import SoftmaxClassifier

__all__ = ["LogitAdjustedClassifier", "LogitAdjustedClassifierCV", "logit_adjustment_sweep"]


# The adjustment removes the prior from the logits: the default base has a
# bias that can hold it (tau-normalisation's default base has none).
_ESTIMATOR_DOC = """estimator : estimator with ``coef_`` or None, default=None
        The classifier to adjust, trained on the long-tailed data. ``None``
        fits ``SoftmaxClassifier()``, with an intercept, on the data given
        to ``fit`` (on the validation sets of the fidelity suite, tau=1:
        mean balanced accuracy 0.810, against 0.792 on the rebalancing
        heads' default base without intercept). A classifier is cloned and
        fitted on that data; wrap a prefit one (e.g. ``BackboneEmbedder``'s
        ``classifier_``) in :class:`sklearn.frozen.FrozenEstimator` to use
        it as it is. Binary models with one row ``w`` count as the rows
        ``(-w/2, w/2)``."""


def _fit_base(estimator, X, y_encoded, counts, random_state):
    """``estimator``, or else ``SoftmaxClassifier()`` seeded by ``random_state``."""
    rng = check_random_state(random_state)
    if estimator is None:
        estimator = SoftmaxClassifier(random_state=int(rng.randint(np.iinfo(np.int32).max)))
    return fit_base_classifier(estimator, X, y_encoded, counts, random_state=rng)


def _adjusted_intercept(intercept, counts, tau):
    """``b_j - tau * log pi_j`` (Menon et al. 2021, eq. 9), in ``intercept``'s dtype."""
    log_pi = torch.as_tensor(log_priors(counts), dtype=torch.float64, device=intercept.device)
    return (intercept.to(torch.float64) - tau * log_pi).to(intercept.dtype)


@torch.no_grad()
def logit_adjustment_sweep(coef, intercept, X, counts, taus):
    """Predicted class index of every row of ``X`` at every tau, from one product.

    The post-hoc adjusted logits ``X @ coef.T + intercept - tau * log pi``
    (Menon et al. 2021, eq. 9) of every tau come from the base logits,
    computed once in float64: what :class:`~sklearn_lt.LogitAdjustedClassifier`
    predicts with each tau (up to logits tied within rounding).

    Parameters
    ----------
    coef : torch.Tensor of shape (n_classes, n_features)
    intercept : torch.Tensor of shape (n_classes,)
        The base classifier's weights.
    X : torch.Tensor of shape (n_samples, n_features)
    counts : array-like of shape (n_classes,)
        Training samples per class, for the priors ``pi_j = n_j / N`` (see
        :func:`log_priors`).
    taus : array-like of shape (n_taus,)

    Returns
    -------
    indices : ndarray of shape (n_taus, n_samples)

    Examples
    --------
    >>> import torch
    >>> from sklearn_lt.heads import logit_adjustment_sweep
    >>> coef, intercept = torch.eye(2), torch.zeros(2)
    >>> X = torch.tensor([[1.0, 0.5]])  # class 0 ahead by 0.5
    >>> logit_adjustment_sweep(coef, intercept, X, [90, 10], [0.0, 1.0])
    array([[0],
           [1]])
    """
    logits = torch.addmm(
        intercept.to(torch.float64), X.to(torch.float64), coef.to(torch.float64).T
    )
    log_pi = torch.as_tensor(log_priors(counts), dtype=torch.float64, device=logits.device)
    taus = np.asarray(taus, dtype=np.float64).reshape(-1)
    best = torch.stack([(logits - float(tau) * log_pi).argmax(dim=1) for tau in taus])
    return best.cpu().numpy()


@Substitution(estimator=_ESTIMATOR_DOC)
class LogitAdjustedClassifier(LinearHead):
    """Post-hoc logit adjustment (Menon et al. 2021, eq. 9).

    Subtracts ``tau * log pi_j`` from the logits of a fitted linear
    classifier, ``pi_j = n_j / N`` the class priors of the training counts:
    ``coef_`` is the base's, ``intercept_ = b_j - tau * log pi_j``. With
    ``tau=1`` this is the Bayes-optimal rule for the balanced error when the
    base estimates ``P(y | x)`` (Menon et al., section 4). No re-training.
    The counts are those of the labels given to ``fit`` (before any
    resampling); a class the base knows but the data lacks counts as one
    sample. :class:`LogitAdjustedClassifierCV` chooses ``tau`` on held-out
    training folds.

    Parameters
    ----------
    %(estimator)s
    tau : float, default=1.0
        Strength of the adjustment (Menon et al.'s default 1; 0 leaves the
        base unchanged).
    device : str or torch.device, default=None
        Where to compute; ``None`` uses the input's device.
    random_state : int, RandomState instance or None, default=None
        Seeds the default base (unused otherwise).

    Attributes
    ----------
    estimator_ : estimator
        The fitted base classifier.
    classes_ : ndarray of shape (n_classes,)
    class_counts_ : ndarray of shape (n_classes,)
    coef_ : ndarray or torch.Tensor of shape (n_classes, n_features)
        The base's weights.
    intercept_ : ndarray or torch.Tensor of shape (n_classes,)
        The base's bias minus ``tau * log pi_j``.
    n_features_in_ : int

    See Also
    --------
    RetrainedClassifier : ``loss="logit_adjusted"``, the adjustment inside the loss.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.frozen import FrozenEstimator
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_lt import LogitAdjustedClassifier
    >>> rng = np.random.RandomState(0)
    >>> y = np.repeat([0, 1], [90, 10])
    >>> X = rng.normal(size=(100, 2)) + np.eye(2)[y]
    >>> base = LogisticRegression().fit(X, y)
    >>> la = LogitAdjustedClassifier(FrozenEstimator(base), tau=1.0).fit(X, y)
    >>> np.allclose(la.intercept_, [-base.intercept_[0] / 2 - np.log(0.9),
    ...                             base.intercept_[0] / 2 - np.log(0.1)])
    True
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit"]), None],
        "tau": [Interval(Real, None, None, closed="neither")],
        "device": [str, torch.device, None],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator=None, *, tau=1.0, device=None, random_state=None):
        self.estimator = estimator
        self.tau = tau
        self.device = device
        self.random_state = random_state

    def _fit(self, X, y_encoded, counts):
        base = _fit_base(self.estimator, X, y_encoded, counts, self.random_state)
        intercept = _adjusted_intercept(base.intercept, base.counts.counts, self.tau)
        return FittedLinear(base.coef, intercept, base.counts, {"estimator_": base.estimator})


@Substitution(estimator=_ESTIMATOR_DOC)
class LogitAdjustedClassifierCV(LinearHead):
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
    cv : int, cross-validation generator or iterable, default=5
        As in :func:`~sklearn.model_selection.check_cv` (an int gives
        stratified folds).
    scoring : str, callable or None, default=None
        As in :class:`TauNormClassifierCV`: ``None``/``"all"`` (balanced
        accuracy), a shot split name, another scorer name or a callable
        (called with a :class:`LogitAdjustedClassifier` per tau and fold).
    random_state : int, RandomState instance or None, default=None
        Seeds the default base of every fold and of the final fit.
    device : str or torch.device, default=None
        Where to compute; ``None`` uses the input's device.
    many_threshold : float >= 0, default=100
    few_threshold : float >= 0, default=20
        Split thresholds for a split ``scoring``.

    Attributes
    ----------
    tau_ : float
        The chosen tau (ties go to the first of ``taus``).
    best_score_ : float
    best_index_ : int
    cv_results_ : dict of ndarray
        As in :class:`~sklearn.model_selection.GridSearchCV`, with ``param_tau``.
    n_splits_ : int
    estimator_ : estimator
        The base classifier fitted on all the data.
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
    >>> clf = LogitAdjustedClassifierCV(LogisticRegression(), cv=3).fit(X, y)
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
        if taus.size == 0 or not np.all(np.isfinite(taus)):
            raise ValueError(f"taus must be a non-empty list of finite values, got {taus}.")
        return taus

    def _base(self, X, y_encoded, counts):
        # Every fold and the final fit seed the default base alike.
        return _fit_base(self.estimator, X, y_encoded, counts, self.random_state)

    def _fit(self, X, y_encoded, counts):
        taus = self._check_taus()
        scoring = check_split_scoring(self.scoring, self.many_threshold, self.few_threshold)
        labels = counts.classes[y_encoded]
        folds = cv_folds(self.cv, labels)
        frozen = isinstance(self.estimator, FrozenEstimator)
        scores = np.empty((len(taus), len(folds)))
        with warnings.catch_warnings():
            # search_results warns once for folds without a split's class.
            warnings.simplefilter("ignore", UndefinedSplitWarning)
            for k, (train, test) in enumerate(folds):
                fold_counts = ClassCounts.from_labels(labels[train])
                X_train = X if frozen else X[torch.as_tensor(train, device=X.device)]
                base = self._base(X_train, fold_counts.positions(labels[train]), fold_counts)
                X_test = X[torch.as_tensor(test, device=X.device)]
                scores[:, k] = self._score_fold(base, taus, X_test, labels[test], scoring)
        results = search_results({"tau": taus}, scores, scoring)
        best_tau = float(taus[results.best_index])
        final = self._base(X, y_encoded, counts)
        attributes = {
            "estimator_": final.estimator,
            "tau_": best_tau,
            "best_index_": results.best_index,
            "best_score_": results.best_score,
            "cv_results_": results.cv_results,
            "n_splits_": len(folds),
        }
        intercept = _adjusted_intercept(final.intercept, final.counts.counts, best_tau)
        return FittedLinear(final.coef, intercept, final.counts, attributes)

    def _score_fold(self, base, taus, X_test, y_test, scoring):
        """Validation score of every tau for one fold's base."""
        n = base.counts.counts
        if not isinstance(scoring, str):
            heads = (
                LogitAdjustedClassifier.from_weights(
                    to_numpy(base.coef),
                    to_numpy(_adjusted_intercept(base.intercept, n, tau)),
                    classes=base.counts.classes,
                    class_counts=n,
                    estimator=self.estimator,
                    tau=float(tau),
                )
                for tau in taus
            )
            X_numpy = to_numpy(X_test)
            return [scoring(head, X_numpy, y_test) for head in heads]
        indices = logit_adjustment_sweep(base.coef, base.intercept, X_test, n, taus)
        return split_scores(
            y_test,
            base.counts.classes[indices],
            base.counts,
            scoring,
            many_threshold=self.many_threshold,
            few_threshold=self.few_threshold,
        )
