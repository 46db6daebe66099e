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

__all__ = [
    "CrossEntropy",
    "RetrainingLoss",
    "class_balanced_weights",
    "ldam_margins",
    "log_priors",
    "softmax_cross_entropy_",
]


def softmax_cross_entropy_(logits, y, row_weight, label_smoothing=0.0):
    """``sum_i w_i * CE(z_i, y_i)``, with ``logits`` overwritten by its gradient.

    The gradient of the softmax cross-entropy with respect to its logits is
    ``w_i * (softmax(z_i) - t_i)``, ``t_i`` the target ``(1 - eps) *
    onehot(y_i) + eps / C`` (torch's ``label_smoothing``; the loss is
    ``logsumexp(z_i) - t_i . z_i``). Written into the logits in place, with
    one exponential per logit: autograd through ``F.cross_entropy`` takes two
    (the forward's log-softmax, the backward's softmax) and allocates an n x
    C array for each. Per pass of the default L-BFGS fits at 7,462 x 128-d,
    300 classes, one thread: 2.2-2.4x the two bare products ``X W^T`` and
    ``G^T X`` instead of 3.2-3.9x (``python -m benchmarks.fidelity.passes
    --classes 300 --rows 7462 --features 128 --n-max 1000``); at the full
    iNaturalist shape an evaluation costs 0.98-1.08x a hand-written pass
    (1.14-1.42x through autograd; ``docs/benchmarks.md``). At 2,048-d and
    1,000 classes the products dominate either way.

    Parameters
    ----------
    logits : torch.Tensor of shape (n_samples, n_classes)
        Overwritten with the gradient (call under ``torch.no_grad()``).
    y : torch.Tensor of shape (n_samples,)
        Class indices.
    row_weight : torch.Tensor of shape (n_samples,)
        ``w_i``, in ``logits``' dtype.
    label_smoothing : float in [0, 1), default=0.0

    Returns
    -------
    value : torch.Tensor
        The weighted sum, a 0-d tensor.

    Examples
    --------
    >>> import torch
    >>> from sklearn_lt.heads._losses import softmax_cross_entropy_
    >>> z = torch.tensor([[2.0, 0.0, -1.0]], dtype=torch.float64, requires_grad=True)
    >>> y, w = torch.tensor([1]), torch.tensor([0.5], dtype=torch.float64)
    >>> reference = 0.5 * torch.nn.functional.cross_entropy(z, y, label_smoothing=0.1)
    >>> reference.backward()
    >>> grad = z.detach().clone()
    >>> value = softmax_cross_entropy_(grad, y, w, label_smoothing=0.1)
    >>> bool(torch.isclose(value, reference)), bool(torch.allclose(grad, z.grad))
    (True, True)
    """
    eps = float(label_smoothing)
    n_classes = logits.shape[1]
    weight = row_weight[:, None]
    target = logits.gather(1, y[:, None])
    if eps:
        target = (1 - eps) * target + (eps / n_classes) * logits.sum(1, keepdim=True)
    top = logits.amax(1, keepdim=True)
    probabilities = logits.sub_(top).exp_()  # softmax up to its sum, in place
    total = probabilities.sum(1, keepdim=True)
    value = (weight * (top + total.log() - target)).sum()
    probabilities.mul_(weight / total)
    if eps:
        probabilities.sub_(weight * (eps / n_classes))
    _add_at_labels_(probabilities, y, -(1 - eps) * weight)
    return value


def _add_at_labels_(logits, y, values):
    """``logits[i, y_i] += values_i`` in place: one entry a row, so a gather and a
    scatter (deterministic on every device; ``scatter_add_``'s CUDA kernel adds
    atomically)."""
    logits.scatter_(1, y[:, None], logits.gather(1, y[:, None]) + values)


