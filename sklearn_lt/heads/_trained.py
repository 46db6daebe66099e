"""The base of the heads trained by the shared trainer: start, fit, kept epoch."""

import copy
import warnings
from typing import NamedTuple

import numpy as np
import torch
from sklearn.base import _fit_context
from sklearn.utils import check_random_state

from ..metrics import ClassCounts
from ..sampling import InstanceBalancedSampler
from ..utils import validate_features, validate_labels
from ..utils._array import feature_names
from ._base import FittedLinear, LinearHead, chunked_argmax
from ._cv import split_scores
from ._linear_base import fit_base_classifier
from ._modules import (
    LinearLogits,
    feature_scale,
    init_linear,
)
from ._trainer import (
    SOLVER_CONSTRAINTS,
    cross_entropy,
    train,
)

__all__ = ["TrainedHead", "TrainingStart"]


class TrainingStart(NamedTuple):
    """Where a trained head starts: the module to train, the rows it reads, the labels."""

    module: object
    inputs: object
    y_encoded: np.ndarray
    counts: ClassCounts
    attributes: dict


class TrainedHead(LinearHead):
    """A linear head whose weights come out of :func:`~sklearn_lt.heads._trainer.train`.

    Subclasses say where training starts (``_start``: the module of logits,
    its initial weights, the rows it reads), which loss it minimises
    (``_loss``), the default sampler, and what else they record
    (``_fitted_attributes``).
    """

    _parameter_constraints = dict(SOLVER_CONSTRAINTS)
    _default_sampler = InstanceBalancedSampler
    # LWS's official schedule steps the cosine before each epoch.
    _lr_stepped_before = False

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, X_val=None, y_val=None):
        """Fit the head on features ``X`` and labels ``y``.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)
            Frozen features (float32 or float64; other dtypes become float).
        y : array-like or torch.Tensor of shape (n_samples,)
            Class labels; at least two classes.
        X_val, y_val : array-like or torch.Tensor, default=None
            Held-out rows (e.g. a balanced validation set) for early stopping,
            with ``solver="sgd"``: the schedule runs in full and the head keeps
            the weights of the epoch, 0 being the starting weights, with the
            best balanced accuracy on them (scikit-learn's
            ``HistGradientBoostingClassifier`` takes validation data the same
            way). ``validation_scores_`` and ``best_epoch_`` record it.
            A DataFrame ``X_val`` must have ``X``'s columns in ``X``'s order,
            and ``y_val`` labels of ``y`` (none in common is an error, some
            unknown a warning).

        Returns
        -------
        self : object
            The fitted head.
        """
        if (X_val is None) != (y_val is None):
            raise ValueError("Pass both X_val and y_val, or neither.")
        if X_val is None:
            return self._fit_and_set(X, y)
        if self._solver() != "sgd":
            raise ValueError(
                f"X_val and y_val choose an epoch of solver='sgd'; solver={self.solver!r} "
                "converges instead."
            )
        # X's column names, for X_val's to be checked against (read by position).
        return self._fit_and_set(X, y, validation=(X_val, y_val, feature_names(X)))

    def _solver(self):
        """The solver that ``fit`` runs (subclasses resolve an ``"auto"``)."""
        return self.solver

    def _fit(self, X, y_encoded, counts, on_epoch_end=None, validation=None):
        rng = check_random_state(self.random_state)
        start = self._start(X, y_encoded, counts, rng)
        sampler = self.sampler if self.sampler is not None else self._default_sampler()
        best = None
        if validation is not None:
            best = _BestEpoch(self, X, validation, start)
            on_epoch_end = best.chain(on_epoch_end)
        losses, n_iter = train(
            start.module,
            start.inputs,
            start.y_encoded,
            start.counts.counts,
            loss=self._loss(start.counts),
            solver=self.solver,
            sampler=sampler,
            weight_decay=self.weight_decay,
            rng=rng,
            max_iter=self.max_iter,
            tol=self.tol,
            n_epochs=self.n_epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            momentum=self.momentum,
            lr_stepped_before=self._lr_stepped_before,
            on_epoch_end=on_epoch_end,
            verbose=self.verbose,
            name=type(self).__name__,
        )
        attributes = {"loss_curve_": losses, "n_iter_": n_iter, "sampler_": sampler}
        if best is not None:
            start.module.load_state_dict(best.state)
            attributes.update(validation_scores_=best.scores, best_epoch_=best.epoch)
        coef, intercept = start.module.linear_weights()
        attributes.update(start.attributes)
        attributes.update(self._fitted_attributes(start.module))
        return FittedLinear(coef, intercept, start.counts, attributes)

    def _start(self, X, y_encoded, counts, rng):
        """A freshly initialised linear layer (cRT re-initialises the classifier)."""
        coef, intercept = init_linear(
            len(counts), X.shape[1], rng=rng, device=X.device, dtype=X.dtype
        )
        scale = feature_scale(X)
        # init_linear draws the weights of normalised features: divide back.
        module = LinearLogits(
            coef / scale, intercept, scale, fit_intercept=getattr(self, "fit_intercept", True)
        )
        if not getattr(self, "fit_intercept", True):
            module.bias.zero_()
        return TrainingStart(module, X, y_encoded, counts, {})

    def _loss(self, counts):
        """Per-sample cross-entropy (subclasses smooth or re-weight it)."""
        return cross_entropy()

    def _fitted_attributes(self, module):
        return {}


