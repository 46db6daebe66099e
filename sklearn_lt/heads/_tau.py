"""tau-normalisation (Kang et al. 2020, eq. 3) and the sweep over tau, written once."""

from numbers import Real

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval

from ..utils._docstring import Substitution
from ..utils._docstring_entries import REBALANCED_ESTIMATOR
from ._base import FittedLinear, LinearHead, sweep_argmax
from ._linear_base import ESTIMATOR_CONSTRAINT, fit_base_classifier
from ._modules import feature_scale, row_norms

__all__ = ["TauNormClassifier", "tau_normalize", "tau_sweep"]


def tau_normalize(coef, tau, *, scale=1.0):
    """``w_j / (scale * ||w_j||)**tau`` row by row (Kang et al. eq. 3); zero rows stay zero.

    ``scale=1`` is the paper's ``w_j / ||w_j||**tau``. The heads pass the RMS
    row norm ``s`` of their training features: the rows are then normalised
    as the weights of the features divided by ``s`` (the units every head of
    the package trains in). Every logit gets the same factor ``s**-tau``, so
    every prediction is the paper's, and the logits stay of the order of the
    normalised features' at any feature scale: with ``s = 1e20`` and
    ``tau=2``, ``scale=1`` would multiply them by ``1e40`` (inf in float32).

    Norms are overflow-safe and the result is computed in float64, then
    rounded once to ``coef``'s dtype (float32 weights come out correctly
    rounded).

    Parameters
    ----------
    coef : torch.Tensor of shape (n_classes, n_features)
    tau : float >= 0
    scale : float > 0, default=1.0
        Units of the features that ``coef`` weighs (see above).

    Returns
    -------
    torch.Tensor of the shape and dtype of ``coef``

    Examples
    --------
    >>> import torch
    >>> from sklearn_lt.heads import tau_normalize
    >>> tau_normalize(torch.tensor([[3.0, 4.0], [0.0, 2.0]]), 1.0)
    tensor([[0.6000, 0.8000],
            [0.0000, 1.0000]])
    >>> tau_normalize(torch.tensor([[3.0, 4.0], [0.0, 2.0]]), 1.0, scale=10.0)
    tensor([[0.0600, 0.0800],
            [0.0000, 0.1000]])
    """
    wide = coef.to(torch.float64)
    return (wide / _norm_power(scale * row_norms(wide), tau)).to(coef.dtype)


def _norm_power(norms, tau):
    """``norms ** tau`` with zero norms mapped to 1, so zero rows stay zero (0 ** 2 is 0)."""
    return torch.where(norms > 0, norms, torch.ones_like(norms)) ** float(tau)


@torch.no_grad()
def tau_sweep(coef, X, taus, *, scale=None):
    """Predicted class index of every row of ``X`` at every tau, from one product.

    ``X @ (w_j / (s ||w_j||)**tau) = (X @ w_j) / (s ||w_j||)**tau``: the
    logits of every tau come from the base logits ``X @ coef.T`` (bias
    dropped, as tau-normalisation does), computed once per chunk of rows in
    ``X``'s dtype, as :class:`~sklearn_lt.TauNormClassifier` computes its
    own: its predictions at every tau, up to logits tied within rounding.
    Memory: one chunk of logits (see :func:`~sklearn_lt.heads._base.row_chunks`)
    and the ``(n_taus, n_samples)`` indices, never ``n_samples x n_classes``.

    Parameters
    ----------
    coef : torch.Tensor of shape (n_classes, n_features)
        The base classifier's weights.
    X : torch.Tensor of shape (n_samples, n_features)
    taus : array-like of shape (n_taus,)
    scale : float > 0, default=None
        Units of the normalisation (see :func:`tau_normalize`); it keeps the
        logits finite, never changes an argmax in exact arithmetic. ``None``:
        the RMS row norm of ``X``.

    Returns
    -------
    indices : ndarray of shape (n_taus, n_samples)
        ``argmax_j`` of the tau-normalised logits, per tau.

    Examples
    --------
    >>> import torch
    >>> from sklearn_lt.heads import tau_sweep
    >>> coef = torch.tensor([[4.0, 0.0], [0.0, 1.0]])  # class 0: the larger norm
    >>> X = torch.tensor([[1.0, 2.0]])
    >>> tau_sweep(coef, X, [0.0, 1.0])  # tau=1 removes the head's advantage
    array([[0],
           [1]])
    """
    if scale is None:
        scale = feature_scale(X) if len(X) else 1.0
    taus = np.asarray(taus, dtype=np.float64).reshape(-1)
    norms = float(scale) * row_norms(coef.to(torch.float64))[:, 0]
    # Multipliers of the base logits, one row per tau, rounded once to X's dtype.
    factors = torch.stack([1 / _norm_power(norms, tau) for tau in taus]).to(X.dtype)
    return sweep_argmax(X, coef.to(X.dtype), factors, torch.mul)


