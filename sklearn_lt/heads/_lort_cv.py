"""LORT with its smoothing and its training length chosen on held-out training folds."""

import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval

from ..metrics import ClassCounts
from ..metrics._counts import UndefinedSplitWarning
from ..sampling import PowerSampler
from ..utils import Substitution, to_numpy
from ._base import FittedLinear, LinearHead, chunked_argmax
from ._cv import check_split_scoring, cv_folds, search_results, split_scores
from ._linear_base import ESTIMATOR_DOC, fit_base_classifier
from ._lort import LORTClassifier
from ._trainer import TRAINER_DOCS

__all__ = ["LORTClassifierCV"]


@Substitution(estimator=ESTIMATOR_DOC, **TRAINER_DOCS)
class LORTClassifierCV(LinearHead):
    """LORT with the smoothing value and the stopping epoch chosen by cross-validation.

    LORT (:class:`LORTClassifier`) is a transient: continuing the base
    classifier's training with a large label smoothing helps the tail for a
    while, then hurts. The official code keeps the epoch that scores best
    *on the test set*. This head chooses the smoothing ``delta`` and the
    epoch on held-out folds of the *training* data instead: each fold fits
    the base once, trains LORT from it for ``n_epochs`` with every
    smoothing, and scores the whole path (every epoch, and epoch 0: the base
    itself) on its validation part, by balanced accuracy by default. Then the
    base is refitted on all the data and LORT runs the same schedule with the
    best smoothing, stopping at the best epoch.

    Parameters
    ----------
    %(estimator)s
    smoothings : array-like of float in [0, 1), default=(0.9, 0.98)
        The candidate values of ``delta``.
    n_epochs : int, default=10
        Length of the schedule (the cosine anneals over it); the candidate
        stopping epochs are 0 (the base) to ``n_epochs``.
    cv : int, cross-validation generator or iterable, default=5
        As in :func:`~sklearn.model_selection.check_cv` (an int gives
        stratified folds).
    scoring : {"all", "many", "medium", "few"} or None, default=None
        ``None``/``"all"``: balanced accuracy (mean per-class accuracy) on the
        validation fold; a split name: the accuracy of that shot split, with
        ``many_threshold``/``few_threshold``.
    batch_size : int, default=64
        Rows per SGD step (the official batch).
    lr : float, default=0.1
        Initial SGD learning rate, in the normalised units of the features.
    %(momentum)s
    weight_decay : float, default=0.0
        As in :class:`LORTClassifier`.
    sampler : PowerSampler, default=None
        ``None`` is instance-balanced (as the official code).
    %(device)s
    %(random_state)s
    many_threshold : float >= 0, default=100
    few_threshold : float >= 0, default=20
        Split thresholds for a split ``scoring``.
    %(verbose)s

    Attributes
    ----------
    smoothing_ : float
        The chosen ``delta``.
    n_epochs_ : int
        The chosen stopping epoch (0: LORT did not help on validation, the
        head is the base classifier).
    best_score_ : float
    best_index_ : int
    cv_results_ : dict of ndarray
        As in :class:`~sklearn.model_selection.GridSearchCV`, with
        ``param_smoothing`` and ``param_epoch``.
    n_splits_ : int
    estimator_ : estimator
        The base classifier fitted on all the data.
    classes_, class_counts_, coef_, intercept_, n_features_in_
        As in :class:`LORTClassifier`.

    See Also
    --------
    LORTClassifier : A fixed smoothing and schedule.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lt import LORTClassifierCV
    >>> rng = np.random.RandomState(0)
    >>> y = np.repeat([0, 1, 2], [200, 40, 10])
    >>> X = rng.normal(size=(len(y), 4)) + 1.5 * np.eye(4)[y]
    >>> clf = LORTClassifierCV(n_epochs=4, cv=3, random_state=0).fit(X, y)
    >>> clf.cv_results_["mean_test_score"].shape  # 2 smoothings x epochs 0..4
    (10,)
    >>> clf.smoothing_ in (0.9, 0.98), 0 <= clf.n_epochs_ <= 4
    (True, True)
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit"]), None],
        "smoothings": ["array-like"],
        "n_epochs": [Interval(Integral, 1, None, closed="left")],
        "cv": ["cv_object"],
        "scoring": [str, None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "sampler": [PowerSampler, None],
        "device": [str, torch.device, None],
        "random_state": ["random_state"],
        "many_threshold": [Interval(Real, 0, None, closed="left")],
        "few_threshold": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        smoothings=(0.9, 0.98),
        n_epochs=10,
        cv=5,
        scoring=None,
        batch_size=64,
        lr=0.1,
        momentum=0.9,
        weight_decay=0.0,
        sampler=None,
        device=None,
        random_state=None,
        many_threshold=100,
        few_threshold=20,
        verbose=0,
    ):
        self.estimator = estimator
        self.smoothings = smoothings
        self.n_epochs = n_epochs
        self.cv = cv
        self.scoring = scoring
        self.batch_size = batch_size
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.sampler = sampler
        self.device = device
        self.random_state = random_state
        self.many_threshold = many_threshold
        self.few_threshold = few_threshold
        self.verbose = verbose

    def _check_smoothings(self):
        smoothings = np.asarray(self.smoothings, dtype=np.float64).reshape(-1)
        # NaN fails every comparison: test for the good values, not the bad.
        if smoothings.size == 0 or not np.all((smoothings >= 0) & (smoothings < 1)):
            raise ValueError(
                f"smoothings must be a non-empty list of values in [0, 1) (no NaN), got "
                f"{smoothings}."
            )
        return smoothings

    def _lort(self, base_estimator, smoothing):
        """The LORT head that runs one path from a fitted (frozen) base."""
        lort = LORTClassifier(
            FrozenEstimator(base_estimator),
            smoothing=float(smoothing),
            n_epochs=self.n_epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            momentum=self.momentum,
            weight_decay=self.weight_decay,
            sampler=self.sampler,
            random_state=self.random_state,
            verbose=self.verbose,
        )
        # The whole path is scored here: LORT's own early stopping (where it
        # has one) would hold out rows and cut the path.
        if "early_stopping" in lort.get_params():
            lort.set_params(early_stopping=False)
        return lort

    def _path(self, base, smoothing, X, record):
        """Run LORT from ``base`` on ``X``; ``record(epoch, coef, intercept)`` after each epoch."""

        def on_epoch_end(epoch, module):
            record(epoch + 1, *module.linear_weights())

        self._lort(base.estimator, smoothing)._fit(
            X, base.y_encoded, base.counts, on_epoch_end=on_epoch_end
        )

    def _fit(self, X, y_encoded, counts):
        smoothings = self._check_smoothings()
        if self.scoring not in (None, "all", "many", "medium", "few"):
            raise ValueError(
                f"scoring must be None, 'all', 'many', 'medium' or 'few', got {self.scoring!r}."
            )
        split = check_split_scoring(self.scoring, self.many_threshold, self.few_threshold)
        labels = counts.classes[y_encoded]
        folds = cv_folds(self.cv, labels)
        epochs = np.arange(self.n_epochs + 1)
        scores = np.empty((len(smoothings), len(epochs), len(folds)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndefinedSplitWarning)
            for k, (train, test) in enumerate(folds):
                fold_counts = ClassCounts.from_labels(labels[train])
                X_train = X[torch.as_tensor(train, device=X.device)]
                # Scored chunk by chunk from X itself: no copy of the fold, no fold x C logits.
                rows = torch.as_tensor(test, device=X.device)
                base = fit_base_classifier(
                    self.estimator,
                    X_train,
                    fold_counts.positions(labels[train]),
                    fold_counts,
                    random_state=check_random_state(self.random_state),
                )
                for i, smoothing in enumerate(smoothings):
                    predictions = [None] * len(epochs)

                    def record(epoch, coef, intercept, predictions=predictions, rows=rows):
                        index = chunked_argmax(
                            X, lambda block: torch.addmm(intercept, block, coef.T), len(coef),
                            rows=rows,
                        )
                        predictions[epoch] = to_numpy(index)

                    record(0, base.coef, base.intercept)
                    self._path(base, smoothing, X_train, record)
                    scores[i, :, k] = split_scores(
                        labels[test],
                        [base.counts.classes[p] for p in predictions],
                        base.counts,
                        split,
                        many_threshold=self.many_threshold,
                        few_threshold=self.few_threshold,
                    )
        grid_smoothing, grid_epoch = np.meshgrid(smoothings, epochs, indexing="ij")
        results = search_results(
            {"smoothing": grid_smoothing.ravel(), "epoch": grid_epoch.ravel()},
            scores.reshape(-1, len(folds)),
            split,
        )
        smoothing = float(grid_smoothing.ravel()[results.best_index])
        stop = int(grid_epoch.ravel()[results.best_index])
        final = fit_base_classifier(
            self.estimator, X, y_encoded, counts, random_state=check_random_state(self.random_state)
        )
        weights = {0: (final.coef, final.intercept)}
        if stop > 0:

            def keep(epoch, coef, intercept):
                if epoch == stop:
                    weights[stop] = (coef, intercept)

            self._path(final, smoothing, X, keep)
        coef, intercept = weights[stop]
        attributes = {
            "estimator_": final.estimator,
            "smoothing_": smoothing,
            "n_epochs_": stop,
            "best_index_": results.best_index,
            "best_score_": results.best_score,
            "cv_results_": results.cv_results,
            "n_splits_": len(folds),
        }
        return FittedLinear(coef, intercept, final.counts, attributes)
