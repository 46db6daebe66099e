"""Many/medium/few-shot splits of classes and per-split accuracy (Liu et al. 2019).

The definitions follow OLTR's ``shot_acc``, which every long-tailed codebase
reuses: a class is *many-shot* with strictly more than ``many_threshold``
training samples, *few-shot* with strictly fewer than ``few_threshold``, and
*medium-shot* otherwise; a split's accuracy is the unweighted mean of the
accuracies of its classes.
"""

import warnings
from numbers import Real

import numpy as np
from sklearn.utils import Bunch

from ..utils import to_numpy

__all__ = ["SPLITS", "UndefinedSplitWarning", "shot_splits", "shot_accuracy"]

SPLITS = ("many", "medium", "few")


class UndefinedSplitWarning(UserWarning):
    """A shot split has no class to average over; its accuracy is NaN."""


def _check_thresholds(many_threshold, few_threshold):
    for name, value in (("many_threshold", many_threshold), ("few_threshold", few_threshold)):
        if not isinstance(value, Real) or isinstance(value, bool) or not np.isfinite(value):
            raise TypeError(f"{name} must be a finite real number, got {value!r}.")
        if value < 0:
            raise ValueError(f"{name} must be non-negative, got {value}.")
    if few_threshold > many_threshold:
        raise ValueError(
            f"few_threshold ({few_threshold}) must not exceed many_threshold "
            f"({many_threshold})."
        )


def _check_class_counts(class_counts):
    counts = to_numpy(class_counts)
    if counts.ndim != 1 or counts.size == 0:
        raise ValueError(
            f"class_counts must be a non-empty 1-D array, got shape {counts.shape}."
        )
    if counts.dtype.kind not in "biuf":
        raise ValueError(f"class_counts must be numeric, got dtype {counts.dtype}.")
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise ValueError("class_counts must be finite and non-negative.")
    return counts


def shot_splits(class_counts, *, many_threshold=100, few_threshold=20):
    """Split classes into many-, medium- and few-shot by their training counts.

    OLTR's definition (Liu et al. 2019): ``"many"`` when the count is strictly
    greater than ``many_threshold``, ``"few"`` when strictly smaller than
    ``few_threshold``, ``"medium"`` otherwise (``few_threshold <= count <=
    many_threshold``, i.e. 20..100 inclusive with the defaults).

    Parameters
    ----------
    class_counts : array-like or torch.Tensor of shape (n_classes,)
        Training samples per class (counted before any resampling).
    many_threshold : float >= 0, default=100
    few_threshold : float >= 0, default=20
        Must not exceed ``many_threshold``. Small datasets need smaller
        thresholds than the ImageNet-LT defaults.

    Returns
    -------
    splits : ndarray of str of shape (n_classes,)
        ``"many"``, ``"medium"`` or ``"few"`` for each class.

    Examples
    --------
    >>> from sklearn_lt.metrics import shot_splits
    >>> shot_splits([500, 101, 100, 20, 19, 0])
    array(['many', 'many', 'medium', 'medium', 'few', 'few'], dtype='<U6')
    """
    _check_thresholds(many_threshold, few_threshold)
    counts = _check_class_counts(class_counts)
    splits = np.full(counts.shape, "medium", dtype="<U6")
    splits[counts > many_threshold] = "many"
    splits[counts < few_threshold] = "few"
    return splits


