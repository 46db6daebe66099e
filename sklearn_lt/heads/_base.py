"""The one predict path shared by every stage-two head.

Every head of the package is linear in (possibly normalised) features:
``logits = phi(X) @ coef_.T + intercept_``. The heads differ only in how
``fit`` finds ``coef_`` and ``intercept_`` (and NCM in its ``phi``, applied
in ``_logits``).
"""

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.utils.validation import check_is_fitted

from ..utils import (
    is_tensor,
    like_input,
    resolve_device,
    to_numpy,
    to_tensor,
    validate_features,
    validate_labels,
)

# Rows per block in predict: bounds its memory by the block, not by N.
_PREDICT_BLOCK_ELEMENTS = 2**24


class LinearHead(ClassifierMixin, BaseEstimator):
    """Base class of the stage-two heads: a linear classifier on torch tensors.

    Subclasses implement ``_fit(X, y_encoded, counts, X_input)`` returning the
    weights ``(coef, intercept)`` as tensors; this class validates input,
    encodes labels, records the fitted attributes in the caller's array type
    and answers ``decision_function`` / ``predict_proba`` / ``predict`` in the
    caller's type and device.

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
        self._validate_params()
        device = resolve_device(getattr(self, "device", None), X)
        X_t = validate_features(self, X, reset=True, device=device)
        classes, y_encoded, counts = validate_labels(y, X_t.shape[0])
        self.classes_ = classes
        self.class_counts_ = counts
        self.coef_, self.intercept_ = self._fit(X_t, y_encoded, counts, X)
        for name in self._fitted_tensors:
            setattr(self, name, like_input(getattr(self, name).detach(), X))
        return self

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
            The label of each row of ``coef``.
        class_counts : array-like of shape (n_classes,), default=None
            Training samples per class (``None``: unknown, all zero).
        **params
            Parameters of the head (as in its constructor).

        Returns
        -------
        head : LinearHead
            Fitted: ``predict`` works at once.
        """
        head = cls(**params)
        classes = np.asarray(classes)
        if coef.ndim != 2 or coef.shape[0] != len(classes) or intercept.shape != (len(classes),):
            raise ValueError(
                f"coef of shape {tuple(coef.shape)} and intercept of shape "
                f"{tuple(intercept.shape)} do not fit {len(classes)} classes."
            )
        head.classes_ = classes
        head.class_counts_ = (
            np.zeros(len(classes), dtype=np.int64)
            if class_counts is None
            else np.asarray(to_numpy(class_counts))
        )
        head.coef_, head.intercept_ = coef, intercept
        head.n_features_in_ = int(coef.shape[1])
        return head

    # Fitted tensors handed back in the caller's array type after fit.
    _fitted_tensors = ("coef_", "intercept_")

    def _fit(self, X, y_encoded, class_counts, X_input):  # pragma: no cover
        raise NotImplementedError

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
        device = None if is_tensor(X) else getattr(self, "device", None)
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
        """Log-softmax of the logits, shape (n_samples, n_classes)."""
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
        block = max(1, _PREDICT_BLOCK_ELEMENTS // max(len(self.classes_), X_t.shape[1]))
        best = torch.empty(len(X_t), dtype=torch.long, device=X_t.device)
        for i in range(0, len(X_t), block):
            torch.argmax(self._logits(X_t[i : i + block], weights), dim=1, out=best[i : i + block])
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


def maps_features(estimator):
    """True when ``estimator`` (or the model a ``FrozenEstimator`` wraps) is a
    head that transforms X before its linear layer (NCM normalises it): its
    ``coef_`` alone does not give its logits, so it cannot be rebalanced."""
    model = getattr(estimator, "estimator", estimator)
    return isinstance(model, LinearHead) and type(model)._logits is not LinearHead._logits


def as_linear_weights(coef, intercept, n_classes, *, device, dtype):
    """Turn a scikit-learn linear model's weights into ``(n_classes, d)`` and ``(n_classes,)``.

    Binary models store one row ``w`` (the logit of ``classes_[1]``); it
    becomes the rows ``(-w/2, w/2)``, whose softmax equals the model's sigmoid.
    """
    coef = to_tensor(coef, device=device, dtype=dtype)
    if coef.ndim == 1:
        coef = coef[None, :]
    if intercept is None:
        intercept = torch.zeros(coef.shape[0], device=device, dtype=dtype)
    intercept = to_tensor(np.atleast_1d(to_numpy(intercept)), device=device, dtype=dtype)
    if intercept.numel() == 1 and coef.shape[0] > 1:
        intercept = intercept.expand(coef.shape[0]).clone()
    if n_classes == 2 and coef.shape[0] == 1:
        coef = torch.cat([-coef / 2, coef / 2])
        intercept = torch.cat([-intercept / 2, intercept / 2])
    if coef.shape[0] != n_classes:
        raise ValueError(
            f"The estimator's coef_ has {coef.shape[0]} rows for {n_classes} classes."
        )
    # Own copies: the heads train these in place, the estimator's stay untouched.
    return coef.clone(), intercept.clone()
