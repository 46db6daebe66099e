"""The trainer's schedules against plain torch ports of the reference training loops (#25).

- MaxNorm's projection once per epoch (LTR-weight-balancing's ``utils/trainval.py``: SGD over
  the epoch's batches, then ``pgdFunc.PGD(model)``) or after every step (ours, eq. 4);
- the cosine stepped before each epoch, as the official cRT and LWS loop (``run_networks.py``:
  ``scheduler.step()`` at the start of every epoch, torch's ``CosineAnnealingLR``).
"""

import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from _support import long_tailed
from numpy.testing import assert_allclose

from sklearn_lt import CRTClassifier, RetrainedClassifier
from sklearn_lt.heads import MaxNormLinearLogits
from sklearn_lt.heads._modules import LinearLogits
from sklearn_lt.heads._retrain import MaxNormProjection
from sklearn_lt.heads._trainer import TrainingOptions, train
from sklearn_lt.metrics import ClassCounts
from sklearn_lt.sampling import ClassBalancedSampler, InstanceBalancedSampler
from sklearn_lt.sampling._probabilities import class_indices, draw_indices, target_counts


def epoch_batches(y, n_epochs, batch_size, seed, sampler=None):
    """The rows of every SGD step, drawn as the trainer draws them."""
    rng = np.random.RandomState(seed)
    counts = np.bincount(y)
    per_class = class_indices(y, len(counts))
    sampler = sampler or InstanceBalancedSampler()
    epochs = []
    for epoch in range(n_epochs):
        p = sampler.class_probabilities(counts, epoch=epoch, n_epochs=n_epochs)
        order = draw_indices(per_class, target_counts(p, len(y)), rng)
        epochs.append([order[i : i + batch_size] for i in range(0, len(order), batch_size)])
    return epochs


