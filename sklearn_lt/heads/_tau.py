"""tau-normalisation (Kang et al. 2020, eq. 3) and the sweep over tau, written once."""

import numpy as np
import torch

__all__ = ["tau_normalize", "tau_sweep"]


def tau_normalize(coef, tau):
    """``w_j / ||w_j||**tau`` row by row (Kang et al. eq. 3); zero rows stay zero.

    Computed in float64 and rounded once to ``coef``'s dtype, so float32
    weights come out correctly rounded.

    Parameters
    ----------
    coef : torch.Tensor of shape (n_classes, n_features)
    tau : float >= 0

    Returns
    -------
    torch.Tensor of the shape and dtype of ``coef``

    Examples
    --------
    >>> import torch
    >>> from sklearn_lt.heads import tau_normalize
    >>> tau_normalize(torch.tensor([[3.0, 4.0], [0.0, 2.0]]), 1.0)
    tensor([[0.6000, 0.8000],
            [0.0000, 1.0000]])
    """
    wide = coef.to(torch.float64)
    norms = torch.linalg.vector_norm(wide, dim=1, keepdim=True)
    return (wide / _norm_power(norms, tau)).to(coef.dtype)


def _norm_power(norms, tau):
    """``norms ** tau`` with zero norms mapped to 1, so zero rows stay zero (0 ** 2 is 0)."""
    return torch.where(norms > 0, norms, torch.ones_like(norms)) ** float(tau)


@torch.no_grad()
def tau_sweep(coef, X, taus):
    """Predicted class index of every row of ``X`` at every tau, from one product.

    ``X @ (w_j / ||w_j||**tau) = (X @ w_j) / ||w_j||**tau``: the logits of
    every tau come from the base logits ``X @ coef.T`` (bias dropped, as
    tau-normalisation does), computed once, in float64. Exactly
    :class:`~sklearn_lt.TauNormClassifier`'s predictions in real arithmetic;
    the two differ only on logits tied to within rounding.

    Parameters
    ----------
    coef : torch.Tensor of shape (n_classes, n_features)
        The base classifier's weights.
    X : torch.Tensor of shape (n_samples, n_features)
    taus : array-like of shape (n_taus,)

    Returns
    -------
    indices : ndarray of shape (n_taus, n_samples)
        ``argmax_j`` of the tau-normalised logits, per tau.

    Examples
    --------
    >>> import torch
    >>> from sklearn_lt.heads import tau_sweep
    >>> coef = torch.tensor([[4.0, 0.0], [0.0, 1.0]])  # class 0: the larger norm
    >>> X = torch.tensor([[1.0, 2.0]])
    >>> tau_sweep(coef, X, [0.0, 1.0])  # tau=1 removes the head's advantage
    array([[0],
           [1]])
    """
    coef = coef.to(torch.float64)
    logits = X.to(torch.float64) @ coef.T
    norms = torch.linalg.vector_norm(coef, dim=1)
    taus = np.asarray(taus, dtype=np.float64).reshape(-1)
    best = torch.stack([(logits / _norm_power(norms, tau)).argmax(dim=1) for tau in taus])
    return best.cpu().numpy()
