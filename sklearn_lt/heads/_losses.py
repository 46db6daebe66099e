"""The losses of LORT's Table 1, as per-sample functions of the logits for the shared trainer.

In the LORT paper's unified formula (its eq. 1) a re-training method turns
three knobs of the cross-entropy of the (possibly changed) logits: a weight
per label, an offset of the logits during training, and the sampling ratio
(the trainer's sampler). This module owns the first two, and the focal
term; every prior comes from the training counts handed to ``_fit`` (before
any resampling), never from resampled labels.
"""

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["RetrainingLoss", "class_balanced_weights", "ldam_margins", "log_priors"]


def _counts(counts):
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 1 or np.any(counts < 0) or not np.all(np.isfinite(counts)):
        raise ValueError(f"class counts must be a 1-D array of finite values >= 0, got {counts}.")
    return counts


def class_balanced_weights(counts, beta):
    """Class-balanced weights (Cui et al. 2019, eq. 3 and section 4).

    The effective number of samples of a class with ``n`` samples is
    ``E_n = (1 - beta**n) / (1 - beta)``; each class is weighted by its
    inverse, ``(1 - beta) / (1 - beta**n_j)``, and the weights are scaled to
    sum to the number of classes, as the paper does. ``beta=0`` weighs every
    class the same, ``beta -> 1`` tends to the inverse frequency. A class
    without samples gets weight 0 (the others sum to their number).

    Parameters
    ----------
    counts : array-like of shape (n_classes,)
        Training samples per class.
    beta : float in [0, 1)

    Returns
    -------
    weights : ndarray of shape (n_classes,)

    Examples
    --------
    >>> from sklearn_lt.heads import class_balanced_weights
    >>> class_balanced_weights([100, 10, 1], beta=0.9).round(4)
    array([0.2393, 0.3674, 2.3932])
    >>> class_balanced_weights([100, 10, 1], beta=0.0)
    array([1., 1., 1.])
    """
    counts = _counts(counts)
    present = counts > 0
    weights = np.zeros_like(counts)
    # -expm1(n log beta) = 1 - beta**n without cancellation for beta near 1.
    effective = -np.expm1(counts[present] * np.log(beta)) if beta > 0 else np.ones(present.sum())
    weights[present] = (1 - beta) / effective
    return weights * present.sum() / weights.sum()


def ldam_margins(counts, max_margin):
    """LDAM's per-class margins ``C / n_j**(1/4)`` (Cao et al. 2019, eq. 13).

    ``C`` is set so that the rarest class gets ``max_margin``, as the
    official code does (``m_list * (max_m / max(m_list))``). A class without
    samples gets margin 0 (it is never the true class).

    Parameters
    ----------
    counts : array-like of shape (n_classes,)
    max_margin : float >= 0

    Returns
    -------
    margins : ndarray of shape (n_classes,)

    Examples
    --------
    >>> from sklearn_lt.heads import ldam_margins
    >>> ldam_margins([10000, 16, 1], max_margin=0.5)
    array([0.05, 0.25, 0.5 ])
    """
    counts = _counts(counts)
    present = counts > 0
    margins = np.zeros_like(counts)
    margins[present] = counts[present] ** -0.25
    return margins * (max_margin / margins.max())


def log_priors(counts):
    """``log pi_j = log(n_j / N)``, the log class priors of the training counts.

    A class without samples (one that a frozen base classifier knows but the
    training data lacks) counts as one sample: its prior would otherwise be
    0 and its adjusted logit infinite.

    Examples
    --------
    >>> from sklearn_lt.heads import log_priors
    >>> log_priors([3, 1]).round(4)
    array([-0.2877, -1.3863])
    """
    counts = np.maximum(_counts(counts), 1.0)
    return np.log(counts) - np.log(counts.sum())


class RetrainingLoss:
    """Per-sample loss of LORT's eq. 1: weighted, focal cross-entropy of offset logits.

    For logits ``z`` of a sample of class ``y``::

        z'   = z + offset - margin_y * onehot(y)
        loss = w_y * (1 - p_y)**gamma * (-log p_y),   p = softmax(z')

    - ``offset``: Balanced Softmax's ``log n_j`` (Ren et al. 2020) and the
      logit-adjusted loss's ``tau log pi_j`` (Menon et al. 2021, eq. 10);
    - ``margin``: LDAM's margin of the true class (Cao et al. 2019, eq. 13);
    - ``gamma``: the focal term (Lin et al. 2017, eq. 5), in its softmax form
      as the long-tailed codebases use it; 0 is the cross-entropy;
    - ``w``: a weight per class (Cui et al. 2019's class-balanced weights).
      From ``weight_from_epoch`` on only (deferred re-weighting, DRW, Cao et
      al. 2019): the trainer calls :meth:`set_epoch` before each SGD epoch.
      The weighted losses are averaged over the batch, as Cui et al. do.

    The offsets change training only: the heads predict on ``z``.

    Parameters
    ----------
    offset, margin, class_weight : array-like of shape (n_classes,) or None
    gamma : float >= 0, default=0.0
    weight_from_epoch : int, default=0
    """

    def __init__(
        self, *, offset=None, margin=None, gamma=0.0, class_weight=None, weight_from_epoch=0
    ):
        self.offset = offset
        self.margin = margin
        self.gamma = float(gamma)
        self.class_weight = class_weight
        self.weight_from_epoch = int(weight_from_epoch)
        self.epoch = 0
        self._tensors = {}

    def set_epoch(self, epoch):
        """The SGD epoch about to run (class weights apply from ``weight_from_epoch``)."""
        self.epoch = int(epoch)

    def _tensor(self, name, like):
        """``self.<name>`` on ``like``'s device and dtype, converted once."""
        key = (name, like.device, like.dtype)
        if key not in self._tensors:
            value = getattr(self, name)
            self._tensors[key] = torch.as_tensor(
                np.asarray(value, dtype=np.float64), dtype=like.dtype
            ).to(like.device)
        return self._tensors[key]

    def __call__(self, logits, y):
        if self.offset is not None:
            logits = logits + self._tensor("offset", logits)
        if self.margin is not None:
            true_class = F.one_hot(y, logits.shape[1]).to(logits.dtype)
            logits = logits - true_class * self._tensor("margin", logits)[y, None]
        log_norm = torch.logsumexp(logits, dim=1)
        loss = log_norm - logits.gather(1, y[:, None])[:, 0]  # -log p_y
        if self.gamma > 0:
            # log(1 - p_y) = logsumexp of the other logits - logsumexp of all:
            # finite, with a finite gradient, even where p_y rounds to 1
            # (there (1 - p_y)**gamma has an infinite derivative for gamma < 1).
            others = logits.masked_fill(F.one_hot(y, logits.shape[1]).bool(), -torch.inf)
            log_rest = torch.logsumexp(others, dim=1) - log_norm
            loss = torch.exp(self.gamma * log_rest) * loss
        if self.class_weight is not None and self.epoch >= self.weight_from_epoch:
            loss = loss * self._tensor("class_weight", logits)[y]
        return loss
