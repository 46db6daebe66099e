"""Augmented feature views: stage two on augmented images through the frozen network.

The official stage two of the decoupling code (Kang et al. 2020,
``facebookresearch/classifier-balancing``) and of LOS/LORT trains the head on
*augmented* images through the frozen backbone (a random crop and a flip at
each epoch; LOS also leaves BatchNorm in train mode), where features extracted
once give the head one fixed feature per image. ``transform_views`` of both
embedders gives ``n_views`` augmented features per image instead; this module
holds what the two share: the checks, the group ids and the BatchNorm mode.
"""

import contextlib
from numbers import Integral

import numpy as np
import torch
from torch import nn

__all__ = ["BATCHNORM_MODES", "batchnorm_mode", "check_view_params", "view_groups"]

BATCHNORM_MODES = ("eval", "train")


def check_view_params(n_views, batchnorm):
    """Refuse an ``n_views`` that is not a positive int and an unknown ``batchnorm``."""
    if not isinstance(n_views, Integral) or isinstance(n_views, bool) or n_views < 1:
        raise ValueError(f"n_views must be a positive int, got {n_views!r}.")
    if not isinstance(batchnorm, str) or batchnorm not in BATCHNORM_MODES:
        raise ValueError(f"batchnorm must be 'eval' or 'train', got {batchnorm!r}.")
    return int(n_views)


def view_groups(n_samples, n_views):
    """The image (row of ``X``) of each view: ``[0] * n_views + [1] * n_views + ...``."""
    return np.repeat(np.arange(n_samples, dtype=np.int64), n_views)


@contextlib.contextmanager
def batchnorm_mode(module, batchnorm):
    """``module`` in eval mode, its BatchNorm layers in train mode for ``"train"``.

    In train mode a BatchNorm layer normalises with the statistics of the
    batch (as LOS's stage two does) and updates its running statistics: every
    buffer of ``module`` is restored on exit, so ``transform`` and later
    calls see the network unchanged, and the module is left in eval mode.
    Dropout and the other layers stay in eval mode either way.
    """
    saved = None
    module.eval()
    if batchnorm == "train":
        saved = [buffer.detach().clone() for buffer in module.buffers()]
        for layer in module.modules():
            if isinstance(layer, nn.modules.batchnorm._BatchNorm):
                layer.train()
    try:
        yield module
    finally:
        module.eval()
        if saved is not None:
            with torch.no_grad():
                for buffer, value in zip(module.buffers(), saved):
                    buffer.copy_(value)