def _as_labels(y, name):
    """1-D numpy labels from a list, numpy array or tensor (any device)."""
    y = to_numpy(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got an array of shape {y.shape}.")
    return y


def _counts_and_classes(class_counts, classes, y_true, y_pred):
    """Resolve ``(classes, counts)`` from a dict or an array aligned with ``classes``."""
    if isinstance(class_counts, dict):
        if classes is not None:
            raise ValueError("Pass classes only with an array of class_counts, not a dict.")
        classes = np.asarray(sorted(class_counts))
        counts = np.asarray([to_numpy(class_counts[c]) for c in classes.tolist()])
        return classes, _check_class_counts(counts)
    counts = _check_class_counts(class_counts)
    if classes is None:
        classes = np.unique(np.concatenate([y_true, y_pred]))
        if len(classes) != len(counts):
            raise ValueError(
                f"class_counts has {len(counts)} entries but y_true and y_pred hold "
                f"{len(classes)} distinct labels: pass classes (the labels the "
                "counts refer to, e.g. the estimator's classes_) or a dict "
                "{label: count}."
            )
        return classes, counts
    classes = _as_labels(classes, "classes")
    if len(classes) != len(counts):
        raise ValueError(
            f"classes has {len(classes)} labels but class_counts {len(counts)} entries."
        )
    if len(np.unique(classes)) != len(classes):
        raise ValueError("classes must not contain duplicates.")
    return classes, counts


def _equal(a, b):
    """Elementwise ``a == b`` that is all False for labels of incomparable kinds."""
    if (a.dtype.kind in "USO") != (b.dtype.kind in "USO"):
        return np.asarray(a, dtype=object) == np.asarray(b, dtype=object)
    return a == b


def per_class_accuracy(y_true, y_pred, classes):
    """Accuracy (recall) of each class of ``classes``; NaN where it has no sample.

    ``y_true`` and ``y_pred`` are 1-D numpy arrays of the same length; every
    label of ``y_true`` must be in ``classes``.
    """
    order = np.argsort(classes, kind="stable")
    position = np.searchsorted(classes[order], y_true)
    position = np.clip(position, 0, len(classes) - 1)
    index = order[position]
    unknown = ~_equal(classes[index], y_true)
    if unknown.any():
        raise ValueError(
            f"y_true has labels {np.unique(y_true[unknown]).tolist()} without a class "
            "count: add them to class_counts (and classes)."
        )
    correct = _equal(y_pred, y_true)
    n_classes = len(classes)
    support = np.bincount(index, minlength=n_classes)
    hits = np.bincount(index, weights=correct, minlength=n_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, hits / np.maximum(support, 1), np.nan), support


def shot_accuracy(
    y_true,
    y_pred,
    class_counts,
    *,
    classes=None,
    many_threshold=100,
    few_threshold=20,
    warn_for=SPLITS,
):
    """Top-1 accuracy per many/medium/few-shot split and overall (OLTR's ``shot_acc``).

    The accuracy of a split is the unweighted mean of the accuracies of its
    classes, and ``all`` is the mean accuracy over every class (balanced
    accuracy), as on the balanced test sets of the long-tailed benchmarks.
    Classes absent from ``y_true`` have no accuracy (NaN in ``per_class``)
    and are left out of every mean. A split without any class present in
    ``y_true`` gets NaN and an :class:`UndefinedSplitWarning`.

    Works on numpy arrays, lists and torch tensors on any device, in any mix,
    and with string labels.

    Parameters
    ----------
    y_true : array-like or torch.Tensor of shape (n_samples,)
        True labels.
    y_pred : array-like or torch.Tensor of shape (n_samples,)
        Predicted labels. A label without a class count is simply wrong.
    class_counts : array-like, torch.Tensor or dict
        Training samples per class, counted *before* any resampling: an array
        aligned with ``classes``, or a dict ``{label: count}``.
    classes : array-like of shape (n_classes,), default=None
        The labels ``class_counts`` refers to (e.g. an estimator's
        ``classes_``). ``None`` takes the sorted unique labels of ``y_true``
        and ``y_pred`` together, which must then be as many as the counts;
        pass ``classes`` whenever a training class may be missing from both.
        Not allowed with a dict.
    many_threshold : float >= 0, default=100
        Classes with strictly more training samples are many-shot.
    few_threshold : float >= 0, default=20
        Classes with strictly fewer training samples are few-shot.
    warn_for : tuple of str, default=("many", "medium", "few")
        The splits that warn when undefined (as in scikit-learn's
        ``precision_recall_fscore_support``); the others are NaN silently.

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        With the keys:

        - ``many``, ``medium``, ``few``, ``all`` (float): the mean per-class
          accuracy of each split, and of all classes;
        - ``per_class`` (ndarray of shape (n_classes,)): the accuracy of each
          class of ``classes`` (NaN where absent from ``y_true``);
        - ``support`` (ndarray of shape (n_classes,)): the number of samples
          of each class in ``y_true``;
        - ``splits`` (ndarray of str of shape (n_classes,)): the split of each
          class (see :func:`shot_splits`);
        - ``classes`` and ``class_counts`` (ndarray of shape (n_classes,)).

    See Also
    --------
    shot_splits : The split of each class.
    make_shot_scorer : A scorer for ``GridSearchCV`` / ``cross_validate``.

    Examples
    --------
    >>> from sklearn_lt.metrics import shot_accuracy
    >>> y_true = [0, 0, 1, 1, 2, 2]
    >>> y_pred = [0, 0, 1, 0, 0, 0]
    >>> res = shot_accuracy(y_true, y_pred, {0: 500, 1: 50, 2: 5})
    >>> res.many, res.medium, res.few, res.all
    (1.0, 0.5, 0.0, 0.5)
    >>> res.splits
    array(['many', 'medium', 'few'], dtype='<U6')
    """
    _check_thresholds(many_threshold, few_threshold)
    y_true = _as_labels(y_true, "y_true")
    y_pred = _as_labels(y_pred, "y_pred")
    if len(y_true) != len(y_pred):
        raise ValueError(
            "Found input variables with inconsistent numbers of samples: "
            f"[{len(y_true)}, {len(y_pred)}]."
        )
    if len(y_true) == 0:
        raise ValueError("y_true is empty.")
    classes, counts = _counts_and_classes(class_counts, classes, y_true, y_pred)
    splits = shot_splits(counts, many_threshold=many_threshold, few_threshold=few_threshold)
    per_class, support = per_class_accuracy(y_true, y_pred, classes)
    present = support > 0
    result = Bunch(
        per_class=per_class,
        support=support,
        splits=splits,
        classes=classes,
        class_counts=counts,
        all=float(per_class[present].mean()),
    )
    for split in SPLITS:
        members = present & (splits == split)
        if members.any():
            result[split] = float(per_class[members].mean())
            continue
        result[split] = float("nan")
        if split in warn_for:
            warnings.warn(
                f"No class of y_true is {split}-shot (thresholds: many > "
                f"{many_threshold}, few < {few_threshold} training samples): its "
                "accuracy is undefined and set to NaN. Smaller datasets need smaller "
                "thresholds.",
                UndefinedSplitWarning,
                stacklevel=2,
            )
    return result
