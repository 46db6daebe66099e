"""Per-split accuracy bars comparing heads (many / medium / few / all)."""

import numpy as np

from .._counts import ALL_SPLITS, SPLITS
from ..metrics import shot_accuracy
from ..metrics._shot import shot_counts
from ..utils import to_numpy
from ..utils._array import as_labels
from ..utils._docstring import Substitution
from ..utils._docstring_entries import DISPLAY_DOCS
from ._base import (
    _check_named,
    _check_splits,
    _get_ax,
    _resolve_estimator_counts,
    check_matplotlib_support,
)

__all__ = ["ShotAccuracyDisplay"]


class ShotAccuracyDisplay:
    """Grouped bars of the many/medium/few-shot and overall accuracy of several models.

    The figure of every long-tailed paper's main table: one group of bars
    per split, one bar per model (e.g. joint, cRT, tau-norm, LWS, LORT).

    Create it with :meth:`from_estimators` or :meth:`from_predictions`; the
    constructor only stores data.

    Parameters
    ----------
    accuracies : dict of str to mapping
        For each model, its accuracy per split: a mapping with (some of) the
        keys ``"many"``, ``"medium"``, ``"few"``, ``"all"``, such as the
        Bunch of :func:`~sklearn_lt.metrics.shot_accuracy`.
    n_classes_per_split : dict of str to int, default=None
        Number of classes of each split, shown under the group labels.
    std : dict of str to mapping, default=None
        For each model, the standard deviation of each split's accuracy (over
        seeds or folds), drawn as error bars.

    Attributes
    ----------
    bars_ : dict of str to matplotlib BarContainer
        The bars of each model (one bar per plotted split).
    texts_ : dict of str to list of matplotlib Text
        The value labels of each model's bars (empty lists without values).
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    See Also
    --------
    sklearn_lt.metrics.shot_accuracy : The numbers.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_lt.plotting import ShotAccuracyDisplay
    >>> y_true = [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]  # two classes per split
    >>> display = ShotAccuracyDisplay.from_predictions(
    ...     y_true,
    ...     {"joint": [0, 0, 1, 1, 2, 0, 3, 0, 0, 0, 0, 0],
    ...      "balanced": [0, 1, 1, 1, 2, 2, 3, 0, 4, 4, 5, 0]},
    ...     {0: 500, 1: 400, 2: 50, 3: 40, 4: 5, 5: 4},
    ... )
    >>> display.accuracies["balanced"]["few"], display.accuracies["joint"]["all"]
    (0.75, 0.5)
    >>> [float(bar.get_height()) for bar in display.bars_["joint"]]
    [1.0, 0.5, 0.0, 0.5]
    """

    def __init__(self, accuracies, *, n_classes_per_split=None, std=None):
        accuracies = _check_named(accuracies, "accuracies")
        self.std = None
        if std is not None:
            std = _check_named(std, "std")
            missing = [name for name in accuracies if name not in std]
            if missing:
                raise ValueError(f"std has no entry for {missing}.")
            self.std = {name: {k: float(std[name][k]) for k in std[name]} for name in accuracies}
        self.accuracies = {}
        for name, values in accuracies.items():
            # A shot_accuracy Bunch also carries per_class, splits, ...: ignored.
            known = {k: float(values[k]) for k in ALL_SPLITS if k in values}
            if not known:
                raise ValueError(
                    f"accuracies[{name!r}] has none of the splits {list(ALL_SPLITS)}."
                )
            self.accuracies[name] = known
        self.n_classes_per_split = (
            None if n_classes_per_split is None else dict(n_classes_per_split)
        )

    def plot(self, ax=None, *, splits=None, show_values=True, values_format=".1%", **kwargs):
        """Plot grouped bars.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to plot on; ``None`` creates a figure.
        splits : str or sequence of str, default=None
            Groups to draw, among ``"many"``, ``"medium"``, ``"few"``,
            ``"all"``; ``None`` draws those every model has, in that order.
        show_values : bool, default=True
            Write each bar's value above it.
        values_format : str, default=".1%"
            Format specification of the values (e.g. ``".3f"``).
        **kwargs : dict
            Passed to ``ax.bar`` for every model.

        Returns
        -------
        display : ShotAccuracyDisplay
        """
        available = tuple(
            s for s in ALL_SPLITS if all(s in acc for acc in self.accuracies.values())
        )
        splits = _check_splits(splits, available)
        ax, figure = _get_ax(ax, f"{type(self).__name__}.plot")
        n_models = len(self.accuracies)
        width = 0.8 / n_models
        positions = np.arange(len(splits))
        self.bars_, self.texts_ = {}, {}
        for i, (name, accuracy) in enumerate(self.accuracies.items()):
            heights = np.array([accuracy[s] for s in splits])
            offset = (i - (n_models - 1) / 2) * width
            errors = None
            if self.std is not None:
                errors = np.array([self.std[name].get(s, np.nan) for s in splits])
                errors = np.nan_to_num(errors)
            self.bars_[name] = ax.bar(
                positions + offset,
                np.nan_to_num(heights),
                width,
                yerr=errors,
                capsize=2 if errors is not None else 0,
                label=name,
                **kwargs,
            )
            self.texts_[name] = []
            if show_values:
                labels = ["n/a" if np.isnan(h) else format(h, values_format) for h in heights]
                self.texts_[name] = ax.bar_label(
                    self.bars_[name],
                    labels=labels,
                    fontsize="x-small",
                    # bar_label starts at the error bar's end: clear its cap too.
                    padding=2 + (self.std is not None) * 3,
                    # Narrow bars: vertical labels do not run into their neighbours.
                    rotation=90 if n_models > 3 else 0,
                )
        ticks = []
        for split in splits:
            label = split.capitalize()
            if self.n_classes_per_split is not None and split in self.n_classes_per_split:
                label += f"\n({self.n_classes_per_split[split]} classes)"
            ticks.append(label)
        ax.set_xticks(positions)
        ax.set_xticklabels(ticks)
        ax.set_ylabel("Accuracy (mean per class)")
        # Room above the bars (at most 1) for the legend, so that it hides none.
        n_columns = min(n_models, 4)
        n_rows = -(-n_models // n_columns)
        # Vertical value labels (and error bars) of bars near 1 need more room.
        ax.set_ylim(0, 1.12 + 0.08 * n_rows + 0.08 * (show_values and n_models > 3))
        ax.set_yticks(np.linspace(0, 1, 6))
        ax.set_title("Accuracy per shot split")
        ax.legend(loc="upper center", ncols=n_columns, fontsize="small")
        ax.grid(True, axis="y", alpha=0.3)
        ax.set_axisbelow(True)
        self.ax_, self.figure_ = ax, figure
        return self

    @classmethod
    @Substitution(DISPLAY_DOCS)
    def from_predictions(
        cls,
        y_true,
        y_pred,
        class_counts,
        *,
        classes=None,
        many_threshold=None,
        few_threshold=None,
        splits=None,
        ax=None,
        **kwargs,
    ):
        """Plot the per-split accuracy of predictions.

        Parameters
        ----------
        y_true : array-like or torch.Tensor of shape (n_samples,)
            True labels (a balanced test set).
        y_pred : dict of str to array-like, or array-like
            Each model's predictions, of shape (n_samples,); one array is one
            model named ``"Classifier"``.
        class_counts : ClassCounts, dict or array-like
            Training samples per class (before resampling), as in
            :func:`~sklearn_lt.metrics.shot_accuracy`; a
            :class:`~sklearn_lt.metrics.ClassCounts` brings its thresholds.
        classes : array-like, default=None
            The labels ``class_counts`` refers to (with an array), as in
            :func:`~sklearn_lt.metrics.shot_accuracy`.
        %(thresholds)s
        splits : str or sequence of str, default=None
            Groups to plot.
        ax : matplotlib Axes, default=None
        **kwargs : dict
            Passed to :meth:`plot`.

        Returns
        -------
        display : ShotAccuracyDisplay
        """
        check_matplotlib_support(f"{cls.__name__}.from_predictions")
        predictions = _check_named(y_pred, "y_pred", single_name="Classifier")
        y_true = as_labels(y_true, "y_true")
        counts = shot_counts(
            class_counts,
            classes,
            y_true,
            many_threshold=many_threshold,
            few_threshold=few_threshold,
        )
        for name, pred in predictions.items():
            pred = as_labels(pred, f"y_pred[{name!r}]")
            if len(pred) != len(y_true):
                raise ValueError(
                    f"y_pred[{name!r}] has {len(pred)} predictions for {len(y_true)} "
                    "samples of y_true."
                )
            predictions[name] = pred
        return cls._from_predictions(y_true, predictions, counts, splits, ax, kwargs)

    @classmethod
    @Substitution(DISPLAY_DOCS)
    def from_estimators(
        cls,
        estimators,
        X,
        y,
        class_counts=None,
        *,
        many_threshold=None,
        few_threshold=None,
        splits=None,
        ax=None,
        **kwargs,
    ):
        """Plot the per-split accuracy of fitted classifiers on ``X``, ``y``.

        Parameters
        ----------
        estimators : dict of str to estimator
            Fitted classifiers (heads, pipelines, any scikit-learn
            classifier) sharing their ``classes_``.
        X : array-like or torch.Tensor of shape (n_samples, n_features)
            Evaluation features (a balanced held-out set).
        y : array-like or torch.Tensor of shape (n_samples,)
            Their labels.
        %(estimator_counts)s
        %(thresholds)s
        splits : str or sequence of str, default=None
        ax : matplotlib Axes, default=None
        **kwargs : dict
            Passed to :meth:`plot`.

        Returns
        -------
        display : ShotAccuracyDisplay
        """
        check_matplotlib_support(f"{cls.__name__}.from_estimators")
        estimators = _check_named(estimators, "estimators")
        _, counts = _resolve_estimator_counts(
            estimators, class_counts, many_threshold, few_threshold
        )
        predictions = {name: to_numpy(est.predict(X)) for name, est in estimators.items()}
        return cls._from_predictions(as_labels(y, "y"), predictions, counts, splits, ax, kwargs)

    @classmethod
    def _from_predictions(cls, y_true, predictions, counts, splits, ax, kwargs):
        """Score every model's predictions against one ``ClassCounts`` and plot."""
        accuracies = {
            name: shot_accuracy(y_true, pred, counts) for name, pred in predictions.items()
        }
        first = next(iter(accuracies.values()))
        present = first.support > 0
        n_per_split = {
            split: int(np.sum(present & (first.splits == split))) for split in SPLITS
        }
        n_per_split["all"] = int(present.sum())
        display = cls(accuracies, n_classes_per_split=n_per_split)
        return display.plot(ax=ax, splits=splits, **kwargs)
