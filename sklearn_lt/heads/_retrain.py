"""Classifier re-training as in LORT's Table 1: one head, every knob of the unified formula.

The LORT paper (Lu et al. 2024, section 3.1, eq. 1) writes every classifier
re-training method on frozen features as one cross-entropy with four knobs:
a re-weighting factor per label, a logit function, a sampling ratio, and a
change of the logits at inference. :class:`RetrainedClassifier` exposes the
first three as parameters (``reweight``, ``logits``/``loss``, ``sampler``)
on the package's one trainer; the inference-time changes are heads of their
own that need no re-training (:class:`TauNormClassifier`,
:class:`LogitAdjustedClassifier`).
"""

import math
import textwrap
from dataclasses import dataclass
from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import HasMethods, Hidden, Interval, StrOptions

from ..sampling import InstanceBalancedSampler
from ..utils._deprecation import DEPRECATED, renamed_value
from ..utils._docstring import Substitution
from ..utils._docstring_entries import REBALANCED_ESTIMATOR, TRAINER_DOCS
from ._base import LazyRows
from ._linear_base import fit_base_classifier
from ._losses import RetrainingLoss, class_balanced_weights, ldam_margins, log_priors
from ._modules import (
    CosineLogits,
    LinearLogits,
    MaxNormLinearLogits,
    feature_scale,
    init_linear,
    l2_normalize,
)
from ._trained import TrainedHead, TrainingStart
from ._trainer import SOLVER_CONSTRAINTS, Callback, TrainingOptions

__all__ = ["RetrainedClassifier"]

LOSSES = (
    "cross_entropy",
    "focal",
    "ldam",
    "balanced_softmax",
    "logit_adjusted",
    "sigmoid_bce",
    "sigmoid_focal",
    "softmax_bce",
)
# RetrainingLoss's per-sample form of each loss (the softmax cross-entropy unless named).
_SIGMOID_LOSSES = ("sigmoid_bce", "sigmoid_focal")
_LOSS_FORMS = {"sigmoid_bce": "sigmoid_bce", "sigmoid_focal": "sigmoid_bce",
               "softmax_bce": "softmax_bce"}

# Measured defaults (validation sets of the fidelity suite, see the docstring).
_LINEAR_WEIGHT_DECAY = 1e-5


@dataclass(frozen=True, kw_only=True)
class RetrainingOptions(TrainingOptions):
    """:class:`TrainingOptions` with :class:`RetrainedClassifier`'s own resolved values.

    Attributes
    ----------
    logit_scale : float
        ``s`` of cosine logits and LDAM's margins.
    adjustment : float
        The logit-adjusted loss's ``tau``.
    """

    logit_scale: float
    adjustment: float


class DeferredReweighting(Callback):
    """DRW (Cao et al. 2019): the loss's class weights from its ``weight_from_epoch`` on.

    Tells the loss (:class:`RetrainingLoss`) the epoch about to run, before
    each SGD epoch.

    Parameters
    ----------
    loss : RetrainingLoss
    """

    def __init__(self, loss):
        self.loss = loss

    def on_epoch_begin(self, module, epoch):
        self.loss.set_epoch(epoch)


class MaxNormProjection(Callback):
    """MaxNorm's projected gradient descent: cap the module's rows along the SGD schedule.

    Calls :meth:`MaxNormLinearLogits.constrain` after each optimizer step
    (``every="step"``, Alshammari et al. 2022, eq. 4) or at the end of each
    epoch (``every="epoch"``, LTR-weight-balancing's ``utils/trainval.py``).
    SGD only: L-BFGS's line search would step outside the ball.

    Parameters
    ----------
    every : {"step", "epoch"}, default="step"
    """

    def __init__(self, every="step"):
        self.every = every

    def on_train_begin(self, module, options):
        if options.solver != "sgd":
            raise ValueError(
                f"{options.name} constrains its weights along the schedule (projected "
                "gradient descent): use solver='sgd'."
            )

    def on_batch_end(self, module, epoch):
        if self.every == "step":
            module.constrain()

    def on_epoch_end(self, module, epoch):
        # Before early stopping scores the epoch: the head's callbacks come first.
        if self.every == "epoch":
            module.constrain()
        return False


