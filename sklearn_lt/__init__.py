"""sklearn-lt: long-tailed recognition for the scikit-learn ecosystem.

Decoupled representation and classifier learning (Kang et al., ICLR 2020) and
logits retargeting (LORT, 2024) as scikit-learn estimators on numpy arrays and
torch tensors.
"""

import importlib

from ._counts import ClassCounts
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
    ClassAwareSampler,
    ClassBalancedSampler,
    InstanceBalancedSampler,
    PowerSampler,
    ProgressivelyBalancedSampler,
    SquareRootSampler,
)

__version__ = "0.2.0.dev0"

# Stage one needs skorch (and accelerate, the pretrained models): imported on
# first use (PEP 562), so that a user of the heads does not wait for them.
_LAZY = {
    "AcceleratedBackboneEmbedder": "backbone",
    "BackboneEmbedder": "backbone",
    "PretrainedEmbedder": "backbone",
}

__all__ = [
    "AcceleratedBackboneEmbedder",
    "BackboneEmbedder",
    "CRTClassifier",
    "ClassAwareSampler",
    "ClassBalancedSampler",
    "ClassCounts",
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


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