def reference_max_norm(W, b, X, y, batches, *, lr, momentum, weight_decay, radius, every,
                       stepped_before=False):
    """Plain torch: SGD with momentum and weight decay on W, b; a per-epoch cosine (stepped
    before each epoch with ``stepped_before``, as the reference loops' ``scheduler.step()``);
    the rows of W above ``radius`` scaled back onto it (MaxNorm_via_PGD.PGD, the bias's
    threshold infinite) after every step or after every epoch."""
    W = W.clone().requires_grad_(True)
    b = b.clone().requires_grad_(True)
    optimizer = torch.optim.SGD([W, b], lr=lr, momentum=momentum, weight_decay=weight_decay)
    n_epochs = len(batches)

    def project():
        with torch.no_grad():
            norms = torch.linalg.norm(W, dim=1)
            over = norms > radius
            W[over] = W[over] * (radius / norms[over])[:, None]

    for epoch, steps in enumerate(batches):
        t = epoch + 1 if stepped_before else epoch
        optimizer.param_groups[0]["lr"] = 0.5 * lr * (1 + math.cos(math.pi * t / n_epochs))
        for rows in steps:
            rows = torch.as_tensor(rows)
            loss = F.cross_entropy(X[rows] @ W.T + b, torch.as_tensor(y)[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if every == "step":
                project()
        if every == "epoch":
            project()
    return W.detach(), b.detach()


@pytest.mark.parametrize("every", ["step", "epoch"])
def test_max_norm_projection_schedule_matches_the_reference_loop(every):
    X, y = long_tailed()
    X = torch.as_tensor(X)
    rng = np.random.RandomState(1)
    W0 = torch.as_tensor(rng.normal(size=(5, X.shape[1])) * np.array([[3.0], [2], [1], [.5], [.2]]))
    b0 = torch.as_tensor(rng.normal(size=5))
    module = MaxNormLinearLogits(W0, b0, 1.0, threshold=0.3)
    options = TrainingOptions(solver="sgd", sampler=InstanceBalancedSampler(), weight_decay=1e-3,
                              n_epochs=4, batch_size=64, lr=0.05, momentum=0.9)
    train(module, X, y, np.bincount(y), loss=lambda z, t: F.cross_entropy(z, t, reduction="none"),
          options=options, rng=np.random.RandomState(0), callbacks=[MaxNormProjection(every)])
    W, b = reference_max_norm(W0, b0, X, y, epoch_batches(y, 4, 64, seed=0), lr=0.05,
                              momentum=0.9, weight_decay=1e-3, radius=module.radius, every=every)
    assert_allclose(module.weight.detach().numpy(), W.numpy(), rtol=1e-10, atol=1e-12)
    assert_allclose(module.bias.detach().numpy(), b.numpy(), rtol=1e-10, atol=1e-12)
    assert np.linalg.norm(W.numpy(), axis=1).max() <= module.radius * (1 + 1e-12)


def test_max_norm_every_is_a_parameter_of_the_head():
    X, y = long_tailed()
    heads = {every: RetrainedClassifier(init="base", max_norm=0.1, loss="cross_entropy",
                                        reweight="class_balanced", max_norm_every=every,
                                        random_state=0).fit(X, y)
             for every in ("step", "epoch")}
    assert not np.allclose(heads["step"].coef_, heads["epoch"].coef_)
    # Both end on the ball (the last projection ends the last epoch either way).
    scale = np.sqrt(np.mean(np.sum(X**2, axis=1)))
    base = heads["step"].estimator_.coef_ * scale
    norms = np.linalg.norm(base, axis=1)
    radius = norms.min() + 0.1 * (norms.max() - norms.min())
    for head in heads.values():
        assert np.linalg.norm(head.coef_ * scale, axis=1).max() <= radius * (1 + 1e-9)
    with pytest.raises(ValueError, match="'max_norm_every' parameter"):
        RetrainedClassifier(max_norm=0.1, max_norm_every="batch").fit(X, y)


def reference_crt_loop(W, b, X, y, batches, *, lr, momentum, weight_decay):
    """The official cRT/LWS loop in plain torch: ``CosineAnnealingLR(optimizer, n_epochs)``
    stepped at the start of every epoch, then SGD over the epoch's batches."""
    W = W.clone().requires_grad_(True)
    b = b.clone().requires_grad_(True)
    optimizer = torch.optim.SGD([W, b], lr=lr, momentum=momentum, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, len(batches), eta_min=0)
    rates = []
    for steps in batches:
        with warnings.catch_warnings():  # torch warns: the scheduler steps before the optimizer
            warnings.simplefilter("ignore", UserWarning)
            scheduler.step()
        rates.append(optimizer.param_groups[0]["lr"])
        for rows in steps:
            rows = torch.as_tensor(rows)
            loss = F.cross_entropy(X[rows] @ W.T + b, torch.as_tensor(y)[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return W.detach(), b.detach(), rates


def test_cosine_stepped_before_each_epoch_matches_the_official_crt_loop():
    X, y = long_tailed()
    X = torch.as_tensor(X)
    rng = np.random.RandomState(2)
    W0, b0 = torch.as_tensor(rng.normal(size=(5, X.shape[1]))), torch.as_tensor(rng.normal(size=5))
    module = LinearLogits(W0, b0, 1.0)
    options = TrainingOptions(solver="sgd", sampler=ClassBalancedSampler(), weight_decay=5e-4,
                              n_epochs=3, batch_size=128, lr=0.2, momentum=0.9,
                              lr_stepped_before=True)
    train(module, X, y, np.bincount(y), loss=lambda z, t: F.cross_entropy(z, t, reduction="none"),
          options=options, rng=np.random.RandomState(0))
    batches = epoch_batches(y, 3, 128, seed=0, sampler=ClassBalancedSampler())
    W, b, rates = reference_crt_loop(W0, b0, X, y, batches, lr=0.2, momentum=0.9,
                                     weight_decay=5e-4)
    assert_allclose(rates, [0.15, 0.05, 0.0], atol=1e-15)  # the first epoch already below lr
    assert_allclose(module.weight.detach().numpy(), W.numpy(), rtol=1e-10, atol=1e-12)
    assert_allclose(module.bias.detach().numpy(), b.numpy(), rtol=1e-10, atol=1e-12)


def test_crt_cosine_step_is_a_parameter():
    X, y = long_tailed()
    counts = ClassCounts(*np.unique(y, return_counts=True))
    fits = {}
    for step in ("after_epoch", "before_epoch"):
        head = CRTClassifier(solver="sgd", cosine_step=step, random_state=0)
        assert head._training_options(torch.as_tensor(X), counts).lr_stepped_before == (
            step == "before_epoch")
        fits[step] = head.fit(X, y).coef_
    assert not np.allclose(fits["after_epoch"], fits["before_epoch"])
    # L-BFGS has no schedule: the option changes nothing there.
    lbfgs = [CRTClassifier(cosine_step=step, random_state=0).fit(X, y).coef_
             for step in ("after_epoch", "before_epoch")]
    assert_allclose(lbfgs[0], lbfgs[1])


def test_retrained_cosine_step_is_a_parameter():
    # LTR-weight-balancing's stage two steps its cosine before each epoch, as cRT's loop.
    X, y = long_tailed()
    counts = ClassCounts(*np.unique(y, return_counts=True))
    fits = {}
    for step in ("after_epoch", "before_epoch"):
        head = RetrainedClassifier(solver="sgd", n_epochs=3, cosine_step=step, random_state=0)
        assert head._training_options(torch.as_tensor(X), counts).lr_stepped_before == (
            step == "before_epoch")
        fits[step] = head.fit(X, y).coef_
    assert not np.allclose(fits["after_epoch"], fits["before_epoch"])
    lbfgs = [RetrainedClassifier(solver="lbfgs", cosine_step=step, random_state=0).fit(X, y).coef_
             for step in ("after_epoch", "before_epoch")]
    assert_allclose(lbfgs[0], lbfgs[1])
    with pytest.raises(ValueError, match="'cosine_step' parameter"):
        RetrainedClassifier(cosine_step="mid_epoch").fit(X, y)
