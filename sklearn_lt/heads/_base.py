"""The one fit/predict path shared by every stage-two head.

Every head of the package is linear in (possibly normalised) features:
``logits = phi(X) @ coef_.T + intercept_``. The heads differ only in how
``_fit`` finds the weights (and NCM in its ``phi``, applied in ``_logits``).

``_fit`` is a pure function of the data: it returns a :class:`FittedLinear`
and never writes on the estimator. :meth:`LinearHead.fit` validates the
input, calls it, and sets every fitted attribute once at the end, so that a
fit that fails leaves the head exactly as it was.
"""

from dataclasses import dataclass, field
from numbers import Integral

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.metrics import accuracy_score
from sklearn.utils.validation import check_is_fitted

from .._counts import ClassCounts
from ..utils import to_numpy, to_tensor
from ..utils._array import (
    is_tensor,
    like_input,
    record_features,
    resolve_device,
    validate_features,
    validate_features_for_fit,
    validate_labels,
)

__all__ = [
    "FittedLinear",
    "LinearHead",
    "LazyRows",
    "chunked_argmax",
    "row_chunks",
    "sweep_argmax",
]

# Entries of logits (64 MiB of float32) that one chunk of rows may hold. Every
# pass that scores rows (predict, the CV sweeps and paths, early stopping,
# LWS's base logits) goes through ``row_chunks``, so that its memory is one
# chunk, never N x C. Read at call time (tests shrink it).
_CHUNK_ELEMENTS = 2**24
_PREDICT_BLOCK_ELEMENTS = _CHUNK_ELEMENTS  # the name benchmarks/bench_heads.py reads
# Logits that a loop over many candidates (the tau sweeps: 21 passes over each
# chunk) reads while they stay in a CPU's cache: 1 MiB of float32 (2x faster
# than 64 MiB chunks at 8,142 classes; a GPU keeps the 64 MiB chunks).
_CACHE_ELEMENTS = 2**18


class LazyRows:
    """Rows of a 2-D tensor ``X`` made where they are read: a subset of them, a row-wise
    map of them, or both, never the whole result at once.

    What the package's fits take in place of ``X[index]`` or ``transform(X)``:
    the rows of LORT's held-out run and a CV fold's training rows (the base
    fitted on them, the LORT paths run on them), the normalised rows of
    cosine retraining. Everything that reads a fit's features goes through
    indexing (:func:`row_chunks`, SGD's batches, :func:`feature_scale`), and
    indexing ``LazyRows`` gathers just those rows of ``X`` and maps them: a
    chunk or a batch at a time. At the full iNaturalist shape (437,513 x
    2,048 float32) a copy of 80% of the rows is 2.7 GiB. The fit is the fit
    on the copy, bit for bit: the same rows come in the same chunks, and a
    row-wise map gives each row what it gives it in the whole array.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features), or LazyRows
        ``LazyRows`` of ``LazyRows`` read the first one's tensor: the indices
        compose, and the maps apply in turn.
    index : array-like or torch.Tensor of int, default=None
        The rows, in order; ``None``: all of them.
    transform : callable, default=None
        A row-wise map, block of rows to block of the same shape (e.g.
        :func:`~sklearn_lt.heads._modules.l2_normalize`).

    Examples
    --------
    >>> import torch
    >>> from sklearn_lt.heads._base import LazyRows
    >>> X = torch.arange(8.0).reshape(4, 2)
    >>> rows = LazyRows(X, [3, 1])
    >>> rows.shape, rows[:1]
    (torch.Size([2, 2]), tensor([[6., 7.]]))
    >>> LazyRows(rows, transform=lambda block: -block)[1]
    tensor([-2., -3.])
    """

    ndim = 2

    def __init__(self, X, index=None, transform=None):
        transforms = () if transform is None else (transform,)
        if index is not None:
            index = torch.as_tensor(index, dtype=torch.long, device=X.device)
        if isinstance(X, LazyRows):
            if X.index is not None:
                index = X.index if index is None else X.index[index]
            X, transforms = X.source, X.transforms + transforms
        self.source, self.index, self.transforms = X, index, transforms
        self.shape = torch.Size((len(X) if index is None else len(index), X.shape[1]))

    device = property(lambda self: self.source.device)
    dtype = property(lambda self: self.source.dtype)

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, rows):
        if isinstance(rows, Integral):  # one row: mapped as a block of one
            return self[[rows]][0]
        block = self.source[rows if self.index is None else self.index[rows]]
        for transform in self.transforms:
            block = transform(block)
        return block

    def element_size(self):
        return self.source.element_size()

    def new_empty(self, *size):
        return self.source.new_empty(*size)


