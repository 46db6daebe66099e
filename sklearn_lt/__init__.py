"""sklearn-lt: long-tailed recognition for the scikit-learn ecosystem.

Decoupled representation and classifier learning (Kang et al., ICLR 2020) and
logits retargeting (LORT, 2024) as scikit-learn estimators on numpy arrays and
torch tensors.
"""

from .backbone import AcceleratedBackboneEmbedder, BackboneEmbedder, PretrainedEmbedder
from .heads import (
    CRTClassifier,
    LogitAdjustedClassifier,
    LogitAdjustedClassifierCV,
    LORTClassifier,
    LORTClassifierCV,
    LWSClassifier,
    NCMClassifier,
    RetrainedClassifier,
    SoftmaxClassifier,
    TauNormClassifier,
    TauNormClassifierCV,
)
from .sampling import (
    ClassBalancedSampler,
    InstanceBalancedSampler,
    PowerSampler,
    ProgressivelyBalancedSampler,
    SquareRootSampler,
)

__version__ = "0.2.0.dev0"

__all__ = [
    "AcceleratedBackboneEmbedder",
    "BackboneEmbedder",
    "CRTClassifier",
    "ClassBalancedSampler",
    "InstanceBalancedSampler",
    "LORTClassifier",
    "LORTClassifierCV",
    "LWSClassifier",
    "LogitAdjustedClassifier",
    "LogitAdjustedClassifierCV",
    "NCMClassifier",
    "PowerSampler",
    "PretrainedEmbedder",
    "ProgressivelyBalancedSampler",
    "RetrainedClassifier",
    "SoftmaxClassifier",
    "SquareRootSampler",
    "TauNormClassifier",
    "TauNormClassifierCV",
]
