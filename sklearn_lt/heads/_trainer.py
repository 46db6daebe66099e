"""The one trainer behind every re-trained head: a module of logits, a loss, a solver.

Every trained head of the package is the LORT paper's unified formula (its
eq. 1) on frozen features: a logit function (an ``nn.Module`` here), a loss
per sample (cross-entropy, possibly smoothed, re-weighted or with logit
offsets), a sampling ratio (a sampler of :mod:`sklearn_lt.sampling`) and,
for some heads, a change of the logits at inference. This module owns the
optimisation; the heads own the formula.

Scale. Features made elsewhere come at any scale: post-ReLU network features
have row norms of 20-30, sentence embeddings norm 1. A fixed step size is
stable for one scale only. The modules here therefore train on the features
divided by their RMS row norm ``s = sqrt(mean_i ||x_i||**2)``: for plain SGD
this is exactly a step of ``lr / s**2`` on the weights of the raw features
(and weight decay ``weight_decay * s**2``), the rule by which scikit-learn's
SAG/SAGA derive their step from the squared row norms. The fitted function,
hence every prediction, is then the same for ``X`` and ``c * X``, whatever
``c > 0``; step sizes and penalties are stated in these normalised units.

Two solvers:

- ``"lbfgs"``: full-batch L-BFGS to convergence on the loss the sampler
  induces *in expectation* (each class weighted by its sampling
  probability over its frequency): deterministic, converged, no step size.
- ``"sgd"``: the papers' procedure, mini-batches drawn by the sampler every
  epoch, SGD with momentum and weight decay, cosine learning rate per epoch.

What a head hands the trainer: its module, its loss, one
:class:`TrainingOptions` (its parameters of this fit, every ``"auto"``
resolved) and a list of :class:`Callback` objects, the one way into the SGD
loop (skorch's ``Callback`` is the model): early stopping on held-out rows,
deferred re-weighting, MaxNorm's projection and the CV heads' recording of
every epoch are callbacks.
"""

import math
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from ..sampling import PowerSampler, ProgressivelyBalancedSampler
from ..sampling._probabilities import group_rows
from ._base import row_chunks
from ._losses import CrossEntropy
from ._view_groups import ViewGroups

__all__ = [
    "SOLVER_CONSTRAINTS",
    "Callback",
    "StopAfter",
    "TrainingOptions",
    "auto_weight_decay",
    "cross_entropy",
    "resolve_batch_size",
    "train",
]

