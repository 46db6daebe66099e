"""LORT, logits retargeting (Lu et al. 2024): the head and its smoothing rule."""

import copy
from numbers import Real

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from .._counts import ClassCounts
from ..sampling._probabilities import class_indices
from ..utils._docstring import Substitution
from ..utils._docstring_entries import TRAINER_DOCS
from ._base import FittedLinear, LazyRows
from ._linear_base import ESTIMATOR_CONSTRAINT, RebalancingTrainedHead
from ._modules import (
    LinearLogits,
    feature_scale,
)
from ._trained import TrainedHead, TrainingStart, image_groups
from ._trainer import StopAfter, cross_entropy
from ._view_groups import ViewGroups

__all__ = ["LORTClassifier", "auto_smoothing"]


@Substitution(
    TRAINER_DOCS,
    sampler=TRAINER_DOCS["sampler"].override(
        description="The sampling ratio; ``None`` is instance-balanced (as the official code)."
    ),
    batch_size=TRAINER_DOCS["batch_size"].override(
        default="64", description="Rows per SGD step (64, the official batch)."
    ),
)
class LORTClassifier(RebalancingTrainedHead):
    """Logits retargeting, LORT (2024; published as "Label Over-Smooth", LOS).

    Continues training the instance-balanced linear classifier on the frozen
    features with a *large* label smoothing: the target of a sample of class
    ``y`` is ``(1 - delta) * onehot(y) + delta / C`` (torch's
    ``label_smoothing``). With ``delta`` near 1 the loss stops pushing head
    classes' logits ever higher, which shrinks the logits magnitude gap
    between head and tail classes. It needs no class counts and samples
    instance-balanced, as the official code does.

    LORT is a *transient*: training from the base improves the tail for a
    while, then, as the smoothed loss converges, accuracy falls below the
    base (measured in the LORT guide). The official code keeps the best epoch
    *on the test set*; we never do. By default (``early_stopping=True``)
    the stopping epoch is chosen on a held-out part of the *training* rows,
    as scikit-learn's ``HistGradientBoostingClassifier`` does: LORT is
    trained from a base fitted on the rest, every epoch is scored by
    balanced accuracy on the held-out part, epoch 0 being the base itself;
    then the base and LORT are refitted on all the rows and training stops
    at the chosen epoch (0: the head *is* the base). So the default moves
    away from the base only where held-out data says it helps (without it,
    2 epochs from the pretrained-digits joint classifier fell to 0.750
    against its 0.839). :class:`LORTClassifierCV` also chooses the
    smoothing, on several folds.

    Read more in the :ref:`User Guide <lort>`.

    Parameters
    ----------
    %(estimator)s
    smoothing : float in [0, 1) or "auto", default=0.98
        ``delta``, the label smoothing value (0.98: the official
        CIFAR-100-LT value); ``"auto"`` keeps the official target odds of
        0.98 at 100 classes for any number of classes (see
        :func:`auto_smoothing`).
    %(solver)s
        Default ``"sgd"``: LORT is defined by its schedule.
    %(sampler)s
    %(weight_decay)s
        Default 0 (official).
    %(max_iter)s
    %(tol)s
    %(n_epochs)s
        Default 2.
    %(batch_size)s
    %(lr)s
        Default 0.1.
    %(momentum)s
    %(device)s
    %(random_state)s
    %(verbose)s
    early_stopping : bool, default=True
        Choose the stopping epoch (0 to ``n_epochs``) on a held-out part of
        the training rows when ``fit`` is given no ``X_val``, then refit on
        all rows (``solver="sgd"`` only).
    validation_fraction : float in (0, 1), default=0.2
        The held-out part: ``floor(validation_fraction * n_j)`` rows of each
        class ``j``, at least one of every class with two rows or more and
        never its last one (every class is trained on). With ``fit``'s
        ``groups`` it holds out whole images (``n_j`` counts images): no
        image has views on both sides.

    Attributes
    ----------
    estimator_ : estimator
        The fitted base classifier.
    smoothing_ : float
        The smoothing value used.
    best_epoch_ : int
        The epoch kept (0: the base), when chosen on held-out rows.
    validation_scores_ : list of float
        Balanced accuracy of epochs 0..``n_epochs`` on the held-out rows
        (``X_val`` or, with ``early_stopping``, the held-out training rows).
    n_iter_ : int
        The SGD epochs run: with ``early_stopping``, the held-out run's whole
        schedule plus the refit's ``best_epoch_`` (``loss_curve_`` holds the
        refit's only).
    classes_, class_counts_, coef_, intercept_, loss_curve_, sampler_, n_features_in_
        As in :class:`CRTClassifier`.

    References
    ----------
    %(lort2024)s

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lt import LORTClassifier
    >>> rng = np.random.RandomState(0)
    >>> y = np.repeat([0, 1, 2], [200, 40, 8])
    >>> X = rng.normal(size=(len(y), 5)) + 3 * np.eye(5)[y]
    >>> lort = LORTClassifier(random_state=0).fit(X, y)
    >>> lort.smoothing_, lort.score(X, y) > 0.9
    (0.98, True)
    >>> len(lort.validation_scores_), 0 <= lort.best_epoch_ <= 2  # epochs 0, 1, 2
    (3, True)
    """

    _parameter_constraints = {
        **TrainedHead._parameter_constraints,
        **ESTIMATOR_CONSTRAINT,
        "smoothing": [Interval(Real, 0, 1, closed="left"), StrOptions({"auto"})],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    }

    def __init__(
        self,
        estimator=None,
        *,
        smoothing=0.98,
        solver="sgd",
        sampler=None,
        weight_decay=0.0,
        max_iter=1000,
        tol=1e-6,
        n_epochs=2,
        batch_size=64,
        lr=0.1,
        momentum=0.9,
        device=None,
        random_state=None,
        verbose=0,
        early_stopping=True,
        validation_fraction=0.2,
    ):
        self.estimator = estimator
        self.smoothing = smoothing
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
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
        # LORT continues from the base classifier: no re-initialisation.
        base = self._base(X, y_encoded, counts, rng)
        module = LinearLogits(base.coef, base.intercept, feature_scale(X))
        smoothing = _resolve_smoothing(self.smoothing, len(base.counts))
        return TrainingStart(
            module,
            X,
            base.y_encoded,
            base.counts,
            {"estimator_": base.estimator, "smoothing_": smoothing},
        )

    def _loss(self, counts, options):
        return cross_entropy(_resolve_smoothing(self.smoothing, len(counts)))

    def _fit(self, X, y_encoded, counts, callbacks=(), validation=None, groups=None):
        groups, counts = image_groups(groups, y_encoded, counts)
        options = self._training_options(X, counts)
        if validation is not None or not self.early_stopping or options.solver != "sgd":
            return super()._fit(X, y_encoded, counts, callbacks, validation, groups)
        # Choose the stopping epoch on held-out training rows (whole images) ...
        fit_rows, val_rows = _held_out_rows(
            y_encoded, self.validation_fraction, check_random_state(self.random_state), groups
        )
        if len(val_rows) == 0:  # one row (image) per class: nothing to hold out
            return super()._fit(X, y_encoded, counts, callbacks, groups=groups)
        # The whole schedule from a base fitted on the rest; every class keeps
        # training rows, so the held-out run encodes the labels as the full one.
        # Its random stream starts where the refit's does (a copy of random_state).
        fit_groups, fit_counts = image_groups(
            None if groups is None else groups[fit_rows],
            y_encoded[fit_rows],
            ClassCounts(counts.classes, np.bincount(y_encoded[fit_rows], minlength=len(counts))),
        )
        X_fit = LazyRows(X, fit_rows)  # both parts read in place, never copied whole
        held_out = self._train(
            X_fit,
            y_encoded[fit_rows],
            fit_counts,
            self._training_options(X_fit, fit_counts),
            check_random_state(copy.deepcopy(self.random_state)),
            validation=(LazyRows(X, val_rows), counts.classes[y_encoded[val_rows]]),
            groups=fit_groups,
        ).attributes
        stop = held_out["best_epoch_"]
        scores = {"best_epoch_": stop, "validation_scores_": held_out["validation_scores_"]}
        # ... then refit on every row and stop there (epoch 0: the base itself).
        # n_iter_ counts every epoch run: the held-out run's, then the refit's.
        rng = check_random_state(self.random_state)
        if stop == 0:
            start = self._start(X, y_encoded, counts, rng, options)
            coef, intercept = start.module.linear_weights()
            attributes = {"loss_curve_": [], "n_iter_": held_out["n_iter_"],
                          "sampler_": options.sampler}
            return FittedLinear(
                coef, intercept, start.counts, {**attributes, **start.attributes, **scores}
            )
        fitted = self._train(
            X, y_encoded, counts, options, rng, callbacks=[*callbacks, StopAfter(stop)],
            groups=groups,
        )
        fitted.attributes.update(scores, n_iter_=held_out["n_iter_"] + fitted.attributes["n_iter_"])
        return fitted


