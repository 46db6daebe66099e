"""Long-tailed subsampling of a balanced set, as the CIFAR-LT literature does it."""

from numbers import Integral, Real

import numpy as np
import torch.utils.data
from sklearn.utils import Bunch, _safe_indexing, assert_all_finite, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.multiclass import check_classification_targets

from .._counts import ClassCounts
from ..utils import to_numpy
from ..utils._array import is_tensor

__all__ = ["log_thirds_thresholds", "long_tailed_counts", "make_long_tailed"]

PROFILES = ("exponential", "step")


@validate_params(
    {
        "n_max": [Interval(Integral, 1, None, closed="left")],
        "n_classes": [Interval(Integral, 2, None, closed="left")],
        "imbalance_ratio": [Interval(Real, 1, None, closed="left")],
        "profile": [StrOptions(set(PROFILES))],
    },
    prefer_skip_nested_validation=True,
)
def long_tailed_counts(n_max, n_classes, imbalance_ratio=100, profile="exponential"):
    """Samples per class of a long-tailed profile, head class first.

    The counts of LDAM-DRW's ``get_img_num_per_cls``, which LTWB and LOS reuse:

    - ``"exponential"``: ``n_i = floor(n_max * (1 / imbalance_ratio) ** (i / (C - 1)))``
      for ``i = 0 .. C-1``, so the head keeps ``n_max`` and the tail
      ``floor(n_max / imbalance_ratio)``.
    - ``"step"`` (Buda et al. 2018, Cao et al. 2019 with ``mu = 0.5``): the first
      ``C // 2`` classes keep ``n_max``, the other ``C - C // 2`` get
      ``floor(n_max / imbalance_ratio)``. For an odd ``C`` the reduced half is
      the larger one (the official loop drops the last class for an odd ``C``).

    The floating-point expression is the official one, so the counts match it
    exactly.

    Parameters
    ----------
    n_max : int
        Samples of the head class.
    n_classes : int
        Number of classes ``C``, at least 2.
    imbalance_ratio : float >= 1, default=100
        ``n_max / n_min`` before rounding down.
    profile : {"exponential", "step"}, default="exponential"

    Returns
    -------
    counts : ndarray of shape (n_classes,), int64
        Non-increasing; ``counts[i]`` is the count of the ``i``-th class.

    Raises
    ------
    ValueError
        When a class would get no sample at all.

    Examples
    --------
    >>> from sklearn_lt.datasets import long_tailed_counts
    >>> long_tailed_counts(500, 10, imbalance_ratio=100)
    array([500, 299, 179, 107,  64,  38,  23,  13,   8,   5])
    >>> long_tailed_counts(500, 10, imbalance_ratio=10, profile="step")
    array([500, 500, 500, 500, 500,  50,  50,  50,  50,  50])
    >>> int(long_tailed_counts(500, 100, imbalance_ratio=100).sum())  # CIFAR-100-LT
    10847
    """
    imb_factor = 1.0 / imbalance_ratio
    if profile == "exponential":
        counts = [int(n_max * imb_factor ** (i / (n_classes - 1.0))) for i in range(n_classes)]
    else:
        n_head = n_classes // 2
        counts = [int(n_max)] * n_head + [int(n_max * imb_factor)] * (n_classes - n_head)
    counts = np.asarray(counts, dtype=np.int64)
    if counts[-1] < 1:
        empty = int(np.argmax(counts < 1))
        raise ValueError(
            f"imbalance_ratio={imbalance_ratio} with n_max={n_max} leaves "
            f"{n_classes - empty} of the {n_classes} classes (from position {empty} of "
            f"the class order on) without any sample; lower imbalance_ratio (below "
            f"n_max={n_max}) or raise n_max."
        )
    return counts


def log_thirds_thresholds(class_counts):
    """Shot thresholds ``(many, few)`` at the log-space thirds of the count range.

    ``many = round(n_max ** (2/3) * n_min ** (1/3))`` and
    ``few = round(n_max ** (1/3) * n_min ** (2/3))``. The standard thresholds
    (many: more than 100 images, few: fewer than 20) sit at these places on
    CIFAR-100-LT at IR 100 (counts 500 .. 5 give 108 and 23), so this carries
    the convention to datasets with fewer images per class. Used as
    ``many > thresholds[0]``, ``few < thresholds[1]``, medium in between
    (inclusive), as OLTR's ``shot_acc`` does.

    The thresholds of :meth:`sklearn_lt.metrics.ClassCounts.log_thirds`,
    which also carries them with the counts.

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
        Training samples per class, all positive.

    Returns
    -------
    thresholds : tuple of two ints ``(many, few)``

    Examples
    --------
    >>> from sklearn_lt.datasets import log_thirds_thresholds
    >>> log_thirds_thresholds([500, 5])
    (108, 23)
    """
    counts = np.asarray(to_numpy(class_counts), dtype=np.float64)
    if (
        counts.ndim != 1
        or counts.size == 0
        or not np.all(np.isfinite(counts))
        or np.any(counts <= 0)
    ):
        raise ValueError(
            "class_counts must be a non-empty 1-D array of finite positive counts."
        )
    return ClassCounts.log_thirds(np.arange(len(counts)), counts).thresholds


