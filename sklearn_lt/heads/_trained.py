"""The base of the heads trained by the shared trainer: start, fit, kept epoch."""

import copy
import warnings
from typing import NamedTuple

import numpy as np
import torch
from sklearn.base import _fit_context
from sklearn.utils import check_random_state

from .._counts import ClassCounts
from ..sampling import InstanceBalancedSampler
from ..utils._array import feature_names, validate_features, validate_labels
from ._base import FittedLinear, LinearHead, chunked_argmax
from ._scoring import split_scores
from ._trainer import (
    SOLVER_CONSTRAINTS,
    Callback,
    TrainingOptions,
    cross_entropy,
    resolve_batch_size,
    train,
)
from ._view_groups import ViewGroups

__all__ = ["EpochWeights", "TrainedHead", "TrainingStart"]


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
    (``_loss``), how their parameters resolve into the fit's
    :class:`~sklearn_lt.heads._trainer.TrainingOptions`
    (``_training_options``), which callbacks change the schedule
    (``_callbacks``), the default sampler, and what else they record
    (``_fitted_attributes``).
    """

    _parameter_constraints = dict(SOLVER_CONSTRAINTS)
    _default_sampler = InstanceBalancedSampler
    # LWS's official schedule steps the cosine before each epoch.
    _lr_stepped_before = False
    # The options type of this head's fits (a head may add its own resolved values).
    _options_type = TrainingOptions

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, X_val=None, y_val=None, *, groups=None):
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
        groups : array-like or torch.Tensor of shape (n_samples,), default=None
            The image of each row when the rows are augmented views of the
            training images (``transform_views``'s second value; the views of
            an image share its label, ``y[groups]``). Training then follows the
            references' stage two, which augments every image afresh at each
            epoch: with ``solver="sgd"`` each epoch reads *one* view of every
            image, drawn anew, and the sampler counts images, not views; with
            ``solver="lbfgs"`` each row weighs ``1 / (views of its image)``, so
            that every image counts once. ``class_counts_`` and what derives
            from it (the sampler's probabilities, ``weight_decay="auto"``,
            ``batch_size="auto"``, the loss's class counts) count images.
            ``LORTClassifier``'s early stopping holds out whole images.
            ``None``: every row is an image. See :ref:`augmented-views`.

        Returns
        -------
        self : object
            The fitted head.
        """
        if (X_val is None) != (y_val is None):
            raise ValueError("Pass both X_val and y_val, or neither.")
        if X_val is None:
            return self._fit_and_set(X, y, groups=groups)
        # X's column names, for X_val's to be checked against (read by position).
        return self._fit_and_set(
            X, y, validation=(X_val, y_val, feature_names(X)), groups=groups
        )

    def _training_options(self, X, counts, **resolved):
        """This fit's :class:`TrainingOptions`: the parameters, with ``resolved`` values.

        Subclasses resolve their ``"auto"`` values and pass them on as
        ``resolved``; ``batch_size="auto"`` is resolved here from the rows.
        """
        values = {
            "solver": self.solver,
            "sampler": self.sampler if self.sampler is not None else self._default_sampler(),
            "weight_decay": self.weight_decay,
            "max_iter": self.max_iter,
            "tol": self.tol,
            "n_epochs": self.n_epochs,
            "batch_size": self.batch_size,
            "lr": self.lr,
            "momentum": self.momentum,
            "lr_stepped_before": self._lr_stepped_before,
            "verbose": self.verbose,
            "name": type(self).__name__,
            **resolved,
        }
        # From the samples counted (the images, with groups), not the rows.
        values["batch_size"] = resolve_batch_size(values["batch_size"], int(counts.counts.sum()))
        return self._options_type(**values)

    def _fit(self, X, y_encoded, counts, callbacks=(), validation=None, groups=None):
        groups, counts = image_groups(groups, y_encoded, counts)
        options = self._training_options(X, counts)
        if validation is not None:
            if options.solver != "sgd":
                raise ValueError(
                    f"X_val and y_val choose an epoch of solver='sgd'; solver="
                    f"{options.solver!r} converges instead."
                )
            validation = _validation_set(self, X, *validation)
        rng = check_random_state(self.random_state)
        return self._train(X, y_encoded, counts, options, rng, callbacks, validation, groups)

    def _train(
        self, X, y_encoded, counts, options, rng, callbacks=(), validation=None, groups=None
    ):
        """Start, train with ``options`` and ``callbacks``, keep the best epoch on ``validation``.

        ``validation``: ``(X_val, y_val)``, a validated tensor and its labels;
        ``groups``: the image of each row (see :func:`image_groups`).
        """
        start = self._start(X, y_encoded, counts, rng, options)
        loss = self._loss(start.counts, options)
        # The head's own callbacks first: early stopping scores each epoch as they
        # leave it (e.g. projected), then the caller's.
        best = None if validation is None else _BestEpoch(*validation, start.counts)
        callbacks = [
            *self._callbacks(start, loss, options),
            *([] if best is None else [best]),
            *callbacks,
        ]
        losses, n_iter = train(
            start.module,
            start.inputs,
            start.y_encoded,
            start.counts.counts,
            loss=loss,
            options=options,
            rng=rng,
            callbacks=callbacks,
            groups=groups,
        )
        attributes = {"loss_curve_": losses, "n_iter_": n_iter, "sampler_": options.sampler}
        if best is not None:
            start.module.load_state_dict(best.state)
            attributes.update(validation_scores_=best.scores, best_epoch_=best.epoch)
        coef, intercept = start.module.linear_weights()
        attributes.update(start.attributes)
        attributes.update(self._fitted_attributes(start.module, options))
        return FittedLinear(coef, intercept, start.counts, attributes)

    def _start(self, X, y_encoded, counts, rng, options):  # pragma: no cover
        """The :class:`TrainingStart`: the module to train, the rows it reads, the labels."""
        raise NotImplementedError

    def _loss(self, counts, options):
        """Per-sample cross-entropy (subclasses smooth or re-weight it)."""
        return cross_entropy()

    def _callbacks(self, start, loss, options):
        """The callbacks that are part of the head's method (e.g. a projection); none here."""
        return []

    def _fitted_attributes(self, module, options):
        return {}


