"""Heads that rebalance an existing (instance-balanced) linear classifier.

tau-normalisation and LWS (Kang et al. 2020) and LORT (logits retargeting,
2024) all start from the weights of a classifier trained with
instance-balanced sampling: the joint classifier of stage one, any
scikit-learn classifier with ``coef_`` (prefit ones wrapped in
``FrozenEstimator``), or, by default, a :class:`SoftmaxClassifier` fitted here.
"""

from numbers import Real

import numpy as np
import torch
from sklearn import get_config
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from ..sampling import ClassBalancedSampler
from ..utils import to_numpy
from ._base import LinearHead, as_linear_weights, maps_features
from ._softmax import _TRAINER_DOC, SoftmaxClassifier, TrainedLinearHead
from ._trainer import TRAINER_CONSTRAINTS

__all__ = ["TauNormClassifier", "LWSClassifier", "LORTClassifier", "auto_smoothing"]

_ESTIMATOR_DOC = """
    estimator : estimator with ``coef_`` or None, default=None
        The instance-balanced classifier to rebalance. ``None`` fits a
        :class:`SoftmaxClassifier` (instance-balanced) on the data given to
        ``fit``. A classifier is cloned and fitted on that data; wrap a prefit
        one (e.g. ``BackboneEmbedder``'s ``classifier_``) in
        :class:`sklearn.frozen.FrozenEstimator` to use it as it is. Binary
        models with one row ``w`` count as the rows ``(-w/2, w/2)``."""


class _RebalancingHead:
    """Mixin: obtain the starting weights from ``self.estimator``."""

    def _base_weights(self, X, y_encoded, rng):
        """Fit or read the base classifier; return its weights as tensors.

        Re-encodes ``y_encoded``/``class_counts_`` against the base model's
        ``classes_`` (a frozen model may know classes absent from this fit).
        """
        labels = self.classes_[y_encoded]
        estimator = self.estimator
        if estimator is None:
            seed = int(rng.randint(np.iinfo(np.int32).max))
            fitted = SoftmaxClassifier(random_state=seed).fit(X, labels)
        elif isinstance(estimator, FrozenEstimator):
            fitted = estimator
        elif isinstance(estimator, LinearHead):
            fitted = clone(estimator).fit(X, labels)
        else:
            fitted = clone(estimator).fit(to_numpy(X), labels)
        self.estimator_ = fitted
        if not hasattr(fitted, "coef_"):
            raise ValueError(
                f"{type(fitted).__name__} has no coef_: the estimator must be a "
                "linear classifier (e.g. LogisticRegression, SoftmaxClassifier or "
                "BackboneEmbedder's classifier_)."
            )
        if maps_features(fitted):
            raise ValueError(
                f"{type(fitted).__name__} maps the features before its linear layer "
                "(e.g. NCM's normalisation): its coef_ cannot be rebalanced."
            )
        classes = np.asarray(fitted.classes_)
        unknown = np.setdiff1d(self.classes_, classes)
        if unknown.size:
            raise ValueError(
                f"y has labels {unknown.tolist()} that the estimator does not "
                f"know (its classes_ are {classes.tolist()})."
            )
        position = np.searchsorted(classes, self.classes_)
        counts = np.zeros(len(classes), dtype=np.int64)
        counts[position] = self.class_counts_
        self.classes_, self.class_counts_ = classes, counts
        coef, intercept = as_linear_weights(
            fitted.coef_,
            getattr(fitted, "intercept_", None),
            len(classes),
            device=X.device,
            dtype=X.dtype,
        )
        return coef, intercept, position[y_encoded]

    def _initial_weights(self, X, y_encoded, rng):
        # Trained rebalancing heads (LWS, LORT) start from the base classifier:
        # no re-initialisation.
        return self._base_weights(X, y_encoded, rng)


