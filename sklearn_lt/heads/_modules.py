"""The modules of logits that the trainer optimises, and how they start.

Each module maps rows of its inputs to logits and gives back the head as one
linear layer (``linear_weights``). They train in normalised units: the
features over their RMS row norm (see :mod:`._trainer`), so that step sizes
and penalties mean the same at every feature scale.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._base import row_chunks

__all__ = [
    "CosineLogits",
    "LinearLogits",
    "MaxNormLinearLogits",
    "ScaledLogits",
    "feature_scale",
    "init_linear",
    "l2_normalize",
    "row_norms",
    "torch_generator",
]


def torch_generator(rng):
    """A CPU ``torch.Generator`` seeded from a numpy ``RandomState``."""
    return torch.Generator().manual_seed(int(rng.randint(np.iinfo(np.int32).max)))


def init_linear(n_classes, n_features, *, rng, device, dtype):
    """torch's ``nn.Linear`` initialisation (of normalised features), drawn on the CPU.

    Drawing on the CPU makes the initial weights identical on CPU and CUDA
    for the same seed.
    """
    generator = torch_generator(rng)
    bound = 1 / math.sqrt(n_features)
    coef = torch.empty(n_classes, n_features, dtype=dtype).uniform_(
        -bound, bound, generator=generator
    )
    intercept = torch.empty(n_classes, dtype=dtype).uniform_(-bound, bound, generator=generator)
    return coef.to(device), intercept.to(device)


def row_norms(V):
    """L2 norm of each row, without overflow or underflow of the squares.

    The plain norm squares the entries: float32 rows near 1e20 overflow to
    inf, rows near 1e-25 underflow to 0, and rows below ~3e-16 lose bits to
    subnormal squares (float64: ~1e-146). Only those rows (and zero rows)
    are recomputed, in float64 after dividing by their largest entry.
    """
    norms = torch.linalg.vector_norm(V, dim=1, keepdim=True)
    finfo = torch.finfo(V.dtype)
    # Below sqrt(tiny / eps), squares near the row's norm are subnormal.
    inexact = math.sqrt(finfo.tiny / finfo.eps)
    bad = (~torch.isfinite(norms) | (norms < inexact))[:, 0]
    if bool(bad.any()):
        rows = V[bad].to(torch.float64)
        peak = rows.abs().amax(dim=1, keepdim=True)
        exact = peak * torch.linalg.vector_norm(rows / peak.clamp_min(1e-308), dim=1, keepdim=True)
        norms[bad] = exact.to(V.dtype)
    return norms


def l2_normalize(X):
    """Rows of ``X`` over their :func:`row_norms`; zero rows stay zero."""
    return X / row_norms(X).clamp_min(torch.finfo(X.dtype).tiny)


def feature_scale(X):
    """RMS row norm ``sqrt(mean_i ||x_i||**2)`` of ``X`` (1 for an all-zero or empty ``X``).

    Row norms in ``X``'s dtype (overflow-safe, see :func:`row_norms`), their
    squares summed in float64: no temporary as large as ``X``. (A float64
    norm of float32 rows converts every entry: 37 ms at 2e4 x 512, a fifth
    of a 2-epoch cRT fit.) The norms are divided by the largest first, as
    :func:`row_norms` divides by the largest entry: squares of float64 norms
    overflow above ~1e154 and underflow below ~1e-162.

    Examples
    --------
    >>> import torch
    >>> from sklearn_lt.heads._modules import feature_scale
    >>> feature_scale(torch.tensor([[3e200, 4e200], [0.0, 0.0]], dtype=torch.float64))
    3.535533905932737e+200
    """
    if not len(X):
        return 1.0
    # Chunks of rows made contiguous (a copy for strided views only): a strided
    # row's norm rounds differently in the last bits, and a fit must not depend
    # on how X lies in memory.
    norms = torch.cat([row_norms(block.contiguous()) for _, block in row_chunks(X, 1)])
    norms = norms[:, 0].to(torch.float64)
    peak = float(norms.max())
    if not peak > 0:
        return 1.0
    scale = peak * float(torch.sqrt(torch.mean((norms / peak) ** 2)))
    return scale if math.isfinite(scale) and scale > 0 else 1.0


# Room left between the features' scale and the ends of their dtype for the
# weights of normalised features (the logits of training are x @ w, the
# weights in the features' units w / scale): up to 1e4, far above what the
# weak default penalties let them reach.
_SCALE_HEADROOM = 1e4


def check_trainable_scale(scale, dtype):
    """Refuse a feature scale too close to ``dtype``'s range for a linear head to train.

    Near float32's ends (1e-38, 3e38) the weights in the units of the
    features (normalised weights over the scale) overflow, or so do the
    logits of training (rows times normalised weights): ``coef_`` came out
    inf, or L-BFGS failed inside torch. Within ``_SCALE_HEADROOM`` of either
    end is refused: float32 trains from 1.2e-34 to 3.4e34.

    Examples
    --------
    >>> import torch
    >>> from sklearn_lt.heads._modules import check_trainable_scale
    >>> check_trainable_scale(1e30, torch.float64)
    >>> check_trainable_scale(1e36, torch.float32)
    Traceback (most recent call last):
    ...
    ValueError: The features' RMS row norm, 1e+36, is within a factor 1e+04 of the largest...
    """
    finfo = torch.finfo(dtype)
    low, high = float(finfo.tiny) * _SCALE_HEADROOM, float(finfo.max) / _SCALE_HEADROOM
    if not low <= scale <= high:
        end = "largest" if scale > high else "smallest normal"
        name = str(dtype).removeprefix("torch.")
        raise ValueError(
            f"The features' RMS row norm, {scale:.3g}, is within a factor "
            f"{_SCALE_HEADROOM:.0e} of the {end} {name} ({low:.3g} .. {high:.3g} trains): "
            "the weights in the features' units (which scale as 1 / norm) or the logits "
            "of training would overflow. Convert the features to float64 or rescale them."
        )


class LinearLogits(nn.Module):
    """Linear logits ``x @ coef.T + intercept``, trained on normalised features.

    The parameters are those of the features divided by ``scale`` (their
    RMS row norm): ``weight = coef * scale``, so that step sizes and weight
    decay do not depend on the scale of the features (see the module
    docstring).

    Parameters
    ----------
    coef : torch.Tensor of shape (n_classes, n_features)
    intercept : torch.Tensor of shape (n_classes,)
        Starting weights, in the units of the raw features.
    scale : float
        RMS row norm of the training features.
    fit_intercept : bool, default=True
        ``False`` keeps the intercept fixed (not trained).
    decay_intercept : bool, default=True
        ``False`` exempts the intercept from weight decay (Cui et al.'s
        sigmoid losses): :meth:`no_weight_decay` names it.
    """

    def __init__(self, coef, intercept, scale, *, fit_intercept=True, decay_intercept=True):
        super().__init__()
        check_trainable_scale(scale, coef.dtype)
        self.scale = float(scale)
        self.weight = nn.Parameter(coef * self.scale)
        if fit_intercept:
            self.bias = nn.Parameter(intercept.clone())
        else:
            self.register_buffer("bias", intercept.clone())
        self.decay_intercept = decay_intercept

    def no_weight_decay(self):
        """Names of the parameters that the trainer's weight decay leaves alone.

        timm's convention: the trainer penalises every other parameter.

        Returns
        -------
        names : set of str
        """
        return set() if self.decay_intercept else {"bias"}

    def forward(self, X):
        return torch.addmm(self.bias, X, self.weight.T, alpha=1 / self.scale)

    def linear_weights(self):
        """``(coef, intercept)`` in the units of the raw features.

        Returns
        -------
        coef : torch.Tensor of shape (n_classes, n_features)
        intercept : torch.Tensor of shape (n_classes,)
        """
        return self.weight.detach() / self.scale, self.bias.detach().clone()


class ScaledLogits(nn.Module):
    """Learnable weight scaling: ``f_j * (x @ w_j + b_j)`` with ``W``, ``b`` frozen.

    Kang et al.'s LWS scales the whole logit of each class, bias included.
    The scales train in units of the RMS of one base logit over the training
    rows (``logit_scale``), for the same reason as :class:`LinearLogits`;
    they start at 1.

    ``forward`` takes rows of the features, or, with ``on_logits=True``, rows
    of the base logits computed once (``W`` and ``b`` are frozen, so every
    epoch would recompute the same products).
    """

    def __init__(self, coef, intercept, logit_scale, *, on_logits):
        super().__init__()
        self.register_buffer("coef", coef)
        self.register_buffer("intercept", intercept)
        self.logit_scale = float(logit_scale)
        self.on_logits = on_logits
        self.weight = nn.Parameter(torch.full_like(intercept, self.logit_scale))

    def forward(self, inputs):
        logits = inputs if self.on_logits else torch.addmm(self.intercept, inputs, self.coef.T)
        return logits * (self.weight / self.logit_scale)

    def scales(self):
        """The learned ``f_j``."""
        return self.weight.detach() / self.logit_scale

    def linear_weights(self):
        """``(f[:, None] * W, f * b)``: the head as one linear layer."""
        f = self.scales()
        return f[:, None] * self.coef, f * self.intercept


class CosineLogits(nn.Module):
    """Cosine logits ``s * cos(w_j, x)``: features and weight rows L2-normalised, no bias.

    The logits do not depend on the scale of the features nor on the norms
    of the weight rows: the classifier of Gidaris & Komodakis (2018) and
    LDAM's normed linear layer (Cao et al. 2019). The rows start at norm
    ``s`` (in the directions of ``coef``): there the gradient of a logit
    with respect to a row has the norm of a unit feature, as for the linear
    head on normalised features, so that SGD's step sizes mean the same.

    Parameters
    ----------
    coef : torch.Tensor of shape (n_classes, n_features)
        Starting directions of the weight rows.
    logit_scale : float
        ``s``, the scale of the logits (``RetrainedClassifier``'s
        ``logit_scale``; ``scale`` elsewhere is the features' RMS norm).
    """

    def __init__(self, coef, logit_scale):
        super().__init__()
        self.logit_scale = float(logit_scale)
        # l2_normalize, not F.normalize (norms clamped at 1e-12): the rows of a
        # base fitted on features of norm 1e24 have norms near 1e-24.
        self.weight = nn.Parameter(self.logit_scale * l2_normalize(coef))

    def forward(self, X):
        return self.logit_scale * (F.normalize(X, dim=1) @ F.normalize(self.weight, dim=1).T)

    def linear_weights(self):
        """``(s * w_j / ||w_j||, 0)``: the logits of L2-normalised features.

        Returns
        -------
        coef : torch.Tensor of shape (n_classes, n_features)
        intercept : torch.Tensor of shape (n_classes,)
            Zeros.
        """
        coef = self.logit_scale * F.normalize(self.weight.detach(), dim=1)
        return coef, torch.zeros_like(coef[:, 0])


class MaxNormLinearLogits(LinearLogits):
    """Linear logits whose weight rows are capped in norm after every step (MaxNorm).

    Alshammari et al. (2022, LTWB, eq. 4) learn under ``||w_j|| <= r`` by
    projected gradient descent: after each SGD step, every row above the
    radius is scaled back onto it (the bias is not constrained). As in the
    official code (``MaxNorm_via_PGD``), the radius is set once from the
    weights of the classifier it fine-tunes, ``r = min_j ||w_j|| + threshold
    * (max_j ||w_j|| - min_j ||w_j||)``, so ``threshold`` in [0, 1] is free of
    the weights' scale.

    ``reference`` gives those weights when training does not start from them
    (a random start: its norms are the initialisation's, all near one value,
    and would cap every row there).

    Parameters
    ----------
    coef : torch.Tensor of shape (n_classes, n_features)
    intercept : torch.Tensor of shape (n_classes,)
        Starting weights, in the units of the raw features.
    scale : float
        RMS row norm of the training features.
    threshold : float in [0, 1]
        The radius's place between the smallest and the largest row norm.
    reference : torch.Tensor of shape (n_classes, n_features), default=None
        The weights the radius is set from (raw units); ``None``: ``coef``.
    fit_intercept : bool, default=True
        ``False`` keeps the intercept fixed (not trained).
    decay_intercept : bool, default=True
        ``False`` exempts the intercept from weight decay.
    """

    def __init__(self, coef, intercept, scale, *, threshold, reference=None,
                 fit_intercept=True, decay_intercept=True):
        super().__init__(coef, intercept, scale, fit_intercept=fit_intercept,
                         decay_intercept=decay_intercept)
        rows = self.weight.detach() if reference is None else reference * self.scale
        norms = row_norms(rows)[:, 0]
        self.radius = float(norms.min() + threshold * (norms.max() - norms.min()))

    @torch.no_grad()
    def constrain(self):
        """Project every weight row onto the ball of radius ``self.radius``."""
        norms = torch.linalg.vector_norm(self.weight, dim=1, keepdim=True)
        shrink = torch.where(norms > self.radius, self.radius / norms, torch.ones_like(norms))
        self.weight.mul_(shrink)
