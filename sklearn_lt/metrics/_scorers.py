"""Scorers of the shot splits for ``cross_validate`` and ``GridSearchCV``.

The split of a class depends on its number of *training* samples, counted
before any resampling. A scorer gets the fitted estimator of a fold, so it
reads those counts from the estimator: the first step of a pipeline that
records ``class_counts_`` (the package's samplers record the counts they were
given; its heads record the counts they were fitted on).
"""

from collections.abc import Mapping

import numpy as np

from .._counts import (
    ALL_SPLITS,
    FEW_THRESHOLD,
    MANY_THRESHOLD,
    ClassCounts,
    check_counts,
    check_thresholds,
)
from ..utils import to_numpy
from ._shot import check_predictions, shot_result, warn_small_splits

__all__ = ["training_class_counts", "make_shot_scorer", "shot_scorers"]

_NESTED = ("best_estimator_", "estimator_")


def _is_pipeline(estimator):
    return isinstance(getattr(estimator, "steps", None), list)


def _find_counts(estimator):
    """``(classes, counts)`` of the first object recording ``class_counts_``, or None."""
    if estimator is None or isinstance(estimator, str):  # "passthrough", "drop"
        return None
    if _is_pipeline(estimator):
        for name, step in estimator.steps:
            found = _find_counts(step)
            if found is not None:
                return found
            if hasattr(step, "fit_resample"):
                raise ValueError(
                    f"Step {name!r} ({type(step).__name__}) resamples the training data "
                    "but does not record the class counts it was given (class_counts_): "
                    "the later steps saw resampled counts, which would put classes in "
                    "the wrong shot split. Pass class_counts explicitly, or use a "
                    "sampler of sklearn_lt.sampling."
                )
        return None
    counts = getattr(estimator, "class_counts_", None)
    classes = getattr(estimator, "classes_", None)
    if counts is not None and classes is not None:
        return np.asarray(classes), to_numpy(counts)
    for attribute in _NESTED:
        nested = getattr(estimator, attribute, None)
        if nested is not None and nested is not estimator:
            found = _find_counts(nested)
            if found is not None:
                return found
    return None


def training_class_counts(estimator):
    """Classes and training counts (before resampling) recorded by a fitted estimator.

    Walks a scikit-learn or imbalanced-learn ``Pipeline`` in step order
    (into nested pipelines, and into meta-estimators through
    ``best_estimator_`` or ``estimator_``) and returns the ``classes_`` and
    ``class_counts_`` of the first object that records them: a sampler of
    :mod:`sklearn_lt.sampling` (the counts before resampling) or a head of
    :mod:`sklearn_lt.heads` (the counts it was fitted on).

    Parameters
    ----------
    estimator : estimator
        Fitted.

    Returns
    -------
    classes : ndarray of shape (n_classes,)
    counts : ndarray of shape (n_classes,)

    Raises
    ------
    ValueError
        When no step records class counts, or when a resampler that records
        none (e.g. imbalanced-learn's ``RandomOverSampler``) comes before the
        first step that does: that step saw resampled counts.

    Examples
    --------
    >>> import numpy as np
    >>> from imblearn.pipeline import make_pipeline
    >>> from sklearn_lt import ClassBalancedSampler, TauNormClassifier
    >>> from sklearn_lt.metrics import training_class_counts
    >>> rng = np.random.RandomState(0)
    >>> y = np.repeat([0, 1, 2], [60, 20, 5])
    >>> X = rng.normal(size=(len(y), 3)) + 3 * np.eye(3)[y]
    >>> pipe = make_pipeline(ClassBalancedSampler(random_state=0),
    ...                      TauNormClassifier(random_state=0)).fit(X, y)
    >>> training_class_counts(pipe)
    (array([0, 1, 2]), array([60, 20,  5]))
    """
    found = _find_counts(estimator)
    if found is None:
        raise ValueError(
            f"{type(estimator).__name__} records no training class counts "
            "(class_counts_): pass class_counts explicitly."
        )
    return found


