"""LORT with its smoothing and its training length chosen on held-out training folds."""

import warnings
from numbers import Integral

import numpy as np
from sklearn.frozen import FrozenEstimator
from sklearn.utils._param_validation import Interval

from ..utils._docstring import Substitution
from ..utils._docstring_entries import SEARCH_CV_DOCS, TRAINER_DOCS
from ._cv import SearchCV, check_grid
from ._lort import LORTClassifier
from ._trained import EpochWeights
from ._trainer import SOLVER_CONSTRAINTS

__all__ = ["LORTClassifierCV"]


@Substitution(
    TRAINER_DOCS,
    {key: SEARCH_CV_DOCS[key] for key in ("cv", "scoring", "thresholds", "search_attributes")},
)
class LORTClassifierCV(SearchCV):
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

    Read more in the :ref:`User Guide <lort>`.

    Parameters
    ----------
    %(estimator)s
    smoothings : array-like of float in [0, 1), default=(0.9, 0.98)
        The candidate values of ``delta``.
    n_epochs : int, default=10
        Length of the schedule (the cosine anneals over it); the candidate
        stopping epochs are 0 (the base) to ``n_epochs``.
    %(cv)s
    %(scoring)s

        The head of a candidate is a :class:`LORTClassifier` holding the
        weights of that smoothing and epoch.
    batch_size : int or "auto", default=64
        Rows per SGD step (64, the official batch); ``"auto"`` as in
        :class:`LORTClassifier`.
    lr : float, default=0.1
        Initial SGD learning rate, in the normalised units of the features.
    %(momentum)s
    weight_decay : float, default=0.0
        As in :class:`LORTClassifier`.
    sampler : PowerSampler, default=None
        ``None`` is instance-balanced (as the official code).
    %(device)s
    %(random_state)s
    %(thresholds)s
    %(verbose)s

    Attributes
    ----------
    smoothing_ : float
        The chosen ``delta``.
    best_epoch_ : int
        The chosen stopping epoch (0: LORT did not help on validation, the
        head is the base classifier). The candidates are every smoothing with
        every epoch (``cv_results_``'s ``param_smoothing`` and
        ``param_epoch``), smoothings first.
    %(search_attributes)s
    classes_, class_counts_, coef_, intercept_, n_features_in_
        As in :class:`LORTClassifier`.

    See Also
    --------
    LORTClassifier : A fixed smoothing and schedule.

    References
    ----------
    %(lort2024)s

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
    >>> clf.smoothing_ in (0.9, 0.98), 0 <= clf.best_epoch_ <= 4
    (True, True)
    """

    _parameter_constraints = {
        **SearchCV._parameter_constraints,
        "smoothings": ["array-like"],
        "n_epochs": [Interval(Integral, 1, None, closed="left")],
        # The training options as the fixed head declares them ("auto" included).
        **{
            name: SOLVER_CONSTRAINTS[name]
            for name in ("batch_size", "lr", "momentum", "weight_decay", "sampler", "verbose")
        },
    }
    _fixed_head = LORTClassifier

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
        many_threshold=None,
        few_threshold=None,
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

    def _lort(self, base_estimator, smoothing):
        """The LORT head that runs one path from a fitted (frozen) base."""
        return LORTClassifier(
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
            # The whole path is scored here: LORT's own early stopping would
            # hold out rows and cut the path.
            early_stopping=False,
        )

    def _path(self, base, smoothing, X, record):
        """Run LORT from ``base`` on ``X``; ``record(epoch, coef, intercept)`` after each epoch."""
        self._lort(base.estimator, smoothing)._fit(
            X, base.y_encoded, base.counts, callbacks=[EpochWeights(record)]
        )

    def _candidates(self):
        # Every smoothing with every stopping epoch, 0 (the base) to n_epochs.
        smoothings = check_grid(self.smoothings, "smoothings", low=0, high=1)
        grid_smoothing, grid_epoch = np.meshgrid(
            smoothings, np.arange(self.n_epochs + 1), indexing="ij"
        )
        return {"smoothing": grid_smoothing.ravel(), "epoch": grid_epoch.ravel()}

    def _visit_candidates(self, base, X_train, candidates, visit):
        # One LORT path per smoothing: its candidates are the path's epochs.
        n_stops = self.n_epochs + 1
        for first in range(0, len(candidates["smoothing"]), n_stops):

            def record(epoch, coef, intercept, first=first):
                visit(first + epoch, coef, intercept)

            record(0, base.coef, base.intercept)
            self._path(base, candidates["smoothing"][first], X_train, record)

    def _candidate_params(self, params):
        return {"estimator": self.estimator, "smoothing": params["smoothing"]}

    @property
    def n_epochs_(self):
        """Deprecated in 0.2, removed in 0.3: the kept epoch is ``best_epoch_``."""
        warnings.warn(
            "LORTClassifierCV's n_epochs_ was renamed best_epoch_ in 0.2 (the kept epoch "
            "has one name in every head) and will be removed in 0.3.",
            FutureWarning,
            stacklevel=2,
        )
        return self.best_epoch_

    def _refit(self, base, X, best):
        smoothing, stop = best["smoothing"], best["epoch"]
        weights = {0: (base.coef, base.intercept)}
        if stop > 0:

            def keep(epoch, coef, intercept):
                if epoch == stop:
                    weights[stop] = (coef, intercept)

            self._path(base, smoothing, X, keep)
        coef, intercept = weights[stop]
        return coef, intercept, {"smoothing_": smoothing, "best_epoch_": stop}
