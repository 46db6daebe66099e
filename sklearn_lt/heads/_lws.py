"""LWS, learnable weight scaling (Kang et al. 2020, section 4)."""

import math

import torch

from ..sampling import ClassBalancedSampler
from ..utils._docstring import Substitution
from ..utils._docstring_entries import TRAINER_DOCS
from ._base import row_chunks
from ._linear_base import ESTIMATOR_CONSTRAINT, RebalancingTrainedHead
from ._modules import (
    ScaledLogits,
    feature_scale,
    row_norms,
)
from ._trained import TrainedHead, TrainingStart

__all__ = ["LWSClassifier"]


def _keeps_base_logits(n_features, n_classes):
    """Whether LWS keeps its ``N x C`` base logits (``W``, ``b`` frozen) for the epochs.

    Only when they take at most half the memory of the features, the bound on
    a fit's memory beyond ``X`` (issue #22). Kept, the epochs skip the product
    but read ``N x C`` logits; recomputed, each batch pays its product. At
    ImageNet-LT's 115,846 rows and 1,000 classes, 5 epochs on one CPU thread
    took 6.7 s kept and 8.3 s recomputed at 256-d (peak beyond X 538
    against 138 MiB): the batches' own work outweighs the product there; 7.1
    and 10.1 s at 512-d; 8.8 and 23.9 s at 2,048-d, where the rule keeps
    them (``bench_scale.py --trade-offs``, ``docs/benchmarks.md``; an AMD
    EPYC took 11.2 / 12.7, 10.9 / 18.3 and 14.0 / 35.2 s).
    """
    return 2 * n_classes <= n_features


@Substitution(
    TRAINER_DOCS,
    sampler=TRAINER_DOCS["sampler"].override(
        description="The sampling ratio; ``None`` is class-balanced (as the paper)."
    ),
)
class LWSClassifier(RebalancingTrainedHead):
    """Learnable weight scaling, LWS (Kang et al. 2020, section 4).

    Keeps the instance-balanced classifier and learns one scale ``f_j`` per
    class (initialised to 1) with class-balanced sampling:
    ``logits_j = f_j * (w_j . x + b_j)`` (the official code scales the whole
    logit, bias included). After fit, ``coef_ = f[:, None] * W`` and
    ``intercept_ = f * b``.

    The defaults are the official configuration (5 epochs, SGD with momentum
    0.9, weight decay 5e-4 on the scales, the cosine schedule stepped
    *before* each epoch, class-balanced sampling), with the learning rate
    stated in units of the RMS of the base logits, so that it does not
    depend on their scale, and a batch of at most 512 that gives small sets
    at least 16 steps per epoch.

    ``W`` and ``b`` are frozen, so the base logits are computed once and the
    epochs train the scales on them when the ``N x C`` logits take no more
    memory than half the features (``n_classes <= n_features / 2``);
    otherwise each batch recomputes its logits, and no ``N x C`` array is
    ever made (the scale of the logits is taken chunk by chunk).

    Read more in the :ref:`User Guide <lws>`.

    Parameters
    ----------
    %(estimator)s
    %(solver)s
        Default ``"sgd"`` (the official procedure).
    %(sampler)s
    %(weight_decay)s
        Default 5e-4 (official).
    %(max_iter)s
    %(tol)s
    %(n_epochs)s
        Default 5 (official).
    %(batch_size)s
    %(lr)s
        Default 1.0.
    %(momentum)s
    %(device)s
    %(random_state)s
    %(verbose)s

    Attributes
    ----------
    estimator_ : estimator
        The fitted base classifier.
    scales_ : ndarray or torch.Tensor of shape (n_classes,)
        The learned ``f_j``.
    classes_, class_counts_, coef_, intercept_, loss_curve_, n_iter_, sampler_, n_features_in_
        As in :class:`CRTClassifier`.

    References
    ----------
    %(kang2020)s

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

    _parameter_constraints = {**TrainedHead._parameter_constraints, **ESTIMATOR_CONSTRAINT}
    _default_sampler = ClassBalancedSampler
    _lr_stepped_before = True

    def __init__(
        self,
        estimator=None,
        *,
        solver="sgd",
        sampler=None,
        weight_decay=5e-4,
        max_iter=1000,
        tol=1e-6,
        n_epochs=5,
        batch_size="auto",
        lr=1.0,
        momentum=0.9,
        device=None,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.solver = solver
        self.sampler = sampler
        self.weight_decay = weight_decay
        self.max_iter = max_iter
        self.tol = tol
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.momentum = momentum
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _start(self, X, y_encoded, counts, rng, options):
        base = self._base(X, y_encoded, counts, rng)
        n_classes = len(base.coef)
        on_logits = _keeps_base_logits(X.shape[1], n_classes)  # from the shapes, before any logit
        base_logits = X.new_empty((len(X), n_classes)) if on_logits else None
        norms = X.new_empty((len(X), 1))
        with torch.no_grad():
            for where, block in row_chunks(X, n_classes):
                logits = torch.addmm(base.intercept, block, base.coef.T)
                norms[where] = row_norms(logits)
                if on_logits:
                    base_logits[where] = logits
        # Each scale multiplies one logit: the unit is the RMS of a single
        # logit (the RMS row norm over sqrt(C)), so that its curvature is O(1).
        # The RMS row norm of the logits is feature_scale of their row norms.
        logit_scale = feature_scale(norms) / math.sqrt(n_classes)
        module = ScaledLogits(base.coef, base.intercept, logit_scale, on_logits=on_logits)
        inputs = base_logits if on_logits else X
        return TrainingStart(
            module, inputs, base.y_encoded, base.counts, {"estimator_": base.estimator}
        )

    def _fitted_attributes(self, module, options):
        return {"scales_": module.scales()}