class _ShotScorer:
    """Callable ``scorer(estimator, X, y) -> float``: the accuracy of one shot split.

    ``class_counts`` is None (read from the fitted estimator), a
    ``ClassCounts``, or an array aligned with the estimator's ``classes_``;
    ``thresholds`` is ``(many, few)`` or ``"log-thirds"`` (placed on the
    training counts at every call).
    """

    def __init__(self, split, class_counts, thresholds):
        self.split = split
        self.class_counts = class_counts
        self.thresholds = thresholds

    def training_counts(self, estimator):
        """The ``ClassCounts`` (thresholds included) this scorer splits classes by."""
        counts = self.class_counts
        if counts is None:
            counts = ClassCounts(*training_class_counts(estimator))
        elif not isinstance(counts, ClassCounts):
            classes = to_numpy(getattr(estimator, "classes_", []))
            if len(classes) != len(counts):
                raise ValueError(
                    f"The estimator's classes_ has {len(classes)} labels but class_counts "
                    f"{len(counts)} entries: an array of class_counts is aligned with the "
                    "fitted estimator's classes_; or pass a dict {label: count}."
                )
            counts = ClassCounts(classes, counts)
        if self.thresholds == "log-thirds":
            return ClassCounts.log_thirds(counts.classes, counts.counts)
        many, few = self.thresholds
        return counts.with_thresholds(many_threshold=many, few_threshold=few)

    def __call__(self, estimator, X, y_true, sample_weight=None, **kwargs):
        if kwargs:
            raise TypeError(
                f"{self!r} takes sample_weight and no other metadata; got {sorted(kwargs)}."
            )
        counts = self.training_counts(estimator)
        fitted = getattr(estimator, "classes_", None)
        if self.class_counts is not None and fitted is not None:
            forgotten = counts.positions(to_numpy(fitted), unknown="ignore", name="classes_") < 0
            if forgotten.any():
                # The model was trained on these classes: their count is not zero.
                raise ValueError(
                    f"class_counts has no count for the classes "
                    f"{to_numpy(fitted)[forgotten].tolist()} that the estimator was fitted "
                    "on; give the training count of every class."
                )
        y_true, y_pred, sample_weight = check_predictions(
            y_true, estimator.predict(X), sample_weight
        )
        index = counts.positions(y_true, unknown="ignore", name="y_true")
        if np.any(index < 0):
            # A class of the validation fold never seen in training has 0 samples.
            counts = counts.reindex(np.union1d(counts.classes, y_true))
            index = counts.positions(y_true, name="y_true")
        result = shot_result(y_true, y_pred, counts, index, sample_weight)
        if self.split != "all":
            hint = (
                "this dataset has too few classes for such a split"
                if self.thresholds == "log-thirds"
                else "use thresholds that fit the data, e.g. thresholds='log-thirds' in "
                "make_shot_scorer / shot_scorers, or a ClassCounts.log_thirds as class_counts"
            )
            warn_small_splits(result, counts, [self.split], hint, stacklevel=2)
        return result[self.split]

    def __repr__(self):
        if isinstance(self.class_counts, ClassCounts) and self.thresholds != "log-thirds":
            return f"make_shot_scorer(split={self.split!r}, class_counts={self.class_counts!r})"
        if self.thresholds == "log-thirds":
            thresholds = "thresholds='log-thirds'"
        else:
            thresholds = "many_threshold={:g}, few_threshold={:g}".format(*self.thresholds)
        counts = "" if self.class_counts is None else f", class_counts={self.class_counts!r}"
        return f"make_shot_scorer(split={self.split!r}, {thresholds}{counts})"


def _scorer_counts_and_thresholds(class_counts, many_threshold, few_threshold, thresholds):
    """``(class_counts, thresholds)`` of a :class:`_ShotScorer`, validated once."""
    given = {"many_threshold": many_threshold, "few_threshold": few_threshold}
    if thresholds is not None:
        if thresholds != "log-thirds":
            raise ValueError(f"thresholds must be None or 'log-thirds', got {thresholds!r}.")
        if many_threshold is not None or few_threshold is not None:
            raise ValueError(
                "Pass either thresholds='log-thirds' or many_threshold/few_threshold, not both."
            )
    if isinstance(class_counts, (ClassCounts, Mapping)):
        class_counts = ClassCounts.coerce(class_counts, **given)
        return class_counts, thresholds or class_counts.thresholds
    if class_counts is not None:
        class_counts = check_counts(class_counts)
    if thresholds is not None:
        return class_counts, thresholds
    many = MANY_THRESHOLD if many_threshold is None else many_threshold
    few = FEW_THRESHOLD if few_threshold is None else few_threshold
    check_thresholds(many, few)
    return class_counts, (many, few)


