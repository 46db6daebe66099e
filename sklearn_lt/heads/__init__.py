"""Stage-two heads: linear classifiers on frozen features, numpy or torch."""

from ._base import FittedLinear, LinearHead
from ._linear_base import default_base, linear_weights
from ._logit_adjust import LogitAdjustedClassifier, logit_adjustment_sweep
from ._logit_adjust_cv import LogitAdjustedClassifierCV
from ._lort import LORTClassifier, auto_smoothing
from ._lort_cv import LORTClassifierCV
from ._losses import RetrainingLoss, class_balanced_weights, ldam_margins, log_priors
from ._lws import LWSClassifier
from ._modules import CosineLogits, MaxNormLinearLogits
from ._ncm import NCMClassifier
from ._retrain import RetrainedClassifier
from ._softmax import CRTClassifier, SoftmaxClassifier
from ._table1 import TABLE1_METHODS
from ._tau import TauNormClassifier, tau_normalize, tau_sweep
from ._tau_cv import TauNormClassifierCV

__all__ = [
    "CRTClassifier",
    "CosineLogits",
    "FittedLinear",
    "LORTClassifier",
    "LORTClassifierCV",
    "LWSClassifier",
    "LinearHead",
    "LogitAdjustedClassifier",
    "LogitAdjustedClassifierCV",
    "MaxNormLinearLogits",
    "NCMClassifier",
    "RetrainedClassifier",
    "RetrainingLoss",
    "SoftmaxClassifier",
    "TauNormClassifier",
    "TABLE1_METHODS",
    "TauNormClassifierCV",
    "auto_smoothing",
    "class_balanced_weights",
    "default_base",
    "ldam_margins",
    "linear_weights",
    "log_priors",
    "logit_adjustment_sweep",
    "tau_normalize",
    "tau_sweep",
]