class TauNormClassifier(_RebalancingHead, LinearHead):
    """tau-normalised classifier (Kang et al. 2020, eq. 3).

    Rescales each class's weight row by a power of its L2 norm,
    ``w_j <- w_j / ||w_j||**tau``, and drops the bias:
    ``logits = X @ coef_.T``. Instance-balanced training leaves head classes
    with larger norms; ``tau`` between 0 (unchanged) and 1 (plain L2
    normalisation) trades head accuracy for tail accuracy. No re-training.

    Choose ``tau`` on held-out training data (see ``TauNormClassifierCV``),
    never on the test set.

    Parameters
    ----------"""
    __doc__ += (
        _ESTIMATOR_DOC
        + """
    tau : float >= 0, default=1.0
        Normalisation power.
    device : str or torch.device, default=None
        Where to compute; ``None`` uses the input's device.
    random_state : int, RandomState instance or None, default=None
        Seeds the default ``SoftmaxClassifier`` (unused otherwise).

    Attributes
    ----------
    estimator_ : estimator
        The fitted base classifier.
    classes_ : ndarray of shape (n_classes,)
    class_counts_ : ndarray of shape (n_classes,)
    coef_ : ndarray or torch.Tensor of shape (n_classes, n_features)
        ``w_j / ||w_j||**tau``.
    intercept_ : ndarray or torch.Tensor of shape (n_classes,)
        Zeros (the bias is dropped).
    n_features_in_ : int

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
    >>> np.linalg.norm(clf.coef_, axis=1).round(6)
    array([1., 1., 1.])
    """
    )

    _parameter_constraints = {
        "estimator": [HasMethods(["fit"]), None],
        "tau": [Interval(Real, 0, None, closed="left")],
        "device": [str, torch.device, None],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator=None, *, tau=1.0, device=None, random_state=None):
        self.estimator = estimator
        self.tau = tau
        self.device = device
        self.random_state = random_state

    def _fit(self, X, y_encoded, class_counts, X_input):
        coef, _, _ = self._base_weights(X, y_encoded, check_random_state(self.random_state))
        return tau_normalize(coef, self.tau), torch.zeros_like(coef[:, 0])


def tau_normalize(coef, tau):
    """``w_j / ||w_j||**tau`` row by row (Kang et al. eq. 3); zero rows stay zero.

    Computed in float64 and rounded once to ``coef``'s dtype, so float32
    weights come out correctly rounded.
    """
    wide = coef.to(torch.float64)
    norms = torch.linalg.vector_norm(wide, dim=1, keepdim=True)
    return (wide / norms.clamp_min(torch.finfo(torch.float64).tiny) ** tau).to(coef.dtype)


