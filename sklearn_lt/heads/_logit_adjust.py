"""Post-hoc logit adjustment (Menon et al. 2021), fixed or with tau chosen on training folds."""

from numbers import Real

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval

from ..utils import Substitution
from ._base import FittedLinear, LinearHead, sweep_argmax
from ._linear_base import fit_base_classifier
from ._losses import log_priors
from ._softmax import SoftmaxClassifier

__all__ = ["LogitAdjustedClassifier", "logit_adjustment_sweep"]


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
    (Menon et al. 2021, eq. 9) of every tau come from the product
    ``X @ coef.T``, computed once per chunk of rows in ``X``'s dtype, as
    :class:`~sklearn_lt.LogitAdjustedClassifier` computes its own: its
    predictions with each tau (up to logits tied within rounding). Memory:
    one chunk of logits and the ``(n_taus, n_samples)`` indices, never
    ``n_samples x n_classes``.

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
    taus = np.asarray(taus, dtype=np.float64).reshape(-1)
    # The adjusted intercept of every tau, rounded once to X's dtype (as the head's).
    shifts = torch.stack(
        [_adjusted_intercept(intercept.to(torch.float64), counts, tau) for tau in taus]
    ).to(X.dtype)
    return sweep_argmax(X, coef.to(X.dtype), shifts, torch.add)


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
