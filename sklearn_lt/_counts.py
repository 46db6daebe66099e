"""Training samples per class and the shot splits they imply: one object, used everywhere.

Every place where class counts meet labels (shot accuracy, scorers, displays,
samplers, the heads' priors, the tau sweep) goes through :class:`ClassCounts`,
so that matching counts to labels, the split thresholds and their checks are
written once. Labels are compared in one place, :mod:`sklearn_lt.utils._labels`.
"""

from collections.abc import Mapping
from numbers import Real

import numpy as np

from .utils import to_numpy
from .utils._array import as_labels
from .utils._labels import (
    check_finite_labels,
    check_same_label_kind,
    encode_labels,
    label_kind,
    label_positions,
)

__all__ = [
    "ALL_SPLITS",
    "SPLITS",
    "ClassCounts",
    "SingleClassSplitWarning",
    "UndefinedSplitWarning",
    "check_thresholds",
]

# The shot splits, head to tail (OLTR's many / medium / few) ...
SPLITS = ("many", "medium", "few")
# ... and the scores reported for them, with "all" (the mean over every class) last.
ALL_SPLITS = SPLITS + ("all",)

# OLTR's thresholds (ImageNet-LT, Places-LT, CIFAR-LT): many > 100, few < 20.
MANY_THRESHOLD, FEW_THRESHOLD = 100, 20


class UndefinedSplitWarning(UserWarning):
    """A shot split has no class to average over; its accuracy is NaN."""


class SingleClassSplitWarning(UserWarning):
    """A shot split's score averages over a single class: the thresholds do not fit the data.

    With ImageNet-LT's thresholds (many > 100, few < 20) on a small dataset,
    one class can make up a whole split, and a model selected on that split's
    score is selected on one class. Thresholds placed on the data's own counts
    (:meth:`ClassCounts.log_thirds`, or ``thresholds="log-thirds"`` in the
    scorers) avoid it. A split with no class at all raises
    :class:`UndefinedSplitWarning` instead.
    """


def check_thresholds(many_threshold, few_threshold):
    """Raise unless ``0 <= few_threshold <= many_threshold`` are finite reals."""
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


def check_counts(counts):
    """Numpy class counts: non-empty, 1-D, numeric, finite and non-negative."""
    counts = to_numpy(counts)
    if counts.ndim != 1 or counts.size == 0:
        raise ValueError(
            f"class_counts must be a non-empty 1-D array, got shape {counts.shape}."
        )
    if counts.dtype.kind not in "biuf":
        raise ValueError(f"class_counts must be numeric, got dtype {counts.dtype}.")
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise ValueError("class_counts must be finite and non-negative.")
    return counts