class CrossEntropy:
    """Per-sample softmax cross-entropy, optionally smoothed (LORT's retargeting).

    torch's ``label_smoothing`` targets ``(1 - eps) * onehot + eps / C`` for
    every class. :meth:`weighted_sum_and_gradient_` is the same loss for the
    trainer's full-batch passes, its gradient in closed form.

    Parameters
    ----------
    label_smoothing : float in [0, 1), default=0.0
    """

    closed_form_gradient = True

    def __init__(self, label_smoothing=0.0):
        self.label_smoothing = float(label_smoothing)

    def __call__(self, logits, y):
        return F.cross_entropy(logits, y, reduction="none", label_smoothing=self.label_smoothing)

    def weighted_sum_and_gradient_(self, logits, y, row_weight):
        """``sum_i row_weight_i * loss_i``; ``logits`` overwritten by its gradient
        (:func:`softmax_cross_entropy_`)."""
        return softmax_cross_entropy_(logits, y, row_weight, self.label_smoothing)


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

    Parameters
    ----------
    counts : array-like of shape (n_classes,)
        Training samples per class.

    Returns
    -------
    log_priors : ndarray of shape (n_classes,)

    Examples
    --------
    >>> from sklearn_lt.heads import log_priors
    >>> log_priors([3, 1]).round(4)
    array([-0.2877, -1.3863])
    """
    counts = np.maximum(_counts(counts), 1.0)
    return np.log(counts) - np.log(counts.sum())


LOSS_FORMS = ("cross_entropy", "sigmoid_bce", "softmax_bce")
FOCAL_FORMS = ("lin", "ldam_drw")
WEIGHT_NORMALIZATIONS = ("batch_size", "weights")

# torch's binary_cross_entropy clamps its logs at -100.
_BCE_LOG_FLOOR = -100.0


def _log1mexp(log_p):
    """``max(log(1 - exp(log_p)), -100)`` for ``log_p <= 0``, accurate at both ends.

    ``-expm1`` near ``log_p = 0`` and ``log1p(-exp)`` below ``-log 2``
    (Maechler 2012); the floor is torch's ``binary_cross_entropy``'s, applied
    before the log so that a probability that rounds to 1 keeps a finite
    gradient.
    """
    near_one = log_p > -np.log(2.0)
    # Each branch is evaluated only where it is accurate (and finite), so that
    # the discarded branch cannot put a NaN into the gradient.
    one_minus_p = -torch.expm1(torch.where(near_one, log_p, -1.0))
    return torch.where(
        near_one,
        torch.log(one_minus_p.clamp(min=np.exp(_BCE_LOG_FLOOR))),
        torch.log1p(-torch.exp(torch.where(near_one, -1.0, log_p))),
    )


class RetrainingLoss:
    """Per-sample loss of LORT's eq. 1: weighted, focal cross-entropy of offset logits.

    For logits ``z`` of a sample of class ``y``::

        z'   = logit_scale * z + offset - margin_y * onehot(y)
        loss = w_y * (1 - p_y)**gamma * (-log p_y),   p = softmax(z')

    - ``offset``: Balanced Softmax's ``log n_j`` (Ren et al. 2020) and the
      logit-adjusted loss's ``tau log pi_j`` (Menon et al. 2021, eq. 10);
    - ``margin``: LDAM's margin of the true class (Cao et al. 2019, eq. 13);
      LDAM-DRW's ``LDAMLoss`` computes ``s * (z - Delta_y onehot(y))`` whatever
      the layer: ``logit_scale=s, margin=s * Delta``;
    - ``gamma``: the focal term (Lin et al. 2017, eq. 5), in its softmax form
      as the long-tailed codebases use it; 0 is the cross-entropy;
    - ``w``: a weight per class (Cui et al. 2019's class-balanced weights).
      From ``weight_from_epoch`` on only (deferred re-weighting, DRW, Cao et
      al. 2019): ``RetrainedClassifier``'s deferred re-weighting callback
      calls :meth:`set_epoch` before each SGD epoch (without it the epoch
      stays 0).

    The offsets change training only: the heads predict on ``z``.

    Each reference codebase of LORT's Table 1 runs one combination of the
    three forms below (see the user guide's per-reference table):

    - ``weight_normalization``: the trainer averages the per-sample losses
      over the batch. ``"batch_size"`` returns ``w_y * l`` (Cui et al.'s
      TensorFlow code, LDAM-DRW's ``FocalLoss``, torch's
      ``binary_cross_entropy(weight=...)``); ``"weights"`` returns ``w_y * l
      * n / sum_i w_{y_i}`` over the ``n`` rows of the call, so that the
      batch mean is torch's ``cross_entropy(weight=w)``, ``sum_i w_{y_i} l_i
      / sum_i w_{y_i}`` (LDAM-DRW's cross-entropy and LDAM rows). Under
      full-batch training the two differ by a constant factor; under
      mini-batch SGD they do not (the factor changes from batch to batch).
    - ``focal_form`` with class weights: ``"lin"``, Lin et al.'s ``alpha_t
      (1 - p_t)**gamma``, the weight outside the modulating factor;
      ``"ldam_drw"``, LDAM-DRW's ``FocalLoss``, which applies the modulating
      factor to the weighted cross-entropy ``u = w_y * (-log p_y)``: ``(1 -
      exp(-u))**gamma * u``, i.e. ``(1 - p_y**w_y)**gamma * w_y * (-log
      p_y)``. Without weights the two are the same.
    - ``form``: ``"cross_entropy"`` (softmax, above); ``"sigmoid_bce"``, Cui
      et al.'s sigmoid loss, ``w_y * sum_j BCE(sigmoid(z'_j), onehot_j)``, its
      focal term per class ``(1 - p_t)**gamma`` with ``p_t`` the sigmoid's
      probability of the right answer for class ``j`` (Cui et al.'s
      "focal" loss type); ``"softmax_bce"``, binary cross-entropy on softmax
      probabilities, ``w_y / C * sum_j BCE(softmax(z')_j, onehot_j)`` (the
      ``"softmax"`` type of the PyTorch port of Cui et al.'s loss that
      LTR-weight-balancing uses; no focal term there), with torch's floor of
      -100 on each log.

    Parameters
    ----------
    offset : array-like of shape (n_classes,) or None, default=None
        Added to the (scaled) logits during training.
    margin : array-like of shape (n_classes,) or None, default=None
        Subtracted from the true class's (scaled) logit during training.
    gamma : float >= 0, default=0.0
        The focal term's focusing parameter.
    class_weight : array-like of shape (n_classes,) or None, default=None
        ``w``, a weight per class.
    weight_from_epoch : int, default=0
        First SGD epoch with ``class_weight`` (DRW).
    logit_scale : float > 0, default=1.0
        Multiplies the logits before the offsets and margins.
    form : {"cross_entropy", "sigmoid_bce", "softmax_bce"}, default="cross_entropy"
        The per-sample loss of the changed logits ``z'``.
    focal_form : {"lin", "ldam_drw"}, default="lin"
        Where the class weight enters the focal term (``form="cross_entropy"``).
    weight_normalization : {"batch_size", "weights"}, default="batch_size"
        What the batch mean of the weighted losses is divided by.

    Examples
    --------
    >>> import torch
    >>> from sklearn_lt.heads import RetrainingLoss
    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 0.0]], dtype=torch.float64)
    >>> y = torch.tensor([0, 1, 1])
    >>> w = [1.0, 3.0]
    >>> ours = RetrainingLoss(class_weight=w)(logits, y).mean()
    >>> torchs = RetrainingLoss(class_weight=w, weight_normalization="weights")(logits, y).mean()
    >>> reference = torch.nn.functional.cross_entropy(logits, y, weight=torch.tensor(w).double())
    >>> bool(torch.isclose(torchs, reference)), round(float(ours / torchs), 4)  # 7 / 3
    (True, 2.3333)
    """

    def __init__(
        self,
        *,
        offset=None,
        margin=None,
        gamma=0.0,
        class_weight=None,
        weight_from_epoch=0,
        logit_scale=1.0,
        form="cross_entropy",
        focal_form="lin",
        weight_normalization="batch_size",
    ):
        self.offset = offset
        self.margin = margin
        self.gamma = float(gamma)
        self.class_weight = class_weight
        self.weight_from_epoch = int(weight_from_epoch)
        self.logit_scale = float(logit_scale)
        self.form = form
        self.focal_form = focal_form
        self.weight_normalization = weight_normalization
        for name, value, allowed in [
            ("form", form, LOSS_FORMS),
            ("focal_form", focal_form, FOCAL_FORMS),
            ("weight_normalization", weight_normalization, WEIGHT_NORMALIZATIONS),
        ]:
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}.")
        if form == "softmax_bce" and self.gamma > 0:
            raise ValueError(
                "form='softmax_bce' has no focal term (the PyTorch port of Cui et al.'s "
                "loss ignores gamma there): use gamma=0, or form='sigmoid_bce' for "
                "Cui et al.'s focal loss."
            )
        if focal_form == "ldam_drw" and form != "cross_entropy":
            raise ValueError("focal_form='ldam_drw' is LDAM-DRW's softmax focal loss: "
                             "use form='cross_entropy'.")
        self.epoch = 0
        self._tensors = {}

    def set_epoch(self, epoch):
        """The SGD epoch about to run (class weights apply from ``weight_from_epoch``).

        Called by the trainer's ``DeferredReweighting`` callback, before each epoch.

        Parameters
        ----------
        epoch : int
            The epoch, from 0.
        """
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

    @staticmethod
    def _log_rest(logits, y, nll):
        """``log(1 - p_y)`` of the softmax, given ``nll = -log p_y``: the focal factor's log.

        The logsumexp of the other logits minus that of all, which is
        ``nll + f_y``: finite, with a finite gradient, even where ``p_y``
        rounds to 1 (there ``(1 - p_y)**gamma`` has an infinite derivative for
        ``gamma < 1``). A logsumexp over an ``n x C`` copy: for ``gamma > 0``
        only, the plain losses skip it.
        """
        others = logits.masked_fill(F.one_hot(y, logits.shape[1]).bool(), -torch.inf)
        return torch.logsumexp(others, dim=1) - (nll + logits.gather(1, y[:, None])[:, 0])

    def _sigmoid_bce(self, logits, y):
        """Cui et al.'s sigmoid loss, focal per class: ``sum_j (1 - p_t)**gamma BCE_j``."""
        sign = 2.0 * F.one_hot(y, logits.shape[1]).to(logits.dtype) - 1.0
        bce = -F.logsigmoid(sign * logits)  # -log p_t, p_t the right answer's probability
        if self.gamma > 0:
            bce = torch.exp(self.gamma * F.logsigmoid(-sign * logits)) * bce  # (1 - p_t)**gamma
        return bce.sum(dim=1)

    def _softmax_bce(self, logits, y):
        """Binary cross-entropy of softmax probabilities, averaged over the classes."""
        log_p = torch.log_softmax(logits, dim=1)
        true_class = F.one_hot(y, logits.shape[1]).bool()
        log_right = torch.where(true_class, log_p, _log1mexp(log_p))  # log p_j or log(1 - p_j)
        return -log_right.clamp(min=_BCE_LOG_FLOOR).mean(dim=1)

    @property
    def closed_form_gradient(self):
        """A softmax cross-entropy without a focal term: :meth:`weighted_sum_and_gradient_`
        applies."""
        return self.form == "cross_entropy" and self.gamma == 0

    def _class_weight_of_rows(self, like, y):
        """``w_y`` of each row, or None (no class weights, or before ``weight_from_epoch``)."""
        if self.class_weight is None or self.epoch < self.weight_from_epoch:
            return None
        return self._tensor("class_weight", like)[y]

    @staticmethod
    def _normalization(weight):
        """``weight_normalization="weights"``'s factor: torch's ``cross_entropy(weight=w)``
        makes the batch mean ``sum_i w_i l_i / sum_i w_i`` (the sum a constant of y)."""
        return len(weight) / weight.sum()

    def weighted_sum_and_gradient_(self, logits, y, row_weight):
        """The weighted sum of the per-sample losses, ``logits`` overwritten by its gradient.

        For the forms where :attr:`closed_form_gradient` holds: ``z' = s z +
        offset - margin_y onehot(y)`` in place, then
        :func:`softmax_cross_entropy_` of ``z'`` with the rows' weights times
        their class weights (scaled as ``weight_normalization`` says); the
        chain rule through ``z'`` multiplies by ``s``. The trainer's
        full-batch passes call it.

        Parameters
        ----------
        logits : torch.Tensor of shape (n_samples, n_classes)
            ``z``, overwritten with the gradient (call under ``torch.no_grad()``).
        y : torch.Tensor of shape (n_samples,)
            Class indices.
        row_weight : torch.Tensor of shape (n_samples,)
            A weight per row, multiplying its loss.

        Returns
        -------
        value : torch.Tensor
            ``sum_i row_weight_i * loss_i``, a 0-d tensor.
        """
        if not self.closed_form_gradient:
            raise ValueError(f"form={self.form!r} with gamma={self.gamma} has no closed form.")
        if self.logit_scale != 1.0:
            logits.mul_(self.logit_scale)
        if self.offset is not None:
            logits.add_(self._tensor("offset", logits))
        if self.margin is not None:
            _add_at_labels_(logits, y, -self._tensor("margin", logits)[y, None])
        weight = row_weight
        class_weight = self._class_weight_of_rows(logits, y)
        if class_weight is not None:
            weight = weight * class_weight
            if self.weight_normalization == "weights":
                weight = weight * self._normalization(class_weight)
        value = softmax_cross_entropy_(logits, y, weight)
        if self.logit_scale != 1.0:
            logits.mul_(self.logit_scale)
        return value

    def __call__(self, logits, y):
        if self.logit_scale != 1.0:
            logits = self.logit_scale * logits
        if self.offset is not None:
            logits = logits + self._tensor("offset", logits)
        if self.margin is not None:
            true_class = F.one_hot(y, logits.shape[1]).to(logits.dtype)
            logits = logits - true_class * self._tensor("margin", logits)[y, None]
        weight = self._class_weight_of_rows(logits, y)
        weight_inside = self.gamma > 0 and self.focal_form == "ldam_drw" and weight is not None
        if self.form == "sigmoid_bce":
            loss = self._sigmoid_bce(logits, y)
        elif self.form == "softmax_bce":
            loss = self._softmax_bce(logits, y)
        else:
            loss = F.cross_entropy(logits, y, reduction="none")  # -log p_y, torch's fused kernel
            if weight_inside:
                # LDAM-DRW: (1 - exp(-u))**gamma * u with u = w_y * (-log p_y).
                weighted = weight * loss
                positive = weighted > 0  # u = 0 (p_y = 1): loss 0, gradient kept finite
                safe = torch.where(positive, weighted, 1.0)
                loss = torch.where(positive, (-torch.expm1(-safe)) ** self.gamma * safe, 0.0)
            elif self.gamma > 0:
                loss = torch.exp(self.gamma * self._log_rest(logits, y, loss)) * loss
        if weight is not None:
            if not weight_inside:
                loss = loss * weight
            if self.weight_normalization == "weights":
                loss = loss * self._normalization(weight)
        return loss
