"""Accuracy of tau-normalisation against tau, per shot split (Kang et al. 2020, Fig. 2 right)."""

import warnings

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from .._counts import ALL_SPLITS, UndefinedSplitWarning
from ..heads import TauNormClassifier, TauNormClassifierCV, linear_weights, tau_sweep
from ..metrics import shot_accuracy
from ..utils import to_numpy, to_tensor
from ..utils._array import as_labels, check_finite, is_tensor
from ..utils._docstring import Substitution
from ..utils._docstring_entries import DISPLAY_DOCS
from ._base import (
    SPLIT_STYLES,
    _check_splits,
    _final_step,
    _get_ax,
    _resolve_estimator_counts,
    check_matplotlib_support,
)

__all__ = ["TauSweepDisplay"]


def _base_classifier(final):
    """The linear classifier whose rows the sweep normalises."""
    if isinstance(final, (TauNormClassifier, TauNormClassifierCV)):
        check_is_fitted(final)
        return final.estimator_
    return final


def _base_coef(base, n_classes):
    """``(classes, coef)`` of the base: sorted labels, float64 rows in their order."""
    if getattr(base, "coef_", None) is None:
        raise ValueError(
            f"{type(base).__name__} has no coef_: pass a fitted TauNormClassifier "
            "or a fitted linear classifier (e.g. LogisticRegression, SoftmaxClassifier)."
        )
    # Binary rows w count as (-w/2, w/2), rows sorted by class, as the heads read them.
    classes, coef, _ = linear_weights(base, device="cpu", dtype=torch.float64)
    if len(coef) != n_classes:
        raise ValueError(f"{type(base).__name__} has {len(coef)} classes, expected {n_classes}.")
    return classes, coef