class ClassCounts:
    """Training samples per class, counted before any resampling, and their shot splits.

    OLTR's splits (Liu et al. 2019), used by every long-tailed benchmark: a
    class is *many-shot* with strictly more than ``many_threshold`` training
    samples, *few-shot* with strictly fewer than ``few_threshold``, and
    *medium-shot* otherwise (20..100 inclusive with the defaults).

    The thresholds travel with the counts: every function, scorer and display
    of the package that takes ``class_counts`` takes a ``ClassCounts`` and
    splits the classes by its thresholds.

    Parameters
    ----------
    classes : array-like of shape (n_classes,)
        Distinct class labels (numbers or strings, not both).
    counts : array-like of shape (n_classes,)
        Training samples of each class of ``classes``; finite, non-negative.
    many_threshold : float >= 0, default=100
    few_threshold : float >= 0, default=20
        Must not exceed ``many_threshold``. Small datasets need smaller
        thresholds than the ImageNet-LT defaults: see :meth:`log_thirds`.

    Attributes
    ----------
    classes : ndarray of shape (n_classes,)
        Sorted labels.
    counts : ndarray of shape (n_classes,)
        Aligned with ``classes``.
    many_threshold, few_threshold : float

    See Also
    --------
    sklearn_lt.metrics.shot_accuracy : Accuracy per split.
    sklearn_lt.metrics.training_class_counts : The counts a fitted pipeline recorded.

    Examples
    --------
    >>> from sklearn_lt import ClassCounts
    >>> cc = ClassCounts.from_labels(["b", "a", "a", "c", "a", "b"],
    ...                              many_threshold=2, few_threshold=2)
    >>> cc
    ClassCounts({'a': 3, 'b': 2, 'c': 1}, many_threshold=2, few_threshold=2)
    >>> cc.splits()
    array(['many', 'medium', 'few'], dtype='<U6')
    >>> cc.align(["c", "a"])
    array([1, 3])
    """

    def __init__(
        self, classes, counts, *, many_threshold=MANY_THRESHOLD, few_threshold=FEW_THRESHOLD
    ):
        check_thresholds(many_threshold, few_threshold)
        classes = as_labels(classes, "classes")
        counts = check_counts(counts)
        if len(classes) != len(counts):
            preview = classes.tolist()[:10]
            raise ValueError(
                f"class_counts has {len(counts)} entries but there are {len(classes)} "
                f"classes ({preview}{'...' if len(classes) > 10 else ''}): pass one count "
                "per class, in the order of the classes, or a dict {label: count}."
            )
        label_kind(classes)
        check_finite_labels(classes, "classes")
        order = np.argsort(classes, kind="stable")
        classes, counts = classes[order], counts[order]
        if np.any(classes[1:] == classes[:-1]):
            raise ValueError("classes must not contain duplicates.")
        self.classes = classes
        self.counts = counts
        self.many_threshold = many_threshold
        self.few_threshold = few_threshold

    # ------------------------------------------------------------ builders
    @classmethod
    def from_labels(cls, y, *, classes=None, **thresholds):
        """Counts of the labels ``y``; ``classes`` adds classes with no sample (count 0).

        Parameters
        ----------
        y : array-like of shape (n_samples,)
            Training labels.
        classes : array-like of shape (n_classes,), default=None
            Every class to count, also those without a label in ``y``.
        **thresholds
            ``many_threshold`` and ``few_threshold``.

        Returns
        -------
        counts : ClassCounts

        Examples
        --------
        >>> from sklearn_lt import ClassCounts
        >>> ClassCounts.from_labels([2, 0, 0], classes=[0, 1, 2]).as_dict()
        {0: 2, 1: 0, 2: 1}
        """
        y = as_labels(y)
        check_finite_labels(y, "y")
        found, _, counts = encode_labels(y)
        result = cls(found, counts, **thresholds)
        return result if classes is None else result.reindex(classes, unknown="zero")

    @classmethod
    def coerce(cls, class_counts, classes=None, **thresholds):
        """A ``ClassCounts`` from what users pass as ``class_counts``.

        The one place where the package's ``class_counts`` / ``classes`` /
        ``many_threshold`` / ``few_threshold`` arguments become an object.

        Parameters
        ----------
        class_counts : ClassCounts, dict or array-like
            A ``ClassCounts`` (returned as it is, or with the thresholds
            given), a dict ``{label: count}``, or counts aligned with
            ``classes``.
        classes : array-like, default=None
            The labels of an array of counts (required with one; not allowed
            with a dict). With a ``ClassCounts``, the classes it must count
            (see :meth:`reindex`).
        **thresholds : float or None
            ``many_threshold`` and ``few_threshold``; ``None`` keeps those of
            a ``ClassCounts``, or the defaults (100 and 20).

        Examples
        --------
        >>> from sklearn_lt import ClassCounts
        >>> ClassCounts.coerce([5, 50], classes=["b", "a"], few_threshold=10)
        ClassCounts({'a': 50, 'b': 5}, many_threshold=100, few_threshold=10)
        """
        thresholds = {k: v for k, v in thresholds.items() if v is not None}
        if isinstance(class_counts, ClassCounts):
            if classes is not None:
                class_counts = class_counts.reindex(classes, unknown="raise")
            return class_counts.with_thresholds(**thresholds) if thresholds else class_counts
        if isinstance(class_counts, Mapping):
            if classes is not None:
                raise ValueError("Pass classes only with an array of class_counts, not a dict.")
            labels = list(class_counts)
            counts = [to_numpy(class_counts[c]) for c in labels]
            return cls(np.asarray(labels), np.asarray(counts), **thresholds)
        if classes is None:
            raise ValueError(
                "An array of class_counts needs the classes it counts (e.g. the "
                "estimator's classes_); or pass a dict {label: count}."
            )
        return cls(classes, class_counts, **thresholds)

    @classmethod
    def log_thirds(cls, classes, counts):
        """Counts with thresholds at the log-space thirds of the count range.

        ``many = round(n_max ** (2/3) * n_min ** (1/3))`` and ``few =
        round(n_max ** (1/3) * n_min ** (2/3))`` (``n_min`` over the classes
        with samples). The standard thresholds (many: more than 100, few:
        fewer than 20) sit at these places on CIFAR-100-LT at IR 100 (counts
        500 .. 5 give 108 and 23), so this carries the convention to datasets
        with fewer samples per class. Scaling every count by a factor scales
        both thresholds by it (up to rounding), so the training part of a
        cross-validation fold gets thresholds in proportion to its counts,
        where fixed thresholds would move classes across splits.

        Parameters
        ----------
        classes : array-like of shape (n_classes,)
            Class labels.
        counts : array-like of shape (n_classes,)
            Training samples per class.

        Returns
        -------
        counts : ClassCounts

        Examples
        --------
        >>> from sklearn_lt import ClassCounts
        >>> cc = ClassCounts.log_thirds([0, 1], [500, 5])
        >>> cc.many_threshold, cc.few_threshold
        (108, 23)
        """
        positive = check_counts(counts)
        positive = positive[positive > 0].astype(np.float64)
        if positive.size == 0:
            raise ValueError("log-thirds thresholds need at least one class with samples.")
        n_max, n_min = positive.max(), positive.min()
        many = int(round(n_max ** (2 / 3) * n_min ** (1 / 3)))
        few = int(round(n_max ** (1 / 3) * n_min ** (2 / 3)))
        return cls(classes, counts, many_threshold=many, few_threshold=few)

    def with_thresholds(self, *, many_threshold=None, few_threshold=None):
        """The same counts with other split thresholds (``None`` keeps one).

        Parameters
        ----------
        many_threshold, few_threshold : float, default=None
            The new thresholds.

        Returns
        -------
        counts : ClassCounts
        """
        return ClassCounts(
            self.classes,
            self.counts,
            many_threshold=self.many_threshold if many_threshold is None else many_threshold,
            few_threshold=self.few_threshold if few_threshold is None else few_threshold,
        )

    # ---------------------------------------------------------- alignment
    def positions(self, labels, *, unknown="raise", name="labels"):
        """Index of each label of ``labels`` in :attr:`classes`; -1 where unknown.

        Parameters
        ----------
        labels : array-like of shape (n,)
        unknown : {"raise", "ignore"}, default="raise"
            ``"raise"`` names the labels without a count in a ``ValueError``.
        name : str, default="labels"
            How the error messages call ``labels``.

        Returns
        -------
        positions : ndarray of shape (n,), int
        """
        labels = as_labels(labels, name)
        check_same_label_kind(**{"the counted classes": self.classes, name: labels})
        position = label_positions(self.classes, labels)
        if unknown == "raise" and np.any(position < 0):
            raise ValueError(
                f"{name} has labels {np.unique(labels[position < 0]).tolist()} without a "
                f"class count (the counts are for the classes {self.classes.tolist()[:20]}"
                f"{'...' if len(self.classes) > 20 else ''})."
            )
        return position

    def align(self, labels, *, unknown="raise", name="labels"):
        """The count of each label of ``labels``; ``unknown="zero"`` counts unknown ones as 0.

        Parameters
        ----------
        labels : array-like of shape (n,)
        unknown : {"raise", "zero"}, default="raise"
            ``"raise"`` names the labels without a count in a ``ValueError``.
        name : str, default="labels"
            How the error messages call ``labels``.

        Returns
        -------
        counts : ndarray of shape (n,)
        """
        position = self.positions(
            labels, unknown="raise" if unknown == "raise" else "ignore", name=name
        )
        return np.where(position >= 0, self.counts[position], 0).astype(self.counts.dtype)

    def reindex(self, classes, *, unknown="zero"):
        """The counts of ``classes`` (in sorted order): 0 for classes without a count.

        ``unknown="raise"`` refuses classes without a count instead; either way
        every class of ``self`` with training samples must be among ``classes``.

        Parameters
        ----------
        classes : array-like of shape (n_classes,)
            The classes of the result.
        unknown : {"zero", "raise"}, default="zero"
            What a class without a count gets.

        Returns
        -------
        counts : ClassCounts
        """
        classes = as_labels(classes, "classes")
        missing = self.positions(classes, unknown="ignore", name="classes")
        kept = np.zeros(len(self), dtype=bool)
        kept[missing[missing >= 0]] = True
        if np.any(~kept & (self.counts > 0)):
            raise ValueError(
                f"The classes {self.classes[~kept & (self.counts > 0)].tolist()} have "
                f"training samples but are not among the classes {classes.tolist()[:20]}."
            )
        return ClassCounts(
            classes,
            self.align(classes, unknown=unknown, name="classes"),
            many_threshold=self.many_threshold,
            few_threshold=self.few_threshold,
        )

    # -------------------------------------------------------------- splits
    def splits(self, labels=None):
        """``"many"``, ``"medium"`` or ``"few"`` for each class of :attr:`classes`.

        ``labels`` gives the splits of those classes instead, in their order.

        Parameters
        ----------
        labels : array-like of shape (n,), default=None
            Labels with a count.

        Returns
        -------
        splits : ndarray of str
        """
        counts = self.counts if labels is None else self.align(labels)
        splits = np.full(counts.shape, "medium", dtype="<U6")
        splits[counts > self.many_threshold] = "many"
        splits[counts < self.few_threshold] = "few"
        return splits

    @property
    def thresholds(self):
        """``(many_threshold, few_threshold)``."""
        return self.many_threshold, self.few_threshold

    def describe_thresholds(self):
        """The split rule in words, e.g. ``"many: > 100 training samples, few: < 20"``.

        Returns
        -------
        text : str
        """
        return (
            f"many: > {self.many_threshold:g} training samples, few: < {self.few_threshold:g}"
        )

    def priors(self):
        """Class frequencies ``pi_j = n_j / sum_i n_i`` (the prior of logit adjustment).

        Returns
        -------
        priors : ndarray of shape (n_classes,)
        """
        return self.counts / self.counts.sum()

    # ------------------------------------------------------------ protocol
    def __len__(self):
        return len(self.classes)

    def as_dict(self):
        """The counts as a dict.

        Returns
        -------
        counts : dict
            ``{label: count}``.
        """
        return dict(zip(self.classes.tolist(), self.counts.tolist()))

    def __eq__(self, other):
        return (
            isinstance(other, ClassCounts)
            and len(self) == len(other)
            and np.array_equal(self.classes, other.classes)
            and np.array_equal(self.counts, other.counts)
            and self.thresholds == other.thresholds
        )

    __hash__ = None

    def __repr__(self):
        shown = self.as_dict()
        if len(shown) > 12:
            items = list(shown.items())
            text = ", ".join(f"{k!r}: {v}" for k, v in items[:6]) + ", ..."
            text = "{" + text + f" ({len(items)} classes)" + "}"
        else:
            text = repr(shown)
        return (
            f"ClassCounts({text}, many_threshold={self.many_threshold:g}, "
            f"few_threshold={self.few_threshold:g})"
        )
