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

from .._counts import (
    SPLITS,
    ClassCounts,
    SingleClassSplitWarning,
    UndefinedSplitWarning,
    check_counts,
)
from ..utils import to_numpy
from ..utils._array import as_labels
from ..utils._labels import check_finite_labels, check_same_label_kind, encode_labels

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
        Must not exceed ``many_threshold``. ``None`` means the defaults of
        :class:`ClassCounts`, 100 and 20, or the thresholds of a
        :class:`ClassCounts` given as ``class_counts``. Small datasets need
        smaller thresholds than these ImageNet-LT ones (OLTR's; see
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
        check_finite_labels(y_true, "y_true")  # the classes come from its labels
        classes = encode_labels(y_true)[0]
        if len(classes) != len(counts):
            raise ValueError(
                f"class_counts has {len(counts)} entries but y_true holds "
                f"{len(classes)} distinct labels: pass classes (the labels the counts "
                "refer to, e.g. the estimator's classes_) or a dict {label: count}."
            )
    return ClassCounts.coerce(class_counts, classes, **thresholds)


def check_predictions(y_true, y_pred, sample_weight=None):
    """1-D numpy ``y_true``, ``y_pred`` and float64 ``sample_weight`` (or None), checked."""
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
    if sample_weight is not None:
        sample_weight = to_numpy(sample_weight)
        if sample_weight.shape != y_true.shape or sample_weight.dtype.kind not in "biuf":
            raise ValueError(
                f"sample_weight must be numbers of shape {y_true.shape} (one per sample), "
                f"got {sample_weight.dtype} of shape {sample_weight.shape}."
            )
        sample_weight = sample_weight.astype(np.float64)
        if not np.all(np.isfinite(sample_weight)) or np.any(sample_weight < 0):
            raise ValueError("sample_weight must be finite and non-negative.")
        if not sample_weight.sum() > 0:
            raise ValueError("sample_weight sums to zero: no sample is scored.")
    return y_true, y_pred, sample_weight


def shot_result(y_true, y_pred, counts, index, sample_weight=None):
    """:func:`shot_accuracy`'s result in the order of ``counts.classes``, without warnings.

    ``index`` is ``counts.positions(y_true)``. The accuracy of class ``j`` is
    the weight of its right predictions over the weight of its samples
    (weights 1 by default), the recall of scikit-learn's
    ``balanced_accuracy_score``; NaN where its samples weigh nothing.
    """
    correct = y_pred == y_true
    n_classes = len(counts)
    support = np.bincount(index, minlength=n_classes)
    if sample_weight is None:
        total = support
        hits = np.bincount(index[correct], minlength=n_classes)
    else:
        total = np.bincount(index, weights=sample_weight, minlength=n_classes)
        hits = np.bincount(index[correct], weights=sample_weight[correct], minlength=n_classes)
    present = total > 0
    per_class = np.full(n_classes, np.nan)
    np.divide(hits, total, out=per_class, where=present)
    splits = counts.splits()
    result = Bunch(
        per_class=per_class,
        support=support,
        splits=splits,
        classes=counts.classes,
        class_counts=counts.counts,
        thresholds=counts.thresholds,
        all=float(per_class[present].mean()),
    )
    for split in SPLITS:
        members = present & (splits == split)
        result[split] = float(per_class[members].mean()) if members.any() else float("nan")
    return result


def warn_small_splits(result, counts, splits, hint, *, stacklevel):
    """Warn for each split of ``splits`` whose score averages over fewer than two classes.

    One shared check for :func:`shot_accuracy` and the scorers: no class
    gives an :class:`UndefinedSplitWarning` (the score is NaN), one class a
    :class:`SingleClassSplitWarning`; both name the thresholds and end with
    ``hint``.
    """
    rule = f"under the thresholds {counts.describe_thresholds()}"
    present = ~np.isnan(result.per_class)
    for split in splits:
        members = np.flatnonzero(present & (result.splits == split))
        if len(members) > 1:
            continue
        if len(members) == 0:
            message = (
                f"No class of y_true is {split}-shot {rule}: the {split!r} accuracy is "
                f"undefined and set to NaN; {hint}."
            )
            category = UndefinedSplitWarning
        else:
            message = (
                f"The {split!r} accuracy is that of one class "
                f"({result.classes[members[0]].tolist()!r}): {rule}, it is the only "
                f"{split}-shot class; {hint}."
            )
            category = SingleClassSplitWarning
        warnings.warn(message, category, stacklevel=stacklevel + 1)


def shot_accuracy(
    y_true,
    y_pred,
    class_counts,
    *,
    classes=None,
    many_threshold=None,
    few_threshold=None,
    warn_for=SPLITS,
    sample_weight=None,
):
    """Top-1 accuracy per many/medium/few-shot split and overall (OLTR's ``shot_acc``).

    The accuracy of a split is the unweighted mean of the accuracies of its
    classes, and ``all`` is the mean accuracy over every class (balanced
    accuracy), as on the balanced test sets of the long-tailed benchmarks.
    Classes absent from ``y_true`` have no accuracy (NaN in ``per_class``)
    and are left out of every mean. A split without any class present in
    ``y_true`` gets NaN and an :class:`UndefinedSplitWarning`; a split of a
    single class gets a :class:`SingleClassSplitWarning` (its score is that
    one class's accuracy: the thresholds do not fit the data).

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
        Classes with strictly more training samples are many-shot.
    few_threshold : float >= 0, default=None
        Classes with strictly fewer training samples are few-shot; must not
        exceed ``many_threshold``. ``None`` means the defaults of
        :class:`ClassCounts`, 100 and 20, or the thresholds of a
        :class:`ClassCounts` given as ``class_counts``.
    warn_for : tuple of str, default=("many", "medium", "few")
        The splits that warn when undefined or made of a single class (as
        scikit-learn's ``precision_recall_fscore_support`` warns); the others
        are silent.
    sample_weight : array-like or torch.Tensor of shape (n_samples,), default=None
        Non-negative weights of the samples: the accuracy of a class is the
        weight of its right predictions over the weight of its samples (its
        weighted recall, as in scikit-learn's ``balanced_accuracy_score``); a
        class whose samples weigh nothing counts as absent. ``support``
        stays the number of samples.

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
    >>> y_true = [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    >>> y_pred = [0, 0, 1, 0, 2, 2, 3, 0, 0, 0, 5, 0]
    >>> counts = {0: 500, 1: 200, 2: 50, 3: 40, 4: 5, 5: 3}
    >>> res = shot_accuracy(y_true, y_pred, counts)
    >>> res.many, res.medium, res.few, res.all
    (0.75, 0.75, 0.25, 0.5833...)
    >>> res.splits
    array(['many', 'many', 'medium', 'medium', 'few', 'few'], dtype='<U6')

    Weighted samples (here the second sample of each class counts double):

    >>> weights = [1, 2] * 6
    >>> shot_accuracy(y_true, y_pred, counts, sample_weight=weights).all
    0.5
    """
    y_true, y_pred, sample_weight = check_predictions(y_true, y_pred, sample_weight)
    counts = shot_counts(
        class_counts, classes, y_true, many_threshold=many_threshold, few_threshold=few_threshold
    )
    result = shot_result(
        y_true, y_pred, counts, counts.positions(y_true, name="y_true"), sample_weight
    )
    if classes is not None:  # report in the caller's order of the classes
        order = counts.positions(classes, name="classes")
        for key in ("per_class", "support", "splits", "classes", "class_counts"):
            result[key] = result[key][order]
    warn_small_splits(
        result,
        counts,
        [split for split in SPLITS if split in warn_for],
        "smaller datasets need smaller thresholds, e.g. at the log-space thirds of the "
        "counts (ClassCounts.log_thirds)",
        stacklevel=2,
    )
    return result
