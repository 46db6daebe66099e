"""LORT's Logits Magnitude (and Regularized Std) per class, sorted by count (LORT, Fig. 2)."""

import numpy as np

from ..metrics import logits_magnitude, regularized_std
from ..utils import to_numpy
from ..utils._array import as_labels
from ..utils._docstring import Substitution
from ..utils._docstring_entries import DISPLAY_DOCS
from ._base import (
    _check_named,
    _check_per_class,
    _ClassAxisMixin,
    _final_step,
    _resolve_estimator_counts,
    check_matplotlib_support,
    class_counts_for,
    labels_of,
)

__all__ = ["LogitsMagnitudeDisplay"]


@Substitution(DISPLAY_DOCS)
class LogitsMagnitudeDisplay(_ClassAxisMixin):
    """Logits Magnitude of each class, classes sorted by training count.

    LORT (2024), Fig. 2: with instance-balanced training the Logits Magnitude
    ``M_j = mean(z_j | y = j) - mean(z_j | y != j)``
    (:func:`~sklearn_lt.metrics.logits_magnitude`) is larger for head
    classes; LORT's large label smoothing shrinks and evens it out. A second
    panel can show the Regularized Standard Deviation
    (:func:`~sklearn_lt.metrics.regularized_std`), the spread of the positive
    logits relative to ``M_j``. Several models can be overlaid.

    Create it with :meth:`from_estimator`, :meth:`from_estimators` or
    :meth:`from_predictions`; the constructor only stores data.

    Parameters
    ----------
    magnitudes : dict of str to array-like of shape (n_classes,)
        Logits Magnitude of each model, aligned with ``classes``.
    %(class_counts)s
    regularized_stds : dict of str to array-like of shape (n_classes,), default=None
        Regularized Standard Deviation of each model (same names).
    %(thresholds)s

    Attributes
    ----------
    lines_ : dict of str to matplotlib Line2D
        The magnitude line of each model.
    std_lines_ : dict of str to matplotlib Line2D
        The Regularized Std line of each model (empty without that panel).
    axes_ : ndarray of matplotlib Axes
        One panel, or two with ``show_std=True``.
    ax_ : matplotlib Axes
        The magnitude panel, ``axes_[0]``.
    figure_ : matplotlib Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn_lt.plotting import LogitsMagnitudeDisplay
    >>> logits = np.array([[3.0, 0.0], [1.0, 1.0], [0.0, 2.0], [1.0, 4.0]])
    >>> display = LogitsMagnitudeDisplay.from_predictions(
    ...     [0, 0, 1, 1], logits, [100, 10], show_std=True)
    >>> display.magnitudes["Classifier"], display.regularized_stds["Classifier"]
    (array([1.5, 2.5]), array([0.66666667, 0.4       ]))
    >>> len(display.axes_)
    2
    """

    def __init__(
        self,
        magnitudes,
        class_counts,
        *,
        classes=None,
        regularized_stds=None,
        many_threshold=None,
        few_threshold=None,
    ):
        self._init_classes(class_counts, classes, many_threshold, few_threshold)
        n_classes = len(self.classes)
        self.magnitudes = {
            name: _check_per_class(v, n_classes, f"magnitudes[{name!r}]")
            for name, v in _check_named(magnitudes, "magnitudes").items()
        }
        self.regularized_stds = None
        if regularized_stds is not None:
            stds = _check_named(regularized_stds, "regularized_stds")
            missing = [name for name in self.magnitudes if name not in stds]
            if missing:
                raise ValueError(f"regularized_stds has no entry for {missing}.")
            self.regularized_stds = {
                name: _check_per_class(stds[name], n_classes, f"regularized_stds[{name!r}]")
                for name in self.magnitudes
            }

    def plot(self, ax=None, *, show_std=False, show_splits=True, **kwargs):
        """Plot the magnitudes (and the Regularized Std), one line per model.

        Parameters
        ----------
        ax : matplotlib Axes or sequence of two Axes, default=None
            Where to plot: one Axes, or two with ``show_std=True`` (magnitude,
            then Regularized Std). ``None`` creates a figure (two panels side
            by side with ``show_std``).
        show_std : bool, default=False
            Add the Regularized Standard Deviation panel.
        show_splits : bool, default=True
            Mark the many/medium/few regions of the class axis.
        **kwargs : dict
            Passed to ``ax.plot`` for every line.

        Returns
        -------
        display : LogitsMagnitudeDisplay
        """
        check_matplotlib_support(f"{type(self).__name__}.plot")
        import matplotlib.pyplot as plt

        if show_std and self.regularized_stds is None:
            raise ValueError("show_std=True needs regularized_stds.")
        n_panels = 2 if show_std else 1
        if ax is None:
            figsize = (11, 4.2) if show_std else None
            figure, axes = plt.subplots(
                1, n_panels, figsize=figsize, squeeze=False, layout="constrained"
            )
            axes = axes.ravel()
        else:
            axes = np.atleast_1d(np.asarray(ax, dtype=object)).ravel()
            if len(axes) != n_panels:
                raise ValueError(
                    f"ax must be {'two Axes' if show_std else 'one Axes'} with "
                    f"show_std={show_std}, got {len(axes)}."
                )
            figure = axes[0].figure
        order = self.class_order
        x = np.arange(len(order))
        self.lines_, self.std_lines_ = {}, {}
        self.split_lines_, self.split_texts_ = [], []
        panels = [(axes[0], self.magnitudes, self.lines_, "Logits Magnitude")]
        if show_std:
            panels.append((axes[1], self.regularized_stds, self.std_lines_, "Regularized Std"))
        for panel, values, lines, label in panels:
            for i, (name, per_class) in enumerate(values.items()):
                (lines[name],) = panel.plot(
                    x, per_class[order], label=name, **{**self._marker_style(i), **kwargs}
                )
            split_lines, split_texts = self._decorate_class_axis(
                panel, show_splits, f"{label} per class"
            )
            self.split_lines_ += split_lines
            self.split_texts_ += split_texts
            panel.set_ylabel(label)
            panel.legend(loc="best", fontsize="small")
            panel.grid(True, axis="y", alpha=0.3)
        self.axes_, self.ax_, self.figure_ = axes, axes[0], figure
        return self

    @classmethod
    @Substitution(DISPLAY_DOCS)
    def from_predictions(
        cls,
        y_true,
        logits,
        class_counts,
        *,
        classes=None,
        many_threshold=None,
        few_threshold=None,
        ax=None,
        **kwargs,
    ):
        """Plot the Logits Magnitude of logits on labelled data.

        Parameters
        ----------
        y_true : array-like or torch.Tensor of shape (n_samples,)
            True labels (a balanced test set, as in the paper).
        logits : dict of str to array-like, or array-like
            Each model's logits of shape (n_samples, n_classes) (numpy or
            torch); one array is one model named ``"Classifier"``. A 1-D
            binary score ``s`` counts as ``(-s/2, s/2)``.
        class_counts : ClassCounts, dict or array-like
            Training samples per class (before resampling): a
            :class:`~sklearn_lt.metrics.ClassCounts` (with its thresholds), a
            dict ``{label: count}`` or an array aligned with ``classes``.
        classes : array-like of shape (n_classes,), default=None
            The label of each logits column; ``None`` is the sorted labels of
            ``class_counts`` (a dict or ``ClassCounts``) or of ``y_true``.
        %(thresholds)s
        ax : matplotlib Axes or two Axes, default=None
        **kwargs : dict
            Passed to :meth:`plot` (e.g. ``show_std=True``).

        Returns
        -------
        display : LogitsMagnitudeDisplay
        """
        check_matplotlib_support(f"{cls.__name__}.from_predictions")
        logits = _check_named(logits, "logits", single_name="Classifier")
        y_true = as_labels(y_true, "y_true")
        if classes is None:
            classes = labels_of(class_counts, otherwise=np.unique(y_true))
        classes = as_labels(classes, "classes")
        counts = class_counts_for(classes, class_counts, many_threshold, few_threshold)
        return cls._from_logits(y_true, logits, classes, counts, ax, kwargs)

    @classmethod
    @Substitution(DISPLAY_DOCS)
    def from_estimators(
        cls,
        estimators,
        X,
        y,
        *,
        class_counts=None,
        response_method="decision_function",
        many_threshold=None,
        few_threshold=None,
        ax=None,
        **kwargs,
    ):
        """Plot the Logits Magnitude of fitted classifiers on ``X``, ``y``.

        Parameters
        ----------
        estimators : dict of str to estimator
            Fitted classifiers sharing their ``classes_``.
        X : array-like or torch.Tensor of shape (n_samples, n_features)
            Evaluation features (a balanced held-out set).
        y : array-like or torch.Tensor of shape (n_samples,)
            Their labels.
        %(estimator_counts)s
        response_method : str, default="decision_function"
            The method giving the logits (``"predict_log_proba"`` gives
            log-probabilities, which differ from the logits by a per-sample
            shift).
        %(thresholds)s
        ax : matplotlib Axes or two Axes, default=None
        **kwargs : dict
            Passed to :meth:`plot` (e.g. ``show_std=True``).

        Returns
        -------
        display : LogitsMagnitudeDisplay
        """
        check_matplotlib_support(f"{cls.__name__}.from_estimators")
        estimators = _check_named(estimators, "estimators")
        classes, counts = _resolve_estimator_counts(
            estimators, class_counts, many_threshold, few_threshold
        )
        logits = {}
        for name, estimator in estimators.items():
            method = getattr(estimator, response_method, None)
            if method is None:
                raise ValueError(
                    f"Estimator {name!r} ({type(estimator).__name__}) has no "
                    f"{response_method}."
                )
            logits[name] = to_numpy(method(X))
        return cls._from_logits(as_labels(y, "y"), logits, classes, counts, ax, kwargs)

    @classmethod
    def from_estimator(cls, estimator, X, y, *, name=None, **kwargs):
        """Plot the Logits Magnitude of one fitted classifier on ``X``, ``y``.

        Parameters
        ----------
        estimator : estimator
            A fitted classifier with ``decision_function`` (or the method
            named by ``response_method``).
        X : array-like or torch.Tensor of shape (n_samples, n_features)
        y : array-like or torch.Tensor of shape (n_samples,)
        name : str, default=None
            Legend entry; ``None`` uses the estimator's class name.
        **kwargs : dict
            Passed to :meth:`from_estimators`.

        Returns
        -------
        display : LogitsMagnitudeDisplay
        """
        name = type(_final_step(estimator)[0]).__name__ if name is None else name
        return cls.from_estimators({name: estimator}, X, y, **kwargs)

    @classmethod
    def _from_logits(cls, y, logits, classes, counts, ax, kwargs):
        magnitudes, stds = {}, {}
        for name, values in logits.items():
            values = to_numpy(values)
            if len(values) != len(y):
                raise ValueError(
                    f"logits of {name!r} have {len(values)} rows for {len(y)} labels."
                )
            magnitudes[name] = logits_magnitude(values, y, classes=classes)
            stds[name] = regularized_std(values, y, classes=classes)
        display = cls(magnitudes, counts, classes=classes, regularized_stds=stds)
        return display.plot(ax=ax, **kwargs)
