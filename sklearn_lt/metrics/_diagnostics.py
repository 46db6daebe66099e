"""Diagnostics of a classifier on long-tailed data: LORT's logits statistics, weight norms.

Logits Magnitude and Regularized Standard Deviation are definitions 1 and 2
of "Rethinking Classifier Re-Training in Long-Tailed Recognition: A Simple
Logits Retargeting Approach" (LORT, 2024). The paper publishes no code for
them; the reading implemented here is spelled out in each docstring.
"""

import numpy as np

from ..utils import to_numpy
from ..utils._array import as_labels, two_class_rows
from ..utils._labels import check_same_label_kind, label_positions

__all__ = ["logits_magnitude", "regularized_std", "weight_norms"]


def _logits_by_class(logits, y, classes):
    """Validated float64 logits (n, C) and the column of each sample's class (-1: none)."""
    logits = np.asarray(to_numpy(logits), dtype=np.float64)
    if logits.ndim == 1:
        # scikit-learn's binary decision_function: one score s, the logit of
        # classes[1] minus that of classes[0].
        logits = two_class_rows(logits, axis=1)
    if logits.ndim != 2:
        raise ValueError(f"logits must be 2-D (n_samples, n_classes), got shape {logits.shape}.")
    y = as_labels(y, "y")
    if len(y) != len(logits):
        raise ValueError(
            "Found input variables with inconsistent numbers of samples: "
            f"[{len(logits)}, {len(y)}]."
        )
    if classes is None:
        classes = np.unique(y)
        if len(classes) != logits.shape[1]:
            raise ValueError(
                f"logits have {logits.shape[1]} columns but y holds {len(classes)} "
                "distinct labels: pass classes (the label of each column, e.g. the "
                "estimator's classes_)."
            )
    else:
        classes = as_labels(classes, "classes")
        if len(classes) != logits.shape[1]:
            raise ValueError(
                f"classes has {len(classes)} labels but logits have {logits.shape[1]} columns."
            )
        if len(np.unique(classes)) != len(classes):
            raise ValueError("classes must not contain duplicates.")
        check_same_label_kind(y=y, classes=classes)
    column = label_positions(classes, y)
    if len(y) and np.all(column < 0):
        raise ValueError(
            f"No label of y is among classes {classes.tolist()[:20]}: pass the label of "
            "each logits column (e.g. the estimator's classes_)."
        )
    return logits, column


def _positive_negative_means(logits, column):
    """Per column j: mean of z_j over class j's samples, over the others, and their count."""
    rows = np.flatnonzero(column >= 0)
    n_classes = logits.shape[1]
    n_pos = np.bincount(column[rows], minlength=n_classes)
    n_neg = len(logits) - n_pos
    sum_pos = np.bincount(column[rows], weights=logits[rows, column[rows]], minlength=n_classes)
    sum_neg = logits.sum(axis=0) - sum_pos
    with np.errstate(invalid="ignore", divide="ignore"):
        return sum_pos / n_pos, sum_neg / n_neg, n_pos


def logits_magnitude(logits, y, *, classes=None):
    """LORT's Logits Magnitude of each class (definition 1).

    For the class ``j`` of column ``j``: the mean of the logit ``z_j`` over the
    samples of class ``j`` minus the mean of ``z_j`` over the samples of all
    other classes,

    ``M_j = mean(z_j | y = j) - mean(z_j | y != j)``.

    A large magnitude means the classifier separates class ``j`` sharply;
    instance-balanced training gives head classes larger magnitudes, and LORT
    shrinks and balances them. Evaluate on a balanced (test) set, as the paper
    does, so that every class weighs the same in the negative mean.

    Parameters
    ----------
    logits : array-like or torch.Tensor of shape (n_samples, n_classes)
        Logits (e.g. ``decision_function``). A 1-D binary score ``s`` counts
        as the logits ``(-s/2, s/2)``.
    y : array-like or torch.Tensor of shape (n_samples,)
        True labels.
    classes : array-like of shape (n_classes,), default=None
        The label of each column; ``None`` means the sorted unique labels of
        ``y`` (which must then number ``n_classes``). Labels of the same kind
        as ``y`` (strings or numbers; a mix raises, as in scikit-learn); a
        sample whose label is not among them counts as another class for
        every column.

    Returns
    -------
    magnitude : ndarray of shape (n_classes,)
        NaN for a class without samples, or with no sample of another class.

    See Also
    --------
    regularized_std : The spread of the positive logits relative to ``M_j``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lt.metrics import logits_magnitude
    >>> logits = np.array([[3.0, 0.0], [1.0, 1.0], [0.0, 2.0], [1.0, 4.0]])
    >>> logits_magnitude(logits, [0, 0, 1, 1])
    array([1.5, 2.5])
    """
    logits, column = _logits_by_class(logits, y, classes)
    pos, neg, _ = _positive_negative_means(logits, column)
    return pos - neg


