"""Scorers of the shot splits for ``cross_validate`` and ``GridSearchCV``.

The split of a class depends on its number of *training* samples, counted
before any resampling. A scorer gets the fitted estimator of a fold, so it
reads those counts from the estimator: the first step of a pipeline that
records ``class_counts_`` (the package's samplers record the counts they were
given; its heads record the counts they were fitted on).
"""

import numpy as np

from ..utils import to_numpy
from ._shot import SPLITS, _as_labels, _check_thresholds, _counts_and_classes, shot_accuracy

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
    """Callable ``scorer(estimator, X, y) -> float``: the accuracy of one shot split."""

    def __init__(self, split, many_threshold, few_threshold, class_counts):
        self.split = split
        self.many_threshold = many_threshold
        self.few_threshold = few_threshold
        self.class_counts = class_counts

    def _counts(self, estimator):
        if self.class_counts is None:
            return training_class_counts(estimator)
        classes = None if isinstance(self.class_counts, dict) else estimator.classes_
        return _counts_and_classes(self.class_counts, classes, None, None)

    def __call__(self, estimator, X, y_true, **kwargs):
        classes, counts = self._counts(estimator)
        y_true = _as_labels(y_true, "y_true")
        # A class of the validation fold never seen in training has 0 samples.
        unseen = np.setdiff1d(y_true, classes)
        forgotten = np.intersect1d(unseen, np.asarray(getattr(estimator, "classes_", [])))
        if self.class_counts is not None and forgotten.size:
            # The model was trained on these classes: their count is not zero.
            raise ValueError(
                f"class_counts has no count for the classes {forgotten.tolist()} that the "
                "estimator was fitted on; give the training count of every class."
            )
        if unseen.size:
            classes = np.concatenate([classes, unseen])
            counts = np.concatenate([counts, np.zeros(unseen.size, dtype=counts.dtype)])
        result = shot_accuracy(
            y_true,
            estimator.predict(X),
            counts,
            classes=classes,
            many_threshold=self.many_threshold,
            few_threshold=self.few_threshold,
            warn_for=(self.split,),
        )
        return result[self.split]

    def __repr__(self):
        return (
            f"make_shot_scorer(split={self.split!r}, many_threshold={self.many_threshold}, "
            f"few_threshold={self.few_threshold}"
            + (")" if self.class_counts is None else ", class_counts=...)")
        )


def make_shot_scorer(split="all", *, many_threshold=100, few_threshold=20, class_counts=None):
    """A scorer of the accuracy of one shot split, for model selection.

    The scorer ``scorer(estimator, X, y)`` predicts ``X`` and returns
    :func:`shot_accuracy`'s ``split`` entry; it works in ``cross_validate``,
    ``GridSearchCV`` (alone or in a multi-metric dict, e.g. with
    ``refit="few"``) and anywhere scikit-learn takes a scorer. Predictions
    and labels may be torch tensors.

    By default the split of each class comes from the training counts of the
    fitted estimator (see :func:`training_class_counts`): in cross-validation,
    those of the fold's training part, before any resampling by a sampler of
    :mod:`sklearn_lt.sampling`. A validation class the model never saw counts
    as 0 training samples (few-shot).

    Parameters
    ----------
    split : {"all", "many", "medium", "few"}, default="all"
        ``"all"`` is the mean per-class (balanced) accuracy.
    many_threshold : float >= 0, default=100
    few_threshold : float >= 0, default=20
        As in :func:`shot_splits`.
    class_counts : dict or array-like, default=None
        Fixed training counts: a dict ``{label: count}``, or an array aligned
        with the fitted estimator's ``classes_``. Use it to split classes by
        the counts of the whole training set, or after a resampler that does
        not record its input counts.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y) -> float``; greater is better.

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
    >>> y = np.repeat([0, 1, 2], [150, 60, 12])
    >>> X = rng.normal(size=(len(y), 3)) + 3 * np.eye(3)[y]
    >>> scorer = make_shot_scorer("few", many_threshold=80, few_threshold=15)
    >>> cross_val_score(TauNormClassifier(random_state=0), X, y, scoring=scorer).shape
    (5,)
    """
    if split not in ("all",) + SPLITS:
        raise ValueError(f"split must be one of 'all', 'many', 'medium', 'few'; got {split!r}.")
    _check_thresholds(many_threshold, few_threshold)
    return _ShotScorer(split, many_threshold, few_threshold, class_counts)


def shot_scorers(*, many_threshold=100, few_threshold=20, class_counts=None):
    """The scorers of all four splits, as a dict for multi-metric model selection.

    Parameters
    ----------
    many_threshold, few_threshold, class_counts
        As in :func:`make_shot_scorer`.

    Returns
    -------
    scorers : dict
        ``{"all": ..., "many": ..., "medium": ..., "few": ...}``.

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn_lt import TauNormClassifier
    >>> from sklearn_lt.metrics import shot_scorers
    >>> search = GridSearchCV(TauNormClassifier(), {"tau": [0.0, 1.0]},
    ...                       scoring=shot_scorers(), refit="few")
    >>> sorted(search.scoring)
    ['all', 'few', 'many', 'medium']
    """
    return {
        split: make_shot_scorer(
            split,
            many_threshold=many_threshold,
            few_threshold=few_threshold,
            class_counts=class_counts,
        )
        for split in ("all",) + SPLITS
    }