@Substitution(
    TRAINER_DOCS,
    estimator=REBALANCED_ESTIMATOR.override(
        description="Read with ``init=\"base\"``, or for ``max_norm``'s radius.\n"
        + textwrap.dedent(REBALANCED_ESTIMATOR.description)
    ),
    sampler=TRAINER_DOCS["sampler"].override(
        description="The sampling ratio; ``None`` is instance-balanced (the losses rebalance)."
    ),
)
class RetrainedClassifier(TrainedHead):
    """Classifier re-training on frozen features: LORT's unified formula (Table 1).

    The LORT paper (Lu et al. 2024, eq. 1) re-evaluates the re-training
    methods of the long-tailed literature on the same frozen features as one
    cross-entropy with knobs. This head turns them, on the trainer of
    :class:`CRTClassifier` (normalised features, L-BFGS or SGD). For a sample
    of class ``y`` with logits ``z`` (``logits``)::

        z'   = z + offset - margin_y * onehot(y)                    (loss)
        loss = w_y * (1 - p_y)**gamma * (-log p_y),  p = softmax(z') (loss, reweight)

    sampled by ``sampler``; the head predicts with ``argmax_j z_j``.

    ``logits`` (the logit function ``z``):

    - ``"linear"``: ``z = W x + b`` (the "vanilla FC" of the table);
    - ``"cosine"``: ``z_j = s * cos(w_j, x)``, ``s = logit_scale``, no bias
      (Gidaris & Komodakis 2018; the "vanilla cosine" classifier).

    ``loss`` (offsets of ``z`` during training, and the focal term):

    - ``"cross_entropy"``: none;
    - ``"focal"``: ``gamma`` (Lin et al. 2017, eq. 5, softmax form);
    - ``"ldam"``: ``margin_j = s * C / n_j**(1/4)`` on the true logit, the
      rarest class getting ``s * max_margin`` (Cao et al. 2019, eq. 13;
      official ``max_m=0.5``, ``s=30`` on cosine logits: exactly
      ``s * (cos_y - Delta_y)``);
    - ``"balanced_softmax"``: ``offset_j = log n_j`` (Ren et al. 2020, eq.
      4); the same minimiser as ``"logit_adjusted"`` with ``adjustment=1``
      (a softmax ignores the constant ``log N``);
    - ``"logit_adjusted"``: ``offset_j = tau * log pi_j``, ``tau =
      adjustment`` (Menon et al. 2021, eq. 10); the post-hoc rule is
      :class:`LogitAdjustedClassifier`;
    - ``"sigmoid_bce"``, ``"sigmoid_focal"``, ``"softmax_bce"``: binary
      cross-entropy instead of the softmax's, the class-balanced loss "with
      BCE" of the table: Cui et al.'s sigmoid loss (and its focal form, with
      ``gamma``), or the PyTorch port's BCE of softmax probabilities that
      LTR-weight-balancing uses (see :class:`heads.RetrainingLoss`). The head
      predicts with ``argmax_j z_j`` all the same.

    ``reweight`` (``w_y``): ``"class_balanced"`` weights each class by the
    inverse of its effective number of samples, ``(1 - beta) / (1 -
    beta**n_j)``, scaled to sum to the number of classes (Cui et al. 2019);
    ``reweight_from_epoch > 0`` defers it to that SGD epoch (DRW, Cao et al.
    2019).

    ``max_norm``: caps the norm of each weight row by projected gradient
    descent after every SGD step (MaxNorm, Alshammari et al. 2022, eq. 4;
    ``max_norm_every="epoch"``: once per epoch, as their code), with the
    official code's threshold relative to the norms of the
    classifier that LTWB's stage two fine-tunes: the base (``estimator``),
    whichever ``init`` training starts from (see :class:`MaxNormLinearLogits`).

    Every prior (``n_j``, ``pi_j = n_j / N``) comes from the training counts
    of the labels given to ``fit``, never from the sampler's draws. The
    sampling ratio (``sampler``) is instance-balanced by default: the
    methods above rebalance through the loss (cRT, the re-sampling row of
    the table, is :class:`CRTClassifier`).

    Read more in the :ref:`User Guide <retraining>`.

    Parameters
    ----------
    %(estimator)s
    init : {"random", "base", "prior"}, default="random"
        Where training starts: ``"random"`` re-initialises the classifier
        (as cRT); ``"base"`` continues from the weights of ``estimator``
        (as LORT and LTWB's MaxNorm fine-tuning); ``"prior"``, for the
        sigmoid losses (``"sigmoid_bce"``, ``"sigmoid_focal"``), is
        ``"random"`` with every bias at ``-log((1 - pi) / pi) = -log(C -
        1)``, ``pi = 1 / C``, and the bias exempt from weight decay, as Cui
        et al.'s code (``model_base.py``'s ``bias_initializer``,
        ``cifar_main.py``'s penalty without ``dense/bias``): each sigmoid
        starts at probability ``1 / C``, not 1/2, so the ``C - 1`` negative
        terms of a row do not swamp the first steps (Lin et al. 2017,
        section 4.1). Linear logits only.
    logits : {"linear", "cosine"}, default="linear"
        The logit function.
    logit_scale : float > 0, default=30.0
        ``s``, the scale of cosine logits, and the unit of LDAM's margins
        (official LDAM: 30).
    loss : {"cross_entropy", "focal", "ldam", "balanced_softmax", \
"logit_adjusted", "sigmoid_bce", "sigmoid_focal", "softmax_bce"}, \
default="balanced_softmax"
        The default is the strongest row of LORT's Table 1 that this head
        expresses on the validation sets (see Notes).
    gamma : float >= 0, default=2.0
        Focal loss's focusing parameter (``loss="focal"`` or
        ``"sigmoid_focal"``; Lin et al.'s default 2, where LDAM-DRW's and
        Cui et al.'s scripts use 1).
    focal_form : {"lin", "ldam_drw"}, default="lin"
        Where the class weight enters the focal loss (``loss="focal"`` with
        ``reweight``): ``"lin"``, Lin et al.'s ``w_y (1 - p_y)**gamma (-log
        p_y)``; ``"ldam_drw"``, LDAM-DRW's ``FocalLoss``, ``(1 -
        p_y**w_y)**gamma w_y (-log p_y)``.
    max_margin : float >= 0, default=0.5
        LDAM's margin of the rarest class, in units of ``logit_scale``
        (``loss="ldam"``; official 0.5).
    scale_linear_logits : bool, default=False
        Linear logits: multiply them by ``logit_scale`` inside the loss, as
        LDAM-DRW's ``LDAMLoss`` does whatever the layer (with
        ``loss="ldam"``: ``s * (z_y - Delta_y)``). ``False`` subtracts ``s *
        Delta_y`` from the unscaled logits: LDAM-DRW's loss at ``z / s``.
        Predictions (an arg max) do not change with the factor.
    adjustment : float, default=1.0
        ``tau``, the strength of the logit-adjusted loss's offset
        ``tau * log pi_j`` (``loss="logit_adjusted"``; Menon et al.'s 1).
    reweight : {"class_balanced"} or None, default=None
        Weight per class of the loss.
    beta : float in [0, 1), default=0.9999
        Class-balanced weights' hyper-parameter (Cui et al.'s value for
        CIFAR-LT, also LDAM-DRW's and LTWB's).
    weight_normalization : {"batch_size", "weights"}, default="batch_size"
        What the weighted losses of a batch are divided by (``reweight``):
        its number of rows, as Cui et al.'s code; or the sum of its rows'
        class weights, as PyTorch's ``cross_entropy(weight=w)`` in LDAM-DRW.
        Under full-batch training the two differ by a constant factor;
        ``"weights"`` is a mini-batch form (``solver="auto"`` picks SGD).
    reweight_from_epoch : int >= 0, default=0
        First SGD epoch with the weights (DRW); 0 weighs from the start.
        Cao et al. switch at epoch 160 of 200.
    max_norm : float in [0, 1] or None, default=None
        MaxNorm's relative threshold; ``None``: no cap. The radius is
        ``min_j ||w_j|| + max_norm * (max_j ||w_j|| - min_j ||w_j||)`` over
        the rows of the base (``estimator``, fitted if needed, also with
        ``init="random"``): 1 caps at the base's largest norm. Needs
        ``solver="sgd"`` and linear logits.
    max_norm_every : {"step", "epoch"}, default="step"
        When ``max_norm`` projects: after every SGD step (projected gradient
        descent, the paper's eq. 4), or once at the end of every epoch, as
        LTR-weight-balancing's code does (its ``train_model`` calls
        ``pgdFunc.PGD(model)`` after each training phase, in
        ``utils/trainval.py``).
    fit_intercept : bool, default=True
        Linear logits: learn a bias per class (``False`` keeps it at 0, at
        the base's with ``init="base"``, at ``-log(C - 1)`` with
        ``init="prior"``). Cosine logits have none.
    solver : {"auto", "lbfgs", "sgd"}, default="auto"
        ``"auto"`` is ``"sgd"`` for the methods defined by their schedule
        (MaxNorm's projection, deferred re-weighting, ``lr_schedule``),
        ``"lbfgs"`` otherwise.
        ``"lbfgs"``: full-batch L-BFGS to convergence on the loss that the
        sampler gives in expectation, deterministic. ``"sgd"``: mini-batches
        drawn by the sampler each epoch, SGD with momentum, cosine learning
        rate.
    %(sampler)s
    weight_decay : float >= 0 or "auto", default="auto"
        L2 penalty on the trained parameters, in the normalised units of the
        features. ``"auto"``: 1e-5 for linear logits, 0 for cosine logits
        (their loss does not depend on the norms of the weights, which a
        penalty would shrink without end).
    %(max_iter)s
    %(tol)s
    %(n_epochs)s
        Default 10.
    %(batch_size)s
    %(lr)s
        Default 4.0.
    %(momentum)s
    %(cosine_step)s
    lr_schedule : {"cosine", "ldam_drw"}, default="cosine"
        The learning rate along the SGD epochs: the per-epoch cosine
        (``cosine_step``), or LDAM-DRW's steps (``adjust_learning_rate`` of
        its ``cifar_train.py``): ``lr * e / 5`` over the first 5 epochs
        (``e`` from 1), then ``lr``, ``lr / 100`` once ``e > 0.8 *
        n_epochs``, ``lr / 10**4`` once ``e > 0.9 * n_epochs``: exactly the
        reference's 160 and 180 at its ``n_epochs=200`` (with
        ``reweight_from_epoch=160`` its DRW switch), the same fractions of
        other runs; the warm-up keeps its 5 epochs. A schedule:
        ``solver="auto"`` picks SGD.
    %(device)s
    %(random_state)s
    %(verbose)s
    scale : float > 0, default="deprecated"
        Deprecated since 0.2: the former name of ``logit_scale``; a value
        given here is used, with a ``FutureWarning``. Removed in 0.3.
    tau : float, default="deprecated"
        Deprecated since 0.2: the former name of ``adjustment``; a value
        given here is used, with a ``FutureWarning``. Removed in 0.3.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    class_counts_ : ndarray of shape (n_classes,)
    coef_ : ndarray or torch.Tensor of shape (n_classes, n_features)
        With cosine logits, ``s * w_j / ||w_j||``: the logits are
        ``X_normalised @ coef_.T``.
    intercept_ : ndarray or torch.Tensor of shape (n_classes,)
    loss_curve_ : list of float
    n_iter_ : int
    sampler_ : PowerSampler
    estimator_ : estimator
        The base: fitted on the training data (or the frozen one given), with
        ``init="base"`` or ``max_norm``; absent otherwise.
    n_features_in_ : int

    See Also
    --------
    CRTClassifier : Re-training with class-balanced sampling.
    LogitAdjustedClassifier : The post-hoc logit adjustment.
    heads.TABLE1_METHODS : Every row of LORT's Table 1 as an estimator.

    Notes
    -----
    The measurements behind the defaults (balanced accuracy on the
    validation sets of the fidelity suite):

    - ``logit_scale``: Cosine cross-entropy on the validation sets of the six
      feature sources of the fidelity suite (mean balanced accuracy over 3
      seeds): 0.700 at 8, 0.729 at 16, 0.742 at 30, 0.742 at 64, 0.726 at 128;
      LDAM: 0.713 at 16, 0.733 at 30, 0.740 at 64.
    - ``loss``: The default is the strongest row of LORT's Table 1 that this
      head expresses, on the validation sets of the fidelity suite (balanced
      accuracy, mean of seeds 0-2 over its seven sources of 10-26 classes;
      ``TABLE1_METHODS``): Balanced Softmax 0.819, class-balanced loss 0.808,
      MaxNorm 0.801, LDAM-DRW 0.783, focal 0.757, vanilla FC
      (``"cross_entropy"``, the former default) 0.756, vanilla cosine 0.746; of
      the other rows, post-hoc LA 0.820, cRT 0.806. On the 300 classes of
      ``many_class`` (seeds 0-1): Balanced Softmax 0.462, class-balanced 0.440,
      vanilla FC 0.299.
    - ``gamma``: on the validation sets 0.756 at 0.5, 0.758 at 1, 0.755 at 2:
      flat.
    - ``max_margin``: 0.733 on the validation sets, 0.687 at 1.
    - ``adjustment``: on the validation sets 0.793 at 0.5, 0.810 at 1, 0.793 at
      1.5.
    - ``beta``: on the validation sets 0.795 at 0.99, 0.805 at 0.999 and
      0.9999.
    - ``reweight_from_epoch``: On small training sets SGD from a random start
      needs far more steps than the default 10 epochs (cross-entropy DRW on the
      validation sets: 0.754 from epoch 8 of 10, 0.798 from 160 of 200, lr 10);
      fine-tuning the base (``init="base"``) with the weights deferred to epoch
      5 of 10 gives 0.787 at the default lr.
    - ``max_norm``: Fine-tuning the default base with class-balanced weights on
      the validation sets: 0.798 at 0 and at the official 0.1, 0.794 at 0.5,
      0.785 at 1 (the cap at the largest norm, the same as no cap).
    - ``weight_decay``: On the validation sets, 1e-6 / 1e-5 / 1e-4 / 1e-3:
      cross-entropy 0.763 / 0.754 / 0.710 / 0.605, Balanced Softmax 0.808 /
      0.810 / 0.795 / 0.738, class-balanced 0.802 / 0.805 / 0.796 / 0.751,
      focal - / 0.755 / 0.724 / 0.641.
    - ``lr``: On the validation sets, lr 1 / 2 / 4 / 10: MaxNorm (from the
      base, 10 epochs) 0.798 / 0.798 / 0.797 / 0.799, cross-entropy with DRW
      from epoch 5 (from the base) 0.768 / 0.781 / 0.787 / 0.793, LDAM-DRW from
      the base - / 0.764 / 0.773 / 0.777. 10 is the best there, but near the
      step where momentum SGD on a softmax of normalised features can diverge
      (``lr * L > 2 (1 + momentum)``, the curvature ``L`` up to 1/2, times the
      largest class weight).

    References
    ----------
    %(lort2024)s
    %(gidaris2018)s
    %(lin2017)s
    %(cao2019)s
    %(ren2020)s
    %(menon2021)s
    %(cui2019)s
    %(alshammari2022)s

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lt import RetrainedClassifier
    >>> rng = np.random.RandomState(0)
    >>> y = np.repeat([0, 1, 2], [200, 40, 8])
    >>> X = rng.normal(size=(len(y), 5)) + 2 * np.eye(5)[y]
    >>> bs = RetrainedClassifier(loss="balanced_softmax", random_state=0).fit(X, y)
    >>> cosine = RetrainedClassifier(logits="cosine", random_state=0).fit(X, y)
    >>> np.linalg.norm(cosine.coef_, axis=1).round(6)  # s * w_j / ||w_j||
    array([30., 30., 30.])
    >>> drw = RetrainedClassifier(loss="cross_entropy", reweight="class_balanced",
    ...                           reweight_from_epoch=8, random_state=0).fit(X, y)
    >>> drw.n_iter_  # SGD epochs: deferred re-weighting is a schedule
    10
    """

    _parameter_constraints = {
        **SOLVER_CONSTRAINTS,
        "estimator": [HasMethods(["fit"]), None],
        "init": [StrOptions({"random", "base", "prior"})],
        "logits": [StrOptions({"linear", "cosine"})],
        "logit_scale": [Interval(Real, 0, None, closed="neither")],
        "loss": [StrOptions(set(LOSSES))],
        "gamma": [Interval(Real, 0, None, closed="left")],
        "focal_form": [StrOptions({"lin", "ldam_drw"})],
        "max_margin": [Interval(Real, 0, None, closed="left")],
        "scale_linear_logits": ["boolean"],
        "adjustment": [Interval(Real, None, None, closed="neither")],
        "reweight": [StrOptions({"class_balanced"}), None],
        "beta": [Interval(Real, 0, 1, closed="left")],
        "weight_normalization": [StrOptions({"batch_size", "weights"})],
        "reweight_from_epoch": [Interval(Integral, 0, None, closed="left")],
        "max_norm": [Interval(Real, 0, 1, closed="both"), None],
        "max_norm_every": [StrOptions({"step", "epoch"})],
        "cosine_step": [StrOptions({"after_epoch", "before_epoch"})],
        "lr_schedule": [StrOptions({"cosine", "ldam_drw"})],
        "fit_intercept": ["boolean"],
        "solver": [StrOptions({"auto", "lbfgs", "sgd"})],
        "weight_decay": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "scale": [Interval(Real, 0, None, closed="neither"), Hidden(StrOptions({DEPRECATED}))],
        "tau": [Interval(Real, None, None, closed="neither"), Hidden(StrOptions({DEPRECATED}))],
    }
    _default_sampler = InstanceBalancedSampler
    _options_type = RetrainingOptions

    def __init__(
        self,
        estimator=None,
        *,
        init="random",
        logits="linear",
        logit_scale=30.0,
        loss="balanced_softmax",
        gamma=2.0,
        focal_form="lin",
        max_margin=0.5,
        scale_linear_logits=False,
        adjustment=1.0,
        reweight=None,
        beta=0.9999,
        weight_normalization="batch_size",
        reweight_from_epoch=0,
        max_norm=None,
        max_norm_every="step",
        fit_intercept=True,
        solver="auto",
        sampler=None,
        weight_decay="auto",
        max_iter=1000,
        tol=1e-6,
        n_epochs=10,
        batch_size="auto",
        lr=4.0,
        momentum=0.9,
        cosine_step="after_epoch",
        lr_schedule="cosine",
        device=None,
        random_state=None,
        verbose=0,
        scale=DEPRECATED,
        tau=DEPRECATED,
    ):
        self.estimator = estimator
        self.init = init
        self.logits = logits
        self.logit_scale = logit_scale
        self.loss = loss
        self.gamma = gamma
        self.focal_form = focal_form
        self.max_margin = max_margin
        self.scale_linear_logits = scale_linear_logits
        self.adjustment = adjustment
        self.reweight = reweight
        self.beta = beta
        self.weight_normalization = weight_normalization
        self.reweight_from_epoch = reweight_from_epoch
        self.max_norm = max_norm
        self.max_norm_every = max_norm_every
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.sampler = sampler
        self.weight_decay = weight_decay
        self.max_iter = max_iter
        self.tol = tol
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.momentum = momentum
        self.cosine_step = cosine_step
        self.lr_schedule = lr_schedule
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.scale = scale
        self.tau = tau

    @property
    def transforms_features(self):
        """Cosine logits normalise the features before the linear layer."""
        return self.logits == "cosine"

    # ------------------------------------------------------------------ fit
    def _training_options(self, X, counts):
        """The options of this fit: "auto" and the deprecated names resolved, the
        combination checked."""
        # torch's per-batch normalisation is a mini-batch form (full-batch, a constant factor).
        per_batch = self.weight_normalization == "weights" and self.reweight is not None
        scheduled = (
            self.max_norm is not None or self.reweight_from_epoch > 0 or per_batch
            or self.lr_schedule != "cosine"
        )
        solver = self.solver if self.solver != "auto" else ("sgd" if scheduled else "lbfgs")
        weight_decay = self.weight_decay
        if weight_decay == "auto":
            weight_decay = 0.0 if self.logits == "cosine" else _LINEAR_WEIGHT_DECAY
        if self.init != "base" and self.estimator is not None and self.max_norm is None:
            raise ValueError(
                f"estimator is only read with init='base' (init={self.init!r} "
                "re-initialises the classifier) or for max_norm's radius: set "
                "init='base' to start from it."
            )
        if self.init == "prior" and (self.loss not in _SIGMOID_LOSSES or self.logits != "linear"):
            raise ValueError(
                "init='prior' starts each sigmoid of a linear layer at probability 1 / C "
                f"(Cui et al.): use loss='sigmoid_bce' or 'sigmoid_focal' with "
                f"logits='linear', not loss={self.loss!r} with logits={self.logits!r} "
                "(a softmax ignores a bias common to all classes)."
            )
        if self.lr_schedule != "cosine" and self.cosine_step != "after_epoch":
            raise ValueError(
                f"cosine_step={self.cosine_step!r} steps the cosine schedule; "
                f"lr_schedule={self.lr_schedule!r} has its own epochs."
            )
        if self.max_norm is not None and self.logits == "cosine":
            raise ValueError(
                "max_norm caps the norms of linear weight rows; cosine logits do not "
                "depend on them: use logits='linear'."
            )
        if self.reweight_from_epoch > 0:
            if self.reweight is None:
                raise ValueError(
                    f"reweight_from_epoch={self.reweight_from_epoch} defers a re-weighting: "
                    "set reweight='class_balanced'."
                )
            if self.reweight_from_epoch >= self.n_epochs:
                raise ValueError(
                    f"reweight_from_epoch={self.reweight_from_epoch} is not below "
                    f"n_epochs={self.n_epochs}: the weights would never apply."
                )
        if solver == "lbfgs" and scheduled:
            what = "max_norm (a projection along the schedule)" if self.max_norm is not None else (
                "reweight_from_epoch (deferred re-weighting)" if self.reweight_from_epoch > 0
                else "weight_normalization='weights' (a division by each batch's weights)"
                if per_batch else f"lr_schedule={self.lr_schedule!r} (a learning rate)"
            )
            raise ValueError(f"{what} is defined by the SGD schedule: use solver='sgd'.")
        if solver == "lbfgs" and self.logits == "cosine" and weight_decay > 0:
            raise ValueError(
                "Cosine logits do not depend on the norms of the weights, which a "
                "penalty shrinks without end under L-BFGS: use weight_decay=0 (or "
                "solver='sgd', where weight decay acts as a larger step)."
            )
        name = type(self).__name__
        return super()._training_options(
            X,
            counts,
            solver=solver,
            weight_decay=float(weight_decay),
            # Warnings point at the user's fit (through _fit, _fit_and_set and fit).
            logit_scale=float(renamed_value(
                name, "scale", self.scale, "logit_scale", self.logit_scale, stacklevel=6
            )),
            adjustment=float(renamed_value(
                name, "tau", self.tau, "adjustment", self.adjustment, stacklevel=6
            )),
            lr_stepped_before=self.cosine_step == "before_epoch",
            lr_schedule=self.lr_schedule,
        )

    def _callbacks(self, start, loss, options):
        callbacks = []
        if self.reweight_from_epoch > 0:
            callbacks.append(DeferredReweighting(loss))
        if self.max_norm is not None:
            callbacks.append(MaxNormProjection(every=self.max_norm_every))
        return callbacks

    def _start(self, X, y_encoded, counts, rng, options):
        attributes = {}
        reference = None
        if self.init != "base" and self.max_norm is not None:
            # MaxNorm's radius is relative to the norms of the classifier that
            # LTWB's stage two fine-tunes (the instance-balanced base), never to
            # a random start's (all near the init's bound: every row capped there).
            base = fit_base_classifier(self.estimator, X, y_encoded, counts, random_state=rng)
            reference = base.coef
            attributes["estimator_"] = base.estimator
        if self.init == "base":
            base = fit_base_classifier(self.estimator, X, y_encoded, counts, random_state=rng)
            coef, intercept = base.coef, base.intercept
            y_encoded, counts = base.y_encoded, base.counts
            attributes["estimator_"] = base.estimator
        else:
            coef, intercept = init_linear(
                len(counts), X.shape[1], rng=rng, device=X.device, dtype=X.dtype
            )
            if self.logits == "linear":
                # init_linear draws the weights of normalised features.
                coef = coef / feature_scale(X)
            if self.init == "prior":  # Cui et al.: sigmoid(b) = pi = 1 / C
                intercept = torch.full_like(intercept, -math.log(len(counts) - 1))
            elif not self.fit_intercept:
                intercept = torch.zeros_like(intercept)
        inputs = X
        if self.logits == "cosine":
            module = CosineLogits(coef, options.logit_scale)
            # Normalised where read (a chunk, a batch: no normalised copy of X),
            # overflow-safe: F.normalize in the module squares float32 entries
            # (inf beyond ~1e19) and clamps norms at 1e-12.
            inputs = LazyRows(X, transform=l2_normalize)
        elif self.max_norm is not None:
            module = MaxNormLinearLogits(
                coef, intercept, feature_scale(X), threshold=self.max_norm,
                reference=reference, fit_intercept=self.fit_intercept,
                decay_intercept=self.init != "prior",
            )
        else:
            module = LinearLogits(
                coef, intercept, feature_scale(X), fit_intercept=self.fit_intercept,
                decay_intercept=self.init != "prior",
            )
        return TrainingStart(module, inputs, y_encoded, counts, attributes)

    def _loss(self, counts, options):
        n = counts.counts
        offset = margin = None
        if self.loss == "balanced_softmax":
            offset = log_priors(n)  # log n_j up to a constant
        elif self.loss == "logit_adjusted":
            offset = options.adjustment * log_priors(n)
        elif self.loss == "ldam":
            margin = options.logit_scale * ldam_margins(n, self.max_margin)
        logit_scale = 1.0
        if self.scale_linear_logits and self.logits == "linear":
            logit_scale = options.logit_scale  # LDAM-DRW's s * logits (cosine ones carry s)
        class_weight = None
        if self.reweight == "class_balanced":
            class_weight = class_balanced_weights(n, self.beta)
        return RetrainingLoss(
            offset=offset,
            margin=margin,
            gamma=self.gamma if self.loss in ("focal", "sigmoid_focal") else 0.0,
            class_weight=class_weight,
            weight_from_epoch=self.reweight_from_epoch,
            logit_scale=logit_scale,
            form=_LOSS_FORMS.get(self.loss, "cross_entropy"),
            focal_form=self.focal_form,
            weight_normalization=self.weight_normalization,
        )

    # -------------------------------------------------------------- predict
    def _logits(self, X, weights):
        if self.logits == "cosine":
            X = l2_normalize(X)
        return super()._logits(X, weights)
