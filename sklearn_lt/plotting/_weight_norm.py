"""Per-class weight norms of linear heads, sorted by class count (Kang et al. 2020, Fig. 2)."""

import numpy as np

from ..metrics import weight_norms
from ..utils import to_numpy
from ..utils._array import two_class_rows
from ..utils._docstring import Substitution
from ..utils._docstring_entries import DISPLAY_DOCS
from ._base import (
    _check_named,
    _check_per_class,
    _ClassAxisMixin,
    _final_step,
    _get_ax,
    _resolve_estimator_counts,
    check_matplotlib_support,
)

__all__ = ["WeightNormDisplay"]


def _class_weight_norms(estimator, n_classes):
    """One weight norm per class of a fitted linear classifier (or the end of a pipeline)."""
    final, _ = _final_step(estimator)
    coef = getattr(final, "coef_", None)
    if coef is not None and n_classes == 2:
        coef = np.atleast_2d(to_numpy(coef))
        if coef.shape[0] == 1:
            # scikit-learn's binary row w counts as the rows (-w/2, w/2), as the
            # heads read it: each class gets ||w|| / 2.
            return weight_norms(two_class_rows(coef))
    norms = weight_norms(final)
    if norms.shape != (n_classes,):
        raise ValueError(
            f"{type(final).__name__}'s coef_ has {len(norms)} rows for {n_classes} classes."
        )
    return norms


@Substitution(DISPLAY_DOCS)
class WeightNormDisplay(_ClassAxisMixin):
    """L2 norm of each class's weight row, classes sorted by training count.

    Kang et al. (2020), Fig. 2 left: a classifier trained with
    instance-balanced sampling has larger norms for head classes;
    tau-normalisation, LWS and cRT flatten the profile. Several heads can be
    overlaid, one line each.

    Create it with :meth:`from_estimators` (or :meth:`from_estimator`); the
    constructor only stores data.

    Parameters
    ----------
    weight_norms : dict of str to array-like of shape (n_classes,)
        The norms of each estimator, aligned with ``classes``.
    %(class_counts)s
    %(thresholds)s

    Attributes
    ----------
    lines_ : dict of str to matplotlib Line2D
        One line per estimator.
    split_lines_ : list of matplotlib Line2D
        Boundaries between the splits (when shown).
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    See Also
    --------
    sklearn_lt.metrics.weight_norms : The norms.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.frozen import FrozenEstimator
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_lt import LWSClassifier, TauNormClassifier
    >>> from sklearn_lt.datasets import load_digits_lt
    >>> from sklearn_lt.plotting import WeightNormDisplay
    >>> X, y, _, _ = load_digits_lt(return_X_y=True)
    >>> base = LogisticRegression(max_iter=1000).fit(X, y)
    >>> heads = {
    ...     "joint": base,
    ...     "tau-norm (0.5)": TauNormClassifier(FrozenEstimator(base), tau=0.5).fit(X, y),
    ...     "LWS": LWSClassifier(FrozenEstimator(base), random_state=0).fit(X, y),
    ... }
    >>> display = WeightNormDisplay.from_estimators(heads, many_threshold=31, few_threshold=8)
    >>> list(display.lines_)
    ['joint', 'tau-norm (0.5)', 'LWS']
    >>> display.class_counts
    array([124,  80,  51,  33,  21,  14,   9,   5,   3,   2])
    """

    def __init__(
        self, weight_norms, class_counts, *, classes=None, many_threshold=None, few_threshold=None
    ):
        self._init_classes(class_counts, classes, many_threshold, few_threshold)
        norms = _check_named(weight_norms, "weight_norms")
        self.weight_norms = {
            name: _check_per_class(v, len(self.classes), f"weight_norms[{name!r}]")
            for name, v in norms.items()
        }

    def plot(self, ax=None, *, show_splits=True, normalize=False, **kwargs):
        """Plot the norms, one line per estimator.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to plot on; ``None`` creates a figure.
        show_splits : bool, default=True
            Mark the many/medium/few regions of the class axis.
        normalize : bool, default=False
            Divide each estimator's norms by their mean, to compare the
            *shape* of heads of different scales (e.g. tau=1 makes every norm
            1).
        **kwargs : dict
            Passed to ``ax.plot`` for every line.

        Returns
        -------
        display : WeightNormDisplay
        """
        ax, figure = _get_ax(ax, f"{type(self).__name__}.plot")
        order = self.class_order
        self.lines_ = {}
        for i, (name, norms) in enumerate(self.weight_norms.items()):
            values = norms[order]
            if normalize:
                values = values / np.nanmean(values)
            (self.lines_[name],) = ax.plot(
                np.arange(len(order)), values, label=name, **{**self._marker_style(i), **kwargs}
            )
        self.split_lines_, self.split_texts_ = self._decorate_class_axis(
            ax, show_splits, "Weight norm per class"
        )
        ax.set_ylabel("Weight norm / mean norm" if normalize else "Weight norm ||w_j||")
        ax.legend(loc="best", fontsize="small")
        ax.grid(True, axis="y", alpha=0.3)
        self.ax_, self.figure_ = ax, figure
        return self

    @classmethod
    @Substitution(DISPLAY_DOCS)
    def from_estimators(
        cls,
        estimators,
        *,
        class_counts=None,
        many_threshold=None,
        few_threshold=None,
        ax=None,
        **kwargs,
    ):
        """Plot the weight norms of several fitted linear heads.

        Parameters
        ----------
        estimators : dict of str to estimator
            Fitted classifiers with ``coef_`` (any head of the package, a
            scikit-learn linear model, a ``FrozenEstimator`` of one, or a
            pipeline ending in one), sharing their ``classes_``. A binary
            scikit-learn model's single row ``w`` counts as ``(-w/2, w/2)``.
        %(estimator_counts)s
        %(thresholds)s
        ax : matplotlib Axes, default=None
        **kwargs : dict
            Passed to :meth:`plot`.

        Returns
        -------
        display : WeightNormDisplay
        """
        check_matplotlib_support(f"{cls.__name__}.from_estimators")
        estimators = _check_named(estimators, "estimators")
        classes, counts = _resolve_estimator_counts(
            estimators, class_counts, many_threshold, few_threshold
        )
        norms = {
            name: _class_weight_norms(estimator, len(classes))
            for name, estimator in estimators.items()
        }
        display = cls(norms, counts, classes=classes)
        return display.plot(ax=ax, **kwargs)

    @classmethod
    def from_estimator(cls, estimator, *, name=None, **kwargs):
        """Plot the weight norms of one fitted linear head.

        Parameters
        ----------
        estimator : estimator
            As in :meth:`from_estimators`.
        name : str, default=None
            Legend entry; ``None`` uses the estimator's class name.
        **kwargs : dict
            Passed to :meth:`from_estimators`.

        Returns
        -------
        display : WeightNormDisplay
        """
        name = type(_final_step(estimator)[0]).__name__ if name is None else name
        return cls.from_estimators({name: estimator}, **kwargs)