class _BestEpoch:
    """Early stopping on held-out rows: the state of the epoch with the best balanced accuracy.

    Scores the starting weights (epoch 0) at once, then every epoch, from the
    module's weights as one linear layer; ties keep the earliest epoch.
    """

    def __init__(self, head, X, validation, start):
        X_val, y_val, names = validation
        checker = copy.copy(head)
        checker.n_features_in_ = X.shape[1]
        vars(checker).pop("feature_names_in_", None)  # a previous fit's
        if names is not None:
            checker.feature_names_in_ = names
            # Other names: scikit-learn's own error below; the same ones reordered:
            # this one, naming both orders.
            val_names = feature_names(X_val)
            if (
                val_names is not None
                and sorted(val_names) == sorted(names)
                and not np.array_equal(val_names, names)
            ):
                raise ValueError(
                    f"X_val's columns {val_names.tolist()} are not X's "
                    f"{names.tolist()} in the same order: pass X_val[X.columns]."
                )
        self.X = validate_features(checker, X_val, reset=False, device=X.device).to(X.dtype)
        classes, encoded, _ = validate_labels(y_val, len(self.X), min_classes=1)
        known = np.isin(classes, start.counts.classes)
        if not known.any():
            raise ValueError(
                f"y_val shares no label with y: y_val has {classes.tolist()}, y has "
                f"{start.counts.classes.tolist()}. Every epoch would score 0; pass "
                "validation rows of the training classes."
            )
        if not known.all():
            warnings.warn(
                f"y_val has labels {classes[~known].tolist()} that y lacks (the head's "
                f"classes are {start.counts.classes.tolist()}): the head never predicts "
                "them, which lowers the score of every epoch alike.",
                UserWarning,
                stacklevel=5,
            )
        self.y = classes[encoded]
        self.counts = start.counts
        self.scores, self.epoch, self.state = [], 0, None
        self.record(-1, start.module)

    def record(self, epoch, module):
        coef, intercept = module.linear_weights()
        # Chunk by chunk: no n_val x C logits.
        index = chunked_argmax(
            self.X, lambda block: torch.addmm(intercept, block, coef.T), len(coef)
        ).cpu().numpy()
        (score,) = split_scores(
            self.y, [self.counts.classes[index]], self.counts, "all",
            many_threshold=100, few_threshold=20,
        )
        if not self.scores or score > max(self.scores):
            self.epoch = epoch + 1
            self.state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        self.scores.append(float(score))

    def chain(self, on_epoch_end):
        """``on_epoch_end`` that records first, then calls ``on_epoch_end`` (if any)."""

        def both(epoch, module):
            self.record(epoch, module)
            if on_epoch_end is not None:
                on_epoch_end(epoch, module)

        return both




class _RebalancingTrainedHead(TrainedHead):
    """A trained head that starts from the base classifier's weights."""

    def _base(self, X, y_encoded, counts, rng):
        return fit_base_classifier(self.estimator, X, y_encoded, counts, random_state=rng)
