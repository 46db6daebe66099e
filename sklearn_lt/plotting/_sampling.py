"""Class sampling probabilities of samplers, per class sorted by count (Kang et al. 2020)."""

from numbers import Integral

import numpy as np

from ..utils._docstring import Substitution
from ..utils._docstring_entries import DISPLAY_DOCS
from ._base import (
    _check_named,
    _check_per_class,
    _ClassAxisMixin,
    _get_ax,
    check_matplotlib_support,
    class_counts_for,
    labels_of,
)

__all__ = ["SamplingProbabilityDisplay"]


@Substitution(DISPLAY_DOCS)
class SamplingProbabilityDisplay(_ClassAxisMixin):
    """Sampling probability of each class under several samplers, classes sorted by count.

    Kang et al. (2020), section 3: ``p_j = n_j**q / sum_i n_i**q`` is
    instance-balanced (q=1: the head dominates), square-root (q=1/2) or
    class-balanced (q=0: flat); progressively-balanced sampling moves from
    the first to the last over the epochs of training. One line per sampler,
    or per epoch of a progressively-balanced sampler (coloured from the first
    epoch, dark, to the last, light).

    Create it with :meth:`from_samplers`; the constructor only stores data.

    Parameters
    ----------
    probabilities : dict of str to array-like of shape (n_classes,)
        Each line's class probabilities, aligned with ``classes``.
    %(class_counts)s
    epochs : dict of str to int, default=None
        For the lines that show one epoch of a schedule, that epoch (lines of
        the same schedule share a colour map).
    %(thresholds)s

    Attributes
    ----------
    lines_ : dict of str to matplotlib Line2D
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_lt import (
    ...     ClassBalancedSampler, InstanceBalancedSampler, ProgressivelyBalancedSampler,
    ...     SquareRootSampler)
    >>> from sklearn_lt.plotting import SamplingProbabilityDisplay
    >>> samplers = {"IB": InstanceBalancedSampler(), "SQRT": SquareRootSampler(),
    ...             "CB": ClassBalancedSampler(), "PB": ProgressivelyBalancedSampler()}
    >>> display = SamplingProbabilityDisplay.from_samplers(
    ...     samplers, [300, 100, 30, 10], epoch=[0, 5, 9], n_epochs=10)
    >>> list(display.probabilities)
    ['IB', 'SQRT', 'CB', 'PB (epoch 0)', 'PB (epoch 5)', 'PB (epoch 9)']
    >>> display.probabilities["PB (epoch 9)"]
    array([0.25, 0.25, 0.25, 0.25])
    """

    def __init__(
        self,
        probabilities,
        class_counts,
        *,
        classes=None,
        epochs=None,
        many_threshold=None,
        few_threshold=None,
    ):
        self._init_classes(class_counts, classes, many_threshold, few_threshold)
        self.probabilities = {
            name: _check_per_class(p, len(self.classes), f"probabilities[{name!r}]")
            for name, p in _check_named(probabilities, "probabilities").items()
        }
        self.epochs = {} if epochs is None else dict(epochs)

    def plot(self, ax=None, *, show_splits=True, log_scale=False, **kwargs):
        """Plot one line per sampler (or per epoch of a schedule).

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to plot on; ``None`` creates a figure.
        show_splits : bool, default=True
            Mark the many/medium/few regions of the class axis.
        log_scale : bool, default=False
            Logarithmic probability axis (useful with many classes).
        **kwargs : dict
            Passed to ``ax.plot`` for every line.

        Returns
        -------
        display : SamplingProbabilityDisplay
        """
        ax, figure = _get_ax(ax, f"{type(self).__name__}.plot")
        import matplotlib as mpl

        order = self.class_order
        x = np.arange(len(order))
        scheduled = [name for name in self.probabilities if name in self.epochs]
        epoch_values = np.array([self.epochs[name] for name in scheduled], dtype=float)
        span = np.ptp(epoch_values) if len(scheduled) else 0.0
        colormap = mpl.colormaps["viridis"]
        self.lines_ = {}
        for i, (name, p) in enumerate(self.probabilities.items()):
            style = self._marker_style(i)
            if name in self.epochs:
                position = 0.0 if span == 0 else (self.epochs[name] - epoch_values.min()) / span
                style.update(color=colormap(0.85 * position), linestyle="--")
                if style["marker"] is not None:
                    style.update(marker=".", markersize=6)
            (self.lines_[name],) = ax.plot(x, p[order], label=name, **{**style, **kwargs})
        self.split_lines_, self.split_texts_ = self._decorate_class_axis(
            ax, show_splits, "Sampling probability per class"
        )
        if log_scale:
            ax.set_yscale("log")
        ax.set_ylabel("Class sampling probability p_j")
        ax.legend(loc="best", fontsize="small", ncols=2 if len(self.lines_) > 6 else 1)
        ax.grid(True, axis="y", alpha=0.3)
        self.ax_, self.figure_ = ax, figure
        return self

    @classmethod
    @Substitution(DISPLAY_DOCS)
    def from_samplers(
        cls,
        samplers,
        class_counts,
        *,
        epoch=None,
        n_epochs=None,
        many_threshold=None,
        few_threshold=None,
        ax=None,
        **kwargs,
    ):
        """Plot the class probabilities of samplers for the given class counts.

        Calls each sampler's ``class_probabilities(class_counts, epoch=...,
        n_epochs=...)``.

        Parameters
        ----------
        samplers : dict of str to sampler
            Samplers of :mod:`sklearn_lt.sampling` (anything with
            ``class_probabilities``), e.g. ``{"IB": InstanceBalancedSampler(),
            "PB": ProgressivelyBalancedSampler(n_epochs=10)}``.
        class_counts : ClassCounts, dict or array-like of shape (n_classes,)
            Training samples per class; a dict ``{label: count}`` or a
            :class:`~sklearn_lt.metrics.ClassCounts` labels the classes (and
            the latter brings its thresholds).
        epoch : int or sequence of int, default=None
            Epoch(s) at which to evaluate the probabilities. A sequence gives
            one line per epoch, named ``"name (epoch t)"``, for every sampler
            whose probabilities change between those epochs (a
            progressively-balanced schedule); the others get one line.
            ``None`` uses each sampler's own setting.
        n_epochs : int, default=None
            Length of the schedule; ``None`` uses each sampler's own.
        %(thresholds)s
        ax : matplotlib Axes, default=None
        **kwargs : dict
            Passed to :meth:`plot`.

        Returns
        -------
        display : SamplingProbabilityDisplay
        """
        check_matplotlib_support(f"{cls.__name__}.from_samplers")
        samplers = _check_named(samplers, "samplers")
        classes = labels_of(class_counts)
        counts = class_counts_for(classes, class_counts, many_threshold, few_threshold)
        if epoch is None or isinstance(epoch, Integral):
            epochs = [epoch]
        else:
            epochs = list(epoch) if np.iterable(epoch) else None
            if not epochs or not all(isinstance(t, Integral) for t in epochs):
                raise ValueError(f"epoch must be an int or a non-empty list of ints, got {epoch}.")
        probabilities, line_epochs = {}, {}
        for name, sampler in samplers.items():
            if not hasattr(sampler, "class_probabilities"):
                raise TypeError(
                    f"Sampler {name!r} ({type(sampler).__name__}) has no class_probabilities: "
                    "pass samplers of sklearn_lt.sampling."
                )
            per_epoch = [
                np.asarray(sampler.class_probabilities(counts.counts, epoch=t, n_epochs=n_epochs))
                for t in epochs
            ]
            if len(epochs) == 1 or all(np.array_equal(p, per_epoch[0]) for p in per_epoch):
                probabilities[name] = per_epoch[0]
                continue
            for t, p in zip(epochs, per_epoch):
                probabilities[f"{name} (epoch {t})"] = p
                line_epochs[f"{name} (epoch {t})"] = int(t)
        display = cls(probabilities, counts, epochs=line_epochs)
        return display.plot(ax=ax, **kwargs)
