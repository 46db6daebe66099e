"""Post-hoc logit adjustment (Menon et al. 2021), fixed or with its strength chosen on folds.

Menon et al. write the strength of the adjustment tau; the package calls it
``adjustment`` (``tau`` is tau-normalisation's power in
:class:`~sklearn_lt.TauNormClassifier`).
"""

from numbers import Real

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Hidden, Interval, StrOptions

from ..utils._deprecation import DEPRECATED, renamed_value
from ..utils._docstring import Substitution
from ..utils._docstring_entries import ADJUSTED_ESTIMATOR
from ._base import FittedLinear, LinearHead, sweep_argmax
from ._linear_base import fit_base_classifier
from ._losses import log_priors
from ._softmax import SoftmaxClassifier

__all__ = ["LogitAdjustedClassifier", "logit_adjustment_sweep"]

def _fit_base(estimator, X, y_encoded, counts, random_state):
    """``estimator``, or else ``SoftmaxClassifier()`` seeded by ``random_state``."""
    rng = check_random_state(random_state)
    if estimator is None:
        estimator = SoftmaxClassifier(random_state=int(rng.randint(np.iinfo(np.int32).max)))
    return fit_base_classifier(estimator, X, y_encoded, counts, random_state=rng)


def _adjusted_intercept(intercept, counts, adjustment):
    """``b_j - tau * log pi_j`` (Menon et al. 2021, eq. 9; tau the ``adjustment``).

    In ``intercept``'s dtype.
    """
    log_pi = torch.as_tensor(log_priors(counts), dtype=torch.float64, device=intercept.device)
    return (intercept.to(torch.float64) - adjustment * log_pi).to(intercept.dtype)


@torch.no_grad()
def logit_adjustment_sweep(coef, intercept, X, counts, adjustments=None, *, taus=DEPRECATED):
    """Predicted class index of every row of ``X`` at every adjustment, from one product.

    The post-hoc adjusted logits ``X @ coef.T + intercept - tau * log pi``
    (Menon et al. 2021, eq. 9; tau the adjustment) of every adjustment come
    from the product ``X @ coef.T``, computed once per chunk of rows in
    ``X``'s dtype, as :class:`~sklearn_lt.LogitAdjustedClassifier` computes
    its own: its predictions with each adjustment (up to logits tied within
    rounding). Memory: one chunk of logits and the
    ``(n_adjustments, n_samples)`` indices, never ``n_samples x n_classes``.

    Parameters
    ----------
    coef : torch.Tensor of shape (n_classes, n_features)
    intercept : torch.Tensor of shape (n_classes,)
        The base classifier's weights.
    X : torch.Tensor of shape (n_samples, n_features)
    counts : array-like of shape (n_classes,)
        Training samples per class, for the priors ``pi_j = n_j / N`` (see
        :func:`log_priors`).
    adjustments : array-like of shape (n_adjustments,)
        The strengths, Menon et al.'s tau (required).
    taus : array-like of shape (n_adjustments,)
        Deprecated alias of ``adjustments``.

        .. deprecated:: 0.2
           Renamed ``adjustments``; ``taus`` will be removed in 0.3.

    Returns
    -------
    indices : ndarray of shape (n_adjustments, n_samples)

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
    adjustments = renamed_value(
        "logit_adjustment_sweep", "taus", taus, "adjustments", adjustments, stacklevel=3
    )
    if adjustments is None:
        raise TypeError("logit_adjustment_sweep() missing its argument 'adjustments'.")
    adjustments = np.asarray(adjustments, dtype=np.float64).reshape(-1)
    # The adjusted intercept of every adjustment, rounded once to X's dtype (as the head's).
    shifts = torch.stack(
        [_adjusted_intercept(intercept.to(torch.float64), counts, a) for a in adjustments]
    ).to(X.dtype)
    return sweep_argmax(X, coef.to(X.dtype), shifts, torch.add)


@Substitution(estimator=ADJUSTED_ESTIMATOR)
class LogitAdjustedClassifier(LinearHead):
    """Post-hoc logit adjustment (Menon et al. 2021, eq. 9).

    Subtracts ``tau * log pi_j`` from the logits of a fitted linear
    classifier, ``pi_j = n_j / N`` the class priors of the training counts
    and Menon et al.'s tau the ``adjustment``: ``coef_`` is the base's,
    ``intercept_ = b_j - tau * log pi_j``. With tau = 1 this is the
    Bayes-optimal rule for the balanced error when the base estimates
    ``P(y | x)`` (Menon et al., section 4). No re-training. The counts are
    those of the labels given to ``fit`` (before any resampling); a class the
    base knows but the data lacks counts as one sample.
    :class:`LogitAdjustedClassifierCV` chooses the adjustment on held-out
    training folds.

    Read more in the :ref:`User Guide <retraining>`.

    Parameters
    ----------
    %(estimator)s
    adjustment : float, default=1.0
        Strength of the adjustment, Menon et al.'s tau (their default 1; 0
        leaves the base unchanged). Named ``tau`` before 0.2, which is
        tau-normalisation's power in :class:`TauNormClassifier`.
    device : str or torch.device, default=None
        Where to compute; ``None`` uses the input's device.
    random_state : int, RandomState instance or None, default=None
        Seeds the default base (unused otherwise).
    tau : float
        Deprecated alias of ``adjustment``, used when given.

        .. deprecated:: 0.2
           Renamed ``adjustment``; ``tau`` will be removed in 0.3.

    Attributes
    ----------
    estimator_ : estimator
        The fitted base classifier.
    classes_ : ndarray of shape (n_classes,)
    class_counts_ : ndarray of shape (n_classes,)
    coef_ : ndarray or torch.Tensor of shape (n_classes, n_features)
        The base's weights.
    intercept_ : ndarray or torch.Tensor of shape (n_classes,)
        The base's bias minus ``adjustment * log pi_j``.
    n_features_in_ : int

    See Also
    --------
    RetrainedClassifier : ``loss="logit_adjusted"``, the adjustment inside the loss.

    Notes
    -----
    On the validation sets of the fidelity suite, with adjustment 1, the
    default base (with an intercept) gave a mean balanced accuracy of 0.810,
    against 0.792 on the rebalancing heads' default base without intercept.

    References
    ----------
    %(menon2021)s

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
    >>> la = LogitAdjustedClassifier(FrozenEstimator(base), adjustment=1.0).fit(X, y)
    >>> np.allclose(la.intercept_, [-base.intercept_[0] / 2 - np.log(0.9),
    ...                             base.intercept_[0] / 2 - np.log(0.1)])
    True
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit"]), None],
        "adjustment": [Interval(Real, None, None, closed="neither")],
        "device": [str, torch.device, None],
        "random_state": ["random_state"],
        "tau": [Interval(Real, None, None, closed="neither"), Hidden(StrOptions({DEPRECATED}))],
    }

    def __init__(
        self, estimator=None, *, adjustment=1.0, device=None, random_state=None, tau=DEPRECATED
    ):
        self.estimator = estimator
        self.adjustment = adjustment
        self.device = device
        self.random_state = random_state
        self.tau = tau

    def _fit(self, X, y_encoded, counts):
        adjustment = renamed_value(
            type(self).__name__, "tau", self.tau, "adjustment", self.adjustment, stacklevel=5
        )
        base = _fit_base(self.estimator, X, y_encoded, counts, self.random_state)
        intercept = _adjusted_intercept(base.intercept, base.counts.counts, adjustment)
        return FittedLinear(base.coef, intercept, base.counts, {"estimator_": base.estimator})