def image_groups(groups, y_encoded, counts):
    """``groups`` validated, as image codes, and ``counts`` as images per class.

    Without groups (``None``) both are returned unchanged: every row is an
    image. Raises ``ValueError`` when ``groups`` is not one value per row or
    the views of an image have different labels (see
    :class:`~sklearn_lt.heads._view_groups.ViewGroups`).
    """
    if groups is None:
        return None, counts
    views = ViewGroups(groups, y_encoded)
    return views.codes, ClassCounts(counts.classes, views.class_counts(len(counts)))


def _validation_set(head, X, X_val, y_val, names):
    """``X_val`` validated against the training features ``X`` (and their column ``names``),
    as a tensor on ``X``'s device and dtype, and the labels of ``y_val``."""
    checker = copy.copy(head)  # validate_features records on an estimator: not on head
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
    X_val = validate_features(checker, X_val, reset=False, device=X.device).to(X.dtype)
    classes, encoded, _ = validate_labels(y_val, len(X_val), min_classes=1)
    return X_val, classes[encoded]


class _BestEpoch(Callback):
    """Early stopping on held-out rows: the state of the epoch with the best balanced accuracy.

    Scores the starting weights (epoch 0) when training begins, then the
    end of every epoch, from the module's weights as one linear layer; ties
    keep the earliest epoch. ``epoch`` and ``state`` are the kept epoch
    (0: the start) and the module's state there; ``scores`` every epoch's.
    """

    def __init__(self, X_val, y_val, counts):
        classes = np.unique(y_val)
        known = np.isin(classes, counts.classes)
        if not known.any():
            raise ValueError(
                f"y_val shares no label with y: y_val has {classes.tolist()}, y has "
                f"{counts.classes.tolist()}. Every epoch would score 0; pass "
                "validation rows of the training classes."
            )
        if not known.all():
            warnings.warn(
                f"y_val has labels {classes[~known].tolist()} that y lacks (the head's "
                f"classes are {counts.classes.tolist()}): the head never predicts "
                "them, which lowers the score of every epoch alike.",
                UserWarning,
                stacklevel=7,  # the user's fit (through _train, _fit, _fit_and_set)
            )
        self.X, self.y, self.counts = X_val, y_val, counts
        self.scores, self.epoch, self.state = [], 0, None

    def on_train_begin(self, module, options):
        self._record(0, module)

    def on_epoch_end(self, module, epoch):
        self._record(epoch + 1, module)

    def _record(self, epoch, module):
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
            self.epoch = epoch
            self.state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        self.scores.append(float(score))


class EpochWeights(Callback):
    """``record(epoch, coef, intercept)`` with the module's linear weights after each epoch.

    Epochs counted from 1 (epoch 0 is the start, which the caller knows): the
    path of weights that a CV head scores on its validation folds.

    Parameters
    ----------
    record : callable
    """

    def __init__(self, record):
        self.record = record

    def on_epoch_end(self, module, epoch):
        self.record(epoch + 1, *module.linear_weights())
