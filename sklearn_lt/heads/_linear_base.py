"""The base-classifier step of the rebalancing heads, and the trained heads built on it.

tau-normalisation, LWS and LORT all start from the weights of a classifier
trained with instance-balanced sampling (Kang et al.'s joint classifier):
stage one's own (``BackboneEmbedder.classifier_``), any scikit-learn linear
classifier with ``coef_`` (prefit ones wrapped in ``FrozenEstimator``), or by
default a :class:`SoftmaxClassifier` fitted on the same features.
"""

from typing import NamedTuple

import numpy as np
import torch
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.utils._param_validation import HasMethods

from .._counts import ClassCounts
from ..utils import to_numpy, to_tensor
from ..utils._array import two_class_rows
from ._base import LinearHead
from ._softmax import SoftmaxClassifier
from ._trained import TrainedHead

__all__ = [
    "BaseFit",
    "RebalancingTrainedHead",
    "ESTIMATOR_CONSTRAINT",
    "default_base",
    "fit_base_classifier",
    "linear_weights",
]

# The ``estimator`` parameter of the heads that start from a base classifier.
ESTIMATOR_CONSTRAINT = {"estimator": [HasMethods(["fit"]), None]}

def default_base(random_state=None):
    """The base fitted when a rebalancing head gets ``estimator=None``.

    An instance-balanced softmax classifier *without intercept*:
    tau-normalisation drops the bias, so a base that carried the class prior
    in its bias would lose it there; without one, the prior lives in the
    weight norms, which tau-normalisation is made to rebalance (as the joint
    classifier of a network keeps a small bias). Measured in the heads guide.

    It stops at scikit-learn's ``tol=1e-4`` rather than the heads' 1e-6 (the
    L-BFGS floor keeps it training where the gradient starts small, as at
    thousands of classes): on the fidelity suite's 12 sources it makes 28
    passes over the data instead of 60 on average, at a validation accuracy
    0.003 higher (0.003 lower at worst; ``python -m
    benchmarks.fidelity.stopping``), and the heads that start from it score
    as before on the test sets (mean change over the sources: tau-norm
    +0.002, LWS -0.000, LORT +0.001, their CV forms +0.001 and -0.001; the
    largest loss LORT's -0.019 on the pretrained digits) in half the time at
    300 classes (``python -m benchmarks.fidelity``; :ref:`fidelity`).

    Parameters
    ----------
    random_state : int, RandomState instance or None, default=None
        Seeds the classifier's initial weights.

    Returns
    -------
    estimator : SoftmaxClassifier
        Unfitted.
    """
    return SoftmaxClassifier(fit_intercept=False, tol=1e-4, random_state=random_state)


def linear_weights(estimator, *, device=None, dtype=None):
    """``(classes, coef, intercept)`` of a fitted linear classifier, classes sorted.

    Rows are reordered so that ``classes`` is sorted (a model may store its
    classes in any order); binary models with one row ``w`` give the rows
    ``(-w/2, w/2)``; a missing ``intercept_`` is zero.

    Parameters
    ----------
    estimator : estimator
        A fitted classifier with ``coef_`` (or a ``FrozenEstimator`` of one).
    device : str or torch.device, default=None
        Where the tensors go; ``None`` keeps ``coef_``'s device (numpy: the CPU).
    dtype : torch.dtype, default=None
        Their dtype; ``None`` keeps ``coef_``'s.

    Returns
    -------
    classes : ndarray of shape (n_classes,)
    coef : torch.Tensor of shape (n_classes, n_features)
    intercept : torch.Tensor of shape (n_classes,)

    Raises
    ------
    ValueError
        When the model has no ``coef_``, transforms the features before its
        linear layer (NCM), or keeps other rows than one per class (a
        multiclass ``SVC`` keeps one per pair of classes): its ``coef_`` then
        does not give one logit per class.
    """
    model = estimator.estimator if isinstance(estimator, FrozenEstimator) else estimator
    name = type(model).__name__
    if isinstance(model, LinearHead) and model.transforms_features:
        raise ValueError(
            f"{name} maps the features before its linear layer (e.g. NCM's "
            "normalisation): its coef_ cannot be rebalanced."
        )
    if not hasattr(estimator, "coef_"):
        raise ValueError(
            f"{name} has no coef_: the estimator must be a linear classifier (e.g. "
            "LogisticRegression, SoftmaxClassifier or BackboneEmbedder's classifier_)."
        )
    classes = np.asarray(to_numpy(estimator.classes_))
    coef = to_tensor(estimator.coef_, device=device, dtype=dtype)
    coef = coef[None, :] if coef.ndim == 1 else coef
    intercept = getattr(estimator, "intercept_", None)
    if intercept is None:
        intercept = torch.zeros(coef.shape[0], device=coef.device, dtype=coef.dtype)
    intercept = to_tensor(np.atleast_1d(to_numpy(intercept)), device=coef.device, dtype=coef.dtype)
    if intercept.numel() == 1 and coef.shape[0] > 1:
        intercept = intercept.expand(coef.shape[0])
    if len(classes) == 2 and coef.shape[0] == 1:
        coef, intercept = two_class_rows(coef), two_class_rows(intercept)
    # libsvm's classifiers (SVC, NuSVC) train one-vs-one: with 3 classes their
    # 3 rows score the pairs (0, 1), (0, 2), (1, 2), not the classes.
    if len(classes) > 2 and getattr(model, "decision_function_shape", None) is not None:
        raise ValueError(
            f"{name}'s coef_ has one row per pair of classes (one-vs-one: "
            f"{coef.shape[0]} rows for {len(classes)} classes), not one logit per class, "
            "which a rebalancing head reads. Use a linear model with one row per class "
            "(LinearSVC, LogisticRegression, SoftmaxClassifier)."
        )
    if coef.shape[0] != len(classes):
        raise ValueError(
            f"{name}'s coef_ has {coef.shape[0]} rows for {len(classes)} classes: a "
            "rebalancing head needs one row (one logit) per class."
        )
    order = np.argsort(classes, kind="stable")
    index = torch.as_tensor(order, device=coef.device)
    # Own copies: heads train these in place, the estimator's stay untouched.
    return classes[order], coef[index].clone(), intercept[index].clone()