class TauSweepDisplay:
    """Accuracy against tau, per shot split: Kang et al. (2020), Fig. 2 right.

    tau-normalisation (:class:`~sklearn_lt.TauNormClassifier`) rescales each
    class's weight row ``w_j`` to ``w_j / ||w_j||**tau``: tau=0 is the
    instance-balanced classifier (bias dropped), larger tau favours the tail.
    The sweep shows the many-, medium-, few-shot and overall (mean per-class)
    accuracy at each tau, from **one** set of base weights: nothing is refitted.

    Use :meth:`from_estimator` (sweep a fitted classifier on data) or
    :meth:`from_cv_results` (the validation scores of a fitted
    ``TauNormClassifierCV``) to create it; the constructor only stores data.
    Choose tau on held-out *training* data; a sweep on the test set shows how
    sensitive the head is, not which tau to use.

    Parameters
    ----------
    taus : array-like of shape (n_taus,)
        The values of tau, in plotting order.
    accuracies : dict of str to array-like of shape (n_taus,)
        The score of each line at each tau, e.g. ``{"many": ..., "medium":
        ..., "few": ..., "all": ...}``. The split names get fixed colours;
        other names are allowed.
    std : dict of str to array-like of shape (n_taus,), default=None
        Standard deviations drawn as a band around the lines of the same name
        (cross-validation scores).
    tau : float, default=None
        A tau to mark with a vertical line (the estimator's own, or the one
        chosen by cross-validation).
    name : str, default=None
        Name of the estimator, in the title.
    ylabel : str, default="Accuracy"

    Attributes
    ----------
    lines_ : dict of str to matplotlib Line2D
        The line of each plotted split.
    fill_ : dict of str to matplotlib PolyCollection
        The ``std`` bands (empty without ``std``).
    tau_line_ : matplotlib Line2D or None
        The mark of ``tau``.
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    See Also
    --------
    sklearn_lt.TauNormClassifier : The head being swept.
    sklearn_lt.metrics.shot_accuracy : The accuracy of each split.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn.frozen import FrozenEstimator
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_lt import TauNormClassifier
    >>> from sklearn_lt.datasets import load_digits_lt
    >>> from sklearn_lt.plotting import TauSweepDisplay
    >>> X_train, y_train, X_test, y_test = load_digits_lt(return_X_y=True)
    >>> base = LogisticRegression(max_iter=1000).fit(X_train, y_train)
    >>> clf = TauNormClassifier(FrozenEstimator(base), tau=1.0).fit(X_train, y_train)
    >>> display = TauSweepDisplay.from_estimator(
    ...     clf, X_test, y_test, many_threshold=31, few_threshold=8)
    >>> display.taus.shape, sorted(display.accuracies)
    ((21,), ['all', 'few', 'many', 'medium'])
    >>> display.tau
    1.0
    """

    def __init__(self, taus, accuracies, *, std=None, tau=None, name=None, ylabel="Accuracy"):
        self.taus = np.asarray(to_numpy(taus), dtype=np.float64).reshape(-1)
        self.accuracies = {
            str(k): self._check_values(v, f"accuracies[{k!r}]") for k, v in accuracies.items()
        }
        if not self.accuracies:
            raise ValueError("accuracies is empty: pass at least one line.")
        self.std = (
            None
            if std is None
            else {str(k): self._check_values(v, f"std[{k!r}]") for k, v in std.items()}
        )
        self.tau = None if tau is None else float(tau)
        self.name = name
        self.ylabel = ylabel

    def _check_values(self, values, what):
        values = np.asarray(to_numpy(values), dtype=np.float64).reshape(-1)
        if values.shape != self.taus.shape:
            raise ValueError(
                f"{what} has {values.size} values for {self.taus.size} taus."
            )
        return values

    def plot(self, ax=None, *, splits=None, name=None, show_tau=True, **kwargs):
        """Plot the sweep.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to plot on; ``None`` creates a figure.
        splits : str or sequence of str, default=None
            Lines to draw, among the keys of ``accuracies``; ``None`` draws
            all of them (many, medium, few, all, in that order).
        name : str, default=None
            Overrides ``self.name`` in the title.
        show_tau : bool, default=True
            Mark ``self.tau`` (when set) with a vertical dotted line.
        **kwargs : dict
            Passed to ``ax.plot`` for every line (e.g. ``marker=None``).

        Returns
        -------
        display : TauSweepDisplay
            With the attributes ``lines_``, ``fill_``, ``tau_line_``, ``ax_``
            and ``figure_``.
        """
        splits = _check_splits(splits, tuple(self.accuracies))
        ax, figure = _get_ax(ax, f"{type(self).__name__}.plot")
        name = self.name if name is None else name
        self.lines_, self.fill_ = {}, {}
        for split in splits:
            values = self.accuracies[split]
            style = {"marker": "o", "markersize": 3, **SPLIT_STYLES.get(split, {}), **kwargs}
            label = split.capitalize() if split in ALL_SPLITS else split
            (self.lines_[split],) = ax.plot(self.taus, values, label=label, **style)
            if self.std is not None and split in self.std:
                self.fill_[split] = ax.fill_between(
                    self.taus,
                    values - self.std[split],
                    values + self.std[split],
                    color=self.lines_[split].get_color(),
                    alpha=0.2,
                    linewidth=0,
                )
        self.tau_line_ = None
        if show_tau and self.tau is not None:
            self.tau_line_ = ax.axvline(
                self.tau, color="0.5", linestyle=":", label=f"tau = {self.tau:g}"
            )
        ax.set_xlabel("tau")
        ax.set_ylabel(self.ylabel)
        if name:
            ax.set_title(f"Tau-normalisation sweep: {name}")
        ax.legend(loc="best", fontsize="small")
        ax.grid(True, alpha=0.3)
        self.ax_, self.figure_ = ax, figure
        return self

    @classmethod
    @Substitution(DISPLAY_DOCS)
    def from_estimator(
        cls,
        estimator,
        X,
        y,
        *,
        taus=None,
        class_counts=None,
        many_threshold=None,
        few_threshold=None,
        splits=None,
        name=None,
        ax=None,
        **kwargs,
    ):
        """Sweep tau on a fitted classifier, without refitting, and plot it.

        The base weights ``W`` are those of ``estimator.estimator_`` for a
        :class:`~sklearn_lt.TauNormClassifier` (or ``TauNormClassifierCV``),
        else ``estimator.coef_`` of any fitted linear classifier. The logits
        ``X @ W.T`` are computed once (float64, on ``X``'s device), and the
        logits at each tau are ``X @ (w_j / ||w_j||**tau)``: exactly
        ``TauNormClassifier(tau=tau)``'s predictions on the same base. The
        bias is dropped at every tau, tau=0 included, as tau-normalisation
        does. A pipeline's earlier steps transform ``X`` first (resamplers
        are skipped).

        Parameters
        ----------
        estimator : estimator
            A fitted ``TauNormClassifier``/``TauNormClassifierCV``, a fitted
            linear classifier with ``coef_``, or a pipeline ending in one.
        X : array-like or torch.Tensor of shape (n_samples, n_features)
            Evaluation features (a balanced held-out set).
        y : array-like or torch.Tensor of shape (n_samples,)
            Their labels.
        taus : array-like, default=None
            The values of tau; ``None`` is ``np.linspace(0, 2, 21)``, the
            official sweep.
        %(estimator_counts)s
        %(thresholds)s
        splits : str or sequence of str, default=None
            Lines to plot (all four computed regardless).
        name : str, default=None
            Title; ``None`` uses the estimator's class name.
        ax : matplotlib Axes, default=None
        **kwargs : dict
            Passed to :meth:`plot`'s lines.

        Returns
        -------
        display : TauSweepDisplay
            ``accuracies`` holds ``"many"``, ``"medium"``, ``"few"`` and
            ``"all"`` (NaN for a split without classes, with one
            :class:`~sklearn_lt.metrics.UndefinedSplitWarning`); ``tau`` is
            the estimator's own tau (``tau_`` for the CV head), if any.
        """
        check_matplotlib_support(f"{cls.__name__}.from_estimator")
        taus = np.linspace(0, 2, 21) if taus is None else np.asarray(taus, dtype=np.float64)
        taus = taus.reshape(-1)
        if taus.size == 0 or not np.all(np.isfinite(taus)) or np.any(taus < 0):
            raise ValueError(f"taus must be finite values >= 0, got {taus}.")
        classes, counts = _resolve_estimator_counts(
            {"estimator": estimator}, class_counts, many_threshold, few_threshold
        )
        final, X = _final_step(estimator, X)
        base = _base_classifier(final)
        # The labels of the rows (sorted), whatever the order of classes_.
        classes, coef = _base_coef(base, len(classes))
        y = as_labels(y, "y")
        X = X if is_tensor(X) else to_tensor(np.asarray(X, dtype=np.float64))
        if X.ndim != 2 or X.shape[1] != coef.shape[1]:
            raise ValueError(
                f"X has shape {tuple(X.shape)}; the classifier expects "
                f"{coef.shape[1]} features."
            )
        if len(X) != len(y):
            raise ValueError(
                "Found input variables with inconsistent numbers of samples: "
                f"[{len(X)}, {len(y)}]."
            )
        check_finite(X)
        predictions = classes[tau_sweep(coef.to(X.device), X, taus)]
        accuracies = {split: np.empty(len(taus)) for split in ALL_SPLITS}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UndefinedSplitWarning)
            for i, y_pred in enumerate(predictions):
                result = shot_accuracy(y, y_pred, counts)
                for split in ALL_SPLITS:
                    accuracies[split][i] = result[split]
        for message in {str(w.message): w for w in caught}.values():
            warnings.warn(message.message, message.category, stacklevel=2)
        tau = getattr(final, "tau_", getattr(final, "tau", None))
        display = cls(
            taus,
            accuracies,
            tau=tau if isinstance(final, (TauNormClassifier, TauNormClassifierCV)) else None,
            name=type(final).__name__ if name is None else name,
        )
        return display.plot(ax=ax, splits=splits, **kwargs)

    @classmethod
    def from_cv_results(cls, estimator, *, name=None, ax=None, **kwargs):
        """Plot a fitted ``TauNormClassifierCV``'s validation score against tau.

        One line, the mean validation score over the folds (the estimator's
        ``scoring``), with a band of one standard deviation, and the chosen
        ``tau_`` marked.

        Parameters
        ----------
        estimator : TauNormClassifierCV
            Fitted (reads ``cv_results_`` and ``tau_``).
        name : str, default=None
            Title; ``None`` uses the estimator's class name.
        ax : matplotlib Axes, default=None
        **kwargs : dict
            Passed to :meth:`plot`.

        Returns
        -------
        display : TauSweepDisplay
            ``accuracies`` and ``std`` are keyed by the scoring: ``"all"``
            (the default), ``"many"``, ``"medium"``, ``"few"``, or the scorer's
            name (``"score"`` for a callable).
        """
        check_matplotlib_support(f"{cls.__name__}.from_cv_results")
        results = getattr(estimator, "cv_results_", None)
        if results is None or "param_tau" not in results:
            raise ValueError(
                f"{type(estimator).__name__} has no cv_results_ with param_tau: pass a "
                "fitted TauNormClassifierCV."
            )
        scoring = getattr(estimator, "scoring", None)
        key = "all" if scoring is None else scoring if isinstance(scoring, str) else "score"
        n_splits = getattr(estimator, "n_splits_", None)
        ylabel = "Validation score" + (f" (mean over {n_splits} folds)" if n_splits else "")
        display = cls(
            np.asarray(results["param_tau"], dtype=np.float64),
            {key: results["mean_test_score"]},
            std={key: results["std_test_score"]},
            tau=getattr(estimator, "tau_", None),
            name=type(estimator).__name__ if name is None else name,
            ylabel=ylabel,
        )
        return display.plot(ax=ax, **kwargs)
