"""Shared helpers of the Display objects: matplotlib check, inputs, class axes.

Every figure that shows one value per class orders the classes by their
training count, head (most samples) first, as the papers do; the many /
medium / few-shot regions are then contiguous and marked on the axis.
"""

from collections.abc import Mapping

import numpy as np

from .._counts import ALL_SPLITS, ClassCounts, check_counts
from ..metrics import training_class_counts
from ..utils import to_numpy

# One colour per split in every figure; "all" is the black overall line.
SPLIT_STYLES = {
    "many": {"color": "tab:blue"},
    "medium": {"color": "tab:orange"},
    "few": {"color": "tab:green"},
    "all": {"color": "black", "linestyle": "--"},
}

# Markers of successive lines on class axes, so that overlapping lines stay apart.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")

# Class axes get one tick per class up to this many classes.
_MAX_LABELLED_CLASSES = 20


def check_matplotlib_support(caller_name):
    """Raise an ImportError naming the ``plot`` extra when matplotlib is missing.

    Parameters
    ----------
    caller_name : str
        The function or method that needs matplotlib.
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError as e:
        raise ImportError(
            f"{caller_name} requires matplotlib, an optional dependency of sklearn-lt. "
            "Install it with `pip install matplotlib` (or `pip install -e '.[plot]'` "
            "in a clone of sklearn-lt)."
        ) from e


def _get_ax(ax, caller_name):
    """``(ax, figure)``: the given axes, or new ones on a new figure."""
    check_matplotlib_support(caller_name)
    import matplotlib.pyplot as plt

    if ax is None:
        # Constrained layout keeps two-line class ticks and labels inside the figure.
        _, ax = plt.subplots(layout="constrained")
    return ax, ax.figure


def _check_named(objects, what, *, single_name=None):
    """A non-empty ``{name: object}`` dict from a dict (or one object with ``single_name``)."""
    if single_name is not None and not isinstance(objects, Mapping):
        return {single_name: objects}
    if not isinstance(objects, Mapping):
        raise TypeError(
            f"{what} must be a dict {{name: {what.rstrip('s')}}}, got {type(objects).__name__}."
        )
    if len(objects) == 0:
        raise ValueError(f"{what} is empty: pass at least one.")
    return {str(name): obj for name, obj in objects.items()}


def _check_splits(splits, available):
    """Tuple of requested splits; unknown or unavailable names raise ValueError."""
    if splits is None:
        return tuple(s for s in ALL_SPLITS if s in available) + tuple(
            s for s in available if s not in ALL_SPLITS
        )
    if isinstance(splits, str):
        splits = (splits,)
    splits = tuple(splits)
    unknown = [s for s in splits if s not in available]
    if unknown:
        raise ValueError(
            f"Unknown split(s) {unknown}: choose among {list(available)}."
        )
    if not splits:
        raise ValueError("splits is empty: choose at least one split.")
    return splits


def _final_step(estimator, X=None):
    """The last step of a (nested) pipeline and ``X`` transformed by the steps before it.

    Resamplers (``fit_resample``) and ``"passthrough"`` steps are skipped, as
    a pipeline does at predict time. Anything else is returned as it is.
    """
    while isinstance(getattr(estimator, "steps", None), list):
        *head, (_, last) = estimator.steps
        for _, step in head:
            if step is None or isinstance(step, str) or hasattr(step, "fit_resample"):
                continue
            if X is not None:
                X = step.transform(X)
        estimator = last
    return estimator, X


def _classes_of(estimators):
    """The ``classes_`` shared by fitted estimators (ValueError if they differ)."""
    classes = None
    for name, estimator in estimators.items():
        own = getattr(estimator, "classes_", None)
        if own is None:
            raise ValueError(
                f"Estimator {name!r} ({type(estimator).__name__}) has no classes_: "
                "pass fitted classifiers."
            )
        own = to_numpy(own)
        if classes is None:
            classes = own
        elif len(own) != len(classes) or not np.array_equal(own, classes):
            raise ValueError(
                f"Estimator {name!r} has classes_ {own.tolist()}, another one "
                f"{classes.tolist()}: the estimators must share their classes."
            )
    return classes


def labels_of(class_counts, otherwise=None):
    """The sorted labels counted by a ``ClassCounts`` or dict.

    For an array of counts: ``otherwise``, or ``0 .. n - 1`` when it is None.
    """
    if isinstance(class_counts, (ClassCounts, Mapping)):
        return ClassCounts.coerce(class_counts).classes
    return np.arange(len(check_counts(class_counts))) if otherwise is None else otherwise


def class_counts_for(classes, class_counts, many_threshold=None, few_threshold=None):
    """The :class:`~sklearn_lt.metrics.ClassCounts` of ``classes`` from a user's ``class_counts``.

    ``class_counts`` is a ``ClassCounts`` or a dict (which must count every
    class of ``classes``; other labels are left out of the figure), or an
    array aligned with ``classes``. ``None`` thresholds keep those of a
    ``ClassCounts``, or the defaults.
    """
    thresholds = {"many_threshold": many_threshold, "few_threshold": few_threshold}
    if not isinstance(class_counts, (ClassCounts, Mapping)):
        return ClassCounts.coerce(class_counts, classes, **thresholds)
    counts = ClassCounts.coerce(class_counts, **thresholds)
    return ClassCounts(
        classes,
        counts.align(classes, name="classes"),
        many_threshold=counts.many_threshold,
        few_threshold=counts.few_threshold,
    )


def _resolve_estimator_counts(estimators, class_counts, many_threshold=None, few_threshold=None):
    """``(classes, counts)``: the estimators' ``classes_`` and their ``ClassCounts``.

    ``class_counts=None`` takes the counts recorded by the estimators (see
    :func:`sklearn_lt.metrics.training_class_counts`: before any resampling);
    every estimator that records counts must agree.
    """
    classes = _classes_of(estimators)
    if class_counts is not None:
        return classes, class_counts_for(classes, class_counts, many_threshold, few_threshold)
    found = {}
    for name, estimator in estimators.items():
        try:
            recorded = ClassCounts(*training_class_counts(estimator))
        except ValueError:
            continue
        found[name] = class_counts_for(classes, recorded, many_threshold, few_threshold)
    if not found:
        raise ValueError(
            "None of the estimators records its training class counts (class_counts_): "
            "pass class_counts (one per class of classes_, or a dict {label: count})."
        )
    (first_name, counts), *others = found.items()
    for name, other in others:
        if other != counts:
            raise ValueError(
                f"Estimators {first_name!r} and {name!r} were fitted on different class "
                "counts (e.g. one after a resampler that does not record its input "
                "counts): pass class_counts explicitly."
            )
    return classes, counts


def _check_per_class(values, n_classes, what):
    values = np.asarray(to_numpy(values), dtype=np.float64)
    if values.shape != (n_classes,):
        raise ValueError(
            f"{what} must have one value per class, shape ({n_classes},); got {values.shape}."
        )
    return values


class _ClassAxisMixin:
    """Displays with one value per class, drawn against classes sorted by count."""

    def _init_classes(self, class_counts, classes, many_threshold, few_threshold):
        """Store ``classes`` (in their order), their ``class_counts`` and the thresholds.

        A dict or :class:`~sklearn_lt.metrics.ClassCounts` without ``classes``
        gives its sorted labels; an array without them is ``0 .. n - 1``.
        """
        if classes is None:
            classes = labels_of(class_counts)
        counts = class_counts_for(classes, class_counts, many_threshold, few_threshold)
        self.classes = np.asarray(to_numpy(classes))
        self.class_counts = counts.align(self.classes)
        self.many_threshold, self.few_threshold = counts.thresholds
        self._counts = counts

    def _marker_style(self, i):
        """Marker of the ``i``-th line: distinct markers on up to 50 classes, none beyond."""
        if len(self.class_counts) > 50:
            return {"marker": None}
        return {"marker": MARKERS[i % len(MARKERS)], "markersize": 5}

    @property
    def class_order(self):
        """Positions of the classes from the most to the least frequent (stable)."""
        return np.argsort(-np.asarray(self.class_counts, dtype=np.float64), kind="stable")

    def _decorate_class_axis(self, ax, show_splits, title):
        """Ticks, label, title and the many/medium/few regions of the class axis.

        The region names are the tick labels of a secondary x-axis on top,
        where no data or legend can hide them; matplotlib places any title
        above that axis, also one set later (the study's own titles). Returns
        the boundary lines and the region labels drawn.
        """
        ax.set_title(title)
        order = self.class_order
        n_classes = len(order)
        counts = self.class_counts[order]
        if n_classes <= _MAX_LABELLED_CLASSES:
            ax.set_xticks(np.arange(n_classes))
            ax.set_xticklabels(
                [f"{label}\n{count:g}" for label, count in zip(self.classes[order], counts)],
                fontsize="small",
            )
            ax.set_xlabel("Class (training count), sorted by training count")
        else:
            ax.set_xlabel("Class index, sorted by training count (head to tail)")
        ax.set_xlim(-0.5, n_classes - 0.5)
        lines, centres, names = [], [], []
        if not show_splits:
            return lines, []
        splits = self._counts.splits(self.classes[order])
        start = 0
        for stop in range(1, n_classes + 1):
            if stop < n_classes and splits[stop] == splits[start]:
                continue
            if stop < n_classes:
                lines.append(
                    ax.axvline(stop - 0.5, color="0.6", linestyle=":", linewidth=1, zorder=0)
                )
            centres.append((start + stop - 1) / 2)
            names.append(splits[start])
            start = stop
        regions = ax.secondary_xaxis("top")
        regions.set_xticks(centres, labels=names, color="0.4", fontsize="small", style="italic")
        regions.tick_params(length=0, pad=2)
        return lines, list(regions.get_xticklabels())