def regularized_std(logits, y, *, classes=None, ddof=0):
    """LORT's Regularized Standard Deviation of each class (definition 2).

    Our reading of the definition: the standard deviation of the logit ``z_j``
    over the samples of class ``j`` (the same positive logits whose mean
    enters :func:`logits_magnitude`), divided by the Logits Magnitude ``M_j``,

    ``RSD_j = std(z_j | y = j) / M_j``.

    Dividing by ``M_j`` makes it invariant to rescaling the logits (a
    temperature, or tau-normalisation's change of norm), which is why the
    paper uses it to compare classifiers trained differently.

    Parameters
    ----------
    logits : array-like or torch.Tensor of shape (n_samples, n_classes)
    y : array-like or torch.Tensor of shape (n_samples,)
    classes : array-like of shape (n_classes,), default=None
        As in :func:`logits_magnitude`.
    ddof : int, default=0
        Delta degrees of freedom of the standard deviation (0: population std).

    Returns
    -------
    rsd : ndarray of shape (n_classes,)
        NaN where the magnitude is undefined, or the class has at most
        ``ddof`` samples.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lt.metrics import regularized_std
    >>> logits = np.array([[3.0, 0.0], [1.0, 1.0], [0.0, 2.0], [1.0, 4.0]])
    >>> regularized_std(logits, [0, 0, 1, 1])
    array([0.66666667, 0.4       ])
    """
    logits, column = _logits_by_class(logits, y, classes)
    pos, neg, n_pos = _positive_negative_means(logits, column)
    rows = np.flatnonzero(column >= 0)
    deviations = logits[rows, column[rows]] - pos[column[rows]]
    squares = np.bincount(column[rows], weights=deviations**2, minlength=logits.shape[1])
    with np.errstate(invalid="ignore", divide="ignore"):
        std = np.sqrt(squares / (n_pos - ddof))
        std[n_pos <= ddof] = np.nan
        return std / (pos - neg)


def weight_norms(estimator_or_coef):
    """L2 norm of each class's weight row of a linear classifier.

    Kang et al. (2020, Fig. 2 left): instance-balanced training leaves head
    classes with larger norms; tau-normalisation, LWS and cRT even them out.

    Parameters
    ----------
    estimator_or_coef : estimator, array-like or torch.Tensor
        A fitted estimator with ``coef_`` (any package head, a scikit-learn
        linear model, a :class:`~sklearn.frozen.FrozenEstimator` of one), or
        the weight matrix itself, of shape (n_classes, n_features). A 1-D
        array is one row.

    Returns
    -------
    norms : ndarray of shape (n_classes,)
        For a binary scikit-learn model with one row, one norm.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lt.metrics import weight_norms
    >>> weight_norms(np.array([[3.0, 4.0], [1.0, 0.0]]))
    array([5., 1.])
    """
    coef = getattr(estimator_or_coef, "coef_", estimator_or_coef)
    if hasattr(coef, "fit") or coef is None:
        raise ValueError(
            f"{type(estimator_or_coef).__name__} has no coef_: pass a fitted linear "
            "classifier or its weight matrix."
        )
    coef = np.asarray(to_numpy(coef), dtype=np.float64)
    if coef.ndim == 1:
        coef = coef[None, :]
    if coef.ndim != 2:
        raise ValueError(f"coef must be 2-D (n_classes, n_features), got shape {coef.shape}.")
    return np.linalg.norm(coef, axis=1)