class LWSClassifier(_RebalancingHead, TrainedLinearHead):
    """Learnable weight scaling, LWS (Kang et al. 2020, section 4).

    Keeps the instance-balanced classifier and learns one scale ``f_j`` per
    class (initialised to 1) with class-balanced sampling:
    ``logits_j = f_j * (w_j . x + b_j)`` (the official code scales the whole
    logit, bias included). After fit, ``coef_ = f[:, None] * W`` and
    ``intercept_ = f * b``.

    ``W`` and ``b`` are frozen, so the base logits are computed once and the
    epochs train the scales on them (the cost of fit is then about one
    product over the data, whatever ``n_epochs``) when the ``N x C`` logits
    take no more memory than the features or fit in
    ``sklearn.get_config()["working_memory"]``; otherwise each batch
    recomputes its logits.

    Parameters
    ----------"""
    __doc__ += (
        _ESTIMATOR_DOC
        + _TRAINER_DOC.format(
            default="class-balanced", n_epochs=10, lr=0.2, weight_decay=0.0
        )
        + """

    Attributes
    ----------
    estimator_ : estimator
        The fitted base classifier.
    scales_ : ndarray or torch.Tensor of shape (n_classes,)
        The learned ``f_j``.
    classes_, class_counts_, coef_, intercept_, loss_curve_, sampler_, n_features_in_
        As in :class:`CRTClassifier`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lt import LWSClassifier
    >>> rng = np.random.RandomState(0)
    >>> y = np.repeat([0, 1, 2], [200, 40, 8])
    >>> X = rng.normal(size=(len(y), 5)) + 3 * np.eye(5)[y]
    >>> clf = LWSClassifier(random_state=0).fit(X, y)
    >>> clf.scales_.shape
    (3,)
    """
    )

    _parameter_constraints = {
        **TRAINER_CONSTRAINTS,
        "estimator": [HasMethods(["fit"]), None],
    }
    _default_sampler = ClassBalancedSampler

    def __init__(
        self,
        estimator=None,
        *,
        sampler=None,
        n_epochs=10,
        batch_size="auto",
        lr=0.2,
        momentum=0.9,
        weight_decay=0.0,
        device=None,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.sampler = sampler
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    _fitted_tensors = ("coef_", "intercept_", "scales_")


    def _trainable(self, coef, intercept, X):
        scales = torch.ones_like(intercept)

        def weights():
            self.scales_ = scales.detach()
            return scales[:, None] * coef, scales * intercept

        # W and b are frozen: every epoch would recompute the same base logits.
        # Compute them once and train the scales on their rows, when they take
        # no more memory than the features or fit in scikit-learn's
        # ``working_memory`` (MiB).
        logits_bytes = len(X) * coef.shape[0] * X.element_size()
        budget = max(X.numel() * X.element_size(), get_config()["working_memory"] * 2**20)
        if logits_bytes <= budget:
            base_logits = torch.addmm(intercept, X, coef.T)
            return [scales], lambda logits: scales * logits, weights, base_logits

        def forward(X_batch):
            return scales * torch.addmm(intercept, X_batch, coef.T)

        return [scales], forward, weights, X


class LORTClassifier(_RebalancingHead, TrainedLinearHead):
    """Logits retargeting, LORT (2024; published as "Label Over-Smooth", LOS).

    Continues training the instance-balanced linear classifier on the frozen
    features with a *large* label smoothing: the target of a sample of class
    ``y`` is ``(1 - delta) * onehot(y) + delta / C`` (torch's
    ``label_smoothing``). With ``delta`` near 1 the loss stops pushing head
    classes' logits ever higher, which shrinks the logits magnitude gap
    between head and tail classes. It needs no class counts and samples
    instance-balanced, as the official code does.

    The official CIFAR-100-LT recipe (C = 100 classes) fine-tunes 20 epochs
    with batch 64, ``lr=5e-4``, no weight decay and ``delta=0.98``. What
    matters is the target odds of the true class against each other class,
    ``1 + C (1 - delta) / delta`` (3.04 there): with ``delta=0.98`` and 10
    classes they fall to 1.2 and a converged head barely separates classes.
    ``smoothing="auto"`` (default) keeps the official odds for any C, i.e.
    ``delta = C / (C + 2.04)``: exactly 0.98 for C = 100, 0.83 for C = 10,
    0.998 for C = 1000 (our extrapolation of the paper's setting). The
    default ``lr=0.05`` lets small datasets, with a handful of steps per
    epoch, converge (digits-LT, 3 seeds, BackboneEmbedder features: balanced
    accuracy 0.871 at lr 0.05 vs 0.815 at 2e-3, joint classifier 0.797); pass
    ``smoothing=0.98, lr=5e-4`` for the paper's exact CIFAR-100-LT setting.

    Parameters
    ----------"""
    __doc__ += (
        _ESTIMATOR_DOC
        + """
    smoothing : float in [0, 1) or "auto", default="auto"
        ``delta``, the label smoothing value; ``"auto"`` is
        ``C / (C + 2.04)`` (see above)."""
        + _TRAINER_DOC.format(
            default="instance-balanced", n_epochs=20, lr=0.05, weight_decay=0.0
        ).replace('batch_size : int or "auto", default="auto"', "batch_size : int, default=64")
        + """

    Attributes
    ----------
    estimator_ : estimator
        The fitted base classifier.
    smoothing_ : float
        The smoothing value used.
    classes_, class_counts_, coef_, intercept_, loss_curve_, sampler_, n_features_in_
        As in :class:`CRTClassifier`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lt import LORTClassifier
    >>> rng = np.random.RandomState(0)
    >>> y = np.repeat([0, 1, 2], [200, 40, 8])
    >>> X = rng.normal(size=(len(y), 5)) + 3 * np.eye(5)[y]
    >>> lort = LORTClassifier(random_state=0).fit(X, y)
    >>> round(lort.smoothing_, 3), lort.score(X, y) > 0.9
    (0.595, True)
    """
    )

    _parameter_constraints = {
        **TRAINER_CONSTRAINTS,
        "estimator": [HasMethods(["fit"]), None],
        "smoothing": [Interval(Real, 0, 1, closed="left"), StrOptions({"auto"})],
    }

    def __init__(
        self,
        estimator=None,
        *,
        smoothing="auto",
        sampler=None,
        n_epochs=20,
        batch_size=64,
        lr=0.05,
        momentum=0.9,
        weight_decay=0.0,
        device=None,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.smoothing = smoothing
        self.sampler = sampler
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _smoothing(self):
        self.smoothing_ = (
            auto_smoothing(len(self.classes_)) if self.smoothing == "auto" else self.smoothing
        )
        return self.smoothing_


def auto_smoothing(n_classes):
    """Smoothing with the official CIFAR-100-LT target odds (0.98 at 100 classes).

    The smoothed target gives the true class ``1 - delta + delta / C`` and every
    other class ``delta / C``: odds ``r = 1 + C (1 - delta) / delta``. Solving
    for the odds of ``delta = 0.98, C = 100`` gives ``delta = C / (C + r - 1)``.

    Examples
    --------
    >>> from sklearn_lt.heads import auto_smoothing
    >>> round(auto_smoothing(100), 10), round(auto_smoothing(10), 4)
    (0.98, 0.8305)
    """
    odds = 1 + 100 * (1 - 0.98) / 0.98
    return n_classes / (n_classes + odds - 1)
