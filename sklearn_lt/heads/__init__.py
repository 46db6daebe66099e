"""Stage-two heads: linear classifiers on frozen features, numpy or torch."""

from ._base import FittedLinear, LinearHead
from ._linear_base import default_base, linear_weights
from ._lort_cv import LORTClassifierCV
from ._ncm import NCMClassifier
from ._rebalance import LORTClassifier, LWSClassifier, TauNormClassifier, auto_smoothing
from ._softmax import CRTClassifier, SoftmaxClassifier
from ._tau import tau_normalize, tau_sweep
from ._tau_cv import TauNormClassifierCV

__all__ = [
    "CRTClassifier",
    "FittedLinear",
    "LORTClassifier",
    "LORTClassifierCV",
    "LWSClassifier",
    "LinearHead",
    "NCMClassifier",
    "SoftmaxClassifier",
    "TauNormClassifier",
    "TauNormClassifierCV",
    "auto_smoothing",
    "default_base",
    "linear_weights",
    "tau_normalize",
    "tau_sweep",
]