@Substitution(estimator=REBALANCED_ESTIMATOR)
class TauNormClassifier(LinearHead):
    """tau-normalised classifier (Kang et al. 2020, eq. 3).

    Rescales each class's weight row by a power of its L2 norm,
    ``w_j <- w_j / ||w_j||**tau``, and drops the bias:
    ``logits = X @ coef_.T``. Instance-balanced training leaves head classes
    with larger norms; ``tau`` between 0 (unchanged) and 1 (plain L2
    normalisation) trades head accuracy for tail accuracy. No re-training.

    The norms are taken in the normalised units of the features (divided by
    their RMS row norm ``s``, ``feature_scale_``), as the package trains:
    ``coef_ = w_j / (s ||w_j||)**tau`` (see
    :func:`~sklearn_lt.heads.tau_normalize`). Every logit differs from the
    paper's by the same factor ``s**-tau``, so the predictions are the
    paper's, and the logits stay finite at any feature scale.

    Choose ``tau`` on held-out training data (see ``TauNormClassifierCV``),
    never on the test set.

    Read more in the :ref:`User Guide <tau-norm>`.

    Parameters
    ----------
    %(estimator)s
    tau : float >= 0, default=1.0
        Normalisation power.
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
        ``w_j / (s ||w_j||)**tau``.
    intercept_ : ndarray or torch.Tensor of shape (n_classes,)
        Zeros (the bias is dropped).
    feature_scale_ : float
        ``s``, the RMS row norm of the training features.
    n_features_in_ : int

    References
    ----------
    %(kang2020)s

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.frozen import FrozenEstimator
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_lt import TauNormClassifier
    >>> rng = np.random.RandomState(0)
    >>> y = np.repeat([0, 1, 2], [100, 30, 5])
    >>> X = rng.normal(size=(len(y), 4)) + 2 * np.eye(4)[y]
    >>> base = LogisticRegression().fit(X, y)
    >>> clf = TauNormClassifier(FrozenEstimator(base), tau=1.0).fit(X, y)
    >>> (np.linalg.norm(clf.coef_, axis=1) * clf.feature_scale_).round(6)
    array([1., 1., 1.])
    """

    _parameter_constraints = {
        **ESTIMATOR_CONSTRAINT,
        "tau": [Interval(Real, 0, None, closed="left")],
        "device": [str, torch.device, None],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator=None, *, tau=1.0, device=None, random_state=None):
        self.estimator = estimator
        self.tau = tau
        self.device = device
        self.random_state = random_state

    def _fit(self, X, y_encoded, counts):
        base = fit_base_classifier(
            self.estimator, X, y_encoded, counts, random_state=check_random_state(self.random_state)
        )
        scale = feature_scale(X)
        coef = tau_normalize(base.coef, self.tau, scale=scale)
        attributes = {"estimator_": base.estimator, "feature_scale_": scale}
        return FittedLinear(coef, torch.zeros_like(coef[:, 0]), base.counts, attributes)
