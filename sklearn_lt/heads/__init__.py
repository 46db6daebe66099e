"""Stage-two heads: linear classifiers on frozen features, numpy or torch."""

from ._base import LinearHead
from ._ncm import NCMClassifier
from ._rebalance import (
    LORTClassifier,
    LWSClassifier,
    TauNormClassifier,
    auto_smoothing,
    tau_normalize,
)
from ._softmax import CRTClassifier, SoftmaxClassifier
from ._tau_cv import TauNormClassifierCV

__all__ = [
    "CRTClassifier",
    "LORTClassifier",
    "LWSClassifier",
    "LinearHead",
    "NCMClassifier",
    "SoftmaxClassifier",
    "TauNormClassifier",
    "TauNormClassifierCV",
    "auto_smoothing",
    "tau_normalize",
]