def row_chunks(X, n_columns, *, rows=None, in_cache=False, cpu_rows=None):
    """Chunks of the rows of ``X`` whose ``n_columns``-wide logits fit in one chunk budget.

    Parameters
    ----------
    X : torch.Tensor or LazyRows of shape (n_samples, n_features)
    n_columns : int
        Width of what the caller computes per row (the number of classes);
        a chunk holds at most ``_CHUNK_ELEMENTS`` entries of it or of ``X``.
    rows : torch.Tensor of int64, default=None
        Take these rows of ``X`` (e.g. a validation fold), gathered chunk by
        chunk: the selection is never copied whole.
    in_cache : bool, default=False
        Chunks of at most ``_CACHE_ELEMENTS`` (1 MiB of float32), for a
        caller that reads each chunk's logits many times.
    cpu_rows : int, default=None
        At most this many rows a chunk (fewer when the budget says so).

    ``in_cache`` and ``cpu_rows`` size chunks for a CPU's cache: on other
    devices (a GPU's launches favour few, large chunks) the memory budget's.

    Yields
    ------
    where : slice
        The positions of the chunk among the rows (of ``rows`` when given).
    block : torch.Tensor of shape (n_chunk_rows, n_features)
        Those rows of ``X`` (a view of a tensor when ``rows`` is None).

    Examples
    --------
    >>> import torch
    >>> from sklearn_lt.heads._base import row_chunks
    >>> [where for where, _ in row_chunks(torch.zeros(5, 2), n_columns=2**23)]
    [slice(0, 2, None), slice(2, 4, None), slice(4, 5, None)]
    """
    n = len(X) if rows is None else len(rows)
    on_cpu = X.device.type == "cpu"
    budget = min(_CHUNK_ELEMENTS, _CACHE_ELEMENTS) if in_cache and on_cpu else _CHUNK_ELEMENTS
    step = max(1, budget // max(n_columns, X.shape[1]))
    if cpu_rows is not None and on_cpu:
        step = min(step, cpu_rows)
    for start in range(0, n, step):
        where = slice(start, min(start + step, n))
        yield where, X[where] if rows is None else X[rows[where]]


@torch.no_grad()
def chunked_argmax(X, logits, n_columns, *, rows=None):
    """``logits(block).argmax(dim=1)`` of every row of ``X`` (or ``X[rows]``), chunk by chunk.

    ``logits`` maps a block of rows to its ``n_columns`` logits; only one
    chunk of them (see :func:`row_chunks`) exists at a time.

    Returns
    -------
    torch.Tensor of int64, shape (n_rows,), on ``X``'s device

    Examples
    --------
    >>> import torch
    >>> from sklearn_lt.heads._base import chunked_argmax
    >>> W = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> chunked_argmax(torch.tensor([[2.0, 1.0], [0.0, 3.0]]), lambda B: B @ W.T, 2)
    tensor([0, 1])
    """
    n = len(X) if rows is None else len(rows)
    best = torch.empty(n, dtype=torch.long, device=X.device)
    for where, block in row_chunks(X, n_columns, rows=rows):
        torch.argmax(logits(block), dim=1, out=best[where])
    return best


@torch.no_grad()
def sweep_argmax(X, coef, adjustments, op):
    """``argmax(op(X @ coef.T, a))`` for every ``a`` of ``adjustments``, from one product.

    The post-hoc sweeps (tau-norm's per-class factors with ``torch.mul``,
    logit adjustment's per-class shifts with ``torch.add``): per chunk of
    rows, the base logits are computed once and every adjustment is applied
    in one reused buffer, chunks sized to stay in cache (see
    :func:`row_chunks`); never ``n_samples x n_classes`` in memory.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features)
    coef : torch.Tensor of shape (n_classes, n_features), in ``X``'s dtype
    adjustments : torch.Tensor of shape (n_adjustments, n_classes), in ``X``'s dtype
    op : ``torch.mul`` or ``torch.add`` (any binary op taking ``out=``)

    Returns
    -------
    ndarray of int64, shape (n_adjustments, n_samples)

    Examples
    --------
    >>> import torch
    >>> from sklearn_lt.heads._base import sweep_argmax
    >>> X, coef = torch.tensor([[1.0, 0.8]]), torch.eye(2)
    >>> sweep_argmax(X, coef, torch.tensor([[0.0, 0.0], [0.0, 0.5]]), torch.add)
    array([[0],
           [1]])
    """
    best = torch.empty((len(adjustments), len(X)), dtype=torch.long, device=X.device)
    for where, block in row_chunks(X, len(coef), in_cache=True):
        products = block @ coef.T
        adjusted = torch.empty_like(products)
        for i, adjustment in enumerate(adjustments):
            torch.argmax(op(products, adjustment, out=adjusted), dim=1, out=best[i, where])
    return best.cpu().numpy()


@dataclass
class FittedLinear:
    """What a head's ``_fit`` returns: its weights, the classes they score, and the rest.

    Parameters
    ----------
    coef : torch.Tensor of shape (n_classes, n_features)
    intercept : torch.Tensor of shape (n_classes,)
    counts : ClassCounts
        The classes of the rows of ``coef`` (``classes_``) and their training
        counts (``class_counts_``).
    attributes : dict
        Other fitted attributes by name (``"scales_"``, ``"loss_curve_"``...);
        tensors among them are handed back in the caller's array type.
    """

    coef: torch.Tensor
    intercept: torch.Tensor
    counts: ClassCounts
    attributes: dict = field(default_factory=dict)


class LinearHead(ClassifierMixin, BaseEstimator):
    """Base class of the stage-two heads: a linear classifier on torch tensors.

    Subclasses implement ``_fit(X, y_encoded, counts) -> FittedLinear`` on a
    validated float tensor ``X``, labels encoded against ``counts.classes``;
    this class validates input, records the fitted attributes in the caller's
    array type and answers ``decision_function`` / ``predict_proba`` /
    ``predict`` in the caller's type and device. Every subclass takes a
    ``device`` parameter (``None``: the input's device), which ``fit`` and
    ``predict`` read.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    class_counts_ : ndarray of shape (n_classes,)
        Training samples per class as seen by ``fit``.
    coef_ : ndarray or torch.Tensor of shape (n_classes, n_features)
    intercept_ : ndarray or torch.Tensor of shape (n_classes,)
        In the type of the training input (numpy, or a tensor on the training
        device).
    n_features_in_ : int
    """

    # True when the logits are not ``X @ coef_.T + intercept_`` (NCM normalises
    # X first): such a head's coef_ cannot be rebalanced as a linear layer.
    transforms_features = False

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Fit the head on features ``X`` (numpy array or torch tensor) and labels ``y``.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)
            Frozen features (float32 or float64; other dtypes become float).
        y : array-like or torch.Tensor of shape (n_samples,)
            Class labels; at least two classes.

        Returns
        -------
        self : object
            The fitted head.
        """
        return self._fit_and_set(X, y)

    def _fit_and_set(self, X, y, *, validated=False, **fit_args):
        """Validate ``X``, ``y``, run ``_fit`` (with ``fit_args``), set the fitted attributes.

        ``validated``: ``X`` is already a validated tensor (or :class:`LazyRows`
        of one) on the device to fit on, as :meth:`_fit_validated` hands it.
        """
        if validated:
            X_t, features, like = X, {"n_features_in_": int(X.shape[1])}, X[:0]
        else:
            device = resolve_device(self.device, X)
            X_t, features = validate_features_for_fit(self, X, device=device)
            like = X
        classes, y_encoded, counts = validate_labels(y, X_t.shape[0])
        fitted = self._fit(X_t, y_encoded, ClassCounts(classes, counts), **fit_args)
        self._set_fitted(fitted, features, like=like)
        return self

    def _fit_validated(self, X, y):
        """``fit`` on features the caller validated: a tensor, or :class:`LazyRows` of one.

        The package's inner fits (a base classifier on a CV fold, on LORT's
        held-out run) come here, so that a fold is read in place; the fitted
        arrays are tensors on ``X``'s device, as ``fit`` leaves them for
        tensor input. A head with a ``device`` of its own takes the public
        path (which moves the features there), on a copy of the rows
        (``X[:]``: a view of a tensor, the rows of ``LazyRows``).
        """
        if self.device is not None:
            return self._fit_and_set(X[:], y)
        self._validate_params()
        return self._fit_and_set(X, y, validated=True)

    def _fit(self, X, y_encoded, counts):  # pragma: no cover
        raise NotImplementedError

    def _set_fitted(self, fitted, features, *, like):
        """Set every fitted attribute at once (tensors in the type of ``like``)."""
        record_features(self, features)
        self.classes_ = fitted.counts.classes
        # In the caller's array type too (scikit-learn's array API rule: every
        # fitted array but classes_ follows X's namespace and device).
        self.class_counts_ = like_input(torch.as_tensor(fitted.counts.counts), like)
        self.coef_ = like_input(fitted.coef.detach(), like)
        self.intercept_ = like_input(fitted.intercept.detach(), like)
        for name, value in fitted.attributes.items():
            setattr(self, name, like_input(value.detach(), like) if is_tensor(value) else value)

    @classmethod
    def from_weights(cls, coef, intercept, *, classes, class_counts=None, **params):
        """A fitted head holding the given weights, without training.

        Builds what ``fit`` would have left (``coef_``, ``intercept_``,
        ``classes_``, ``class_counts_``, ``n_features_in_``) from a trained
        linear layer, e.g. stage one's joint classifier or one fold's weights.

        Parameters
        ----------
        coef : ndarray or torch.Tensor of shape (n_classes, n_features)
        intercept : ndarray or torch.Tensor of shape (n_classes,)
        classes : array-like of shape (n_classes,)
            The label of each row of ``coef``, in any order (the fitted head
            keeps its rows in the sorted order of the classes, as ``fit``).
        class_counts : array-like of shape (n_classes,), default=None
            Training samples per class (``None``: unknown, all zero).
        **params
            Parameters of the head (as in its constructor).

        Returns
        -------
        head : LinearHead
            Fitted: ``predict`` works at once. Its weights stay in the type
            given (numpy, or tensors on their device).

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_lt import SoftmaxClassifier
        >>> head = SoftmaxClassifier.from_weights(
        ...     np.eye(2), np.zeros(2), classes=["a", "b"], class_counts=[10, 3])
        >>> head.predict(np.array([[0.2, 0.9]]))
        array(['b'], dtype='<U1')
        """
        classes = np.asarray(classes)
        counts = np.zeros(len(classes), np.int64) if class_counts is None else class_counts
        counts = to_numpy(counts)
        coef_t, intercept_t = to_tensor(coef), to_tensor(intercept)
        if (
            coef_t.ndim != 2
            or coef_t.shape[0] != len(classes)
            or tuple(intercept_t.shape) != (len(classes),)
            or counts.shape != (len(classes),)
        ):
            raise ValueError(
                f"coef of shape {tuple(coef_t.shape)}, intercept of shape "
                f"{tuple(intercept_t.shape)} and class_counts of shape {counts.shape} "
                f"do not fit {len(classes)} classes."
            )
        # Rows follow the sorted classes, as after fit (a network may list its
        # classes in any order).
        order = np.argsort(classes, kind="stable")
        rows = torch.as_tensor(order, device=coef_t.device)
        fitted = FittedLinear(
            coef_t[rows], intercept_t.to(coef_t)[rows], ClassCounts(classes, counts)
        )
        head = cls(**params)
        like = coef if is_tensor(coef) else np.asarray(coef)
        head._set_fitted(fitted, {"n_features_in_": int(coef_t.shape[1])}, like=like)
        return head

    # ----------------------------------------------------------------- predict
    def _weights(self, X):
        """Fitted tensors that ``_logits`` reads, on ``X``'s device and dtype.

        Converted once per public call (not once per predict block): on a GPU
        each conversion of numpy weights is a host-to-device copy.
        """
        coef = to_tensor(self.coef_, device=X.device, dtype=X.dtype)
        intercept = to_tensor(self.intercept_, device=X.device, dtype=X.dtype)
        return coef, intercept

    def _logits(self, X, weights):
        """``X @ coef_.T + intercept_``; NCM overrides it to normalise ``X``."""
        coef, intercept = weights
        return torch.addmm(intercept, X, coef.T)

    def _all_logits(self, X):
        X_t = self._validated(X)
        return self._logits(X_t, self._weights(X_t))

    def _validated(self, X):
        check_is_fitted(self)
        device = None if is_tensor(X) else self.device
        return validate_features(self, X, reset=False, device=device)

    @torch.no_grad()
    def decision_function(self, X):
        """Logits of each class (Kang et al.: ``W X + b`` of the rebalanced head).

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray or torch.Tensor of shape (n_samples, n_classes)
            In the type of ``X`` (a tensor on ``X``'s device). With two
            classes, scikit-learn's convention: one column, the logit of
            ``classes_[1]`` minus that of ``classes_[0]``, shape (n_samples,).
        """
        logits = self._all_logits(X)
        if logits.shape[1] == 2:
            logits = logits[:, 1] - logits[:, 0]
        return like_input(logits, X)

    @torch.no_grad()
    def predict_proba(self, X):
        """Softmax of the logits.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray or torch.Tensor of shape (n_samples, n_classes)
        """
        return like_input(torch.softmax(self._all_logits(X), dim=1), X)

    @torch.no_grad()
    def predict_log_proba(self, X):
        """Log-softmax of the logits, shape (n_samples, n_classes).

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)
            The features.

        Returns
        -------
        log_proba : ndarray or torch.Tensor of shape (n_samples, n_classes)
            In the type of ``X``.
        """
        return like_input(torch.log_softmax(self._all_logits(X), dim=1), X)

    @torch.no_grad()
    def predict(self, X):
        """Class with the largest logit.

        Computed block by block, so memory stays bounded for any number of
        rows.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray or torch.Tensor of shape (n_samples,)
            Labels from ``classes_``. Torch input gives a tensor on ``X``'s
            device when the labels are numbers (string labels come back as
            numpy).
        """
        X_t = self._validated(X)
        weights = self._weights(X_t)
        best = chunked_argmax(X_t, lambda block: self._logits(block, weights), len(self.classes_))
        if is_tensor(X) and self.classes_.dtype.kind in "biuf":
            return torch.as_tensor(self.classes_, device=best.device)[best]
        return self.classes_[best.cpu().numpy()]

    def score(self, X, y, sample_weight=None):
        """Mean accuracy on ``X``, ``y`` (numpy or torch, any device).

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)
        y : array-like or torch.Tensor of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        return accuracy_score(
            to_numpy(y), to_numpy(self.predict(X)), sample_weight=sample_weight
        )

    # ------------------------------------------------------------ persistence
    def __getstate__(self):
        # Fitted tensors are pickled on the CPU, so that a head fitted on a GPU
        # loads anywhere; predict moves them to the input's device.
        state = super().__getstate__()
        return {k: v.cpu() if is_tensor(v) else v for k, v in state.items()}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.array_api_support = True
        return tags
