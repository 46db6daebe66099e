"""Many/medium/few-shot splits of classes and per-split accuracy (Liu et al. 2019).

The definitions follow OLTR's ``shot_acc``, which every long-tailed codebase
reuses: a class is *many-shot* with strictly more than ``many_threshold``
training samples, *few-shot* with strictly fewer than ``few_threshold``, and
*medium-shot* otherwise; a split's accuracy is the unweighted mean of the
accuracies of its classes.
"""

import warnings
from collections.abc import Mapping

import numpy as np
from sklearn.utils import Bunch

from ._counts import (
    SPLITS,
    ClassCounts,
    UndefinedSplitWarning,
    as_labels,
    check_counts,
    check_same_label_kind,
)

__all__ = ["shot_accuracy", "shot_counts", "shot_splits"]


def shot_splits(class_counts, *, many_threshold=None, few_threshold=None):
    """Split classes into many-, medium- and few-shot by their training counts.

    OLTR's definition (Liu et al. 2019): ``"many"`` when the count is strictly
    greater than ``many_threshold``, ``"few"`` when strictly smaller than
    ``few_threshold``, ``"medium"`` otherwise (``few_threshold <= count <=
    many_threshold``, i.e. 20..100 inclusive with the defaults).

    Parameters
    ----------
    class_counts : array-like, torch.Tensor, dict or ClassCounts
        Training samples per class (counted before any resampling): an array
        of shape (n_classes,), a dict ``{label: count}`` or a
        :class:`ClassCounts`.
    many_threshold : float >= 0, default=None
    few_threshold : float >= 0, default=None
        Must not exceed ``many_threshold``. ``None`` means 100 and 20 (OLTR's),
        or the thresholds of a :class:`ClassCounts`. Small datasets need
        smaller thresholds than the ImageNet-LT defaults (see
        :meth:`ClassCounts.log_thirds`).

    Returns
    -------
    splits : ndarray of str of shape (n_classes,)
        ``"many"``, ``"medium"`` or ``"few"`` for each class (in the order of
        the array, or of the sorted labels of a dict or ``ClassCounts``).

    Examples
    --------
    >>> from sklearn_lt.metrics import shot_splits
    >>> shot_splits([500, 101, 100, 20, 19, 0])
    array(['many', 'many', 'medium', 'medium', 'few', 'few'], dtype='<U6')
    """
    if not isinstance(class_counts, (ClassCounts, Mapping)):
        class_counts = check_counts(class_counts)
        classes = np.arange(len(class_counts))
    else:
        classes = None
    return ClassCounts.coerce(
        class_counts, classes, many_threshold=many_threshold, few_threshold=few_threshold
    ).splits()


def shot_counts(class_counts, classes=None, y_true=None, **thresholds):
    """The :class:`ClassCounts` of ``shot_accuracy``'s arguments.

    An array of counts without ``classes`` counts the sorted distinct labels
    of ``y_true``, which must be as many as the counts. Classes never come
    from predictions: a stray predicted label would shift every count.
    """
    if classes is None and not isinstance(class_counts, (ClassCounts, Mapping)):
        counts = check_counts(class_counts)
        classes = np.unique(y_true)
        if len(classes) != len(counts):
            raise ValueError(
                f"class_counts has {len(counts)} entries but y_true holds "
                f"{len(classes)} distinct labels: pass classes (the labels the counts "
                "refer to, e.g. the estimator's classes_) or a dict {label: count}."
            )
    return ClassCounts.coerce(class_counts, classes, **thresholds)


def _per_class_accuracy(y_true, y_pred, counts):
    """Accuracy (recall) and support of each class of ``counts``; NaN where no sample."""
    index = counts.positions(y_true, name="y_true")
    correct = y_pred == y_true
    support = np.bincount(index, minlength=len(counts))
    hits = np.bincount(index, weights=correct, minlength=len(counts))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, hits / np.maximum(support, 1), np.nan), support


def shot_accuracy(
    y_true,
    y_pred,
    class_counts,
    *,
    classes=None,
    many_threshold=None,
    few_threshold=None,
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
    and with string labels (string labels against numbers raise, as in
    scikit-learn).

    Parameters
    ----------
    y_true : array-like or torch.Tensor of shape (n_samples,)
        True labels.
    y_pred : array-like or torch.Tensor of shape (n_samples,)
        Predicted labels. A label without a class count is simply wrong.
    class_counts : array-like, torch.Tensor, dict or ClassCounts
        Training samples per class, counted *before* any resampling: an array
        aligned with ``classes``, a dict ``{label: count}``, or a
        :class:`ClassCounts` (which carries its split thresholds).
    classes : array-like of shape (n_classes,), default=None
        The labels ``class_counts`` refers to (e.g. an estimator's
        ``classes_``). ``None`` takes the sorted distinct labels of
        ``y_true`` (never those of ``y_pred``), which must then be as many as
        the counts; pass ``classes`` whenever a training class may be missing
        from ``y_true``. Not allowed with a dict.
    many_threshold : float >= 0, default=None
        Classes with strictly more training samples are many-shot. ``None``
        means 100, or the threshold of a :class:`ClassCounts`.
    few_threshold : float >= 0, default=None
        Classes with strictly fewer training samples are few-shot. ``None``
        means 20, or the threshold of a :class:`ClassCounts`.
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
        - ``classes`` and ``class_counts`` (ndarray of shape (n_classes,)), in
          the order of ``classes`` (sorted when it is not given);
        - ``thresholds`` (tuple): the ``(many_threshold, few_threshold)`` used.

    See Also
    --------
    shot_splits : The split of each class.
    ClassCounts : Counts and thresholds in one object.
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
    y_true = as_labels(y_true, "y_true")
    y_pred = as_labels(y_pred, "y_pred")
    if len(y_true) != len(y_pred):
        raise ValueError(
            "Found input variables with inconsistent numbers of samples: "
            f"[{len(y_true)}, {len(y_pred)}]."
        )
    if len(y_true) == 0:
        raise ValueError("y_true is empty.")
    check_same_label_kind(y_true=y_true, y_pred=y_pred)
    counts = shot_counts(
        class_counts, classes, y_true, many_threshold=many_threshold, few_threshold=few_threshold
    )
    per_class, support = _per_class_accuracy(y_true, y_pred, counts)
    splits = counts.splits()
    if classes is not None:  # report in the caller's order of the classes
        order = counts.positions(classes, name="classes")
        per_class, support, splits = per_class[order], support[order], splits[order]
    present = support > 0
    result = Bunch(
        per_class=per_class,
        support=support,
        splits=splits,
        classes=counts.classes if classes is None else counts.classes[order],
        class_counts=counts.counts if classes is None else counts.counts[order],
        thresholds=counts.thresholds,
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
                f"No class of y_true is {split}-shot ({counts.describe_thresholds()}): its "
                "accuracy is undefined and set to NaN. Smaller datasets need smaller "
                "thresholds, e.g. at the log-space thirds of the counts "
                "(ClassCounts.log_thirds).",
                UndefinedSplitWarning,
                stacklevel=2,
            )
    return result