# Parameters of the trained heads (scikit-learn parameter validation).
SOLVER_CONSTRAINTS = {
    "solver": [StrOptions({"lbfgs", "sgd"})],
    "sampler": [PowerSampler, None],
    "weight_decay": [Interval(Real, 0, None, closed="left")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "tol": [Interval(Real, 0, None, closed="left")],
    "n_epochs": [Interval(Integral, 1, None, closed="left")],
    "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
    "lr": [Interval(Real, 0, None, closed="neither")],
    "momentum": [Interval(Real, 0, 1, closed="left")],
    "device": [str, torch.device, None],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
}


def auto_weight_decay(counts):
    """``min(1, C / 100) / N``: the penalty of ``weight_decay="auto"`` (cRT).

    scikit-learn's ``LogisticRegression(C=1)`` penalises the mean loss by
    ``1 / N`` (in the normalised units of unit-norm features): the prior
    fades as rows come in. A fixed penalty does not, and at many classes it
    over-regularises: with 1e-4 cRT fell 0.025 below that logistic
    regression at 1,000 classes and 17,250 rows (a converged fit: the
    stopping rule was not the cause). ``1 / N`` from 100 classes on, and
    ``C / (100 N)`` below, where the validation sets of the fidelity suite
    preferred a weaker penalty (``C`` the classes present, ``N`` the rows).

    Examples
    --------
    >>> from sklearn_lt.heads._trainer import auto_weight_decay
    >>> float(auto_weight_decay([500, 300, 200])), float(auto_weight_decay([10] * 200))
    (3e-05, 0.0005)
    """
    counts = np.asarray(counts, dtype=np.float64)
    n_classes = int((counts > 0).sum())
    return min(n_classes, 100) / (100 * counts.sum())


def resolve_batch_size(batch_size, n_samples):
    """``"auto"`` is ``min(512, max(32, n_samples // 16))``."""
    if batch_size == "auto":
        return int(min(512, max(32, n_samples // 16)))
    return int(batch_size)


@dataclass(frozen=True, kw_only=True)
class TrainingOptions:
    """What the trainer runs, for one fit: the head's parameters with every ``"auto"`` resolved.

    A head builds it once per fit from its parameters and the data
    (``TrainedHead._training_options``) and hands it to :func:`train`, as
    scikit-learn's ``LogisticRegression`` resolves its options before its
    solvers run. Frozen: nothing along the fit changes it.

    Attributes
    ----------
    solver : {"lbfgs", "sgd"}
    sampler : PowerSampler
        The sampling ratio (the head's default where its parameter is ``None``).
    weight_decay : float
    max_iter : int, default=1000
    tol : float, default=1e-6
        L-BFGS's budget and gradient tolerance.
    n_epochs : int, default=10
    batch_size : int, default=512
        SGD's schedule length and rows per step (``"auto"`` resolved, see
        :func:`resolve_batch_size`).
    lr : float, default=1.0
    momentum : float, default=0.9
    lr_stepped_before : bool, default=False
        Step the cosine before each epoch (see :func:`cosine_lr`).
    lr_schedule : {"cosine", "ldam_drw"}, default="cosine"
        The learning rate along the epochs: :func:`cosine_lr` or
        :func:`ldam_drw_lr` (see :func:`epoch_lr`).
    verbose : int, default=0
    name : str, default="head"
        The head's name in the printed log.

    Examples
    --------
    >>> from sklearn_lt.heads._trainer import TrainingOptions
    >>> from sklearn_lt.sampling import ClassBalancedSampler
    >>> TrainingOptions(solver="sgd", sampler=ClassBalancedSampler(), weight_decay=0.0).n_epochs
    10
    """

    solver: str
    sampler: object
    weight_decay: float
    max_iter: int = 1000
    tol: float = 1e-6
    n_epochs: int = 10
    batch_size: int = 512
    lr: float = 1.0
    momentum: float = 0.9
    lr_stepped_before: bool = False
    lr_schedule: str = "cosine"
    verbose: int = 0
    name: str = "head"


class Callback:
    """A hook into :func:`train` (modelled on skorch's ``Callback``); every method is optional.

    :func:`train` calls, for each callback of its ``callbacks`` list in turn:
    ``on_train_begin`` once (both solvers), then with ``solver="sgd"``
    ``on_epoch_begin`` before each epoch, ``on_batch_end`` after each
    optimizer step and ``on_epoch_end`` after each epoch, and
    ``on_train_end`` once at the end (both solvers). L-BFGS has no epochs:
    a callback that needs them refuses it in ``on_train_begin``.

    To stop training: ``on_epoch_end`` returns True; the epoch just run is
    the last (the other callbacks still see its end). The cosine schedule
    keeps its length ``n_epochs``: stopping cuts it, it does not shorten it.

    Examples
    --------
    >>> from sklearn_lt.heads._trainer import Callback
    >>> class PrintEpoch(Callback):
    ...     def on_epoch_end(self, module, epoch):
    ...         print("epoch", epoch, "done")
    """

    def on_train_begin(self, module, options):
        """Before training: ``module`` at its starting weights, ``options`` the run's."""

    def on_epoch_begin(self, module, epoch):
        """Before SGD epoch ``epoch`` (from 0)."""

    def on_batch_end(self, module, epoch):
        """After every SGD step (the parameters just updated) of epoch ``epoch``."""

    def on_epoch_end(self, module, epoch):
        """After SGD epoch ``epoch`` (from 0); return True to stop training there."""
        return False

    def on_train_end(self, module):
        """After training (the last epoch, the stopping one or L-BFGS's end)."""


class StopAfter(Callback):
    """Stop SGD after ``n_epochs`` epochs of a longer schedule (a chosen stopping epoch).

    Parameters
    ----------
    n_epochs : int >= 1

    Examples
    --------
    >>> from sklearn_lt.heads._trainer import StopAfter
    >>> [StopAfter(2).on_epoch_end(None, epoch) for epoch in range(3)]
    [False, True, True]
    """

    def __init__(self, n_epochs):
        self.n_epochs = n_epochs

    def on_epoch_end(self, module, epoch):
        return epoch + 1 >= self.n_epochs


def cosine_lr(lr, epoch, n_epochs, *, stepped_before=False):
    """Cosine annealing to zero, stepped once per epoch (torch's ``CosineAnnealingLR``).

    ``stepped_before=True`` steps the schedule *before* each epoch, as the
    official LWS code does: the first epoch already runs below ``lr`` and
    the last one at 0.
    """
    t = epoch + 1 if stepped_before else epoch
    return 0.5 * lr * (1 + math.cos(math.pi * t / n_epochs))


def ldam_drw_lr(lr, epoch, n_epochs):
    """LDAM-DRW's step schedule: 5 epochs of linear warm-up, then ``lr``, x0.01, x0.0001.

    A port of ``adjust_learning_rate`` in LDAM-DRW's ``cifar_train.py``
    (Cao et al. 2019, section 5): with the 1-based epoch ``e = epoch + 1``,
    ``lr * e / 5`` while ``e <= 5``, then ``lr * 1e-4`` once ``e > 0.9 *
    n_epochs``, ``lr * 1e-2`` once ``e > 0.8 * n_epochs``, ``lr`` between.
    The reference runs 200 epochs with ``e > 180`` and ``e > 160``: the same
    steps exactly at ``n_epochs=200``, as fractions of the run elsewhere; the
    warm-up keeps its 5 epochs (and, as there, wins over the steps in a run
    of 6 epochs or fewer).

    Examples
    --------
    >>> from sklearn_lt.heads._trainer import ldam_drw_lr
    >>> [ldam_drw_lr(1.0, epoch, 10) for epoch in range(10)]
    [0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 1.0, 1.0, 0.01, 0.0001]
    """
    e = epoch + 1
    if e <= 5:
        return lr * e / 5
    if 10 * e > 9 * n_epochs:  # e > 0.9 n_epochs, in integers (exact at 200: e > 180)
        return lr * 0.0001
    if 10 * e > 8 * n_epochs:  # e > 0.8 n_epochs (at 200: e > 160)
        return lr * 0.01
    return lr


def epoch_lr(options, epoch):
    """The learning rate of SGD epoch ``epoch`` (from 0) under ``options``' schedule.

    ``options.lr_schedule``: ``"cosine"`` is :func:`cosine_lr` (stepped
    before the epoch with ``options.lr_stepped_before``), ``"ldam_drw"``
    :func:`ldam_drw_lr`.

    Examples
    --------
    >>> from sklearn_lt.heads._trainer import TrainingOptions, epoch_lr
    >>> from sklearn_lt.sampling import InstanceBalancedSampler
    >>> options = TrainingOptions(solver="sgd", sampler=InstanceBalancedSampler(),
    ...                           weight_decay=0.0, n_epochs=4, lr_schedule="cosine")
    >>> [epoch_lr(options, epoch) for epoch in range(4)]
    [1.0, 0.8535533905932737, 0.5, 0.14644660940672627]
    """
    if options.lr_schedule == "ldam_drw":
        return ldam_drw_lr(options.lr, epoch, options.n_epochs)
    return cosine_lr(
        options.lr, epoch, options.n_epochs, stepped_before=options.lr_stepped_before
    )


def cross_entropy(label_smoothing=0.0):
    """Per-sample cross-entropy, optionally smoothed (LORT's retargeting): a
    :class:`~sklearn_lt.heads._losses.CrossEntropy`."""
    return CrossEntropy(label_smoothing)


def _expected_class_weights(sampler, counts):
    """Per-class weights of the loss that sampling with ``sampler`` gives in expectation.

    Drawing class ``j`` with probability ``p_j`` weighs each of its samples by
    ``p_j / n_j`` against plain averaging (``n_j / N``); classes absent from
    the data get weight 0.
    """
    if isinstance(sampler, ProgressivelyBalancedSampler):
        raise ValueError(
            "Progressively-balanced sampling changes every epoch: use solver='sgd' with it."
        )
    counts = np.asarray(counts, dtype=np.float64)
    present = counts > 0
    p = np.zeros_like(counts)
    p[present] = sampler.class_probabilities(counts[present])
    weights = np.zeros_like(counts)
    weights[present] = p[present] / (counts[present] / counts.sum())
    return weights


def _no_weight_decay(module):
    """Names of the parameters the module exempts from weight decay (timm's convention)."""
    return module.no_weight_decay() if hasattr(module, "no_weight_decay") else set()


def _l2_penalty(module, weight_decay):
    exempt = _no_weight_decay(module)
    decayed = (p for name, p in module.named_parameters() if name not in exempt)
    return 0.5 * weight_decay * sum((p**2).sum() for p in decayed)


def _sgd_param_groups(module):
    """SGD's trained parameters, those exempt from weight decay in a group of their own."""
    exempt = _no_weight_decay(module)
    trained = [(name, p) for name, p in module.named_parameters() if p.requires_grad]
    groups = [{"params": [p for name, p in trained if name not in exempt]}]
    if any(name in exempt for name, _ in trained):
        groups.append({"params": [p for name, p in trained if name in exempt], "weight_decay": 0.0})
    return groups


# L-BFGS reduces the largest gradient entry at least this much from the start.
GRADIENT_FLOOR = 0.1

# A full-batch pass reads each chunk's logits six times (max, exp, sum, scale,
# gather, the product back): on CPU, chunks of at most ``_PASS_ELEMENTS`` logits
# (16 MiB of float32) are faster than the memory budget's 64 MiB, and no fewer
# than ``_PASS_MIN_ROWS`` rows keep the products efficient (``bench_scale.py
# --trade-offs``; :func:`_fit_lbfgs`). Smaller chunks were not faster where the
# logits are smaller: each chunk costs its own calls (docs/benchmarks.md, the
# trade-offs section). Read at call time (the trade-offs benchmark sets them).
_PASS_ELEMENTS = 2**22
_PASS_MIN_ROWS = 2048


def _pass_rows(n_classes):
    """Rows per chunk of an L-BFGS pass on the CPU (``row_chunks``' ``cpu_rows``)."""
    return max(_PASS_MIN_ROWS, _PASS_ELEMENTS // max(n_classes, 1))


def _backward_chunk(logits, loss, y, row_weight):
    """Backpropagate ``sum_i row_weight_i * loss_i`` over a chunk's (or a batch's)
    ``logits``; return that sum (a detached 0-d tensor: no device sync).

    A softmax cross-entropy (``loss.closed_form_gradient``) writes its
    gradient into the logits in place and backpropagates it through the
    module: no autograd graph of the loss, one exponential per logit
    (:func:`~sklearn_lt.heads._losses.softmax_cross_entropy_`). The modules'
    last operation (an ``addmm``, a product) does not keep its output for its
    backward, so the logits may be overwritten (autograd would refuse one that
    did). Other losses go through autograd.
    """
    if getattr(loss, "closed_form_gradient", False):
        with torch.no_grad():
            gradient = logits.detach()
            value = loss.weighted_sum_and_gradient_(gradient, y, row_weight)
        logits.backward(gradient)
        return value
    part = (loss(logits, y) * row_weight).sum()
    part.backward()
    return part.detach()


def _fit_lbfgs(module, inputs, y_t, sample_weight, loss, *, weight_decay, max_iter, tol):
    """Full-batch L-BFGS with strong-Wolfe line search on the weighted mean loss.

    The loss and its gradient are accumulated over chunks of rows
    (:func:`row_chunks`), so memory is bounded by one chunk of logits and
    their gradient whatever the number of rows: on CPU chunks of
    :func:`_pass_rows` rows (at most 16 MiB of float32 logits, at least 2,048
    rows); on a GPU the memory budget's (64 MiB of logits). One evaluation at
    115,846 x 256-d, 1,000 classes, one thread: 0.98 s in the rule's chunks
    of 4,194 rows (43 MiB beyond X), 1.17 s in the budget's 16,384 (85 MiB),
    1.22 s in one chunk of all rows (465 MiB); 1,024-4,194 rows within 4%
    (``bench_scale.py --trade-offs``).
    """
    params = list(module.parameters())
    total_weight = float(sample_weight.sum())
    n_classes = module(inputs[:1]).shape[1]
    cpu_rows = _pass_rows(n_classes)
    row_weight = sample_weight / total_weight
    optimizer = torch.optim.LBFGS(
        params,
        lr=1,
        max_iter=max_iter,
        max_eval=2 * max_iter,
        tolerance_grad=tol,
        tolerance_change=1e-12,
        history_size=20,
        line_search_fn="strong_wolfe",
    )
    losses = []
    evaluated_at = [None]  # the parameters of the last evaluation

    def closure():
        # torch's L-BFGS asks again for the point its last line search ended
        # on (each step starts with a closure call): that pass is saved, its
        # loss is losses[-1] and its gradient still in .grad.
        at = torch.cat([p.detach().reshape(-1) for p in params])
        if evaluated_at[0] is not None and torch.equal(at, evaluated_at[0]):
            return torch.tensor(losses[-1], dtype=inputs.dtype)
        evaluated_at[0] = at
        optimizer.zero_grad(set_to_none=False)
        total = torch.zeros((), dtype=torch.float64, device=inputs.device)  # synced once
        for rows, block in row_chunks(inputs, n_classes, cpu_rows=cpu_rows):
            total += _backward_chunk(module(block), loss, y_t[rows], row_weight[rows])
        value = float(total)
        penalty = _l2_penalty(module, weight_decay)
        if weight_decay > 0:
            penalty.backward()
        losses.append(value + float(penalty.detach()) if weight_decay > 0 else value)
        return torch.tensor(losses[-1], dtype=inputs.dtype)

    # torch's first trial step is 1 / ||g||_1, which shrinks with the number of
    # parameters: at 300-1,000 classes the line search spent 4 passes over the data
    # growing it. One iteration from scipy's L-BFGS-B first step, 1 / ||g||_2, then
    # the rest with the usual unit step (the history carries over).
    closure()
    grad = torch.cat([p.grad.reshape(-1) for p in params])
    magnitudes = grad.abs()
    l1, l2, largest = float(magnitudes.sum()), float(grad.norm()), float(magnitudes.max())
    # The gradient test is against min(tol, a tenth of the largest entry at the
    # start): the entries of a mean loss shrink with the number of classes (and
    # the features' dimension), and at 8,142 classes they start below 1e-4, where
    # an absolute tol alone stopped the fit before its first step.
    optimizer.param_groups[0]["tolerance_grad"] = min(tol, GRADIENT_FLOOR * largest)
    if max_iter > 1 and l2 > 0:
        optimizer.param_groups[0].update(lr=max(l1, 1.0) / l2, max_iter=1)
        optimizer.step(closure)
        optimizer.param_groups[0].update(lr=1, max_iter=max_iter - 1)
    optimizer.step(closure)
    state = optimizer.state[params[0]]
    return losses, int(state.get("n_iter", 0))


def _fit_sgd(module, inputs, y_encoded, counts, loss, options, rng, callbacks, views=None):
    """Sampler-driven mini-batch SGD with momentum, weight decay and a per-epoch cosine.

    With ``views`` (:class:`ViewGroups`), the sampler draws images, and each
    epoch reads one view of every image, drawn anew (the references' data
    loaders augment every image afresh at each epoch). Each step backpropagates
    its batch's mean loss through :func:`_backward_chunk`, as the L-BFGS passes
    do (a softmax cross-entropy's gradient in closed form).
    """
    optimizer = torch.optim.SGD(
        _sgd_param_groups(module), lr=options.lr, momentum=options.momentum,
        weight_decay=options.weight_decay,
    )
    y_t = torch.as_tensor(y_encoded, device=inputs.device)
    # Classes absent from this training set (a CV fold of a frozen model's
    # classes) are neither drawn nor counted in the sampling probabilities.
    present = np.flatnonzero(np.asarray(counts) > 0)
    labels = y_encoded if views is None else views.labels  # what is drawn: rows or images
    grouped = group_rows(labels, counts)  # by class (absent classes have none)
    sizes = np.bincount(labels, minlength=len(counts))[present]
    sampler, n_epochs, batch_size = options.sampler, options.n_epochs, options.batch_size
    losses = []
    for epoch in range(n_epochs):
        for callback in callbacks:
            callback.on_epoch_begin(module, epoch)
        lr = epoch_lr(options, epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        # The sampler's epoch, in its order: batches are consecutive runs of it.
        order = sampler.epoch_indices(grouped, sizes, rng, epoch=epoch, n_epochs=n_epochs)
        if views is not None:  # the images drawn, each at its view of this epoch
            order = views.pick(rng)[order]
        order = torch.from_numpy(order).to(inputs.device, non_blocking=True)
        total = torch.zeros((), device=inputs.device, dtype=inputs.dtype)
        # A batch's mean loss, as row weights.
        mean_weight = torch.full((batch_size,), 1 / batch_size, dtype=inputs.dtype,
                                 device=inputs.device)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            if len(rows) < batch_size:  # the epoch's last batch
                mean_weight = mean_weight.new_full((len(rows),), 1 / len(rows))
            optimizer.zero_grad(set_to_none=True)
            batch_loss = _backward_chunk(module(inputs[rows]), loss, y_t[rows], mean_weight)
            optimizer.step()
            for callback in callbacks:
                callback.on_batch_end(module, epoch)
            total.add_(batch_loss.detach(), alpha=len(rows))
        losses.append(float(total) / len(order))
        if options.verbose:
            print(f"[{options.name}] epoch {epoch + 1}/{n_epochs} loss {losses[-1]:.4f}")
        # Every callback sees the epoch's end; any one answering True stops here.
        stops = [bool(callback.on_epoch_end(module, epoch)) for callback in callbacks]
        if any(stops):
            break
    return losses


def train(module, inputs, y_encoded, counts, *, loss, options, rng, callbacks=(), groups=None):
    """Train ``module``'s parameters to minimise ``loss`` on ``inputs``; return the loss curve.

    Parameters
    ----------
    module : torch.nn.Module
        Maps rows of ``inputs`` to logits ``(n, n_classes)``; its parameters
        with ``requires_grad`` are trained in place.
    inputs : torch.Tensor of shape (n_samples, ...)
        The rows the module reads (features, or precomputed logits).
    y_encoded : ndarray of shape (n_samples,)
        Class index of each row.
    counts : ndarray of shape (n_classes,)
        Training samples per class (before any resampling); with ``groups``
        only its length is read: the sampler counts images.
    loss : callable
        ``loss(logits, y) -> (n,)`` per-sample losses.
    options : TrainingOptions
        The solver, the sampling ratio (drawn each epoch with SGD, as
        expected class weights with L-BFGS), the penalty and the schedule.
    rng : numpy.random.RandomState
        One stream for the whole run (SGD's draws).
    callbacks : sequence of Callback, default=()
        Called in order at each point of the run (see :class:`Callback`):
        what changes along the schedule (deferred re-weighting, MaxNorm's
        projection) and what watches it (early stopping, recording).
    groups : array-like of shape (n_samples,), default=None
        The image of each row when the rows are augmented views of images
        (``transform_views``); an image's views share its label. SGD then
        reads one view of each image per epoch, drawn anew, and the sampler
        counts images (:class:`~sklearn_lt.heads._view_groups.ViewGroups`);
        L-BFGS weighs each row ``1 / (views of its image)``, so that every
        image counts once.

    Returns
    -------
    losses : list of float
        The mean training loss of each epoch (SGD) or of each L-BFGS
        evaluation (penalty included).
    n_iter : int
        Epochs run (SGD) or L-BFGS iterations.
    """
    counts = np.asarray(counts)
    views = None if groups is None else ViewGroups(groups, y_encoded)
    if views is not None:
        counts = views.class_counts(len(counts))
    for callback in callbacks:
        callback.on_train_begin(module, options)
    with torch.enable_grad():
        if options.solver == "lbfgs":
            class_weight = _expected_class_weights(options.sampler, counts)
            y_t = torch.as_tensor(y_encoded, device=inputs.device)
            sample_weight = torch.as_tensor(
                class_weight, dtype=inputs.dtype, device=inputs.device
            )[y_t]
            if views is not None:  # every image weighs one row, whatever its views
                sample_weight = sample_weight * torch.as_tensor(
                    views.row_weights(), dtype=inputs.dtype, device=inputs.device
                )
            losses, n_iter = _fit_lbfgs(
                module,
                inputs,
                y_t,
                sample_weight,
                loss,
                weight_decay=options.weight_decay,
                max_iter=options.max_iter,
                tol=options.tol,
            )
            if options.verbose:
                print(f"[{options.name}] L-BFGS: {n_iter} iterations, loss {losses[-1]:.6f}")
        else:
            losses = _fit_sgd(
                module, inputs, y_encoded, counts, loss, options, rng, callbacks, views
            )
            n_iter = len(losses)
    for callback in callbacks:
        callback.on_train_end(module)
    return losses, n_iter