def _held_out_rows(y_encoded, fraction, rng, groups=None):
    """Training and held-out row indices: ``floor(fraction * n_j)`` held-out rows of class
    ``j``, at least one where ``n_j >= 2``, never all of them.

    With ``groups`` (image codes, :func:`~sklearn_lt.heads._trained.image_groups`)
    the rule holds out whole images (``n_j`` counts images): all their views,
    so that no image has views in both parts.
    """
    views = None if groups is None else ViewGroups(groups, y_encoded)
    labels = y_encoded if views is None else views.labels  # of the rows, or the images
    fit_units, val_units = [], []
    for units in class_indices(labels, int(labels.max()) + 1):
        units = rng.permutation(units)
        n_val = min(max(int(fraction * len(units)), 1), len(units) - 1) if len(units) else 0
        val_units.append(units[:n_val])
        fit_units.append(units[n_val:])
    fit_units, val_units = np.concatenate(fit_units), np.concatenate(val_units)
    if views is None:
        return np.sort(fit_units), np.sort(val_units)
    held = np.isin(views.codes, val_units)
    return np.flatnonzero(~held), np.flatnonzero(held)


def _resolve_smoothing(smoothing, n_classes):
    return auto_smoothing(n_classes) if smoothing == "auto" else float(smoothing)


def auto_smoothing(n_classes):
    """Smoothing with the official CIFAR-100-LT target odds (0.98 at 100 classes).

    The smoothed target gives the true class ``1 - delta + delta / C`` and every
    other class ``delta / C``: odds ``r = 1 + C (1 - delta) / delta``. Solving
    for the odds of ``delta = 0.98, C = 100`` gives ``delta = C / (C + r - 1)``.

    Parameters
    ----------
    n_classes : int
        ``C``, the number of classes.

    Returns
    -------
    smoothing : float
        ``delta``.

    Examples
    --------
    >>> from sklearn_lt.heads import auto_smoothing
    >>> round(auto_smoothing(100), 10), round(auto_smoothing(10), 4)
    (0.98, 0.8305)
    """
    odds = 1 + 100 * (1 - 0.98) / 0.98
    return n_classes / (n_classes + odds - 1)
