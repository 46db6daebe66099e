"""The one in-memory minibatch trainer behind cRT, LWS, LORT and SoftmaxClassifier.

Features already sit on the device as one tensor; each step gathers its
mini-batch by index (no DataLoader, no per-sample collation). Every epoch's
rows come from a package sampler, so class-balanced, square-root and
progressively-balanced training are one argument away.
"""

import math
from numbers import Integral, Real

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils._param_validation import Interval, StrOptions

from ..sampling import PowerSampler
from ..sampling._probabilities import class_indices, draw_indices, target_counts

# Parameters every trained head shares (scikit-learn parameter validation).
TRAINER_CONSTRAINTS = {
    "sampler": [PowerSampler, None],
    "n_epochs": [Interval(Integral, 1, None, closed="left")],
    "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
    "lr": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
    "momentum": [Interval(Real, 0, 1, closed="left")],
    "weight_decay": [Interval(Real, 0, None, closed="left")],
    "device": [str, torch.device, None],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
}


def resolve_batch_size(batch_size, n_samples):
    """``"auto"`` is ``min(512, max(32, n_samples // 16))``.

    512 is the official cRT batch; small datasets get at least 16 steps per
    epoch instead of one or two.
    """
    if batch_size == "auto":
        return int(min(512, max(32, n_samples // 16)))
    return int(batch_size)


def resolve_lr(lr, batch_size):
    """``"auto"``: the official cRT rate, 0.2 at batch 512, scaled linearly with the batch.

    The linear scaling rule (Goyal et al. 2017): 0.0125 at batch 32.
    """
    if lr == "auto":
        return 0.2 * batch_size / 512
    return float(lr)


def cosine_lr(lr, epoch, n_epochs):
    """Cosine annealing to zero, stepped per epoch (torch's ``CosineAnnealingLR``)."""
    return 0.5 * lr * (1 + math.cos(math.pi * epoch / n_epochs))


def init_linear(n_classes, n_features, *, generator, device, dtype):
    """torch's ``nn.Linear`` initialisation, drawn on the CPU for any device.

    Drawing on the CPU makes the initial weights identical on CPU and CUDA
    for the same seed.
    """
    bound = 1 / math.sqrt(n_features)
    coef = torch.empty(n_classes, n_features, dtype=dtype).uniform_(
        -bound, bound, generator=generator
    )
    intercept = torch.empty(n_classes, dtype=dtype).uniform_(
        -bound, bound, generator=generator
    )
    return coef.to(device), intercept.to(device)


def torch_generator(rng):
    """A CPU ``torch.Generator`` seeded from a numpy ``RandomState``."""
    return torch.Generator().manual_seed(int(rng.randint(np.iinfo(np.int32).max)))


def train(
    forward,
    params,
    X,
    y_encoded,
    class_counts,
    *,
    sampler,
    n_epochs,
    batch_size,
    lr,
    momentum,
    weight_decay,
    label_smoothing=0.0,
    rng,
    verbose=0,
    name="head",
):
    """Minimise cross-entropy of ``forward(X_batch)`` over ``params`` by SGD.

    SGD with momentum and weight decay, cosine learning rate per epoch (as the
    official cRT/LWS configs and LORT's code); the loss is torch's
    cross-entropy with optional label smoothing, whose target is
    ``(1 - eps) * onehot + eps / C`` (LORT's retargeting, eq. of section 4).

    Parameters
    ----------
    forward : callable
        Maps a batch of features (tensor) to logits (n_batch, n_classes).
    params : list of torch.Tensor
        Leaf tensors to optimise (``requires_grad`` is set here).
    X : torch.Tensor of shape (n_samples, n_features)
    y_encoded : ndarray of shape (n_samples,)
        Class index of each row.
    class_counts : ndarray of shape (n_classes,)
    sampler : PowerSampler
        Draws each epoch's rows (an epoch has ``len(X)`` rows unless the
        sampler sets ``n_samples``).
    rng : numpy.random.RandomState
        One stream for the whole run.

    Returns
    -------
    losses : list of float
        Mean training loss of each epoch.
    """
    for p in params:
        p.requires_grad_(True)
    optimizer = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    y_t = torch.as_tensor(y_encoded, device=X.device)
    # Classes absent from this training set (a CV fold of a frozen model's
    # classes) are neither drawn nor counted in the sampling probabilities.
    present = np.flatnonzero(np.asarray(class_counts) > 0)
    per_class = class_indices(y_encoded, len(class_counts))
    per_class = [per_class[j] for j in present]
    n_rows = sampler.n_samples or len(y_encoded)
    losses = []
    for epoch in range(n_epochs):
        for group in optimizer.param_groups:
            group["lr"] = cosine_lr(lr, epoch, n_epochs)
        p = sampler.class_probabilities(
            class_counts[present], epoch=epoch, n_epochs=n_epochs
        )
        order = draw_indices(per_class, target_counts(p, n_rows), rng)
        order = torch.from_numpy(order).to(X.device, non_blocking=True)
        total = torch.zeros((), device=X.device, dtype=X.dtype)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            loss = F.cross_entropy(forward(X[rows]), y_t[rows], label_smoothing=label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total.add_(loss.detach(), alpha=len(rows))
        losses.append(float(total) / len(order))
        if verbose:
            print(f"[{name}] epoch {epoch + 1}/{n_epochs} loss {losses[-1]:.4f}")
    for p in params:
        p.requires_grad_(False)
    return losses

