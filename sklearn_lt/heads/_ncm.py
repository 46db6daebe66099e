"""Nearest class mean classifier, NCM (Kang et al. 2020, section 4)."""

import torch
from sklearn.utils._param_validation import StrOptions

from ..utils import to_tensor
from ._base import LinearHead

__all__ = ["NCMClassifier"]


def _l2_normalize(X):
    return X / torch.linalg.vector_norm(X, dim=1, keepdim=True).clamp_min(
        torch.finfo(X.dtype).tiny
    )


class NCMClassifier(LinearHead):
    """Nearest class mean on L2-normalised features (Kang et al. 2020, section 4).

    Features are (optionally) centred by the mean of all training features,
    then L2-normalised; each class is represented by the mean of its
    normalised training features, ``mu_j``. Queries get the same centring and
    normalisation. Both scores are linear in the normalised query ``z``, so
    NCM shares the linear heads' predict path:

    - ``metric="cosine"`` (default, the paper's cosine similarity): logit
      ``cos(z, mu_j) = z . mu_j / ||mu_j||``; ``coef_`` holds the
      normalised means, ``intercept_`` zeros.
    - ``metric="euclidean"`` (the official code's ``cl2n`` + ``l2``): logit
      ``-||z - mu_j||**2 = 2 z . mu_j - ||mu_j||**2 - 1`` (``||z|| = 1``), with
      the means not re-normalised; ``coef_ = 2 mu_j``, ``intercept_ =
      -||mu_j||**2 - 1``.

    Parameters
    ----------
    metric : {"cosine", "euclidean"}, default="cosine"
    center : bool, default=True
        Subtract the mean training feature before normalising (the official
        ``cl2n``); ``False`` only normalises.
    device : str or torch.device, default=None
        Where to compute; ``None`` uses the input's device.

    Attributes
    ----------
    centroids_ : ndarray or torch.Tensor of shape (n_classes, n_features)
        ``mu_j``, means of the centred and normalised training features.
    feature_mean_ : ndarray or torch.Tensor of shape (n_features,)
        Mean training feature (zeros when ``center=False``).
    classes_, class_counts_, coef_, intercept_, n_features_in_
        As in the other heads.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lt import NCMClassifier
    >>> X = np.array([[1.0, 0.1], [0.9, 0.0], [0.0, 1.0], [0.2, 1.1]])
    >>> y = np.array([0, 0, 1, 1])
    >>> NCMClassifier(center=False).fit(X, y).predict([[2.0, 0.5]])
    array([0])
    """

    _parameter_constraints = {
        "metric": [StrOptions({"cosine", "euclidean"})],
        "center": ["boolean"],
        "device": [str, torch.device, None],
    }
    _fitted_tensors = ("coef_", "intercept_", "centroids_", "feature_mean_")

    def __init__(self, metric="cosine", *, center=True, device=None):
        self.metric = metric
        self.center = center
        self.device = device

    def _fit(self, X, y_encoded, class_counts, X_input):
        self.feature_mean_ = X.mean(dim=0) if self.center else torch.zeros_like(X[0])
        Z = _l2_normalize(X - self.feature_mean_)
        y_t = torch.as_tensor(y_encoded, device=X.device)
        sums = torch.zeros(len(class_counts), X.shape[1], device=X.device, dtype=X.dtype)
        sums.index_add_(0, y_t, Z)
        counts = torch.as_tensor(class_counts, device=X.device, dtype=X.dtype)
        self.centroids_ = sums / counts[:, None]
        if self.metric == "cosine":
            return _l2_normalize(self.centroids_), torch.zeros_like(counts)
        sq_norms = (self.centroids_**2).sum(dim=1)
        return 2 * self.centroids_, -sq_norms - 1

    def _weights(self, X):
        coef, intercept = super()._weights(X)
        mean = to_tensor(self.feature_mean_, device=X.device, dtype=X.dtype)
        return coef, intercept, mean, mean @ coef.T

    def _logits(self, X, weights):
        # phi(x) @ W.T = (x @ W.T - m @ W.T) / ||x - m||: the same logits as
        # normalising first, without a centred, normalised copy of X.
        # A row equal to the mean has phi(x) = 0 (as _l2_normalize gives);
        # x @ W.T and m @ W.T may differ in the last bit there, so zero it.
        coef, intercept, mean, mean_coef = weights
        logits = (X @ coef.T).sub_(mean_coef)
        norms = _distances(X, mean)[:, None]
        logits.div_(norms.clamp_min(torch.finfo(X.dtype).tiny))
        return logits.masked_fill_(norms == 0, 0).add_(intercept)


# Rows of ``x - m`` held at once on the CPU: about 1 MiB, so the temporary stays
# in cache and in memory malloc reuses (a block-sized one costs a page fault
# per 4 KiB and made the norms 6x slower than the chunked loop).
_CPU_CHUNK_BYTES = 2**20


def _distances(X, point):
    """``||x_i - point||`` for every row, computed directly (exact: no
    ``||x||^2 - 2 x.p + ||p||^2`` cancellation), in cache-sized chunks on the
    CPU and in one pass on other devices."""
    out = torch.empty(len(X), dtype=X.dtype, device=X.device)
    step = len(X)
    if X.device.type == "cpu":
        step = max(1, _CPU_CHUNK_BYTES // (X.shape[1] * X.element_size()))
    for start in range(0, len(X), step):
        rows = slice(start, start + step)
        torch.linalg.vector_norm(X[rows] - point, dim=1, out=out[rows])
    return out