def _check_class_order(class_order, classes):
    if class_order is None:
        return classes
    order = to_numpy(class_order)
    if order.ndim != 1:
        raise ValueError(f"class_order must be 1-D, got an array of shape {order.shape}.")
    values, multiplicity = np.unique(order, return_counts=True)
    repeated = values[multiplicity > 1]
    if repeated.size:
        raise ValueError(f"class_order lists classes {repeated.tolist()} more than once.")
    missing = np.setdiff1d(classes, order)
    unknown = np.setdiff1d(order, classes)
    if missing.size or unknown.size:
        raise ValueError(
            "class_order must list every class of y exactly once; "
            f"missing from class_order: {missing.tolist()}, not in y: {unknown.tolist()}."
        )
    return order.astype(classes.dtype, copy=False)


def _take(X, indices):
    """Rows ``indices`` of ``X``, in ``X``'s own type (tensor, dataset, array, frame)."""
    if is_tensor(X):
        return X[torch.as_tensor(indices, device=X.device)]
    if isinstance(X, torch.utils.data.Dataset):
        return torch.utils.data.Subset(X, indices.tolist())
    return _safe_indexing(X, indices)


def _n_rows(X):
    if hasattr(X, "shape") and len(X.shape) > 0:
        return int(X.shape[0])
    return len(X)