class BaseFit(NamedTuple):
    """The fitted base of a rebalancing head, aligned with its (sorted) classes."""

    estimator: object
    coef: torch.Tensor
    intercept: torch.Tensor
    counts: ClassCounts
    y_encoded: np.ndarray


def fit_base_classifier(estimator, X, y_encoded, counts, *, random_state):
    """Fit (or read a frozen) base classifier on ``X`` and align it with the labels.

    Parameters
    ----------
    estimator : estimator or None
        ``None`` fits :func:`default_base`; a ``FrozenEstimator`` is used as
        it is; any other classifier is cloned and fitted.
    X : torch.Tensor or LazyRows of shape (n_samples, n_features)
        Validated features (a :class:`~sklearn_lt.heads._base.LazyRows`
        is read in place by the package's heads, copied for others).
    y_encoded : ndarray of shape (n_samples,)
        Labels encoded against ``counts.classes``.
    counts : ClassCounts
        Training counts of the labels.
    random_state : numpy.random.RandomState
        Seeds the default base.

    Returns
    -------
    BaseFit
        ``counts`` and ``y_encoded`` are re-expressed over the base's classes
        (a frozen model may know classes absent from this fit: count 0).
    """
    labels = counts.classes[y_encoded]
    if estimator is None:
        seed = int(random_state.randint(np.iinfo(np.int32).max))
        fitted = default_base(seed)._fit_validated(X, labels)
    elif isinstance(estimator, FrozenEstimator):
        fitted = estimator
    elif isinstance(estimator, LinearHead):
        fitted = clone(estimator)._fit_validated(X, labels)
    else:  # another library's estimator reads numpy: LazyRows are copied
        fitted = clone(estimator).fit(to_numpy(X[:]), labels)
    classes, coef, intercept = linear_weights(fitted, device=X.device, dtype=X.dtype)
    if coef.shape[1] != X.shape[1]:
        raise ValueError(
            f"The estimator ({type(fitted).__name__}) was fitted on {coef.shape[1]} "
            f"features, but X has {X.shape[1]}."
        )
    unknown = np.setdiff1d(counts.classes, classes)
    if unknown.size:
        raise ValueError(
            f"y has labels {unknown.tolist()} that the estimator does not know "
            f"(its classes_ are {classes.tolist()})."
        )
    base_counts = counts.reindex(classes)
    position = base_counts.positions(counts.classes)
    return BaseFit(fitted, coef, intercept, base_counts, position[y_encoded])


class RebalancingTrainedHead(TrainedHead):
    """A trained head that starts from the base classifier's weights."""

    def _base(self, X, y_encoded, counts, rng):
        return fit_base_classifier(self.estimator, X, y_encoded, counts, random_state=rng)