def make_shot_scorer(
    split="all", *, many_threshold=None, few_threshold=None, thresholds=None, class_counts=None
):
    """A scorer of the accuracy of one shot split, for model selection.

    The scorer ``scorer(estimator, X, y, sample_weight=None)`` predicts ``X``
    and returns :func:`shot_accuracy`'s ``split`` entry (per-class accuracies
    weighted by ``sample_weight`` when given); it works in ``cross_validate``,
    ``GridSearchCV`` (alone or in a multi-metric dict, e.g. with
    ``refit="few"``) and anywhere scikit-learn takes a scorer. Predictions
    and labels may be torch tensors.

    By default the split of each class comes from the training counts of the
    fitted estimator (see :func:`training_class_counts`): in cross-validation,
    those of the fold's training part, before any resampling by a sampler of
    :mod:`sklearn_lt.sampling`. A validation class the model never saw counts
    as 0 training samples (few-shot).

    A split whose score averages over a single class gets a
    :class:`SingleClassSplitWarning` that names the thresholds used (one with
    no class gets an :class:`UndefinedSplitWarning` and a NaN score): the
    ImageNet-LT thresholds do not fit small datasets. ``thresholds="log-thirds"``
    places them on each fold's own training counts
    (:meth:`ClassCounts.log_thirds`), in proportion to them.

    Parameters
    ----------
    split : {"many", "medium", "few", "all"}, default="all"
        ``"all"`` is the mean per-class (balanced) accuracy.
    many_threshold : float >= 0, default=None
    few_threshold : float >= 0, default=None
        Thresholds of the shot splits, as in :func:`shot_splits`. ``None``
        means the defaults of :class:`ClassCounts`, 100 and 20, or the
        thresholds of a :class:`ClassCounts` given as ``class_counts``.
    thresholds : {"log-thirds"}, default=None
        ``"log-thirds"`` computes the thresholds from the training counts at
        every call, instead of ``many_threshold`` and ``few_threshold``.
    class_counts : ClassCounts, dict or array-like, default=None
        Fixed training counts: a :class:`ClassCounts` (with its thresholds),
        a dict ``{label: count}``, or an array aligned with the fitted
        estimator's ``classes_``. Use it to split classes by the counts of
        the whole training set, or after a resampler that does not record its
        input counts.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y) -> float``; greater is better. Its repr
        shows the thresholds.

    See Also
    --------
    shot_scorers : The four scorers in a dict.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import cross_val_score
    >>> from sklearn_lt import TauNormClassifier
    >>> from sklearn_lt.metrics import make_shot_scorer
    >>> rng = np.random.RandomState(0)
    >>> y = np.repeat(np.arange(6), [150, 100, 60, 40, 12, 8])
    >>> X = rng.normal(size=(len(y), 6)) + 3 * np.eye(6)[y]
    >>> scorer = make_shot_scorer("few", many_threshold=80, few_threshold=15)
    >>> scorer
    make_shot_scorer(split='few', many_threshold=80, few_threshold=15)
    >>> cross_val_score(TauNormClassifier(random_state=0), X, y, scoring=scorer).shape
    (5,)
    """
    if split not in ALL_SPLITS:
        raise ValueError(f"split must be one of {list(ALL_SPLITS)}; got {split!r}.")
    class_counts, thresholds = _scorer_counts_and_thresholds(
        class_counts, many_threshold, few_threshold, thresholds
    )
    return _ShotScorer(split, class_counts, thresholds)


def shot_scorers(*, many_threshold=None, few_threshold=None, thresholds=None, class_counts=None):
    """The scorers of all four splits, as a dict for multi-metric model selection.

    Parameters
    ----------
    many_threshold, few_threshold, thresholds, class_counts
        As in :func:`make_shot_scorer`.

    Returns
    -------
    scorers : dict
        ``{"many": ..., "medium": ..., "few": ..., "all": ...}``.

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn_lt import TauNormClassifier
    >>> from sklearn_lt.metrics import shot_scorers
    >>> search = GridSearchCV(TauNormClassifier(), {"tau": [0.0, 1.0]},
    ...                       scoring=shot_scorers(thresholds="log-thirds"), refit="few")
    >>> search.scoring["few"]
    make_shot_scorer(split='few', thresholds='log-thirds')
    """
    class_counts, thresholds = _scorer_counts_and_thresholds(
        class_counts, many_threshold, few_threshold, thresholds
    )
    return {split: _ShotScorer(split, class_counts, thresholds) for split in ALL_SPLITS}