@validate_params(
    {
        "X": ["array-like", torch.utils.data.Dataset, None],
        "y": ["array-like"],
        "imbalance_ratio": [Interval(Real, 1, None, closed="left")],
        "profile": [StrOptions(set(PROFILES))],
        "n_max": [Interval(Integral, 1, None, closed="left"), None],
        "class_order": ["array-like", None],
        "random_state": ["random_state"],
        "return_X_y": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_long_tailed(
    X,
    y,
    *,
    imbalance_ratio=100,
    profile="exponential",
    n_max=None,
    class_order=None,
    random_state=None,
    return_X_y=False,
):
    """Subsample a (roughly) balanced set into a long-tailed one.

    The construction of CIFAR-10-LT / CIFAR-100-LT (LDAM-DRW, LTWB, LOS): the
    ``i``-th class of ``class_order`` keeps ``n_i`` samples given by
    :func:`long_tailed_counts` (``n_i = floor(n_max * IR ** (-i / (C - 1)))``
    for the exponential profile; half the classes reduced to
    ``floor(n_max / IR)`` for the step profile).

    Which samples of a class are kept:

    - ``random_state=None`` (default): its **first** ``n_i`` samples in the
      order of ``y``. No randomness; this is what LTWB and LOS (the LORT code)
      do.
    - ``random_state`` given: a random subset. Each class's indices are
      shuffled in ``class_order`` order from one stream and the first ``n_i``
      kept, so with ``random_state=0`` and the default class order this is
      exactly LDAM-DRW's selection (``np.random.seed(0)`` then
      ``np.random.shuffle`` per class).

    Parameters
    ----------
    X : array-like, torch.Tensor, torch Dataset or None, of n_samples rows
        Any number of trailing dimensions (images ``(N, 3, 32, 32)`` work).
        Tensors give tensors on the same device, a torch ``Dataset`` gives a
        ``torch.utils.data.Subset``, pandas gives pandas, anything else numpy.
        ``None`` selects from ``y`` alone (``X`` is then ``None`` in the result).
    y : array-like or torch.Tensor of shape (n_samples,)
        Class labels (integers or strings).
    imbalance_ratio : float >= 1, default=100
        ``n_max / n_min`` before rounding down; 1 gives a balanced subset.
    profile : {"exponential", "step"}, default="exponential"
    n_max : int, default=None
        Samples kept of the head class. Default: the size of the smallest
        class, so that every profile is feasible; on an exactly balanced set
        (CIFAR: 5000 or 500 per class) this is the official
        ``img_max = len(data) / C``.
    class_order : array-like of shape (n_classes,), default=None
        Every label of ``y`` once, head class first. Default: the sorted labels
        (class 0 is the head, as in the official code).
    random_state : int, RandomState instance or None, default=None
        ``None`` keeps the first samples of each class; anything else draws a
        random subset (see above).
    return_X_y : bool, default=False
        Return ``(X_lt, y_lt)`` instead of the Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with

        X : X's type, of n_selected rows
            The kept rows, grouped by class in ``class_order`` (head first).
        y : y's type (ndarray or tensor) of shape (n_selected,)
            Their labels.
        indices : ndarray of shape (n_selected,), int64
            Rows of the input: ``X[indices]`` is ``X_lt`` and ``y[indices]`` is ``y_lt``.
        class_order : ndarray of shape (n_classes,)
            The labels, head class first.
        class_counts : ndarray of shape (n_classes,), int64
            Samples kept per class, aligned with ``class_order`` (non-increasing).
        n_max, imbalance_ratio, profile
            The profile used (``n_max`` resolved from its default).
    (X_lt, y_lt) : tuple if ``return_X_y`` is True

    Raises
    ------
    ValueError
        When a class has fewer samples than its ``n_i`` (the message names the
        class), when the profile leaves a class empty, or when ``class_order``
        is not a permutation of the labels. Parameter errors (``imbalance_ratio
        < 1``, an unknown profile) raise scikit-learn's ``InvalidParameterError``,
        a ``ValueError``.

    See Also
    --------
    long_tailed_counts : The per-class counts alone.
    load_cifar_lt : CIFAR-10/100-LT from the official python pickles.
    load_digits_lt : A small long-tailed dataset bundled with scikit-learn.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lt.datasets import make_long_tailed
    >>> X = np.arange(40.0).reshape(20, 2)
    >>> y = np.repeat([0, 1, 2, 3], 5)
    >>> lt = make_long_tailed(X, y, imbalance_ratio=5)
    >>> lt.class_counts
    array([5, 2, 1, 1])
    >>> lt.indices
    array([ 0,  1,  2,  3,  4,  5,  6, 10, 15])
    >>> lt.y
    array([0, 0, 0, 0, 0, 1, 1, 2, 3])
    """
    y_np = to_numpy(y)
    if y_np.ndim != 1:
        raise ValueError(f"y must be 1-D, got an array of shape {y_np.shape}.")
    if X is not None and _n_rows(X) != len(y_np):
        raise ValueError(
            f"X and y have inconsistent numbers of samples: {_n_rows(X)} and {len(y_np)}."
        )
    assert_all_finite(y_np, input_name="y")  # before a NaN is cast to int (RuntimeWarning)
    check_classification_targets(y_np)
    classes, y_encoded, available = np.unique(y_np, return_inverse=True, return_counts=True)
    if len(classes) < 2:
        raise ValueError(
            f"A long-tailed set needs 2 or more classes; y contains only {classes.tolist()}."
        )
    order = _check_class_order(class_order, classes)
    position = np.searchsorted(classes, order)  # class_order[k] is classes[position[k]]
    available = available[position]
    if n_max is None:
        n_max = int(available.min())
    counts = long_tailed_counts(n_max, len(classes), imbalance_ratio, profile)

    short = np.flatnonzero(available < counts)
    if short.size:
        k = short[0]
        others = f" (and {short.size - 1} more classes)" if short.size > 1 else ""
        raise ValueError(
            f"Class {order[k].tolist()!r} (position {k} of the class order) has {available[k]} "
            f"samples, but the {profile} profile with n_max={n_max} and "
            f"imbalance_ratio={imbalance_ratio} asks for {counts[k]}{others}. Lower n_max "
            f"(default: the smallest class size) or reorder the classes."
        )

    rng = None if random_state is None else check_random_state(random_state)
    selected = []
    for pos, n_keep in zip(position, counts):
        idx = np.flatnonzero(y_encoded == pos)
        if rng is not None:
            rng.shuffle(idx)
        selected.append(idx[:n_keep])
    indices = np.concatenate(selected).astype(np.int64)

    if is_tensor(y):
        y_lt = y[torch.as_tensor(indices, device=y.device)]
    else:
        y_lt = _safe_indexing(y, indices) if hasattr(y, "iloc") else y_np[indices]
    X_lt = None if X is None else _take(X, indices)
    if return_X_y:
        return X_lt, y_lt
    return Bunch(
        X=X_lt,
        y=y_lt,
        indices=indices,
        class_order=order,
        class_counts=counts,
        n_max=n_max,
        imbalance_ratio=imbalance_ratio,
        profile=profile,
    )
